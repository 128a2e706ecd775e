# Copyright: (c) 2026, nova_vsphere.mixed_cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Nova's ``[vmware]`` options, and what a nova config file becomes when they are written.

The names, types, ranges and defaults are those nova 34 registers in nova/conf/vmware.py.
Values go through oslo.config twice on their way to nova: the INI layer (``_ini``) and
then ``$`` substitution, where ``$name`` and ``${group.name}`` refer to other options and
``$$`` (or ``\\$``) is a literal dollar. Both layers are mirrored here, so a password with a
``$`` in it reaches nova unchanged. Pure functions: no Ansible, no file access.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

from . import ini as _ini
from .._common.errors import MASK, BackendError

DRIVER = "vmwareapi.VMwareVCDriver"
SECTION = "vmware"
# nova's VMwareVCDriver refuses to start without these (driver.py) or cannot find its cluster.
REQUIRED = ("host_ip", "host_username", "host_password", "cluster_name")
WSDL_REMOVED = (
    "wsdl_location was removed from nova in 2017: oslo.vmware always loads the vSphere WSDL from "
    "https://<host_ip>:<host_port>/sdk/vimService.wsdl, and nova ignores the setting"
)
_TRUE, _FALSE = ("true", "1", "on", "yes"), ("false", "0", "off", "no")  # oslo.config's Boolean
# oslo.config's template syntax (cfg.ConfigOpts.Template, flags of string.Template).
_SUBSTITUTION = re.compile(r"\$(?:(\$)|([_a-z][._a-z0-9]*)|\{([_a-z][._a-z0-9]*)\})", re.IGNORECASE)
_HOST_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)$", re.IGNORECASE)


class ConfigError(BackendError):
    """The configuration asked for, or found, is one nova would reject or misread."""


def _host_address(value):
    try:
        ipaddress.ip_address(value)
        return None
    except ValueError:
        pass
    labels = value[:-1].split(".") if value.endswith(".") else value.split(".")
    if 0 < len(value) <= 253 and re.search("[a-z-]", labels[-1], re.IGNORECASE) and all(
            _HOST_LABEL.match(label) for label in labels):
        return None
    return "is not an IP address or a valid host name"


def _regex(value):
    try:
        re.compile(value)
        return None
    except re.error as error:
        return "is not a valid Python regular expression (%s)" % error


def _telnet_uri(value):
    parts = urlsplit(value)
    if parts.scheme in ("telnet", "telnets") and parts.hostname:
        return None
    return "is not a telnet:// or telnets:// URI with a host"


class Option:
    """One nova option: its type, nova's default and range, and any further check."""

    def __init__(self, kind, default=None, low=None, high=None, secret=False, check=None):
        self.kind, self.default, self.low, self.high, self.secret, self.check = kind, default, low, high, secret, check

    def problem(self, value):
        """Why nova would reject ``value``, or None."""
        if value is None:
            return None
        if self.low is not None and value < self.low:
            return "is below nova's minimum %s" % self.low
        if self.high is not None and value > self.high:
            return "is above nova's maximum %s" % self.high
        return self.check(value) if self.check else None

    def parse(self, text):
        """The value oslo.config makes of ``text`` (already unescaped), or ValueError."""
        if self.kind == "str":
            return text
        if self.kind == "bool":
            if text.lower() in _TRUE + _FALSE:
                return text.lower() in _TRUE
            raise ValueError("is not a boolean (true/false, yes/no, on/off, 1/0)")
        if not text.strip():
            return None  # oslo.config reads an empty number as "unset", not as the default
        try:
            return int(text) if self.kind == "int" else float(text)
        except ValueError:
            raise ValueError("is not %s" % ("an integer" if self.kind == "int" else "a number")) from None


OPTIONS = {
    # Connection to vCenter: what `validate` uses.
    "host_ip": Option("str", check=_host_address),
    "host_port": Option("int", 443, 0, 65535),
    "host_username": Option("str"),
    "host_password": Option("str", secret=True),
    "ca_file": Option("str"),
    "insecure": Option("bool", False),
    "api_retry_count": Option("int", 10, 0),
    "connection_pool_size": Option("int", 10, 10),
    "task_poll_interval": Option("float", 0.5),
    # What nova drives: one cluster, and the datastores it places disks on.
    "cluster_name": Option("str"),
    "datastore_regex": Option("str", check=_regex),
    "use_linked_clone": Option("bool", True),
    "cache_prefix": Option("str"),
    "maximum_objects": Option("int", 100, 0),
    "pbm_enabled": Option("bool", False),
    "pbm_wsdl_location": Option("str"),
    "pbm_default_policy": Option("str"),
    # Consoles and networking.
    "vnc_port": Option("int", 5900, 0, 65535),
    "vnc_port_total": Option("int", 10000, 0),
    "vnc_keymap": Option("str", "en-us"),
    "console_delay_seconds": Option("int", None, 0),
    "serial_port_service_uri": Option("str"),
    "serial_port_proxy_uri": Option("str", check=_telnet_uri),
    "serial_log_dir": Option("str", "/opt/vmware/vspc"),
    "integration_bridge": Option("str"),
}


def _shown(name, text):
    return MASK if OPTIONS[name].secret else repr(text)


def to_text(name, value):
    """``value`` (as Ansible typed it) written the way oslo.config reads it back."""
    option = OPTIONS[name]
    problem = option.problem(value)
    if problem:
        raise ConfigError("%s %s %s." % (name, _shown(name, value), problem))
    if option.kind == "bool":
        return "true" if value else "false"
    if option.kind != "str":
        return repr(value)
    if "\n" in value or "\r" in value:
        raise ConfigError("%s cannot hold a line break: oslo.config would read only part of it." % name)
    if "\\$" in value:
        raise ConfigError("%s cannot hold a backslash before a dollar sign: oslo.config reads \\$ as an escaped $." % name)
    return value.replace("$", "$$")


def from_text(name, text):
    """The value nova reads from ``text``, the raw value of ``[vmware] name`` in a file."""
    def literal(match):
        if match.group(1):
            return "$"
        reference = MASK if OPTIONS[name].secret else "$" + (match.group(2) or "{%s}" % match.group(3))
        raise ConfigError("[vmware] %s %s refers to another option (%s): write the value itself (a literal $ is $$)."
                          % (name, _shown(name, text), reference))

    option = OPTIONS[name]
    try:
        value = option.parse(_SUBSTITUTION.sub(literal, text.replace("\\$", "$$")))
        problem = option.problem(value)
    except ValueError as error:
        problem = str(error)
    if problem:
        hint = " (oslo.config has no inline comments)" if re.search(r"\s[#;]", text) else ""
        raise ConfigError("[vmware] %s %s %s%s." % (name, _shown(name, text), problem, hint))
    return value


def _same(name, value, raws):
    """Whether the file already gives ``name`` the value, so its line can stay as written."""
    try:
        return bool(raws) and from_text(name, raws[-1]) == value
    except ConfigError:
        return False


def settings(text):
    """The typed ``[vmware]`` values nova reads from ``text``: the last of each option."""
    return {name: from_text(name, raws[-1]) for name, raws in _ini.read(text, SECTION).items() if name in OPTIONS}


def plan(text, given, present=True):
    """What the file ``text`` becomes, the values nova will read from it, and warnings about it.

    ``given`` maps option names to the values to write (options not given stay as the
    file has them). ``present=False`` removes every ``[vmware]`` option nova knows, and
    ``compute_driver`` if it names the VMware driver.
    """
    if present:
        current = _ini.read(text, SECTION)
        changes = {}
        for name, value in given.items():
            wanted = to_text(name, value)
            changes[name] = current[name][-1] if _same(name, value, current.get(name)) else wanted
        new = _ini.edit(text, "DEFAULT", {"compute_driver": DRIVER})
        new = _ini.edit(new, SECTION, changes)
    else:
        new = text
        if _ini.read(text, "DEFAULT").get("compute_driver", [None])[-1] == DRIVER:
            new = _ini.edit(new, "DEFAULT", {"compute_driver": None})
        new = _ini.edit(new, SECTION, dict.fromkeys(OPTIONS))
    values = settings(new)
    if values.get("insecure") and values.get("ca_file"):
        raise ConfigError("insecure: true has no effect when ca_file is set (nova then verifies vCenter's certificate "
                          "against ca_file): set insecure: false, or drop ca_file.")
    if values.get("pbm_enabled") and not values.get("pbm_default_policy"):
        raise ConfigError("pbm_enabled: true needs pbm_default_policy: nova-compute does not start without it.")
    return new, values, _warnings(new, values, present)


def _warnings(text, values, present):
    section = _ini.read(text, SECTION)
    notes = ["[vmware] %s is set %d times; nova uses only the last one." % (name, len(raws))
             for name, raws in section.items() if name in OPTIONS and len(raws) > 1]
    if "wsdl_location" in section:
        notes.append("[vmware] wsdl_location is still in the file; %s. Delete that line." % WSDL_REMOVED)
    unset = [name for name in REQUIRED if values.get(name) is None]
    if present and unset:
        notes.append("nova's VMware driver does not start without %s, and this file does not set %s "
                     "(fine only if another file of nova's configuration does)." % (", ".join(REQUIRED), ", ".join(unset)))
    if values.get("pbm_enabled") and values.get("datastore_regex"):
        notes.append("datastore_regex is ignored while pbm_enabled is true: nova places disks by storage policy.")
    return notes


def view(text, secret_changed=False):
    """The lines of ``text`` that this module manages, for a diff: no other section's secrets.

    ``[DEFAULT] compute_driver`` and the whole ``[vmware]`` group, with host_password masked
    (marked when it changes, since two masks would otherwise look equal).
    """
    lines = []
    for section, values in (("DEFAULT", {"compute_driver": _ini.read(text, "DEFAULT").get("compute_driver", [])}),
                            (SECTION, _ini.read(text, SECTION))):
        lines.append("[%s]" % section)
        for key, raws in values.items():
            for raw in raws:
                if key in OPTIONS and OPTIONS[key].secret:
                    raw = MASK + (" (changed)" if secret_changed else "")
                lines.append("%s = %s" % (key, raw.replace("\n", "\n    ")))
    return "\n".join(lines) + "\n"


def vcenter_params(values):
    """The vCenter connection nova will make with ``values``, as VCenterClient params."""
    missing = [name for name in REQUIRED if not values.get(name)]
    if missing:
        raise ConfigError("validate needs %s in the file; it does not set %s." % (", ".join(REQUIRED), ", ".join(missing)))
    return {
        "hostname": values["host_ip"],
        "port": values.get("host_port") or OPTIONS["host_port"].default,
        "username": values["host_username"],
        "password": values["host_password"],
        # Like oslo.vmware: a CA bundle means verify against it; otherwise insecure decides.
        "validate_certs": bool(values.get("ca_file")) or not values.get("insecure"),
        "ca_file": values.get("ca_file"),
        "hints": {
            "host": "check host_ip",
            "port": "host_port",
            "login": "check host_username and host_password",
            "trust": "set ca_file to the bundle of vCenter's CA, or insecure: true where that risk is accepted",
        },
    }
