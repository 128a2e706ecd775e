#!/usr/bin/env bash
# Everything the main job and the tests need on a fresh Debian machine, installed by the
# project itself: system packages (from bindep.txt), the tools' virtualenv (.venv), and
# the collection linked where ansible finds it. Safe and quick to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/pip install --quiet --disable-pip-version-check bindep

# Profiles: compile (libvirt-python), lab (the embedded lab), test (sanity tools).
missing=$(.venv/bin/bindep --brief compile lab test || true)
if [ -n "$missing" ]; then
  echo "setup: installing system packages: ${missing//$'\n'/ }"
  as_root apt-get update -qq
  # shellcheck disable=SC2086 # one package per word
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

stamp=.venv/.requirements.sha256
digest=$(cat requirements.txt tests/requirements.txt | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$digest" ]; then
  echo "setup: installing Python requirements into .venv"
  .venv/bin/pip install --quiet --disable-pip-version-check -r tests/requirements.txt
  echo "$digest" > "$stamp"
fi

# ansible-test runs from its own virtualenv: its sanity requirements pin their own tool versions.
if [ ! -x .venv-sanity/bin/ansible-test ]; then
  python3 -m venv .venv-sanity
  .venv-sanity/bin/pip install --quiet --disable-pip-version-check "$(grep '^ansible-core==' tests/requirements.txt)"
fi

# ansible finds the collection through build/collections (ANSIBLE_COLLECTIONS_PATH).
mkdir -p build/collections/ansible_collections/nova_vsphere
ln -sfn "$root" build/collections/ansible_collections/nova_vsphere/mixed_cloud
echo "setup: ready (.venv, system packages, build/collections)"
