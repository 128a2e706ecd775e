#!/bin/busybox sh
# shellcheck shell=dash
# PID 1 of the lab's guest: build_guest_image.py puts this file into the initramfs as /init.
# It finds its own disk (the FAT file system in the first partition that holds lab-data.txt),
# prints the lines that docs/lab.md ("The guest image") lists on the console (the serial port
# ttyS0), and idles.
# ACPI's power button (nova's stop, libvirt's shutdown) powers it off at once.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t devtmpfs devtmpfs /dev
mount -t proc proc /proc
mount -t sysfs sysfs /sys

# The drivers build_guest_image.py copied, dependencies first (a driver without its device loads too).
while read -r module; do
  insmod "/lib/modules/$module.ko" 2>/dev/null
done </etc/modules
mkdir -p /var/log /var/run  # acpid's log and pid file
acpid

# /dev/console is the serial port (the last console= on the kernel's command line); the screen too.
say() {
  echo "$*"
  echo "$*" >/dev/tty0 2>/dev/null
}

say "LAB-GUEST-READY"

# The disk: whichever disk's first partition holds the image's data file (virtio, SCSI or IDE, as
# the hypervisor attached it). Disks may appear a moment after their driver loaded.
disk=
tries=0
while [ -z "$disk" ] && [ "$tries" -lt 150 ]; do
  for dev in /dev/vd?1 /dev/sd?1 /dev/hd?1; do
    [ -b "$dev" ] || continue
    mount -t vfat -o rw "$dev" /mnt 2>/dev/null || mount -t vfat -o ro "$dev" /mnt 2>/dev/null || continue
    if [ -f /mnt/lab-data.txt ]; then
      disk=$dev
      break
    fi
    umount /mnt
  done
  [ -n "$disk" ] || sleep 0.2
  tries=$((tries + 1))
done

if [ -z "$disk" ]; then
  say "LAB-GUEST-ERROR no disk holds lab-data.txt"
else
  say "LAB-GUEST-DATA $(cat /mnt/lab-data.txt)"
  # nova gives the instance's UUID as the SMBIOS system UUID.
  say "LAB-GUEST-UUID $(cat /sys/class/dmi/id/product_uuid 2>/dev/null || echo unknown)"
  # The token: written at this disk's first boot, kept by every later boot of the same disk.
  if [ -f /mnt/lab-token.txt ]; then
    say "LAB-GUEST-TOKEN kept $(cat /mnt/lab-token.txt)"
  else
    # This boot's random ID (the kernel's, never blocking as /dev/urandom can before its pool is ready).
    token=$(cat /proc/sys/kernel/random/boot_id)
    # sync writes the file out; only an fsync (sync -d FILE) makes FAT ask the disk to flush its
    # cache, and QEMU keeps a qcow2's new clusters unreachable until that flush.
    if echo "$token" >/mnt/lab-token.txt 2>/dev/null && sync && sync -d /mnt/lab-token.txt; then
      say "LAB-GUEST-TOKEN new $token"
    else
      say "LAB-GUEST-TOKEN unwritable"
    fi
  fi
  # Read-only from here on: a power cut leaves a clean file system.
  mount -o remount,ro /mnt
fi

while :; do
  sleep 3600
done
