#!/bin/sh
# Build the lab's vCenter simulator offline, against the govmomi source that
# Debian's golang-github-vmware-govmomi-dev installs under /usr/share/gocode.
#
# usage: build.sh [OUTPUT]   (default: ./vcsim in the current directory)
set -eu

out=${1:-./vcsim}
case $out in
    /*) ;;
    *) out=$PWD/$out ;;
esac
src=$(cd "$(dirname "$0")" && pwd)
gocode=/usr/share/gocode
govmomi=$gocode/src/github.com/vmware/govmomi/simulator

if ! command -v go >/dev/null 2>&1; then
    echo "build.sh: 'go' not found; install it: apt-get install golang-go" >&2
    exit 1
fi
if [ ! -d "$govmomi" ]; then
    echo "build.sh: govmomi source not found at $govmomi;" \
         "install it: apt-get install golang-github-vmware-govmomi-dev" >&2
    exit 1
fi

# GOPATH mode: no go.mod, no module proxy, only the Debian source tree.
# GOFLAGS is cleared so a caller's -mod=... cannot switch modes back on.
cd "$src"
GOPATH=$gocode GO111MODULE=off GOFLAGS='' GOPROXY=off \
    go build -o "$out" .
