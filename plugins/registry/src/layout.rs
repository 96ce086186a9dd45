//! The cache directory as an OCI image layout: `oci-layout`, `blobs/`, and `index.json`
//! rewritten atomically under an exclusive `flock` on `index.json.lock`, so concurrent pulls
//! into one cache each add their entry without losing the others'.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use rustix::fs::{flock, FlockOperation};
use wharf_oci_format::{
    Descriptor, Index, ANNOTATION_REF_NAME, MAX_MANIFEST_SIZE, OCI_LAYOUT_JSON,
};

use crate::error::{Error, ErrorKind, Result};

const LOCK_FILE: &str = "index.json.lock";

/// Creates `dir/oci-layout` and `dir/blobs/` when missing.
pub(crate) fn ensure(dir: &Path) -> Result<()> {
    let blobs = dir.join("blobs");
    fs::create_dir_all(&blobs).map_err(|e| Error::io("create", &blobs, e))?;
    let header = dir.join("oci-layout");
    if !header.exists() {
        write_atomic(&header, OCI_LAYOUT_JSON.as_bytes())?;
    }
    Ok(())
}

/// Reads `dir/index.json` (size-limited); `None` when it does not exist.
pub(crate) fn read_index(dir: &Path) -> Result<Option<Index>> {
    let path = dir.join("index.json");
    let f = match File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io("open", &path, e)),
    };
    let mut bytes = Vec::new();
    f.take(MAX_MANIFEST_SIZE as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io("read", &path, e))?;
    let index = Index::parse(&bytes).map_err(|e| {
        Error::new(
            ErrorKind::InvalidData,
            format!("{}: {}", path.display(), e.message()),
        )
    })?;
    Ok(Some(index))
}

/// Sets the entry tagged `tag` in `dir/index.json` to `desc` (replacing entries with that tag,
/// keeping all others).
pub(crate) fn tag(dir: &Path, tag: &str, desc: &Descriptor) -> Result<()> {
    let lock_path = dir.join(LOCK_FILE);
    let lock = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(&lock_path)
        .map_err(|e| Error::io("create", &lock_path, e))?;
    // Blocking: the holder only reads and rewrites one small file.
    flock(&lock, FlockOperation::LockExclusive)
        .map_err(|e| Error::io("lock", &lock_path, e.into()))?;
    let mut index = read_index(dir)?.unwrap_or_default();
    index.manifests.retain(|d| d.ref_name() != Some(tag));
    let mut entry = desc.clone();
    entry.annotations = BTreeMap::new();
    entry
        .annotations
        .insert(ANNOTATION_REF_NAME.to_string(), tag.to_string());
    index.manifests.push(entry);
    write_atomic(&dir.join("index.json"), &index.to_json())
    // The lock goes with `lock`.
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let tmp = path.with_file_name(format!(
        ".{}.tmp-{}.{}",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("file"),
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    fs::write(&tmp, bytes).map_err(|e| Error::io("write", &tmp, e))?;
    fs::rename(&tmp, path).map_err(|e| {
        let _ = fs::remove_file(&tmp);
        Error::io("rename", &tmp, e)
    })
}
