"""The lab's KVM hosts: each a libvirtd and a libvirt-driver nova-compute of its own.

A host is a mount namespace, kept alive by a bind mount on ``kvm/<host>/mnt.ns``, in which
the host's own directories are mounted over the paths libvirt uses (``LIBVIRT_PATHS``). Its
libvirtd and its nova-compute both run in it (entered with ``nsenter``), and so does every
QEMU that libvirtd starts: ``qemu:///system`` there is that host's libvirtd and no other's,
and the namespace says which processes are the host's when its power is cut. libvirtd runs
in a UTS namespace of its own as well, with the host's name as hostname: libvirt reports it,
and nova names the host's node and resource provider after it (two hosts named alike would
share one resource provider name, which placement refuses). From outside,
a host's libvirt answers on ``uri(host)``, the socket's real path.

Layout of ``kvm/<host>/`` (root-owned):
  mnt.ns                     the namespace (a bind mount of nsfs while it exists)
  run/ lib/ etc/ log/ cache/ mounted on /run/libvirt, /var/lib/libvirt, /etc/libvirt, ...
  instances/                 nova's instances_path: disks, console.log
"""

from __future__ import annotations

import fcntl
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from .config import LabConfig, LabError
from .supervisor import Ready, rss_kib

HOST_NAME = "kvm-compute-{}"

# Per-host directory -> the path libvirt (built for a system daemon) uses.
LIBVIRT_PATHS = {
    "run": "/run/libvirt",
    "lib": "/var/lib/libvirt",
    "etc": "/etc/libvirt",
    "log": "/var/log/libvirt",
    "cache": "/var/cache/libvirt",
}

# Debian's QEMU driver looks up its default user, libvirt-qemu, before it reads qemu.conf,
# and fails without it; libvirt-daemon-system would create it (and bring polkit, firewalld
# or iptables, and a systemd upgrade with it).
QEMU_USER = "libvirt-qemu"

LIBVIRTD_CONF = """\
# Written by the lab. Root only, over the host's own sockets; no TCP, no polkit.
unix_sock_group = "root"
unix_sock_ro_perms = "0700"
unix_sock_rw_perms = "0700"
auth_unix_ro = "none"
auth_unix_rw = "none"
log_outputs = "3:stderr"
"""

QEMU_CONF = """\
# Written by the lab. QEMU runs as root with no confinement: the lab has no AppArmor or
# SELinux, and no cgroup hierarchy of libvirt's (cgroup v1 without systemd here).
user = "root"
group = "root"
security_driver = "none"
remember_owner = 0
cgroup_controllers = [ ]
# QEMU stays in the host's namespace, where its processes are found at a power cut.
namespaces = [ ]
# QEMU writes its logs and chardev logs itself: no virtlogd, no virtlockd.
stdio_handler = "file"
"""

# From linux/kvm.h: _IO(KVMIO, 0x00) and _IO(KVMIO, 0x01); KVM's stable API is 12.
KVM_GET_API_VERSION = 0xAE00
KVM_CREATE_VM = 0xAE01
KVM_API_VERSION = 12


@dataclass(frozen=True)
class KvmHost:
    name: str
    index: int
    root: Path

    @property
    def ns_file(self) -> Path:
        return self.root / "mnt.ns"

    @property
    def socket(self) -> Path:
        return self.root / "run" / "libvirt-sock"

    @property
    def uri(self) -> str:
        """The host's libvirt, reached from outside its namespace."""
        return f"qemu+unix:///system?socket={self.socket}"

    @property
    def instances(self) -> Path:
        return self.root / "instances"

    @property
    def libvirtd(self) -> str:
        return f"libvirtd-{self.index}"

    @property
    def nova_compute(self) -> str:
        return f"nova-compute-{self.index}"


def _host(cfg: LabConfig, index: int) -> KvmHost:
    name = HOST_NAME.format(index)
    return KvmHost(name, index, cfg.state / "kvm" / name)


def hosts(cfg: LabConfig) -> list[KvmHost]:
    """The KVM hosts this lab runs (``LabConfig.kvm_computes``)."""
    return [_host(cfg, index) for index in range(1, cfg.kvm_computes + 1)]


def _hosts_on_disk(cfg: LabConfig) -> list[KvmHost]:
    """Every KVM host this state directory has had, also those a smaller count left out."""
    indexes = {
        int(path.name.rsplit("-", 1)[1]) for path in (cfg.state / "kvm").glob(HOST_NAME.format("*"))
    }
    return [_host(cfg, index) for index in sorted(indexes | {h.index for h in hosts(cfg)})]


def host(cfg: LabConfig, name: str) -> KvmHost:
    for found in _hosts_on_disk(cfg):
        if found.name == name:
            return found
    known = ", ".join(h.name for h in _hosts_on_disk(cfg)) or "none"
    raise LabError(f"{name} is not one of the lab's KVM hosts ({known})")


# --- virt_type -----------------------------------------------------------------------------


def kvm_usable() -> tuple[bool, str]:
    """Whether QEMU can boot a stock kernel (the guest image's) under KVM here, and why (or
    why not)."""
    try:
        fd = os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC)
    except OSError as error:
        return False, f"/dev/kvm cannot be opened ({error.strerror})"
    try:
        if fcntl.ioctl(fd, KVM_GET_API_VERSION) != KVM_API_VERSION:
            return False, f"/dev/kvm does not speak KVM API {KVM_API_VERSION}"
        os.close(fcntl.ioctl(fd, KVM_CREATE_VM, 0))
    except OSError as error:
        return False, f"/dev/kvm cannot create a virtual machine ({error.strerror})"
    finally:
        os.close(fd)
    modules = Path("/sys/module")
    if (modules / "kvm_pvm").exists() and not any(
        (modules / name).exists() for name in ("kvm_intel", "kvm_amd")
    ):
        # PVM (KVM without VT-x/AMD-V, for nested clouds) creates virtual machines and runs
        # SeaBIOS, but a stock kernel hangs in its decompressor: PVM runs only guest kernels
        # built for it (docs/lab.md, "The KVM hosts").
        return False, "/dev/kvm is PVM (kvm_pvm, no VT-x/AMD-V), which cannot run a stock kernel"
    return True, "/dev/kvm creates virtual machines"


def _virt_type_file(cfg: LabConfig) -> Path:
    return cfg.state / "kvm" / "virt_type"


def decide_virt_type(cfg: LabConfig) -> str:
    """kvm where /dev/kvm can run the guest, else qemu (TCG); decided at each up and recorded,
    with the reason, for status."""
    usable, reason = kvm_usable()
    virt_type = "kvm" if usable else "qemu"
    _virt_type_file(cfg).parent.mkdir(parents=True, exist_ok=True)
    _virt_type_file(cfg).write_text(f"{virt_type}\n{reason}\n")
    return virt_type


def _recorded_virt_type(cfg: LabConfig) -> tuple[str, str] | None:
    """The last up's virt_type and why."""
    path = _virt_type_file(cfg)
    if not path.exists():
        return None
    virt_type, _, reason = path.read_text().partition("\n")
    return virt_type, reason.strip()


def virt_type(cfg: LabConfig) -> str:
    """The virt_type the last up decided on (deciding now if none did)."""
    recorded = _recorded_virt_type(cfg)
    return recorded[0] if recorded else decide_virt_type(cfg)


# --- the host's namespace and libvirt configuration ------------------------------------------


def prepare(cfg: LabConfig) -> None:
    """The virt_type, and each host's directories, libvirt configuration and namespace (made
    where missing)."""
    if not hosts(cfg):
        return
    decide_virt_type(cfg)
    for command in ("libvirtd", "nsenter", "unshare", "qemu-system-x86_64"):
        if not shutil.which(command):
            raise LabError(
                f"{command} is missing: the lab's KVM hosts need libvirt-daemon, "
                "libvirt-daemon-driver-qemu, qemu-system-x86 and util-linux (tests/setup.sh)"
            )
    _ensure_qemu_user()
    for path in LIBVIRT_PATHS.values():
        # The mount points, empty outside the hosts' namespaces.
        Path(path).mkdir(parents=True, exist_ok=True)
    for kvm_host in hosts(cfg):
        for directory in (*LIBVIRT_PATHS, "instances"):
            (kvm_host.root / directory).mkdir(parents=True, exist_ok=True)
        (kvm_host.root / "etc" / "libvirtd.conf").write_text(LIBVIRTD_CONF)
        (kvm_host.root / "etc" / "qemu.conf").write_text(QEMU_CONF)
        if not _is_namespace(kvm_host.ns_file):
            _create_namespace(kvm_host)


def _ensure_qemu_user() -> None:
    result = subprocess.run(["getent", "passwd", QEMU_USER], capture_output=True, check=False)
    if result.returncode == 0:
        return
    subprocess.run(
        [
            "useradd", "--system", "--user-group", "--no-create-home",
            "--home-dir", "/var/lib/libvirt", "--shell", "/usr/sbin/nologin",
            "--comment", "Libvirt Qemu", QEMU_USER,
        ],
        check=True,
    )  # fmt: skip


def _is_namespace(path: Path) -> bool:
    """Whether path is a mount of a namespace (nsfs), not the plain file left after a reboot."""
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        fields = line.split()
        if fields[4] == str(path) and line.split(" - ")[1].startswith("nsfs "):
            return True
    return False


def _create_namespace(kvm_host: KvmHost) -> None:
    kvm_host.ns_file.touch()
    subprocess.run(
        ["unshare", f"--mount={kvm_host.ns_file}", "--propagation", "private", "true"], check=True
    )
    for directory, path in LIBVIRT_PATHS.items():
        subprocess.run(
            [*enter(kvm_host), "mount", "--bind", str(kvm_host.root / directory), path], check=True
        )


def enter(kvm_host: KvmHost) -> tuple[str, ...]:
    """The argv prefix that runs a command in the host's namespace (nsenter execs it: the
    supervisor's PID is the command's)."""
    return ("nsenter", f"--mount={kvm_host.ns_file}")


def _remove_namespace(kvm_host: KvmHost) -> None:
    if _is_namespace(kvm_host.ns_file):
        subprocess.run(["umount", str(kvm_host.ns_file)], check=True)


# --- processes -----------------------------------------------------------------------------


def libvirtd_argv(kvm_host: KvmHost) -> tuple[str, ...]:
    return (
        *enter(kvm_host),
        # nsenter, unshare and sh each exec the next: the supervisor's PID is libvirtd's.
        "unshare", "--uts", "sh", "-c", 'hostname "$1" && shift && exec "$@"', "-", kvm_host.name,
        # In the foreground (no --daemon), so that the supervisor tracks it; its pidfile in the
        # host's /run/libvirt rather than the system's /run/libvirtd.pid.
        "libvirtd", "--pid-file", "/run/libvirt/libvirtd.pid",
    )  # fmt: skip


def libvirtd_ready(kvm_host: KvmHost) -> Ready:
    return Ready(f"{kvm_host.socket} accepting", lambda _output: _accepts(kvm_host.socket))


def _accepts(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(str(path)) == 0


def nova_options(kvm_host: KvmHost, virt_type: str, privsep_helper: str, conf: Path) -> dict:
    """The sections of a KVM host's nova.conf beyond what every nova service has."""
    # nova-compute runs as root, so privsep's daemons start directly, without sudo or rootwrap.
    privsep = {"helper_command": f"{privsep_helper} --config-file {conf}"}
    return {
        "DEFAULT": {
            "compute_driver": "libvirt.LibvirtDriver",
            "instances_path": kvm_host.instances,
        },
        # connection_uri stays nova's qemu:///system: in the host's namespace, its own libvirtd.
        "libvirt": {
            "virt_type": virt_type,
            # Under nested KVM, QEMU cannot set the IA32_ARCH_CAPABILITIES MSR the host's CPU
            # model carries ("failed to set MSR 0x10a"), with nova's host-model as with
            # host-passthrough: the guest's CPU is the host's without that feature. TCG takes
            # nova's default.
            **(
                {"cpu_mode": "host-passthrough", "cpu_model_extra_flags": "-arch-capabilities"}
                if virt_type == "kvm"
                else {}
            ),
        },
        "nova_sys_admin": privsep,
        "privsep_osbrick": privsep,
    }


def processes(kvm_host: KvmHost) -> list[int]:
    """Every process in the host's namespace: its libvirtd, nova-compute, QEMUs and helpers."""
    if not _is_namespace(kvm_host.ns_file):
        return []
    namespace = os.stat(kvm_host.ns_file)
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            mnt = os.stat(entry / "ns" / "mnt")
        except OSError:
            continue
        if (mnt.st_dev, mnt.st_ino) == (namespace.st_dev, namespace.st_ino):
            found.append(int(entry.name))
    return found


def _guests(kvm_host: KvmHost) -> list[int]:
    guests = []
    for pid in processes(kvm_host):
        try:
            if os.readlink(f"/proc/{pid}/exe").rsplit("/", 1)[1].startswith("qemu-system-"):
                guests.append(pid)
        except OSError:
            continue
    return guests


def status(cfg: LabConfig) -> list[tuple[str, int, int, str]]:
    """Per KVM host: its name, its QEMU processes, their RSS in KiB (libvirtd's session does
    not hold them), and a line on its power, virt_type and libvirt URI."""
    rows = []
    for kvm_host in _hosts_on_disk(cfg):
        guests = _guests(kvm_host)
        power = "on" if processes(kvm_host) else "off"
        virt_type_now, reason = _recorded_virt_type(cfg) or ("undecided", "")
        decided = f"virt_type {virt_type_now}" + (f" ({reason})" if reason else "")
        about = f"power {power}, {decided}, {kvm_host.uri}"
        rows.append(
            (kvm_host.name, len(guests), sum(rss_kib(pid, tree=False) for pid in guests), about)
        )
    return rows


def cut_power(kvm_host: KvmHost, timeout: float = 10) -> list[int]:
    """SIGKILL every process of the host at once, as a power cut; the PIDs that were killed.

    They are stopped first, so that none of them acts on the others' deaths meanwhile (a
    libvirtd seeing its QEMU die, a nova-compute its libvirtd): the host freezes, then goes.
    """
    pids = processes(kvm_host)
    for sig in (signal.SIGSTOP, signal.SIGKILL):
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
    deadline = time.monotonic() + timeout
    while processes(kvm_host):
        if time.monotonic() > deadline:
            raise LabError(
                f"processes of {kvm_host.name} still alive after SIGKILL: {processes(kvm_host)}"
            )
        time.sleep(0.1)
    return pids


def down(cfg: LabConfig) -> list[str]:
    """After the supervisor stopped libvirtd and nova-compute: the guests (QEMU runs in a
    session of its own) and the namespaces. The hosts whose guests were killed."""
    stopped = []
    for kvm_host in _hosts_on_disk(cfg):
        if cut_power(kvm_host):
            stopped.append(kvm_host.name)
        _remove_namespace(kvm_host)
    return stopped
