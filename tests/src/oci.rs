//! Container image fixtures made with the real tools: OCI layouts built and unpacked by umoci,
//! converted by skopeo, plus hand-made layer tarballs (opaque markers, whiteouts, hostile
//! names) added with `umoci raw add-layer`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::sh;

/// An OCI image layout directory managed with umoci.
pub struct Layout {
    pub dir: PathBuf,
}

fn umoci(args: &[&str]) -> String {
    sh("umoci", args)
}

impl Layout {
    /// `umoci init` + an empty image tagged `base`.
    pub fn init(dir: &Path) -> Layout {
        let d = dir.to_str().unwrap();
        umoci(&["init", "--layout", d]);
        umoci(&["new", "--image", &format!("{d}:base")]);
        Layout {
            dir: dir.to_path_buf(),
        }
    }

    /// `DIR:tag`, as umoci and skopeo's `oci:` transport spell images.
    pub fn image(&self, tag: &str) -> String {
        format!("{}:{tag}", self.dir.display())
    }

    /// Unpack `tag` into the bundle `bundle` (umoci's reference extraction) and return its rootfs.
    pub fn unpack(&self, tag: &str, bundle: &Path) -> PathBuf {
        umoci(&[
            "unpack",
            "--image",
            &self.image(tag),
            bundle.to_str().unwrap(),
        ]);
        bundle.join("rootfs")
    }

    /// Snapshot the bundle's rootfs as a new layer: image `to` = `from` + the changes.
    pub fn repack(&self, bundle: &Path, to: &str) {
        umoci(&[
            "repack",
            "--refresh-bundle",
            "--image",
            &self.image(to),
            bundle.to_str().unwrap(),
        ]);
    }

    /// Image `to` = image `from` + the uncompressed layer tarball `layer` (gzip-compressed by
    /// umoci).
    pub fn add_layer(&self, from: &str, to: &str, layer: &Path) {
        umoci(&[
            "raw",
            "add-layer",
            "--image",
            &self.image(from),
            "--tag",
            to,
            layer.to_str().unwrap(),
        ]);
    }

    /// `umoci config` on `tag` with extra arguments, in place.
    pub fn config(&self, tag: &str, args: &[&str]) {
        let image = self.image(tag);
        let mut all = vec!["config", "--image", &image];
        all.extend_from_slice(args);
        umoci(&all);
    }

    /// Path of the blob with this digest (`sha256:…`).
    pub fn blob(&self, digest: &str) -> PathBuf {
        let (alg, hex) = digest.split_once(':').unwrap();
        self.dir.join("blobs").join(alg).join(hex)
    }

    /// The manifest of `tag` as JSON and its digest.
    pub fn manifest(&self, tag: &str) -> (serde_json::Value, String) {
        let index: serde_json::Value =
            serde_json::from_slice(&fs::read(self.dir.join("index.json")).unwrap()).unwrap();
        let desc = index["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["annotations"]["org.opencontainers.image.ref.name"] == tag)
            .unwrap_or_else(|| panic!("no tag {tag} in {}", self.dir.display()));
        let digest = desc["digest"].as_str().unwrap().to_string();
        let m = serde_json::from_slice(&fs::read(self.blob(&digest)).unwrap()).unwrap();
        (m, digest)
    }
}

/// `skopeo copy` with the given transports (e.g. `oci:DIR:tag`, `docker-archive:F:name:tag`).
pub fn skopeo_copy(extra: &[&str], from: &str, to: &str) {
    let mut args = vec!["copy", "--quiet", "--insecure-policy"];
    args.extend_from_slice(extra);
    args.push(from);
    args.push(to);
    sh("skopeo", &args);
}

/// A hand-made layer tarball (PAX, numeric owners root:root).
pub struct LayerTar {
    b: tar::Builder<Vec<u8>>,
}

impl Default for LayerTar {
    fn default() -> Self {
        Self::new()
    }
}

impl LayerTar {
    pub fn new() -> LayerTar {
        let mut b = tar::Builder::new(Vec::new());
        b.mode(tar::HeaderMode::Complete);
        LayerTar { b }
    }

    fn header(kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(1_700_000_000);
        h.set_size(size);
        h
    }

    pub fn file(mut self, path: &str, data: &[u8], mode: u32) -> Self {
        let mut h = Self::header(tar::EntryType::Regular, mode, data.len() as u64);
        self.b.append_data(&mut h, path, data).unwrap();
        self
    }

    pub fn dir(mut self, path: &str, mode: u32) -> Self {
        let mut h = Self::header(tar::EntryType::Directory, mode, 0);
        self.b.append_data(&mut h, path, &[][..]).unwrap();
        self
    }

    pub fn symlink(mut self, path: &str, target: &str) -> Self {
        let mut h = Self::header(tar::EntryType::Symlink, 0o777, 0);
        self.b.append_link(&mut h, path, target).unwrap();
        self
    }

    pub fn hardlink(mut self, path: &str, target: &str) -> Self {
        let mut h = Self::header(tar::EntryType::Link, 0o644, 0);
        self.b.append_link(&mut h, path, target).unwrap();
        self
    }

    /// `DIR/.wh.NAME` for `path` = `DIR/NAME`.
    pub fn whiteout(self, path: &str) -> Self {
        let (dir, name) = path.rsplit_once('/').unwrap_or(("", path));
        let wh = if dir.is_empty() {
            format!(".wh.{name}")
        } else {
            format!("{dir}/.wh.{name}")
        };
        self.file(&wh, b"", 0o644)
    }

    /// `DIR/.wh..wh..opq`.
    pub fn opaque(self, dir: &str) -> Self {
        self.file(&format!("{dir}/.wh..wh..opq"), b"", 0o644)
    }

    /// Write the tarball to `path`.
    pub fn write(self, path: &Path) {
        let bytes = self.b.into_inner().unwrap();
        fs::write(path, bytes).unwrap();
    }
}

/// Start nothing, just check the tools the OCI tests need are installed (loudly).
pub fn require_tools() {
    for tool in ["umoci", "skopeo"] {
        let ok = Command::new(tool)
            .arg("--version")
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
        assert!(
            ok,
            "{tool} is missing: scripts/install-test-deps installs it (Debian package {tool})"
        );
    }
}
