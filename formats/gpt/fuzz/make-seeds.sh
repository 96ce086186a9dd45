#!/usr/bin/env bash
# Regenerates the fuzz seeds: the smallest GPT images sfdisk will write (a few sectors, short
# entry arrays), one with a damaged primary header, and one with 4096-byte sectors (needs root
# for the loop device). Usage: formats/gpt/fuzz/make-seeds.sh
set -euo pipefail
cd "$(dirname "$0")/seeds"
root=4f68bce3-e8cd-4db1-96e7-fbcaf984b709
esp=c12a7328-f81f-11d2-ba4b-00a0c93ec93b

make() { # name size script
    rm -f "$1"
    truncate -s "$2" "$1"
    printf '%b' "$3" | sfdisk --quiet --no-reread --no-tell-kernel "$1" >/dev/null
}

make tiny-512 4096 "label: gpt\ntable-length: 4\nfirst-lba: 3\nlast-lba: 5\n\
start=3, size=1, type=$root, name=\"root-1.2\", attrs=\"GUID:60\"\n\
start=4, size=1, type=$root, name=\"root-1.10~rc1\", attrs=\"GUID:63\"\n\
start=5, size=1, type=$esp, name=\"esp\"\n"

make empty-512 4096 "label: gpt\ntable-length: 4\nfirst-lba: 3\nlast-lba: 5\n"

make dps-512 8192 "label: gpt\ntable-length: 8\nfirst-lba: 4\nlast-lba: 11\n\
start=4, size=1, type=$esp, name=\"esp\"\n\
start=5, size=1, type=$root, name=\"root-1.2\"\n\
start=6, size=1, type=$root, name=\"root-1.10\", attrs=\"GUID:59,60\"\n\
start=7, size=1, type=8484680c-9521-48c6-9c11-b0720656f69e, name=\"usr-1.10\"\n\
start=8, size=1, type=933ac7e1-2eb4-4f13-b844-0e14e2aef915, name=\"home\", attrs=\"RequiredPartition\"\n\
start=9, size=1, type=0657fd6d-a4ab-43c4-84e5-0933c84b4f4f, name=\"swap\"\n\
start=10, size=1, type=44479540-f297-41b2-9af7-d131d5f0458a, name=\"root-x86_3\"\n\
start=11, size=1, type=0fc63daf-8483-4772-8e79-3d69d8477de4, name=\"data\"\n"

# the same tiny table with its primary header's disk GUID damaged: only the backup is good.
cp tiny-512 backup-only-512
printf '\xff' | dd of=backup-only-512 bs=1 seek=$((512 + 56)) conv=notrunc status=none

rm -f tiny-4096
truncate -s 32768 tiny-4096
dev=$(losetup --find --show --sector-size 4096 tiny-4096)
trap 'losetup -d "$dev"' EXIT
printf '%b' "label: gpt\ntable-length: 32\nfirst-lba: 3\nlast-lba: 5\n\
start=3, size=1, type=$root, name=\"root-2\"\nstart=4, size=2, type=$root, name=\"root-10\"\n" |
    sfdisk --quiet --no-reread --no-tell-kernel "$dev" >/dev/null
