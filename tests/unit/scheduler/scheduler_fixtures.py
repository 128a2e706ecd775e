"""nova's real scheduler objects for the tests of extensions/nova_scheduler (nova_vsphere_capacity).

nova is not in the collection's .venv: these tests run with the lab's services venv
(LAB_DIR/venv/bin/python, see run_unit in tests/run-tests.sh). Elsewhere importing this module
skips the test module that imports it (unittest.SkipTest, which pytest and unittest both treat
as a skip). The tests are unittest.TestCase classes because the lab venv has no pytest.
"""

import datetime
import itertools
import sys
import unittest
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "extensions" / "nova_scheduler"))

try:
    with warnings.catch_warnings():
        # eventlet's deprecation notice, printed by nova's imports.
        warnings.simplefilter("ignore")
        import nova.conf
        from nova import objects
        from nova.scheduler import filters as nova_filters
        from nova.scheduler import weights as nova_weights
        from nova.scheduler.host_manager import HostState
except ImportError as error:
    raise unittest.SkipTest("nova is not importable here (%s): run tests/unit/scheduler with the lab venv's python "
                            "(tests/run-tests.sh unit does)" % error) from None

objects.register_all()
CONF = nova.conf.CONF
STAMP = "%Y-%m-%dT%H:%M:%SZ"
_IDS = itertools.count(1)


def stamp(age_seconds):
    """vsphere_capacity_updated_at for figures read age_seconds ago."""
    now = datetime.datetime.now(datetime.timezone.utc)
    return (now - datetime.timedelta(seconds=age_seconds)).strftime(STAMP)


def capacity_metadata(node, pairs, age_seconds=60, **overrides):
    """An aggregate's metadata as the capacity feed writes it (all strings)."""
    metadata = {
        "vsphere_capacity_version": "1",
        "vsphere_capacity_node": node,
        "vsphere_capacity_updated_at": stamp(age_seconds),
        "vsphere_capacity_hosts": " ".join("%d:%d" % pair for pair in pairs),
        "vsphere_capacity_largest_free_ram_mb": str(max((ram for ram, _cpus in pairs), default=0)),
        "vsphere_capacity_free_ram_mb": str(sum(ram for ram, _cpus in pairs)),
        "vsphere_capacity_free_vcpus": str(sum(cpus for _ram, cpus in pairs)),
        "vsphere_capacity_reserved_ram_mb": "0",
        "vsphere_capacity_reserved_vcpus": "0",
    }
    metadata.update(overrides)
    return metadata


def aggregate(ident, name, hosts, metadata):
    """A real nova Aggregate object, as HostState.aggregates holds them."""
    return objects.Aggregate(id=ident, uuid="00000000-0000-0000-0000-%012d" % ident, name=name,
                             hosts=list(hosts), metadata=dict(metadata))


def host_state(host, node, free_ram_mb, aggregates=()):
    """A real HostState, its resources as nova's HostManager would have filled them."""
    state = HostState(host, node, None)
    state.free_ram_mb = free_ram_mb
    state.total_usable_ram_mb = max(free_ram_mb, 1)
    state.vcpus_total, state.vcpus_used = 64, 0
    state.aggregates = list(aggregates)
    return state


def vsphere_host(host, pairs, free_ram_mb, age_seconds=60, **overrides):
    """A vSphere proxy's node (nova node name <cluster moref>.<vCenter uuid>) with its capacity aggregate."""
    ident = next(_IDS)
    node = "domain-c%d.5f3c0ffe-1111-2222-3333-444455556666" % ident
    metadata = capacity_metadata(node, pairs, age_seconds, **overrides)
    return host_state(host, node, free_ram_mb, [aggregate(ident, "vsphere-capacity-" + host, [host], metadata)])


def kvm_host(host, free_ram_mb, aggregates=()):
    return host_state(host, host, free_ram_mb, aggregates)


def request(memory_mb, vcpus, rebuild=False):
    """A real RequestSpec for one instance of a flavor of that size."""
    flavor = objects.Flavor(name="m%d-c%d" % (memory_mb, vcpus), memory_mb=memory_mb, vcpus=vcpus,
                            root_gb=1, ephemeral_gb=0, swap=0, extra_specs={})
    spec = objects.RequestSpec(flavor=flavor, num_instances=1, ignore_hosts=None, force_hosts=None,
                               instance_uuid="11111111-2222-3333-4444-%012d" % next(_IDS),
                               force_nodes=None)
    if rebuild:
        spec.scheduler_hints = {"_nova_check_type": ["rebuild"]}
    return spec


def passing(filter_obj, hosts, spec):
    """The hosts that pass, through nova's own filter handler as the scheduler runs it."""
    passed = nova_filters.HostFilterHandler().get_filtered_objects([filter_obj], hosts, spec)
    return [state.host for state in passed or []]


def ranking(weigher, hosts, spec):
    """Host names, best first, through nova's own weight handler (normalisation and multipliers included)."""
    weighed = nova_weights.HostWeightHandler().get_weighed_objects([weigher], hosts, spec)
    return [item.obj.host for item in weighed]


class OverridesTestCase(unittest.TestCase):
    """Sets CONF overrides for one test and clears them after it."""

    def override(self, name, value, group):
        CONF.set_override(name, value, group=group)
        self.addCleanup(CONF.clear_override, name, group=group)
