"""The lab's guest image (tests/lab/guest/), built from Debian packages (or taken from its cache) and
booted with qemu-system-x86_64 directly: no lab needed but its venv, whose nova checks the image as
its libvirt driver does before a boot. Its console lines are docs/lab.md's."""

from __future__ import annotations

import hashlib
import json
import socket
import subprocess
import sys
import time
from pathlib import Path
from uuid import uuid4

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "lab"))
from minilab import guest_image, kvm  # noqa: E402  pylint: disable=wrong-import-position

MAX_BYTES = 64 << 20
# Deadlines for a whole boot: seconds under KVM; under TCG on a busy 2-core machine, up to a minute.
DEADLINE = {"kvm": 60, "tcg": 240}


@pytest.fixture(scope="module")
def built():
    return guest_image.image()


@pytest.fixture(scope="module")
def accel():
    usable, why = kvm.kvm_usable()
    print(f"accelerator: {'kvm' if usable else 'tcg'} ({why})")
    return "kvm" if usable else "tcg"


def boot(disk: Path, accel: str, log: Path, *options: str, power_button: bool = False) -> guest_image.Console:
    """Boot ``disk`` until the guest has printed every line of its boot; then cut its power, or with
    ``power_button`` press the ACPI power button and wait for the guest to power itself off."""
    monitor = log.with_suffix(".monitor")
    argv = ["qemu-system-x86_64", "-machine", f"accel={accel}", "-m", "256", "-nodefaults", "-display", "none",
            "-serial", f"file:{log}", "-drive", f"file={disk},if=virtio,format=qcow2", "-no-reboot",
            "-monitor", f"unix:{monitor},server,nowait"]
    started = time.monotonic()
    qemu = subprocess.Popen(argv + list(options), stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    ready_after = None
    try:
        while True:
            console = guest_image.parse_console(log.read_text(errors="replace") if log.exists() else "")
            if console.ready and ready_after is None:
                ready_after = time.monotonic() - started
            if console.complete:
                complete_after = time.monotonic() - started
                break
            assert qemu.poll() is None, f"QEMU ended ({qemu.returncode}): {qemu.stdout.read()}"
            assert time.monotonic() - started < DEADLINE[accel], \
                f"no complete boot in {DEADLINE[accel]} s: {log.read_text(errors='replace')[-2000:]}"
            time.sleep(0.1)
        if power_button:
            with socket.socket(socket.AF_UNIX) as client:
                client.connect(str(monitor))
                client.sendall(b"system_powerdown\n")
                assert qemu.wait(timeout=30) == 0
            assert "LAB-GUEST-POWEROFF" in log.read_text(errors="replace")
    finally:
        qemu.kill()
        qemu.wait()
    print(f"guest boot ({accel}): {ready_after:.1f} s to LAB-GUEST-READY, {complete_after:.1f} s to its last line")
    assert console.error is None, console.error
    return console


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_images_fit_in_64_mib_in_the_formats_the_clouds_take(built):
    qcow2 = json.loads(subprocess.run(["qemu-img", "info", "--output=json", built["qcow2"]], check=True,
                                      capture_output=True, text=True).stdout)
    vmdk = json.loads(subprocess.run(["qemu-img", "info", "--output=json", built["vmdk"]], check=True,
                                     capture_output=True, text=True).stdout)
    assert qcow2["format"] == "qcow2"
    assert vmdk["format"] == "vmdk" and vmdk["format-specific"]["data"]["create-type"] == "streamOptimized"
    for info in (qcow2, vmdk):
        assert info["virtual-size"] <= MAX_BYTES
        assert Path(info["filename"]).stat().st_size <= MAX_BYTES
    print(f"guest image: {Path(built['qcow2']).stat().st_size >> 20} MiB qcow2, "
          f"{Path(built['vmdk']).stat().st_size >> 20} MiB VMDK, {qcow2['virtual-size'] >> 20} MiB disk")


# nova's own inspection (nova.virt.images) of a file, as its libvirt driver does: the image glance
# hands it (do_image_deep_inspection), and the raw copy it boots from (force_raw_images; the
# image backend's check of the base file, whose failure is InvalidDiskInfo).
NOVA_INSPECTS = """
import sys
from nova.virt import images
inspector = images.get_image_format(sys.argv[1])
inspector.safety_check()
print(inspector)
"""


def test_nova_s_safety_check_passes_the_image_and_its_raw_copy(built, lab, tmp_path):
    nova_python = str(lab["state"] / "venv" / "bin" / "python")
    raw = tmp_path / "guest.raw"
    subprocess.run(["qemu-img", "convert", "-f", "qcow2", "-O", "raw", built["qcow2"], str(raw)], check=True)
    # A raw disk with a partition table is "gpt" to the inspector (GPT and MBR share it); nova
    # takes it as raw.
    for path, detected in ((built["qcow2"], "qcow2"), (built["vmdk"], "vmdk"), (raw, "gpt")):
        result = subprocess.run([nova_python, "-c", NOVA_INSPECTS, str(path)], capture_output=True, text=True,
                                check=False)
        assert result.returncode == 0, f"nova refuses {path}: {result.stderr.strip().splitlines()[-1:]}"
        assert result.stdout.strip() == detected


def test_a_second_build_with_the_same_inputs_reuses_the_first(built):
    before = Path(built["qcow2"]).stat().st_mtime_ns
    assert guest_image.image() == built
    assert Path(built["qcow2"]).stat().st_mtime_ns == before


def test_a_boot_prints_the_marker_and_the_data_file_and_leaves_the_image_as_it_was_on_power_off(built, accel, tmp_path):
    image = Path(built["qcow2"])
    checksum = sha256(image)
    uuid = str(uuid4())  # as nova gives the instance's
    console = boot(image, accel, tmp_path / "console.log", "-snapshot", "-uuid", uuid, power_button=True)
    assert console.data == built["data"]
    assert console.uuid == uuid
    # -snapshot: the guest wrote its token into a throw-away overlay, as on any fresh disk.
    assert console.token_state == "new" and console.token
    assert sha256(image) == checksum


def test_the_token_of_a_disks_first_boot_survives_its_next_boot(built, accel, tmp_path):
    # An overlay on the image, as nova's image-backed disks are.
    disk = tmp_path / "disk.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", built["qcow2"], str(disk)],
                   check=True)
    first = boot(disk, accel, tmp_path / "first.log")
    second = boot(disk, accel, tmp_path / "second.log")
    assert (first.token_state, second.token_state) == ("new", "kept")
    assert second.token == first.token
    assert second.data == first.data == built["data"]
