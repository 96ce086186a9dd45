#!/usr/bin/env bash
# Pull a tarball and a disk image from a mirror that publishes a signed SHA256SUMS, as
# systemd-importd's mirrors do: `wharf pull-tar` and `wharf pull-raw` download, check the
# OpenPGP signature of SHA256SUMS (SHA256SUMS.gpg) against a keyring, check the file's SHA-256
# and import it in one stream. Then a tampered file and a tampered SHA256SUMS are refused.
#
# The mirror is made here: a directory served by python3's http.server on 127.0.0.1 (a free
# port, at most 10 minutes, stopped on exit) holding debian.tar.zst, debian.raw.zst (a GPT disk
# with one ext4 root partition, the partition type systemd's Discoverable Partitions
# Specification gives this architecture's root), SHA256SUMS and its detached signature, made
# with a throw-away gpg key (GNUPGHOME in the temp dir). For a real mirror: put its public key
# in /etc/systemd/import-pubring.gpg (or pass --keyring=FILE) and pull the URL.
#
# Prerequisites: root, python3, gpg, zstd, sfdisk (fdisk), mkfs.ext4 (e2fsprogs), mmdebstrap
# (only without ROOTFS_TAR), a wharf binary (`cargo build -p wharf`).
#
# Environment:
#   WHARF            the wharf binary (default: target/debug/wharf of this checkout)
#   TMPDIR           where the temporary directory goes (default: /var/tmp)
#   ROOTFS_TAR       the root filesystem tarball to publish (default: one mmdebstrap builds)
#   PREFIX           image names PREFIX-tar and PREFIX-raw (default: mirror)
#   REMOVE=yes       remove both images at the end (default: keep them)
#   WHARF_IMAGE_ROOT the store (default: /var/lib/machines)
set -euo pipefail
WHARF=${WHARF:-$(dirname "$0")/../target/debug/wharf}
PREFIX=${PREFIX:-mirror}
REMOVE=${REMOVE:-no}

tmp=$(mktemp -d "${TMPDIR:-/var/tmp}/wharf-mirror-pull.XXXXXX")
server_pid=
export GNUPGHOME=$tmp/gnupg
cleanup() {
    if [ -n "$server_pid" ]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    [ -d "$GNUPGHOME" ] && gpgconf --kill gpg-agent 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT
step() { printf '\n==> %s\n' "$*"; }
for tool in python3 gpg zstd sfdisk mkfs.ext4; do
    command -v "$tool" >/dev/null || {
        echo "$tool is missing (scripts/install-test-deps installs it)" >&2
        exit 1
    }
done

tarball=${ROOTFS_TAR:-}
if [ -z "$tarball" ]; then
    step "mmdebstrap: Debian bookworm (about a minute)"
    tarball=$tmp/rootfs.tar
    mmdebstrap --quiet --variant=minbase --include=systemd-sysv,dbus --format=tar bookworm "$tarball"
fi
mirror=$tmp/mirror
mkdir -p "$mirror"

step "publish $tarball as debian.tar.zst"
zstd -q -T0 -c "$tarball" >"$mirror/debian.tar.zst"

step "make debian.raw.zst: a GPT disk whose root partition (ext4) holds the same tree"
case $(uname -m) in
x86_64) root_type=4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709 ;;
aarch64) root_type=B921B045-1DF0-41C3-AF44-4C6F280D3FAE ;;
*) root_type=0FC63DAF-8483-4772-8E79-3D69D8477DE4 ;; # generic Linux data
esac
mkdir "$tmp/tree"
tar --numeric-owner --xattrs --xattrs-include='*' -xpf "$tarball" -C "$tmp/tree"
disk=$tmp/debian.raw
truncate -s 768M "$disk"
printf 'label: gpt\nsize=700MiB, type=%s, name=root\n' "$root_type" | sfdisk -q "$disk"
read -r start size < <(sfdisk --dump "$disk" | sed -n 's/.*start= *\([0-9]*\), size= *\([0-9]*\).*/\1 \2/p')
mkfs.ext4 -q -F -L root -d "$tmp/tree" -E offset=$((start * 512)) "$disk" "$((size / 2))k"
rm -rf "$tmp/tree"
zstd -q -T0 -c "$disk" >"$mirror/debian.raw.zst"
rm -f "$disk"

step "sign SHA256SUMS with a throw-away key; its public key is the keyring"
mkdir -m 0700 "$GNUPGHOME"
gpg() { command gpg --batch --quiet --pinentry-mode loopback --passphrase '' "$@"; }
gpg --quick-gen-key 'wharf example mirror <mirror@example.invalid>' ed25519 sign never 2>/dev/null
(cd "$mirror" && sha256sum debian.tar.zst debian.raw.zst >SHA256SUMS)
gpg --detach-sign --output "$mirror/SHA256SUMS.gpg" "$mirror/SHA256SUMS"
gpg --export >"$tmp/mirror-keyring.gpg"
cat "$mirror/SHA256SUMS"

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
step "serve $mirror on http://127.0.0.1:$port/"
timeout 600 python3 -m http.server --bind 127.0.0.1 --directory "$mirror" "$port" \
    >"$tmp/http.log" 2>&1 &
server_pid=$!
for _ in $(seq 300); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        break
    fi
    kill -0 "$server_pid" 2>/dev/null || {
        cat "$tmp/http.log" >&2
        exit 1
    }
    sleep 0.1
done
url=http://127.0.0.1:$port
keyring=--keyring=$tmp/mirror-keyring.gpg

step "wharf pull-tar --verify=signature $url/debian.tar.zst $PREFIX-tar"
"$WHARF" pull-tar --force --verify=signature "$keyring" "$url/debian.tar.zst" "$PREFIX-tar"
"$WHARF" image-status "$PREFIX-tar"

step "wharf pull-raw --verify=signature $url/debian.raw.zst $PREFIX-raw"
"$WHARF" pull-raw --force --verify=signature "$keyring" "$url/debian.raw.zst" "$PREFIX-raw"
"$WHARF" image-status "$PREFIX-raw"

step "wharf run -M $PREFIX-raw cat /etc/os-release (the root partition through a loop device)"
os=$("$WHARF" run -M "$PREFIX-raw" cat /etc/os-release)
grep '^PRETTY_NAME=' <<<"$os"

# refused NAME CMD…: CMD must fail with one error line, and leave no image NAME.
refused() {
    local name=$1 out
    shift
    if out=$("$@" 2>&1); then
        echo "accepted, but it should have been refused" >&2
        exit 1
    fi
    echo "refused: $out"
    if "$WHARF" show-image "$name" >/dev/null 2>&1; then
        echo "image $name exists after a refused pull" >&2
        exit 1
    fi
}

step "a tampered debian.tar.zst (one byte changed) is refused: its SHA-256 is not the signed one"
printf 'X' | dd of="$mirror/debian.tar.zst" bs=1 seek=4096 conv=notrunc status=none
refused "$PREFIX-tampered" "$WHARF" pull-tar --verify=signature "$keyring" \
    "$url/debian.tar.zst" "$PREFIX-tampered"

step "a SHA256SUMS rewritten to match the tampered file is refused: the signature does not verify"
(cd "$mirror" && sha256sum debian.tar.zst debian.raw.zst >SHA256SUMS)
refused "$PREFIX-tampered" "$WHARF" pull-tar --verify=signature "$keyring" \
    "$url/debian.tar.zst" "$PREFIX-tampered"

if [ "$REMOVE" = yes ]; then
    step "wharf remove $PREFIX-tar $PREFIX-raw"
    "$WHARF" remove "$PREFIX-tar" "$PREFIX-raw"
fi
