//! import-oci and import-docker: container images become machines, through staging.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::fd::AsFd;
use std::path::Path;
use std::sync::atomic::AtomicBool;

use rustix::fs::{AtFlags, FileType, Mode, OFlags};
use wharf_core::{Error, Image, ImageType, Progress, Result, Store};
use wharf_oci_format::Platform;

use crate::apply::{apply_layers, ApplyStats};
use crate::layered;
use crate::resolve::{resolve, Resolved, Selector};
use crate::settings;
use crate::source::{DirSource, Source, TarSource};

/// Options of [`import_oci`].
#[derive(Default)]
pub struct OciImportOptions<'a> {
    pub force: bool,
    pub read_only: bool,
    /// `--ref`: the tag to import from a layout holding several images.
    pub tag: Option<String>,
    /// `--platform`; the host's when absent.
    pub platform: Option<Platform>,
    pub cancel: Option<&'a AtomicBool>,
    /// Keep every layer as a read-only btrfs subvolume shared with other images
    /// ([`crate::layered`]); the store must be on btrfs.
    pub layered: bool,
}

/// What an import did.
#[derive(Debug, Clone)]
pub struct Imported {
    pub image: Image,
    pub stats: ApplyStats,
    pub resolved: Resolved,
}

/// Open a layout: a directory, a tar file, or a compressed tar / standard input (decompressed
/// into an unnamed temporary file in `spool_dir` first, since layouts need random access).
pub fn open_source(path: &str, spool_dir: &Path) -> Result<Box<dyn Source>> {
    if path != "-" {
        let p = Path::new(path);
        let md = std::fs::metadata(p).map_err(|e| Error::io("open", p, e))?;
        if md.is_dir() {
            return Ok(Box::new(
                DirSource::open(p).map_err(|e| Error::io("open", p, e))?,
            ));
        }
    }
    let mut input: Box<dyn Read + Send> = if path == "-" {
        Box::new(io::stdin())
    } else {
        Box::new(File::open(path).map_err(|e| Error::io("open", Path::new(path), e))?)
    };
    let mut head = [0u8; 8];
    let mut got = 0;
    while got < head.len() {
        match input.read(&mut head[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::io("read", Path::new(path), e)),
        }
    }
    let compression = wharf_compression::sniff(&head[..got]);
    let file = if path != "-" && compression == wharf_compression::Compression::None {
        let mut f = File::open(path).map_err(|e| Error::io("open", Path::new(path), e))?;
        f.seek(SeekFrom::Start(0))
            .map_err(|e| Error::io("seek", Path::new(path), e))?;
        f
    } else {
        let chained: Box<dyn Read + Send> =
            Box::new(io::Cursor::new(head[..got].to_vec()).chain(input));
        let mut decoded = wharf_compression::decoder(compression, chained)
            .map_err(|e| Error::io("decompress", Path::new(path), e))?;
        let mut spool = tempfile::tempfile_in(spool_dir)
            .map_err(|e| Error::io("create temporary file in", spool_dir, e))?;
        io::copy(&mut decoded, &mut spool)
            .map_err(|e| Error::InvalidData(format!("{path}: {e}")))?;
        spool
            .seek(SeekFrom::Start(0))
            .map_err(|e| Error::io("seek", spool_dir, e))?;
        spool
    };
    let name = if path == "-" { "standard input" } else { path };
    Ok(Box::new(
        TarSource::open(file, name).map_err(|e| Error::InvalidData(e.to_string()))?,
    ))
}

/// Import the image chosen by `opts` from `src` as the machine `name`: layers applied into
/// the staging tree, `NAME.nspawn` from the config, the raw config as `NAME.oci-config` and
/// where it came from as `NAME.oci-origin`.
pub fn import_oci(
    store: &Store,
    src: &dyn Source,
    origin: &str,
    name: &str,
    opts: &OciImportOptions,
    progress: &dyn Progress,
) -> Result<Imported> {
    let mut staging = store.stage(name, ImageType::Directory, opts.force)?;
    let sel = Selector {
        tag: opts.tag.clone(),
        platform: opts.platform.clone(),
    };
    let resolved = resolve(src, &sel)?;
    let stats = if opts.layered {
        let chain = layered::build_chain(store, src, &resolved, opts.cancel, progress)?;
        match &chain.top {
            Some(top) => {
                if !staging.create_tree_as_snapshot(&top.path)? {
                    return Err(Error::Unsupported {
                        op: "--layered",
                        why: "layer subvolumes need a store on btrfs".into(),
                    });
                }
            }
            None => {
                staging.create_tree()?;
            }
        }
        chain.stats
    } else {
        staging.create_tree()?;
        apply_layers(src, &resolved.layers, staging.path(), opts.cancel, progress)?
    };
    finish_tree(staging.path(), &resolved)?;
    let settings = settings::from_config(&resolved.config, staging.path())?;
    staging.add_sidecar_bytes(settings.to_nspawn(origin).as_bytes(), ".nspawn")?;
    staging.add_sidecar_bytes(&resolved.config_bytes, ".oci-config")?;
    staging.add_sidecar_bytes(&origin_json(origin, &resolved), ".oci-origin")?;
    let image = staging.commit(opts.read_only)?;
    Ok(Imported {
        image,
        stats,
        resolved,
    })
}

/// `NAME.oci-origin`: the reference and digests the machine was made from.
pub fn origin_json(origin: &str, r: &Resolved) -> Vec<u8> {
    let mut m = serde_json::Map::new();
    m.insert("reference".into(), origin.into());
    if let Some(t) = &r.tag {
        m.insert("tag".into(), t.clone().into());
    }
    if let Some(d) = &r.manifest_digest {
        m.insert("manifestDigest".into(), d.to_string().into());
    }
    if let Some(d) = &r.config_digest {
        m.insert("configDigest".into(), d.to_string().into());
    }
    m.insert("platform".into(), r.config.platform().to_string().into());
    m.insert(
        "layers".into(),
        r.layers
            .iter()
            .map(|l| serde_json::Value::from(l.diff_id.to_string()))
            .collect::<Vec<_>>()
            .into(),
    );
    let mut out = serde_json::to_vec_pretty(&serde_json::Value::Object(m)).unwrap_or_default();
    out.push(b'\n');
    out
}

/// What a container image lacks to be a machine: volume directories, and an empty
/// `/etc/machine-id` so systemd treats the first boot as such.
fn finish_tree(root: &Path, r: &Resolved) -> Result<()> {
    for v in &r.config.config.volumes {
        mkdir_in_root(root, v)?;
    }
    prepare_machine_id(root)
}

/// Create `path` (and its parents) inside `root`, resolving symlinks as if `root` were `/`.
pub fn mkdir_in_root(root: &Path, path: &str) -> Result<()> {
    let dir = File::open(root).map_err(|e| Error::io("open", root, e))?;
    let mut cur = String::from("/");
    for comp in path.split('/').filter(|c| !c.is_empty() && *c != ".") {
        if comp == ".." {
            return Err(Error::InvalidData(format!(
                "volume path {path:?} has \"..\""
            )));
        }
        let parent = wharf_sys::fs::open_in_root_with(
            dir.as_fd(),
            Path::new(&cur),
            OFlags::PATH | OFlags::DIRECTORY,
        )
        .map_err(|e| Error::io("open", root.join(cur.trim_start_matches('/')), e))?;
        // The parent keeps its times from the image: open it for real to restore them.
        let parent_dir = wharf_sys::fs::open_in_root_with(
            dir.as_fd(),
            Path::new(&cur),
            OFlags::RDONLY | OFlags::DIRECTORY,
        )
        .map_err(|e| Error::io("open", root.join(cur.trim_start_matches('/')), e))?;
        let before = rustix::fs::fstat(&parent_dir)
            .map_err(|e| Error::io("stat", root.join(cur.trim_start_matches('/')), e.into()))?;
        match rustix::fs::mkdirat(&parent, comp, Mode::from_raw_mode(0o755)) {
            Ok(()) => {
                let times = rustix::fs::Timestamps {
                    last_access: rustix::fs::Timespec {
                        tv_sec: before.st_atime,
                        tv_nsec: before.st_atime_nsec as _,
                    },
                    last_modification: rustix::fs::Timespec {
                        tv_sec: before.st_mtime,
                        tv_nsec: before.st_mtime_nsec as _,
                    },
                };
                rustix::fs::futimens(&parent_dir, &times).map_err(|e| {
                    Error::io(
                        "set times",
                        root.join(cur.trim_start_matches('/')),
                        e.into(),
                    )
                })?;
                // The new directory takes the same times, so imports are reproducible.
                rustix::fs::utimensat(&parent, comp, &times, AtFlags::SYMLINK_NOFOLLOW).map_err(
                    |e| {
                        Error::io(
                            "set times",
                            root.join(path.trim_start_matches('/')),
                            e.into(),
                        )
                    },
                )?;
            }
            Err(rustix::io::Errno::EXIST) => {}
            Err(e) => {
                return Err(Error::io(
                    "mkdir",
                    root.join(path.trim_start_matches('/')),
                    e.into(),
                ))
            }
        }
        if !cur.ends_with('/') {
            cur.push('/');
        }
        cur.push_str(comp);
    }
    Ok(())
}

/// An image's `/etc/machine-id` must not carry the ID of whatever built it: a non-empty one is
/// emptied (Debian's convention for "not yet initialised"); a missing one stays missing
/// (systemd writes it on first boot).
fn prepare_machine_id(root: &Path) -> Result<()> {
    let dir = File::open(root).map_err(|e| Error::io("open", root, e))?;
    let Ok(etc) = wharf_sys::fs::open_in_root_with(
        dir.as_fd(),
        Path::new("/etc"),
        OFlags::PATH | OFlags::DIRECTORY,
    ) else {
        return Ok(());
    };
    let p = root.join("etc/machine-id");
    let st = match rustix::fs::statat(&etc, "machine-id", AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) => st,
        Err(rustix::io::Errno::NOENT) => return Ok(()),
        Err(e) => return Err(Error::io("stat", &p, e.into())),
    };
    // A symlink or anything but a non-empty file is the image's own choice.
    if FileType::from_raw_mode(st.st_mode) == FileType::RegularFile && st.st_size > 0 {
        let flags = OFlags::WRONLY | OFlags::TRUNC | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        rustix::fs::openat(&etc, "machine-id", flags, Mode::empty())
            .map_err(|e| Error::io("truncate", &p, e.into()))?;
    }
    Ok(())
}
