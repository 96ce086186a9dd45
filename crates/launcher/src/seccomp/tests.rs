//! The generated program, run by a small classic-BPF interpreter on many seccomp_data inputs.

use super::bpf::*;
use super::*;

/// seccomp_data: nr, arch, args.
struct Data {
    nr: u32,
    arch: u32,
    args: [u64; 6],
}

impl Data {
    fn word(&self, off: u32) -> u32 {
        match off {
            0 => self.nr,
            4 => self.arch,
            8 | 12 => 0,
            16..=63 if off.is_multiple_of(4) => {
                let a = self.args[((off - 16) / 8) as usize];
                if off.is_multiple_of(8) {
                    a as u32
                } else {
                    (a >> 32) as u32
                }
            }
            _ => panic!("load from bad offset {off}"),
        }
    }
}

/// Run `prog` the way the kernel does (only the instructions the generator emits).
fn interpret(prog: &[SockFilter], d: &Data) -> u32 {
    let mut pc = 0usize;
    let mut acc = 0u32;
    for _ in 0..prog.len() + 1 {
        let i = prog.get(pc).expect("ran off the end of the program");
        pc += 1;
        match i.code {
            LD_W_ABS => acc = d.word(i.k),
            JMP_JA => pc += i.k as usize,
            JMP_JEQ_K => pc += usize::from(if acc == i.k { i.jt } else { i.jf }),
            JMP_JGE_K => pc += usize::from(if acc >= i.k { i.jt } else { i.jf }),
            RET_K => return i.k,
            c => panic!("unexpected opcode {c:#x}"),
        }
    }
    panic!("no return (backward jump?)")
}

fn check(prog: &[SockFilter], abi: Abi, name: &str, args: [u64; 6]) -> u32 {
    let nr = number(abi, name).unwrap_or_else(|| panic!("{name} not on {abi:?}"));
    interpret(
        prog,
        &Data {
            nr,
            arch: abi.audit_arch(),
            args,
        },
    )
}

const ALLOW: u32 = SECCOMP_RET_ALLOW;
const PERM: u32 = SECCOMP_RET_ERRNO | 1;
const NOSYS: u32 = SECCOMP_RET_ERRNO | 38;
const AFNOSUPPORT: u32 = SECCOMP_RET_ERRNO | 97;
const ALL: [Abi; 3] = [Abi::X86_64, Abi::I386, Abi::Aarch64];

fn default_prog() -> Vec<SockFilter> {
    program(&ALL, crate::DEFAULT_CAPS, &SyscallFilter::default())
}

#[test]
fn table_is_sorted_and_unique() {
    for w in table::SYSCALLS.windows(2) {
        assert!(w[0].name < w[1].name, "{} / {}", w[0].name, w[1].name);
    }
    assert_eq!(number(Abi::X86_64, "read"), Some(0));
    assert_eq!(number(Abi::X86_64, "keyctl"), Some(250));
    assert_eq!(number(Abi::I386, "socket"), Some(359));
    assert_eq!(number(Abi::Aarch64, "openat"), Some(56));
    assert_eq!(number(Abi::Aarch64, "open"), None);
}

#[test]
fn allowed_denied_and_unknown() {
    let prog = default_prog();
    assert!(prog.len() < 4096, "{}", prog.len());
    let z = [0u64; 6];
    for abi in ALL {
        for name in [
            "read",
            "write",
            "openat",
            "execve",
            "clone",
            "clone3",
            "mount",
            "ioctl",
            "socket",
            "setresuid",
            "chown",
            "sethostname",
            "reboot",
            "ptrace",
            "capset",
            "seccomp",
            "personality",
            "fsync",
            "timerfd_create",
            "io_uring_setup",
            "sched_getaffinity",
            "exit_group",
            "futex",
            "getrandom",
            "pidfd_open",
        ] {
            if number(abi, name).is_some() {
                assert_eq!(check(&prog, abi, name, z), ALLOW, "{abi:?} {name}");
            }
        }
        for name in [
            "keyctl",
            "add_key",
            "request_key",
            "kexec_load",
            "kexec_file_load",
            "bpf",
            "perf_event_open",
            "open_by_handle_at",
            "init_module",
            "finit_module",
            "delete_module",
            "swapon",
            "quotactl",
            "fanotify_init",
            "settimeofday",
            "clock_settime",
            "acct",
            "syslog",
            "mlock",
            "pkey_alloc",
            "lookup_dcookie",
            "iopl",
            "ioperm",
            "modify_ldt",
            "uselib",
        ] {
            if number(abi, name).is_some() {
                assert_eq!(check(&prog, abi, name, z), PERM, "{abi:?} {name}");
            }
        }
    }
    // Numbers systemd 252 does not know: ENOSYS (cachestat 451, mseal 462, huge numbers, -1).
    for nr in [451u32, 462, 1000, 0x3fff_ffff, u32::MAX] {
        for abi in ALL {
            let d = Data {
                nr,
                arch: abi.audit_arch(),
                args: z,
            };
            assert_eq!(interpret(&prog, &d), NOSYS, "{abi:?} {nr}");
        }
    }
}

#[test]
fn every_known_number_gets_its_action() {
    let caps = crate::DEFAULT_CAPS;
    let f = SyscallFilter::default();
    let prog = default_prog();
    let allow = allowed(caps, &f);
    for abi in ALL {
        for (s, ok) in table::SYSCALLS.iter().zip(&allow) {
            let Some(nr) = number(abi, s.name) else {
                continue;
            };
            // An alias of an allowed number is allowed.
            let any_alias_allowed = table::SYSCALLS
                .iter()
                .zip(&allow)
                .any(|(t, a)| *a && number(abi, t.name) == Some(nr));
            let want = if *ok || any_alias_allowed {
                ALLOW
            } else {
                PERM
            };
            let d = Data {
                nr,
                arch: abi.audit_arch(),
                args: [0; 6],
            };
            assert_eq!(interpret(&prog, &d), want, "{abi:?} {} ({nr})", s.name);
        }
    }
}

#[test]
fn netlink_audit_sockets_are_refused() {
    let prog = default_prog();
    for abi in ALL {
        assert_eq!(
            check(&prog, abi, "socket", [16, 3, 9, 0, 0, 0]),
            AFNOSUPPORT
        );
        // The kernel takes the low 32 bits of an int argument: so does the filter.
        assert_eq!(
            check(
                &prog,
                abi,
                "socket",
                [16 | 1 << 32, 3, 9 | 7 << 40, 0, 0, 0]
            ),
            AFNOSUPPORT
        );
        assert_eq!(check(&prog, abi, "socket", [16, 3, 0, 0, 0, 0]), ALLOW); // NETLINK_ROUTE
        assert_eq!(check(&prog, abi, "socket", [2, 1, 9, 0, 0, 0]), ALLOW); // AF_INET
        assert_eq!(check(&prog, abi, "socket", [1, 1, 0, 0, 0, 0]), ALLOW);
    }
    // Even when socket() itself is removed from the allow-list, as with nspawn's two filters.
    let mut f = SyscallFilter::default();
    f.add("~socket").unwrap();
    let prog = program(&ALL, crate::DEFAULT_CAPS, &f);
    assert_eq!(
        check(&prog, Abi::X86_64, "socket", [16, 3, 9, 0, 0, 0]),
        AFNOSUPPORT
    );
    assert_eq!(
        check(&prog, Abi::X86_64, "socket", [2, 1, 0, 0, 0, 0]),
        PERM
    );
}

#[test]
fn foreign_arches_and_x32() {
    let prog = program(
        &[Abi::X86_64, Abi::I386],
        crate::DEFAULT_CAPS,
        &Default::default(),
    );
    let d = |nr, arch| Data {
        nr,
        arch,
        args: [0; 6],
    };
    // x32 read (0x40000000 | 0) and x32-only numbers (512+).
    assert_eq!(
        interpret(&prog, &d(X32_SYSCALL_BIT, AUDIT_ARCH_X86_64)),
        NOSYS
    );
    assert_eq!(
        interpret(&prog, &d(X32_SYSCALL_BIT | 520, AUDIT_ARCH_X86_64)),
        NOSYS
    );
    // aarch64 is foreign to an x86 program, and so is anything else.
    assert_eq!(interpret(&prog, &d(63, AUDIT_ARCH_AARCH64)), NOSYS);
    assert_eq!(interpret(&prog, &d(0, 0x4000_0028)), NOSYS); // ARM
                                                             // The same number means different calls per ABI: i386 3 = read, x86-64 3 = close.
    assert_eq!(interpret(&prog, &d(250, AUDIT_ARCH_X86_64)), PERM); // keyctl
    assert_eq!(interpret(&prog, &d(250, AUDIT_ARCH_I386)), ALLOW); // fadvise64
}

#[test]
fn capabilities_gate_groups_and_calls() {
    let none = crate::DEFAULT_CAPS & !(1 << CAP_SYS_BOOT | 1 << CAP_SYS_PTRACE);
    let f = SyscallFilter::default();
    assert!(is_allowed("reboot", crate::DEFAULT_CAPS, &f));
    assert!(!is_allowed("reboot", none, &f));
    assert!(!is_allowed("ptrace", none, &f));
    // process_vm_readv is gated on CAP_SYS_PTRACE in nspawn's list but also in @ipc: allowed.
    assert!(is_allowed("process_vm_readv", none, &f));
    assert!(!is_allowed("clock_settime", crate::DEFAULT_CAPS, &f));
    assert!(is_allowed(
        "clock_settime",
        crate::DEFAULT_CAPS | 1 << CAP_SYS_TIME,
        &f
    ));
    assert!(is_allowed("init_module", 1 << CAP_SYS_MODULE, &f));
    assert!(is_allowed("iopl", 1 << CAP_SYS_RAWIO, &f));
    assert!(is_allowed("mlockall", 1 << CAP_IPC_LOCK, &f));
    assert!(is_allowed("syslog", 1 << CAP_SYSLOG, &f));
    assert!(!is_allowed("syslog", crate::DEFAULT_CAPS, &f));
    let prog = program(&[Abi::X86_64], none, &f);
    assert_eq!(check(&prog, Abi::X86_64, "reboot", [0; 6]), PERM);
}

#[test]
fn system_call_filter_option() {
    let caps = crate::DEFAULT_CAPS;
    let mut f = SyscallFilter::default();
    f.add("keyctl add_key").unwrap();
    f.add("~@mount").unwrap();
    f.add("~ reboot").unwrap();
    assert!(is_allowed("keyctl", caps, &f));
    assert!(is_allowed("add_key", caps, &f));
    assert!(!is_allowed("request_key", caps, &f));
    assert!(!is_allowed("mount", caps, &f));
    assert!(!is_allowed("pivot_root", caps, &f));
    assert!(!is_allowed("reboot", caps, &f));
    assert!(is_allowed("read", caps, &f));
    // Removal wins over an addition, in either order.
    let mut g = SyscallFilter::default();
    g.add("~bpf").unwrap();
    g.add("bpf @keyring").unwrap();
    assert!(!is_allowed("bpf", caps, &g));
    assert!(is_allowed("keyctl", caps, &g));
    // Groups of groups.
    let mut h = SyscallFilter::default();
    h.add("~@system-service").unwrap();
    assert!(!is_allowed("read", caps, &h));
    assert!(is_allowed("sethostname", caps, &h));
    let prog = program(&ALL, caps, &f);
    assert_eq!(check(&prog, Abi::X86_64, "keyctl", [0; 6]), ALLOW);
    assert_eq!(check(&prog, Abi::X86_64, "mount", [0; 6]), PERM);
    for bad in ["nosuchcall", "@nosuchgroup", "~read bogus", "a\u{0}b"] {
        let e = SyscallFilter::default().add(bad).unwrap_err().to_string();
        assert!(e.contains("unknown system call"), "{e}");
    }
    // Names systemd knows for other architectures are accepted (and match nothing here).
    SyscallFilter::default().add("vm86 osf_stat").unwrap();
}

#[test]
fn long_jumps_are_encoded() {
    // Alternate actions on every number: many ranges, so the top of the tree needs `ja`.
    let calls: Vec<(u32, Action)> = (0..1500)
        .map(|n| (n, if n % 2 == 0 { Action::Allow } else { EPERM }))
        .collect();
    let prog = assemble(&[(Abi::Aarch64, calls)]);
    assert!(prog.iter().any(|i| i.code == JMP_JA && i.k > 255));
    for n in 0..1600u32 {
        let d = Data {
            nr: n,
            arch: AUDIT_ARCH_AARCH64,
            args: [0; 6],
        };
        let want = if n >= 1500 {
            NOSYS
        } else if n % 2 == 0 {
            ALLOW
        } else {
            PERM
        };
        assert_eq!(interpret(&prog, &d), want, "{n}");
    }
}

/// `cargo test -p wharf-launcher --release -- --ignored --nocapture seccomp_cost`
#[test]
#[ignore = "benchmark: prints timings"]
fn seccomp_cost() {
    let abis = Abi::native();
    let f = SyscallFilter::default();
    let n = 2000u32;
    let t = std::time::Instant::now();
    let mut len = 0;
    for _ in 0..n {
        len = std::hint::black_box(program(abis, crate::DEFAULT_CAPS, &f)).len();
    }
    let build = t.elapsed() / n;
    let t = std::time::Instant::now();
    for _ in 0..n {
        std::hint::black_box(allowed(crate::DEFAULT_CAPS, &f));
    }
    let names = t.elapsed() / n;
    let prog = program(abis, crate::DEFAULT_CAPS, &f);
    // Install on a throwaway thread only (without TSYNC the filter stays on that thread).
    let install = std::thread::spawn(move || {
        let t = std::time::Instant::now();
        wharf_sys::seccomp::install_filter(&prog, false).expect("install (needs root)");
        t.elapsed()
    })
    .join()
    .unwrap();
    println!(
        "seccomp: {len} instructions, build {} ns (allow-list {} ns), install {} ns",
        build.as_nanos(),
        names.as_nanos(),
        install.as_nanos()
    );
}
