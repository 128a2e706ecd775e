# Copyright: (c) 2026, nova_vsphere.mixed_cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The OpenStack client: one openstacksdk connection, pinned microversions, clear errors.

Options follow openstack.cloud. With neither ``cloud`` nor OS_CLOUD set, openstacksdk
uses the only cloud of the clouds.yaml that OS_CLIENT_CONFIG_FILE names: exactly what
AWX's "OpenStack" credential provides.
"""

from __future__ import annotations

import contextlib

from ansible.module_utils.basic import AnsibleModule

from .._common.errors import BackendError, MissingLibraryError, one_line

try:
    import keystoneauth1.exceptions as ksa_exceptions
    import openstack
    import openstack.exceptions as sdk_exceptions
except ImportError as import_error:
    OPENSTACKSDK_IMPORT_ERROR = import_error
else:
    OPENSTACKSDK_IMPORT_ERROR = None

# cloud and auth are no_log, so Ansible never logs them to syslog and masks each of their
# values in the task's output; OpenStackModule then lets their non-secret values show.
OPENSTACK_ARGUMENT_SPEC = dict(
    cloud=dict(type="raw", no_log=True),
    auth=dict(type="dict", no_log=True),
    auth_type=dict(type="str"),
    region_name=dict(type="str"),
    validate_certs=dict(type="bool", aliases=["verify"]),
    ca_cert=dict(type="str", aliases=["cacert"]),
    client_cert=dict(type="str", aliases=["cert"]),
    client_key=dict(type="str", no_log=False, aliases=["key"]),
    api_timeout=dict(type="int"),
    interface=dict(type="str", default="public", choices=["public", "internal", "admin"], aliases=["endpoint_type"]),
    timeout=dict(type="int", default=180),
)

# Options that a cloud given as a dict already contains; giving both is ambiguous.
_CLOUD_DICT_CONFLICTS = ("auth", "auth_type", "region_name", "validate_certs", "ca_cert", "client_cert", "client_key",
                         "api_timeout")
# Settings whose values are secrets, wherever they sit in auth or a cloud dict: password,
# token, secret, passcode and their prefixed forms (application_credential_secret,
# client_secret, access_token, ...), never their neighbours (access_token_endpoint).
_SECRET_NAMES = ("password", "token", "secret", "passcode")


def openstack_argument_spec(**module_options):
    """The connection options merged with a module's own options."""
    spec = dict(OPENSTACK_ARGUMENT_SPEC)
    spec.update(module_options)
    return spec


class OpenStackError(BackendError):
    """Anything that went wrong between the module and the OpenStack APIs; ``status``: the HTTP status
    an API answered with, if it answered."""

    def __init__(self, message, status=None, **details):
        super().__init__(message, **details)
        self.status = status


def _sdk_arguments(params):
    cloud = params.get("cloud")
    if isinstance(cloud, dict):
        given = [name for name in _CLOUD_DICT_CONFLICTS if params.get(name) is not None]
        if given:
            raise OpenStackError(
                "cloud is given as a dict, so it must hold all connection settings; "
                "remove these options or move them into it: %s" % ", ".join(given))
        return dict(cloud)
    arguments = dict(
        cloud=cloud,
        auth=params.get("auth"),
        auth_type=params.get("auth_type"),
        region_name=params.get("region_name"),
        verify=params.get("validate_certs"),
        cacert=params.get("ca_cert"),
        cert=params.get("client_cert"),
        key=params.get("client_key"),
        api_timeout=params.get("api_timeout"),
        interface=params.get("interface"),
    )
    return dict((name, value) for name, value in arguments.items() if value is not None)


def _is_secret(name):
    return any(name == secret or name.endswith("_" + secret) for secret in _SECRET_NAMES)


def _values(value):
    """Every scalar inside ``value`` as text, as Ansible collects the values of a no_log option."""
    if isinstance(value, dict):
        for item in value.values():
            yield from _values(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _values(item)
    elif value is not None and not isinstance(value, bool) and str(value):
        yield str(value)


def _secret_values(value):
    """The values of the secret settings anywhere inside ``value``."""
    if isinstance(value, dict):
        for name, item in value.items():
            yield from (_values(item) if _is_secret(str(name)) else _secret_values(item))
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _secret_values(item)


def _secrets_of(settings):
    return tuple(sorted(set(_secret_values(settings)), key=len, reverse=True))


def shown_and_secret(params):
    """(values of cloud and auth that may show, values that must not), for ``params``.

    Secrets stay masked; so does a value that another option holds too (it may be masked
    for that option's sake).
    """
    connection = [params.get("cloud"), params.get("auth")]
    secrets = set(_secret_values(connection))
    others = set(_values([value for name, value in params.items() if name not in ("cloud", "auth")]))
    return set(_values(connection)) - secrets - others, secrets


class OpenStackModule(AnsibleModule):
    """The AnsibleModule of every module that talks to OpenStack: it masks only the secrets of
    cloud and auth in what it reports, not every setting.

    Both options are no_log, so Ansible masks each of their values: the Keystone URL, user
    and project names too, which would turn every connection error into "Keystone at
    ******** rejected the credentials of user ********". Masking right after the options are
    parsed, in the constructor, means nothing is reported before it and no module can skip it.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        shown, secrets = shown_and_secret(self.params)
        self.no_log_values.difference_update(shown)
        self.no_log_values.update(secrets)


class OpenStackClient:
    """An authenticated openstacksdk connection. Use through ``openstack_session``."""

    def __init__(self, params):
        if OPENSTACKSDK_IMPORT_ERROR is not None:
            raise MissingLibraryError("openstacksdk", "openstacksdk", OPENSTACKSDK_IMPORT_ERROR)
        arguments = _sdk_arguments(params)
        self._secrets = _secrets_of(arguments)
        self.timeout = params.get("timeout") or 180
        self.cloud_name = arguments.get("cloud") or "(the only cloud of the clouds.yaml, or OS_* variables)"
        self.auth_url = "(unknown)"
        try:
            self.conn = openstack.connect(**arguments)
            auth = self.conn.config.config.get("auth") or {}
            self._secrets += _secrets_of(auth)
            self.auth_url = auth.get("auth_url") or self.auth_url
            self.user = auth.get("username") or auth.get("user_id") or "(token or application credential)"
            # Authenticate now: a wrong password must fail here, not in the middle of the work.
            self.conn.authorize()
        except Exception as error:  # every SDK failure is translated, none escapes as a traceback
            raise self._explain_connect(error)

    def _explain_connect(self, error):
        error = _keystoneauth_cause(error)
        name = type(error).__name__
        if isinstance(error, sdk_exceptions.ConfigException):
            text = ("OpenStack cloud configuration problem: %s. Check the cloud option, OS_CLOUD and the clouds.yaml "
                    "that OS_CLIENT_CONFIG_FILE names." % error)
        elif isinstance(error, ksa_exceptions.Unauthorized):
            text = ("Keystone at %s rejected the credentials of user %s: wrong user name, password or project "
                    "(check auth or the clouds.yaml entry)." % (self.auth_url, self.user))
        elif isinstance(error, (ksa_exceptions.MissingRequiredOptions, ksa_exceptions.NoMatchingPlugin,
                                ksa_exceptions.MissingAuthPlugin)):
            text = ("No usable OpenStack credentials (%s): name a cloud (cloud option, OS_CLOUD or a clouds.yaml in "
                    "OS_CLIENT_CONFIG_FILE) or pass auth with auth_url." % error)
        elif isinstance(error, ksa_exceptions.SSLError):
            text = ("TLS certificate check failed for %s (%s): set ca_cert to the CA bundle that signed it, "
                    "or validate_certs: false where that risk is accepted." % (self.auth_url, error))
        elif isinstance(error, ksa_exceptions.ConnectTimeout):
            text = "Keystone at %s did not answer in time: check the address and any firewall." % self.auth_url
        elif isinstance(error, ksa_exceptions.ConnectFailure):
            text = "Cannot connect to Keystone at %s: %s. Check auth_url and that the service runs." % (
                self.auth_url, _reason(error))
        elif isinstance(error, ksa_exceptions.ClientException):
            text = "Keystone at %s failed: %s: %s" % (self.auth_url, name, error)
        else:
            text = "Unexpected error connecting to OpenStack cloud %s: %s: %s" % (self.cloud_name, name, error)
        return OpenStackError(one_line(text, self._secrets))

    def explain(self, error, doing):
        """Translate an SDK error raised while ``doing`` something into OpenStackError."""
        if isinstance(error, sdk_exceptions.HttpException):
            detail = error.details or error.message
            text = "OpenStack refused to %s (HTTP %s): %s" % (doing, error.status_code, detail)
        elif isinstance(error, ksa_exceptions.ConnectFailure):
            text = "Lost the connection to OpenStack while trying to %s: %s" % (doing, _reason(error))
        elif isinstance(error, ksa_exceptions.EndpointNotFound):
            text = "The cloud's catalog has no endpoint needed to %s: %s" % (doing, error)
        else:
            text = "Failed to %s: %s: %s" % (doing, type(error).__name__, error)
        return OpenStackError(one_line(text, self._secrets))

    def request(self, service, method, path, microversion=None, json=None, doing=None, headers=None, **transport):
        """Call one API of ``service`` and return its decoded JSON body (None when it has none).

        Behaviour differs by microversion (evacuate, services, hypervisors), so a caller of
        a microversioned API always names the one it was written for instead of relying on
        openstacksdk's negotiation of the newest. ``transport`` goes to keystoneauth as it
        is: params, data (a file object for an upload), connect_retries.
        """
        doing = doing or "%s %s" % (method, path)
        headers = dict(headers or {})
        if microversion:
            headers["OpenStack-API-Version"] = "%s %s" % (_API_NAMES.get(service, service), microversion)
        try:
            response = getattr(self.conn, service).request(
                path, method, json=json, headers=headers or None, raise_exc=False, **transport)
        except Exception as error:  # keystoneauth's transport errors, translated like the SDK's
            raise self.explain(error, doing)
        if response.status_code >= 400:
            raise OpenStackError(one_line("%s refused to %s (HTTP %s): %s" % (
                _SPEAKERS.get(service, "OpenStack"), doing, response.status_code, _fault_message(response)),
                self._secrets), status=response.status_code)
        return response.json() if response.content else None


# The name of each service's API in the OpenStack-API-Version header, and how errors name it.
_API_NAMES = {"block_storage": "volume"}
_SPEAKERS = {"image": "Glance"}


def _fault_message(response):
    """The message inside an OpenStack error body, whatever its envelope."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:300]
    if isinstance(body, dict):
        for envelope in body.values():
            if isinstance(envelope, dict) and envelope.get("message"):
                return envelope["message"]
        if isinstance(body.get("errors"), list) and body["errors"]:
            return body["errors"][0].get("detail") or body["errors"][0].get("title")
    return str(body)[:300]


def _keystoneauth_cause(error):
    """The keystoneauth exception behind an SDK error, if any.

    openstacksdk's authorize() re-raises keystoneauth failures as a bare SDKException;
    the original, which says what actually went wrong, is its cause.
    """
    seen = error
    while seen is not None:
        if isinstance(seen, ksa_exceptions.ClientException):
            return seen
        seen = seen.__cause__ or seen.__context__
    return error


def _reason(error):
    """The innermost cause of a connection failure (refused, unresolvable ...)."""
    text = str(error)
    for marker in ("Name or service not known", "Connection refused", "No route to host", "timed out",
                   "Temporary failure in name resolution"):
        if marker in text:
            return marker
    return text


@contextlib.contextmanager
def openstack_session(params):
    """An authenticated OpenStackClient, its HTTP sessions closed when the block ends."""
    client = OpenStackClient(params)
    try:
        yield client
    finally:
        with contextlib.suppress(Exception):
            client.conn.close()
