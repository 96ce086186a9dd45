#!/usr/bin/env bash
# A tour of the store verbs on a throw-away image root (never the host's /var/lib/machines):
# make a tiny OS tree, clone it, mark the clone read-only, rename it, inspect, clean up.
# Run from the repository root after `cargo build -p wharf`, or set WHARF=/path/to/wharf.
set -euo pipefail
WHARF=${WHARF:-$(dirname "$0")/../target/debug/wharf}
root=$(mktemp -d "${TMPDIR:-/var/tmp}/wharf-example.XXXXXX")
# chattr +i (from `read-only`) survives rm -rf: clear it first if the script stops half-way.
trap 'chattr -R -i "$root" 2>/dev/null || true; rm -rf "$root"' EXIT
export WHARF_IMAGE_ROOT=$root/machines
mkdir -p "$WHARF_IMAGE_ROOT/demo/etc"
printf 'PRETTY_NAME="Demo OS 1"\n' >"$WHARF_IMAGE_ROOT/demo/etc/os-release"
printf 'demo\n' >"$WHARF_IMAGE_ROOT/demo/etc/hostname"
printf '[Exec]\nBoot=yes\n' >"$WHARF_IMAGE_ROOT/demo.nspawn"

"$WHARF" clone demo demo-copy          # snapshot on btrfs, reflink/copy elsewhere
"$WHARF" read-only demo-copy           # chattr +i (directory) / btrfs ro flag / 0444 (raw)
"$WHARF" rename demo-copy golden       # golden.nspawn follows
"$WHARF" list-images
# Capture before matching: with pipefail, `wharf … | grep -q` fails whenever grep exits before
# wharf has written its last line (wharf then dies of SIGPIPE, like any Unix tool).
status=$("$WHARF" image-status golden)
grep -q "OS: Demo OS 1" <<<"$status"
test "$("$WHARF" show-image golden -p ReadOnly --value)" = yes
test -f "$WHARF_IMAGE_ROOT/golden.nspawn"
"$WHARF" remove golden demo
test "$("$WHARF" list-images --json)" = "[]"
"$WHARF" clean
