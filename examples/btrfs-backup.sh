#!/usr/bin/env bash
# Clones and backups on btrfs: import an image as a read-only golden subvolume, `wharf clone` it
# (an instant snapshot), change the clone inside a container, back it up with
# `wharf export-tar` (zstd), remove it, restore it with `wharf import-tar`, and check that the
# restored tree is the backed-up one: export-tar is deterministic, so exporting the restored
# image again must give the same bytes as the backup.
#
# The store must be on btrfs for snapshots: when it is not (WHARF_IMAGE_ROOT, else
# /var/lib/machines), the script makes a 2 GiB btrfs filesystem in a file of its temp dir,
# loop-mounts it and uses a store on it; it is unmounted (which releases the loop device) and
# deleted on exit, also after a failure.
#
# Prerequisites: root, btrfs-progs, zstd, mmdebstrap (only without ROOTFS_TAR), a wharf binary
# (`cargo build -p wharf`).
#
# Environment:
#   WHARF            the wharf binary (default: target/debug/wharf of this checkout)
#   TMPDIR           where the temporary directory goes (default: /var/tmp)
#   ROOTFS_TAR       the root filesystem tarball to start from (default: one mmdebstrap builds)
#   PREFIX           image names PREFIX-golden and PREFIX-work (default: backup-demo); on a
#                    btrfs store they must not exist yet, and are removed at the end
#   WHARF_IMAGE_ROOT the store (default: /var/lib/machines)
set -euo pipefail
WHARF=${WHARF:-$(dirname "$0")/../target/debug/wharf}
PREFIX=${PREFIX:-backup-demo}
golden=$PREFIX-golden
work=$PREFIX-work

tmp=$(mktemp -d "${TMPDIR:-/var/tmp}/wharf-btrfs-backup.XXXXXX")
mnt=
created=()
cleanup() {
    if [ -n "$mnt" ]; then
        umount "$mnt" 2>/dev/null || umount -l "$mnt" 2>/dev/null || true
        # mount -o loop attaches with autoclear; detach explicitly should it still be there.
        losetup -j "$tmp/btrfs.img" -O NAME --noheadings 2>/dev/null | xargs -r -n1 losetup -d || true
    else
        for name in "${created[@]}"; do
            "$WHARF" remove "$name" >/dev/null 2>&1 || true
        done
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT
step() { printf '\n==> %s\n' "$*"; }
for tool in btrfs mkfs.btrfs zstd; do
    command -v "$tool" >/dev/null || {
        echo "$tool is missing: apt-get install btrfs-progs zstd" >&2
        exit 1
    }
done

store=${WHARF_IMAGE_ROOT:-/var/lib/machines}
mkdir -p "$store"
if [ "$(stat -f -c %T "$store")" = btrfs ]; then
    step "the store $store is on btrfs"
    for name in "$golden" "$work"; do
        if "$WHARF" show-image "$name" >/dev/null 2>&1; then
            echo "image $name exists already: pick another PREFIX=" >&2
            exit 1
        fi
    done
else
    step "$store is not on btrfs: a 2 GiB btrfs filesystem on a loop device for this demo"
    truncate -s 2G "$tmp/btrfs.img"
    mkfs.btrfs -q "$tmp/btrfs.img"
    mkdir "$tmp/mnt"
    mount -o loop "$tmp/btrfs.img" "$tmp/mnt"
    mnt=$tmp/mnt
    export WHARF_IMAGE_ROOT=$mnt/machines
    mkdir "$WHARF_IMAGE_ROOT"
    findmnt -n -o SOURCE,TARGET,FSTYPE "$mnt"
fi

tarball=${ROOTFS_TAR:-}
if [ -z "$tarball" ]; then
    step "mmdebstrap: Debian bookworm (about a minute)"
    tarball=$tmp/rootfs.tar
    mmdebstrap --quiet --variant=minbase --include=systemd-sysv,dbus --format=tar bookworm "$tarball"
fi

step "wharf import-tar --read-only $tarball $golden (a read-only subvolume)"
created+=("$golden")
"$WHARF" import-tar --read-only "$tarball" "$golden"

step "wharf clone $golden $work (a writable snapshot: instant, shares every block)"
created+=("$work")
time "$WHARF" clone "$golden" "$work"
work_path=$("$WHARF" show-image "$work" -p Path --value)
btrfs subvolume show "$work_path" | sed -n '1p;/Parent UUID/p;/Flags/p'

step "change the clone: wharf run -M $work sh -c '…'"
"$WHARF" run -M "$work" sh -c \
    'echo "restored from a wharf backup" >/etc/motd && rm -rf /usr/share/doc && ln -s /etc/motd /root/motd'
"$WHARF" list-images

step "wharf export-tar $work $work.tar.zst (the backup)"
backup=$tmp/$work.tar.zst
"$WHARF" export-tar "$work" "$backup"
ls -l "$backup"

step "wharf remove $work, then wharf import-tar the backup as $work"
"$WHARF" remove "$work"
"$WHARF" import-tar "$backup" "$work"

step "verify: export the restored image again and compare with the backup"
# Before anything runs in it: a container start touches /etc (machine ID, resolv.conf, …).
restored_sum=$("$WHARF" export-tar "$work" - --format=uncompressed | sha256sum)
backup_sum=$(zstd -dc "$backup" | sha256sum)
echo "backup:   $backup_sum"
echo "restored: $restored_sum"
if [ "$restored_sum" != "$backup_sum" ]; then
    echo "the restored image differs from the backup" >&2
    exit 1
fi
echo "the restored tree is the backed-up one"
work_path=$("$WHARF" show-image "$work" -p Path --value)
motd=$(cat "$work_path/etc/motd")
echo "/etc/motd of the restored image: $motd"
test "$motd" = "restored from a wharf backup" && test ! -e "$work_path/usr/share/doc"
test -d "$("$WHARF" show-image "$golden" -p Path --value)/usr/share/doc"
echo "the golden image is unchanged (it still has /usr/share/doc)"
