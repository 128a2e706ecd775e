"""The evacuation planner: gates that refuse, and what happens to each instance."""

import pytest

from ansible_collections.nova_vsphere.mixed_cloud.plugins.module_utils._openstack.evacuation_plan import (
    DISABLED_REASON,
    EvacuationRefused,
    changes_since,
    check_restore,
    check_source,
    check_targets,
    expected_state,
    moving_or_moved,
    not_opted_in,
    plan_instances,
)


def service(host, state="up", status="enabled", forced_down=False, updated_at="2026-11-21T06:55:25.000000"):
    return {"id": "uuid-" + host, "host": host, "binary": "nova-compute", "state": state, "status": status,
            "forced_down": forced_down, "disabled_reason": None, "updated_at": updated_at}


def hypervisor(host, hypervisor_type="QEMU"):
    return {"id": "hv-" + host, "hypervisor_hostname": host, "hypervisor_type": hypervisor_type,
            "service": {"host": host}}


def server(name, vm_state="active", task_state=None, power_state=1, image=True, metadata=None, extra_specs=None,
           ephemeral=0):
    return {"id": "id-" + name, "name": name, "OS-EXT-STS:vm_state": vm_state, "OS-EXT-STS:task_state": task_state,
            "OS-EXT-STS:power_state": power_state, "OS-EXT-SRV-ATTR:host": "kvm-1",
            "image": {"id": "img-1"} if image else "", "metadata": metadata or {},
            "flavor": {"ephemeral": ephemeral, "extra_specs": extra_specs or {}}}


def migration(number, name, status, dest="kvm-2"):
    return {"id": number, "uuid": "m-%d" % number, "instance_uuid": "id-" + name, "status": status,
            "source_compute": "kvm-1", "dest_compute": dest}


SERVICES = [service("kvm-1", state="down"), service("kvm-2"), service("kvm-3", status="disabled"),
            service("proxy-1")]
HYPERVISORS = [hypervisor("kvm-1"), hypervisor("kvm-2"), hypervisor("kvm-3"),
               hypervisor("proxy-1", "VMware vCenter Server")]
OPTIONS = dict(target_state="preserve", opt_in="all", opt_in_key="evacuable", shared_storage=True,
               skip_local_disks=False)


def plan(servers, migrations=(), reread=(), **options):
    rows = plan_instances("kvm-1", servers, list(migrations), list(reread), dict(OPTIONS, **options))
    return {row["name"]: row for row in rows}


# --- gates -----------------------------------------------------------------------------------


def test_a_host_without_nova_compute_is_refused_naming_the_known_ones():
    with pytest.raises(EvacuationRefused, match=r"no nova-compute service on host kvm-9 \(known hosts: kvm-1, kvm-2"):
        check_source("kvm-9", SERVICES, HYPERVISORS, fenced=True)


def test_a_vsphere_proxy_is_refused_with_the_reason():
    with pytest.raises(EvacuationRefused, match="vSphere proxy: nova's VMware driver does not support evacuate"):
        check_source("proxy-1", SERVICES, HYPERVISORS, fenced=True)


def test_a_live_source_is_refused_unless_fenced():
    services = [service("kvm-1"), service("kvm-2")]
    with pytest.raises(EvacuationRefused, match="nova-compute on kvm-1 is up .* fenced: true"):
        check_source("kvm-1", services, HYPERVISORS, fenced=False)


def test_fenced_forces_the_service_down_and_disables_it_with_the_marker():
    update = check_source("kvm-1", [service("kvm-1"), service("kvm-2")], HYPERVISORS, fenced=True)[1]
    assert update == {"status": "disabled", "disabled_reason": DISABLED_REASON, "forced_down": True}


def test_a_down_source_is_disabled_but_not_forced_down():
    update = check_source("kvm-1", SERVICES, HYPERVISORS, fenced=False)[1]
    assert update == {"status": "disabled", "disabled_reason": DISABLED_REASON}


def test_a_source_already_forced_down_and_disabled_needs_no_update():
    services = [service("kvm-1", state="down", status="disabled", forced_down=True), service("kvm-2")]
    assert check_source("kvm-1", services, HYPERVISORS, fenced=True)[1] == {}


def test_usable_targets_exclude_the_source_disabled_down_hosts_and_proxies():
    assert check_targets("kvm-1", SERVICES + [service("kvm-4", state="down")], HYPERVISORS) == ["kvm-2"]


def test_no_usable_target_is_refused():
    with pytest.raises(EvacuationRefused, match="nowhere to evacuate the instances of kvm-1 to"):
        check_targets("kvm-1", [service("kvm-1", state="down"), service("kvm-3", status="disabled")], HYPERVISORS)


@pytest.mark.parametrize("target, why", [
    ("kvm-1", "is kvm-1 itself"),
    ("kvm-9", "there is no nova-compute service on it"),
    ("kvm-3", "its nova-compute is disabled and up"),
    ("proxy-1", "it is a vSphere proxy"),
])
def test_a_target_host_that_cannot_take_instances_is_refused(target, why):
    with pytest.raises(EvacuationRefused, match=why):
        check_targets("kvm-1", SERVICES, HYPERVISORS, target)


def test_a_usable_target_host_passes():
    assert check_targets("kvm-1", SERVICES, HYPERVISORS, "kvm-2") == ["kvm-2"]


# --- instances -------------------------------------------------------------------------------


def test_active_stopped_and_error_instances_are_evacuated():
    rows = plan([server("a"), server("s", "stopped", power_state=4), server("e", "error", power_state=1)])
    assert {name: row["action"] for name, row in rows.items()} == {"a": "evacuate", "s": "evacuate", "e": "evacuate"}
    expected = {name: row["expected_vm_state"] for name, row in rows.items()}
    assert expected == {"a": "active", "s": "stopped", "e": "active"}
    assert {row["status"] for row in rows.values()} == {"planned"}


def test_odd_states_and_stuck_tasks_need_a_reset_first():
    rows = plan([server("p", "paused", power_state=3), server("t", "active", task_state="powering-off")])
    assert rows["p"]["action"] == rows["t"]["action"] == "reset_and_evacuate"
    assert "this one is paused" in rows["p"]["reason"]
    assert "active (task powering-off)" in rows["t"]["reason"]
    # A paused guest lost its memory with the host: it comes back stopped, not booted behind its owner's back.
    assert rows["p"]["expected_vm_state"] == "stopped"
    assert rows["t"]["expected_vm_state"] == "active"


@pytest.mark.parametrize("vm_state, words", [
    ("building", "never finished building"), ("shelved", "unshelve"), ("soft-deleted", "restore it first")])
def test_instances_nova_cannot_evacuate_say_why(vm_state, words):
    row = plan([server("x", vm_state)])["x"]
    assert (row["action"], row["status"]) == ("cannot", "skipped")
    assert words in row["reason"]


def test_a_vtpm_instance_cannot_be_evacuated():
    assert plan([server("v", extra_specs={"hw:tpm_version": "2.0"})])["v"]["action"] == "cannot"


def test_local_data_is_named_unless_storage_is_shared():
    rows = plan([server("img"), server("vol", image=False), server("eph", image=False, ephemeral=20)],
                shared_storage=False)
    assert rows["img"]["data_loss"] == "image-backed root disk (rebuilt from image img-1)"
    assert rows["vol"]["data_loss"] is None
    assert rows["eph"]["data_loss"] == "ephemeral disk of 20 GB"
    assert plan([server("img")], shared_storage=True)["img"]["data_loss"] is None


def test_skip_local_disks_leaves_those_instances_on_the_host():
    rows = plan([server("img"), server("vol", image=False)], shared_storage=False, skip_local_disks=True)
    assert rows["img"]["action"] == "cannot"
    assert "would lose its image-backed root disk" in rows["img"]["reason"]
    assert rows["vol"]["action"] == "evacuate"


OPT_IN_SERVERS = [server("meta", metadata={"evacuable": "True"}), server("meta-no", metadata={"evacuable": "false"}),
                  server("flavor", extra_specs={"evacuable": "YES"}), server("flavor-on", extra_specs={"evacuable": "on"}),
                  server("both", metadata={"evacuable": "1"}, extra_specs={"evacuable": "true"}), server("plain")]


@pytest.mark.parametrize("opt_in, evacuated", [
    ("all", {"meta", "meta-no", "flavor", "flavor-on", "both", "plain"}),
    ("metadata", {"meta", "both"}),
    ("flavor", {"flavor", "both"}),
    ("any", {"meta", "flavor", "both"}),
])
def test_opt_in_selects_by_metadata_flavor_extra_spec_either_or_none(opt_in, evacuated):
    rows = plan(OPT_IN_SERVERS, opt_in=opt_in)
    assert {name for name, row in rows.items() if row["action"] == "evacuate"} == evacuated
    for name in set(rows) - evacuated:
        assert (rows[name]["action"], rows[name]["status"]) == ("filtered_out", "skipped")
        assert rows[name]["reason"].startswith("not opted in (opt_in %s): " % opt_in)


def test_only_true_yes_or_1_opt_in_and_the_reason_shows_what_was_found():
    assert not_opted_in(server("a", metadata={"HA_Enabled": " Yes "}), "metadata", "HA_Enabled") is None
    assert not_opted_in(server("a", metadata={"evacuable": "true"}), "metadata", "HA_Enabled") == (
        "not opted in (opt_in metadata): metadata HA_Enabled is not set; true, yes or 1 opts in")
    assert not_opted_in(server("a", metadata={"evacuable": "on"}, extra_specs={"evacuable": "0"}), "any",
                        "evacuable") == ("not opted in (opt_in any): metadata evacuable is 'on' and flavor extra spec "
                                         "evacuable is '0'; true, yes or 1 opts in")


def test_an_instance_not_opted_in_is_left_alone_before_any_other_check():
    rows = plan([server("vtpm", extra_specs={"hw:tpm_version": "2.0"}), server("paused", "paused")], opt_in="flavor")
    assert {row["action"] for row in rows.values()} == {"filtered_out"}


def test_an_evacuation_under_way_is_followed_even_when_not_opted_in():
    rows = plan([server("f", task_state="rebuilding")], [migration(7, "f", "accepted")], opt_in="metadata")
    assert rows["f"]["action"] == "follow"


def test_stopped_target_state_expects_every_instance_stopped():
    rows = plan([server("a"), server("e", "error")], target_state="stopped")
    assert {row["expected_vm_state"] for row in rows.values()} == {"stopped"}


def test_error_instances_come_back_as_their_last_power_state():
    assert expected_state(server("e", "error", power_state=1), "preserve") == "active"
    assert expected_state(server("e", "error", power_state=4), "preserve") == "stopped"


def moved(name, **fields):
    return dict(server(name, **fields), **{"OS-EXT-SRV-ATTR:host": "kvm-2"})


@pytest.mark.parametrize("status, task_state", [
    ("accepted", "rebuilding"), ("pre-migrating", "rebuild_spawning"),
    # Seen in the lab: nova clears the task just before the instance changes host. Evacuating
    # it then is accepted by nova and starts a second copy.
    ("pre-migrating", None)])
def test_an_evacuation_under_way_is_followed_not_started_again(status, task_state):
    rows = plan([server("f", task_state=task_state)], [migration(7, "f", status)])
    assert (rows["f"]["action"], rows["f"]["migration_id"]) == ("follow", 7)


def test_an_accepted_migration_of_an_instance_without_task_was_lost_and_is_evacuated_again():
    assert plan([server("z")], [migration(7, "z", "accepted")])["z"]["action"] == "evacuate"


def test_a_failed_earlier_attempt_is_evacuated_again():
    rows = plan([server("e", "error")], [migration(3, "e", "error")])
    assert rows["e"]["action"] == "evacuate"


def test_instances_evacuated_earlier_are_reported_done_and_not_evacuated_again():
    migrations = [migration(4, "gone", "done", dest="kvm-2"), migration(5, "here", "error")]
    assert moving_or_moved([server("here", "error")], migrations) == ["id-gone"]
    rows = plan([server("here", "error")], migrations, [moved("gone")])
    assert rows["gone"]["action"] == "already_evacuated"
    assert (rows["gone"]["status"], rows["gone"]["to"], rows["gone"]["migration_id"]) == ("done", "kvm-2", 4)
    assert rows["here"]["action"] == "evacuate"


def test_an_evacuation_that_ended_between_the_reads_is_not_started_again():
    listed = [server("r", task_state="rebuild_spawning")]  # read before its migration ended
    migrations = [migration(6, "r", "done")]
    assert moving_or_moved(listed, migrations) == ["id-r"]
    assert plan(listed, migrations, [moved("r")])["r"]["action"] == "already_evacuated"


def test_an_instance_that_left_the_listing_mid_evacuation_is_followed():
    migrations = [migration(6, "r", "pre-migrating")]
    assert moving_or_moved([], migrations) == ["id-r"]
    assert plan([], migrations, [moved("r")])["r"]["action"] == "follow"


def test_changes_since_is_on_novas_clock_minus_a_margin():
    services = [service("a", updated_at="2026-11-21T06:55:25.000000"), service("b", updated_at=None),
                service("c", updated_at="2026-11-21T06:50:00.000000")]
    assert changes_since(services) == "2026-11-21T06:50:25Z"


# --- restore ---------------------------------------------------------------------------------


def test_restore_is_refused_while_evacuations_run():
    with pytest.raises(EvacuationRefused, match=r"still in progress \(migrations 8\)"):
        check_restore("kvm-1", SERVICES, [migration(8, "x", "accepted"), migration(2, "y", "completed")])


def test_restore_is_refused_until_nova_compute_cleaned_up():
    with pytest.raises(EvacuationRefused, match="migrations 2, 9 are still 'done'. Start nova-compute"):
        check_restore("kvm-1", SERVICES, [migration(9, "x", "done"), migration(2, "y", "done")])


def test_restore_unforces_and_enables():
    services = [service("kvm-1", state="down", status="disabled", forced_down=True)]
    assert check_restore("kvm-1", services, [migration(2, "y", "completed")])[1] == {
        "forced_down": False, "status": "enabled"}
    assert check_restore("kvm-1", [service("kvm-1")], [])[1] == {}
