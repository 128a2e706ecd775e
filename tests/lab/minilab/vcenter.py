"""The simulated vCenters: TLS certificates from the lab's own CA, the simulator build, its processes.

The lab runs ``LabConfig.vcenters`` simulators (``VCenter``), all serving the same inventory, so
the same cluster names exist in each: vCenter 1 on port ``PORTS['vcsim']`` with govmomi's
instance UUID, vCenter k on the next ports, each with its own password, certificate, instance
UUID and state directory.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import ssl
import subprocess
import sys
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

from .config import HOST, PORTS, REPO_ROOT, LabConfig, LabError
from .supervisor import Ready, Supervisor

SOURCE_DIR = REPO_ROOT / "tests" / "lab" / "vcsim"
WSDL_GENERATOR = REPO_ROOT / "tests" / "lab" / "wsdl" / "generate_vim_wsdl.py"
# The vSphere API version the simulator announces (govmomi 0.24's ServiceContent): the WSDL
# it serves must describe exactly that, or suds (oslo.vmware, nova) fails on unknown elements.
WSDL_API = "6.5"
# What every govmomi 0.24 simulator announces as about.instanceUuid unless told another.
DEFAULT_INSTANCE_UUID = "dbed6e0c-bd88-4ef6-b594-21283e1c677f"
# vCenter k>=2's instance UUID is uuid5 of this and its name: the same in every lab and every up.
INSTANCE_UUID_NAMESPACE = uuid.UUID("5b0c1f4e-2d59-4a36-9d0e-6c1a2f8e7a10")


@dataclass(frozen=True)
class VCenter:
    """vCenter k of the lab. vCenter 1 keeps the names of a lab of one vCenter: service vcsim,
    secret and certificate "vcenter"."""

    index: int

    @property
    def name(self) -> str:
        """Its name in mixed_cloud_vcenters."""
        return f"vcenter-{self.index}"

    @property
    def key(self) -> str:
        """Its secret's name, and its certificate's (pki/<key>.crt) and password file's."""
        return "vcenter" if self.index == 1 else self.name

    @property
    def service(self) -> str:
        """Its supervisor program, and its state directory's name."""
        return "vcsim" if self.index == 1 else f"vcsim-{self.index}"

    @property
    def port(self) -> int:
        return PORTS["vcsim"] + self.index - 1

    @property
    def instance_uuid(self) -> str:
        if self.index == 1:
            return DEFAULT_INSTANCE_UUID
        return str(uuid.uuid5(INSTANCE_UUID_NAMESPACE, self.name))

    @property
    def url(self) -> str:
        return f"https://{HOST}:{self.port}/sdk"


def vcenters(cfg: LabConfig) -> list[VCenter]:
    """The vCenters this lab runs (``LabConfig.vcenters``)."""
    return [VCenter(index) for index in range(1, cfg.vcenters + 1)]


def connection(cfg: LabConfig, vcenter: VCenter) -> dict:
    """A vCenter's connection as the collection's vCenter modules take it (mixed_cloud_vcenter)."""
    return {
        "hostname": HOST,
        "port": vcenter.port,
        "username": cfg.vcenter_user,
        "password": cfg.secret(vcenter.key),
        "validate_certs": True,
    }


def pki_dir(cfg: LabConfig) -> Path:
    return cfg.state / "pki"


def ca_bundle(cfg: LabConfig) -> Path:
    """The lab CA: trust it (SSL_CERT_FILE, nova's ca_file) instead of disabling TLS checks."""
    return pki_dir(cfg) / "ca.pem"


def ensure_certificates(cfg: LabConfig, sup: Supervisor) -> None:
    pki = pki_dir(cfg)
    if (pki / "vcenter.crt").exists():
        return
    if not shutil.which("openssl"):
        raise LabError("openssl is not installed: run `make setup` (or apt-get install openssl).")
    pki.mkdir(parents=True, exist_ok=True)
    sup.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "3650",
             "-subj", "/CN=mixed_cloud lab CA", "-keyout", str(pki / "ca.key"), "-out", str(ca_bundle(cfg))],
            log="pki")
    issue_certificate(cfg, sup, "vcenter")


def issue_certificate(cfg: LabConfig, sup: Supervisor, name: str) -> tuple[Path, Path]:
    """A server certificate of the lab CA for 127.0.0.1 and localhost, pki/<name>.crt and its key
    (made once); the CA is made first by ensure_certificates."""
    pki = pki_dir(cfg)
    cert, key = pki / f"{name}.crt", pki / f"{name}.key"
    if cert.exists():
        return cert, key
    openssl = ["openssl"]
    sup.run(openssl + ["req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={HOST}",
                       "-keyout", str(key), "-out", str(pki / f"{name}.csr")], log="pki")
    extensions = pki / f"{name}.ext"
    extensions.write_text(f"subjectAltName=IP:{HOST},DNS:localhost\nextendedKeyUsage=serverAuth\n")
    sup.run(openssl + ["x509", "-req", "-in", str(pki / f"{name}.csr"), "-CA", str(ca_bundle(cfg)),
                       "-CAkey", str(pki / "ca.key"), "-CAcreateserial", "-days", "3650",
                       "-extfile", str(extensions), "-out", str(cert)], log="pki")
    for private in pki.glob("*.key"):
        private.chmod(0o600)
    return cert, key


def _source_digest() -> str:
    digest = hashlib.sha256()
    for path in sorted(SOURCE_DIR.glob("*")):
        if path.is_file() and path.suffix in (".go", ".json", ".sh", ".wsdl"):
            digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()


def binary(cfg: LabConfig) -> Path:
    return cfg.state / "bin" / "vcsim"


def build(cfg: LabConfig, sup: Supervisor) -> None:
    """Build the simulator unless the binary was built from the current sources."""
    stamp = cfg.state / "bin" / "vcsim.sha256"
    digest = _source_digest()
    if binary(cfg).exists() and stamp.exists() and stamp.read_text() == digest:
        return
    binary(cfg).parent.mkdir(parents=True, exist_ok=True)
    sup.run(["bash", str(SOURCE_DIR / "build.sh"), str(binary(cfg))], log="vcsim-build")
    stamp.write_text(digest)


def wsdl(cfg: LabConfig) -> Path:
    return cfg.state / "bin" / f"vimService-{WSDL_API}.wsdl"


def _pyvmomi_python() -> tuple[str, str]:
    """A Python that imports pyVmomi, and pyVmomi's version: the collection's .venv, or this one."""
    for python in (REPO_ROOT / ".venv" / "bin" / "python", Path(sys.executable)):
        if not python.exists():
            continue
        probe = subprocess.run(  # noqa: S603 - fixed argv
            [str(python), "-c", "import importlib.metadata as m; print(m.version('pyvmomi'))"],
            capture_output=True, text=True, check=False)
        if probe.returncode == 0:
            return str(python), probe.stdout.strip()
    raise LabError("the simulator's WSDL is generated from pyVmomi's type registry, and no Python here has "
                   "pyVmomi: run tests/setup.sh (it makes .venv with the collection's requirements)")


def build_wsdl(cfg: LabConfig, sup: Supervisor) -> None:
    """Generate the WSDL the simulator serves, unless it was made by this generator and pyVmomi."""
    python, version = _pyvmomi_python()
    stamp = wsdl(cfg).with_suffix(".sha256")
    digest = hashlib.sha256(WSDL_GENERATOR.read_bytes() + f"pyvmomi {version} api {WSDL_API}".encode()).hexdigest()
    if wsdl(cfg).exists() and stamp.exists() and stamp.read_text() == digest:
        return
    wsdl(cfg).parent.mkdir(parents=True, exist_ok=True)
    sup.run([python, str(WSDL_GENERATOR), "--api", WSDL_API, str(wsdl(cfg))], log="vcsim-wsdl")
    stamp.write_text(digest)


def password_file(cfg: LabConfig, vcenter: VCenter) -> Path:
    path = cfg.run / f"{vcenter.key}.password"
    path.touch(mode=0o600)
    path.write_text(cfg.secret(vcenter.key))
    return path


def up(cfg: LabConfig, sup: Supervisor) -> None:
    """Start the lab's vCenters, stop those of a larger count before, and record the count."""
    ensure_certificates(cfg, sup)
    build(cfg, sup)
    build_wsdl(cfg, sup)
    for vcenter in vcenters(cfg):
        _start(cfg, sup, vcenter)
    for name in sup.names():
        extra = re.fullmatch(r"vcsim-(\d+)", name)
        if extra and int(extra.group(1)) > cfg.vcenters:
            sup.stop(name)
    cfg.vcenters_file.write_text(f"{cfg.vcenters}\n")


def _start(cfg: LabConfig, sup: Supervisor, vcenter: VCenter) -> None:
    cert, key = issue_certificate(cfg, sup, vcenter.key)
    state = cfg.state / vcenter.service
    argv = [
        str(binary(cfg)),
        "--listen", f"{HOST}:{vcenter.port}",
        "--username", cfg.vcenter_user,
        "--password-file", str(password_file(cfg, vcenter)),
        "--cert", str(cert),
        "--key", str(key),
        "--state-dir", str(state),
        # What oslo.vmware (nova's VMware driver) needs to talk to it at all.
        "--wsdl", str(wsdl(cfg)),
    ]
    if vcenter.index > 1:
        argv += ["--instance-uuid", vcenter.instance_uuid]
    if cfg.vcenter_inventory:
        argv += ["--inventory", str(cfg.vcenter_inventory)]
    state.mkdir(parents=True, exist_ok=True)
    sup.start(vcenter.service, argv, ready=Ready.log_line(r"VCSIM READY"), timeout=60)


_SERVICE_CONTENT = (
    '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>'
    '<RetrieveServiceContent xmlns="urn:vim25"><_this type="ServiceInstance">ServiceInstance</_this>'
    "</RetrieveServiceContent></soapenv:Body></soapenv:Envelope>"
)


def announced_instance_uuid(cfg: LabConfig, vcenter: VCenter) -> str | None:
    """The instance UUID a vCenter announces (RetrieveServiceContent needs no login), over TLS
    checked against the lab CA; None if it does not answer."""
    request = urllib.request.Request(vcenter.url, data=_SERVICE_CONTENT.encode(), headers={
        "Content-Type": "text/xml; charset=utf-8", "SOAPAction": "urn:vim25/6.5"})
    context = ssl.create_default_context(cafile=str(ca_bundle(cfg)))
    try:
        with urllib.request.urlopen(request, timeout=5, context=context) as response:  # noqa: S310 - the lab's URL
            body = response.read().decode(errors="replace")
    except OSError:
        return None
    found = re.search(r"<instanceUuid>([^<]+)</instanceUuid>", body)
    return found.group(1) if found else None


SYSTEM_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")


def trust_bundle(cfg: LabConfig) -> Path:
    """The system's CAs plus the lab CA, so SSL_CERT_FILE can point at it without side effects."""
    bundle = pki_dir(cfg) / "trust-bundle.pem"
    system = SYSTEM_CA_BUNDLE.read_text() if SYSTEM_CA_BUNDLE.exists() else ""
    content = system + ca_bundle(cfg).read_text()
    if not bundle.exists() or bundle.read_text() != content:
        # Replaced by a rename: a process reading the bundle never sees it half written.
        partial = bundle.with_suffix(".pem.tmp")
        partial.write_text(content)
        partial.replace(bundle)
    return bundle


def environment(cfg: LabConfig, sup: Supervisor) -> dict:
    """The variables AWX's VMware credential would inject, plus trust in the lab CA: vCenter 1's,
    as one such credential injects one vCenter."""
    ensure_certificates(cfg, sup)
    return {
        "VMWARE_HOST": HOST,
        "VMWARE_PORT": str(VCenter(1).port),
        "VMWARE_USER": cfg.vcenter_user,
        "VMWARE_PASSWORD": cfg.secret(VCenter(1).key),
        "VMWARE_VALIDATE_CERTS": "true",
        "SSL_CERT_FILE": str(trust_bundle(cfg)),
    }
