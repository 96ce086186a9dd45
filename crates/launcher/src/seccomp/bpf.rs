//! Classic BPF code generation for the seccomp filter: an architecture dispatch, then per ABI a
//! binary search tree over syscall-number ranges (each leaf one return), so a syscall costs
//! about log2(ranges) ≈ 8 comparisons.

use super::{Abi, SockFilter, X32_SYSCALL_BIT};

/// What the filter returns for a syscall.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Allow,
    /// Fail with this errno.
    Errno(u16),
}

pub const EPERM: Action = Action::Errno(1);
pub const ENOSYS: Action = Action::Errno(38);
pub const EAFNOSUPPORT: Action = Action::Errno(97);

pub const SECCOMP_RET_ALLOW: u32 = 0x7fff_0000;
pub const SECCOMP_RET_ERRNO: u32 = 0x0005_0000;

impl Action {
    pub fn ret(self) -> u32 {
        match self {
            Action::Allow => SECCOMP_RET_ALLOW,
            Action::Errno(e) => SECCOMP_RET_ERRNO | u32::from(e),
        }
    }
}

// Opcodes (linux/bpf_common.h): BPF_LD|BPF_W|BPF_ABS, BPF_JMP|BPF_JA, BPF_JMP|BPF_JEQ|BPF_K,
// BPF_JMP|BPF_JGE|BPF_K, BPF_RET|BPF_K.
pub const LD_W_ABS: u16 = 0x20;
pub const JMP_JA: u16 = 0x05;
pub const JMP_JEQ_K: u16 = 0x15;
pub const JMP_JGE_K: u16 = 0x35;
pub const RET_K: u16 = 0x06;

// struct seccomp_data offsets (little-endian: the low 32 bits of an argument come first).
pub const OFF_NR: u32 = 0;
pub const OFF_ARCH: u32 = 4;
pub const fn off_arg_low(i: u32) -> u32 {
    16 + 8 * i
}

const AF_NETLINK: u32 = 16;
const NETLINK_AUDIT: u32 = 9;

fn ld(off: u32) -> SockFilter {
    SockFilter {
        code: LD_W_ABS,
        jt: 0,
        jf: 0,
        k: off,
    }
}

fn jump(code: u16, k: u32, jt: u8, jf: u8) -> SockFilter {
    SockFilter { code, jt, jf, k }
}

fn ja(k: u32) -> SockFilter {
    jump(JMP_JA, k, 0, 0)
}

fn ret(a: Action) -> SockFilter {
    SockFilter {
        code: RET_K,
        jt: 0,
        jf: 0,
        k: a.ret(),
    }
}

/// The whole program. `per_abi` holds, per ABI, the known syscalls sorted by number (one entry
/// per number) with their action.
pub(super) fn assemble(per_abi: &[(Abi, Vec<(u32, Action)>)]) -> Vec<SockFilter> {
    let blocks: Vec<Vec<SockFilter>> = per_abi
        .iter()
        .map(|(abi, calls)| abi_block(*abi, calls))
        .collect();
    let dispatch = 1 + 2 * blocks.len() + 1;
    let mut out = Vec::with_capacity(dispatch + blocks.iter().map(Vec::len).sum::<usize>());
    out.push(ld(OFF_ARCH));
    let mut start = dispatch;
    for ((abi, _), block) in per_abi.iter().zip(&blocks) {
        out.push(jump(JMP_JEQ_K, abi.audit_arch(), 0, 1));
        let after = out.len() + 1;
        out.push(ja((start - after) as u32));
        start += block.len();
    }
    // A foreign architecture: not a call this machine's programs make.
    out.push(ret(ENOSYS));
    for b in blocks {
        out.extend(b);
    }
    out
}

fn abi_block(abi: Abi, calls: &[(u32, Action)]) -> Vec<SockFilter> {
    let ranges = ranges(calls);
    let mut v = Vec::with_capacity(16 + 2 * ranges.len());
    v.push(ld(OFF_NR));
    if abi == Abi::X86_64 {
        // x32 calls (and numbers ≥ 2^30, e.g. -1) → ENOSYS.
        v.push(jump(JMP_JGE_K, X32_SYSCALL_BIT, 0, 1));
        v.push(ret(ENOSYS));
    }
    let socket = super::number(abi, "socket");
    if let Some((nr, action)) = socket.and_then(|s| calls.iter().find(|c| c.0 == s)) {
        v.extend([
            jump(JMP_JEQ_K, *nr, 0, 6),
            ld(off_arg_low(0)),
            jump(JMP_JEQ_K, AF_NETLINK, 0, 3),
            ld(off_arg_low(2)),
            jump(JMP_JEQ_K, NETLINK_AUDIT, 0, 1),
            ret(EAFNOSUPPORT),
            ret(*action),
        ]);
    }
    tree(&ranges, &mut v);
    v
}

/// Split the number space into ranges `[start, next start)` of one action each: known numbers
/// with their action, gaps (and everything past the last known number) `ENOSYS`.
fn ranges(calls: &[(u32, Action)]) -> Vec<(u32, Action)> {
    let mut r: Vec<(u32, Action)> = Vec::with_capacity(calls.len());
    let push = |start: u32, a: Action, r: &mut Vec<(u32, Action)>| {
        if r.last().is_none_or(|l| l.1 != a) {
            r.push((start, a));
        }
    };
    let mut next = 0u32;
    for &(nr, a) in calls {
        if nr > next {
            push(next, ENOSYS, &mut r);
        }
        push(nr, a, &mut r);
        next = nr.saturating_add(1);
    }
    push(next, ENOSYS, &mut r);
    r
}

/// Emit a self-contained decision tree (all jumps forward and internal, every path ends in a
/// return) for the accumulator, which holds the syscall number.
fn tree(r: &[(u32, Action)], out: &mut Vec<SockFilter>) {
    if r.len() == 1 {
        out.push(ret(r[0].1));
        return;
    }
    let mid = r.len() / 2;
    let at = out.len();
    out.push(jump(JMP_JGE_K, r[mid].0, 0, 0));
    tree(&r[..mid], out);
    let left = out.len() - at - 1;
    if let Ok(jt) = u8::try_from(left) {
        out[at].jt = jt;
    } else {
        // Too far for an 8-bit offset: ≥ → the `ja` over the left subtree; < → skip the `ja`.
        out[at].jf = 1;
        out.insert(at + 1, ja(left as u32));
    }
    tree(&r[mid..], out);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_cover_everything() {
        let r = ranges(&[
            (0, Action::Allow),
            (1, Action::Allow),
            (3, EPERM),
            (4, Action::Allow),
        ]);
        assert_eq!(
            r,
            [
                (0, Action::Allow),
                (2, ENOSYS),
                (3, EPERM),
                (4, Action::Allow),
                (5, ENOSYS)
            ]
        );
        assert_eq!(
            ranges(&[(5, EPERM)]),
            [(0, ENOSYS), (5, EPERM), (6, ENOSYS)]
        );
        assert_eq!(ranges(&[]), [(0, ENOSYS)]);
    }
}
