//! eBPF for the launcher's device policy on cgroup2: loading a `BPF_PROG_TYPE_CGROUP_DEVICE`
//! program and attaching it to a cgroup.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

/// One eBPF instruction (`struct bpf_insn`); `regs` holds dst (low nibble) and src (high).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BpfInsn {
    pub code: u8,
    pub regs: u8,
    pub off: i16,
    pub imm: i32,
}

const _: () = assert!(std::mem::size_of::<BpfInsn>() == 8);

const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_PROG_ATTACH: libc::c_long = 8;
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;
/// Descendant cgroups may attach programs of their own; all of them must allow an access.
const BPF_F_ALLOW_MULTI: u32 = 2;

/// The leading fields of `union bpf_attr` for BPF_PROG_LOAD (kernel ≥ 4.15 layout), padded
/// with zeros as the kernel requires of fields it knows but we do not set.
#[repr(C)]
#[derive(Default)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
    prog_ifindex: u32,
    expected_attach_type: u32,
}

/// `union bpf_attr` for BPF_PROG_ATTACH.
#[repr(C)]
#[derive(Default)]
struct ProgAttachAttr {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
    replace_bpf_fd: u32,
}

/// Load `insns` as a cgroup device program; the verifier's log is in the error on rejection.
pub fn load_cgroup_device_program(insns: &[BpfInsn]) -> io::Result<OwnedFd> {
    if insns.is_empty() || insns.len() > 4096 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("bpf program of {} instructions", insns.len()),
        ));
    }
    let license = c"GPL";
    let mut log = vec![0u8; 64 * 1024];
    let mut name = [0u8; 16];
    name[..11].copy_from_slice(b"wharf_devcg");
    let attr = ProgLoadAttr {
        prog_type: BPF_PROG_TYPE_CGROUP_DEVICE,
        insn_cnt: insns.len() as u32,
        insns: insns.as_ptr() as u64,
        license: license.as_ptr() as u64,
        log_level: 1,
        log_size: log.len() as u32,
        log_buf: log.as_mut_ptr() as u64,
        prog_name: name,
        ..Default::default()
    };
    // SAFETY: `attr` is a fully initialised `#[repr(C)]` prefix of `union bpf_attr` and its size
    // is passed; the pointers in it (instructions, NUL-terminated license, log buffer with its
    // length) refer to live buffers that outlive the call. The kernel reads the instructions
    // and writes at most `log_size` bytes into `log`.
    let r = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            BPF_PROG_LOAD,
            &attr as *const ProgLoadAttr,
            std::mem::size_of::<ProgLoadAttr>(),
        )
    };
    if r < 0 {
        let e = io::Error::last_os_error();
        let end = log.iter().position(|&b| b == 0).unwrap_or(log.len());
        let text = String::from_utf8_lossy(&log[..end]);
        let last = text
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("");
        return Err(if last.is_empty() {
            e
        } else {
            io::Error::new(e.kind(), format!("{e} (verifier: {last})"))
        });
    }
    // SAFETY: on success bpf(BPF_PROG_LOAD) returns a new file descriptor that nothing else
    // owns.
    Ok(unsafe { OwnedFd::from_raw_fd(r as i32) })
}

/// Attach a cgroup device program to the cgroup2 directory `cgroup` (`BPF_F_ALLOW_MULTI`). The
/// attachment keeps the program alive until it is detached or the cgroup is removed.
pub fn attach_cgroup_device_program(
    cgroup: BorrowedFd<'_>,
    prog: BorrowedFd<'_>,
) -> io::Result<()> {
    let attr = ProgAttachAttr {
        target_fd: cgroup.as_raw_fd() as u32,
        attach_bpf_fd: prog.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        attach_flags: BPF_F_ALLOW_MULTI,
        replace_bpf_fd: 0,
    };
    // SAFETY: `attr` is a fully initialised `#[repr(C)]` prefix of `union bpf_attr` whose size
    // is passed; it holds only integers (two descriptors borrowed for the call).
    let r = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            BPF_PROG_ATTACH,
            &attr as *const ProgAttachAttr,
            std::mem::size_of::<ProgAttachAttr>(),
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
