//! The partitions wharf-gpt picks compared with what `systemd-dissect` (systemd 252 on the
//! test machine) reports for the same images.
//!
//! Needs root, `losetup`, `sfdisk`, `mkfs.ext4` and `mkswap`. `systemd-dissect` must mount the
//! chosen partitions to read their metadata, so they get real (tiny) file systems; the root
//! ones contain the mount points of the other partitions. When `systemd-dissect` is missing or
//! cannot work on this machine at all, the comparison is skipped with a loud message on the
//! terminal (not just in captured output); every other failure fails the test.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::Command;

use common::types::*;
use common::{find_tool, run, tool, Image, LoopDev};
use wharf_gpt::{choose, choose_root_or_generic, classify, host_arch, Arch, Designator, Table};

/// what to put in a partition before dissecting.
#[derive(Clone, Copy)]
enum Fs {
    /// ext4 holding the mount points a root file system needs.
    RootExt4,
    Ext4,
    Swap,
}

/// partitions `parts` of `img` get file systems, through a partition-scanned loop device.
fn format(img: &Image, parts: &[(u32, Fs)]) {
    let skeleton = tempfile::tempdir().expect("tempdir");
    for d in ["usr", "home", "srv", "efi", "boot", "var/tmp"] {
        std::fs::create_dir_all(skeleton.path().join(d)).unwrap();
    }
    let (mkfs, mkswap) = (tool("mkfs.ext4", "e2fsprogs"), tool("mkswap", "util-linux"));
    let dev = LoopDev::attach(&img.path, &["--partscan"]);
    for &(n, fs) in parts {
        let node = dev.partition(n);
        let mut cmd = match fs {
            Fs::RootExt4 => {
                let mut c = Command::new(&mkfs);
                c.args(["-q", "-F", "-d"]).arg(skeleton.path());
                c
            }
            Fs::Ext4 => {
                let mut c = Command::new(&mkfs);
                c.args(["-q", "-F"]);
                c
            }
            Fs::Swap => Command::new(&mkswap),
        };
        run(cmd.arg(&node)).unwrap();
    }
}

/// `systemd-dissect --json=short IMAGE`.
fn dissect(path: &Path) -> Result<serde_json::Value, String> {
    let exe = find_tool("systemd-dissect").ok_or("systemd-dissect is not installed")?;
    let out = run(Command::new(exe)
        .args(["--no-pager", "--json=short"])
        .arg(path))?;
    serde_json::from_str(&out).map_err(|e| format!("bad json from systemd-dissect: {e}: {out}"))
}

fn designator(name: &str) -> Designator {
    match name {
        "root" => Designator::Root,
        "usr" => Designator::Usr,
        "home" => Designator::Home,
        "srv" => Designator::Srv,
        "var" => Designator::Var,
        "tmp" => Designator::Tmp,
        "swap" => Designator::Swap,
        "esp" => Designator::Esp,
        "xbootldr" => Designator::Xbootldr,
        other => panic!("unexpected designator {other:?} from systemd-dissect"),
    }
}

/// every partition systemd-dissect would mount is the one we choose, with the same flags;
/// and we choose nothing it leaves out. Returns the dissected root's label.
fn assert_agrees(table: &Table, json: &serde_json::Value, arch: Arch) -> String {
    let mounts = json["mounts"].as_array().expect("mounts array");
    let mut seen = Vec::new();
    let mut root_label = String::new();
    for m in mounts {
        let name = m["designator"].as_str().unwrap();
        let d = designator(name);
        let ours = if d == Designator::Root {
            choose_root_or_generic(table, arch)
        } else {
            choose(table, d, arch)
        };
        let ours = ours.unwrap_or_else(|| panic!("systemd-dissect found {name}, we did not"));
        assert_eq!(ours.uuid.to_string(), m["partition_uuid"], "{name}");
        assert_eq!(
            u64::from(ours.index),
            m["partno"].as_u64().unwrap(),
            "{name}"
        );
        // systemd does not record the label of a generic partition used as root.
        if let Some(label) = m["partition_label"].as_str() {
            assert_eq!(ours.name, label, "{name}");
        } else {
            assert_eq!(
                ours.type_guid,
                wharf_gpt::LINUX_GENERIC,
                "{name} without label"
            );
        }
        let our_arch = classify(&ours.type_guid).and_then(|(_, a)| a);
        assert_eq!(
            m["architecture"].as_str(),
            our_arch.map(Arch::name),
            "{name}"
        );
        let rw = if ours.read_only() { "ro" } else { "rw" };
        assert_eq!(m["rw"], rw, "{name}");
        assert_eq!(m["growfs"], ours.growfs(), "{name}");
        if d == Designator::Root {
            root_label = ours.name.clone();
        }
        seen.push(d);
    }
    for d in [
        Designator::Usr,
        Designator::Home,
        Designator::Srv,
        Designator::Swap,
        Designator::Esp,
    ] {
        if !seen.contains(&d) {
            assert_eq!(choose(table, d, arch), None, "dissect has no {d}, we do");
        }
    }
    if !seen.contains(&Designator::Root) {
        assert_eq!(choose_root_or_generic(table, arch), None);
    }
    root_label
}

fn loud_skip(why: &str) {
    // written to the terminal directly: the test harness only captures print macros.
    let _ = writeln!(
        std::io::stderr(),
        "\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n\
         !! SKIPPED the systemd-dissect comparison: {why}\n\
         !!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n"
    );
}

#[test]
fn agrees_with_systemd_dissect() {
    let arch = host_arch().expect("tests run on x86-64 or arm64");
    let (native, secondary) = match arch {
        Arch::X86_64 => (ROOT_X86_64, ROOT_X86),
        _ => (ROOT_ARM64, "69dad710-2ce4-4e3c-b16c-21a1d49abed3"),
    };
    let usr = match arch {
        Arch::X86_64 => USR_X86_64,
        _ => "b0e01050-ee5f-4390-949a-9101b17104e9",
    };
    let foreign = if arch == Arch::X86_64 {
        ROOT_ARM64
    } else {
        ROOT_X86_64
    };

    // 1. versioned roots (read-only winner, no-auto newest, pre-release), growfs /usr,
    //    home, swap, ESP, a foreign and a secondary root, a generic partition.
    let script = format!(
        "label: gpt
size=4MiB, type={ESP}, name=\"esp\"
size=8MiB, type={native}, name=\"root-1.2\"
size=8MiB, type={native}, name=\"root-1.10\", attrs=\"GUID:60\"
size=8MiB, type={native}, name=\"root-1.10~rc1\"
size=8MiB, type={native}, name=\"root-2.0\", attrs=\"GUID:63\"
size=8MiB, type={usr}, name=\"usr-1.10\", attrs=\"GUID:59\"
size=4MiB, type={HOME}, name=\"home\", attrs=\"RequiredPartition\"
size=2MiB, type={SWAP}, name=\"swap\"
size=4MiB, type={foreign}, name=\"root-9\"
size=4MiB, type={secondary}, name=\"root-5.0\"
size=4MiB, type={GENERIC}, name=\"data\"
"
    );
    let img = Image::sfdisk(80 << 20, &script);
    let root = Fs::RootExt4;
    format(
        &img,
        &[
            (2, root),
            (3, root),
            (4, root),
            (5, root),
            (6, Fs::Ext4),
            (7, Fs::Ext4),
            (8, Fs::Swap),
            (9, root),
            (10, root),
            (11, root),
        ],
    );
    let table = img.read_table().unwrap();
    let json = match dissect(&img.path) {
        Ok(j) => j,
        Err(why) => return loud_skip(&why),
    };
    assert_eq!(assert_agrees(&table, &json, arch), "root-1.10");

    // 2. only secondary-architecture roots; "os_10" and "os_010" tie, the first wins.
    let script = format!(
        "label: gpt
size=4MiB, type={secondary}, name=\"os_3\"
size=4MiB, type={secondary}, name=\"os_10\"
size=4MiB, type={secondary}, name=\"os_010\"
size=4MiB, type={foreign}, name=\"os_99\"
"
    );
    let img = Image::sfdisk(24 << 20, &script);
    format(&img, &[(1, root), (2, root), (3, root), (4, root)]);
    let table = img.read_table().unwrap();
    let json = dissect(&img.path).unwrap();
    assert_eq!(assert_agrees(&table, &json, arch), "os_10");
    let secondary_name = arch.secondary().unwrap().name();
    assert_eq!(json["mounts"][0]["architecture"], secondary_name);

    // 3. no DPS root or /usr: the single generic Linux partition is the root.
    let script = format!(
        "label: gpt
size=4MiB, type={ESP}, name=\"esp\"
size=4MiB, type={GENERIC}, name=\"data\", attrs=\"GUID:63\"
size=4MiB, type={GENERIC}, name=\"only\"
size=4MiB, type={HOME}, name=\"home\"
"
    );
    let img = Image::sfdisk(24 << 20, &script);
    format(&img, &[(2, root), (3, root), (4, Fs::Ext4)]);
    let table = img.read_table().unwrap();
    let json = dissect(&img.path).unwrap();
    assert_eq!(assert_agrees(&table, &json, arch), "only");

    // 4. two generic partitions: systemd refuses to guess, and so do we.
    let script = format!(
        "label: gpt
size=4MiB, type={GENERIC}, name=\"a\"
size=4MiB, type={GENERIC}, name=\"b\"
"
    );
    let img = Image::sfdisk(16 << 20, &script);
    format(&img, &[(1, root), (2, root)]);
    let table = img.read_table().unwrap();
    assert!(
        dissect(&img.path).is_err(),
        "systemd-dissect accepted two generic roots"
    );
    assert_eq!(choose_root_or_generic(&table, arch), None);
}
