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

from .._common.errors import BackendError, MissingLibraryError, one_line

try:
    from pyVim import connect as pyvim_connect
    from pyVmomi import VmomiSupport, vim, vmodl
except ImportError as import_error:
    PYVMOMI_IMPORT_ERROR = import_error
else:
    PYVMOMI_IMPORT_ERROR = None

# Seconds a single API request may take; long operations are tasks, polled below.
REQUEST_TIMEOUT = 60
DEFAULT_PORT = 443

VCENTER_ARGUMENT_SPEC = dict(
    hostname=dict(type="str", fallback=(env_fallback, ["VMWARE_HOST"])),
    username=dict(type="str", aliases=["user", "admin"], fallback=(env_fallback, ["VMWARE_USER"])),
    password=dict(
        type="str", aliases=["pass", "pwd"], no_log=True, fallback=(env_fallback, ["VMWARE_PASSWORD"])
    ),
    port=dict(type="int", default=DEFAULT_PORT, fallback=(env_fallback, ["VMWARE_PORT"])),
    validate_certs=dict(type="bool", default=True, fallback=(env_fallback, ["VMWARE_VALIDATE_CERTS"])),
)


class VCenterError(BackendError):
    """Anything that went wrong between the module and vCenter."""


def _required(params, name, env):
    value = params.get(name)
    if not value:
        raise VCenterError("No vCenter %s given: set the %s option or the %s environment variable." % (name, name, env))
    return value


def checked_port(port, hint):
    """The TCP port to connect to, refused with a VCenterError naming ``hint`` unless it is 1 to 65535."""
    if port is None:
        return DEFAULT_PORT
    if not 1 <= port <= 65535:
        raise VCenterError("vCenter port %s is out of range: set %s to a TCP port from 1 to 65535." % (port, hint))
    return port


def _ssl_context(validate_certs, ca_file=None):
    if ca_file:
        # Verify against this bundle alone, as oslo.vmware does with nova's [vmware] ca_file.
        try:
            return ssl.create_default_context(cafile=ca_file)
        except (OSError, ssl.SSLError) as error:
            raise VCenterError("Cannot load the CA bundle %s: %s." % (ca_file, getattr(error, "strerror", None) or error))
    if validate_certs:
        return ssl.create_default_context()
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


class VCenterClient:
    """A logged-in vCenter session. Use through ``vcenter_session``.

    ``params`` are the connection options. Callers that take the vCenter from another
    source (nova's [vmware] settings) may add ``ca_file``, a CA bundle to verify against,
    and ``hints``, overriding entries of ``HINTS`` so that failures name their settings.
    """

    # What a failure message tells the user to fix, by the names of the connection options.
    HINTS = {
        "host": "check hostname or VMWARE_HOST",
        "port": "port (VMWARE_PORT)",
        "login": "check the username/password options or VMWARE_USER/VMWARE_PASSWORD",
        "trust": "add the vCenter CA to this host's trust store (or point SSL_CERT_FILE at it), or set "
                 "validate_certs: false (VMWARE_VALIDATE_CERTS=false) where that risk is accepted",
    }

    def __init__(self, params):
        if PYVMOMI_IMPORT_ERROR is not None:
            raise MissingLibraryError("pyVmomi", "pyvmomi", PYVMOMI_IMPORT_ERROR)
        self.hostname = _required(params, "hostname", "VMWARE_HOST")
        self.username = _required(params, "username", "VMWARE_USER")
        password = _required(params, "password", "VMWARE_PASSWORD")
        self.hints = dict(self.HINTS, **(params.get("hints") or {}))
        self.port = checked_port(params.get("port"), self.hints["port"])
        self.endpoint = "%s:%s" % (self.hostname, self.port)
        self._secrets = (password,)
        self.ca_file = params.get("ca_file")
        # Kept for the HTTPS reads beside the API (export lease downloads: export_lease.py).
        self.ssl_context = _ssl_context(params.get("validate_certs", True), self.ca_file)
        self.service_instance = self._login(password, self.ssl_context)
        self.content = self.service_instance.RetrieveContent()

    def _login(self, password, ssl_context):
        try:
            return pyvim_connect.SmartConnect(
                host=self.hostname,
                port=self.port,
                user=self.username,
                pwd=password,
                sslContext=ssl_context,
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
                "(%s)." % (where, self.username, self.hints["login"])
            )
        elif isinstance(error, vim.fault.NoPermission):
            text = "User %s may not log in to vCenter %s: grant it a role with the needed privileges." % (
                self.username, where)
        elif isinstance(error, socket.gaierror):
            text = "Cannot resolve the vCenter host name %s (%s): %s." % (
                self.hostname, error.strerror, self.hints["host"])
        elif isinstance(error, ConnectionRefusedError):
            text = "Connection to vCenter %s refused: check that vCenter runs there and that %s is right." % (
                where, self.hints["port"])
        elif isinstance(error, ssl.SSLCertVerificationError) and self.ca_file:
            text = (
                "The TLS certificate of vCenter %s could not be verified against the CA bundle %s (%s): use the "
                "bundle of the CA that signed vCenter's certificate." % (where, self.ca_file, error.verify_message)
            )
        elif isinstance(error, ssl.SSLCertVerificationError):
            text = "The TLS certificate of vCenter %s could not be verified (%s): %s." % (
                where, error.verify_message, self.hints["trust"])
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

    def session_cookie(self):
        """The session's cookie header value, which vCenter's file and NFC URLs take beside their ticket."""
        return getattr(self.service_instance._stub, "cookie", None)

    def logout(self):
        # The session manager of the content read at login: pyVim's Disconnect would read the content again.
        with contextlib.suppress(Exception):
            self.content.sessionManager.Logout()

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

    def retrieve_objects(self, obj_type, refs, properties):
        """Read ``properties`` of the listed objects, all of ``obj_type``, in one call.

        For objects a ContainerView cannot select by their place in the inventory,
        such as the datastores a cluster lists. Same rows as ``retrieve``.
        """
        if not refs:
            return []
        spec = vmodl.query.PropertyCollector.FilterSpec(
            objectSet=[vmodl.query.PropertyCollector.ObjectSpec(obj=ref) for ref in refs],
            propSet=[vmodl.query.PropertyCollector.PropertySpec(type=obj_type, pathSet=list(properties))],
        )
        try:
            return self._collect(spec)
        except vmodl.MethodFault as fault:
            raise VCenterError("Reading %s objects from vCenter %s failed: %s" % (
                obj_type.__name__, self.endpoint, fault_text(fault)))

    def collect(self, start, traversals, properties):
        """Read, in one call, ``properties`` of every object reached from ``start`` along ``traversals``.

        ``traversals`` are (type, property) steps, each taken from every object of that type reached
        (so ``(Folder, "childEntity")`` walks a folder tree to any depth); ``properties`` maps a type
        to the properties read of the objects of that type (or a subtype) reached, ``start`` included.
        No ContainerView: one request (continued only when vCenter pages the answer), rows as ``retrieve``'s.
        """
        names = ["%s.%s" % (obj_type.__name__, path) for obj_type, path in traversals]
        steps = [vmodl.query.PropertyCollector.TraversalSpec(
            name=name, type=obj_type, path=path, skip=False,
            selectSet=[vmodl.query.PropertyCollector.SelectionSpec(name=other) for other in names])
            for name, (obj_type, path) in zip(names, traversals)]
        spec = vmodl.query.PropertyCollector.FilterSpec(
            objectSet=[vmodl.query.PropertyCollector.ObjectSpec(obj=start, skip=False, selectSet=steps)],
            propSet=[vmodl.query.PropertyCollector.PropertySpec(type=obj_type, pathSet=list(paths))
                     for obj_type, paths in properties.items()],
        )
        try:
            return self._collect(spec)
        except vmodl.MethodFault as fault:
            raise VCenterError("Reading the objects under %s from vCenter %s failed: %s" % (
                start._moId, self.endpoint, fault_text(fault)))

    def root(self):
        """The root folder, where ``collect`` starts to walk the whole inventory."""
        return self.content.rootFolder

    def ref(self, obj_type, moid):
        """The managed object ``moid``, bound to this session, to call its methods.

        ``obj_type`` is a pyVmomi class or, where a subtype is possible (a distributed
        switch is a VmwareDistributedVirtualSwitch in vCenter), the type name a read returned.
        """
        if isinstance(obj_type, str):
            obj_type = VmomiSupport.GetWsdlType("urn:vim25", obj_type)
        return obj_type(moid, self.service_instance._stub)

    def invoke(self, what, method, *args):
        """Call a vCenter method that is not a task; a fault becomes a VCenterError naming ``what``."""
        try:
            return method(*args)
        except vmodl.MethodFault as fault:
            raise VCenterError("vCenter %s failed to %s: %s" % (self.endpoint, what, fault_text(fault)))

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
                raise VCenterError("vCenter %s failed to %s: %s" % (self.endpoint, what, fault_text(info.error)))
            if time.monotonic() > deadline:
                raise VCenterError("vCenter %s did not finish the task to %s within %s s." % (
                    self.endpoint, what, timeout))
            time.sleep(delay)
            delay = min(delay * 2, 2.0)


def fault_text(fault):
    """A fault's message, or its type when vCenter sent none (e.g. a bare DuplicateName)."""
    return one_line(getattr(fault, "msg", None) or type(fault).__name__.rpartition(".")[2])


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
