# Copyright: (c) 2026, nova_vsphere.mixed_cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""An ESXi firewall ruleset on every host of a cluster: plan and checks, over plain dicts.

The vSphere API can enable or disable a ruleset but cannot define one: custom rulesets
come from an XML file that a VIB installs on the host. So a missing ruleset is reported,
never created.
"""

from __future__ import annotations

from .._common.errors import BackendError


def check_required_ports(required_ports):
    """Refuse ``required_ports`` (None: nothing required) unless begin and end are ports and begin <= end."""
    if required_ports is None:
        return
    begin, end = required_ports["begin"], required_ports["end"]
    for which, port in (("begin", begin), ("end", end)):
        if not 1 <= port <= 65535:
            raise BackendError("required_ports %s %d is not a port: give ports from 1 to 65535." % (which, port))
    if begin > end:
        raise BackendError("required_ports begin %d is after end %d: begin is the first port of the range, "
                           "end the last." % (begin, end))


def port_ranges(ruleset, protocol, direction="inbound"):
    """The sorted (begin, end) port ranges a ruleset opens for ``protocol`` and ``direction``."""
    return sorted((rule["port"], rule["end_port"] or rule["port"]) for rule in ruleset["rules"]
                  if rule["protocol"] == protocol and rule["direction"] == direction)


def covers(ranges, begin, end):
    """Whether the union of ``ranges`` contains every port from ``begin`` to ``end``."""
    reach = begin - 1
    for low, high in ranges:
        if low > reach + 1:
            break
        reach = max(reach, high)
    return reach >= end


def describe(ranges, protocol):
    """'5900-9999/tcp, 80/tcp' for a list of ranges."""
    return ", ".join(("%d-%d/%s" % (low, high, protocol)) if low != high else ("%d/%s" % (low, protocol))
                     for low, high in ranges) or "nothing"


def plan_ruleset(hosts, key, enabled, required_ports=None):
    """Decide, for the connected hosts, which need the ruleset switched.

    ``hosts``: dicts with name, moid, connection_state and ``ruleset`` (None when the host
    does not define ``key``). Returns a dict with ``problems`` (why the task must fail),
    ``changes`` (hosts to switch), ``skipped`` (hosts not connected), ``before``/``after``
    (host name -> enabled) and ``hosts`` (per-host report).
    """
    connected = sorted((host for host in hosts if host["connection_state"] == "connected"), key=lambda h: h["name"])
    plan = {"problems": [], "changes": [], "before": {}, "after": {}, "hosts": [],
            "skipped": sorted(host["name"] for host in hosts if host["connection_state"] != "connected")}
    lacking = [host["name"] for host in connected if host["ruleset"] is None]
    # A host without the ruleset is already as closed as disabling would make it.
    if lacking and enabled:
        plan["problems"].append(
            "Firewall ruleset %s is not defined on %s. The vSphere API can only enable or disable a ruleset: "
            "install the VIB that defines it on those hosts (for VNC, the OpenStack VNC VIB that nova's "
            "documentation points to defines ruleset vnc)." % (key, ", ".join(lacking)))
    short = {}  # what the ruleset opens -> hosts where that misses required ports
    for host in connected:
        ruleset = host["ruleset"]
        if ruleset is None:
            continue
        opened = {protocol: port_ranges(ruleset, protocol) for protocol in ("tcp", "udp")}
        if enabled and required_ports:
            protocol = required_ports["protocol"]
            if not covers(opened[protocol], required_ports["begin"], required_ports["end"]):
                short.setdefault(describe(opened[protocol], protocol), []).append(host["name"])
        plan["before"][host["name"]] = ruleset["enabled"]
        plan["after"][host["name"]] = enabled
        if ruleset["enabled"] != enabled:
            plan["changes"].append(host)
        plan["hosts"].append({
            "name": host["name"],
            "enabled": enabled,
            "inbound": [describe([pair], protocol) for protocol in ("tcp", "udp") for pair in opened[protocol]],
            "allowed_ip": ruleset["allowed_ip"],
        })
    for opens, names in sorted(short.items()):
        plan["problems"].append("Firewall ruleset %s opens %s inbound on %s, not all of %d-%d/%s." % (
            key, opens, ", ".join(names), required_ports["begin"], required_ports["end"], required_ports["protocol"]))
    return plan
