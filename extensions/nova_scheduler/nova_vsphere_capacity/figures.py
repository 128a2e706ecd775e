# Copyright: (c) 2026, nova_vsphere.mixed_cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The capacity figures of a vSphere node, as the collection's cluster_capacity module
publishes them in the metadata of the aggregate ``vsphere-capacity-<proxy host>``.

Plain data in, plain data out (no nova import), so the filter and the weigher share one
reading of the contract:

- ``vsphere_capacity_version``: "1"
- ``vsphere_capacity_node``: the nova node name the figures are for
- ``vsphere_capacity_updated_at``: ``YYYY-MM-DDTHH:MM:SSZ`` (UTC), when vCenter was read
- ``vsphere_capacity_hosts``: space-separated ``<free_ram_mb>:<free_vcpus>`` pairs, one per
  usable ESXi host of the Pareto frontier (may be empty: no usable host)
- ``vsphere_capacity_largest_free_ram_mb``: the free RAM of the freest host
"""

from __future__ import annotations

import datetime
import functools
from dataclasses import dataclass

VERSION = "1"
PREFIX = "vsphere_capacity_"
KEY_VERSION = PREFIX + "version"
KEY_NODE = PREFIX + "node"
KEY_UPDATED_AT = PREFIX + "updated_at"
KEY_HOSTS = PREFIX + "hosts"
KEY_LARGEST = PREFIX + "largest_free_ram_mb"
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


class FiguresError(ValueError):
    """Metadata that claims to be capacity figures but cannot be read as the contract says."""


@dataclass(frozen=True)
class Figures:
    node: str | None
    updated_at: datetime.datetime
    hosts: tuple  # ((free_ram_mb, free_vcpus), ...), largest RAM first
    largest_free_ram_mb: int

    def age_seconds(self, now):
        return (now - self.updated_at).total_seconds()

    def fits(self, memory_mb, vcpus):
        """True if one host has both the RAM and the vCPUs (the same host for both)."""
        return any(ram >= memory_mb and cpus >= vcpus for ram, cpus in self.hosts)

    def describe_hosts(self, limit=4):
        shown = " ".join("%d MB/%d vCPU" % pair for pair in self.hosts[:limit])
        more = len(self.hosts) - limit
        return (shown + (" and %d more" % more if more > 0 else "")) or "none usable"


def _int(value, key):
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise FiguresError("%s is not an integer: %r" % (key, value)) from None
    if number < 0:
        raise FiguresError("%s is negative: %r" % (key, value))
    return number


def _pairs(text):
    pairs = []
    for word in text.split():
        ram, sep, cpus = word.partition(":")
        if not sep:
            raise FiguresError("%s has %r, not <free_ram_mb>:<free_vcpus>" % (KEY_HOSTS, word))
        pairs.append((_int(ram, KEY_HOSTS), _int(cpus, KEY_HOSTS)))
    return tuple(sorted(pairs, reverse=True))


def parse(metadata):
    """The Figures in one aggregate's metadata, None when it carries none; FiguresError when
    it carries ``vsphere_capacity_hosts`` but the figures cannot be read."""
    if KEY_HOSTS not in metadata:
        return None
    return _parse(metadata.get(KEY_VERSION), metadata.get(KEY_NODE), metadata.get(KEY_UPDATED_AT),
                  metadata[KEY_HOSTS], metadata.get(KEY_LARGEST))


# The filter and the weigher read every node's figures on every request, and they change only
# when the feed writes them: parsing each distinct set once keeps the scheduler's added time per
# request in microseconds at hundreds of nodes. (An error is raised again each time: not cached.)
@functools.lru_cache(maxsize=4096)
def _parse(version, node, stamp, hosts_text, largest_text):
    if version != VERSION:
        raise FiguresError("%s is %r, this package reads %r" % (KEY_VERSION, version, VERSION))
    try:
        updated_at = datetime.datetime.strptime(stamp or "", TIME_FORMAT).replace(tzinfo=datetime.timezone.utc)
    except ValueError:
        raise FiguresError("%s is %r, not %s" % (KEY_UPDATED_AT, stamp, "YYYY-MM-DDTHH:MM:SSZ")) from None
    hosts = _pairs(hosts_text)
    if largest_text is not None:
        largest = _int(largest_text, KEY_LARGEST)
    else:
        largest = max((ram for ram, _cpus in hosts), default=0)
    return Figures(node, updated_at, hosts, largest)


def of_host(aggregates, nodename):
    """The Figures for node ``nodename`` among a host's aggregates (objects with ``.metadata``
    or dicts), None when none carries figures (a KVM host); FiguresError when they cannot be
    used (unreadable, for another node, or several that disagree)."""
    found = []
    for aggregate in aggregates:
        metadata = getattr(aggregate, "metadata", aggregate) or {}
        figures = parse(metadata)
        if figures is not None:
            found.append(figures)
    if not found:
        return None
    mine = [figures for figures in found if figures.node in (None, nodename)]
    if not mine:
        raise FiguresError("the figures are for node %s, not %s" % (found[0].node, nodename))
    if len(mine) > 1 and len(set(mine)) > 1:
        raise FiguresError("%d aggregates carry different figures for %s" % (len(set(mine)), nodename))
    return mine[0]


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc)


def fresh(aggregates, nodename, max_age_seconds, now=None):
    """(figures, problem): the node's Figures if they may be used, else None and, for a node
    that has figures nova must not trust (stale or unreadable), why, with a key that stays the
    same while the problem does (to warn once about it). (None, None) for a node without
    figures."""
    try:
        figures = of_host(aggregates, nodename)
    except FiguresError as error:
        return None, ("unreadable capacity figures (%s)" % error, str(error))
    if figures is None:
        return None, None
    age = figures.age_seconds(now or utcnow())
    if age > max_age_seconds:
        stamp = figures.updated_at.strftime(TIME_FORMAT)
        return None, ("capacity figures of %s are %d s old, more than [vsphere_capacity] max_age_seconds = %d"
                      % (stamp, age, max_age_seconds), stamp)
    return figures, None
