"""lab up | down | status | host-power | env | proxy-vars | site-vars: the lab's one entry point."""

from __future__ import annotations

import argparse
import sys
import time

from . import bmc, kvm, proxies, site, vcenter
from .config import LabConfig, LabError, vcenters_from_env
from .supervisor import Supervisor, rss_kib, socket_path


def _openstack():
    # Imported lazily so that `lab up --only vcenter` works before the OpenStack part exists.
    from . import openstack

    return openstack


def cmd_up(cfg: LabConfig, sup: Supervisor, only: str | None) -> None:
    cfg.ensure_dirs()
    started = time.monotonic()
    if only in (None, "vcenter"):
        vcenter.up(cfg, sup)
    if only in (None, "openstack"):
        openstack = _openstack()
        openstack.install(cfg, sup)
        proxies.install_supervisor(cfg, sup)
        openstack.up(cfg, sup)
        bmc.up(cfg, sup)
    print(f"lab up in {time.monotonic() - started:.1f}s (state: {cfg.state})")
    cmd_status(cfg, sup)


def cmd_down(cfg: LabConfig, sup: Supervisor) -> None:
    # The proxies' nova-computes first: the role started them, under supervisors of their own.
    stopped = [f"{host} (proxy)" for host in proxies.stop(cfg)]
    stopped += sup.stop_all()
    # Then the KVM hosts' guests: libvirtd leaves QEMU running when it stops.
    stopped += [f"{host} (guests)" for host in kvm.down(cfg)]
    print("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))


def endpoints(cfg: LabConfig) -> dict:
    urls = {vc.service: vc.url for vc in vcenter.vcenters(cfg)}
    try:
        urls.update(dict(_openstack().services(cfg)))
    except ImportError:
        pass
    return urls


def cmd_status(cfg: LabConfig, sup: Supervisor) -> int:
    names = sup.names()
    if not names:
        print(f"lab is down (state: {cfg.state})")
        return 3
    # Each BMC's URL with the power it reads now.
    urls = {**endpoints(cfg), **bmc.readings(cfg)}
    total = 0
    print(f"{'SERVICE':<22} {'PID':>7} {'RSS MiB':>8}  URL")
    down = 0
    for name in names:
        pid = sup.pid(name)
        rss = rss_kib(pid) if pid else 0
        total += rss
        down += pid is None
        print(f"{name:<22} {pid or 'DOWN':>7} {rss / 1024:>8.0f}  {urls.get(name) or ''}")
    daemon = sup.daemon_pid()
    if daemon:
        # Its own memory only: the services' trees are counted above.
        rss = rss_kib(daemon, tree=False)
        total += rss
        print(f"{'supervisord':<22} {daemon:>7} {rss / 1024:>8.0f}  unix://{socket_path(cfg)}")
    for host, pid in proxies.supervisor_pids(cfg).items():
        rss = rss_kib(pid)
        total += rss
        print(f"{host + ' (proxy)':<22} {pid:>7} {rss / 1024:>8.0f}  supervisord + nova-compute")
    for host, guests, rss, about in kvm.status(cfg):
        total += rss
        print(f"{host + ' (guests)':<22} {guests:>7} {rss / 1024:>8.0f}  {about}")
    print(f"total RSS: {total / 1024:.0f} MiB; logs: {cfg.logs}")
    print(f"\n{'VCENTER':<12} {'INSTANCE UUID':<36}  {'REACHABLE':<9}  URL")
    for vc in vcenter.vcenters(cfg):
        announced = vcenter.announced_instance_uuid(cfg, vc)
        print(f"{vc.name:<12} {announced or vc.instance_uuid:<36}  {'yes' if announced else 'no':<9}  {vc.url}")
    return 1 if down else 0


def cmd_env(cfg: LabConfig, sup: Supervisor) -> None:
    """Shell exports that point the collection at the lab, as AWX credentials would.

    Valid before the lab is up: the credentials and certificates it will use are made here.
    """
    cfg.ensure_dirs()
    for name, value in vcenter.environment(cfg, sup).items():
        print(f"export {name}='{value}'")
    print(f"export OS_CLIENT_CONFIG_FILE='{cfg.state / 'clouds.yaml'}'")
    print("export OS_CLOUD='lab-admin'")


def cmd_proxy_vars(cfg: LabConfig) -> None:
    """Write what the proxy_compute_node role needs to provision the lab's proxies, and say where."""
    cfg.ensure_dirs()
    inventory, variables = proxies.write(cfg)
    print(f"inventory: {inventory}")
    print(f"variables: {variables}")
    print(f"ansible-playbook -i {inventory} -e @{variables} playbooks/proxy_compute.yml")


def cmd_site_vars(cfg: LabConfig) -> None:
    """Write the inventory that points playbooks/site.yml at the lab, and say how to run it."""
    cfg.ensure_dirs()
    inventory = site.write(cfg)
    print(f"inventory: {inventory}")
    print(f"source <(python3 tests/lab/lab env) && ansible-playbook -i {inventory} playbooks/site.yml")


def _positive(value: str) -> int:
    count = int(value)
    if count < 1:
        raise argparse.ArgumentTypeError(f"{value}: at least 1")
    return count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="lab", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start the lab (installs what is missing); idempotent")
    up.add_argument("--only", choices=["vcenter", "openstack"], help="start only one half")
    sub.add_parser("down", help="stop every process the lab started, and its supervisord")
    for option, what in (("--kvm-computes", "KVM hosts"), ("--fake-computes", "fake-driver computes")):
        up.add_argument(option, type=int, metavar="N", help=f"run N {what} (see docs/lab.md)")
    up.add_argument("--vcenters", type=_positive, metavar="N",
                    help="run N simulated vCenters (default: LAB_VCENTERS or 1; see docs/lab.md)")
    sub.add_parser("status", help="each service, its PID, memory and URL")
    power = sub.add_parser("host-power", help="cut a KVM host's power (SIGKILL of all its processes) or restore it")
    power.add_argument("host", help="a KVM host, kvm-compute-N")
    power.add_argument("power", choices=["off", "on"])
    sub.add_parser("env", help="print shell exports that point the collection at the lab")
    sub.add_parser("proxy-vars", help="write the inventory and variables that provision the lab's VMware proxies")
    sub.add_parser("site-vars", help="write the inventory that runs playbooks/site.yml against the lab")
    args = parser.parse_args(argv)
    if args.command == "up" and args.only == "openstack" and args.vcenters is not None:
        parser.error("--vcenters starts vCenters: not with --only openstack")

    try:
        cfg = LabConfig.from_env()
        if args.command == "up":
            cfg.kvm_computes = cfg.kvm_computes if args.kvm_computes is None else args.kvm_computes
            cfg.fake_computes = cfg.fake_computes if args.fake_computes is None else args.fake_computes
            if args.only != "openstack":
                cfg.vcenters = vcenters_from_env() if args.vcenters is None else args.vcenters
        sup = Supervisor(cfg)
        if args.command == "up":
            cmd_up(cfg, sup, args.only)
        elif args.command == "down":
            cmd_down(cfg, sup)
        elif args.command == "status":
            return cmd_status(cfg, sup)
        elif args.command == "host-power":
            print(_openstack().host_power(cfg, sup, args.host, args.power))
        elif args.command == "env":
            cmd_env(cfg, sup)
        elif args.command == "proxy-vars":
            cmd_proxy_vars(cfg)
        elif args.command == "site-vars":
            cmd_site_vars(cfg)
    except LabError as error:
        print(f"lab {args.command} failed: {error}", file=sys.stderr)
        return 1
    return 0
