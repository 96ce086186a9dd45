//! Hostile inputs in one place, made by a Python script (python3's tarfile writes the odd
//! headers the `tar` crate refuses to, and struct/zlib make qcow2 and GPT images field by
//! field): tar archives that try to leave the image or exhaust the machine, qcow2 images with
//! tables pointing anywhere, and GPT disks with broken partition tables.
//!
//! Each generator writes one case to `out`; `outside` is a directory outside every store the
//! case may aim at (the test checks it stays unchanged).

use std::path::Path;

use crate::sh;

/// Tar cases: `(case, what the error names when the import is refused)`. An empty needle: the
/// archive may also be imported, as long as everything it makes stays inside the image.
pub const TAR_CASES: &[(&str, &str)] = &[
    ("dotdot", "leaves the image"),
    ("abs", "absolute"),
    ("inner", "leaves the image"),
    ("symlink-write", "symlink"),
    ("hardlink-out", "leaves the image"),
    ("huge", "limit"),
    ("symlink-replace-write", ""),
    ("symlink-loop", ""),
    ("symlink-chain-out", ""),
    ("hardlink-to-symlink-out", ""),
    ("dir-over-symlink", ""),
    ("device-nodes", ""),
    ("sparse-bomb", ""),
    ("sparse-map-junk", ""),
    ("long-name", ""),
    ("long-component", ""),
    ("long-link-target", ""),
    ("setuid-xattr-junk", ""),
    ("pax-huge-record", ""),
    ("pax-bad-number", ""),
    ("negative-size", ""),
    ("truncated", "ends inside"),
    ("zeros", ""),
];

const TAR_SCRIPT: &str = r##"
import io, sys, tarfile
out, case, outside = sys.argv[1], sys.argv[2], sys.argv[3]
t = tarfile.open(out, "w", format=tarfile.PAX_FORMAT)
def f(name, data=b"x", mode=0o644, pax=None):
    i = tarfile.TarInfo(name); i.size = len(data); i.mode = mode
    if pax: i.pax_headers = pax
    t.addfile(i, io.BytesIO(data))
def l(name, target, kind):
    i = tarfile.TarInfo(name); i.type = kind; i.linkname = target; t.addfile(i)
def d(name):
    i = tarfile.TarInfo(name); i.type = tarfile.DIRTYPE; i.mode = 0o755; t.addfile(i)
def dev(name, kind, major, minor):
    i = tarfile.TarInfo(name); i.type = kind; i.devmajor = major; i.devminor = minor; t.addfile(i)
raw_tail = None
if case == "dotdot": f("../escape")
elif case == "abs": f(outside + "/abs")
elif case == "inner": f("a/../../x")
elif case == "symlink-write": l("l", outside, tarfile.SYMTYPE); f("l/written")
elif case == "hardlink-out": l("h", "../../../../etc/passwd", tarfile.LNKTYPE)
elif case == "huge":
    i = tarfile.TarInfo("big"); i.size = 1 << 40; t.addfile(i)
elif case == "symlink-replace-write":
    # A file, replaced by a symlink to the outside, then written again: must not follow.
    f("f", b"first"); l("f", outside + "/untouched", tarfile.SYMTYPE); f("f", b"second")
elif case == "symlink-loop":
    l("a", "b", tarfile.SYMTYPE); l("b", "a", tarfile.SYMTYPE); f("a/x")
elif case == "symlink-chain-out":
    l("one", "two/..", tarfile.SYMTYPE); d("two"); l("two/three", "../../../..", tarfile.SYMTYPE)
    f("two/three" + outside + "/chained")
elif case == "hardlink-to-symlink-out":
    l("s", outside + "/untouched", tarfile.SYMTYPE); l("h", "s", tarfile.LNKTYPE); f("h", b"overwrite")
elif case == "dir-over-symlink":
    l("etc", outside, tarfile.SYMTYPE); d("etc"); f("etc/passwd", b"pwned")
elif case == "device-nodes":
    dev("dev/sda", tarfile.BLKTYPE, 8, 0); dev("dev/mem", tarfile.CHRTYPE, 1, 1)
    dev("dev/kmsg", tarfile.CHRTYPE, 1, 11); f("dev/after", b"ok")
elif case == "sparse-bomb":
    # GNU sparse 1.0: a 1 TiB file holding one byte.
    data = b"1\n" + str((1 << 40) - 1).encode() + b"\n1\n"
    data = data + b"\0" * (512 - len(data)) + b"x"
    f("sparse", data, pax={"GNU.sparse.major": "1", "GNU.sparse.minor": "0",
        "GNU.sparse.name": "sparse", "GNU.sparse.realsize": str(1 << 40)})
elif case == "sparse-map-junk":
    data = b"99999999999999999999\n1\n" + b"\0" * 490
    f("junk", data, pax={"GNU.sparse.major": "1", "GNU.sparse.minor": "0",
        "GNU.sparse.name": "junk", "GNU.sparse.realsize": "18446744073709551615"})
elif case == "long-name":
    f("/".join(["d" * 200] * 60) + "/file")
elif case == "long-component":
    f("x" * 300)
elif case == "long-link-target":
    l("l", "t" * 70000, tarfile.SYMTYPE)
elif case == "setuid-xattr-junk":
    f("suid", b"#!/bin/sh\n", mode=0o7777, pax={
        "SCHILY.xattr.security.capability": "\x01\x02junk",
        "SCHILY.xattr.system.posix_acl_access": "garbage",
        "SCHILY.xattr.trusted.overlay.opaque": "y",
        "SCHILY.xattr.unknownns.x": "1",
        "SCHILY.xattr.user." + "k" * 300: "v",
        "LIBARCHIVE.xattr.user.b64": "!!!notbase64",
    })
elif case == "pax-huge-record":
    # An extended header that claims a 4 GiB record.
    raw_tail = b"4294967296 path=x\n"
elif case == "pax-bad-number":
    f("n", pax={"size": "-5", "mtime": "nan", "uid": "99999999999999999999999"})
elif case == "negative-size":
    f("neg")
elif case == "truncated":
    f("file", b"x" * 5000)
elif case == "wh-dotdot":
    f("../.wh.untouched", b""); f("a/../../.wh.canary", b"")
elif case == "wh-abs":
    f(outside + "/.wh.untouched", b"")
elif case == "opq-dotdot":
    f("../.wh..wh..opq", b"")
t.close()
data = open(out, "rb").read()
if raw_tail is not None:
    h = tarfile.TarInfo("././@PaxHeader"); h.type = tarfile.XHDTYPE; h.size = len(raw_tail)
    blk = h.tobuf(tarfile.USTAR_FORMAT)
    body = raw_tail + b"\0" * (-len(raw_tail) % 512)
    data = blk + body + data
if case == "negative-size":
    # Size field in base-256 with the sign bit set.
    hdr = bytearray(data[:512]); hdr[124:136] = b"\xff" * 12
    hdr[148:156] = b" " * 8; s = sum(hdr); hdr[148:156] = ("%06o\0 " % s).encode()
    data = bytes(hdr) + data[512:]
if case == "truncated": data = data[:700]
if case == "zeros": data = b"\0" * 10240
open(out, "wb").write(data)
"##;

/// Layer-only cases for OCI images (whiteouts aimed outside), written by [`tar`] too.
pub const LAYER_CASES: &[&str] = &["wh-dotdot", "wh-abs", "opq-dotdot"];

/// Write tar case `case` (one of [`TAR_CASES`] or [`LAYER_CASES`]) to `out`, aiming at `outside`.
pub fn tar(case: &str, out: &Path, outside: &Path) {
    python(TAR_SCRIPT, &[out, Path::new(case), outside]);
}

/// qcow2 cases: every one must be refused, or give a raw image no larger than its virtual
/// size, without hanging or allocating unbounded memory.
pub const QCOW2_CASES: &[&str] = &[
    "huge-virtual-size",
    "l1-beyond-eof",
    "l1-entry-beyond-eof",
    "l2-loop-onto-header",
    "l1-l2-same-cluster",
    "l2-unaligned",
    "compressed-huge",
    "refcount-beyond-eof",
    "cluster-bits-64",
    "l1-size-overflow",
    "header-length-huge",
    "backing-file-outside",
    "snapshot-table-junk",
    "extension-loop",
];

const QCOW2_SCRIPT: &str = r#"
import struct, sys
out, case, outside = sys.argv[1], sys.argv[2], sys.argv[3]
CB = 16; C = 1 << CB
size = 64 << 20
l1_size = 1; l1_off = 3 * C; rc_off = C; rc_clusters = 1; header_len = 104
backing_off = 0; backing_len = 0; nb_snap = 0; snap_off = 0; cbits = CB
img = bytearray(8 * C)
l1 = [0]; l2 = {}
if case == "huge-virtual-size": size = 1 << 62
if case == "l1-beyond-eof": l1_off = 1 << 50
if case == "l1-entry-beyond-eof": l1 = [(1 << 55) | (1 << 63)]
if case == "l2-loop-onto-header":
    l1 = [4 * C | (1 << 63)]; l2 = {i: 0 | (1 << 63) for i in range(512)}
if case == "l1-l2-same-cluster":
    l1 = [l1_off | (1 << 63)]
if case == "l2-unaligned":
    l1 = [4 * C | (1 << 63)]; l2 = {0: (5 * C + 123) | (1 << 63)}
if case == "compressed-huge":
    l1 = [4 * C | (1 << 63)]
    # Compressed: bit 62, offset in the low bits, sector count in the top bits (all ones).
    l2 = {0: (1 << 62) | ((1 << 62) - 1)}
if case == "refcount-beyond-eof": rc_off = 1 << 52; rc_clusters = 1 << 20
if case == "cluster-bits-64": cbits = 64
if case == "l1-size-overflow": l1_size = 0xffffffff
if case == "header-length-huge": header_len = 0xfffffff0
if case == "backing-file-outside":
    b = (outside + "/untouched").encode(); backing_off = 200; backing_len = len(b)
    img[200:200 + len(b)] = b
if case == "snapshot-table-junk": nb_snap = 0xffff; snap_off = 6 * C
if case == "extension-loop": header_len = 112
hdr = struct.pack(">4sIQIIQIIQQIIQQQQII", b"QFI\xfb", 3, backing_off, backing_len, cbits, size, 0,
                  l1_size, l1_off, rc_off, rc_clusters, nb_snap, snap_off, 0, 0, 0, 4, header_len)
img[0:len(hdr)] = hdr
if case == "extension-loop":
    # A header extension whose length points past the cluster, then more junk extensions.
    img[112:120] = struct.pack(">II", 0x6803f857, 0xfffffff0)
if l1_off < len(img):
    for i, e in enumerate(l1[:min(len(l1), 512)]):
        img[l1_off + 8 * i: l1_off + 8 * i + 8] = struct.pack(">Q", e)
for i, e in l2.items():
    img[4 * C + 8 * i: 4 * C + 8 * i + 8] = struct.pack(">Q", e)
# A refcount table with one block, refcounts 1 for the clusters in use.
if rc_off == C:
    img[C:C + 8] = struct.pack(">Q", 2 * C)
    for i in range(8): img[2 * C + 2 * i: 2 * C + 2 * i + 2] = struct.pack(">H", 1)
img[5 * C: 6 * C] = b"\xab" * C
open(out, "wb").write(bytes(img))
"#;

/// Write qcow2 case `case` (one of [`QCOW2_CASES`]) to `out`.
pub fn qcow2(case: &str, out: &Path, outside: &Path) {
    python(QCOW2_SCRIPT, &[out, Path::new(case), outside]);
}

/// GPT cases, each with valid CRCs so the parser looks at the fields themselves.
pub const GPT_CASES: &[&str] = &[
    "overlapping",
    "beyond-disk",
    "start-after-end",
    "entries-count-huge",
    "entry-size-huge",
    "entry-size-small",
    "entries-beyond-disk",
    "header-size-huge",
    "first-usable-after-last",
    "all-128-entries-full-disk",
    "bad-crc",
];

const GPT_SCRIPT: &str = r#"
import struct, sys, uuid, zlib
out, case = sys.argv[1], sys.argv[2]
SECTORS = 16384; S = 512
img = bytearray(SECTORS * S)
# Protective MBR.
img[446:462] = struct.pack("<BBBBBBBBII", 0, 0, 2, 0, 0xee, 0xff, 0xff, 0xff, 1, SECTORS - 1)
img[510:512] = b"\x55\xaa"
ROOT = uuid.UUID("4f68bce3-e8cd-4db1-96e7-fbcaf984b709").bytes_le
n_entries = 128; entry_size = 128; entries_lba = 2; header_size = 92
first, last = 34, SECTORS - 34
parts = [(2048, 4095), (6144, 8191)]
if case == "overlapping": parts = [(2048, 8191), (4096, 10239)]
if case == "beyond-disk": parts = [(2048, (1 << 60))]
if case == "start-after-end": parts = [(8191, 2048)]
if case == "entries-count-huge": n_entries = 0xffffffff
if case == "entry-size-huge": entry_size = 0x80000000
if case == "entry-size-small": entry_size = 8
if case == "entries-beyond-disk": entries_lba = 1 << 40
if case == "header-size-huge": header_size = 0xffffffff
if case == "first-usable-after-last": first, last = SECTORS, 34
if case == "all-128-entries-full-disk": parts = [(34, SECTORS - 34)] * 128
table = bytearray(128 * 128)
for i, (a, b) in enumerate(parts[:128]):
    e = ROOT + uuid.uuid4().bytes_le + struct.pack("<QQQ", a, b, 0) + "root".encode("utf-16-le").ljust(72, b"\0")
    table[i * 128:(i + 1) * 128] = e
crc_table = zlib.crc32(bytes(table)) & 0xffffffff
hdr = struct.pack("<8sIIIIQQQQ16sQIII", b"EFI PART", 0x10000, header_size, 0, 0, 1, SECTORS - 1,
                  first, last, uuid.uuid4().bytes_le, entries_lba, n_entries, entry_size, crc_table)
crc = zlib.crc32(hdr[:92]) & 0xffffffff
if case == "bad-crc": crc ^= 1
hdr = hdr[:16] + struct.pack("<I", crc) + hdr[20:]
img[S:S + len(hdr)] = hdr
img[2 * S:2 * S + len(table)] = table
open(out, "wb").write(bytes(img))
"#;

/// Write GPT case `case` (one of [`GPT_CASES`]) to `out` (an 8 MiB raw disk).
pub fn gpt(case: &str, out: &Path) {
    python(
        GPT_SCRIPT,
        &[out, Path::new(case), Path::new("/nonexistent")],
    );
}

fn python(script: &str, args: &[&Path]) {
    let mut all = vec!["-c", script];
    let strs: Vec<&str> = args.iter().map(|p| p.to_str().unwrap()).collect();
    all.extend(strs);
    sh("python3", &all);
}
