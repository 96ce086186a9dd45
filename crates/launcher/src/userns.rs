//! User namespaces (`-U`, `--private-users=`, `--private-users-ownership=`), as nspawn: the
//! machine's root is UID 0 of a user namespace whose UIDs/GIDs 0…COUNT-1 are host IDs
//! BASE…BASE+COUNT-1 (see docs/launcher.md, "User namespaces").
//!
//! - [`PrivateUsers`] and [`Ownership`]: the options;
//! - [`claim`]: the range for a start (`pick`: nspawn's candidate order, host passwd/group
//!   collisions skipped, an OFD lock under [`LOCK_DIR`] held for the machine's lifetime);
//! - [`write_maps`]: the parent writes `uid_map`/`gid_map` of the cloned child;
//! - [`shift_tree`]: `--private-users-ownership=chown` (and `auto` without idmapped mounts).

use std::fs;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

/// The lowest base `pick` uses (nspawn's `CONTAINER_UID_BASE_MIN`).
pub const RANGE_MIN: u32 = 0x0008_0000;
/// The highest base `pick` uses (nspawn's `CONTAINER_UID_BASE_MAX`).
pub const RANGE_MAX: u32 = 0x6FFF_0000;
/// A machine's range size with `pick`/`yes` and the default COUNT.
pub const RANGE_SIZE: u32 = 0x1_0000;
/// Where picked ranges are locked: `<base as 8 hex digits>.lock`.
pub const LOCK_DIR: &str = "/run/wharf/userns";

/// `--private-users=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PrivateUsers {
    /// No user namespace (the default).
    #[default]
    No,
    /// Base from the owner of the image's root directory, 65536 IDs.
    Yes,
    /// A free 64K range picked (and locked) for the run (`-U`).
    Pick,
    /// 0…65535 mapped to themselves (isolation of the namespaces only).
    Identity,
    /// `BASE[:COUNT]`.
    Fixed { base: u32, count: u32 },
}

impl PrivateUsers {
    /// `no`, `yes` (and the other booleans), `pick`, `identity`, `BASE[:COUNT]`.
    pub fn parse(s: &str) -> Result<PrivateUsers> {
        let bad = |why: &str| anyhow::anyhow!("invalid --private-users={s:?}: {why}");
        match s.to_ascii_lowercase().as_str() {
            "no" | "false" | "0" | "off" | "n" | "f" => return Ok(PrivateUsers::No),
            "yes" | "true" | "1" | "on" | "y" | "t" => return Ok(PrivateUsers::Yes),
            "pick" => return Ok(PrivateUsers::Pick),
            "identity" => return Ok(PrivateUsers::Identity),
            _ => {}
        }
        let (b, c) = match s.split_once(':') {
            Some((b, c)) => (b, Some(c)),
            None => (s, None),
        };
        let base: u32 = b
            .parse()
            .map_err(|_| bad("use no, yes, pick, identity or BASE[:COUNT]"))?;
        let count: u32 = match c {
            Some(c) => c.parse().map_err(|_| bad("COUNT is not a number"))?,
            None => RANGE_SIZE,
        };
        if count == 0 {
            return Err(bad("COUNT must be at least 1"));
        }
        if base
            .checked_add(count - 1)
            .is_none_or(|last| last == u32::MAX)
        {
            return Err(bad("the range goes beyond the last valid UID"));
        }
        Ok(PrivateUsers::Fixed { base, count })
    }

    /// Whether the machine gets a user namespace.
    pub fn enabled(self) -> bool {
        self != PrivateUsers::No
    }
}

/// `--private-users-ownership=`: how the image's files come to be owned by the range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ownership {
    /// Leave the files alone.
    Off,
    /// Shift the whole tree's ownership into the range once (recursive lchown).
    Chown,
    /// Attach the root through an idmapped mount (files stay owned by 0… on disk).
    Map,
    /// `map`, falling back to `chown` where the filesystem refuses idmapped mounts.
    Auto,
}

impl Ownership {
    pub fn parse(s: &str) -> Result<Ownership> {
        Ok(match s {
            "off" | "no" | "false" => Ownership::Off,
            "chown" | "yes" | "true" => Ownership::Chown,
            "map" => Ownership::Map,
            "auto" => Ownership::Auto,
            other => {
                bail!("invalid --private-users-ownership={other:?}: use off, chown, map or auto")
            }
        })
    }

    /// The ownership in effect: the one asked for, else `auto` with `pick` and `off` otherwise
    /// (nspawn's default); nothing to do with `identity`.
    pub fn effective(asked: Option<Ownership>, users: PrivateUsers) -> Ownership {
        match (users, asked) {
            (PrivateUsers::No | PrivateUsers::Identity, _) => Ownership::Off,
            (_, Some(o)) => o,
            (PrivateUsers::Pick, None) => Ownership::Auto,
            (_, None) => Ownership::Off,
        }
    }
}

/// A UID/GID range: container 0…count-1 = host base…base+count-1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Range {
    pub base: u32,
    pub count: u32,
}

impl Range {
    /// `BASE:COUNT` (as `wharf status` shows it).
    pub fn describe(&self) -> String {
        format!("{}:{}", self.base, self.count)
    }
}

/// The range of a run; a picked one stays locked until this is dropped (or wharf dies).
#[derive(Debug)]
pub struct Claim {
    pub range: Range,
    _lock: Option<OwnedFd>,
}

/// The range for `users` (`None` without a user namespace). `root_owner`: the UID owning the
/// image's root directory.
pub fn claim(users: PrivateUsers, machine: &str, root_owner: u32) -> Result<Option<Claim>> {
    let fixed = |base, count| {
        Ok(Some(Claim {
            range: Range { base, count },
            _lock: None,
        }))
    };
    match users {
        PrivateUsers::No => Ok(None),
        PrivateUsers::Identity => fixed(0, RANGE_SIZE),
        PrivateUsers::Fixed { base, count } => fixed(base, count),
        PrivateUsers::Yes => {
            if root_owner.checked_add(RANGE_SIZE).is_none() {
                bail!("the image's root directory is owned by UID {root_owner}, which leaves no room for a 64K range");
            }
            fixed(root_owner, RANGE_SIZE)
        }
        PrivateUsers::Pick => {
            let passwd = fs::read_to_string("/etc/passwd").unwrap_or_default();
            let group = fs::read_to_string("/etc/group").unwrap_or_default();
            pick_in(machine, root_owner, Path::new(LOCK_DIR), &passwd, &group).map(Some)
        }
    }
}

/// FNV-1a, 64 bit: a stable hash of the machine name (the first candidate of a name is the same
/// on every start, so a chowned image keeps its range).
fn fnv1a(data: &[u8], seed: u64) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64 ^ seed;
    for b in data {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// Candidate bases in nspawn's order: the root directory's owner when it is a valid base (an
/// image chowned before), then bases derived from a hash of the machine name (the first with
/// seed 0, then further seeds), all 64K-aligned within [`RANGE_MIN`]…[`RANGE_MAX`].
pub fn candidates(machine: &str, root_owner: u32) -> impl Iterator<Item = u32> + '_ {
    let slots = u64::from((RANGE_MAX - RANGE_MIN) / RANGE_SIZE) + 1;
    let owner = (root_owner.is_multiple_of(RANGE_SIZE)
        && (RANGE_MIN..=RANGE_MAX).contains(&root_owner))
    .then_some(root_owner);
    let hashed = (0..4096u64).map(move |seed| {
        let slot = fnv1a(machine.as_bytes(), seed.wrapping_mul(0x9e37_79b9_7f4a_7c15)) % slots;
        RANGE_MIN + slot as u32 * RANGE_SIZE
    });
    owner.into_iter().chain(hashed)
}

/// Whether a host user or group (`/etc/passwd`, `/etc/group` text) has an ID in
/// `base…base+count-1`.
pub fn taken_by_host(base: u32, count: u32, passwd: &str, group: &str) -> bool {
    let in_range = |id: u32| id >= base && id - base < count;
    let ids = |text: &'_ str| -> Vec<u32> {
        text.lines()
            .filter_map(|l| l.split(':').nth(2))
            .filter_map(|f| f.trim().parse().ok())
            .collect()
    };
    ids(passwd).into_iter().any(in_range) || ids(group).into_iter().any(in_range)
}

/// `pick` against `lock_dir` and the given host databases.
pub fn pick_in(
    machine: &str,
    root_owner: u32,
    lock_dir: &Path,
    passwd: &str,
    group: &str,
) -> Result<Claim> {
    fs::create_dir_all(lock_dir).with_context(|| format!("create {}", lock_dir.display()))?;
    let mut seen = std::collections::HashSet::new();
    for base in candidates(machine, root_owner) {
        if !seen.insert(base) || taken_by_host(base, RANGE_SIZE, passwd, group) {
            continue;
        }
        let path = lock_dir.join(format!("{base:08x}.lock"));
        if let Some(fd) = crate::cgroup::lock_exclusive(&path)? {
            return Ok(Claim {
                range: Range {
                    base,
                    count: RANGE_SIZE,
                },
                _lock: Some(fd),
            });
        }
    }
    bail!("no free UID range for machine {machine}: every candidate is locked or used by a host user or group")
}

/// Write `uid_map` and `gid_map` of process `pid` (just cloned with a new user namespace):
/// `0 BASE COUNT`.
pub fn write_maps(pid: i32, range: Range) -> Result<()> {
    let line = format!("0 {} {}\n", range.base, range.count);
    for map in ["uid_map", "gid_map"] {
        let p = PathBuf::from(format!("/proc/{pid}/{map}"));
        fs::write(&p, &line).with_context(|| format!("write {}", p.display()))?;
    }
    Ok(())
}

/// `--private-users-ownership=chown`: shift the ownership of every file of the tree at `root`
/// (one filesystem; symlinks themselves, not followed) from the range starting at the root
/// directory's current owner to `range`. IDs outside the old range are left alone. A no-op when
/// the root already belongs to `range.base` (the tree was shifted before). Set-user/group-ID
/// bits, which chown clears, are put back. Returns whether anything was shifted.
pub fn shift_tree(root: &Path, range: Range) -> Result<bool> {
    let md = fs::symlink_metadata(root).with_context(|| format!("stat {}", root.display()))?;
    let old = md.uid();
    if old == range.base {
        return Ok(false);
    }
    let shift = |id: u32| match id.checked_sub(old) {
        Some(off) if off < range.count => range.base + off,
        _ => id,
    };
    let dev = md.dev();
    let mut stack = vec![root.to_path_buf()];
    while let Some(p) = stack.pop() {
        let md = fs::symlink_metadata(&p).with_context(|| format!("stat {}", p.display()))?;
        if md.is_dir() && md.dev() == dev {
            for e in fs::read_dir(&p).with_context(|| format!("read {}", p.display()))? {
                stack.push(e.with_context(|| format!("read {}", p.display()))?.path());
            }
        }
        let (uid, gid) = (shift(md.uid()), shift(md.gid()));
        if (uid, gid) == (md.uid(), md.gid()) {
            continue;
        }
        rustix::fs::chownat(
            rustix::fs::CWD,
            &p,
            Some(rustix::process::Uid::from_raw(uid)),
            Some(rustix::process::Gid::from_raw(gid)),
            rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
        )
        .map_err(io::Error::from)
        .with_context(|| format!("chown {}", p.display()))?;
        let special = md.mode() & 0o6000;
        if special != 0 && md.is_file() {
            fs::set_permissions(&p, fs::Permissions::from_mode(md.mode() & 0o7777))
                .with_context(|| format!("chmod {}", p.display()))?;
        }
    }
    Ok(true)
}

/// wharf's side, right after the clone of `pid` into a new user namespace: write its maps,
/// bring the image's ownership into the range (`ownership`), and let the child go on
/// ([`crate::child`]'s `MSG_USERNS`, with the idmapped root tree when there is one).
pub(crate) fn prepare_child(
    root: &Path,
    binds: &[crate::Bind],
    ownership: Ownership,
    pid: i32,
    range: Range,
    chan: &OwnedFd,
) -> Result<()> {
    write_maps(pid, range)?;
    let tree = match ownership {
        Ownership::Off => None,
        Ownership::Chown => {
            shift_tree(root, range)?;
            None
        }
        Ownership::Map | Ownership::Auto => match idmapped_tree(root, true, pid) {
            Ok(t) => Some(t),
            Err(e) if ownership == Ownership::Auto && refused(&e) => {
                shift_tree(root, range)?;
                None
            }
            Err(e) => {
                return Err(anyhow::Error::from(e))
                    .with_context(|| format!("make an idmapped mount of {}", root.display()))
            }
        },
    };
    // `--bind=…:idmap` sources, in order.
    let mut bind_trees = Vec::new();
    for b in binds.iter().filter(|b| b.idmap) {
        let t = idmapped_tree(&b.src, b.recursive, pid)
            .with_context(|| format!("make an idmapped mount of {}", b.src.display()))?;
        if b.read_only {
            wharf_sys::mountapi::set_tree_read_only(t.as_fd())
                .with_context(|| format!("make the bind of {} read-only", b.src.display()))?;
        }
        bind_trees.push(t);
    }
    let fds: Vec<_> = tree.iter().chain(&bind_trees).map(|t| t.as_fd()).collect();
    let msg = [crate::child::MSG_USERNS, u8::from(tree.is_some())];
    wharf_sys::socket::send(chan, &msg, &fds).context("hand the user namespace to the machine")
}

/// What PID 1 gets from [`prepare_child`]: the idmapped root, the idmapped bind sources.
#[derive(Default)]
pub(crate) struct Trees {
    pub root: Option<OwnedFd>,
    pub binds: Vec<OwnedFd>,
}

impl Trees {
    /// From the message `[MSG_USERNS, has_root]` and its descriptors.
    pub(crate) fn from_message(msg: &[u8], mut fds: Vec<OwnedFd>) -> Option<Trees> {
        let [tag, has_root] = msg else { return None };
        if *tag != crate::child::MSG_USERNS {
            return None;
        }
        let root = (*has_root == 1 && !fds.is_empty()).then(|| fds.remove(0));
        Some(Trees { root, binds: fds })
    }
}

/// A user namespace with `range`'s maps, held only by the returned descriptor (for idmapped
/// mounts made before the machine exists): a short-lived child is cloned into it, mapped,
/// and killed once its namespace is open.
pub(crate) fn namespace_with(range: Range) -> Result<OwnedFd> {
    use wharf_sys::ns::{clone_into_namespaces, Forked, Namespaces};
    let ns = Namespaces {
        user: true,
        ..Namespaces::default()
    };
    match clone_into_namespaces(ns).context("clone into a new user namespace")? {
        Forked::Child => {
            let _ = wharf_sys::ns::kill_with_parent();
            loop {
                std::thread::sleep(std::time::Duration::from_secs(3600));
            }
        }
        Forked::Parent(pid) => {
            let raw = pid.as_raw_nonzero().get();
            let opened = write_maps(raw, range).and_then(|()| {
                fs::File::open(format!("/proc/{raw}/ns/user"))
                    .map(OwnedFd::from)
                    .context("open the user namespace")
            });
            let _ = wharf_sys::process::kill(pid, libc::SIGKILL);
            let _ = wharf_sys::process::wait_pid(pid);
            opened
        }
    }
}

/// Whether an idmapping error means "this filesystem (or kernel) cannot", not a failure.
fn refused(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EINVAL | libc::EOPNOTSUPP | libc::ENOSYS | libc::EPERM)
    )
}

/// A detached copy of the mount(s) at `path`, idmapped with `pid`'s user namespace.
fn idmapped_tree(path: &Path, recursive: bool, pid: i32) -> io::Result<OwnedFd> {
    let ns = fs::File::open(format!("/proc/{pid}/ns/user"))?;
    let tree = wharf_sys::mount::clone_tree(path, recursive)?;
    wharf_sys::mountapi::set_tree_idmap(tree.as_fd(), ns.as_fd())?;
    Ok(tree)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_private_users() {
        assert_eq!(PrivateUsers::parse("no").unwrap(), PrivateUsers::No);
        assert_eq!(PrivateUsers::parse("yes").unwrap(), PrivateUsers::Yes);
        assert_eq!(PrivateUsers::parse("pick").unwrap(), PrivateUsers::Pick);
        assert_eq!(
            PrivateUsers::parse("identity").unwrap(),
            PrivateUsers::Identity
        );
        assert_eq!(
            PrivateUsers::parse("1048576").unwrap(),
            PrivateUsers::Fixed {
                base: 1048576,
                count: 65536
            }
        );
        assert_eq!(
            PrivateUsers::parse("1048576:1000").unwrap(),
            PrivateUsers::Fixed {
                base: 1048576,
                count: 1000
            }
        );
        for bad in ["", "bogus", "1:0", "4294967295:2", "5:x", "-1"] {
            let e = PrivateUsers::parse(bad).unwrap_err().to_string();
            assert!(e.contains("--private-users"), "{e}");
        }
    }

    #[test]
    fn trees_from_the_message() {
        let fd = || OwnedFd::from(fs::File::open("/dev/null").unwrap());
        let tag = crate::child::MSG_USERNS;
        let t = Trees::from_message(&[tag, 1], vec![fd(), fd()]).unwrap();
        assert!(t.root.is_some());
        assert_eq!(t.binds.len(), 1);
        let t = Trees::from_message(&[tag, 0], vec![fd()]).unwrap();
        assert!(t.root.is_none());
        assert_eq!(t.binds.len(), 1);
        assert!(Trees::from_message(&[tag], vec![]).is_none());
        assert!(Trees::from_message(&[b'G', 0], vec![]).is_none());
    }

    #[test]
    fn parse_ownership() {
        assert_eq!(Ownership::parse("off").unwrap(), Ownership::Off);
        assert_eq!(Ownership::parse("chown").unwrap(), Ownership::Chown);
        assert_eq!(Ownership::parse("map").unwrap(), Ownership::Map);
        assert_eq!(Ownership::parse("auto").unwrap(), Ownership::Auto);
        assert!(Ownership::parse("foreign").is_err());
        use Ownership as O;
        use PrivateUsers as P;
        assert_eq!(O::effective(None, P::Pick), O::Auto);
        assert_eq!(O::effective(None, P::Yes), O::Off);
        assert_eq!(O::effective(Some(O::Chown), P::Yes), O::Chown);
        assert_eq!(O::effective(Some(O::Map), P::Identity), O::Off);
        assert_eq!(O::effective(Some(O::Map), P::No), O::Off);
    }

    #[test]
    fn candidates_are_aligned_in_range_and_stable() {
        let a: Vec<u32> = candidates("deb", 0).take(50).collect();
        assert_eq!(a, candidates("deb", 0).take(50).collect::<Vec<_>>());
        for b in &a {
            assert_eq!(b % RANGE_SIZE, 0);
            assert!((RANGE_MIN..=RANGE_MAX).contains(b));
        }
        assert_ne!(a[0], candidates("other", 0).next().unwrap());
        // A root owned by a valid base comes first (an image chowned before).
        assert_eq!(candidates("deb", 0x0010_0000).next(), Some(0x0010_0000));
        // Not a base: ignored.
        assert_eq!(candidates("deb", 0x0010_0001).next(), Some(a[0]));
    }

    #[test]
    fn host_collisions() {
        let passwd = "root:x:0:0::/root:/bin/sh\nsvc:x:524300:524300::/:/bin/false\n";
        assert!(taken_by_host(0x0008_0000, RANGE_SIZE, passwd, ""));
        assert!(!taken_by_host(0x0009_0000, RANGE_SIZE, passwd, ""));
        assert!(taken_by_host(0x0009_0000, RANGE_SIZE, "", "g:x:589825:\n"));
    }

    #[test]
    fn pick_skips_locked_and_host_ranges() {
        let dir = tempfile::tempdir().unwrap();
        let first = candidates("m", 0).next().unwrap();
        let a = pick_in("m", 0, dir.path(), "", "").unwrap();
        assert_eq!(a.range.base, first);
        assert_eq!(a.range.count, RANGE_SIZE);
        // Locked by `a`: the next start of the same name gets another range.
        let b = pick_in("m", 0, dir.path(), "", "").unwrap();
        assert_ne!(b.range.base, a.range.base);
        drop(a);
        // Released: available again.
        let c = pick_in("m", 0, dir.path(), "", "").unwrap();
        assert_eq!(c.range.base, first);
        drop(c);
        // A host user inside the first candidate: skipped.
        let passwd = format!("u:x:{}:0::/:/bin/sh\n", first + 5);
        let d = pick_in("m2", first, dir.path(), &passwd, "").unwrap();
        assert_ne!(d.range.base, first);
        assert!(dir.path().join(format!("{first:08x}.lock")).exists());
    }

    #[test]
    fn shift_tree_moves_the_range() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        fs::create_dir_all(root.join("etc")).unwrap();
        fs::write(root.join("etc/f"), "x").unwrap();
        fs::set_permissions(root.join("etc/f"), fs::Permissions::from_mode(0o4755)).unwrap();
        std::os::unix::fs::symlink("f", root.join("etc/l")).unwrap();
        std::os::unix::fs::lchown(root.join("etc/l"), Some(5), Some(6)).unwrap();
        let r = Range {
            base: 0x0010_0000,
            count: RANGE_SIZE,
        };
        assert!(shift_tree(&root, r).unwrap());
        let md = |p: &str| fs::symlink_metadata(root.join(p)).unwrap();
        assert_eq!(md("").uid(), r.base);
        assert_eq!(md("etc/f").gid(), r.base);
        assert_eq!(md("etc/f").mode() & 0o7777, 0o4755);
        assert_eq!(
            (md("etc/l").uid(), md("etc/l").gid()),
            (r.base + 5, r.base + 6)
        );
        assert!(!shift_tree(&root, r).unwrap());
        // And on to another range.
        let r2 = Range {
            base: 0x0020_0000,
            count: RANGE_SIZE,
        };
        assert!(shift_tree(&root, r2).unwrap());
        assert_eq!(md("etc/l").uid(), r2.base + 5);
    }
}
