"""The simulated vCenter: a TLS certificate from the lab's own CA, the simulator build, its process."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

from .config import HOST, PORTS, REPO_ROOT, LabConfig, LabError
from .supervisor import Ready, Supervisor

SOURCE_DIR = REPO_ROOT / "tests" / "lab" / "vcsim"


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
    openssl = ["openssl"]
    sup.run(openssl + ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "3650",
                       "-subj", "/CN=mixed_cloud lab CA", "-keyout", str(pki / "ca.key"), "-out", str(ca_bundle(cfg))],
            log="pki")
    sup.run(openssl + ["req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={HOST}",
                       "-keyout", str(pki / "vcenter.key"), "-out", str(pki / "vcenter.csr")], log="pki")
    extensions = pki / "vcenter.ext"
    extensions.write_text(f"subjectAltName=IP:{HOST},DNS:localhost\nextendedKeyUsage=serverAuth\n")
    sup.run(openssl + ["x509", "-req", "-in", str(pki / "vcenter.csr"), "-CA", str(ca_bundle(cfg)),
                       "-CAkey", str(pki / "ca.key"), "-CAcreateserial", "-days", "3650",
                       "-extfile", str(extensions), "-out", str(pki / "vcenter.crt")], log="pki")
    for key in pki.glob("*.key"):
        key.chmod(0o600)


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


def password_file(cfg: LabConfig) -> Path:
    path = cfg.run / "vcenter.password"
    path.touch(mode=0o600)
    path.write_text(cfg.secret("vcenter"))
    return path


def up(cfg: LabConfig, sup: Supervisor) -> None:
    ensure_certificates(cfg, sup)
    build(cfg, sup)
    pki = pki_dir(cfg)
    argv = [
        str(binary(cfg)),
        "--listen", f"{HOST}:{PORTS['vcsim']}",
        "--username", cfg.vcenter_user,
        "--password-file", str(password_file(cfg)),
        "--cert", str(pki / "vcenter.crt"),
        "--key", str(pki / "vcenter.key"),
        "--state-dir", str(cfg.state / "vcsim"),
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
