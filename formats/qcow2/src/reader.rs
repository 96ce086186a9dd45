//! [`Reader`]: opens and validates an image, maps the guest address space to [`Extent`]s and
//! reads decoded guest bytes.

use std::io::{self, Read, Seek, SeekFrom};

use crate::backing::{read_backing, ReadAt};
use crate::compress::Decompressor;
use crate::header::Header;
use crate::map::{Geometry, Kind};
use crate::table::{read_exact_at, Tables};
use crate::Error;

/// How an image is opened.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Accept images naming a backing file. Off by default: the name is untrusted (it can name
    /// `/etc/shadow` or `/dev/sda`). When on, the caller resolves the name (see
    /// [`crate::check_backing_name`]) and attaches the backing image with
    /// [`Reader::with_backing`]; reading unallocated clusters without one fails.
    pub allow_backing_file: bool,
}

/// A run of the guest address space.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Extent {
    /// Bytes with content (allocated, compressed, or from the backing image).
    Data { offset: u64, len: u64 },
    /// Bytes reading as zeros (unallocated without backing, zero flag, past the backing image).
    Zero { offset: u64, len: u64 },
}

impl Extent {
    /// Guest offset of the first byte.
    pub fn offset(&self) -> u64 {
        match *self {
            Extent::Data { offset, .. } | Extent::Zero { offset, .. } => offset,
        }
    }

    /// Length in bytes (never 0).
    pub fn len(&self) -> u64 {
        match *self {
            Extent::Data { len, .. } | Extent::Zero { len, .. } => len,
        }
    }

    /// Always false: extents are never empty (for clippy's `len_without_is_empty`).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Guest offset one past the last byte.
    pub fn end(&self) -> u64 {
        self.offset() + self.len()
    }

    /// Whether this is a [`Extent::Data`].
    pub fn is_data(&self) -> bool {
        matches!(self, Extent::Data { .. })
    }
}

/// An attached backing image and its size, once asked.
struct Backing {
    image: Box<dyn ReadAt>,
    size: Option<u64>,
}

/// A validated qcow2 image over a `Read + Seek` stream.
pub struct Reader<R: Read + Seek> {
    pub(crate) file: R,
    header: Header,
    pub(crate) tables: Tables,
    backing: Option<Backing>,
    dec: Option<Decompressor>,
    /// Compressed stream buffer (at most two clusters).
    cin: Vec<u8>,
    /// Last decompressed cluster and the host offset of its stream.
    cout: Vec<u8>,
    cout_of: Option<u64>,
}

impl<R: Read + Seek> Reader<R> {
    /// Opens an image: parses and validates the header, header extensions, the L1 table and
    /// every L2 table (one at a time) before returning, so that metadata errors surface here.
    /// Decompression errors surface when a compressed cluster is read.
    pub fn open(mut r: R, opts: &Options) -> Result<Self, Error> {
        let file_len = r.seek(SeekFrom::End(0))?;
        let mut head = vec![0u8; file_len.min(4096) as usize];
        read_exact_at(&mut r, 0, &mut head)?;
        if head.len() >= 24 && crate::is_qcow2(&head) {
            let bits = u32::from_be_bytes([head[20], head[21], head[22], head[23]]);
            if (crate::header::MIN_CLUSTER_BITS..=crate::header::MAX_CLUSTER_BITS).contains(&bits)
                && (1u64 << bits) > head.len() as u64
                && file_len > head.len() as u64
            {
                head.resize(file_len.min(1 << bits) as usize, 0);
                read_exact_at(&mut r, 0, &mut head)?;
            }
        }
        let header = Header::parse(&head, file_len)?;
        if let Some(name) = &header.backing_file {
            if !opts.allow_backing_file {
                return Err(Error::BackingFile(name.clone()));
            }
        }
        let geo = Geometry::new(&header, file_len);
        let mut tables = Tables::load(&mut r, &header, geo)?;
        tables.validate_all(&mut r)?;
        Ok(Reader {
            file: r,
            header,
            tables,
            backing: None,
            dec: None,
            cin: Vec::new(),
            cout: Vec::new(),
            cout_of: None,
        })
    }

    /// Attaches the backing image that unallocated clusters read from (zeros past its end).
    /// Ignored by images without a backing file.
    pub fn with_backing(mut self, backing: Box<dyn ReadAt>) -> Self {
        self.backing = Some(Backing {
            image: backing,
            size: None,
        });
        self
    }

    /// The validated header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// Virtual disk size in bytes.
    pub fn virtual_size(&self) -> u64 {
        self.header.size
    }

    /// Gives back the underlying stream.
    pub fn into_inner(self) -> R {
        self.file
    }

    /// Iterates the guest address space in order as maximal [`Extent`]s, reading one L2 table
    /// at a time. Iteration stops after the first error.
    pub fn extents(&mut self) -> Extents<'_, R> {
        Extents {
            reader: self,
            pos: 0,
            pending: None,
            failed: false,
        }
    }

    /// Bytes of [`Extent::Data`]: what [`Reader::copy_to_raw`] reads and at most writes
    /// (check free space with it before converting). Reads every L2 table once.
    pub fn allocated_bytes(&mut self) -> Result<u64, Error> {
        let mut total = 0;
        for e in self.extents() {
            if let Extent::Data { len, .. } = e? {
                total += len;
            }
        }
        Ok(total)
    }

    /// The backing image for unallocated clusters and its size: `Ok(None)` when the image has
    /// none (zeros), an error when it names one that was not attached.
    pub(crate) fn backing(&mut self) -> Result<Option<(&mut (dyn ReadAt + 'static), u64)>, Error> {
        match (&self.header.backing_file, &mut self.backing) {
            (None, _) => Ok(None),
            (Some(_), Some(b)) => {
                let size = match b.size {
                    Some(s) => s,
                    None => *b.size.insert(b.image.size()?),
                };
                Ok(Some((b.image.as_mut(), size)))
            }
            (Some(name), None) => Err(Error::MissingBacking(name.clone())),
        }
    }

    /// The extent starting at `pos` (< virtual size), not merged with its neighbours.
    fn extent_at(&mut self, pos: u64) -> Result<Extent, Error> {
        let (kind, len) = self.tables.run(&mut self.file, pos)?;
        Ok(match kind {
            Kind::Zero => Extent::Zero { offset: pos, len },
            Kind::Data(_) | Kind::Compressed { .. } => Extent::Data { offset: pos, len },
            Kind::Unallocated => match self.backing()? {
                None => Extent::Zero { offset: pos, len },
                Some((_, bsize)) => {
                    let inside = bsize.saturating_sub(pos).min(len);
                    if inside > 0 {
                        Extent::Data {
                            offset: pos,
                            len: inside,
                        }
                    } else {
                        Extent::Zero { offset: pos, len }
                    }
                }
            },
        })
    }

    /// Decompresses the cluster whose stream starts at `offset` into `self.cout` (cached).
    pub(crate) fn decompress(&mut self, offset: u64, len: u64) -> Result<&[u8], Error> {
        if self.cout_of != Some(offset) {
            self.cout_of = None;
            if self.dec.is_none() {
                self.dec = Some(Decompressor::new(self.header.compression)?);
            }
            self.cin.resize(len as usize, 0);
            read_exact_at(&mut self.file, offset, &mut self.cin)?;
            self.cout.resize(self.header.cluster_size() as usize, 0);
            if let Some(d) = self.dec.as_mut() {
                d.cluster(&self.cin, &mut self.cout)?;
            }
            self.cout_of = Some(offset);
        }
        Ok(&self.cout)
    }

    /// Reads decoded guest bytes at `guest_offset` into `buf`: returns `buf.len()`, or fewer at
    /// the end of the virtual disk (0 at or past it).
    pub fn read_at(&mut self, guest_offset: u64, buf: &mut [u8]) -> Result<usize, Error> {
        let n = self
            .virtual_size()
            .saturating_sub(guest_offset)
            .min(buf.len() as u64) as usize;
        let mut done = 0;
        while done < n {
            let pos = guest_offset + done as u64;
            let (kind, len) = self.tables.run(&mut self.file, pos)?;
            let take = len.min((n - done) as u64) as usize;
            let out = &mut buf[done..done + take];
            match kind {
                Kind::Zero => out.fill(0),
                Kind::Unallocated => match self.backing()? {
                    None => out.fill(0),
                    Some((b, bsize)) => read_backing(b, bsize, pos, out)?,
                },
                Kind::Data(host) => read_exact_at(&mut self.file, host, out)?,
                Kind::Compressed { offset, len } => {
                    let in_cluster = (pos & (self.header.cluster_size() - 1)) as usize;
                    let data = self.decompress(offset, len)?;
                    out.copy_from_slice(&data[in_cluster..in_cluster + take]);
                }
            }
            done += take;
        }
        Ok(n)
    }
}

impl<R: Read + Seek + Send> ReadAt for Reader<R> {
    fn size(&mut self) -> io::Result<u64> {
        Ok(self.virtual_size())
    }

    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        Reader::read_at(self, offset, buf).map_err(|e| match e {
            Error::Io(e) => e,
            e => io::Error::other(e),
        })
    }
}

/// Iterator returned by [`Reader::extents`].
pub struct Extents<'a, R: Read + Seek> {
    reader: &'a mut Reader<R>,
    pos: u64,
    pending: Option<Extent>,
    failed: bool,
}

impl<R: Read + Seek> Iterator for Extents<'_, R> {
    type Item = Result<Extent, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        while self.pos < self.reader.virtual_size() {
            let e = match self.reader.extent_at(self.pos) {
                Ok(e) => e,
                Err(err) => {
                    self.failed = true;
                    return Some(Err(err));
                }
            };
            self.pos = e.end();
            match self.pending {
                None => self.pending = Some(e),
                Some(p) if p.is_data() == e.is_data() => {
                    self.pending = Some(match p {
                        Extent::Data { offset, len } => Extent::Data {
                            offset,
                            len: len + e.len(),
                        },
                        Extent::Zero { offset, len } => Extent::Zero {
                            offset,
                            len: len + e.len(),
                        },
                    })
                }
                Some(p) => {
                    self.pending = Some(e);
                    return Some(Ok(p));
                }
            }
        }
        self.pending.take().map(Ok)
    }
}
