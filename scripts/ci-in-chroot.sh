#!/bin/sh
# Run .ci/run in a fresh Debian chroot, e.g. Debian 13 from a Debian 12 host:
#
#   scripts/ci-in-chroot.sh RELEASE [REPO]     (as root)
#
# RELEASE: a Debian suite debootstrap knows (trixie, bookworm). REPO: the git
# repository to test (default: this checkout's repository), cloned at HEAD.
# The chroot is made once with debootstrap --variant=minbase under
# $CHROOT_BASE (default /tmp/optee-tls-chroot) and reused; each run clones
# the repository into a fresh tmpfs /tmp inside it and runs `bash .ci/run`
# with a clean environment (env -i), CI=true, as CI does. So .ci/run's own
# install step (apt-get for scripts/deps/apt.txt, pip into .venv) is tested
# on a minimal system too. Everything mounted is unmounted at the end.
#
# The apt mirror is the host's (first deb.debian.org-style URI in
# /etc/apt/sources.list*), or $MIRROR. Where the host reaches package
# indexes through a TLS-intercepting proxy, pip in the chroot needs the
# host's CA bundle: it is copied in and named by PIP_CERT; PIP_INDEX_URL and
# PIP_EXTRA_INDEX_URL are passed on when they name http(s) indexes.
set -eu

usage() { echo "usage: $0 RELEASE [REPO]" >&2; exit 2; }
[ $# -ge 1 ] && [ $# -le 2 ] || usage
RELEASE=$1
REPO=${2:-$(cd "$(dirname "$0")/.." && git rev-parse --show-toplevel)}
[ "$(id -u)" = 0 ] || { echo "$0: needs root (debootstrap, chroot, mount)" >&2; exit 1; }
command -v debootstrap >/dev/null || { echo "$0: apt-get install debootstrap" >&2; exit 1; }

BASE=${CHROOT_BASE:-/tmp/optee-tls-chroot}
ROOTFS=$BASE/$RELEASE

host_mirror() {
    # deb822 (URIs:) or one-line (deb URI suite ...) sources; the first
    # Debian archive that is not the security one.
    cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
        /etc/apt/sources.list.d/*.sources 2>/dev/null |
        sed -n -e 's/^URIs:[[:space:]]*//p' -e 's/^deb[[:space:]]\{1,\}\(\[[^]]*\][[:space:]]*\)\{0,1\}//p' |
        awk '{print $1}' | grep -v -e security -e '^$' | grep '/debian/\{0,1\}$' | head -n 1
}
MIRROR=${MIRROR:-$(host_mirror)}
[ -n "$MIRROR" ] || { echo "$0: no Debian mirror found in /etc/apt; set MIRROR=" >&2; exit 1; }

if [ ! -f "$ROOTFS/etc/debian_version" ]; then
    echo "ci-in-chroot: debootstrap --variant=minbase $RELEASE $ROOTFS $MIRROR"
    mkdir -p "$BASE"
    debootstrap --variant=minbase "$RELEASE" "$ROOTFS" "$MIRROR"
fi

# The host's CA bundle for pip (and anything else that checks TLS).
CA=/etc/ssl/certs/ca-certificates.crt
if [ -f "$CA" ]; then
    mkdir -p "$ROOTFS/etc/optee-tls-ci"
    cp "$CA" "$ROOTFS/etc/optee-tls-ci/ca.crt"
fi
cp /etc/resolv.conf "$ROOTFS/etc/resolv.conf" 2>/dev/null || true

MOUNTS=""
cleanup() {
    for m in $MOUNTS; do umount -l "$m" 2>/dev/null || true; done
}
trap cleanup EXIT INT TERM HUP
mnt() {  # mnt TYPE-OR-BIND SRC DIR
    mkdir -p "$3"
    if [ "$1" = bind ]; then mount --bind "$2" "$3"; else mount -t "$1" "$2" "$3"; fi
    MOUNTS="$3 $MOUNTS"     # unmounted in reverse order
}
mnt proc proc "$ROOTFS/proc"
mnt sysfs sys "$ROOTFS/sys"
mnt bind /dev "$ROOTFS/dev"
mnt bind /dev/pts "$ROOTFS/dev/pts"
mnt tmpfs tmpfs "$ROOTFS/tmp"

# A clean clone, as CI makes one.
git clone -q --no-hardlinks "$REPO" "$ROOTFS/tmp/optee-tls"
echo "ci-in-chroot: $(cd "$ROOTFS/tmp/optee-tls" && git log --oneline -1) in $RELEASE ($(cat "$ROOTFS/etc/debian_version"))"

set -- CI=true HOME=/root LANG=C.UTF-8 TERM=dumb \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
[ -f "$ROOTFS/etc/optee-tls-ci/ca.crt" ] && set -- "$@" \
    PIP_CERT=/etc/optee-tls-ci/ca.crt SSL_CERT_FILE=/etc/optee-tls-ci/ca.crt
for v in PIP_INDEX_URL PIP_EXTRA_INDEX_URL; do
    eval "val=\${$v-}"
    case "$val" in http://*|https://*) set -- "$@" "$v=$val" ;; esac
done
status=0
chroot "$ROOTFS" env -i "$@" sh -c 'cd /tmp/optee-tls && bash .ci/run' || status=$?
echo "ci-in-chroot: .ci/run in $RELEASE exited $status"
exit $status
