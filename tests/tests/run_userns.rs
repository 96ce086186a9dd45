//! `wharf run -U` / `--private-users=` with the Debian image: the picked UID range and its maps,
//! idmapped and chowned ownership, booting systemd to multi-user.target inside a user
//! namespace, distinct ranges for concurrent machines, what the namespace's root can no longer
//! do, `--bind=…:idmap`, and `wharf shell`/`status` of a `-U` machine.
//!
//! Every wait is bounded; a wharf that outlives a failed assertion is killed with its whole
//! process group (`machine::Running`).

use std::fs;
use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use wharf_tests::machine::{
    run_deb, run_in, sh_deb, sh_in, status_field, store, store_named, wait_for_file, Running,
};
use wharf_tests::{debian, fails, ok, wharf};

const LIMIT: Duration = Duration::from_secs(120);
const RANGE_MIN: u64 = 0x0008_0000;
const RANGE_MAX: u64 = 0x6FFF_0000;

/// (inside, outside, count) of the first line of a uid_map.
fn map_line(map: &str) -> (u64, u64, u64) {
    let f: Vec<u64> = map
        .lines()
        .next()
        .unwrap_or_else(|| panic!("empty map: {map:?}"))
        .split_whitespace()
        .map(|v| v.parse().unwrap())
        .collect();
    (f[0], f[1], f[2])
}

fn assert_picked(base: u64) {
    assert_eq!(base % 0x1_0000, 0, "base {base:#x} not 64K-aligned");
    assert!((RANGE_MIN..=RANGE_MAX).contains(&base), "base {base:#x}");
}

#[test]
fn pick_maps_root_and_idmapped_files_stay_owned_by_0() {
    // Its own machine name: a concurrent test's -U machine never holds this name's first range.
    let s = store_named("upick");
    let out = sh_in(
        &s,
        "upick",
        &["-U"],
        "cat /proc/self/uid_map /proc/self/gid_map; id -u; id -g; \
         echo x > /root/made-by-root; stat -c %u:%g /root/made-by-root /etc/passwd",
    );
    let lines: Vec<&str> = out.lines().collect();
    let (inside, base, count) = map_line(lines[0]);
    assert_eq!((inside, count), (0, 65536), "{out}");
    assert_picked(base);
    assert_eq!(map_line(lines[1]), (0, base, 65536), "gid_map = uid_map");
    assert_eq!(&lines[2..], ["0", "0", "0:0", "0:0"], "{out}");
    // Idmapped root: the image is untouched, and root's new file is UID 0 on the host's disk.
    let image = s.root.join("upick");
    let made = fs::metadata(image.join("root/made-by-root")).unwrap();
    assert_eq!((made.uid(), made.gid()), (0, 0));
    assert_eq!(fs::metadata(&image).unwrap().uid(), 0, "image not chowned");
    // The lock of the range is released when wharf ends: the next start gets the same one.
    let again = sh_in(&s, "upick", &["-U"], "cat /proc/self/uid_map");
    assert_eq!(
        map_line(&again).1,
        base,
        "a machine's first candidate is stable"
    );

    // identity and a fixed BASE:COUNT.
    let id = sh_in(
        &s,
        "upick",
        &["--private-users=identity"],
        "cat /proc/self/uid_map; id -u",
    );
    assert_eq!(map_line(&id), (0, 0, 65536));
    assert!(id.ends_with("\n0\n"), "{id}");
    let fixed = sh_in(
        &s,
        "upick",
        &[
            "--private-users=3145728:65536",
            "--private-users-ownership=map",
        ],
        "cat /proc/self/uid_map; stat -c %u /etc/passwd",
    );
    assert_eq!(map_line(&fixed), (0, 3145728, 65536));
    assert!(fixed.ends_with("\n0\n"), "{fixed}");

    // PrivateUsers= in a settings file: privileged, so only from a trusted one.
    fs::write(
        s.root.join("upick.nspawn"),
        "[Exec]\nPrivateUsers=pick\n[Files]\nPrivateUsersOwnership=map\n",
    )
    .unwrap();
    let trusted = sh_in(
        &s,
        "upick",
        &["--settings=trusted"],
        "cat /proc/self/uid_map",
    );
    assert_picked(map_line(&trusted).1);
    let r = run_in(&s, "upick", &["cat", "/proc/self/uid_map"]);
    assert_eq!(
        map_line(&r.stdout),
        (0, 0, 4294967295),
        "untrusted file applied"
    );
    assert!(r.stderr.contains("PrivateUsers"), "{}", r.stderr);
    // The command line wins over a trusted file.
    let cli = sh_in(
        &s,
        "upick",
        &["--settings=trusted", "--private-users=no"],
        "cat /proc/self/uid_map",
    );
    assert_eq!(map_line(&cli), (0, 0, 4294967295));
    fs::remove_file(s.root.join("upick.nspawn")).unwrap();

    // Bad values: one line each.
    fails(
        &s.root,
        &["run", "-M", "upick", "--private-users=bogus", "true"],
        "--private-users",
    );
    fails(
        &s.root,
        &[
            "run",
            "-M",
            "upick",
            "--private-users=pick",
            "--private-users-ownership=foreign",
            "true",
        ],
        "--private-users-ownership",
    );
    fails(
        &s.root,
        &["run", "-M", "upick", "-U", "--volatile=overlay", "true"],
        "user namespace",
    );
}

#[test]
fn chown_ownership_shifts_a_copy_once() {
    let s = store();
    ok(
        &s.root,
        &["import-tar", debian::tarball().to_str().unwrap(), "copy"],
    );
    let image = s.root.join("copy");
    let passwd_mode = fs::metadata(image.join("usr/bin/passwd")).unwrap().mode() & 0o7777;
    let opts = ["-U", "--private-users-ownership=chown"];
    let out = sh_in(
        &s,
        "copy",
        &opts,
        "cat /proc/self/uid_map; touch /root/made; stat -c %u /etc/passwd /root/made",
    );
    let base = map_line(&out).1;
    assert_picked(base);
    assert!(out.ends_with("\n0\n0\n"), "{out}");
    // Shifted on disk: the root directory's owner tells the range (how the next start finds it).
    let md = |p: &str| fs::symlink_metadata(image.join(p)).unwrap();
    assert_eq!(u64::from(md("").uid()), base);
    assert_eq!(u64::from(md("etc/passwd").uid()), base);
    assert_eq!(u64::from(md("root/made").uid()), base);
    assert_eq!(u64::from(md("usr/bin/passwd").uid()), base);
    assert_eq!(
        md("usr/bin/passwd").mode() & 0o7777,
        passwd_mode,
        "setuid bit kept"
    );
    // The next start finds the tree's own range first and needs no new chown.
    let again = sh_in(&s, "copy", &opts, "cat /proc/self/uid_map");
    assert_eq!(map_line(&again).1, base);
    // The original image was not touched.
    assert_eq!(
        fs::metadata(s.root.join("deb/etc/passwd")).unwrap().uid(),
        0
    );
}

fn install_probe(image: &Path, script: &str) {
    let dir = image.join("etc/systemd/system");
    fs::write(
        dir.join("wharf-probe.service"),
        format!(
            "[Unit]\nAfter=multi-user.target\n[Service]\nType=simple\n\
             ExecStart=/bin/sh -c '{script}'\n"
        ),
    )
    .unwrap();
    let wants = dir.join("multi-user.target.wants");
    fs::create_dir_all(&wants).unwrap();
    let _ = fs::remove_file(wants.join("wharf-probe.service"));
    symlink(
        "/etc/systemd/system/wharf-probe.service",
        wants.join("wharf-probe.service"),
    )
    .unwrap();
}

#[test]
fn boot_with_userns_reaches_multi_user_without_failed_units() {
    let s = store();
    let image = s.root.join("deb");
    install_probe(
        &image,
        "systemctl is-system-running --wait > /var/tmp/state; \
         systemctl --failed --no-legend --plain > /var/tmp/failed; \
         cat /proc/1/uid_map > /var/tmp/map; \
         stat -c %%u /sys/fs/cgroup /sys/fs/cgroup/init.scope > /var/tmp/cgroup-owner; \
         systemctl poweroff",
    );
    let console_log = s.scratch.join("console");
    let mut cmd = wharf(&s.root);
    cmd.args(["run", "-M", "deb", "-U", "-b", "--console=read-only"])
        .stdout(fs::File::create(&console_log).unwrap())
        .stderr(Stdio::null());
    let t = Instant::now();
    let mut r = Running::spawn(cmd);
    assert_eq!(r.wait(LIMIT), Some(0), "poweroff must give 0");
    eprintln!("boot with -U to poweroff: {:?}", t.elapsed());
    let read = |f: &str| fs::read_to_string(image.join("var/tmp").join(f)).unwrap();
    assert_eq!(read("state"), "running\n");
    assert_eq!(read("failed"), "", "failed units");
    assert_picked(map_line(&read("map")).1);
    // The machine's cgroup was delegated to its root: systemd made init.scope in it.
    assert_eq!(read("cgroup-owner"), "0\n0\n");
}

#[test]
fn concurrent_machines_get_distinct_ranges() {
    let s = store();
    // Both machines run from one image at once, so read-only (a writable run locks the image
    // exclusively, as nspawn's); they report through an idmapped bind of a host directory.
    let marks = s.scratch.join("marks");
    fs::create_dir_all(&marks).unwrap();
    let bind = format!("--bind={}:/mnt:idmap", marks.display());
    let go = marks.join("go");
    let mut runs = Vec::new();
    for n in 0..2 {
        let mut cmd = wharf(&s.root);
        cmd.args(["run", "-M", "deb", "-U", "--read-only", &bind, "sh", "-c"])
            .arg(format!(
                "cat /proc/self/uid_map > /mnt/map{n}.tmp; mv /mnt/map{n}.tmp /mnt/map{n}; \
                 while [ ! -e /mnt/go ]; do sleep 0.1; done"
            ))
            .stdout(Stdio::null());
        let mut r = Running::spawn(cmd);
        wait_for_file(&marks.join(format!("map{n}")), LIMIT, &mut r);
        runs.push(r);
    }
    // Both are running now (each waits for `go`).
    let read = |n: u32| map_line(&fs::read_to_string(marks.join(format!("map{n}"))).unwrap());
    let (a, b) = (read(0).1, read(1).1);
    assert_picked(a);
    assert_picked(b);
    assert_ne!(a, b, "two running machines share a UID range");
    let locks = fs::read_dir("/run/wharf/userns").unwrap().count();
    assert!(locks >= 2, "{locks} lock files");
    fs::write(&go, "").unwrap();
    for mut r in runs {
        assert_eq!(r.wait(LIMIT), Some(0));
    }
}

/// A loop device over a fresh 8 MiB ext4 image, detached on drop.
struct Loop(String);

impl Loop {
    fn new(dir: &Path) -> Loop {
        let img = dir.join("blk.img");
        fs::File::create(&img).unwrap().set_len(8 << 20).unwrap();
        let st = Command::new("mkfs.ext4")
            .args(["-q", img.to_str().unwrap()])
            .status()
            .expect("mkfs.ext4");
        assert!(st.success());
        let out = Command::new("losetup")
            .args(["-f", "--show", img.to_str().unwrap()])
            .output()
            .expect("losetup");
        assert!(out.status.success(), "losetup: {out:?}");
        Loop(String::from_utf8(out.stdout).unwrap().trim().to_string())
    }
}

impl Drop for Loop {
    fn drop(&mut self) {
        let _ = Command::new("losetup").args(["-d", &self.0]).status();
    }
}

#[test]
fn userns_root_cannot_mount_devices_write_sysctls_or_bind_low_ports() {
    let s = store();
    let dev = Loop::new(&s.scratch);
    let bind = format!("--bind={}:/dev/hostblk", dev.0);
    let mount = "mkdir -p /mnt/b; if mount -t ext4 /dev/hostblk /mnt/b 2>/dev/null; \
                 then echo mounted; umount /mnt/b; else echo refused; fi";
    let out = sh_deb(
        &s,
        &["-U", &bind],
        &format!(
            "{mount}; \
             (mknod /tmp/blk b 7 0 2>/dev/null && echo made) || echo refused; \
             mount -o remount,bind,rw /proc/sys 2>/dev/null && echo remounted; \
             v=$(cat /proc/sys/kernel/panic); \
             ( echo $v > /proc/sys/kernel/panic ) 2>/dev/null && echo wrote || echo refused; \
             grep CapBnd /proc/self/status"
        ),
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "refused", "block device mounted: {out}");
    assert_eq!(lines[1], "refused", "mknod: {out}");
    // Its own /proc/sys mount may be made writable, but the host's sysctl is not its to write.
    assert_eq!(lines[2], "remounted", "{out}");
    assert_eq!(lines[3], "refused", "host sysctl written: {out}");
    let bnd = status_field(&out, "CapBnd:");
    let host = status_field(&fs::read_to_string("/proc/self/status").unwrap(), "CapBnd:");
    // nspawn's -U set (0xfdecabff) as far as the host has it: no NET_BIND_SERVICE.
    assert_eq!(bnd, 0xfdec_abff & host, "{bnd:#x}");
    assert_eq!(bnd & 1 << 10, 0);
    // Asked for, it is kept; with a private network NET_ADMIN joins and NET_BIND_SERVICE stays.
    let asked = sh_deb(
        &s,
        &["-U", "--capability=net_bind_service"],
        "grep CapBnd /proc/self/status",
    );
    assert_ne!(status_field(&asked, "CapBnd:") & 1 << 10, 0);
    let private = sh_deb(
        &s,
        &["-U", "--private-network"],
        "grep CapBnd /proc/self/status; ls /sys/class/net",
    );
    assert_eq!(status_field(&private, "CapBnd:"), 0xfdec_bfff & host);
    assert!(private.ends_with("\nlo\n"), "{private}");
}

#[test]
fn idmapped_binds_show_host_owners() {
    let s = store();
    let dir = s.scratch.join("shared");
    fs::create_dir(&dir).unwrap();
    fs::write(dir.join("alice"), "a").unwrap();
    std::os::unix::fs::chown(dir.join("alice"), Some(1000), Some(1000)).unwrap();
    fs::write(dir.join("root"), "r").unwrap();
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
    let bind = format!("--bind={}:/srv/shared:idmap", dir.display());
    let out = sh_deb(
        &s,
        &["-U", &bind],
        "stat -c %n:%u:%g /srv/shared/alice /srv/shared/root; echo new > /srv/shared/new",
    );
    assert_eq!(out, "/srv/shared/alice:1000:1000\n/srv/shared/root:0:0\n");
    // The machine's root writes as host root through the idmapped bind.
    assert_eq!(fs::metadata(dir.join("new")).unwrap().uid(), 0);
    // Without idmap the same files belong to nobody inside.
    let plain = format!("--bind-ro={}:/srv/shared", dir.display());
    let out = sh_deb(&s, &["-U", &plain], "stat -c %u /srv/shared/root");
    assert_eq!(out, "65534\n");
    // Without a user namespace idmap is an error.
    let r = run_deb(&s, &[&bind, "true"]);
    assert_eq!(r.code, Some(1));
    assert!(r.stderr.contains("needs a user namespace"), "{}", r.stderr);
}

#[test]
fn shell_and_status_of_a_userns_machine() {
    let s = store();
    let state = tempfile::tempdir().unwrap();
    let cmd = |args: &[&str]| {
        let mut c = wharf(&s.root);
        c.env("WHARF_STATE_DIR", state.path()).args(args);
        wharf_tests::Run::from(c.output().expect("spawn wharf"))
    };
    struct Stop<'a>(&'a dyn Fn(&[&str]) -> wharf_tests::Run);
    impl Drop for Stop<'_> {
        fn drop(&mut self) {
            let _ = (self.0)(&["terminate", "deb"]);
        }
    }
    let _stop = Stop(&cmd);
    let r = cmd(&["start", "deb", "--timeout", "120", "-U"]);
    assert!(r.ok, "{r:?}");
    let r = cmd(&[
        "shell",
        "deb",
        "sh",
        "-c",
        "id -u; cat /proc/self/uid_map; hostname; cat /proc/sys/kernel/hostname; \
         [ $(readlink /proc/self/ns/uts) = $(readlink /proc/1/ns/uts) ] && echo same-uts; \
         [ $(readlink /proc/self/ns/user) = $(readlink /proc/1/ns/user) ] && echo same-user; \
         grep CapBnd /proc/self/status; grep CapBnd /proc/1/status",
    ]);
    assert!(r.ok, "{r:?}");
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines[0], "0");
    let base = map_line(lines[1]).1;
    assert_picked(base);
    assert_eq!(lines[2], lines[3]);
    assert_eq!(&lines[4..6], ["same-uts", "same-user"], "{}", r.stdout);
    // Never more than the machine's own processes.
    assert_eq!(
        lines[6].replace("CapBnd:", ""),
        lines[7].replace("CapBnd:", "")
    );
    let st = cmd(&["status", "deb", "--json"]);
    assert!(st.ok, "{st:?}");
    let v: serde_json::Value = serde_json::from_str(&st.stdout).unwrap();
    assert_eq!(v["uid_range"]["base"].as_u64(), Some(base));
    assert_eq!(v["uid_range"]["count"].as_u64(), Some(65536));
    let text = cmd(&["status", "deb"]);
    assert!(
        text.stdout.contains(&format!("UID range: {base}…")),
        "{}",
        text.stdout
    );
    // copy-to writes as the machine's root (UID 0 inside and, through the idmapped root, on
    // disk); copy-from reads.
    let src = s.scratch.join("to-machine");
    fs::write(&src, "payload\n").unwrap();
    let r = cmd(&["copy-to", "deb", src.to_str().unwrap(), "/root/copied"]);
    assert!(r.ok, "{r:?}");
    let r = cmd(&["shell", "deb", "stat", "-c", "%u:%g", "/root/copied"]);
    assert_eq!(r.stdout, "0:0\n", "{r:?}");
    assert_eq!(
        fs::metadata(s.root.join("deb/root/copied")).unwrap().uid(),
        0
    );
    let back = s.scratch.join("from-machine");
    let r = cmd(&["copy-from", "deb", "/root/copied", back.to_str().unwrap()]);
    assert!(r.ok, "{r:?}");
    assert_eq!(fs::read_to_string(&back).unwrap(), "payload\n");
    let r = cmd(&["poweroff", "deb"]);
    assert!(r.ok, "{r:?}");
}

#[test]
fn ephemeral_overlay_gets_idmapped_lower_layers() {
    let s = store();
    // -x on a directory image is an overlay (the test store is not btrfs); overlayfs refuses
    // idmapping, so its lower layer is the idmapped one: the image shows as root's inside,
    // nothing is chowned or copied up, and the image is left as it was.
    let out = sh_deb(
        &s,
        &["-U", "-x"],
        "stat -c %u:%g /etc/passwd /usr/bin/passwd; touch /root/eph; stat -c %u /root/eph; \
         findmnt -n -o FSTYPE /",
    );
    assert_eq!(out, "0:0\n0:0\n0\noverlay\n");
    let image = s.root.join("deb");
    assert!(!image.join("root/eph").exists());
    assert_eq!(fs::metadata(&image).unwrap().uid(), 0);
    assert_eq!(fs::metadata(image.join("etc/passwd")).unwrap().uid(), 0);
    // --volatile=state: the /var tmpfs belongs to the machine's root.
    let var = sh_deb(
        &s,
        &["-U", "--volatile=state"],
        "stat -c %u /var; touch /var/x && echo written",
    );
    assert_eq!(var, "0\nwritten\n");
    // A temporary overlay upper cannot be made inside the namespace: one clear line.
    fails(
        &s.root,
        &["run", "-M", "deb", "-U", "--overlay=/usr::/mnt/o", "true"],
        "temporary upper layer",
    );
}
