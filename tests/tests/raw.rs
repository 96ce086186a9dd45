//! Disk images through the real binary: import-raw (plain, compressed, qcow2 in every
//! flavour qemu-img makes), export-raw, convert, image-status partitions, pull-raw, and crafted
//! qcow2 images that must be refused.

use std::fs;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};

use wharf_tests::fixtures::{Fs, TestStore};
use wharf_tests::http_server::Server;
use wharf_tests::{fails, listed, ok, run, sh, temporaries};

/// A 64 MiB raw disk with data at a few places and holes elsewhere.
fn sample_raw(dir: &Path) -> PathBuf {
    let p = dir.join("disk.raw");
    let f = fs::File::create(&p).unwrap();
    f.set_len(64 << 20).unwrap();
    let mut seed = 7u64;
    for (off, len) in [
        (0u64, 70_000usize),
        (5 << 20, 1 << 20),
        ((40 << 20) + 123, 9_999),
        ((64 << 20) - 512, 512),
    ] {
        let data: Vec<u8> = (0..len)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed as u8 | 1
            })
            .collect();
        f.write_all_at(&data, off).unwrap();
    }
    p
}

fn qemu_img(args: &[&str]) -> String {
    sh("qemu-img", args)
}

fn assert_same_bytes(a: &Path, b: &Path) {
    assert!(
        fs::read(a).unwrap() == fs::read(b).unwrap(),
        "{} and {} differ",
        a.display(),
        b.display()
    );
}

fn allocated(p: &Path) -> u64 {
    fs::metadata(p).unwrap().blocks() * 512
}

#[test]
fn import_raw_plain_compressed_and_stdin() {
    let s = TestStore::new(Fs::Host, 0);
    let raw = sample_raw(&s.scratch);
    ok(&s.root, &["import-raw", raw.to_str().unwrap()]);
    assert_eq!(listed(&s.root), vec![("disk".into(), "raw".into(), false)]);
    assert_same_bytes(&raw, &s.root.join("disk.raw"));
    assert!(allocated(&s.root.join("disk.raw")) < 4 << 20, "not sparse");
    for (tool, ext) in [
        ("zstd", "zst"),
        ("xz", "xz"),
        ("gzip", "gz"),
        ("bzip2", "bz2"),
    ] {
        let out = s.scratch.join(format!("c.raw.{ext}"));
        let f = fs::File::create(&out).unwrap();
        assert!(std::process::Command::new(tool)
            .arg("-c")
            .arg(&raw)
            .stdout(f)
            .status()
            .unwrap()
            .success());
        let name = format!("c-{ext}");
        ok(&s.root, &["import-raw", out.to_str().unwrap(), &name]);
        let img = s.root.join(format!("{name}.raw"));
        assert_same_bytes(&raw, &img);
        assert!(allocated(&img) < 4 << 20, "{name} not sparse");
    }
    let st = wharf_tests::wharf(&s.root)
        .args(["import-raw", "--read-only", "-", "piped"])
        .stdin(fs::File::open(&raw).unwrap())
        .status()
        .unwrap();
    assert!(st.success());
    assert_same_bytes(&raw, &s.root.join("piped.raw"));
    assert!(listed(&s.root).contains(&("piped".into(), "raw".into(), true)));
    fails(
        &s.root,
        &["import-raw", raw.to_str().unwrap()],
        "image disk already exists",
    );
    assert!(
        temporaries(&s.root).is_empty(),
        "{:?}",
        temporaries(&s.root)
    );
}

#[test]
fn qcow2_in_every_flavour_becomes_the_same_raw_as_qemu_img() {
    let s = TestStore::new(Fs::Host, 0);
    let raw = sample_raw(&s.scratch);
    let flavours: &[(&str, &[&str])] = &[
        ("v3", &["-o", "compat=1.1"]),
        ("v2", &["-o", "compat=0.10"]),
        ("zlib", &["-c"]),
        ("zstd", &["-c", "-o", "compression_type=zstd"]),
        ("small-clusters", &["-o", "cluster_size=4096"]),
    ];
    for (name, extra) in flavours {
        let q = s.scratch.join(format!("{name}.qcow2"));
        let mut args = vec!["convert", "-f", "raw", "-O", "qcow2"];
        args.extend_from_slice(extra);
        args.push(raw.to_str().unwrap());
        args.push(q.to_str().unwrap());
        qemu_img(&args);
        let reference = s.scratch.join(format!("{name}.ref.raw"));
        qemu_img(&[
            "convert",
            "-O",
            "raw",
            q.to_str().unwrap(),
            reference.to_str().unwrap(),
        ]);
        ok(&s.root, &["import-raw", q.to_str().unwrap(), name]);
        let img = s.root.join(format!("{name}.raw"));
        assert_same_bytes(&reference, &img);
        assert!(allocated(&img) < 4 << 20, "{name}: not sparse");
        // Compressed on the way in too: the qcow2 arrives through a decompressor.
        let zq = s.scratch.join(format!("{name}.qcow2.zst"));
        sh(
            "zstd",
            &["-q", "-f", q.to_str().unwrap(), "-o", zq.to_str().unwrap()],
        );
        let zname = format!("{name}-z");
        ok(&s.root, &["import-raw", zq.to_str().unwrap(), &zname]);
        assert_same_bytes(&reference, &s.root.join(format!("{zname}.raw")));
    }
    assert!(
        temporaries(&s.root).is_empty(),
        "{:?}",
        temporaries(&s.root)
    );
}

#[test]
fn crafted_qcow2_images_are_refused() {
    let s = TestStore::new(Fs::Host, 0);
    let raw = sample_raw(&s.scratch);
    // A backing file pointing at the host's /etc/shadow.
    let base = s.scratch.join("base.qcow2");
    qemu_img(&[
        "convert",
        "-f",
        "raw",
        "-O",
        "qcow2",
        raw.to_str().unwrap(),
        base.to_str().unwrap(),
    ]);
    let over = s.scratch.join("over.qcow2");
    qemu_img(&[
        "create",
        "-f",
        "qcow2",
        "-F",
        "raw",
        "-b",
        "/etc/shadow",
        "-u",
        over.to_str().unwrap(),
        "64M",
    ]);
    fails(
        &s.root,
        &["import-raw", over.to_str().unwrap(), "over"],
        "backing",
    );
    // Allowed, a relative backing file in the image's own directory works.
    let child = s.scratch.join("child.qcow2");
    qemu_img(&[
        "create",
        "-f",
        "qcow2",
        "-F",
        "qcow2",
        "-b",
        "base.qcow2",
        child.to_str().unwrap(),
        "64M",
    ]);
    fails(
        &s.root,
        &["import-raw", child.to_str().unwrap(), "child"],
        "backing",
    );
    ok(
        &s.root,
        &[
            "import-raw",
            "--allow-backing-file",
            child.to_str().unwrap(),
            "child",
        ],
    );
    assert_same_bytes(&raw, &s.root.join("child.raw"));
    // Header fields patched to nonsense.
    let good = fs::read(&base).unwrap();
    let patch = |name: &str, at: usize, bytes: &[u8]| {
        let mut b = good.clone();
        b[at..at + bytes.len()].copy_from_slice(bytes);
        let p = s.scratch.join(name);
        fs::write(&p, b).unwrap();
        p
    };
    let cases = [
        (patch("enc.qcow2", 32, &[0, 0, 0, 2]), "encrypt"),
        (patch("bits.qcow2", 20, &[0, 0, 0, 40]), "cluster"),
        (patch("l1.qcow2", 40, &[0x7f, 0xff, 0xff, 0xff]), "l1"),
        (
            patch("l1off.qcow2", 40 + 4, &[0x7f, 0, 0, 0, 0, 0, 0, 0]),
            "l1",
        ),
        (
            patch("incompat.qcow2", 72, &[0x80, 0, 0, 0, 0, 0, 0, 0]),
            "incompatible",
        ),
    ];
    for (p, needle) in cases {
        let r = run(&s.root, &["import-raw", p.to_str().unwrap(), "bad"]);
        assert!(!r.ok, "{} was imported", p.display());
        assert_eq!(r.stderr.trim_end().lines().count(), 1, "{r:?}");
        assert!(
            r.stderr.to_lowercase().contains(needle),
            "{}: expected {needle:?} in {:?}",
            p.display(),
            r.stderr
        );
    }
    let truncated = s.scratch.join("trunc.qcow2");
    fs::write(&truncated, &good[..good.len().min(100_000)]).unwrap();
    assert!(!run(&s.root, &["import-raw", truncated.to_str().unwrap(), "bad"]).ok);
    assert_eq!(listed(&s.root).len(), 1, "{:?}", listed(&s.root));
    assert!(
        temporaries(&s.root).is_empty(),
        "{:?}",
        temporaries(&s.root)
    );
}

#[test]
fn export_raw_and_convert_round_trip() {
    let s = TestStore::new(Fs::Host, 0);
    let raw = sample_raw(&s.scratch);
    ok(&s.root, &["import-raw", raw.to_str().unwrap(), "d"]);
    let out = s.scratch.join("out.raw");
    ok(&s.root, &["export-raw", "d", out.to_str().unwrap()]);
    assert_same_bytes(&raw, &out);
    assert!(allocated(&out) < 4 << 20, "uncompressed export not sparse");
    let z = s.scratch.join("out.raw.zst");
    ok(&s.root, &["export-raw", "d", z.to_str().unwrap()]);
    let unz = s.scratch.join("unz.raw");
    sh(
        "zstd",
        &["-q", "-d", z.to_str().unwrap(), "-o", unz.to_str().unwrap()],
    );
    assert_same_bytes(&raw, &unz);
    fs::create_dir(s.root.join("tree")).unwrap();
    fails(
        &s.root,
        &["export-raw", "tree", out.to_str().unwrap()],
        "export-tar",
    );

    for compress in [None, Some("zstd"), Some("zlib")] {
        let q = s
            .scratch
            .join(format!("conv-{}.qcow2", compress.unwrap_or("plain")));
        let mut args = vec!["convert", raw.to_str().unwrap(), q.to_str().unwrap()];
        let c;
        if let Some(k) = compress {
            c = format!("--compress={k}");
            args.push(&c);
        }
        ok(&s.root, &args);
        qemu_img(&["check", q.to_str().unwrap()]);
        qemu_img(&[
            "compare",
            "-f",
            "raw",
            "-F",
            "qcow2",
            raw.to_str().unwrap(),
            q.to_str().unwrap(),
        ]);
        let back = s
            .scratch
            .join(format!("back-{}.raw", compress.unwrap_or("plain")));
        ok(
            &s.root,
            &["convert", q.to_str().unwrap(), back.to_str().unwrap()],
        );
        assert_same_bytes(&raw, &back);
    }
    fails(
        &s.root,
        &["convert", raw.to_str().unwrap(), out.to_str().unwrap()],
        "already exists",
    );
    fails(
        &s.root,
        &[
            "convert",
            "--compress=lz4",
            raw.to_str().unwrap(),
            "/tmp/x.qcow2",
        ],
        "compress",
    );
}

#[test]
fn image_status_lists_gpt_partitions_and_the_root_it_would_boot() {
    let s = TestStore::new(Fs::Host, 0);
    let img = s.root.join("gpt.raw");
    fs::File::create(&img).unwrap().set_len(64 << 20).unwrap();
    let script = "label: gpt\n\
size=4MiB, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name=\"ESP\"\n\
size=8MiB, type=4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709, name=\"root-1.2\"\n\
size=8MiB, type=4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709, name=\"root-1.10\"\n\
size=8MiB, type=4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709, name=\"root-2.0\", attrs=\"GUID:63\"\n\
size=8MiB, type=8484680C-9521-48C6-9C11-B0720656F69E, name=\"usr\"\n\
size=4MiB, type=0657FD6D-A4AB-43C4-84E5-0933C84B4F4F, name=\"swap\", attrs=\"GUID:60\"\n";
    let mut child = std::process::Command::new("sfdisk")
        .args(["-q", img.to_str().unwrap()])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("sfdisk (util-linux) is required");
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success());
    let out = ok(&s.root, &["image-status", "gpt"]).stdout;
    for needle in [
        "esp",
        "root-x86-64",
        "usr-x86-64",
        "swap",
        "no-auto",
        "read-only",
        "\"root-1.10\"",
    ] {
        assert!(out.contains(needle), "{needle} missing in\n{out}");
    }
    let v: serde_json::Value =
        serde_json::from_str(&ok(&s.root, &["image-status", "--json", "gpt"]).stdout).unwrap();
    let parts = &v[0]["partitions"];
    assert_eq!(parts["partitions"].as_array().unwrap().len(), 6);
    // root-2.0 is newest but marked no-auto: root-1.10 (partition 3) wins over root-1.2.
    assert_eq!(parts["root"], 3, "{parts}");
    fs::write(s.root.join("plain.raw"), vec![0u8; 1 << 20]).unwrap();
    let out = ok(&s.root, &["image-status", "plain"]).stdout;
    assert!(out.contains("Partitions: none"), "{out}");
}

#[test]
fn pull_raw_with_checksum_and_sidecars() {
    let s = TestStore::new(Fs::Host, 0);
    let raw = sample_raw(&s.scratch);
    let q = s.scratch.join("vm.qcow2");
    qemu_img(&[
        "convert",
        "-f",
        "raw",
        "-O",
        "qcow2",
        "-c",
        raw.to_str().unwrap(),
        q.to_str().unwrap(),
    ]);
    let body = fs::read(&q).unwrap();
    let server = Server::start();
    server.put("/vm.qcow2", body.clone());
    server.put("/vm.roothash", "abcdef\n");
    let hash = |p: &Path| {
        sh("sha256sum", &[p.to_str().unwrap()])
            .split_whitespace()
            .next()
            .unwrap()
            .to_string()
    };
    let rh = s.scratch.join("rh");
    fs::write(&rh, "abcdef\n").unwrap();
    server.put(
        "/SHA256SUMS",
        format!("{} *vm.qcow2\n{} *vm.roothash\n", hash(&q), hash(&rh)),
    );
    ok(
        &s.root,
        &["pull-raw", "--verify=checksum", &server.url("/vm.qcow2")],
    );
    assert_same_bytes(&raw, &s.root.join("vm.raw"));
    assert_eq!(
        fs::read_to_string(s.root.join("vm.roothash")).unwrap(),
        "abcdef\n"
    );
    server.put("/SHA256SUMS", format!("{} *vm.qcow2\n", "00".repeat(32)));
    let r = run(
        &s.root,
        &[
            "pull-raw",
            "--verify=checksum",
            &server.url("/vm.qcow2"),
            "second",
        ],
    );
    assert!(!r.ok);
    assert!(listed(&s.root).iter().all(|i| i.0 != "second"));
    assert!(
        temporaries(&s.root).is_empty(),
        "{:?}",
        temporaries(&s.root)
    );
}

#[test]
fn pull_raw_keeps_and_reuses_its_download() {
    let s = TestStore::new(Fs::Host, 0);
    let raw = sample_raw(&s.scratch);
    let z = s.scratch.join("vm.raw.zst");
    sh(
        "zstd",
        &["-q", raw.to_str().unwrap(), "-o", z.to_str().unwrap()],
    );
    let server = Server::start();
    server.put("/vm.raw.zst", fs::read(&z).unwrap());
    let hash = sh("sha256sum", &[z.to_str().unwrap()])
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    server.put("/SHA256SUMS", format!("{hash} *vm.raw.zst\n"));
    let url = server.url("/vm.raw.zst");
    ok(
        &s.root,
        &["pull-raw", "--verify=checksum", "--keep-download=yes", &url],
    );
    ok(
        &s.root,
        &[
            "pull-raw",
            "--verify=checksum",
            "--keep-download=yes",
            "--read-only",
            &url,
            "again",
        ],
    );
    assert_eq!(
        server.requested("/vm.raw.zst").len(),
        1,
        "the kept download was not reused"
    );
    assert_same_bytes(&raw, &s.root.join("vm.raw"));
    assert_same_bytes(&raw, &s.root.join("again.raw"));
    let all = listed(&s.root);
    assert!(
        all.iter()
            .any(|i| i.0.starts_with(".raw-") && i.1 == "raw" && i.2),
        "{all:?}"
    );
    assert!(
        all.contains(&("again".into(), "raw".into(), true)),
        "{all:?}"
    );
    let tag = rustix::fs::getxattr(
        s.root.join("vm.raw").as_path(),
        "user.wharf.sha256",
        &mut [0u8; 80],
    );
    assert!(tag.is_err(), "the cache tag leaked into the image");
}

/// Unmounts on drop.
struct Mount(PathBuf);

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn qcow2_larger_than_the_free_space_is_refused_up_front() {
    let s = TestStore::new(Fs::Host, 0);
    let small = s.scratch.join("small");
    fs::create_dir(&small).unwrap();
    sh(
        "mount",
        &[
            "-t",
            "tmpfs",
            "-o",
            "size=16m",
            "tmpfs",
            small.to_str().unwrap(),
        ],
    );
    let _m = Mount(small.clone());
    // 40 MiB of incompressible data in a qcow2 of 6 MiB (zstd clusters would not shrink it,
    // so use plain clusters and a file on the big filesystem).
    let raw = s.scratch.join("big.raw");
    sh(
        "dd",
        &[
            "if=/dev/urandom",
            &format!("of={}", raw.display()),
            "bs=1M",
            "count=40",
            "status=none",
        ],
    );
    let q = s.scratch.join("big.qcow2");
    qemu_img(&[
        "convert",
        "-f",
        "raw",
        "-O",
        "qcow2",
        raw.to_str().unwrap(),
        q.to_str().unwrap(),
    ]);
    let store = small.join("machines");
    let r = run(&store, &["import-raw", q.to_str().unwrap(), "big"]);
    assert!(!r.ok);
    assert!(r.stderr.contains("not enough space"), "{r:?}");
    assert_eq!(r.stderr.trim_end().lines().count(), 1, "{r:?}");
    assert!(listed(&store).is_empty());
    assert!(temporaries(&store).is_empty(), "{:?}", temporaries(&store));
}

#[test]
fn plain_raw_import_on_btrfs_is_a_reflink() {
    let s = TestStore::new(Fs::Btrfs, 512);
    let raw = s.scratch.join("disk.raw");
    sh(
        "dd",
        &[
            "if=/dev/urandom",
            &format!("of={}", raw.display()),
            "bs=1M",
            "count=64",
            "status=none",
        ],
    );
    sh("sync", &[]);
    ok(&s.root, &["import-raw", raw.to_str().unwrap()]);
    assert_same_bytes(&raw, &s.root.join("disk.raw"));
    sh("sync", &[]);
    // Shared extents: `btrfs filesystem du` reports (almost) nothing exclusive.
    let du = sh(
        "btrfs",
        &[
            "filesystem",
            "du",
            "--raw",
            s.root.join("disk.raw").to_str().unwrap(),
        ],
    );
    let line = du.lines().last().unwrap();
    let exclusive: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    assert!(
        exclusive < 1 << 20,
        "import copied instead of reflinking: {du}"
    );
}
