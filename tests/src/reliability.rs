//! Support for the reliability suite (`tests/tests/reliability_*.rs`, run with more rounds by
//! `scripts/reliability`): a seeded random generator whose seed is printed, the number of
//! rounds, fingerprints of whole stores (to prove "unchanged"), the store invariants checked
//! after every crash or refusal, and the `RELIABILITY key=value` summary lines the script adds up.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::tree::{walk, xattrs};
use crate::{listed, ok, temporaries};

/// `WHARF_RELIABILITY_ROUNDS` scaled: `base` in the normal suite, `base * ROUNDS / 20` when the
/// variable is set (scripts/reliability sets 100: five times the kill points).
pub fn rounds(base: usize) -> usize {
    match std::env::var("WHARF_RELIABILITY_ROUNDS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
    {
        Some(r) if r > 0 => (base * r).div_ceil(20).max(1),
        _ => base,
    }
}

/// A small deterministic generator (splitmix64). The seed comes from `WHARF_RELIABILITY_SEED`
/// or the clock and is printed, so a failing run can be repeated exactly.
pub struct Rng(u64);

impl Rng {
    pub fn from_env(what: &str) -> Rng {
        let seed = std::env::var("WHARF_RELIABILITY_SEED")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_nanos() as u64
            });
        println!("RELIABILITY-SEED {what}: WHARF_RELIABILITY_SEED={seed}");
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..=max`.
    pub fn below_eq(&mut self, max: u64) -> u64 {
        self.next_u64() % (max + 1)
    }
}

/// Print one summary line for scripts/reliability: `RELIABILITY <part> key=value …`.
pub fn report(part: &str, counts: &[(&str, usize)]) {
    let kv: Vec<String> = counts.iter().map(|(k, v)| format!("{k}={v}")).collect();
    println!("RELIABILITY {part} {}", kv.join(" "));
}

/// Everything about a tree that a damaged copy would change: per entry its type and mode,
/// owner, size, device number, nanosecond mtime, xattrs, symlink target and (for regular
/// files) sha256 of the contents. Entries are keyed by path relative to `root`; `root` itself
/// is the key "".
pub fn fingerprint(root: &Path) -> BTreeMap<PathBuf, String> {
    let mut out = BTreeMap::new();
    let meta = fs::symlink_metadata(root).unwrap();
    if !meta.is_dir() {
        let mut line = entry_line(root, &meta);
        if meta.is_file() {
            line.push_str(&format!(" sha256={}", sha256_file(root)));
        }
        out.insert(PathBuf::new(), line);
        return out;
    }
    let entries = walk(root);
    let files: Vec<PathBuf> = entries
        .iter()
        .filter(|r| fs::symlink_metadata(root.join(r)).is_ok_and(|m| m.is_file() && m.len() > 0))
        .cloned()
        .collect();
    let sums = sha256_many(root, &files);
    for rel in std::iter::once(PathBuf::new()).chain(entries) {
        let p = root.join(&rel);
        let m = fs::symlink_metadata(&p).unwrap();
        let mut line = entry_line(&p, &m);
        if let Some(s) = sums.get(&rel) {
            line.push_str(&format!(" sha256={s}"));
        }
        out.insert(rel, line);
    }
    out
}

fn entry_line(p: &Path, m: &fs::Metadata) -> String {
    let mut line = format!(
        "mode={:o} uid={} gid={} size={} rdev={} mtime={}.{:09} xattrs={:?}",
        m.mode(),
        m.uid(),
        m.gid(),
        if m.is_dir() { 0 } else { m.size() },
        m.rdev(),
        m.mtime(),
        m.mtime_nsec(),
        xattrs(p)
    );
    if m.file_type().is_symlink() {
        line.push_str(&format!(" -> {:?}", fs::read_link(p).unwrap()));
    }
    line
}

/// sha256 of one file, by `sha256sum`.
pub fn sha256_file(p: &Path) -> String {
    let out = crate::sh("sha256sum", &[p.to_str().unwrap()]);
    out.split_whitespace().next().unwrap_or("").to_string()
}

fn sha256_many(root: &Path, files: &[PathBuf]) -> BTreeMap<PathBuf, String> {
    let mut out = BTreeMap::new();
    for chunk in files.chunks(500) {
        let o = Command::new("sha256sum")
            .arg("-z")
            .arg("--")
            .args(chunk)
            .current_dir(root)
            .output()
            .expect("sha256sum");
        assert!(o.status.success(), "sha256sum failed in {}", root.display());
        // With -z, each record is "HASH  NAME\0".
        for (rec, rel) in o
            .stdout
            .split(|b| *b == 0)
            .filter(|r| !r.is_empty())
            .zip(chunk)
        {
            let s = String::from_utf8_lossy(&rec[..64.min(rec.len())]).into_owned();
            out.insert(rel.clone(), s);
        }
    }
    out
}

/// A whole store: every entry in `root` that is not a `.#` temporary, fingerprinted.
pub fn store_fingerprint(root: &Path) -> BTreeMap<String, BTreeMap<PathBuf, String>> {
    let mut out = BTreeMap::new();
    let Ok(rd) = fs::read_dir(root) else {
        return out;
    };
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with(".#") {
            continue;
        }
        out.insert(name, fingerprint(&e.path()));
    }
    out
}

/// A store's fingerprint as [`store_fingerprint`] gives it.
pub type StorePrint = BTreeMap<String, BTreeMap<PathBuf, String>>;

/// [`store_fingerprint`] for comparing the results of two runs of one operation: the top entry
/// of each image (and each sidecar file) is created anew by every run, so its own mtime is left
/// out.
pub fn comparable(root: &Path) -> StorePrint {
    let mut fp = store_fingerprint(root);
    for entries in fp.values_mut() {
        if let Some(top) = entries.get_mut(Path::new("")) {
            *top = strip_mtime(top);
        }
    }
    fp
}

/// A fingerprint line without its `mtime=` field.
pub fn strip_mtime(line: &str) -> String {
    line.split(' ')
        .filter(|w| !w.starts_with("mtime="))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Assert two store fingerprints are equal, naming the first difference.
pub fn assert_same_store(
    before: &BTreeMap<String, BTreeMap<PathBuf, String>>,
    after: &BTreeMap<String, BTreeMap<PathBuf, String>>,
    ctx: &str,
) {
    let names = |m: &BTreeMap<String, _>| m.keys().cloned().collect::<Vec<_>>();
    assert_eq!(names(before), names(after), "{ctx}: store entries changed");
    for (name, fa) in before {
        let fb = &after[name];
        if fa != fb {
            let diff = fa
                .iter()
                .find(|(k, v)| fb.get(*k) != Some(*v))
                .map(|(k, v)| format!("{}: {v} vs {:?}", k.display(), fb.get(k)))
                .or_else(|| {
                    fb.keys()
                        .find(|k| !fa.contains_key(*k))
                        .map(|k| format!("{} appeared", k.display()))
                })
                .unwrap_or_default();
            panic!("{ctx}: image entry {name} changed: {diff}");
        }
    }
}

/// Names `list-images --all --json` shows.
pub fn listed_names(root: &Path) -> Vec<String> {
    listed(root).into_iter().map(|i| i.0).collect()
}

/// The store invariants after a crash or a refused operation: nothing listed beyond `allowed`
/// (no staging `.#` name, no half-written image), and after `wharf clean` no `.#` entry at all.
/// Returns how many `.#` entries clean removed.
pub fn check_and_clean(root: &Path, allowed: &[&str], ctx: &str) -> usize {
    let names = listed_names(root);
    for n in &names {
        assert!(
            !n.starts_with(".#") && allowed.contains(&n.as_str()),
            "{ctx}: unexpected image {n:?} listed (allowed {allowed:?}); all: {names:?}"
        );
    }
    let residue = temporaries(root).len();
    ok(root, &["clean"]);
    let left = temporaries(root);
    assert!(left.is_empty(), "{ctx}: clean left {left:?}");
    residue
}

/// A directory outside every store whose contents must never change: any file appearing in it
/// means an input wrote outside its target.
pub struct Canary {
    pub dir: PathBuf,
}

impl Canary {
    pub fn new(parent: &Path) -> Canary {
        let dir = parent.join("canary");
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("untouched"), b"canary\n").unwrap();
        Canary { dir }
    }

    pub fn assert_untouched(&self, ctx: &str) {
        let names: Vec<String> = fs::read_dir(&self.dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, vec!["untouched".to_string()], "{ctx}: wrote outside");
        assert_eq!(
            fs::read(self.dir.join("untouched")).unwrap(),
            b"canary\n",
            "{ctx}: canary changed"
        );
    }
}

/// A small image with some of everything (xattrs, symlinks, a hardlink, modes), cheap to
/// fingerprint: the "pre-existing image" every crash test must leave undamaged.
pub fn small_image(dir: &Path) {
    use std::os::unix::fs::{symlink, PermissionsExt};
    fs::create_dir_all(dir.join("etc")).unwrap();
    fs::create_dir_all(dir.join("usr/bin")).unwrap();
    fs::write(dir.join("etc/os-release"), "ID=keep\n").unwrap();
    fs::write(dir.join("usr/bin/tool"), vec![0x5au8; 200_000]).unwrap();
    fs::set_permissions(dir.join("usr/bin/tool"), fs::Permissions::from_mode(0o4755)).unwrap();
    fs::hard_link(dir.join("usr/bin/tool"), dir.join("usr/bin/tool2")).unwrap();
    symlink("../usr/bin/tool", dir.join("etc/link")).unwrap();
    crate::sh(
        "setfattr",
        &[
            "-n",
            "user.keep",
            "-v",
            "1",
            dir.join("etc/os-release").to_str().unwrap(),
        ],
    );
}
