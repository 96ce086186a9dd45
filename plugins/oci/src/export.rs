//! export-oci: a machine becomes a one-layer OCI image, in a layout directory or a tar of one.
//!
//! The layer is the machine's tree as a deterministic tar (the same writer as export-tar),
//! hashed uncompressed (DiffID) and compressed (blob digest) in one pass. The config is the
//! machine's `NAME.oci-config` when it came from a container image (its `rootfs` and `history`
//! replaced, every other field kept as it was), else it is made from `NAME.nspawn`:
//! `Parameters=` → `Cmd` (an init with `Boot=yes`), `Environment=` → `Env`,
//! `WorkingDirectory=`, `User=`, `KillSignal=` → `StopSignal`, `Port=` → `ExposedPorts`.

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use serde_json::{json, Map, Value};
use wharf_compression::Compression;
use wharf_core::store::LockMode;
use wharf_core::{Error, Image, Progress, Result, Store};
use wharf_oci_format::{self as oci, Algorithm, Digest, DigestHasher, Index, Platform};
use wharf_tar::pack::{self, PackError, PackOptions};

use crate::settings::INIT_PATHS;

/// Options of [`export_oci`].
pub struct ExportOptions<'a> {
    /// Layer compression: gzip (the default, what every tool reads), zstd or none.
    pub compression: Compression,
    /// The tag (`org.opencontainers.image.ref.name`) of the image in the layout.
    pub tag: String,
    pub cancel: Option<&'a AtomicBool>,
}

/// What [`export_oci`] wrote.
#[derive(Debug, Clone)]
pub struct Exported {
    pub manifest_digest: Digest,
    pub layer_digest: Digest,
    pub diff_id: Digest,
    pub layer_size: u64,
    pub tar_size: u64,
}

/// Export machine `name` as image `opts.tag` into `out`: a layout directory (created, or an
/// existing layout the image is added to, replacing that tag) or, when `out` ends in `.tar`, an
/// OCI archive (written beside `out` under a temporary name and renamed at the end).
pub fn export_oci(
    store: &Store,
    name: &str,
    out: &Path,
    opts: &ExportOptions,
    progress: &dyn Progress,
) -> Result<Exported> {
    if !matches!(
        opts.compression,
        Compression::Gzip | Compression::Zstd | Compression::None
    ) {
        return Err(Error::InvalidArgument(format!(
            "OCI layers are gzip, zstd or uncompressed, not {}",
            opts.compression.name()
        )));
    }
    check_tag(&opts.tag)?;
    let img = store.find(name)?;
    if !img.kind.is_tree() {
        return Err(Error::Unsupported {
            op: "export-oci",
            why: format!("image {name} is a {} image, not a directory tree", img.kind),
        });
    }
    let _lock = store.lock_name(&img.name, Some(&img), LockMode::Shared)?;
    let archive = out.extension().is_some_and(|e| e == "tar");
    if archive {
        let parent = out
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let tmp = tempfile::Builder::new()
            .prefix(".wharf-oci-")
            .tempdir_in(parent)
            .map_err(|e| Error::io("create temporary directory in", parent, e))?;
        let done = write_layout(store, &img, tmp.path(), opts, progress)?;
        let partial = parent.join(format!(
            ".{}.partial",
            out.file_name().unwrap_or_default().to_string_lossy()
        ));
        tar_layout(tmp.path(), &partial).map_err(|e| Error::io("write", &partial, e))?;
        fs::rename(&partial, out).map_err(|e| Error::io("rename", out, e))?;
        return Ok(done);
    }
    write_layout(store, &img, out, opts, progress)
}

fn check_tag(tag: &str) -> Result<()> {
    let ok = !tag.is_empty()
        && tag.len() <= 128
        && tag
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidArgument(format!("invalid image tag {tag:?}")))
    }
}

fn write_layout(
    store: &Store,
    img: &Image,
    dir: &Path,
    opts: &ExportOptions,
    progress: &dyn Progress,
) -> Result<Exported> {
    let blobs = dir.join("blobs/sha256");
    fs::create_dir_all(&blobs).map_err(|e| Error::io("create", &blobs, e))?;
    let layout_file = dir.join("oci-layout");
    if !layout_file.exists() {
        if dir.join("index.json").exists() {
            return Err(Error::InvalidArgument(format!(
                "{} has an index.json but no oci-layout",
                dir.display()
            )));
        }
        fs::write(&layout_file, oci::OCI_LAYOUT_JSON)
            .map_err(|e| Error::io("write", &layout_file, e))?;
    }
    let layer = write_layer(img, &blobs, opts, progress)?;
    let config = config_for(store, img, &layer.diff_id)?;
    let config_desc = put_blob(&blobs, &config)?;
    let layer_type = match opts.compression {
        Compression::Gzip => "application/vnd.oci.image.layer.v1.tar+gzip",
        Compression::Zstd => "application/vnd.oci.image.layer.v1.tar+zstd",
        _ => "application/vnd.oci.image.layer.v1.tar",
    };
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": config_desc.0.to_string(),
            "size": config_desc.1,
        },
        "layers": [{
            "mediaType": layer_type,
            "digest": layer.digest.to_string(),
            "size": layer.size,
        }],
    });
    let manifest_bytes = serde_json::to_vec(&manifest).expect("serialise manifest");
    let (manifest_digest, manifest_size) = put_blob(&blobs, &manifest_bytes)?;
    update_index(dir, &opts.tag, &manifest_digest, manifest_size)?;
    Ok(Exported {
        manifest_digest,
        layer_digest: layer.digest,
        diff_id: layer.diff_id,
        layer_size: layer.size,
        tar_size: layer.tar_size,
    })
}

struct Layer {
    digest: Digest,
    size: u64,
    diff_id: Digest,
    tar_size: u64,
}

/// Hashes and counts what goes through it; the result is read through the shared handle.
struct HashWriter<W: Write> {
    inner: W,
    state: Arc<Mutex<(Option<DigestHasher>, u64)>>,
}

impl<W: Write> Write for HashWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        let mut s = self.state.lock().unwrap();
        if let Some(h) = s.0.as_mut() {
            h.update(&buf[..n]);
        }
        s.1 += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

fn new_state() -> Arc<Mutex<(Option<DigestHasher>, u64)>> {
    Arc::new(Mutex::new((Some(DigestHasher::new(Algorithm::Sha256)), 0)))
}

fn seal(state: &Arc<Mutex<(Option<DigestHasher>, u64)>>) -> (Digest, u64) {
    let mut s = state.lock().unwrap();
    (s.0.take().expect("sealed once").finish(), s.1)
}

fn write_layer(
    img: &Image,
    blobs: &Path,
    opts: &ExportOptions,
    progress: &dyn Progress,
) -> Result<Layer> {
    let tmp = tempfile::Builder::new()
        .prefix(".tmp-layer-")
        .tempfile_in(blobs)
        .map_err(|e| Error::io("create temporary file in", blobs, e))?;
    let file = tmp.reopen().map_err(|e| Error::io("open", tmp.path(), e))?;
    let stored = new_state();
    let sink = HashWriter {
        inner: BufWriter::with_capacity(1 << 20, file),
        state: Arc::clone(&stored),
    };
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get() as u32);
    let enc = wharf_compression::encoder(opts.compression, Box::new(sink), threads)
        .map_err(|e| Error::io("start compression", blobs, e))?;
    let unpacked = new_state();
    let mut tar = HashWriter {
        inner: enc,
        state: Arc::clone(&unpacked),
    };
    let total = if progress.wants_total() {
        wharf_fsops::tree_usage(&img.path)
            .ok()
            .map(|u| u.apparent_bytes)
    } else {
        None
    };
    progress.begin(&format!("Exporting {}", img.name), total);
    let report = |n: u64| progress.advance(n);
    let popts = PackOptions {
        progress: Some(&report),
        cancel: opts.cancel,
    };
    let packed = pack::pack(&img.path, &mut tar, &popts);
    progress.finish();
    packed.map_err(|e| match e {
        PackError::Cancelled => Error::Cancelled,
        PackError::Io { op, path, source } => Error::Io { op, path, source },
        PackError::Write(source) => Error::io("write layer", blobs, source),
    })?;
    tar.inner
        .finish()
        .map_err(|e| Error::io("finish compression", blobs, e))?;
    let (diff_id, tar_size) = seal(&unpacked);
    let (digest, size) = seal(&stored);
    tmp.as_file()
        .sync_all()
        .map_err(|e| Error::io("fsync", tmp.path(), e))?;
    let to = blobs.join(&digest.hex);
    tmp.persist(&to)
        .map_err(|e| Error::io("rename", &to, e.error))?;
    Ok(Layer {
        digest,
        size,
        diff_id,
        tar_size,
    })
}

/// Store `bytes` under its digest.
fn put_blob(blobs: &Path, bytes: &[u8]) -> Result<(Digest, u64)> {
    let d = Digest::sha256(bytes);
    let p = blobs.join(&d.hex);
    fs::write(&p, bytes).map_err(|e| Error::io("write", &p, e))?;
    Ok((d, bytes.len() as u64))
}

/// Add the manifest to `index.json` under `tag`, replacing an entry with that tag.
fn update_index(dir: &Path, tag: &str, digest: &Digest, size: u64) -> Result<()> {
    let path = dir.join("index.json");
    let mut index = match fs::read(&path) {
        Ok(b) => {
            Index::parse(&b).map_err(|e| Error::InvalidData(format!("{}: {e}", path.display())))?;
            serde_json::from_slice::<Value>(&b)
                .map_err(|e| Error::InvalidData(format!("{}: {e}", path.display())))?
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": []})
        }
        Err(e) => return Err(Error::io("read", &path, e)),
    };
    let manifests = index["manifests"]
        .as_array_mut()
        .ok_or_else(|| Error::InvalidData(format!("{}: no manifests list", path.display())))?;
    manifests.retain(|d| d["annotations"]["org.opencontainers.image.ref.name"] != tag);
    manifests.push(json!({
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": digest.to_string(),
        "size": size,
        "annotations": {"org.opencontainers.image.ref.name": tag},
    }));
    let tmp = dir.join(".index.json.tmp");
    fs::write(&tmp, serde_json::to_vec(&index).expect("serialise index"))
        .map_err(|e| Error::io("write", &tmp, e))?;
    fs::rename(&tmp, &path).map_err(|e| Error::io("rename", &path, e))
}

/// The image config for the exported machine.
fn config_for(store: &Store, img: &Image, diff_id: &Digest) -> Result<Vec<u8>> {
    let sidecar = |suffix: &str| {
        store
            .sidecars(img)
            .into_iter()
            .find(|(_, s)| *s == suffix)
            .map(|(p, _)| p)
    };
    let now = rfc3339_now();
    let history = json!([{"created": now, "created_by": "wharf export-oci"}]);
    let rootfs = json!({"type": "layers", "diff_ids": [diff_id.to_string()]});
    let mut config: Map<String, Value> = match sidecar(".oci-config") {
        Some(p) => {
            let bytes = fs::read(&p).map_err(|e| Error::io("read", &p, e))?;
            serde_json::from_slice(&bytes)
                .map_err(|e| Error::InvalidData(format!("{}: {e}", p.display())))?
        }
        None => {
            let platform = Platform::host();
            let mut m = Map::new();
            m.insert("architecture".into(), platform.architecture.into());
            m.insert("os".into(), platform.os.into());
            if let Some(v) = platform.variant {
                m.insert("variant".into(), v.into());
            }
            let exec = match sidecar(".nspawn") {
                Some(p) => exec_from_nspawn(&p, &img.path)?,
                None => default_exec(&img.path),
            };
            m.insert("config".into(), Value::Object(exec));
            m
        }
    };
    config.insert("created".into(), now.into());
    config.insert("rootfs".into(), rootfs);
    config.insert("history".into(), history);
    Ok(serde_json::to_vec(&Value::Object(config)).expect("serialise config"))
}

/// Without settings: boot the init if there is one.
fn default_exec(root: &Path) -> Map<String, Value> {
    let mut m = Map::new();
    if let Some(init) = INIT_PATHS
        .iter()
        .find(|p| root.join(p.trim_start_matches('/')).exists())
    {
        m.insert("Cmd".into(), json!([init]));
        m.insert("StopSignal".into(), "SIGRTMIN+3".into());
    }
    m
}

fn exec_from_nspawn(path: &Path, root: &Path) -> Result<Map<String, Value>> {
    let text = fs::read(path).map_err(|e| Error::io("read", path, e))?;
    let (s, _warnings) = wharf_nspawn_settings::parse(&text)
        .map_err(|e| Error::InvalidData(format!("{}: {e}", path.display())))?;
    let mut m = default_exec(root);
    let params = s.parameters.clone().unwrap_or_default();
    if s.boot == Some(true) {
        if let Some(Value::Array(cmd)) = m.get_mut("Cmd") {
            cmd.extend(params.into_iter().map(Value::from));
        }
    } else {
        m.remove("StopSignal");
        if params.is_empty() {
            m.remove("Cmd");
        } else {
            m.insert("Cmd".into(), json!(params));
        }
    }
    if !s.environment.is_empty() {
        let env: Vec<String> = s
            .environment
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        m.insert("Env".into(), json!(env));
    }
    if let Some(w) = &s.working_directory {
        m.insert("WorkingDir".into(), w.clone().into());
    }
    if let Some(u) = &s.user {
        m.insert("User".into(), u.clone().into());
    }
    if let Some(k) = &s.kill_signal {
        m.insert("StopSignal".into(), k.clone().into());
    }
    if !s.port.is_empty() {
        let mut ports = Map::new();
        for p in &s.port {
            let proto = match p.protocol {
                wharf_nspawn_settings::Protocol::Tcp => "tcp",
                wharf_nspawn_settings::Protocol::Udp => "udp",
            };
            ports.insert(format!("{}/{proto}", p.machine), json!({}));
        }
        m.insert("ExposedPorts".into(), Value::Object(ports));
    }
    Ok(m)
}

/// UTC now as RFC 3339 (`2026-11-29T07:50:00Z`).
fn rfc3339_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    wharf_core::util::rfc3339_utc(secs)
}

/// Write the layout directory `dir` as an uncompressed tar at `to` (an `oci-archive`).
fn tar_layout(dir: &Path, to: &Path) -> io::Result<()> {
    let f = File::create(to)?;
    let mut b = tar::Builder::new(BufWriter::with_capacity(1 << 20, f));
    b.mode(tar::HeaderMode::Deterministic);
    b.follow_symlinks(false);
    b.append_path_with_name(dir.join("oci-layout"), "oci-layout")?;
    b.append_path_with_name(dir.join("index.json"), "index.json")?;
    b.append_dir_all("blobs", dir.join("blobs"))?;
    let w = b.into_inner()?;
    let f = w.into_inner().map_err(|e| e.into_error())?;
    f.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339() {
        let t = rfc3339_now();
        assert_eq!(t.len(), 20, "{t}");
        assert!(t.starts_with("20") && t.ends_with('Z'));
    }

    #[test]
    fn tags_are_checked() {
        assert!(check_tag("v1.0_rc-2").is_ok());
        assert!(check_tag("").is_err());
        assert!(check_tag("a/b").is_err());
        assert!(check_tag("a:b").is_err());
    }
}
