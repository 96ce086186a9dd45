//! Container image fixtures made with the real tools: OCI layouts built and unpacked by umoci,
//! converted by skopeo, plus hand-made layer tarballs (opaque markers, whiteouts, hostile
//! names) added with `umoci raw add-layer`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::sh;
use std::os::unix::fs::symlink;

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

fn write(root: &Path, rel: &str, data: &str, mode: u32) {
    let p = root.join(rel);
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(&p, data).unwrap();
    sh("chmod", &[&format!("{mode:o}"), p.to_str().unwrap()]);
}

/// A layout whose tag `v3` has four layers: a rich tree (repacked by umoci), deletions and
/// type changes (umoci's explicit whiteouts), and a hand-made layer with an opaque marker
/// after a same-layer child, a whiteout plus re-creation, a write through the usrmerge
/// symlink and a hardlink to a lower-layer file.
pub fn layered_layout(scratch: &Path) -> Layout {
    let l = Layout::init(&scratch.join("layout"));
    let bundle = scratch.join("bundle");
    let r = l.unpack("base", &bundle);
    write(
        &r,
        "etc/passwd",
        "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n",
        0o644,
    );
    write(&r, "etc/group", "root:x:0:\napp:x:1000:\n", 0o644);
    write(&r, "usr/bin/tool", "#!/bin/sh\necho v1\n", 0o755);
    symlink("usr/bin", r.join("bin")).unwrap();
    write(&r, "data/keep.txt", "keep\n", 0o644);
    write(&r, "data/gone.txt", "gone\n", 0o644);
    write(&r, "data/sub/deep.txt", "deep\n", 0o600);
    write(&r, "replaced_dir/inner", "inner\n", 0o644);
    write(&r, "replaced_file", "file\n", 0o644);
    write(&r, "lib/shared.so", "shared object\n", 0o755);
    fs::hard_link(r.join("lib/shared.so"), r.join("lib/shared-link.so")).unwrap();
    write(&r, "opaque_me/old1", "old1\n", 0o644);
    write(&r, "opaque_me/old2/x", "x\n", 0o644);
    write(&r, "usr/bin/su-like", "suid\n", 0o4755);
    fs::create_dir_all(r.join("private")).unwrap();
    sh("chmod", &["700", r.join("private").to_str().unwrap()]);
    sh(
        "setfattr",
        &[
            "-n",
            "user.origin",
            "-v",
            "layer1",
            r.join("data/keep.txt").to_str().unwrap(),
        ],
    );
    l.repack(&bundle, "v1");

    fs::remove_file(r.join("data/gone.txt")).unwrap();
    fs::remove_dir_all(r.join("data/sub")).unwrap();
    fs::remove_dir_all(r.join("replaced_dir")).unwrap();
    write(&r, "replaced_dir", "now a file\n", 0o644);
    fs::remove_file(r.join("replaced_file")).unwrap();
    write(&r, "replaced_file/child", "now a dir\n", 0o644);
    write(&r, "usr/bin/tool", "#!/bin/sh\necho v2\n", 0o755);
    write(&r, "implicit/deep/file", "deep\n", 0o644);
    l.repack(&bundle, "v2");

    let layer = scratch.join("layer3.tar");
    LayerTar::new()
        .file("opaque_me/new1", b"new1\n", 0o644)
        .opaque("opaque_me")
        .whiteout("data/keep.txt")
        .file("data/keep.txt", b"recreated\n", 0o640)
        .file("bin/added", b"through the usrmerge link\n", 0o755)
        .hardlink("lib/shared3.so", "lib/shared.so")
        .write(&layer);
    l.add_layer("v2", "v3", &layer);
    l.config(
        "v3",
        &[
            "--config.entrypoint=/usr/bin/tool",
            "--config.cmd=--flag",
            "--config.cmd=two words",
            "--config.env=A=1",
            "--config.env=B=x y",
            "--config.workingdir=/data",
            "--config.user=app",
            "--config.exposedports=8080/tcp",
            "--config.volume=/vol",
        ],
    );
    fs::remove_dir_all(&bundle).unwrap();
    l
}
