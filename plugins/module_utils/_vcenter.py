# Copyright: (c) 2026, nova_vsphere.mixed_cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The vCenter client: one pyVmomi session, bulk property reads, task waits, clear errors.

This is the only module of the collection that imports pyVmomi. Options and
environment fallbacks are those of vmware.vmware, so AWX's "VMware vCenter"
credential (VMWARE_HOST, VMWARE_USER, VMWARE_PASSWORD, VMWARE_VALIDATE_CERTS) works
unchanged.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import ssl
import time

from ansible.module_utils.basic import env_fallback

from ._errors import BackendError, MissingLibraryError, one_line

try:
    from pyVim import connect as pyvim_connect
    from pyVmomi import vim, vmodl
except ImportError as import_error:
    PYVMOMI_IMPORT_ERROR = import_error
else:
    PYVMOMI_IMPORT_ERROR = None

# Seconds a single API request may take; long operations are tasks, polled below.
REQUEST_TIMEOUT = 60

VCENTER_ARGUMENT_SPEC = dict(
    hostname=dict(type="str", fallback=(env_fallback, ["VMWARE_HOST"])),
    username=dict(type="str", aliases=["user", "admin"], fallback=(env_fallback, ["VMWARE_USER"])),
    password=dict(
        type="str", aliases=["pass", "pwd"], no_log=True, fallback=(env_fallback, ["VMWARE_PASSWORD"])
    ),
    port=dict(type="int", default=443, fallback=(env_fallback, ["VMWARE_PORT"])),
    validate_certs=dict(type="bool", default=True, fallback=(env_fallback, ["VMWARE_VALIDATE_CERTS"])),
)


def vcenter_argument_spec(**module_options):
    """The connection options merged with a module's own options."""
    spec = dict(VCENTER_ARGUMENT_SPEC)
    spec.update(module_options)
    return spec


class VCenterError(BackendError):
    """Anything that went wrong between the module and vCenter."""


def _required(params, name, env):
    value = params.get(name)
    if not value:
        raise VCenterError("No vCenter %s given: set the %s option or the %s environment variable." % (name, name, env))
    return value


def _ssl_context(validate_certs):
    if validate_certs:
        return ssl.create_default_context()
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


class VCenterClient:
    """A logged-in vCenter session. Use through ``vcenter_session``."""

    def __init__(self, params):
        if PYVMOMI_IMPORT_ERROR is not None:
            raise MissingLibraryError("pyVmomi", "pyvmomi", PYVMOMI_IMPORT_ERROR)
        self.hostname = _required(params, "hostname", "VMWARE_HOST")
        self.username = _required(params, "username", "VMWARE_USER")
        password = _required(params, "password", "VMWARE_PASSWORD")
        self.port = params.get("port") or 443
        self.endpoint = "%s:%s" % (self.hostname, self.port)
        self._secrets = (password,)
        self.service_instance = self._login(password, params.get("validate_certs", True))
        self.content = self.service_instance.RetrieveContent()

    def _login(self, password, validate_certs):
        try:
            return pyvim_connect.SmartConnect(
                host=self.hostname,
                port=self.port,
                user=self.username,
                pwd=password,
                sslContext=_ssl_context(validate_certs),
                httpConnectionTimeout=REQUEST_TIMEOUT,
            )
        except Exception as error:  # every SDK failure is translated, none escapes as a traceback
            raise self._explain(error)

    def _explain(self, error):
        """Map a connection or login failure to a message that says what to fix."""
        where = self.endpoint
        if isinstance(error, vim.fault.InvalidLogin):
            text = (
                "vCenter %s rejected the login of user %s: wrong user name or password "
                "(check the username/password options or VMWARE_USER/VMWARE_PASSWORD)." % (where, self.username)
            )
        elif isinstance(error, vim.fault.NoPermission):
            text = "User %s may not log in to vCenter %s: grant it a role with the needed privileges." % (
                self.username, where)
        elif isinstance(error, socket.gaierror):
            text = "Cannot resolve the vCenter host name %s (%s): check hostname or VMWARE_HOST." % (
                self.hostname, error.strerror)
        elif isinstance(error, ConnectionRefusedError):
            text = "Connection to vCenter %s refused: check that vCenter runs there and that port (VMWARE_PORT) is right." % where
        elif isinstance(error, ssl.SSLCertVerificationError):
            text = (
                "The TLS certificate of vCenter %s could not be verified (%s): add the vCenter CA to this "
                "host's trust store (or point SSL_CERT_FILE at it), or set validate_certs: false "
                "(VMWARE_VALIDATE_CERTS=false) where that risk is accepted." % (where, error.verify_message)
            )
        elif isinstance(error, ssl.SSLError):
            text = "TLS handshake with vCenter %s failed (%s): is that port the vSphere HTTPS endpoint?" % (
                where, error.reason or error)
        elif isinstance(error, (socket.timeout, TimeoutError)):
            text = "vCenter %s did not answer within %s s: check the address and any firewall in between." % (
                where, REQUEST_TIMEOUT)
        elif isinstance(error, OSError):
            text = "Cannot reach vCenter %s: %s." % (where, error.strerror or error)
        elif isinstance(error, (http.client.HTTPException, vmodl.MethodFault)):
            text = "vCenter %s answered, but not as a vSphere API endpoint should (%s: %s)." % (
                where, type(error).__name__, getattr(error, "msg", None) or error)
        else:
            text = "Unexpected error talking to vCenter %s: %s: %s" % (where, type(error).__name__, error)
        return VCenterError(one_line(text, self._secrets))

    def logout(self):
        with contextlib.suppress(Exception):
            pyvim_connect.Disconnect(self.service_instance)

    def retrieve(self, obj_type, properties, root=None):
        """Read ``properties`` of every object of ``obj_type`` under ``root`` in one call.

        A ContainerView selects the objects and a single PropertyCollector request
        (continued only when vCenter pages the answer) returns the listed properties.
        Returns a list of dicts: each property by its path, plus ``obj`` (the
        managed object reference) and ``moid``.
        """
        view_manager = self.content.viewManager
        view = view_manager.CreateContainerView(root or self.content.rootFolder, [obj_type], True)
        try:
            spec = vmodl.query.PropertyCollector.FilterSpec(
                objectSet=[
                    vmodl.query.PropertyCollector.ObjectSpec(
                        obj=view,
                        skip=True,
                        selectSet=[
                            vmodl.query.PropertyCollector.TraversalSpec(
                                type=vim.view.ContainerView, path="view", skip=False
                            )
                        ],
                    )
                ],
                propSet=[vmodl.query.PropertyCollector.PropertySpec(type=obj_type, pathSet=list(properties))],
            )
            return self._collect(spec)
        except vmodl.MethodFault as fault:
            raise VCenterError("Reading %s objects from vCenter %s failed: %s" % (
                obj_type.__name__, self.endpoint, one_line(fault.msg or fault)))
        finally:
            view.Destroy()

    def _collect(self, spec):
        collector = self.content.propertyCollector
        result = collector.RetrievePropertiesEx([spec], vmodl.query.PropertyCollector.RetrieveOptions())
        rows = []
        while result:
            rows.extend(_row(item) for item in result.objects)
            result = collector.ContinueRetrievePropertiesEx(result.token) if result.token else None
        return rows

    def wait_for_task(self, task, timeout=600, what="task"):
        """Poll a vCenter task until it ends; return its result or raise VCenterError."""
        deadline = time.monotonic() + timeout
        delay = 0.1
        while True:
            info = task.info
            if info.state == vim.TaskInfo.State.success:
                return info.result
            if info.state == vim.TaskInfo.State.error:
                fault = info.error
                raise VCenterError("vCenter %s failed to %s: %s" % (
                    self.endpoint, what, one_line(getattr(fault, "msg", None) or fault)))
            if time.monotonic() > deadline:
                raise VCenterError("vCenter %s did not finish the task to %s within %s s." % (
                    self.endpoint, what, timeout))
            time.sleep(delay)
            delay = min(delay * 2, 2.0)


def _row(object_content):
    row = {"obj": object_content.obj, "moid": object_content.obj._moId}
    for prop in object_content.propSet or ():
        row[prop.name] = prop.val
    return row


@contextlib.contextmanager
def vcenter_session(params):
    """A logged-in VCenterClient, logged out when the block ends (even by exit_json)."""
    client = VCenterClient(params)
    try:
        yield client
    finally:
        client.logout()


def managed_object_types():
    """The pyVmomi ``vim`` namespace, for callers that name object types."""
    if PYVMOMI_IMPORT_ERROR is not None:
        raise MissingLibraryError("pyVmomi", "pyvmomi", PYVMOMI_IMPORT_ERROR)
    return vim
