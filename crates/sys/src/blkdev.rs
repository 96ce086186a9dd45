//! block device size and read-only flag (`BLKGETSIZE64`, `BLKROGET`, `BLKROSET`).
//!
//! The ioctls are only issued on descriptors verified to be block devices (`ENOTBLK`
//! otherwise): their numbers mean other things to other drivers.

use std::io;
use std::os::fd::BorrowedFd;

use rustix::fs::FileType;
use rustix::ioctl::{opcode, Getter, Opcode, Setter};

/// `BLKROSET`: `_IO(0x12, 93)`, argument `const int *`.
const BLKROSET: Opcode = opcode::none(0x12, 93);
/// `BLKROGET`: `_IO(0x12, 94)`, argument `int *`.
const BLKROGET: Opcode = opcode::none(0x12, 94);
/// `BLKGETSIZE64`: `_IOR(0x12, 114, size_t)`, argument `u64 *`.
const BLKGETSIZE64: Opcode = opcode::read::<usize>(0x12, 114);

fn check_blkdev(fd: BorrowedFd<'_>) -> io::Result<()> {
    let st = rustix::fs::fstat(fd)?;
    if FileType::from_raw_mode(st.st_mode) != FileType::BlockDevice {
        return Err(io::Error::from_raw_os_error(libc::ENOTBLK));
    }
    Ok(())
}

/// size of block device `fd` in bytes.
pub fn size(fd: BorrowedFd<'_>) -> io::Result<u64> {
    check_blkdev(fd)?;
    // SAFETY: `fd` is a block device, so the request goes to the block layer, where
    // BLKGETSIZE64 writes one u64 into the buffer `Getter` provides.
    Ok(unsafe { rustix::ioctl::ioctl(fd, Getter::<BLKGETSIZE64, u64>::new()) }?)
}

/// whether block device `fd` is read-only.
pub fn read_only(fd: BorrowedFd<'_>) -> io::Result<bool> {
    check_blkdev(fd)?;
    // SAFETY: `fd` is a block device, so the request goes to the block layer, where BLKROGET
    // writes one int into the buffer `Getter` provides.
    let ro = unsafe { rustix::ioctl::ioctl(fd, Getter::<BLKROGET, libc::c_int>::new()) }?;
    Ok(ro != 0)
}

/// marks block device `fd` read-only or read-write (needs CAP_SYS_ADMIN).
pub fn set_read_only(fd: BorrowedFd<'_>, ro: bool) -> io::Result<()> {
    check_blkdev(fd)?;
    let value = libc::c_int::from(ro);
    // SAFETY: `fd` is a block device, so the request goes to the block layer, where BLKROSET
    // reads one int from the pointer `Setter` passes, which points to its own copy of `value`.
    Ok(unsafe { rustix::ioctl::ioctl(fd, Setter::<BLKROSET, libc::c_int>::new(value)) }?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(target_arch = "x86_64")]
    fn opcodes_match_the_kernel_headers() {
        assert_eq!(BLKROSET, 0x125d);
        assert_eq!(BLKROGET, 0x125e);
        assert_eq!(BLKGETSIZE64, 0x8008_1272);
    }

    #[test]
    fn regular_files_are_refused() {
        let f = tempfile::tempfile().unwrap();
        use std::os::fd::AsFd;
        let err = size(f.as_fd()).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ENOTBLK));
    }
}
