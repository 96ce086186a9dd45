//! `convert IN OUT`: qcow2 ↔ raw, written beside OUT and renamed into place.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::Path;

use wharf_core::{Error, Progress, Result};

/// Output format of [`convert`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Raw,
    Qcow2,
}

/// Convert the disk image at `input` (qcow2 or raw, sniffed) to `output` in `format`; for
/// qcow2 output, `compress` selects compressed clusters.
pub fn convert(
    input: &Path,
    output: &Path,
    format: Format,
    compress: Option<wharf_qcow2::CompressionType>,
    progress: &dyn Progress,
) -> Result<()> {
    let file = File::open(input).map_err(|e| Error::io("open", input, e))?;
    let mut head = [0u8; 16];
    let n = file
        .read_at(&mut head, 0)
        .map_err(|e| Error::io("read", input, e))?;
    let in_qcow2 = wharf_qcow2::is_qcow2(&head[..n]);
    // A temporary of an earlier, killed convert to the same output goes first.
    wharf_core::util::remove_stale_temps(output);
    let tmp = wharf_core::util::temp_beside(output);
    let result = (|| {
        let out = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o644)
            .open(&tmp)
            .map_err(|e| Error::io("create", output, e))?;
        let mut report = |b: u64| progress.advance(b);
        match (in_qcow2, format) {
            (true, Format::Raw) => {
                let mut r = open_qcow2(file)?;
                let size = r.virtual_size();
                progress.begin("Converting qcow2 to raw", Some(size));
                let mut out = out;
                r.copy_to_raw(&mut out, &mut report).map_err(qcow2_error)?;
                out.set_len(size)
                    .map_err(|e| Error::io("truncate", &tmp, e))?;
            }
            (false, Format::Raw) => {
                drop(out);
                fs::remove_file(&tmp).map_err(|e| Error::io("remove", &tmp, e))?;
                progress.begin("Copying raw image", None);
                let copy = wharf_fsops::CopyOptions {
                    reflink: true,
                    progress: Some(&|b| progress.advance(b)),
                    cancel: None,
                };
                wharf_fsops::copy_file(input, &tmp, &copy)?;
            }
            (false, Format::Qcow2) => {
                let size = file
                    .metadata()
                    .map_err(|e| Error::io("stat", input, e))?
                    .len();
                progress.begin("Converting raw to qcow2", Some(size));
                let opts = wharf_qcow2::WriteOptions {
                    compress,
                    ..Default::default()
                };
                wharf_qcow2::write_qcow2(file, size, out, &opts, &mut report)
                    .map_err(qcow2_error)?;
            }
            (true, Format::Qcow2) => {
                let r = open_qcow2(file)?;
                let size = r.virtual_size();
                progress.begin("Rewriting qcow2", Some(size));
                let opts = wharf_qcow2::WriteOptions {
                    compress,
                    ..Default::default()
                };
                let raw = QcowAsRaw { r, pos: 0 };
                wharf_qcow2::write_qcow2(raw, size, out, &opts, &mut report)
                    .map_err(qcow2_error)?;
            }
        }
        progress.finish();
        File::open(&tmp)
            .and_then(|f| f.sync_all())
            .map_err(|e| Error::io("fsync", &tmp, e))?;
        fs::rename(&tmp, output).map_err(|e| Error::io("rename", output, e))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

fn open_qcow2(file: File) -> Result<wharf_qcow2::Reader<File>> {
    wharf_qcow2::Reader::open(file, &wharf_qcow2::Options::default()).map_err(qcow2_error)
}

pub(crate) fn qcow2_error(e: wharf_qcow2::Error) -> Error {
    match e {
        wharf_qcow2::Error::Io(io) => Error::io("read qcow2 image", "image", io),
        other => Error::InvalidData(other.to_string()),
    }
}

/// The guest view of a qcow2 image as a plain `Read + Seek` stream.
struct QcowAsRaw {
    r: wharf_qcow2::Reader<File>,
    pos: u64,
}

impl Read for QcowAsRaw {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self
            .r
            .read_at(self.pos, buf)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for QcowAsRaw {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let size = self.r.virtual_size();
        let new = match to {
            SeekFrom::Start(o) => Some(o),
            SeekFrom::End(d) => size.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        }
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "seek out of range"))?;
        self.pos = new;
        Ok(new)
    }
}
