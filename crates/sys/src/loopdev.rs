//! Loop devices: attach a byte range of a file as a block device (`LOOP_CTL_GET_FREE` +
//! `LOOP_CONFIGURE`), detach it again (`LOOP_CLR_FD`).
//!
//! Every device is attached with `LO_FLAGS_AUTOCLEAR`: the kernel detaches it as soon as the
//! last user (an open descriptor or a mount) goes away, so a killed process leaves no device
//! behind once its mounts are gone. No partition scanning: callers attach one device per
//! partition (offset + size limit), which needs neither udev nor `/dev/loopNpM` nodes.
//!
//! The ioctls are only issued on `/dev/loop-control` and on descriptors verified to be loop
//! block devices (major 7): their numbers mean other things to other drivers.

use std::fs::OpenOptions;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use rustix::fs::FileType;
use rustix::ioctl::{opcode, Ioctl, IoctlOutput, Opcode, Setter};

/// `LOOP_CTL_GET_FREE` (0x4C82): returns the number of a free (or new) loop device.
const LOOP_CTL_GET_FREE: Opcode = 0x4C82;
/// `LOOP_CONFIGURE` (0x4C0A): attach a backing file and set its parameters in one step.
const LOOP_CONFIGURE: Opcode = opcode::none(0x4C, 0x0A);
/// `LOOP_CLR_FD` (0x4C01): detach (or, while the device is in use, set autoclear).
const LOOP_CLR_FD: Opcode = opcode::none(0x4C, 0x01);

const LO_FLAGS_READ_ONLY: u32 = 1;
const LO_FLAGS_AUTOCLEAR: u32 = 4;
/// Major number of loop block devices.
const LOOP_MAJOR: u32 = 7;
const LO_NAME_SIZE: usize = 64;
const LO_KEY_SIZE: usize = 32;

/// `struct loop_info64` (linux/loop.h).
#[repr(C)]
#[derive(Clone, Copy)]
struct LoopInfo64 {
    lo_device: u64,
    lo_inode: u64,
    lo_rdevice: u64,
    lo_offset: u64,
    lo_sizelimit: u64,
    lo_number: u32,
    lo_encrypt_type: u32,
    lo_encrypt_key_size: u32,
    lo_flags: u32,
    lo_file_name: [u8; LO_NAME_SIZE],
    lo_crypt_name: [u8; LO_NAME_SIZE],
    lo_encrypt_key: [u8; LO_KEY_SIZE],
    lo_init: [u64; 2],
}

/// `struct loop_config` (linux/loop.h).
#[repr(C)]
#[derive(Clone, Copy)]
struct LoopConfig {
    fd: u32,
    block_size: u32,
    info: LoopInfo64,
    reserved: [u64; 8],
}

const _: () = assert!(std::mem::size_of::<LoopInfo64>() == 232);
const _: () = assert!(std::mem::size_of::<LoopConfig>() == 304);

/// `LOOP_CTL_GET_FREE`, whose result is the ioctl's return value.
struct GetFree;

// SAFETY: LOOP_CTL_GET_FREE takes no argument (a null pointer is passed) and returns the device
// number as the ioctl's return value, which `output_from_ptr` passes through unchanged.
unsafe impl Ioctl for GetFree {
    type Output = u32;
    const IS_MUTATING: bool = false;

    fn opcode(&self) -> Opcode {
        LOOP_CTL_GET_FREE
    }

    fn as_ptr(&mut self) -> *mut core::ffi::c_void {
        std::ptr::null_mut()
    }

    unsafe fn output_from_ptr(
        out: IoctlOutput,
        _: *mut core::ffi::c_void,
    ) -> rustix::io::Result<u32> {
        u32::try_from(out).map_err(|_| rustix::io::Errno::RANGE)
    }
}

/// An attached loop device; detached (`LOOP_CLR_FD`) when dropped. While something else still
/// uses it (a mount), the kernel only marks it for autoclear and detaches it with the last user.
#[derive(Debug)]
pub struct LoopDevice {
    fd: OwnedFd,
    path: PathBuf,
}

impl LoopDevice {
    /// The device node, `/dev/loopN`.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The open device.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl Drop for LoopDevice {
    fn drop(&mut self) {
        // SAFETY: `fd` is a loop block device (checked in `attach`); LOOP_CLR_FD takes no
        // argument. Errors (already detached) are of no interest here.
        let _ =
            unsafe { rustix::ioctl::ioctl(&self.fd, rustix::ioctl::NoArg::<LOOP_CLR_FD>::new()) };
    }
}

fn check_loop(fd: BorrowedFd<'_>) -> io::Result<()> {
    let st = rustix::fs::fstat(fd)?;
    if FileType::from_raw_mode(st.st_mode) != FileType::BlockDevice
        || rustix::fs::major(st.st_rdev) != LOOP_MAJOR
    {
        return Err(io::Error::from_raw_os_error(libc::ENOTBLK));
    }
    Ok(())
}

/// Attaches `size` bytes of `file` starting at `offset` (`size` 0 = to the end of the file) as a
/// new loop device with autoclear, read-only when `read_only` (the device refuses writes; a
/// writable device needs `file` opened for writing).
pub fn attach(
    file: BorrowedFd<'_>,
    offset: u64,
    size: u64,
    read_only: bool,
) -> io::Result<LoopDevice> {
    let ctl = OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_CLOEXEC)
        .open("/dev/loop-control")?;
    let raw_fd =
        u32::try_from(file.as_raw_fd()).map_err(|_| io::Error::from_raw_os_error(libc::EBADF))?;
    let mut flags = LO_FLAGS_AUTOCLEAR;
    if read_only {
        flags |= LO_FLAGS_READ_ONLY;
    }
    let config = LoopConfig {
        fd: raw_fd,
        block_size: 0,
        info: LoopInfo64 {
            lo_device: 0,
            lo_inode: 0,
            lo_rdevice: 0,
            lo_offset: offset,
            lo_sizelimit: size,
            lo_number: 0,
            lo_encrypt_type: 0,
            lo_encrypt_key_size: 0,
            lo_flags: flags,
            lo_file_name: [0; LO_NAME_SIZE],
            lo_crypt_name: [0; LO_NAME_SIZE],
            lo_encrypt_key: [0; LO_KEY_SIZE],
            lo_init: [0; 2],
        },
        reserved: [0; 8],
    };
    // Another process may take the free device between GET_FREE and CONFIGURE: try again.
    let mut last = io::Error::from_raw_os_error(libc::EBUSY);
    for _ in 0..64 {
        // SAFETY: `ctl` is /dev/loop-control, whose LOOP_CTL_GET_FREE takes no argument.
        let n = unsafe { rustix::ioctl::ioctl(&ctl, GetFree) }?;
        let path = PathBuf::from(format!("/dev/loop{n}"));
        let dev = OpenOptions::new()
            .read(true)
            .write(!read_only)
            .custom_flags(libc::O_CLOEXEC)
            .open(&path)?;
        let fd = OwnedFd::from(dev);
        check_loop(fd.as_fd())?;
        // SAFETY: `fd` is a loop block device (checked above); LOOP_CONFIGURE reads one
        // `struct loop_config` from the pointer `Setter` passes, which points to its own copy
        // of `config` (repr(C), size asserted); the backing fd stays open during the call.
        match unsafe {
            rustix::ioctl::ioctl(&fd, Setter::<LOOP_CONFIGURE, LoopConfig>::new(config))
        } {
            Ok(()) => return Ok(LoopDevice { fd, path }),
            Err(rustix::io::Errno::BUSY) => last = io::Error::from_raw_os_error(libc::EBUSY),
            Err(e) => return Err(e.into()),
        }
    }
    Err(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opcodes_match_the_kernel_headers() {
        assert_eq!(LOOP_CONFIGURE, 0x4C0A);
        assert_eq!(LOOP_CLR_FD, 0x4C01);
    }

    #[test]
    fn attach_a_range_and_read_it_back() {
        use std::io::{Read, Seek, SeekFrom, Write};
        if !Path::new("/dev/loop-control").exists() {
            panic!("/dev/loop-control is required");
        }
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(&vec![b'a'; 4096]).unwrap();
        f.write_all(&vec![b'b'; 4096]).unwrap();
        let dev = attach(f.as_fd(), 4096, 4096, true).unwrap();
        let mut d = std::fs::File::open(dev.path()).unwrap();
        let mut buf = vec![0; 4096];
        d.read_exact(&mut buf).unwrap();
        assert!(buf.iter().all(|&b| b == b'b'));
        assert_eq!(d.seek(SeekFrom::End(0)).unwrap(), 4096);
        drop(d);
        let p = dev.path().to_path_buf();
        drop(dev);
        // Detached: the backing file is gone from sysfs.
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        assert!(!Path::new("/sys/block").join(&name).join("loop").exists());
    }
}
