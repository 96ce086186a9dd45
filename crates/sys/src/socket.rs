//! Unix sockets for the launcher: a SEQPACKET channel that carries file descriptors
//! (SCM_RIGHTS) between the container child and wharf, and the sd_notify datagram socket with
//! sender credentials (SO_PASSCRED).

use std::io::{self, IoSlice, IoSliceMut};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use rustix::net::{
    AddressFamily, RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, SendAncillaryBuffer,
    SendAncillaryMessage, SendFlags, SocketAddrUnix, SocketFlags, SocketType,
};

/// Most file descriptors one [`send`] may carry.
pub const MAX_FDS: usize = 4;

/// A connected pair of close-on-exec `SOCK_SEQPACKET` sockets (message boundaries kept).
pub fn seqpacket_pair() -> io::Result<(OwnedFd, OwnedFd)> {
    rustix::net::socketpair(
        AddressFamily::UNIX,
        SocketType::SEQPACKET,
        SocketFlags::CLOEXEC,
        None,
    )
    .map_err(Into::into)
}

/// Send one message with `fds` attached (at most [`MAX_FDS`]).
pub fn send(sock: impl AsFd, data: &[u8], fds: &[BorrowedFd<'_>]) -> io::Result<()> {
    if fds.len() > MAX_FDS {
        return Err(io::Error::other(
            "too many file descriptors for one message",
        ));
    }
    let mut space = [MaybeUninit::<u8>::uninit(); rustix::cmsg_space!(ScmRights(MAX_FDS))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    if !fds.is_empty() && !control.push(SendAncillaryMessage::ScmRights(fds)) {
        return Err(io::Error::other("control buffer too small"));
    }
    let iov = [IoSlice::new(data)];
    rustix::net::sendmsg(sock, &iov, &mut control, SendFlags::NOSIGNAL)?;
    Ok(())
}

/// Receive one message into `buf`: (length, attached fds). Length 0 with no fds = the peer
/// closed its end. Retries on EINTR.
pub fn recv(sock: impl AsFd, buf: &mut [u8]) -> io::Result<(usize, Vec<OwnedFd>)> {
    let mut space = [MaybeUninit::<u8>::uninit(); rustix::cmsg_space!(ScmRights(MAX_FDS))];
    loop {
        let mut control = RecvAncillaryBuffer::new(&mut space);
        let mut iov = [IoSliceMut::new(buf)];
        match rustix::net::recvmsg(&sock, &mut iov, &mut control, RecvFlags::CMSG_CLOEXEC) {
            Ok(msg) => {
                let mut fds = Vec::new();
                for m in control.drain() {
                    if let RecvAncillaryMessage::ScmRights(r) = m {
                        fds.extend(r);
                    }
                }
                return Ok((msg.bytes, fds));
            }
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

/// An unbound close-on-exec `SOCK_DGRAM` unix socket that reports senders' credentials
/// (`SO_PASSCRED`): the receiving side of `$NOTIFY_SOCKET`. Bind it with [`bind`].
pub fn notify_socket() -> io::Result<OwnedFd> {
    let fd = rustix::net::socket_with(
        AddressFamily::UNIX,
        SocketType::DGRAM,
        SocketFlags::CLOEXEC | SocketFlags::NONBLOCK,
        None,
    )?;
    rustix::net::sockopt::set_socket_passcred(&fd, true)?;
    Ok(fd)
}

/// Bind unix socket `sock` to filesystem path `path` (resolved in the caller's mount namespace).
pub fn bind(sock: impl AsFd, path: &Path) -> io::Result<()> {
    let addr = SocketAddrUnix::new(path)?;
    rustix::net::bind(sock, &addr).map_err(Into::into)
}

/// One datagram from a [`notify_socket`]: its bytes and the sender's PID (as seen from here),
/// `None` when nothing is queued.
pub fn recv_with_pid(sock: impl AsFd, buf: &mut [u8]) -> io::Result<Option<(usize, Option<i32>)>> {
    let mut space = [MaybeUninit::<u8>::uninit();
        rustix::cmsg_space!(ScmCredentials(1)) + rustix::cmsg_space!(ScmRights(MAX_FDS))];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    let mut iov = [IoSliceMut::new(buf)];
    match rustix::net::recvmsg(
        &sock,
        &mut iov,
        &mut control,
        RecvFlags::DONTWAIT | RecvFlags::CMSG_CLOEXEC,
    ) {
        Ok(msg) => {
            let mut pid = None;
            for m in control.drain() {
                // Passed fds are dropped (closed) right here.
                if let RecvAncillaryMessage::ScmCredentials(c) = m {
                    pid = Some(c.pid.as_raw_nonzero().get());
                }
            }
            Ok(Some((msg.bytes, pid)))
        }
        Err(rustix::io::Errno::AGAIN) | Err(rustix::io::Errno::INTR) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    #[test]
    fn fds_cross_the_channel() {
        let (a, b) = seqpacket_pair().unwrap();
        let (r, w) = crate::process::pipe_cloexec().unwrap();
        send(&a, b"F", &[w.as_fd()]).unwrap();
        drop(w);
        let mut buf = [0u8; 8];
        let (n, mut fds) = recv(&b, &mut buf).unwrap();
        assert_eq!((&buf[..n], fds.len()), (&b"F"[..], 1));
        std::fs::File::from(fds.remove(0)).write_all(b"x").unwrap();
        let mut s = String::new();
        std::fs::File::from(r).read_to_string(&mut s).unwrap();
        assert_eq!(s, "x");
        drop(a);
        assert_eq!(recv(&b, &mut buf).unwrap().0, 0);
    }

    #[test]
    fn notify_socket_reports_the_sender() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let s = notify_socket().unwrap();
        bind(&s, &path).unwrap();
        let mut buf = [0u8; 64];
        assert!(recv_with_pid(&s, &mut buf).unwrap().is_none());
        std::os::unix::net::UnixDatagram::unbound()
            .unwrap()
            .send_to(b"READY=1", &path)
            .unwrap();
        let (n, pid) = recv_with_pid(&s, &mut buf).unwrap().unwrap();
        assert_eq!(&buf[..n], b"READY=1");
        assert_eq!(pid, Some(std::process::id() as i32));
    }
}
