//! Reading an image's state: read-only flag, space usage, and what the OS inside says about itself.

use std::fs::{self, File};
use std::io::Read;
use std::os::fd::AsFd;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use serde::Serialize;

use super::Store;
use crate::error::Result;
use crate::image::{Candidate, Image, ImageType};

/// Space accounting as machinectl shows it. `None` = not known here.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct ImageUsage {
    pub usage: Option<u64>,
    pub usage_exclusive: Option<u64>,
    pub limit: Option<u64>,
    pub limit_exclusive: Option<u64>,
}

/// What `image-status` adds to the listing: facts read from inside the image.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ImageDetails {
    /// PRETTY_NAME (or NAME VERSION) from the image's os-release.
    pub os: Option<String>,
    /// All os-release fields.
    pub os_release: Vec<(String, String)>,
    pub hostname: Option<String>,
    pub machine_id: Option<String>,
}

/// Files read from inside an image are small; never read more than this.
const MAX_INNER_FILE: u64 = 64 * 1024;

impl Store {
    /// The image's own read-only marking (btrfs flag, immutable flag, write bits, BLKROGET).
    pub(crate) fn native_read_only(&self, c: &Candidate) -> bool {
        match c.kind {
            ImageType::Subvolume => match self.backend_for(c.path.parent().unwrap_or(&c.path)) {
                Some(b) => b.read_only(&c.path).unwrap_or(false),
                None => dir_immutable(&c.path),
            },
            ImageType::Directory => dir_immutable(&c.path) || fs_read_only(&c.path),
            ImageType::Raw => c.meta.permissions().mode() & 0o222 == 0 || fs_read_only(&c.path),
            ImageType::Block => File::open(&c.path)
                .and_then(|f| wharf_sys::blkdev::read_only(f.as_fd()))
                .unwrap_or(false),
        }
    }

    /// Space used by `img`: btrfs qgroups when the backend keeps them, else a walk of the tree;
    /// raw files use their allocated blocks and their size as limit.
    pub fn usage(&self, img: &Image) -> Result<ImageUsage> {
        let meta = fs::metadata(&img.path).map_err(|e| crate::Error::io("stat", &img.path, e))?;
        Ok(match img.kind {
            ImageType::Raw => ImageUsage {
                usage: Some(meta.blocks() * 512),
                usage_exclusive: Some(meta.blocks() * 512),
                limit: Some(meta.size()),
                limit_exclusive: Some(meta.size()),
            },
            ImageType::Block => {
                let size = File::open(&img.path)
                    .and_then(|f| wharf_sys::blkdev::size(f.as_fd()))
                    .ok();
                ImageUsage {
                    usage: size,
                    usage_exclusive: size,
                    limit: size,
                    limit_exclusive: size,
                }
            }
            ImageType::Subvolume | ImageType::Directory => {
                let native = match (img.kind, self.backend_for(img.dir())) {
                    (ImageType::Subvolume, Some(b)) => b.usage(&img.path).ok().flatten(),
                    _ => None,
                };
                match native {
                    Some(u) => ImageUsage {
                        usage: Some(u.referenced),
                        usage_exclusive: Some(u.exclusive),
                        limit: u.limit,
                        limit_exclusive: u.limit,
                    },
                    None => {
                        let t = wharf_fsops::tree_usage(&img.path)?;
                        ImageUsage {
                            usage: Some(t.disk_bytes),
                            usage_exclusive: None,
                            limit: None,
                            limit_exclusive: None,
                        }
                    }
                }
            }
        })
    }

    /// OS name, hostname and machine ID from inside a tree image. Paths resolve inside the
    /// image (absolute symlinks such as /etc/os-release → /usr/lib/os-release stay inside).
    pub fn details(&self, img: &Image) -> ImageDetails {
        if !img.kind.is_tree() {
            return ImageDetails::default();
        }
        let Ok(root) = File::open(&img.path) else {
            return ImageDetails::default();
        };
        let read = |p: &str| -> Option<Vec<u8>> {
            let fd = wharf_sys::fs::open_in_root(root.as_fd(), Path::new(p)).ok()?;
            let mut buf = Vec::new();
            File::from(fd)
                .take(MAX_INNER_FILE)
                .read_to_end(&mut buf)
                .ok()?;
            Some(buf)
        };
        let os_release = read("etc/os-release")
            .or_else(|| read("usr/lib/os-release"))
            .map(|b| wharf_os_release::parse(&b))
            .unwrap_or_default();
        let first_line = |b: Vec<u8>| {
            String::from_utf8_lossy(&b)
                .lines()
                .map(str::trim)
                .find(|l| !l.is_empty() && !l.starts_with('#'))
                .map(str::to_string)
        };
        let hostname = read("etc/hostname").and_then(first_line);
        let machine_id = read("etc/machine-id")
            .and_then(first_line)
            .filter(|id| id.len() == 32 && id.bytes().all(|c| c.is_ascii_hexdigit()));
        ImageDetails {
            os: wharf_os_release::pretty_name(&os_release),
            os_release,
            hostname,
            machine_id,
        }
    }
}

/// Whether directory `path` carries FS_IMMUTABLE_FL (`chattr +i`).
pub(crate) fn dir_immutable(path: &Path) -> bool {
    File::open(path)
        .and_then(|f| wharf_sys::fsflags::get_flags(f.as_fd()))
        .map(|fl| fl & wharf_sys::fsflags::FS_IMMUTABLE_FL != 0)
        .unwrap_or(false)
}

/// Whether the filesystem holding `path` is mounted read-only.
fn fs_read_only(path: &Path) -> bool {
    rustix::fs::statvfs(path)
        .map(|s| s.f_flag.contains(rustix::fs::StatVfsMountFlags::RDONLY))
        .unwrap_or(false)
}
