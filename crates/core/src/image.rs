//! The image model: what kinds of image exist and how a store directory entry is recognised.

use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::name;

/// The kinds of image a store holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ImageType {
    /// A plain directory tree.
    Directory,
    /// A btrfs subvolume.
    Subvolume,
    /// A disk image file `NAME.raw`.
    Raw,
    /// A block device (listing only).
    Block,
}

impl ImageType {
    /// machinectl's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ImageType::Directory => "directory",
            ImageType::Subvolume => "subvolume",
            ImageType::Raw => "raw",
            ImageType::Block => "block",
        }
    }

    /// Whether the image is a file-system tree (directory or subvolume).
    pub fn is_tree(self) -> bool {
        matches!(self, ImageType::Directory | ImageType::Subvolume)
    }
}

impl std::fmt::Display for ImageType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One image found in a store directory.
#[derive(Debug, Clone, Serialize)]
pub struct Image {
    pub name: String,
    /// Full path of the image (the directory, `NAME.raw` file, or block device node/symlink).
    pub path: PathBuf,
    #[serde(rename = "type")]
    pub kind: ImageType,
    pub read_only: bool,
    /// Under /usr: never written, renamed or removed.
    pub vendor: bool,
    /// Name starts with ".": listed with --all only, always read-only.
    pub hidden: bool,
    /// Creation time, µs since the epoch, when the filesystem records it.
    pub crtime_usec: Option<u64>,
    /// Modification time of the image's top entry, µs since the epoch.
    pub mtime_usec: Option<u64>,
}

impl Image {
    /// The directory holding the image.
    pub fn dir(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new("/"))
    }

    /// File name of the image entry (`NAME` or `NAME.raw`).
    pub fn file_name(&self) -> String {
        file_name_for(&self.name, self.kind)
    }
}

/// The entry name an image of `kind` called `name` has on disk.
pub fn file_name_for(name: &str, kind: ImageType) -> String {
    if kind == ImageType::Raw {
        format!("{name}.raw")
    } else {
        name.to_string()
    }
}

/// A store entry recognised as an image, before its read-only state and times are read.
#[derive(Debug, Clone)]
pub(crate) struct Candidate {
    pub name: String,
    pub path: PathBuf,
    pub kind: ImageType,
    pub meta: fs::Metadata,
}

/// Recognise directory entry `file_name` of `dir` as an image. Symlinks are followed (the
/// /etc/machines convention); temporary entries, sidecar files and invalid names are skipped.
pub(crate) fn recognise(dir: &Path, file_name: &str) -> Option<Candidate> {
    if name::is_temporary(file_name) {
        return None;
    }
    let path = dir.join(file_name);
    let meta = fs::metadata(&path).ok()?;
    let ft = meta.file_type();
    let (name, kind) = if let Some(stem) = file_name.strip_suffix(".raw") {
        if !ft.is_file() {
            return None;
        }
        (stem, ImageType::Raw)
    } else if ft.is_dir() {
        let kind = if is_subvolume(&path, &meta) {
            ImageType::Subvolume
        } else {
            ImageType::Directory
        };
        (file_name, kind)
    } else if ft.is_block_device() {
        (file_name, ImageType::Block)
    } else {
        return None;
    };
    name::validate(name).ok()?;
    Some(Candidate {
        name: name.to_string(),
        path,
        kind,
        meta,
    })
}

/// A btrfs subvolume root has inode 256 and lives on btrfs.
pub(crate) fn is_subvolume(path: &Path, meta: &fs::Metadata) -> bool {
    if meta.ino() != 256 || !meta.is_dir() {
        return false;
    }
    match fs::File::open(path) {
        Ok(f) => wharf_sys::btrfs::is_subvolume(std::os::fd::AsFd::as_fd(&f)).unwrap_or(false),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_directories_raw_files_and_skips_the_rest() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path();
        fs::create_dir(p.join("tree")).unwrap();
        fs::write(p.join("disk.raw"), b"x").unwrap();
        fs::write(p.join("tree.nspawn"), b"[Exec]\n").unwrap();
        fs::create_dir(p.join(".#tree0123456789abcdef")).unwrap();
        fs::create_dir(p.join("dir.raw")).unwrap();
        fs::create_dir(p.join(".hidden")).unwrap();
        std::os::unix::fs::symlink(p.join("tree"), p.join("link")).unwrap();
        std::os::unix::fs::symlink("/nonexistent", p.join("dangling")).unwrap();

        let t = recognise(p, "tree").unwrap();
        assert_eq!((t.name.as_str(), t.kind), ("tree", ImageType::Directory));
        let r = recognise(p, "disk.raw").unwrap();
        assert_eq!((r.name.as_str(), r.kind), ("disk", ImageType::Raw));
        assert_eq!(recognise(p, "link").unwrap().kind, ImageType::Directory);
        assert_eq!(recognise(p, ".hidden").unwrap().name, ".hidden");
        for skipped in [
            "tree.nspawn",
            ".#tree0123456789abcdef",
            "dir.raw",
            "dangling",
            "none",
        ] {
            assert!(recognise(p, skipped).is_none(), "{skipped}");
        }
    }

    #[test]
    fn file_names_per_type() {
        assert_eq!(file_name_for("a", ImageType::Raw), "a.raw");
        assert_eq!(file_name_for("a", ImageType::Subvolume), "a");
        assert!(ImageType::Subvolume.is_tree() && !ImageType::Raw.is_tree());
    }
}
