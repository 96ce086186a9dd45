#!/usr/bin/env bash
# A Docker/OCI image becomes a bootable machine: `wharf pull-oci` downloads it from a registry
# (verified, cached), writes NAME.nspawn from the image config, and `wharf start` boots it.
#
# Without REGISTRY the script brings its own registry: Debian's docker-registry on 127.0.0.1
# (a free port, a throw-away config and storage, stopped on exit), seeded with a Debian image
# that `wharf push` uploads (from ROOTFS_TAR, or a root filesystem mmdebstrap builds).
#
# Prerequisites: root, docker-registry and python3 (own registry only), mmdebstrap (only when
# neither REGISTRY nor ROOTFS_TAR is given), a wharf binary (`cargo build -p wharf`).
#
# Environment:
#   WHARF            the wharf binary (default: target/debug/wharf of this checkout)
#   TMPDIR           where the temporary directory goes (default: /var/tmp)
#   REGISTRY, IMAGE  pull REGISTRY/IMAGE (e.g. REGISTRY=registry.example.com IMAGE=os/debian:12)
#                    instead; it boots when the image holds systemd, else its os-release is shown
#   INSECURE=yes     allow plain http / unverified TLS for REGISTRY (loopback needs neither)
#   ROOTFS_TAR       the root filesystem tarball that seeds the own registry
#   MACHINE          the machine name (default: debian-oci)
#   REMOVE=yes       remove the image at the end (default: keep it)
#   WHARF_IMAGE_ROOT the store (default: /var/lib/machines)
#   WHARF_OCI_CACHE  the blob cache (default: /var/cache/wharf/oci; a temporary one for the
#                    own registry)
#   WHARF_STATE_DIR  where running machines keep their state (default: /run/wharf/machines)
set -euo pipefail
WHARF=${WHARF:-$(dirname "$0")/../target/debug/wharf}
MACHINE=${MACHINE:-debian-oci}
REMOVE=${REMOVE:-no}

tmp=$(mktemp -d "${TMPDIR:-/var/tmp}/wharf-docker-to-machine.XXXXXX")
registry_pid=
started=no
seed=
cleanup() {
    if [ "$started" = yes ] && "$WHARF" status "$MACHINE" >/dev/null 2>&1; then
        "$WHARF" poweroff "$MACHINE" || "$WHARF" terminate "$MACHINE" || true
    fi
    if [ -n "$seed" ]; then
        "$WHARF" remove "$seed" >/dev/null 2>&1 || true
    fi
    if [ -n "$registry_pid" ]; then
        kill "$registry_pid" 2>/dev/null || true
        wait "$registry_pid" 2>/dev/null || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT
step() { printf '\n==> %s\n' "$*"; }

if "$WHARF" status "$MACHINE" >/dev/null 2>&1; then
    echo "machine $MACHINE is running: power it off first (wharf poweroff $MACHINE)" >&2
    exit 1
fi

if [ -n "${REGISTRY:-}" ]; then
    ref=$REGISTRY/${IMAGE:?IMAGE=REPOSITORY:TAG is needed with REGISTRY}
else
    # --- our own registry, seeded with a Debian image -------------------------------------
    export WHARF_OCI_CACHE=${WHARF_OCI_CACHE:-$tmp/oci-cache}
    tarball=${ROOTFS_TAR:-}
    if [ -z "$tarball" ]; then
        command -v mmdebstrap >/dev/null || {
            echo "mmdebstrap is missing: apt-get install mmdebstrap (or pass ROOTFS_TAR=FILE)" >&2
            exit 1
        }
        step "mmdebstrap: Debian bookworm with systemd (about a minute)"
        tarball=$tmp/rootfs.tar
        mmdebstrap --quiet --variant=minbase --include=systemd-sysv,dbus,iproute2 \
            --format=tar bookworm "$tarball"
    fi
    command -v docker-registry >/dev/null || {
        echo "docker-registry is missing: apt-get install docker-registry (or pass REGISTRY=)" >&2
        exit 1
    }
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    step "docker-registry on 127.0.0.1:$port (storage in $tmp/registry)"
    cat >"$tmp/registry.yml" <<EOF
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $tmp/registry
http:
  addr: 127.0.0.1:$port
EOF
    docker-registry serve "$tmp/registry.yml" >"$tmp/registry.log" 2>&1 &
    registry_pid=$!
    for _ in $(seq 300); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            break
        fi
        kill -0 "$registry_pid" 2>/dev/null || {
            cat "$tmp/registry.log" >&2
            exit 1
        }
        sleep 0.1
    done
    ref=127.0.0.1:$port/wharf-example/debian:bookworm

    step "seed it: wharf import-tar + wharf push $ref"
    seed=.wharf-example-seed-$$ # hidden: list-images does not show it
    "$WHARF" import-tar "$tarball" "$seed"
    # zstd layers: smaller and faster than gzip. Loopback registries need no --insecure.
    "$WHARF" push --format=zstd "$seed" "$ref"
    "$WHARF" remove "$seed"
    seed=
fi

step "wharf pull-oci $ref $MACHINE"
insecure=()
[ "${INSECURE:-no}" = yes ] && insecure=(--insecure)
"$WHARF" pull-oci --force "${insecure[@]}" "$ref" "$MACHINE"
"$WHARF" show-image "$MACHINE" -p Origin -p OriginDigest

path=$("$WHARF" show-image "$MACHINE" -p Path --value)
if [ ! -e "$path/lib/systemd/systemd" ] && [ ! -e "$path/usr/lib/systemd/systemd" ]; then
    step "no systemd in $ref: wharf run -M $MACHINE cat /etc/os-release"
    "$WHARF" run -M "$MACHINE" --settings=no cat /etc/os-release
else
    step "wharf start $MACHINE (Boot=yes in $MACHINE.nspawn: the image carries an init)"
    started=yes
    "$WHARF" start "$MACHINE" --timeout=120
    state=$("$WHARF" shell "$MACHINE" systemctl is-system-running --wait) || {
        echo "the machine is $state" >&2
        exit 1
    }
    echo "$state"
    os=$("$WHARF" shell "$MACHINE" cat /etc/os-release)
    grep '^PRETTY_NAME=' <<<"$os"
    step "wharf poweroff $MACHINE"
    "$WHARF" poweroff "$MACHINE"
    started=no
fi

if [ "$REMOVE" = yes ]; then
    step "wharf remove $MACHINE"
    "$WHARF" remove "$MACHINE"
fi
