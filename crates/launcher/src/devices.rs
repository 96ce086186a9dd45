//! The device policy: which device nodes a machine may create (mknod) or open. Block devices:
//! none but the inaccessible node 0:0. Character devices: the nodes wharf puts into /dev, ptys,
//! fuse and tun, the inaccessible node 0:0, plus character devices bind-mounted in with
//! `--bind`. (The 0:0 nodes cannot be opened — no driver has that number — but are made with
//! mknod: wharf's `/run/host/inaccessible/{chr,blk}` and systemd's
//! `/run/systemd/inaccessible/{chr,blk}` inside; systemd's own device policies allow them too.)
//! Enforced by a `BPF_PROG_TYPE_CGROUP_DEVICE` program on the machine's cgroup2 directory, on
//! hybrid hosts too (the kernel checks it before the v1 `devices` controller).

use wharf_sys::bpf::BpfInsn;

/// `BPF_DEVCG_ACC_*` bits.
pub const ACC_MKNOD: u32 = 1;
pub const ACC_READ: u32 = 2;
pub const ACC_WRITE: u32 = 4;
/// `BPF_DEVCG_DEV_*`.
pub const DEV_BLOCK: u32 = 1;
pub const DEV_CHAR: u32 = 2;

/// One allowed device (or every minor of a major).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DevRule {
    /// A block device (else a character device).
    pub block: bool,
    pub major: u32,
    /// `None`: every minor.
    pub minor: Option<u32>,
    /// `ACC_*` bits.
    pub access: u32,
}

const RWM: u32 = ACC_MKNOD | ACC_READ | ACC_WRITE;

/// The devices every machine may use: null zero full random urandom (1:3,5,7,8,9), tty (5:0),
/// console (5:1), ptmx (5:2), pts (136:*), fuse (10:229), net/tun (10:200), and the
/// inaccessible nodes (character and block 0:0).
pub fn default_rules() -> Vec<DevRule> {
    let mut v: Vec<DevRule> = [
        (1, 3),
        (1, 5),
        (1, 7),
        (1, 8),
        (1, 9),
        (5, 0),
        (5, 1),
        (5, 2),
    ]
    .iter()
    .map(|&(major, minor)| DevRule {
        block: false,
        major,
        minor: Some(minor),
        access: RWM,
    })
    .collect();
    v.push(DevRule {
        block: false,
        major: 136,
        minor: None,
        access: RWM,
    });
    for minor in [229, 200] {
        v.push(DevRule {
            block: false,
            major: 10,
            minor: Some(minor),
            access: RWM,
        });
    }
    for block in [false, true] {
        v.push(DevRule {
            block,
            major: 0,
            minor: Some(0),
            access: RWM,
        });
    }
    v
}

/// The default rules plus read/write access to the character devices bind-mounted into the
/// machine (`--bind=/dev/dri/card0` and the like). Bound block devices stay inaccessible.
pub fn rules_for(binds: &[crate::Bind]) -> Vec<DevRule> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let mut v = default_rules();
    for b in binds {
        if let Ok(md) = std::fs::metadata(&b.src) {
            if md.file_type().is_char_device() {
                let rdev = md.rdev();
                let access = if b.read_only {
                    ACC_READ
                } else {
                    ACC_READ | ACC_WRITE
                };
                v.push(DevRule {
                    block: false,
                    major: rustix::fs::major(rdev),
                    minor: Some(rustix::fs::minor(rdev)),
                    access,
                });
            }
        }
    }
    v
}

// eBPF opcodes (linux/bpf.h).
pub(crate) const LDX_MEM_W: u8 = 0x61;
pub(crate) const MOV64_X: u8 = 0xbf;
pub(crate) const MOV64_K: u8 = 0xb7;
pub(crate) const AND64_K: u8 = 0x57;
pub(crate) const RSH64_K: u8 = 0x77;
pub(crate) const JNE_K: u8 = 0x55;
pub(crate) const EXIT: u8 = 0x95;

fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> BpfInsn {
    BpfInsn {
        code,
        regs: (src << 4) | dst,
        off,
        imm,
    }
}

/// A cgroup device program allowing exactly `rules` (1 = allow, 0 = deny). Context
/// (`struct bpf_cgroup_dev_ctx`): `access_type` = access << 16 | type, `major`, `minor`.
pub fn ebpf_program(rules: &[DevRule]) -> Vec<BpfInsn> {
    let rule_len = |r: &DevRule| if r.minor.is_some() { 8 } else { 7 };
    let mut p = vec![
        insn(LDX_MEM_W, 2, 1, 0, 0),    // r2 = access_type
        insn(MOV64_X, 3, 2, 0, 0),      // r3 = r2
        insn(AND64_K, 3, 0, 0, 0xffff), // r3 = type
        insn(RSH64_K, 2, 0, 0, 16),     // r2 = access
        insn(LDX_MEM_W, 4, 1, 4, 0),    // r4 = major
        insn(LDX_MEM_W, 5, 1, 8, 0),    // r5 = minor
    ];
    for r in rules {
        let len = rule_len(r) as i16;
        let start = p.len();
        // Offsets are relative to the next instruction; "next rule" = start + len.
        let to_next = |at: usize| (start as i16 + len) - (at as i16 + 1);
        let ty = if r.block { DEV_BLOCK } else { DEV_CHAR };
        p.push(insn(JNE_K, 3, 0, to_next(start), ty as i32));
        let at = p.len();
        p.push(insn(JNE_K, 4, 0, to_next(at), r.major as i32));
        if let Some(minor) = r.minor {
            let at = p.len();
            p.push(insn(JNE_K, 5, 0, to_next(at), minor as i32));
        }
        p.push(insn(MOV64_X, 0, 2, 0, 0));
        p.push(insn(AND64_K, 0, 0, 0, !(r.access as i32)));
        let at = p.len();
        p.push(insn(JNE_K, 0, 0, to_next(at), 0));
        p.push(insn(MOV64_K, 0, 0, 0, 1));
        p.push(insn(EXIT, 0, 0, 0, 0));
    }
    p.push(insn(MOV64_K, 0, 0, 0, 0));
    p.push(insn(EXIT, 0, 0, 0, 0));
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Run a device program on (type, access, major, minor) like the kernel does.
    fn run(prog: &[BpfInsn], ty: u32, access: u32, major: u32, minor: u32) -> u64 {
        let ctx = [access << 16 | ty, major, minor];
        let mut r = [0u64; 11];
        let mut pc = 0usize;
        for _ in 0..=prog.len() {
            let i = prog[pc];
            let (dst, src) = (usize::from(i.regs & 0xf), usize::from(i.regs >> 4));
            pc += 1;
            match i.code {
                LDX_MEM_W => {
                    assert_eq!(src, 1, "loads only from the context");
                    r[dst] = u64::from(ctx[i.off as usize / 4]);
                }
                MOV64_X => r[dst] = r[src],
                MOV64_K => r[dst] = i.imm as i64 as u64,
                AND64_K => r[dst] &= i.imm as i64 as u64,
                RSH64_K => r[dst] >>= i.imm,
                JNE_K => {
                    if r[dst] != i.imm as i64 as u64 {
                        pc = (pc as i64 + i64::from(i.off)) as usize;
                    }
                }
                EXIT => return r[0],
                c => panic!("unexpected opcode {c:#x}"),
            }
        }
        panic!("no exit");
    }

    #[test]
    fn device_program_allows_exactly_the_rules() {
        let mut rules = default_rules();
        rules.push(DevRule {
            block: false,
            major: 226,
            minor: Some(128),
            access: ACC_READ | ACC_WRITE,
        });
        let p = ebpf_program(&rules);
        let rw = ACC_READ | ACC_WRITE;
        for (ty, acc, maj, min, want) in [
            (DEV_CHAR, rw, 1, 3, 1),
            (DEV_CHAR, ACC_MKNOD, 1, 3, 1),
            (DEV_CHAR, rw, 1, 9, 1),
            (DEV_CHAR, rw, 136, 0, 1),
            (DEV_CHAR, rw, 136, 77, 1),
            (DEV_CHAR, rw, 5, 2, 1),
            (DEV_CHAR, rw, 10, 229, 1),
            (DEV_CHAR, rw, 10, 200, 1),
            (DEV_CHAR, rw, 226, 128, 1),
            (DEV_CHAR, ACC_MKNOD, 226, 128, 0),
            (DEV_CHAR, rw, 1, 1, 0),    // /dev/mem
            (DEV_CHAR, rw, 1, 2, 0),    // /dev/kmem
            (DEV_CHAR, rw, 10, 237, 0), // loop-control
            (DEV_CHAR, rw, 4, 1, 0),
            (DEV_CHAR, rw, 0, 1, 0),
            (DEV_CHAR, ACC_MKNOD, 0, 0, 1), // inaccessible nodes
            (DEV_BLOCK, ACC_MKNOD, 0, 0, 1),
            (DEV_BLOCK, ACC_MKNOD, 0, 1, 0),
            (DEV_BLOCK, ACC_READ, 7, 0, 0),
            (DEV_BLOCK, ACC_MKNOD, 7, 0, 0),
            (DEV_BLOCK, ACC_READ, 1, 3, 0), // same numbers as /dev/null, but a block device
            (DEV_BLOCK, rw, 254, 0, 0),
        ] {
            assert_eq!(run(&p, ty, acc, maj, min), want, "{ty} {acc} {maj}:{min}");
        }
        assert_eq!(run(&ebpf_program(&[]), DEV_CHAR, ACC_READ, 1, 3), 0);
    }
}
