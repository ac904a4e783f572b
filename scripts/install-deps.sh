#!/bin/sh
# Install what optee-tls needs to build, test and demo on Debian 12.
# As root: installs missing apt packages. Otherwise: prints the apt line.
# Python packages always go into a local venv (.venv), never the system.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
VENV="$ROOT/.venv"

APT_PACKAGES="gcc make pkg-config libssl-dev openssl nginx curl python3 python3-venv util-linux valgrind"
PY_PACKAGES="pytest>=7 cryptography>=41,<47 pyyaml>=6 jinja2>=3"

missing=""
for p in $APT_PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
        missing="$missing $p"
done
if [ -n "$missing" ]; then
    if [ "$(id -u)" = 0 ]; then
        echo "install-deps: apt-get install$missing"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends $missing >/dev/null
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
want=$(echo "$PY_PACKAGES" | tr ' ' '\n' | sort | tr '\n' ' ')
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check $PY_PACKAGES
    echo "$want" > "$stamp"
fi
