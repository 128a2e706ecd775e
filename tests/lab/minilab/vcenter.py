"""The simulated vCenter: a TLS certificate from the lab's own CA, the simulator build, its process."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

from .config import HOST, PORTS, REPO_ROOT, LabConfig, LabError
from .supervisor import Ready, Supervisor

SOURCE_DIR = REPO_ROOT / "tests" / "lab" / "vcsim"
WSDL_GENERATOR = REPO_ROOT / "tests" / "lab" / "wsdl" / "generate_vim_wsdl.py"
# The vSphere API version the simulator announces (govmomi 0.24's ServiceContent): the WSDL
# it serves must describe exactly that, or suds (oslo.vmware, nova) fails on unknown elements.
WSDL_API = "6.5"


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


def password_file(cfg: LabConfig) -> Path:
    path = cfg.run / "vcenter.password"
    path.touch(mode=0o600)
    path.write_text(cfg.secret("vcenter"))
    return path


def up(cfg: LabConfig, sup: Supervisor) -> None:
    ensure_certificates(cfg, sup)
    build(cfg, sup)
    build_wsdl(cfg, sup)
    pki = pki_dir(cfg)
    argv = [
        str(binary(cfg)),
        "--listen", f"{HOST}:{PORTS['vcsim']}",
        "--username", cfg.vcenter_user,
        "--password-file", str(password_file(cfg)),
        "--cert", str(pki / "vcenter.crt"),
        "--key", str(pki / "vcenter.key"),
        "--state-dir", str(cfg.state / "vcsim"),
        # What oslo.vmware (nova's VMware driver) needs to talk to it at all.
        "--wsdl", str(wsdl(cfg)),
    ]
    if cfg.vcenter_inventory:
        argv += ["--inventory", str(cfg.vcenter_inventory)]
    (cfg.state / "vcsim").mkdir(parents=True, exist_ok=True)
    sup.start("vcsim", argv, ready=Ready.log_line(r"VCSIM READY"), timeout=60)


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
    """The variables AWX's VMware credential would inject, plus trust in the lab CA."""
    ensure_certificates(cfg, sup)
    return {
        "VMWARE_HOST": HOST,
        "VMWARE_PORT": str(PORTS["vcsim"]),
        "VMWARE_USER": cfg.vcenter_user,
        "VMWARE_PASSWORD": cfg.secret("vcenter"),
        "VMWARE_VALIDATE_CERTS": "true",
        "SSL_CERT_FILE": str(trust_bundle(cfg)),
    }


def url() -> str:
    return f"https://{HOST}:{PORTS['vcsim']}/sdk"
