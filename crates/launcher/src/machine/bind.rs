//! `wharf bind`: a host path mounted into a running machine with the new mount API. The
//! source is cloned on the host (`open_tree(OPEN_TREE_CLONE | AT_RECURSIVE)`, made read-only
//! with `mount_setattr` when asked); a forked child joins only the machine's mount namespace
//! (its root becomes the machine's root; no user namespace is needed for the host's root),
//! finds or creates the destination confined to that root (`openat2(RESOLVE_IN_ROOT)`) and
//! attaches the tree there (`move_mount`).

use std::ffi::OsStr;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::{Component, Path, PathBuf};

use anyhow::{bail, Context, Result};
use rustix::fs::{Mode, OFlags};
use wharf_sys::fs::{open_beneath, open_in_root_crossing};
use wharf_sys::ns::{self, Forked};
use wharf_sys::process::{self, Exit};

/// What to bind where.
#[derive(Debug, Clone)]
pub struct BindRequest {
    /// The host path (file or directory).
    pub source: PathBuf,
    /// The path inside the machine (absolute; default: the source's path).
    pub target: PathBuf,
    pub read_only: bool,
    /// Create the target (and missing parent directories) when it does not exist: a
    /// directory, or an empty file when the source is not a directory.
    pub mkdir: bool,
}

/// Mount `req.source` on `req.target` in machine `machine` whose PID 1 is `leader` (host PID).
/// Must be called while the process has a single thread.
pub fn bind(machine: &str, leader: u32, req: &BindRequest) -> Result<()> {
    let src = &req.source;
    let dst = &req.target;
    if !dst.is_absolute() {
        bail!(
            "bind into machine {machine}: {}: the destination must be an absolute path",
            dst.display()
        );
    }
    let md = std::fs::metadata(src)
        .with_context(|| format!("bind into machine {machine}: source {}", src.display()))?;
    let tree = wharf_sys::mount::clone_tree(src, true).with_context(|| {
        format!(
            "bind into machine {machine}: clone the mounts at {}",
            src.display()
        )
    })?;
    if req.read_only {
        wharf_sys::mountapi::set_tree_read_only(tree.as_fd()).with_context(|| {
            format!(
                "bind into machine {machine}: make {} read-only",
                src.display()
            )
        })?;
    }
    let mnt = File::open(format!("/proc/{leader}/ns/mnt"))
        .with_context(|| format!("machine {machine}: open its mount namespace"))?;
    let (mut ours, theirs) = UnixStream::pair().context("socketpair")?;
    match process::fork().context("fork")? {
        Forked::Child => {
            drop(ours);
            let r = attach(mnt.as_fd(), &tree, dst, md.is_dir(), req.mkdir);
            let code = match r {
                Ok(()) => 0,
                Err(e) => {
                    let mut theirs = theirs;
                    let _ = theirs.write_all(format!("{e:#}").as_bytes());
                    1
                }
            };
            std::process::exit(code);
        }
        Forked::Parent(pid) => {
            drop(theirs);
            let mut msg = String::new();
            let _ = (&mut ours).take(4096).read_to_string(&mut msg);
            let st = process::wait_pid(pid).context("wait")?;
            if !msg.is_empty() {
                bail!("bind into machine {machine}: {msg}");
            }
            if st != Exit::Code(0) {
                bail!("bind into machine {machine}: the helper process failed ({st:?})");
            }
            Ok(())
        }
    }
}

/// In the forked child: join the mount namespace, find or create `dst`, attach `tree` there.
fn attach(mnt: BorrowedFd<'_>, tree: &OwnedFd, dst: &Path, dir: bool, mkdir: bool) -> Result<()> {
    ns::setns(mnt, libc::CLONE_NEWNS).context("join the machine's mount namespace")?;
    // setns made the machine's root our root.
    let root = File::open("/").context("open the machine's root")?;
    let target = match open_in_root_crossing(root.as_fd(), dst, OFlags::PATH) {
        Ok(fd) => fd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && mkdir => {
            create(root.as_fd(), dst, dir)?;
            open_in_root_crossing(root.as_fd(), dst, OFlags::PATH)
                .with_context(|| format!("{}: open after creating it", dst.display()))?
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            bail!(
                "{}: does not exist in the machine (use --mkdir to create it)",
                dst.display()
            )
        }
        Err(e) => return Err(e).with_context(|| format!("{}: open in the machine", dst.display())),
    };
    let st = rustix::fs::fstat(&target).with_context(|| format!("stat {}", dst.display()))?;
    let is_dir = rustix::fs::FileType::from_raw_mode(st.st_mode) == rustix::fs::FileType::Directory;
    if is_dir != dir {
        bail!(
            "{}: is {} in the machine but the source is {}",
            dst.display(),
            if is_dir {
                "a directory"
            } else {
                "not a directory"
            },
            if dir {
                "a directory"
            } else {
                "not a directory"
            }
        );
    }
    wharf_sys::mount::attach_tree_at(tree, target.as_fd())
        .with_context(|| format!("{}: mount", dst.display()))
}

/// Create `dst` (and its missing parents as directories, mode 0755) below `root`: every
/// component is looked up confined to the root; the last one becomes a directory or an empty
/// file (mode 0644).
fn create(root: BorrowedFd<'_>, dst: &Path, dir: bool) -> Result<()> {
    let names: Vec<&OsStr> = dst
        .components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n),
            _ => None,
        })
        .collect();
    if dst.components().any(|c| c == Component::ParentDir) {
        bail!("{}: '..' is not allowed with --mkdir", dst.display());
    }
    let Some((last, parents)) = names.split_last() else {
        bail!("{}: nothing to create", dst.display());
    };
    let mut here = PathBuf::from("/");
    let mut parent = open_in_root_crossing(root, &here, OFlags::PATH | OFlags::DIRECTORY)
        .context("open the machine's root")?;
    for n in parents {
        here.push(n);
        match rustix::fs::mkdirat(&parent, *n, Mode::from_raw_mode(0o755)) {
            Ok(()) | Err(rustix::io::Errno::EXIST) => {}
            Err(e) => return Err(e).with_context(|| format!("create {}", here.display())),
        }
        parent = open_in_root_crossing(root, &here, OFlags::PATH | OFlags::DIRECTORY)
            .with_context(|| format!("open {}", here.display()))?;
    }
    here.push(last);
    if dir {
        rustix::fs::mkdirat(&parent, *last, Mode::from_raw_mode(0o755))
            .with_context(|| format!("create {}", here.display()))?;
    } else {
        open_beneath(
            parent.as_fd(),
            last,
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW,
            0o644,
            false,
        )
        .with_context(|| format!("create {}", here.display()))?;
    }
    Ok(())
}
