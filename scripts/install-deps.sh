#!/bin/sh
# Install what optee-tls needs to build, test and demo on Debian 12 or 13.
# As root: installs missing apt packages. Otherwise: prints the apt line.
# Python packages always go into a local venv (.venv), never the system.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
VENV="$ROOT/.venv"

# The lists live in scripts/deps/: one entry per line, so that each part of
# the project adds its own lines.
list() { sed -e 's/#.*//' -e 's/[[:space:]]*$//' -e '/^$/d' "$ROOT/scripts/deps/$1"; }
APT_PACKAGES=$(list apt.txt | tr '\n' ' ')

missing=""
for p in $APT_PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
        missing="$missing $p"
done
if [ -n "$missing" ]; then
    if [ "$(id -u)" = 0 ]; then
        echo "install-deps: apt-get install$missing"
        export DEBIAN_FRONTEND=noninteractive
        # Several checkouts may install at once: wait for dpkg's lock.
        apt-get -o DPkg::Lock::Timeout=900 update -qq
        apt-get -o DPkg::Lock::Timeout=900 install -y -qq --no-install-recommends $missing >/dev/null
    else
        echo "install-deps: missing packages; run as root:" >&2
        echo "  apt-get install -y$missing" >&2
        exit 1
    fi
fi

# Debian's nginx package starts a system nginx on port 80: our tests and
# the demo run their own on loopback ports, so that one is not needed.

PY=${PYTHON:-python3}
if [ ! -x "$VENV/bin/python" ]; then
    "$PY" -m venv "$VENV"
fi
stamp="$VENV/.deps-installed"
want=$(list pip.txt | sort | tr '\n' ' ')
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    list pip.txt > "$VENV/requirements.txt"
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$VENV/requirements.txt"
    echo "$want" > "$stamp"
fi
