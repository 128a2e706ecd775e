# Copyright: (c) 2026, nova_vsphere.mixed_cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A host's power through its BMC, as the fence agents see it: their options, their answers.

Pure logic over plain data: the options a fence agent reads on its standard input (one
``name=value`` a line, the interface pacemaker uses, so no secret is ever on a command line),
its answer to ``action=status``, and the cause of a failure
read from what the agent logged with ``verbose=1`` (the HTTP status of each Redfish request,
which fence_redfish itself does not report).
"""

from __future__ import annotations

import re

# agent option -> the Debian fence-agents executable.
AGENTS = {"redfish": "fence_redfish", "ipmilan": "fence_ipmilan"}
# IPMI 2.0 (RMCP+) user passwords.
IPMI_PASSWORD_BYTES = 20
SYSTEMS = "/redfish/v1/Systems/"

# What fence agents exit with for action=status (fencing.py): 0 on, 2 off, anything else failed.
STATUS_EXIT = {0: "on", 2: "off"}

# The HTTP statuses a BMC refuses a request with, and what they mean for the task.
HTTP_CAUSES = {
    401: "the BMC refused the credentials of user {username} (HTTP 401): check username and password",
    403: "user {username} may not do this on the BMC (HTTP 403): give it a role that may reset the system",
    404: "the BMC has no {path} (HTTP 404): check the system option (a path under /redfish/v1/Systems/ or an Id)",
}
# Causes found in the agent's own messages (requests', urllib3's, ipmitool's), first match wins.
TEXT_CAUSES = (
    ("CERTIFICATE_VERIFY_FAILED", "its TLS certificate is not trusted: set ca_path to the CA that signed it "
                                  "(validate_certs false only for a BMC whose certificate cannot be trusted)"),
    ("Connection refused", "connection refused: no BMC listens on that address and port"),
    ("Name or service not known", "its address does not resolve"),
    ("Failed to resolve", "its address does not resolve"),
    ("No route to host", "no route to its address"),
    ("timed out", "no answer (timed out): is the BMC's address and port right, and is it reachable from here?"),
    ("Unable to establish IPMI", "no IPMI session: wrong address, port, user or password, or IPMI over LAN is off"),
    ("Timed out waiting to power", "the BMC took the request but the host did not reach the state in time"),
)
HTTP_STATUS = re.compile(r'"(?:GET|POST) (\S+) HTTP/[\d.]+" (\d{3})')


def validate(params):
    """What the fence agent could not take, in words; None if nothing."""
    for name in ("address", "username", "password", "system", "ca_path"):
        value = params.get(name)
        if value and ("\n" in value or "\r" in value):
            # The agent reads one option a line: a line break would end this one and start another.
            return "%s must be one line" % name
    if params["timeout"] < 1:
        return "timeout must be at least 1 second"
    if params.get("ca_path") and params["agent"] != "redfish":
        return "ca_path applies to agent redfish only (IPMI has no TLS)"
    if params.get("system") and params["agent"] != "redfish":
        return "system applies to agent redfish only"
    if params["agent"] == "ipmilan" and len(params["password"].encode()) > IPMI_PASSWORD_BYTES:
        # ipmitool refuses it ("password is longer than 20 bytes"), and fence_ipmilan reports that as a bad plug.
        return "an IPMI 2.0 password has at most %d bytes" % IPMI_PASSWORD_BYTES
    return None


def systems_uri(system):
    """fence_redfish's systems_uri for the system option: a path as given, an Id under Systems."""
    if not system:
        return None
    return system if system.startswith("/") else SYSTEMS + system


def bmc_url(params):
    """The BMC (and the system) as messages name it, without credentials."""
    if params["agent"] == "redfish":
        return "https://%s:%s%s" % (params["address"], params["port"] or 443, systems_uri(params.get("system")) or "")
    return "ipmi://%s:%s" % (params["address"], params["port"] or 623)


def agent_options(params, action):
    """The lines the agent reads on stdin for one action (status, on, off)."""
    options = [
        ("action", action),
        ("ip", params["address"]),
        ("username", params["username"]),
        ("password", params["password"]),
        # The agent waits this long for the state after on/off, reading it back meanwhile.
        ("power_timeout", str(params["timeout"])),
        # Each request's HTTP status in its log: the only way to tell a refused password from
        # an unknown system (fence_redfish reports both as "Unable to get PowerState").
        ("verbose", "1"),
    ]
    if params["port"]:
        options.append(("ipport", str(params["port"])))
    if params["agent"] == "redfish":
        options.append(("ssl_secure" if params["validate_certs"] else "ssl_insecure", "1"))
        if params.get("system"):
            options.append(("systems_uri", systems_uri(params["system"])))
    else:
        # IPMI 2.0 (RMCP+), which does not send the password as IPMI 1.5 does.
        options.append(("lanplus", "1"))
    return "".join("%s=%s\n" % pair for pair in options)


def parse_status(returncode, stdout):
    """on or off from the agent's answer to action=status; None when it did not answer one."""
    match = re.search(r"^Status: (ON|OFF)\s*$", stdout, re.MULTILINE)
    if match and STATUS_EXIT.get(returncode) == match.group(1).lower():
        return match.group(1).lower()
    return None


def cause(output, params):
    """Why an agent run failed, in words, from what it printed (the password is not in it)."""
    statuses = HTTP_STATUS.findall(output)
    for path, status in reversed(statuses):
        if int(status) in HTTP_CAUSES:
            return HTTP_CAUSES[int(status)].format(username=params["username"], path=path)
    for needle, meaning in TEXT_CAUSES:
        if needle in output:
            return meaning
    errors = [line.split("ERROR:", 1)[1].strip() for line in output.splitlines() if "ERROR:" in line]
    errors = [line for line in errors if line and "Please use '-h'" not in line]
    if errors:
        return errors[-1]
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    return lines[-1] if lines else "no output"
