"""execution-environment.yml: `ansible-builder create` makes a build context that installs
this collection and, through ansible-builder's own introspection of the installed
collection, its Python requirements and system packages.

Building the image needs a container engine; the build context is what is tested: the
collection tarball in it installs with ansible-galaxy, the context's introspect script
(the one the image build runs) finds requirements.txt and bindep.txt in it, and bindep,
evaluated for the image's platform (CentOS Stream 9, rpm), selects the right packages.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from bindep.depends import Depends

ROOT = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent
EE = yaml.safe_load((ROOT / "execution-environment.yml").read_text())
RPM = ["platform:rpm", "platform:redhat", "platform:centos"]


def run(*command, cwd=None, env=None):
    return subprocess.run([str(c) for c in command], cwd=cwd, env=env, check=True, capture_output=True,
                          text=True).stdout


@pytest.fixture(scope="module")
def context(tmp_path_factory):
    """The build context, made as docs/awx.md says, from a copy of the files it reads."""
    work = tmp_path_factory.mktemp("ee")
    shutil.copy(ROOT / "execution-environment.yml", work)
    shutil.copytree(ROOT / "extensions" / "awx" / "ca", work / "extensions" / "awx" / "ca")
    run(BIN / "ansible-galaxy", "collection", "build", "--output-path", work / "build" / "ee", ROOT)
    (tarball,) = (work / "build" / "ee").glob("nova_vsphere-mixed_cloud-*.tar.gz")
    tarball.rename(tarball.with_name("nova_vsphere-mixed_cloud.tar.gz"))
    run(BIN / "ansible-builder", "create", "-f", "execution-environment.yml", "--context", "context",
        "--output-filename", "Containerfile", cwd=work)
    return work / "context"


def test_pinned_builder_and_runner_match_the_test_requirements():
    pins = dict(line.split("==") for line in (ROOT / "tests" / "requirements.txt").read_text().splitlines()
                if "==" in line and not line.startswith("#"))
    assert EE["version"] == 3
    assert EE["dependencies"]["ansible_core"]["package_pip"] == "ansible-core==" + pins["ansible-core"]
    assert EE["dependencies"]["ansible_runner"]["package_pip"] == "ansible-runner==" + pins["ansible-runner"]
    assert "ansible-builder" in pins


def test_context_installs_the_collection_then_its_requirements(context):
    containerfile = (context / "Containerfile").read_text()
    assert 'ARG PYCMD="/usr/bin/python3.12"' in containerfile
    assert "ansible-galaxy collection install" in containerfile and "-r requirements.yml" in containerfile
    assert "introspect.py introspect" in containerfile and "/output/scripts/assemble" in containerfile
    assert "update-ca-trust" in containerfile
    requirements = yaml.safe_load((context / "_build" / "requirements.yml").read_text())
    assert requirements == {"collections": [{"name": "collections/nova_vsphere-mixed_cloud.tar.gz", "type": "file"}]}
    assert (context / "_build" / "collections" / "nova_vsphere-mixed_cloud.tar.gz").is_file()


@pytest.fixture(scope="module")
def introspected(context, tmp_path_factory):
    """What the image build's introspection step writes, run on the context's own files."""
    out = tmp_path_factory.mktemp("introspect")
    build = context / "_build"
    # --force: without it ansible-galaxy skips a collection it finds in ANSIBLE_COLLECTIONS_PATH
    # (the test command's build/collections), and the image would get nothing to introspect.
    run(BIN / "ansible-galaxy", "collection", "install", "--force", "-r", "requirements.yml", "--collections-path",
        out / "collections", cwd=build)
    run(sys.executable, build / "scripts" / "introspect.py", "introspect", "--user-bindep", build / "bindep.txt",
        "--write-bindep", out / "bindep.txt", "--write-pip", out / "requirements.txt", out / "collections")
    return out


def test_image_gets_the_modules_python_libraries(introspected):
    pip = (introspected / "requirements.txt").read_text()
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            assert line in pip


def test_image_gets_run_and_build_packages_for_its_platform_and_no_lab_tools(introspected):
    depends = Depends((introspected / "bindep.txt").read_text())
    final = {rule[0] for rule in depends.active_rules(RPM)}        # assemble: bindep (default profile)
    build = {rule[0] for rule in depends.active_rules(RPM + ["compile"])}  # assemble: bindep compile
    assert {"qemu-img", "libvirt-libs"} <= final
    assert not final & {"gcc", "libvirt-devel", "mariadb-server", "golang-go", "shellcheck"}
    assert {"gcc", "libvirt-devel", "python3.12-devel"} <= build
    assert not build & {"libvirt-dev", "python3-dev", "mariadb-server"}
