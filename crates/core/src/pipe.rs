//! A reader that runs its source in a separate thread, so decompression (or download) and the
//! consumer (extraction) overlap on two cores. Chunks travel through a bounded channel, which
//! caps the memory in flight at `depth × chunk` bytes.

use std::io::{self, Read};
use std::sync::mpsc::{sync_channel, Receiver};
use std::thread::JoinHandle;

/// Size of each chunk handed across threads.
pub const CHUNK: usize = 1 << 20;
/// Chunks in flight.
pub const DEPTH: usize = 8;

/// Reads what a background thread reads from the wrapped source.
pub struct ThreadedReader {
    rx: Receiver<io::Result<Vec<u8>>>,
    current: Vec<u8>,
    pos: usize,
    done: bool,
    thread: Option<JoinHandle<()>>,
}

impl ThreadedReader {
    /// Start reading `source` in a new thread.
    pub fn new<R: Read + Send + 'static>(mut source: R) -> Self {
        let (tx, rx) = sync_channel::<io::Result<Vec<u8>>>(DEPTH);
        let thread = std::thread::Builder::new()
            .name("wharf-reader".into())
            .spawn(move || loop {
                let mut buf = vec![0u8; CHUNK];
                let mut filled = 0;
                // Fill the chunk fully (short reads are common from decoders and sockets).
                let res = loop {
                    match source.read(&mut buf[filled..]) {
                        Ok(0) => break Ok(()),
                        Ok(n) => {
                            filled += n;
                            if filled == buf.len() {
                                break Ok(());
                            }
                        }
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => break Err(e),
                    }
                };
                match res {
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        return;
                    }
                    Ok(()) => {
                        let eof = filled < buf.len();
                        buf.truncate(filled);
                        if (!buf.is_empty() && tx.send(Ok(buf)).is_err()) || eof {
                            return;
                        }
                    }
                }
            })
            .expect("spawn reader thread");
        ThreadedReader {
            rx,
            current: Vec::new(),
            pos: 0,
            done: false,
            thread: Some(thread),
        }
    }
}

impl Read for ThreadedReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.current.len() {
            if self.done {
                return Ok(0);
            }
            match self.rx.recv() {
                Ok(Ok(chunk)) => {
                    self.current = chunk;
                    self.pos = 0;
                }
                Ok(Err(e)) => {
                    self.done = true;
                    return Err(e);
                }
                Err(_) => {
                    self.done = true;
                    return Ok(0);
                }
            }
        }
        let n = out.len().min(self.current.len() - self.pos);
        out[..n].copy_from_slice(&self.current[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

impl Drop for ThreadedReader {
    fn drop(&mut self) {
        // Unblock the producer (it fails to send once the receiver is gone), then reap it.
        let (_tx, rx) = sync_channel(0);
        drop(std::mem::replace(&mut self.rx, rx));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passes_all_bytes_in_order() {
        let data: Vec<u8> = (0..5_000_000u32).map(|i| (i % 251) as u8).collect();
        let mut r = ThreadedReader::new(io::Cursor::new(data.clone()));
        let mut out = Vec::new();
        r.read_to_end(&mut out).unwrap();
        assert_eq!(out, data);
    }

    #[test]
    fn forwards_errors_and_can_be_dropped_early() {
        struct Failing(usize);
        impl Read for Failing {
            fn read(&mut self, b: &mut [u8]) -> io::Result<usize> {
                if self.0 == 0 {
                    return Err(io::Error::other("boom"));
                }
                self.0 -= 1;
                b[0] = 1;
                Ok(1)
            }
        }
        let mut r = ThreadedReader::new(Failing(10));
        let mut out = Vec::new();
        assert_eq!(r.read_to_end(&mut out).unwrap_err().to_string(), "boom");
        // Dropping while the producer still has data must not hang.
        let r = ThreadedReader::new(io::repeat(7));
        drop(r);
    }
}
