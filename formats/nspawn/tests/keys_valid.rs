//! Every key: valid values and what they are stored as.

use std::collections::BTreeMap;

use wharf_nspawn_settings::{parse, BindSpec, PortSpec, PrivateUsers, Protocol, Rlimit, Settings};

fn parse_ok(text: &str) -> Settings {
    match parse(text.as_bytes()) {
        Ok((s, warnings)) => {
            assert!(
                warnings.is_empty(),
                "{text:?}: unexpected warnings {warnings:?}"
            );
            s
        }
        Err(e) => panic!("{text:?}: {e}"),
    }
}

fn d() -> Settings {
    Settings::default()
}

fn s(x: &str) -> Option<String> {
    Some(x.to_string())
}

fn strings(xs: &[&str]) -> Vec<String> {
    xs.iter().map(|x| x.to_string()).collect()
}

fn bind(source: &str, dest: &str, options: &[&str], ignore_missing: bool) -> BindSpec {
    BindSpec {
        source: source.into(),
        dest: dest.into(),
        options: strings(options),
        ignore_missing,
    }
}

fn limit(
    r: Rlimit,
    soft: Option<u64>,
    hard: Option<u64>,
) -> BTreeMap<Rlimit, (Option<u64>, Option<u64>)> {
    BTreeMap::from([(r, (soft, hard))])
}

#[test]
fn valid_values() {
    let cases: Vec<(&str, Settings)> = vec![
        (
            "[Exec]\nBoot=yes",
            Settings {
                boot: Some(true),
                ..d()
            },
        ),
        (
            "[Exec]\nBoot=off",
            Settings {
                boot: Some(false),
                ..d()
            },
        ),
        (
            "[Exec]\nEphemeral=1",
            Settings {
                ephemeral: Some(true),
                ..d()
            },
        ),
        (
            "[Exec]\nProcessTwo=TRUE",
            Settings {
                process_two: Some(true),
                ..d()
            },
        ),
        (
            "[Exec]\nParameters=/bin/sh -c 'echo \"hi there\"'",
            Settings {
                parameters: Some(strings(&["/bin/sh", "-c", "echo \"hi there\""])),
                ..d()
            },
        ),
        (
            "[Exec]\nEnvironment=A=1 \"B=x y\"\nEnvironment=C=",
            Settings {
                environment: vec![
                    ("A".into(), "1".into()),
                    ("B".into(), "x y".into()),
                    ("C".into(), "".into()),
                ],
                ..d()
            },
        ),
        (
            "[Exec]\nUser=postgres",
            Settings {
                user: s("postgres"),
                ..d()
            },
        ),
        (
            "[Exec]\nWorkingDirectory=/srv/app",
            Settings {
                working_directory: s("/srv/app"),
                ..d()
            },
        ),
        (
            "[Exec]\nPivotRoot=/usr/lib/os:/sysroot",
            Settings {
                pivot_root: s("/usr/lib/os:/sysroot"),
                ..d()
            },
        ),
        (
            "[Exec]\nPivotRoot=/usr/lib/os",
            Settings {
                pivot_root: s("/usr/lib/os"),
                ..d()
            },
        ),
        (
            "[Exec]\nCapability=cap_net_admin CAP_SYS_TIME 12",
            Settings {
                capability: strings(&["CAP_NET_ADMIN", "CAP_SYS_TIME"]),
                ..d()
            },
        ),
        (
            "[Exec]\nCapability=all",
            Settings {
                capability: strings(&["all"]),
                ..d()
            },
        ),
        (
            "[Exec]\nDropCapability=CAP_MKNOD",
            Settings {
                drop_capability: strings(&["CAP_MKNOD"]),
                ..d()
            },
        ),
        (
            "[Exec]\nAmbientCapability=CAP_NET_RAW",
            Settings {
                ambient_capability: strings(&["CAP_NET_RAW"]),
                ..d()
            },
        ),
        (
            "[Exec]\nNoNewPrivileges=yes",
            Settings {
                no_new_privileges: Some(true),
                ..d()
            },
        ),
        (
            "[Exec]\nKillSignal=SIGRTMIN+3",
            Settings {
                kill_signal: s("SIGRTMIN+3"),
                ..d()
            },
        ),
        (
            "[Exec]\nKillSignal=TERM",
            Settings {
                kill_signal: s("TERM"),
                ..d()
            },
        ),
        (
            "[Exec]\nKillSignal=15",
            Settings {
                kill_signal: s("15"),
                ..d()
            },
        ),
        (
            "[Exec]\nPersonality=x86",
            Settings {
                personality: s("x86"),
                ..d()
            },
        ),
        (
            "[Exec]\nPersonality=arm64",
            Settings {
                personality: s("arm64"),
                ..d()
            },
        ),
        (
            "[Exec]\nMachineID=0123456789ABCDEF0123456789abcdef",
            Settings {
                machine_id: s("0123456789abcdef0123456789abcdef"),
                ..d()
            },
        ),
        (
            "[Exec]\nMachineID=01234567-89ab-cdef-0123-456789abcdef",
            Settings {
                machine_id: s("0123456789abcdef0123456789abcdef"),
                ..d()
            },
        ),
        (
            "[Exec]\nPrivateUsers=no",
            Settings {
                private_users: Some(PrivateUsers::No),
                ..d()
            },
        ),
        (
            "[Exec]\nPrivateUsers=yes",
            Settings {
                private_users: Some(PrivateUsers::Yes),
                ..d()
            },
        ),
        (
            "[Exec]\nPrivateUsers=pick",
            Settings {
                private_users: Some(PrivateUsers::Pick),
                ..d()
            },
        ),
        (
            "[Exec]\nPrivateUsers=identity",
            Settings {
                private_users: Some(PrivateUsers::Identity),
                ..d()
            },
        ),
        (
            "[Exec]\nPrivateUsers=managed",
            Settings {
                private_users: Some(PrivateUsers::Managed),
                ..d()
            },
        ),
        (
            "[Exec]\nPrivateUsers=1879048192",
            Settings {
                private_users: Some(PrivateUsers::Range {
                    start: 1879048192,
                    count: 65536,
                }),
                ..d()
            },
        ),
        (
            "[Exec]\nPrivateUsers=100000:1000",
            Settings {
                private_users: Some(PrivateUsers::Range {
                    start: 100000,
                    count: 1000,
                }),
                ..d()
            },
        ),
        (
            "[Exec]\nPrivateUsersDelegate=3",
            Settings {
                private_users_delegate: Some(3),
                ..d()
            },
        ),
        (
            "[Exec]\nNotifyReady=yes",
            Settings {
                notify_ready: Some(true),
                ..d()
            },
        ),
        (
            "[Exec]\nSystemCallFilter=@clock add_key\nSystemCallFilter=~@mount bpf",
            Settings {
                system_call_filter: strings(&["@clock", "add_key", "~@mount", "~bpf"]),
                ..d()
            },
        ),
        (
            "[Exec]\nRestrictAddressFamilies=AF_INET AF_UNIX\nRestrictAddressFamilies=~AF_PACKET",
            Settings {
                restrict_address_families: strings(&["AF_INET", "AF_UNIX", "~AF_PACKET"]),
                ..d()
            },
        ),
        (
            "[Exec]\nLimitNOFILE=1024:524288",
            Settings {
                limits: limit(Rlimit::Nofile, Some(1024), Some(524288)),
                ..d()
            },
        ),
        (
            "[Exec]\nLimitNOFILE=4096",
            Settings {
                limits: limit(Rlimit::Nofile, Some(4096), Some(4096)),
                ..d()
            },
        ),
        (
            "[Exec]\nLimitNPROC=infinity",
            Settings {
                limits: limit(Rlimit::Nproc, None, None),
                ..d()
            },
        ),
        (
            "[Exec]\nLimitCORE=0:infinity",
            Settings {
                limits: limit(Rlimit::Core, Some(0), None),
                ..d()
            },
        ),
        (
            "[Exec]\nLimitAS=4G",
            Settings {
                limits: limit(Rlimit::As, Some(4 << 30), Some(4 << 30)),
                ..d()
            },
        ),
        (
            "[Exec]\nLimitMEMLOCK=64K:1M",
            Settings {
                limits: limit(Rlimit::Memlock, Some(65536), Some(1 << 20)),
                ..d()
            },
        ),
        (
            "[Exec]\nLimitFSIZE=10",
            Settings {
                limits: limit(Rlimit::Fsize, Some(10), Some(10)),
                ..d()
            },
        ),
        (
            "[Exec]\nLimitDATA=1T",
            Settings {
                limits: limit(Rlimit::Data, Some(1 << 40), Some(1 << 40)),
                ..d()
            },
        ),
        (
            "[Exec]\nLimitSTACK=8M",
            Settings {
                limits: limit(Rlimit::Stack, Some(8 << 20), Some(8 << 20)),
                ..d()
            },
        ),
        (
            "[Exec]\nLimitRSS=1B",
            Settings {
                limits: limit(Rlimit::Rss, Some(1), Some(1)),
                ..d()
            },
        ),
        (
            "[Exec]\nLimitMSGQUEUE=800K",
            Settings {
                limits: limit(Rlimit::Msgqueue, Some(819200), Some(819200)),
                ..d()
            },
        ),
        (
            "[Exec]\nLimitCPU=90",
            Settings {
                limits: limit(Rlimit::Cpu, Some(90), Some(90)),
                ..d()
            },
        ),
        (
            "[Exec]\nLimitCPU=1h:2h",
            Settings {
                limits: limit(Rlimit::Cpu, Some(3600), Some(7200)),
                ..d()
            },
        ),
        (
            "[Exec]\nLimitCPU=1500ms",
            Settings {
                limits: limit(Rlimit::Cpu, Some(2), Some(2)),
                ..d()
            },
        ),
        (
            "[Exec]\nLimitRTTIME=200",
            Settings {
                limits: limit(Rlimit::Rttime, Some(200), Some(200)),
                ..d()
            },
        ),
        (
            "[Exec]\nLimitRTTIME=2s",
            Settings {
                limits: limit(Rlimit::Rttime, Some(2_000_000), Some(2_000_000)),
                ..d()
            },
        ),
        (
            "[Exec]\nLimitNICE=-5",
            Settings {
                limits: limit(Rlimit::Nice, Some(25), Some(25)),
                ..d()
            },
        ),
        (
            "[Exec]\nLimitNICE=+19:40",
            Settings {
                limits: limit(Rlimit::Nice, Some(1), Some(40)),
                ..d()
            },
        ),
        (
            "[Exec]\nLimitRTPRIO=99",
            Settings {
                limits: limit(Rlimit::Rtprio, Some(99), Some(99)),
                ..d()
            },
        ),
        (
            "[Exec]\nLimitLOCKS=7",
            Settings {
                limits: limit(Rlimit::Locks, Some(7), Some(7)),
                ..d()
            },
        ),
        (
            "[Exec]\nLimitSIGPENDING=100",
            Settings {
                limits: limit(Rlimit::Sigpending, Some(100), Some(100)),
                ..d()
            },
        ),
        (
            "[Exec]\nOOMScoreAdjust=-1000",
            Settings {
                oom_score_adjust: Some(-1000),
                ..d()
            },
        ),
        (
            "[Exec]\nOOMScoreAdjust=500",
            Settings {
                oom_score_adjust: Some(500),
                ..d()
            },
        ),
        (
            "[Exec]\nCPUAffinity=0-3 5,7",
            Settings {
                cpu_affinity: Some(vec![0, 1, 2, 3, 5, 7]),
                ..d()
            },
        ),
        (
            "[Exec]\nHostname=web-1.example",
            Settings {
                hostname: s("web-1.example"),
                ..d()
            },
        ),
        (
            "[Exec]\nResolvConf=bind-stub",
            Settings {
                resolv_conf: s("bind-stub"),
                ..d()
            },
        ),
        (
            "[Exec]\nTimezone=symlink",
            Settings {
                timezone: s("symlink"),
                ..d()
            },
        ),
        (
            "[Exec]\nLinkJournal=try-guest",
            Settings {
                link_journal: s("try-guest"),
                ..d()
            },
        ),
        (
            "[Exec]\nSuppressSync=yes",
            Settings {
                suppress_sync: Some(true),
                ..d()
            },
        ),
        (
            "[Files]\nReadOnly=yes",
            Settings {
                read_only: Some(true),
                ..d()
            },
        ),
        (
            "[Files]\nVolatile=state",
            Settings {
                volatile: s("state"),
                ..d()
            },
        ),
        (
            "[Files]\nVolatile=overlay",
            Settings {
                volatile: s("overlay"),
                ..d()
            },
        ),
        (
            "[Files]\nVolatile=true",
            Settings {
                volatile: s("yes"),
                ..d()
            },
        ),
        (
            "[Files]\nVolatile=0",
            Settings {
                volatile: s("no"),
                ..d()
            },
        ),
        (
            "[Files]\nBind=/srv",
            Settings {
                bind: vec![bind("/srv", "/srv", &[], false)],
                ..d()
            },
        ),
        (
            "[Files]\nBind=/a:/b",
            Settings {
                bind: vec![bind("/a", "/b", &[], false)],
                ..d()
            },
        ),
        (
            "[Files]\nBind=-/a:/b:norbind,idmap",
            Settings {
                bind: vec![bind("/a", "/b", &["norbind", "idmap"], true)],
                ..d()
            },
        ),
        (
            "[Files]\nBind=/a\\:x:/b\\\\y",
            Settings {
                bind: vec![bind("/a:x", "/b\\y", &[], false)],
                ..d()
            },
        ),
        (
            "[Files]\nBind=:/scratch",
            Settings {
                bind: vec![bind("", "/scratch", &[], false)],
                ..d()
            },
        ),
        (
            "[Files]\nBind=/a::rbind",
            Settings {
                bind: vec![bind("/a", "/a", &["rbind"], false)],
                ..d()
            },
        ),
        (
            "[Files]\nBindReadOnly=/etc/ssl:/etc/ssl:rootidmap",
            Settings {
                bind_read_only: vec![bind("/etc/ssl", "/etc/ssl", &["rootidmap"], false)],
                ..d()
            },
        ),
        (
            "[Files]\nBindUser=alice bob",
            Settings {
                bind_user: strings(&["alice", "bob"]),
                ..d()
            },
        ),
        (
            "[Files]\nBindUserShell=no",
            Settings {
                bind_user_shell: s("no"),
                ..d()
            },
        ),
        (
            "[Files]\nBindUserShell=/bin/zsh",
            Settings {
                bind_user_shell: s("/bin/zsh"),
                ..d()
            },
        ),
        (
            "[Files]\nTemporaryFileSystem=/tmp:mode=1777,size=10%\nTemporaryFileSystem=/var/tmp",
            Settings {
                temporary_file_system: vec![
                    ("/tmp".into(), s("mode=1777,size=10%")),
                    ("/var/tmp".into(), None),
                ],
                ..d()
            },
        ),
        (
            "[Files]\nInaccessible=/etc/shadow",
            Settings {
                inaccessible: strings(&["/etc/shadow"]),
                ..d()
            },
        ),
        (
            "[Files]\nOverlay=/lower:/upper:/dst",
            Settings {
                overlay: strings(&["/lower:/upper:/dst"]),
                ..d()
            },
        ),
        (
            "[Files]\nOverlay=/lower:/dst",
            Settings {
                overlay: strings(&["/lower:/dst"]),
                ..d()
            },
        ),
        (
            "[Files]\nOverlayReadOnly=/a:/b:/c",
            Settings {
                overlay_read_only: strings(&["/a:/b:/c"]),
                ..d()
            },
        ),
        (
            "[Files]\nOverlay=/a:+/var:/var",
            Settings {
                overlay: strings(&["/a:+/var:/var"]),
                ..d()
            },
        ),
        (
            "[Files]\nPrivateUsersOwnership=auto",
            Settings {
                private_users_ownership: s("auto"),
                ..d()
            },
        ),
        (
            "[Network]\nPrivate=yes",
            Settings {
                private: Some(true),
                ..d()
            },
        ),
        (
            "[Network]\nNamespacePath=/run/netns/foo",
            Settings {
                namespace_path: s("/run/netns/foo"),
                ..d()
            },
        ),
        (
            "[Network]\nVirtualEthernet=no",
            Settings {
                virtual_ethernet: Some(false),
                ..d()
            },
        ),
        (
            "[Network]\nVirtualEthernetExtra=vex0:eth1\nVirtualEthernetExtra=vex1",
            Settings {
                virtual_ethernet_extra: strings(&["vex0:eth1", "vex1"]),
                ..d()
            },
        ),
        (
            "[Network]\nInterface=eth1 wlan0:wl0",
            Settings {
                interface: strings(&["eth1", "wlan0:wl0"]),
                ..d()
            },
        ),
        (
            "[Network]\nMACVLAN=eth0",
            Settings {
                macvlan: strings(&["eth0"]),
                ..d()
            },
        ),
        (
            "[Network]\nIPVLAN=eth0 eth1",
            Settings {
                ipvlan: strings(&["eth0", "eth1"]),
                ..d()
            },
        ),
        (
            "[Network]\nBridge=br0",
            Settings {
                bridge: s("br0"),
                ..d()
            },
        ),
        (
            "[Network]\nZone=web",
            Settings {
                zone: s("web"),
                ..d()
            },
        ),
        (
            "[Network]\nPort=80\nPort=udp:53:5353\nPort=tcp:8080:80",
            Settings {
                port: vec![
                    PortSpec {
                        protocol: Protocol::Tcp,
                        host: 80,
                        machine: 80,
                    },
                    PortSpec {
                        protocol: Protocol::Udp,
                        host: 53,
                        machine: 5353,
                    },
                    PortSpec {
                        protocol: Protocol::Tcp,
                        host: 8080,
                        machine: 80,
                    },
                ],
                ..d()
            },
        ),
    ];
    for (text, want) in cases {
        assert_eq!(parse_ok(text), want, "{text:?}");
    }
}
