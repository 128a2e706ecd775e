"""nova_vmware_conf through ansible-playbook: the file it writes, and validate against the lab's vCenter.

The lab's default inventory: Cluster-A has three connected hosts; nfs-a is mounted on all
of them, nfs-a-partial on two, each local-esx-a* on one. The simulator's certificate is
signed by the lab CA, <LAB_DIR>/pki/ca.pem.
"""

import grp
import json
import os
import pwd
import stat
import subprocess

import pytest

from helpers.playbook import run_module

HAND_EDITED = """\
# nova.conf of a compute proxy, edited by hand after an old guide
[DEFAULT]
transport_url = rabbit://nova:mq-secret@127.0.0.1:5672/
compute_driver=libvirt.LibvirtDriver

[VMware]
wsdl_location=file:///vmware-sdk/SDK/vsphere-ws/wsdl/vim25/vimService.wsdl #(optional)
cluster_name = Cluster-B
;host_ip = 192.0.2.1

[database]
connection = mysql+pymysql://nova:db-secret@127.0.0.1/nova
"""
OWNER = {"owner": pwd.getpwuid(os.getuid()).pw_name, "group": grp.getgrgid(os.getgid()).gr_name}


@pytest.fixture(scope="module")
def vcenter(lab):
    env = lab["env"]
    return {"host_ip": env["VMWARE_HOST"], "host_port": int(env["VMWARE_PORT"]), "host_username": env["VMWARE_USER"],
            "host_password": env["VMWARE_PASSWORD"], "ca_file": str(lab["state"] / "pki" / "ca.pem")}


@pytest.fixture
def conf(tmp_path):
    path = tmp_path / "nova.conf"
    path.write_text(HAND_EDITED)
    path.chmod(0o644)
    return path


def configure(path, check_mode=False, **args):
    return run_module("nova_vmware_conf", dict(OWNER, path=str(path), **args), check_mode=check_mode)


def untouched(path, run):
    assert run.failed, run.output
    assert path.read_text() == HAND_EDITED
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_good_config_is_validated_then_written_preserving_everything_else(conf, vcenter):
    run = configure(conf, validate=True, cluster_name="Cluster-A", datastore_regex="nfs-a", **vcenter)
    assert not run.failed, run.output
    assert run.result["changed"]
    validation = run.result["validation"]
    assert validation["vcenter"] == "127.0.0.1:%d" % vcenter["host_port"]
    assert validation["cluster"] == "Cluster-A" and validation["cluster_moid"].startswith("clustercomputeresource-")
    assert validation["connected_hosts"] == ["esx-a1.lab.local", "esx-a2.lab.local", "esx-a3.lab.local"]
    # nfs-a-partial matches the regex too, but esx-a3 does not mount it.
    assert [(ds["name"], ds["type"]) for ds in validation["datastores"]] == [("nfs-a", "NFS")]
    assert 0 < validation["datastores"][0]["free_mb"] <= validation["datastores"][0]["capacity_mb"]
    assert conf.read_text() == HAND_EDITED.replace("compute_driver=libvirt.LibvirtDriver", "compute_driver = vmwareapi.VMwareVCDriver").replace(
        "cluster_name = Cluster-B\n",
        "cluster_name = Cluster-A\nhost_ip = 127.0.0.1\nhost_port = %(host_port)d\nhost_username = %(host_username)s\n"
        "host_password = %(host_password)s\nca_file = %(ca_file)s\ndatastore_regex = nfs-a\n" % vcenter)
    assert stat.S_IMODE(conf.stat().st_mode) == 0o640
    assert any("wsdl_location is still in the file" in warning for warning in run.result["warnings"])
    assert vcenter["host_password"] not in json.dumps(run.result) + run.output

    again = configure(conf, validate=True, cluster_name="Cluster-A", datastore_regex="nfs-a", **vcenter)
    assert not again.failed and not again.result["changed"], again.output


def test_check_mode_and_diff_tell_the_truth_without_secrets(conf, vcenter):
    run = configure(conf, check_mode=True, cluster_name="Cluster-A", wsdl_location="file:///sdk/vimService.wsdl", **vcenter)
    assert not run.failed and run.result["changed"], run.output
    assert conf.read_text() == HAND_EDITED
    content, attributes = run.result["diff"]
    assert "+compute_driver = vmwareapi.VMwareVCDriver" in run.output
    assert "host_password = ******** (changed)" in content["after"]
    assert attributes["before"] == "owner {owner}, group {group}, mode 0644\n".format(**OWNER)
    assert attributes["after"] == "owner {owner}, group {group}, mode 0640\n".format(**OWNER)
    for secret in (vcenter["host_password"], "mq-secret", "db-secret"):
        assert secret not in json.dumps(run.result) + run.output
    assert any(warning.startswith("wsdl_location is not written: wsdl_location was removed from nova in 2017")
               for warning in run.result["warnings"])


def test_wrong_cluster_fails_and_writes_nothing(conf, vcenter):
    run = configure(conf, validate=True, cluster_name="Cluster-Z", **vcenter)
    untouched(conf, run)
    # Other tests may add clusters to the shared simulator: only the lab's own are certain.
    assert run.msg.startswith("Cluster Cluster-Z not found in this vCenter; it has: DC1/Cluster-A, DC1/Cluster-B")


def test_wrong_password_fails_names_the_options_and_writes_nothing(conf, vcenter):
    wrong = "Wr0ng-Pa55word-nvc"
    run = configure(conf, validate=True, cluster_name="Cluster-A", **dict(vcenter, host_password=wrong))
    untouched(conf, run)
    assert run.msg == ("vCenter 127.0.0.1:%d rejected the login of user administrator@vsphere.local: wrong user name or "
                       "password (check host_username and host_password)." % vcenter["host_port"])
    assert wrong not in run.output and vcenter["host_password"] not in run.output


def test_datastore_not_shared_by_all_hosts_fails_and_writes_nothing(conf, vcenter):
    run = configure(conf, validate=True, cluster_name="Cluster-A", datastore_regex="nfs-a-", **vcenter)
    untouched(conf, run)
    assert run.msg == ("In cluster Cluster-A, datastore_regex 'nfs-a-' matches no datastore that every connected host "
                       "mounts (nfs-a-partial is not mounted on esx-a3.lab.local): a VM DRS places on a host without "
                       "its datastore cannot run there.")


def test_local_datastores_are_not_shared_either(conf, vcenter):
    run = configure(conf, validate=True, cluster_name="Cluster-A", datastore_regex="local-esx-", **vcenter)
    untouched(conf, run)
    assert "local-esx-a1 is not mounted on esx-a2.lab.local, esx-a3.lab.local" in run.msg


def test_certificate_not_signed_by_ca_file_fails(conf, vcenter):
    run = configure(conf, validate=True, cluster_name="Cluster-A", **dict(vcenter, ca_file="/etc/ssl/certs/ca-certificates.crt"))
    untouched(conf, run)
    assert run.msg.startswith("The TLS certificate of vCenter 127.0.0.1:%d could not be verified against the CA bundle "
                              "/etc/ssl/certs/ca-certificates.crt" % vcenter["host_port"])


def test_insecure_without_ca_file_skips_verification(conf, vcenter):
    settings = dict(vcenter, ca_file=None, insecure=True)
    run = configure(conf, check_mode=True, validate=True, cluster_name="Cluster-A", **settings)
    assert not run.failed, run.output
    assert run.result["validation"]["datastores"][0]["name"] == "nfs-a"


def test_insecure_with_ca_file_is_refused(conf, vcenter):
    run = configure(conf, cluster_name="Cluster-A", insecure=True, **vcenter)
    untouched(conf, run)
    assert run.msg.startswith("insecure: true has no effect when ca_file is set")


def test_missing_group_is_a_clear_error(conf):
    try:
        grp.getgrnam("nova")
        pytest.skip("this host has a nova group")
    except KeyError:
        pass
    run = run_module("nova_vmware_conf", {"path": str(conf), "owner": OWNER["owner"], "cluster_name": "Cluster-A"})
    untouched(conf, run)
    assert run.msg == "The group nova does not exist on this host: install nova first, or set the group option."


def test_absent_removes_the_driver_settings_only(conf, vcenter):
    assert not configure(conf, cluster_name="Cluster-A", **vcenter).failed
    run = configure(conf, state="absent", backup=True)
    assert not run.failed and run.result["changed"], run.output
    assert conf.read_text() == HAND_EDITED.replace("compute_driver=libvirt.LibvirtDriver\n", "").replace("cluster_name = Cluster-B\n", "")
    assert vcenter["host_password"] in open(run.result["backup_file"]).read()
    assert not configure(conf, state="absent").result["changed"]


def test_a_list_of_clusters_is_refused(conf):
    run = configure(conf, cluster_name=["Cluster-A", "Cluster-B"])
    untouched(conf, run)
    assert run.msg == "cluster_name takes one cluster: a nova-compute drives exactly one (run one per cluster)."


def test_a_symlink_is_followed_and_kept(conf, tmp_path):
    link = tmp_path / "link.conf"
    link.symlink_to(conf)
    run = configure(link, cluster_name="Cluster-A")
    assert not run.failed and run.result["path"] == str(conf), run.output
    assert link.is_symlink()
    assert "cluster_name = Cluster-A\n" in conf.read_text()


def test_text_nova_cannot_parse_is_named_and_left_alone(conf):
    broken = HAND_EDITED + "\n  stray indented line\n"
    conf.write_text(broken)
    run = configure(conf, cluster_name="Cluster-A")
    assert run.failed
    assert run.msg == ("%s line %d: continuation line without a value to continue: '  stray indented line': "
                       "nova cannot read this file either; fix that line first." % (conf, broken.count("\n")))
    assert conf.read_text() == broken


@pytest.mark.parametrize("mode, refusal", [
    ("0666", "mode 0666 lets every user of this host read and write"),
    ("0777", "mode 0777 lets every user of this host read and write"),
    ("0644", "mode 0644 lets every user of this host read"),
    ("0642", "mode 0642 lets every user of this host write"),
    (0o602, "mode 0602 lets every user of this host write"),
    ("u=rw,g=r,o=r", "mode u=rw,g=r,o=r (0644) lets every user of this host read"),
    # Symbolic modes change the current mode: the file is 0644, and o keeps its r.
    ("u=rw,g=r", "mode u=rw,g=r (0644) lets every user of this host read"),
    ("77777", "mode 77777 is not the mode of a file, whose permission bits end at 07777"),
    ("04640", "mode 04640 sets setuid, setgid or sticky"),
    # YAML's 640 without its leading zero is decimal: 01200, sticky and owner-write only.
    (640, "mode 1200 sets setuid, setgid or sticky"),
    ("rw-r-----", "mode 'rw-r-----' is neither octal such as '0640' nor symbolic"),
])
def test_modes_that_are_not_private_file_modes_are_refused(conf, mode, refusal):
    run = configure(conf, cluster_name="Cluster-A", host_password="s3cret-nvc", mode=mode)
    untouched(conf, run)
    assert run.msg.startswith(refusal), run.msg
    assert sorted(os.listdir(conf.parent)) == ["nova.conf"]


def test_world_access_is_written_when_the_operator_says_so(conf):
    run = configure(conf, cluster_name="Cluster-A", mode="0644", allow_world_access=True)
    assert not run.failed and run.result["changed"], run.output
    assert stat.S_IMODE(conf.stat().st_mode) == 0o644 and "cluster_name = Cluster-A\n" in conf.read_text()
    assert not configure(conf, cluster_name="Cluster-A", mode="0644", allow_world_access=True).result["changed"]


def test_a_symbolic_mode_is_applied_and_stays_applied(conf):
    run = configure(conf, cluster_name="Cluster-A", mode="u=rw,g=r,o=")
    assert not run.failed and run.result["changed"], run.output
    assert stat.S_IMODE(conf.stat().st_mode) == 0o640
    again = configure(conf, cluster_name="Cluster-A", mode="u=rw,g=r,o=")
    assert not again.failed and not again.result["changed"], again.output
    # g-r on the 0640 file: only the mode changes, so the file keeps its content and inode.
    inode = conf.stat().st_ino
    narrowed = configure(conf, cluster_name="Cluster-A", mode="g-r")
    assert narrowed.result["changed"] and stat.S_IMODE(conf.stat().st_mode) == 0o600 and conf.stat().st_ino == inode


@pytest.mark.parametrize("new_mode, backup_mode", [("0640", 0o640), ("0600", 0o600)])
def test_a_backup_is_no_more_open_than_the_new_file(conf, new_mode, backup_mode):
    run = configure(conf, cluster_name="Cluster-A", host_password="0ld-s3cret-nvc", backup=True, mode=new_mode)
    assert not run.failed, run.output
    backup = run.result["backup_file"]
    assert open(backup).read() == HAND_EDITED
    assert stat.S_IMODE(os.stat(backup).st_mode) == backup_mode
    second = configure(conf, cluster_name="Cluster-A", host_password="n3w-s3cret-nvc", backup=True, mode=new_mode)
    assert "0ld-s3cret-nvc" in open(second.result["backup_file"]).read()
    assert stat.S_IMODE(os.stat(second.result["backup_file"]).st_mode) == backup_mode


@pytest.fixture
def immutable(conf):
    if subprocess.run(["chattr", "+i", str(conf)], capture_output=True, check=False).returncode != 0:
        pytest.skip("chattr +i needs root and a file system with the immutable flag")
    yield conf
    subprocess.run(["chattr", "-i", str(conf)], check=True)


def test_an_immutable_file_fails_and_leaves_no_backup_or_temporary_file(immutable):
    run = configure(immutable, cluster_name="Cluster-A", backup=True)
    untouched(immutable, run)
    assert sorted(os.listdir(immutable.parent)) == ["nova.conf"]
    assert run.msg == "Cannot write %s: Operation not permitted (it is immutable: chattr -i it first)." % immutable


@pytest.fixture
def bind_mounted(conf, tmp_path):
    """nova.conf bind-mounted from another file, as in a container: it cannot be renamed over (EBUSY)."""
    source = tmp_path / "host-nova.conf"
    source.write_text(HAND_EDITED)
    source.chmod(0o644)
    conf.unlink()
    conf.touch()
    if subprocess.run(["mount", "--bind", str(source), str(conf)], capture_output=True, check=False).returncode != 0:
        pytest.skip("mount --bind needs root (CAP_SYS_ADMIN)")
    yield conf
    subprocess.run(["umount", str(conf)], check=True)


def test_unsafe_writes_writes_a_file_that_cannot_be_replaced_in_place(bind_mounted):
    refused = configure(bind_mounted, cluster_name="Cluster-A")
    untouched(bind_mounted, refused)
    assert refused.msg == "Cannot write %s: Device or resource busy." % bind_mounted
    run = configure(bind_mounted, cluster_name="Cluster-A", unsafe_writes=True)
    assert not run.failed and run.result["changed"], run.output
    assert "cluster_name = Cluster-A\n" in bind_mounted.read_text()
    assert stat.S_IMODE(bind_mounted.stat().st_mode) == 0o640
    assert sorted(os.listdir(bind_mounted.parent)) == ["host-nova.conf", "nova.conf"]


def test_chattr_attributes_are_set_after_the_write(conf):
    run = configure(conf, cluster_name="Cluster-A", attributes="+A")
    assert not run.failed and run.result["changed"], run.output
    flags = subprocess.run(["lsattr", "-d", str(conf)], capture_output=True, text=True, check=True).stdout.split()[0]
    assert "A" in flags and "cluster_name = Cluster-A\n" in conf.read_text()
    assert run.result["diff"][1]["after"].endswith("attributes +A\n")
