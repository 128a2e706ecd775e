"""Which KVM hosts are down, the HA gates, and the event source's debounce: plain data, no network."""

import pytest

from ansible_collections.nova_vsphere.mixed_cloud.plugins.module_utils._openstack import host_health

T0 = "2026-12-01T15:00:00.000000"


def stamp(seconds):
    """A nova updated_at SECONDS after T0."""
    whole, fraction = divmod(seconds, 1)
    minutes, secs = divmod(int(whole), 60)
    return "2026-12-01T15:%02d:%02d.%06d" % (minutes, secs, round(fraction * 1e6))


def service(host, at, forced_down=False, status="enabled"):
    return {"id": "svc-" + host, "host": host, "binary": "nova-compute", "updated_at": None if at is None else stamp(at),
            "forced_down": forced_down, "status": status, "state": "up", "disabled_reason": None}


def hypervisor(host, kind="QEMU"):
    return {"hypervisor_type": kind, "service": {"host": host}}


def fleet(**ages):
    """Services and hypervisors: host=seconds after T0 of its heartbeat; vmware-proxy reports at 100."""
    services = [service(host.replace("_", "-"), at) for host, at in ages.items()] + [service("vmware-proxy", 100)]
    hypervisors = [hypervisor(host.replace("_", "-")) for host in ages] + [
        hypervisor("vmware-proxy", "VMware vCenter Server")]
    return services, hypervisors


def test_stamps_read_as_nova_writes_them():
    assert host_health.stamp_seconds(T0) == host_health.stamp_seconds("2026-12-01T15:00:00Z")
    assert host_health.stamp_seconds(stamp(1.5)) - host_health.stamp_seconds(T0) == pytest.approx(1.5)
    assert host_health.stamp_seconds("2026-12-01T15:00:10+00:00") - host_health.stamp_seconds(T0) == 10
    assert host_health.stamp_seconds(None) is None


def test_only_kvm_hosts_are_watched_and_lags_are_against_the_newest_heartbeat_of_all():
    rows, newest = host_health.heartbeats(*fleet(kvm_1=95, kvm_2=60))
    assert [row["host"] for row in rows] == ["kvm-1", "kvm-2"]
    assessment = host_health.assess(rows, newest, stale_after=30)
    lags = {row["host"]: (row["silent_for"], row["down"]) for row in assessment["hosts"]}
    assert lags == {"kvm-1": (5.0, False), "kvm-2": (40.0, True)}
    assert (assessment["down"], assessment["total"], assessment["down_fraction"]) == (["kvm-2"], 2, 0.5)


def test_the_newest_heartbeat_is_any_services():
    services, hypervisors = fleet(kvm_1=100, kvm_2=100)
    services.append(dict(service("ctl", 140), binary="nova-conductor"))
    rows, newest = host_health.heartbeats(services, hypervisors)
    assert [row["host"] for row in rows] == ["kvm-1", "kvm-2"]
    assert host_health.assess(rows, newest)["down"] == ["kvm-1", "kvm-2"]


def test_a_stalled_control_plane_downs_no_host():
    # Nobody's heartbeat moved since T0+10, however long ago that is: the reader's clock is not consulted.
    services, hypervisors = fleet(kvm_1=10, kvm_2=10)
    services[-1]["updated_at"] = stamp(10)
    assessment = host_health.assess(*host_health.heartbeats(services, hypervisors), stale_after=30)
    assert assessment["down"] == []


def test_forced_down_and_never_reported_hosts_are_down():
    services, hypervisors = fleet(kvm_1=99, kvm_2=99, kvm_3=None)
    services[0]["forced_down"] = True
    assessment = host_health.assess(*host_health.heartbeats(services, hypervisors))
    assert assessment["down"] == ["kvm-1", "kvm-3"]


def test_confirm_keeps_only_hosts_down_in_every_read():
    first = host_health.assess(*host_health.heartbeats(*fleet(kvm_1=50, kvm_2=50, kvm_3=99)))
    second = host_health.assess(*host_health.heartbeats(*fleet(kvm_1=50, kvm_2=98, kvm_3=99)))
    confirmed = host_health.confirm([first, second])
    assert (confirmed["down"], confirmed["down_fraction"], confirmed["samples"]) == (["kvm-1"], 0.333, 2)
    assert [row["down"] for row in confirmed["hosts"]] == [True, False, False]


@pytest.mark.parametrize("ages, host, gate", [
    ({"kvm_1": 40, "kvm_2": 99, "kvm_3": 99}, "kvm-1", "pass"),
    ({"kvm_1": 40, "kvm_2": 99}, "kvm-1", "pass"),  # one of two is 50%: not more than the threshold
    ({"kvm_1": 40, "kvm_2": 40, "kvm_3": 99}, "kvm-1", "too_many_down"),
    ({"kvm_1": 95, "kvm_2": 99}, "kvm-1", "up"),
    ({"kvm_1": 40, "kvm_2": 99}, "vmware-proxy", "not_kvm"),
])
def test_the_gates(ages, host, gate):
    assessment = host_health.assess(*host_health.heartbeats(*fleet(**ages)))
    verdict = host_health.verdict(assessment, host)
    assert (verdict["gate"], verdict["recover"]) == (gate, gate == "pass")
    if gate == "too_many_down":
        assert "2 of 3 KVM hosts are down at once (kvm-1, kvm-2), more than 50%" in verdict["reason"]


def test_the_threshold_is_an_option():
    assessment = host_health.assess(*host_health.heartbeats(*fleet(kvm_1=40, kvm_2=40, kvm_3=99)))
    assert host_health.verdict(assessment, "kvm-1", max_down_fraction=0.7)["recover"]
    assert not host_health.verdict(assessment, "kvm-1", max_down_fraction=0.5)["recover"]


def read(watch, **ages):
    return [(event["type"], event["host"]) for event in watch.read(*host_health.heartbeats(*fleet(**ages)))]


def test_the_watch_reports_an_outage_once_after_its_samples_and_its_end():
    watch = host_health.Watch(stale_after=30, samples=3)
    assert read(watch, kvm_1=99, kvm_2=99) == []
    assert read(watch, kvm_1=60, kvm_2=99) == []
    assert read(watch, kvm_1=60, kvm_2=99) == []
    assert read(watch, kvm_1=60, kvm_2=99) == [("host_down", "kvm-1")]
    assert read(watch, kvm_1=60, kvm_2=99) == []  # the same outage: not again
    assert read(watch, kvm_1=99, kvm_2=99) == [("host_up", "kvm-1")]
    assert read(watch, kvm_1=99, kvm_2=99) == []


def test_a_blip_shorter_than_the_samples_is_not_reported():
    watch = host_health.Watch(stale_after=30, samples=3)
    assert read(watch, kvm_1=60, kvm_2=99) == []
    assert read(watch, kvm_1=60, kvm_2=99) == []
    assert read(watch, kvm_1=99, kvm_2=99) == []  # back before the third read: no event at all
    assert read(watch, kvm_1=60, kvm_2=99) == []
    assert read(watch, kvm_1=60, kvm_2=99) == []


def test_a_new_outage_of_the_same_host_is_reported_again():
    watch = host_health.Watch(stale_after=30, samples=1)
    assert read(watch, kvm_1=60, kvm_2=99) == [("host_down", "kvm-1")]
    assert read(watch, kvm_1=99, kvm_2=99) == [("host_up", "kvm-1")]
    assert read(watch, kvm_1=61, kvm_2=99) == [("host_down", "kvm-1")]


def test_a_host_found_forced_down_is_not_reported_but_counts_as_down():
    services, hypervisors = fleet(kvm_1=50, kvm_2=50, kvm_3=99)
    services[0]["forced_down"] = True
    watch = host_health.Watch(stale_after=30, samples=1)
    events = watch.read(*host_health.heartbeats(services, hypervisors))
    assert [(event["type"], event["host"]) for event in events] == [("host_down", "kvm-2")]
    assert (events[0]["other_hosts_down"], events[0]["hosts_down"], events[0]["hosts_total"]) == (["kvm-1"], 2, 3)
    assert events[0]["down_for"] == 50.0 and events[0]["last_heartbeat"] == stamp(50)


def test_a_disabled_host_is_out_of_service_unless_forced_down():
    services, hypervisors = fleet(kvm_1=10, kvm_2=10, kvm_3=99)
    services[0]["status"] = "disabled"  # retired: left out
    services[1].update(status="disabled", forced_down=True)  # fenced by an evacuation: down
    assessment = host_health.assess(*host_health.heartbeats(services, hypervisors))
    assert ([row["host"] for row in assessment["hosts"]], assessment["down"]) == (["kvm-2", "kvm-3"], ["kvm-2"])


def test_an_update_of_a_down_hosts_service_is_no_new_outage():
    watch = host_health.Watch(stale_after=30, samples=1)
    assert read(watch, kvm_1=60, kvm_2=99) == [("host_down", "kvm-1")]
    # The recovery forces the service down and disables it: nova moves its updated_at.
    services, hypervisors = fleet(kvm_1=99, kvm_2=99)
    services[0].update(forced_down=True, status="disabled")
    assert watch.read(*host_health.heartbeats(services, hypervisors)) == []
