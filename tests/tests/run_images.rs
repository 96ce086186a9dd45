//! `wharf run` on raw GPT images (DPS partitions through loop devices), `--ephemeral` (overlay
//! on ext4, snapshot on btrfs), `--volatile=`, `--overlay`/`--overlay-ro`, `--inaccessible`,
//! bind options and recursive read-only mounts, with a real Debian image.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use wharf_tests::fixtures::{Fs, TestStore};
use wharf_tests::machine::{
    host_mounts_with, processes_with, sh_deb, store, wait_for_file, Running,
};
use wharf_tests::{debian, fails, ok, run, sh, temporaries, wharf};

const ROOT_X86_64: &str = "4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709";
const HOME: &str = "933AC7E1-2EB4-4F13-B844-0E14E2AEF915";
const ESP: &str = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B";

/// The Debian root filesystem unpacked into `dir/rootfs` (with an empty `/efi`).
fn rootfs(dir: &Path) -> PathBuf {
    let r = dir.join("rootfs");
    fs::create_dir_all(&r).unwrap();
    sh(
        "tar",
        &[
            "-xf",
            debian::tarball().to_str().unwrap(),
            "-C",
            r.to_str().unwrap(),
        ],
    );
    fs::create_dir_all(r.join("efi")).unwrap();
    r
}

/// (start sector, size in sectors) of each partition of `img`, from `sfdisk --dump`.
fn partitions(img: &Path) -> Vec<(u64, u64)> {
    let dump = sh("sfdisk", &["--dump", img.to_str().unwrap()]);
    dump.lines()
        .filter(|l| l.contains("start="))
        .map(|l| {
            let field = |name: &str| -> u64 {
                let rest = &l[l.find(name).unwrap() + name.len()..];
                rest.split(',').next().unwrap().trim().parse().unwrap()
            };
            (field("start="), field("size="))
        })
        .collect()
}

/// A 600 MB sparse GPT image in `dir`: an ESP (vfat, 32 MiB), the Debian root (ext4, x86-64
/// root type) and a /home partition (ext4) holding `marker`.
fn gpt_image(dir: &Path) -> PathBuf {
    let root = rootfs(dir);
    let home = dir.join("homefs");
    fs::create_dir_all(home.join("user")).unwrap();
    fs::write(home.join("marker"), "home-marker\n").unwrap();
    let img = dir.join("disk.raw");
    fs::File::create(&img).unwrap().set_len(600 << 20).unwrap();
    let mut sfdisk = Command::new("sfdisk")
        .args(["-q", img.to_str().unwrap()])
        .stdin(Stdio::piped())
        .spawn()
        .expect("sfdisk is required");
    use std::io::Write;
    write!(
        sfdisk.stdin.take().unwrap(),
        "label: gpt\nsize=32MiB, type={ESP}, name=esp\nsize=480MiB, type={ROOT_X86_64}, name=root-x86-64\ntype={HOME}, name=home\n"
    )
    .unwrap();
    assert!(sfdisk.wait().unwrap().success(), "sfdisk failed");
    let parts = partitions(&img);
    assert_eq!(parts.len(), 3, "{parts:?}");
    let i = img.to_str().unwrap();
    let (esp, rootp, homep) = (parts[0], parts[1], parts[2]);
    let mkfs_ext4 = |src: &Path, (start, size): (u64, u64)| {
        sh(
            "mkfs.ext4",
            &[
                "-q",
                "-F",
                "-d",
                src.to_str().unwrap(),
                "-E",
                &format!("offset={}", start * 512),
                i,
                &format!("{}k", size / 2),
            ],
        );
    };
    mkfs_ext4(&root, rootp);
    mkfs_ext4(&home, homep);
    sh(
        "mkfs.vfat",
        &[
            "-F",
            "16",
            "--offset",
            &esp.0.to_string(),
            i,
            &(esp.1 / 2).to_string(),
        ],
    );
    fs::remove_dir_all(&root).unwrap();
    img
}

/// Loop devices backed by `img` (`losetup -j`).
fn loops_of(img: &Path) -> String {
    sh("losetup", &["-j", img.to_str().unwrap()])
}

/// Wait (at most 10 s) until no loop device is backed by `img`; the last `losetup -j` output.
fn wait_no_loops(img: &Path) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let l = loops_of(img);
        if l.trim().is_empty() || Instant::now() > deadline {
            return l;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn run_img(s: &TestStore, img: &Path, opts: &[&str], script: &str) -> wharf_tests::Run {
    let mut args = vec!["run", "-i", img.to_str().unwrap()];
    args.extend_from_slice(opts);
    args.extend_from_slice(&["sh", "-c", script]);
    run(&s.root, &args)
}

fn sh_img(s: &TestStore, img: &Path, opts: &[&str], script: &str) -> String {
    let r = run_img(s, img, opts, script);
    assert_eq!(r.code, Some(0), "{script}: {r:?}");
    r.stdout
}

fn kernel_has(fstype: &str) -> bool {
    fs::read_to_string("/proc/filesystems")
        .unwrap()
        .lines()
        .any(|l| l.split_whitespace().last() == Some(fstype))
}

#[test]
fn gpt_image_partitions_read_only_and_store_lookup() {
    let s = TestStore::new(Fs::Host, 0);
    let img = gpt_image(&s.scratch);

    let out = sh_img(
        &s,
        &img,
        &[],
        "cat /etc/os-release; hostname; cat /home/marker",
    );
    assert!(out.contains("Debian GNU/Linux 12"), "{out}");
    assert!(out.contains("\ndisk\nhome-marker\n"), "{out}");
    // Root and /home are the image's ext4 partitions; the ESP is at /efi (the image has /efi)
    // when the kernel can mount vfat, and skipped when it cannot.
    let mounts = sh_img(&s, &img, &[], "cat /proc/self/mountinfo");
    let fs_at = |mp: &str| {
        mounts
            .lines()
            .filter(|l| l.split_whitespace().nth(4) == Some(mp))
            .filter_map(|l| l.split(" - ").nth(1))
            .map(|r| r.split_whitespace().next().unwrap().to_string())
            .next_back()
    };
    assert_eq!(fs_at("/").as_deref(), Some("ext4"), "{mounts}");
    assert_eq!(fs_at("/home").as_deref(), Some("ext4"), "{mounts}");
    if kernel_has("vfat") {
        assert_eq!(fs_at("/efi").as_deref(), Some("vfat"), "{mounts}");
    } else {
        assert_eq!(fs_at("/efi"), None, "{mounts}");
    }
    // Writable image: changes persist.
    sh_img(
        &s,
        &img,
        &[],
        "echo kept > /home/user/f; echo kept > /root/f",
    );
    assert_eq!(
        sh_img(&s, &img, &[], "cat /home/user/f /root/f"),
        "kept\nkept\n"
    );
    assert_eq!(wait_no_loops(&img), "", "loop devices left after exit");
    // Nothing of the image is mounted on the host.
    assert!(host_mounts_with("wharf/stage").is_empty());

    // A read-only image file (or --read-only): every partition is read-only.
    let mut perm = fs::metadata(&img).unwrap().permissions();
    use std::os::unix::fs::PermissionsExt;
    perm.set_mode(0o444);
    fs::set_permissions(&img, perm.clone()).unwrap();
    let script = "touch /x 2>/dev/null && echo root-rw; touch /home/x 2>/dev/null && echo home-rw; echo done";
    assert_eq!(sh_img(&s, &img, &[], script), "done\n");
    perm.set_mode(0o644);
    fs::set_permissions(&img, perm).unwrap();
    assert_eq!(sh_img(&s, &img, &["--read-only"], script), "done\n");
    assert_eq!(sh_img(&s, &img, &[], script), "root-rw\nhome-rw\ndone\n");

    // -M NAME: a NAME.raw of the store; its name is the machine name.
    let stored = s.root.join("vm.raw");
    fs::rename(&img, &stored).unwrap();
    let r = ok(
        &s.root,
        &["run", "-M", "vm", "sh", "-c", "hostname; cat /home/marker"],
    );
    assert_eq!(r.stdout, "vm\nhome-marker\n");
    assert_eq!(wait_no_loops(&stored), "");

    // A single unpartitioned filesystem.
    let plain = s.scratch.join("plain.raw");
    let tree = rootfs(&s.scratch);
    fs::File::create(&plain)
        .unwrap()
        .set_len(400 << 20)
        .unwrap();
    sh(
        "mkfs.ext4",
        &[
            "-q",
            "-F",
            "-d",
            tree.to_str().unwrap(),
            plain.to_str().unwrap(),
        ],
    );
    assert_eq!(
        sh_img(&s, &plain, &[], "cat /etc/debian_version; hostname")
            .lines()
            .nth(1),
        Some("plain")
    );

    // Not an image: one clear line.
    let junk = s.scratch.join("junk.raw");
    fs::write(&junk, vec![0u8; 1 << 20]).unwrap();
    fails(
        &s.root,
        &["run", "-i", junk.to_str().unwrap(), "true"],
        "no partition table and no known filesystem",
    );
    assert_eq!(wait_no_loops(&junk), "");
}

#[test]
fn raw_image_loop_devices_go_away_when_wharf_is_killed() {
    let s = TestStore::new(Fs::Host, 0);
    let img = gpt_image(&s.scratch);
    let out = s.scratch.join("out");
    fs::create_dir(&out).unwrap();
    let mut cmd = wharf(&s.root);
    cmd.args([
        "run",
        "-i",
        img.to_str().unwrap(),
        &format!("--bind={}:/out", out.display()),
        "sh",
        "-c",
        "touch /out/started; exec sleep 1000",
    ]);
    let mut r = Running::spawn(cmd);
    wait_for_file(&out.join("started"), Duration::from_secs(60), &mut r);
    // ESP (when the kernel can mount vfat), root and home.
    let expected = if kernel_has("vfat") { 3 } else { 2 };
    assert_eq!(
        loops_of(&img).lines().count(),
        expected,
        "{}",
        loops_of(&img)
    );
    // SIGKILL to wharf alone: the machine dies with it, then its mounts and loop devices.
    r.signal(rustix::process::Signal::KILL);
    assert_eq!(r.wait(Duration::from_secs(10)), None);
    assert_eq!(wait_no_loops(&img), "", "loop devices left after kill -9");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !processes_with("sleep 1000").is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(processes_with("sleep 1000").is_empty());
}

#[test]
fn ephemeral_raw_and_directory_on_ext4_use_overlays() {
    let s = store();
    let image = s.root.join("deb");
    let out = sh_deb(
        &s,
        &["-x"],
        "hostname; echo x > /etc/ephemeral; cat /etc/ephemeral; grep ' / / ' /proc/self/mountinfo",
    );
    let lines: Vec<&str> = out.lines().collect();
    let suffix = lines[0]
        .strip_prefix("deb-")
        .expect("deb-<hex> machine name");
    assert!(
        suffix.len() == 16 && suffix.bytes().all(|b| b.is_ascii_hexdigit()),
        "{out}"
    );
    assert_eq!(lines[1], "x");
    assert!(lines[2].contains(" - overlay "), "{out}");
    assert!(!image.join("etc/ephemeral").exists());
    assert!(
        temporaries(&s.root).is_empty(),
        "{:?}",
        temporaries(&s.root)
    );
    assert!(host_mounts_with("wharf/stage").is_empty());
    // Every ephemeral run gets a new name.
    let a = sh_deb(&s, &["-x"], "hostname");
    assert_ne!(a.trim(), lines[0]);

    // A raw image: one overlay per partition, the image file unchanged.
    let img = gpt_image(&s.scratch);
    let before = sh("sha256sum", &[img.to_str().unwrap()]);
    let out = sh_img(
        &s,
        &img,
        &["-x"],
        "echo y > /home/eph; echo y > /eph; cat /home/eph /eph /home/marker",
    );
    assert_eq!(out, "y\ny\nhome-marker\n");
    assert_eq!(sh("sha256sum", &[img.to_str().unwrap()]), before);
    assert_eq!(wait_no_loops(&img), "");
    // A read-only image can run ephemerally (the copy is writable).
    let mut perm = fs::metadata(&img).unwrap().permissions();
    use std::os::unix::fs::PermissionsExt;
    perm.set_mode(0o444);
    fs::set_permissions(&img, perm).unwrap();
    assert_eq!(sh_img(&s, &img, &["-x"], "touch /z && echo ok"), "ok\n");
    assert_eq!(sh("sha256sum", &[img.to_str().unwrap()]), before);
}

#[test]
fn ephemeral_on_btrfs_is_a_snapshot_and_residue_is_removed() {
    let s = TestStore::new(Fs::Btrfs, 1536);
    ok(
        &s.root,
        &["import-tar", debian::tarball().to_str().unwrap(), "deb"],
    );
    let image = s.root.join("deb");
    let out = s.scratch.join("out");
    fs::create_dir(&out).unwrap();
    let spawn = |script: &str| {
        let mut cmd = wharf(&s.root);
        cmd.args([
            "run",
            "-M",
            "deb",
            "-x",
            &format!("--bind={}:/out", out.display()),
            "sh",
            "-c",
            script,
        ]);
        Running::spawn(cmd)
    };
    let snapshots = || -> Vec<String> {
        temporaries(&s.root)
            .into_iter()
            .filter(|n| n.starts_with(".#wharf-ephemeral-deb-") && !n.ends_with(".lck"))
            .collect()
    };

    // While it runs: a snapshot beside the image, named after the machine.
    let mut r = spawn("echo x > /etc/ephemeral; hostname > /out/name.tmp; mv /out/name.tmp /out/name; exec sleep 1000");
    wait_for_file(&out.join("name"), Duration::from_secs(60), &mut r);
    let name = fs::read_to_string(out.join("name")).unwrap();
    let snaps = snapshots();
    assert_eq!(snaps, [format!(".#wharf-ephemeral-{}", name.trim())]);
    assert!(s.root.join(&snaps[0]).join("etc/ephemeral").exists());
    // A clean exit (SIGTERM to wharf) removes it.
    r.signal(rustix::process::Signal::TERM);
    r.wait(Duration::from_secs(30));
    assert!(snapshots().is_empty(), "{:?}", temporaries(&s.root));
    assert!(!image.join("etc/ephemeral").exists());
    assert!(temporaries(&s.root)
        .iter()
        .all(|t| !t.contains("ephemeral")));

    // kill -9: the snapshot stays behind; the next ephemeral run removes it.
    fs::remove_file(out.join("name")).unwrap();
    let mut r = spawn("hostname > /out/name.tmp; mv /out/name.tmp /out/name; exec sleep 1000");
    wait_for_file(&out.join("name"), Duration::from_secs(60), &mut r);
    r.signal(rustix::process::Signal::KILL);
    r.wait(Duration::from_secs(10));
    assert_eq!(snapshots().len(), 1);
    assert_eq!(sh_deb(&s, &["-x"], "echo ran"), "ran\n");
    assert!(snapshots().is_empty(), "{:?}", temporaries(&s.root));

    // … and so does `wharf clean`, which leaves a running machine's snapshot alone.
    let mut live = spawn("hostname > /out/live.tmp; mv /out/live.tmp /out/live; exec sleep 1000");
    wait_for_file(&out.join("live"), Duration::from_secs(60), &mut live);
    let mut dead = spawn("hostname > /out/dead.tmp; mv /out/dead.tmp /out/dead; exec sleep 1000");
    wait_for_file(&out.join("dead"), Duration::from_secs(60), &mut dead);
    dead.signal(rustix::process::Signal::KILL);
    dead.wait(Duration::from_secs(10));
    assert_eq!(snapshots().len(), 2);
    ok(&s.root, &["clean"]);
    let live_name = fs::read_to_string(out.join("live")).unwrap();
    assert_eq!(
        snapshots(),
        [format!(".#wharf-ephemeral-{}", live_name.trim())]
    );
    live.signal(rustix::process::Signal::TERM);
    live.wait(Duration::from_secs(30));
    assert!(snapshots().is_empty());
    assert!(!image.join("etc/ephemeral").exists());
}

#[test]
fn volatile_modes() {
    let s = store();
    let image = s.root.join("deb");
    // yes: a tmpfs root with the image's /usr, read-only.
    let out = sh_deb(
        &s,
        &["--volatile=yes"],
        "test -e /etc/os-release || echo no-etc; grep -c '^VERSION_CODENAME=bookworm' /usr/lib/os-release; \
         touch /new && echo root-rw; touch /usr/x 2>/dev/null || echo usr-ro; \
         grep ' / / ' /proc/self/mountinfo | grep -c ' - tmpfs '",
    );
    assert_eq!(out, "no-etc\n1\nroot-rw\nusr-ro\n1\n");
    // A bare --volatile means yes.
    assert_eq!(
        sh_deb(
            &s,
            &["--volatile"],
            "test -e /etc/os-release || echo no-etc"
        ),
        "no-etc\n"
    );
    // state: the image read-only, a tmpfs on /var.
    let out = sh_deb(
        &s,
        &["--volatile=state"],
        "touch /new 2>/dev/null || echo root-ro; touch /var/new && echo var-rw; cat /etc/debian_version",
    );
    let version = fs::read_to_string(image.join("etc/debian_version")).unwrap();
    assert_eq!(out, format!("root-ro\nvar-rw\n{version}"));
    // overlay: everything writable, nothing reaches the image.
    let out = sh_deb(
        &s,
        &["--volatile=overlay"],
        "touch /new /var/new /usr/new && echo rw; grep ' / / ' /proc/self/mountinfo | grep -c ' - overlay '",
    );
    assert_eq!(out, "rw\n1\n");
    for p in ["new", "var/new", "usr/new"] {
        assert!(!image.join(p).exists(), "{p} reached the image");
    }
    fails(
        &s.root,
        &["run", "-M", "deb", "--volatile=maybe", "true"],
        "--volatile",
    );
}

#[test]
fn overlays_and_inaccessible_paths() {
    let s = store();
    let image = s.root.join("deb");
    let (lower, upper) = (s.scratch.join("lower"), s.scratch.join("upper"));
    fs::create_dir_all(&lower).unwrap();
    fs::create_dir_all(&upper).unwrap();
    fs::write(lower.join("low"), "low\n").unwrap();
    fs::write(upper.join("up"), "up\n").unwrap();
    let spec = format!("{}:{}:/mnt", lower.display(), upper.display());
    let out = sh_deb(
        &s,
        &[&format!("--overlay={spec}")],
        "cat /mnt/low /mnt/up; echo new > /mnt/new; echo changed > /mnt/low",
    );
    assert_eq!(out, "low\nup\n");
    // Changes land in the upper layer; the lower one is untouched.
    assert_eq!(fs::read_to_string(upper.join("new")).unwrap(), "new\n");
    assert_eq!(fs::read_to_string(upper.join("low")).unwrap(), "changed\n");
    assert_eq!(fs::read_to_string(lower.join("low")).unwrap(), "low\n");
    // Read-only: both are lower layers.
    let out = sh_deb(
        &s,
        &[&format!("--overlay-ro={spec}")],
        "cat /mnt/up /mnt/new; touch /mnt/x 2>/dev/null || echo ro",
    );
    assert_eq!(out, "up\nnew\nro\n");
    // + paths are inside the machine; an empty upper is a temporary directory.
    let out = sh_deb(
        &s,
        &["--overlay=+/etc::/etc"],
        "echo t > /etc/tmpfile && cat /etc/tmpfile /etc/debian_version | head -1",
    );
    assert_eq!(out, "t\n");
    assert!(!image.join("etc/tmpfile").exists());
    fails(
        &s.root,
        &["run", "-M", "deb", "--overlay=/only", "true"],
        "at least two paths",
    );

    // Inaccessible: an empty mode-000 node of the same type, read-only.
    let out = sh_deb(
        &s,
        &["--inaccessible=/etc/passwd", "--inaccessible=/usr/share"],
        "wc -c < /etc/passwd; stat -c '%a %F' /etc/passwd /usr/share; ls -A /usr/share | wc -l; \
         touch /usr/share/x 2>/dev/null || echo ro",
    );
    assert_eq!(out, "0\n0 regular empty file\n0 directory\n0\nro\n");
    fails(
        &s.root,
        &["run", "-M", "deb", "--inaccessible=/no/such", "true"],
        "/no/such",
    );
}

/// A tmpfs mounted on the host at `dir` for the test, unmounted on drop.
struct HostTmpfs(PathBuf);

impl HostTmpfs {
    fn new(dir: &Path) -> HostTmpfs {
        fs::create_dir_all(dir).unwrap();
        sh(
            "mount",
            &["-t", "tmpfs", "wharf-test", dir.to_str().unwrap()],
        );
        HostTmpfs(dir.to_path_buf())
    }
}

impl Drop for HostTmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[test]
fn bind_options_tmpfs_options_and_recursive_read_only() {
    let s = store();
    let src = s.scratch.join("src");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("top"), "top\n").unwrap();
    let nested = HostTmpfs::new(&src.join("sub"));
    fs::write(src.join("sub/nested"), "nested\n").unwrap();

    let b = |opts: &str| format!("--bind={}:/mnt{opts}", src.display());
    // rbind (the default) includes the nested mount, norbind does not.
    assert_eq!(sh_deb(&s, &[&b("")], "cat /mnt/sub/nested"), "nested\n");
    assert_eq!(
        sh_deb(&s, &[&b(":rbind")], "cat /mnt/sub/nested"),
        "nested\n"
    );
    assert_eq!(
        sh_deb(
            &s,
            &[&b(":norbind")],
            "cat /mnt/top; ls -A /mnt/sub | wc -l"
        ),
        "top\n0\n"
    );
    fails(
        &s.root,
        &["run", "-M", "deb", &b(":idmap"), "true"],
        "idmap",
    );
    fails(
        &s.root,
        &["run", "-M", "deb", &b(":bogus"), "true"],
        "bogus",
    );
    // --bind-ro is read-only all the way down.
    let ro = format!("--bind-ro={}:/mnt", src.display());
    let out = sh_deb(
        &s,
        &[&ro],
        "cat /mnt/sub/nested; touch /mnt/x 2>/dev/null || echo top-ro; \
         touch /mnt/sub/x 2>/dev/null || echo nested-ro",
    );
    assert_eq!(out, "nested\ntop-ro\nnested-ro\n");
    assert!(!src.join("sub/x").exists());

    // --read-only covers mounts nested in the image too.
    let inner = HostTmpfs::new(&s.root.join("deb/srv/inner"));
    let out = sh_deb(
        &s,
        &["--read-only"],
        "touch /x 2>/dev/null || echo root-ro; touch /srv/inner/x 2>/dev/null || echo nested-ro",
    );
    assert_eq!(out, "root-ro\nnested-ro\n");
    assert_eq!(
        sh_deb(&s, &[], "touch /srv/inner/x && echo rw"),
        "rw\n",
        "without --read-only the nested mount is writable"
    );
    drop(inner);

    // --tmpfs=PATH:OPTIONS.
    assert_eq!(
        sh_deb(&s, &["--tmpfs=/mnt:mode=0700,size=1m"], "stat -c %a /mnt"),
        "700\n"
    );
    assert_eq!(sh_deb(&s, &["--tmpfs=/mnt"], "stat -c %a /mnt"), "755\n");
    drop(nested);
}
