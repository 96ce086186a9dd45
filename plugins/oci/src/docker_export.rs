//! import-docker: the flat tar of `docker export` / `podman export` becomes a machine.
//!
//! Such a tar is a container's merged root filesystem with Docker's runtime leftovers: an
//! `/.dockerenv` (which makes systemd and others believe they run in Docker), zero-byte
//! `/etc/hostname`, `/etc/hosts` and `/etc/resolv.conf` (bind mounts at export time), and
//! whatever `/etc/machine-id` the container had. They are fixed so the tree boots as a machine.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use rustix::fs::{AtFlags, FileType, Mode, OFlags};
use wharf_core::{Error, Image, ImageType, Progress, Result, Store};
use wharf_tar::import::{unpack_stream, ImportOptions};

/// What [`import_docker`] changed in the exported tree.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Fixups {
    pub removed_dockerenv: bool,
    pub filled: Vec<&'static str>,
    pub cleared_machine_id: bool,
}

/// Import a `docker export` tar stream (compression sniffed) as the machine `name`.
pub fn import_docker(
    store: &Store,
    input: Box<dyn Read + Send>,
    name: &str,
    opts: &ImportOptions,
    progress: &dyn Progress,
) -> Result<(Image, Fixups)> {
    let staging = store.stage(name, ImageType::Directory, opts.force)?;
    staging.create_tree()?;
    unpack_stream(input, staging.path(), opts, progress)?;
    let fixups = fix_tree(staging.path(), name)?;
    Ok((staging.commit(opts.read_only)?, fixups))
}

/// Apply the machine fixups to the tree at `root`.
pub fn fix_tree(root: &Path, name: &str) -> Result<Fixups> {
    let mut f = Fixups::default();
    let dir = File::open(root).map_err(|e| Error::io("open", root, e))?;
    let top: OwnedFd = dir.into();
    if is_file(&top, ".dockerenv") {
        rustix::fs::unlinkat(&top, ".dockerenv", AtFlags::empty())
            .map_err(|e| Error::io("remove", root.join(".dockerenv"), e.into()))?;
        f.removed_dockerenv = true;
    }
    let Ok(etc) = wharf_sys::fs::open_in_root_with(
        top.as_fd(),
        Path::new("/etc"),
        OFlags::PATH | OFlags::DIRECTORY,
    ) else {
        return Ok(f);
    };
    let hosts = format!(
        "127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n\
         ff02::1\t\tip6-allnodes\nff02::2\t\tip6-allrouters\n127.0.1.1\t{name}\n"
    );
    let fills: [(&'static str, String); 3] = [
        ("hostname", format!("{name}\n")),
        ("hosts", hosts),
        (
            "resolv.conf",
            "# Empty in the exported container; wharf run and systemd-nspawn fill it at start\n\
             # (--resolv-conf=).\n"
                .to_string(),
        ),
    ];
    for (file, content) in fills {
        if size_of(&etc, file) == Some(0) {
            let fd = rustix::fs::openat(
                &etc,
                file,
                OFlags::WRONLY | OFlags::TRUNC | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .map_err(|e| Error::io("write", root.join("etc").join(file), e.into()))?;
            File::from(fd)
                .write_all(content.as_bytes())
                .map_err(|e| Error::io("write", root.join("etc").join(file), e))?;
            f.filled.push(file);
        }
    }
    if size_of(&etc, "machine-id").is_some_and(|s| s > 0) {
        rustix::fs::openat(
            &etc,
            "machine-id",
            OFlags::WRONLY | OFlags::TRUNC | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| Error::io("truncate", root.join("etc/machine-id"), e.into()))?;
        f.cleared_machine_id = true;
    }
    Ok(f)
}

fn is_file(dir: &OwnedFd, name: &str) -> bool {
    size_of(dir, name).is_some()
}

/// Size of the regular file `name` in `dir` (not following symlinks).
fn size_of(dir: &OwnedFd, name: &str) -> Option<u64> {
    let st = rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW).ok()?;
    (FileType::from_raw_mode(st.st_mode) == FileType::RegularFile).then_some(st.st_size as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runtime_leftovers_are_fixed() {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        std::fs::create_dir(r.join("etc")).unwrap();
        std::fs::write(r.join(".dockerenv"), "").unwrap();
        for f in ["hostname", "hosts", "resolv.conf"] {
            std::fs::write(r.join("etc").join(f), "").unwrap();
        }
        std::fs::write(
            r.join("etc/machine-id"),
            "0123456789abcdef0123456789abcdef\n",
        )
        .unwrap();
        let f = fix_tree(r, "web").unwrap();
        assert!(f.removed_dockerenv && f.cleared_machine_id);
        assert_eq!(f.filled, vec!["hostname", "hosts", "resolv.conf"]);
        assert!(!r.join(".dockerenv").exists());
        assert_eq!(
            std::fs::read_to_string(r.join("etc/hostname")).unwrap(),
            "web\n"
        );
        assert!(std::fs::read_to_string(r.join("etc/hosts"))
            .unwrap()
            .contains("127.0.1.1\tweb"));
        assert_eq!(
            std::fs::metadata(r.join("etc/machine-id")).unwrap().len(),
            0
        );
        // A second pass changes nothing.
        assert_eq!(fix_tree(r, "web").unwrap(), Fixups::default());
    }

    #[test]
    fn symlinked_etc_files_are_left_alone() {
        let t = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let r = t.path();
        std::fs::create_dir(r.join("etc")).unwrap();
        std::fs::write(outside.path().join("hosts"), "").unwrap();
        std::os::unix::fs::symlink(outside.path().join("hosts"), r.join("etc/hosts")).unwrap();
        fix_tree(r, "x").unwrap();
        assert_eq!(std::fs::read(outside.path().join("hosts")).unwrap(), b"");
    }
}
