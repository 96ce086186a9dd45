#!/usr/bin/env bash
# A Debian machine from scratch: build a Debian 12 (bookworm) root filesystem with mmdebstrap,
# import it into the machine store with `wharf import-tar`, boot it in the background with
# `wharf start`, look inside with `wharf shell`, and power it off.
#
# Prerequisites: root, mmdebstrap and Debian's package mirror (skipped when ROOTFS_TAR is given),
# a wharf binary (`cargo build -p wharf`, or WHARF=/path/to/wharf).
#
# Environment:
#   WHARF            the wharf binary (default: target/debug/wharf of this checkout)
#   TMPDIR           where the temporary directory goes (default: /var/tmp)
#   ROOTFS_TAR       an existing root filesystem tarball to import instead of running mmdebstrap
#   MACHINE          the image and machine name (default: debian)
#   REMOVE=yes       remove the image at the end (default: keep it, so `wharf boot debian` works)
#   WHARF_IMAGE_ROOT the store (default: the system store, /var/lib/machines)
#   WHARF_STATE_DIR  where running machines keep their state (default: /run/wharf/machines)
#
# The import uses --force: an image named $MACHINE that is not running is replaced, so running
# the script twice works. A running machine of that name is left alone (the script stops).
set -euo pipefail
WHARF=${WHARF:-$(dirname "$0")/../target/debug/wharf}
MACHINE=${MACHINE:-debian}
REMOVE=${REMOVE:-no}

tmp=$(mktemp -d "${TMPDIR:-/var/tmp}/wharf-debian-machine.XXXXXX")
started=no
cleanup() {
    if [ "$started" = yes ] && "$WHARF" status "$MACHINE" >/dev/null 2>&1; then
        "$WHARF" poweroff "$MACHINE" || "$WHARF" terminate "$MACHINE" || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT
step() { printf '\n==> %s\n' "$*"; }

if "$WHARF" status "$MACHINE" >/dev/null 2>&1; then
    echo "machine $MACHINE is running: power it off first (wharf poweroff $MACHINE)" >&2
    exit 1
fi

tarball=${ROOTFS_TAR:-}
if [ -z "$tarball" ]; then
    command -v mmdebstrap >/dev/null || {
        echo "mmdebstrap is missing: apt-get install mmdebstrap (or pass ROOTFS_TAR=FILE)" >&2
        exit 1
    }
    step "mmdebstrap: Debian bookworm with systemd (about a minute)"
    tarball=$tmp/rootfs.tar
    # minbase keeps it small; systemd-sysv and dbus make it bootable, the rest are handy tools.
    mmdebstrap --quiet --variant=minbase \
        --include=systemd-sysv,dbus,iproute2,iputils-ping,procps,less \
        --format=tar bookworm "$tarball"
fi

step "wharf import-tar $tarball $MACHINE"
"$WHARF" import-tar --force "$tarball" "$MACHINE"
"$WHARF" image-status "$MACHINE"

step "wharf start $MACHINE (boots systemd in the background, returns when it is ready)"
started=yes
"$WHARF" start "$MACHINE" --timeout=120
"$WHARF" list

step "wharf shell $MACHINE systemctl is-system-running --wait"
if ! state=$("$WHARF" shell "$MACHINE" systemctl is-system-running --wait); then
    echo "the machine is $state; failed units:" >&2
    "$WHARF" shell "$MACHINE" systemctl --failed --no-pager >&2 || true
    exit 1
fi
echo "$state"

step "wharf shell $MACHINE cat /etc/os-release"
os=$("$WHARF" shell "$MACHINE" cat /etc/os-release)
grep '^PRETTY_NAME=' <<<"$os"

step "wharf poweroff $MACHINE"
"$WHARF" poweroff "$MACHINE"
started=no

if [ "$REMOVE" = yes ]; then
    step "wharf remove $MACHINE"
    "$WHARF" remove "$MACHINE"
else
    echo
    echo "Image $MACHINE is in the store: 'wharf boot $MACHINE' boots it on this terminal" \
        "(^C powers it off), 'wharf remove $MACHINE' removes it."
fi
