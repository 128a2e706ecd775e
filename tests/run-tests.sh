#!/usr/bin/env bash
# The test command (`make test`, called by .ci/run): every check, in order, against the lab.
#   tests/run-tests.sh [sanity|lint|docs|unit|integration|molecule ...]   (default: all)
# tests/setup.sh must have run (make does that).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
export PATH="$root/.venv/bin:$PATH"
export ANSIBLE_COLLECTIONS_PATH="$root/build/collections"
export ANSIBLE_CONFIG="$root/tests/ansible.cfg"
export LAB_DIR="${LAB_DIR:-$root/.lab}"

stage() { printf '\n=== %s (%s)\n' "$1" "$(date +%T)"; }

run_sanity() {
  stage "ansible-test sanity on the built collection"
  local version out
  version=$(sed -n 's/^version: *//p' galaxy.yml)
  out=$(mktemp -d)
  ansible-galaxy collection build --force --output-path "$out" . >/dev/null
  # ansible-test must run from ansible_collections/<ns>/<name>, outside this git work tree.
  ansible-galaxy collection install --force -p "$out/installed" "$out/nova_vsphere-mixed_cloud-$version.tar.gz" >/dev/null
  # Its pip bootstrap script lives on a host this machine cannot reach; see tests/sanity/get_pip.py.
  mkdir -p ~/.ansible/test/cache
  cp tests/sanity/get_pip.py ~/.ansible/test/cache/get_pip_24_2.py
  (cd "$out/installed/ansible_collections/nova_vsphere/mixed_cloud" &&
    "$root/.venv-sanity/bin/ansible-test" sanity --local --requirements --python 3.11 --color no 2>&1 |
      grep -v -e '^WARNING: Location' -e '^Looking in' -e '^Collecting' -e '^  Downloading' \
        -e '^Requirement already' -e '^Processing' -e 'eta 0:00:00' -e '^Installing collected' \
        -e '^Successfully installed' -e '^  Attempting' -e '^    Found existing' -e '^    Uninstalling' \
        -e '^      Successfully uninstalled' -e '^Using cached' -e '^Installing requirements')
  rm -rf "$out"
}

run_lint() {
  stage "ansible-lint"
  ansible-lint --offline
}

run_docs() {
  stage "ansible-doc on every module and role"
  local module role
  for module in plugins/modules/*.py; do
    module=$(basename "$module" .py)
    ansible-doc "nova_vsphere.mixed_cloud.$module" >/dev/null
    echo "ok ansible-doc nova_vsphere.mixed_cloud.$module"
  done
  for role in roles/*/; do
    role=$(basename "$role")
    ansible-doc -t role "nova_vsphere.mixed_cloud.$role" >/dev/null
    echo "ok ansible-doc -t role nova_vsphere.mixed_cloud.$role"
  done
  # docs/reference is generated from the modules' and roles' docs: regenerate it and fail
  # when the committed copy differs (UPDATE_REFERENCE_DOCS=1 rewrites it instead).
  local generated
  generated=$(mktemp -d)
  # antsibull-docs prints its validation errors on stdout: shown when it fails, else dropped.
  if ! antsibull-docs collection --use-current --squash-hierarchy --output-format simplified-rst \
      --no-add-antsibull-docs-version --fail-on-error --dest-dir "$generated" nova_vsphere.mixed_cloud \
      >"$generated.log" 2>&1; then
    cat "$generated.log" >&2
    echo "antsibull-docs cannot build the reference documentation (above)" >&2
    rm -rf "$generated" "$generated.log"
    return 1
  fi
  rm -f "$generated.log"
  if [ "${UPDATE_REFERENCE_DOCS:-0}" = 1 ]; then
    rm -rf docs/reference && mkdir -p docs/reference && cp "$generated"/*.rst docs/reference/
    echo "ok docs/reference regenerated"
  elif ! diff -ru docs/reference "$generated"; then
    rm -rf "$generated"
    echo "docs/reference is out of date: run UPDATE_REFERENCE_DOCS=1 tests/run-tests.sh docs" >&2
    return 1
  else
    echo "ok docs/reference matches the modules and roles"
  fi
  rm -rf "$generated"
}

run_unit() {
  stage "unit tests"
  pytest -q tests/unit
  # The simulator's own Go tests, in GOPATH mode over Debian's govmomi as build.sh builds it.
  (cd tests/lab/vcsim && GOPATH=/usr/share/gocode GO111MODULE=off GOFLAGS='' GOPROXY=off go test -count=1 .)
}

# A cold `lab up` takes minutes (its venv, databases, services): when the integration tests
# come after other stages, it runs in the background from the first stage on (start_lab), and
# the integration stage waits for it; the tests then take the lab as it is (LAB_EXTERNAL=1).
lab_up_pid=""
lab_up_log=""

start_lab() {
  lab_up_log=$(mktemp)
  python3 tests/lab/lab up >"$lab_up_log" 2>&1 &
  lab_up_pid=$!
}

wait_lab() {
  [ -n "$lab_up_pid" ] || return 0
  if ! wait "$lab_up_pid"; then
    cat "$lab_up_log" >&2
    echo "lab up (started in the background with the first stage) failed" >&2
    return 1
  fi
  echo "$(head -n 1 "$lab_up_log"), started in the background with the first stage"
  rm -f "$lab_up_log"
  lab_up_pid=""
}

# A stage that fails before the integration stage leaves no lab behind: the background
# `lab up` is stopped and the lab taken down (once the integration stage has waited for it,
# a failing test leaves the lab up, for its diagnosis, as before).
stop_background_lab() {
  [ -n "$lab_up_pid" ] || return 0
  kill "$lab_up_pid" 2>/dev/null || true
  wait "$lab_up_pid" 2>/dev/null || true
  python3 tests/lab/lab down >/dev/null 2>&1 || true
  rm -f "$lab_up_log"
}

run_integration() {
  stage "integration tests against the lab"
  local external=${LAB_EXTERNAL:-0}
  if [ -n "$lab_up_pid" ]; then
    wait_lab
    external=1
  fi
  # The slowest tests, so that a run that nears its time budget says where the time went.
  LAB_EXTERNAL=$external pytest -q --durations=20 tests/integration
  # The scheduler package (extensions/nova_scheduler) against nova's real classes, with the
  # lab's services venv: it has nova (but no pytest: the tests are unittest test cases, which
  # skip in the unit stage's pytest). The integration tests above brought the lab, and that
  # venv, up.
  stage "scheduler package tests with the lab's nova"
  "$LAB_DIR/venv/bin/python" -W ignore::DeprecationWarning -m unittest discover -s tests/unit/scheduler
}

run_molecule() {
  stage "molecule scenarios (delegated: create/destroy bring the lab up/down)"
  # shellcheck disable=SC1090 # the lab's variables, as AWX credentials would inject them
  source <(python3 tests/lab/lab env)
  # The site scenario's inventory (molecule links it; it must exist before molecule starts).
  python3 tests/lab/lab site-vars >/dev/null
  molecule test --all
}

stages=("$@")
[ ${#stages[@]} -gt 0 ] || stages=(sanity lint docs unit integration molecule)
if [ "${LAB_EXTERNAL:-0}" != 1 ] && [ "${stages[0]}" != integration ] && [[ " ${stages[*]} " == *" integration "* ]]; then
  start_lab
  trap stop_background_lab EXIT
fi
for name in "${stages[@]}"; do
  "run_$name"
done
stage "all stages passed: ${stages[*]}"
