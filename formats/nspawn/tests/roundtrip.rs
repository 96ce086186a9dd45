//! to_text ↔ parse, quote_word ↔ split_words, and the trusted-only key rules.

use std::collections::BTreeMap;

use wharf_nspawn_settings::{
    all_privileged_keys, parse, quote_word, split_words, BindSpec, PortSpec, PrivateUsers,
    Protocol, Rlimit, Settings,
};

fn strings(xs: &[&str]) -> Vec<String> {
    xs.iter().map(|x| x.to_string()).collect()
}

/// Every field set, with awkward values where the syntax allows them.
fn rich() -> Settings {
    Settings {
        boot: Some(false),
        ephemeral: Some(true),
        process_two: Some(true),
        parameters: Some(strings(&[
            "/bin/sh",
            "-c",
            "echo \"it's\" $HOME; exit 0",
            "",
            "a\\",
            "back\\slash",
            "tab\there",
            "#not-a-comment",
            "'",
            "\"",
        ])),
        environment: vec![
            ("LANG".into(), "C.UTF-8".into()),
            ("GREETING".into(), "hello \"world\" it's".into()),
            ("EMPTY".into(), "".into()),
            ("PS1".into(), "\\u@\\h $ ".into()),
        ],
        user: Some("daemon".into()),
        working_directory: Some("/srv/my app".into()),
        pivot_root: Some("/usr/lib/os:/sysroot".into()),
        capability: strings(&["CAP_NET_ADMIN", "CAP_SYS_TIME"]),
        drop_capability: strings(&["CAP_MKNOD"]),
        ambient_capability: strings(&["CAP_NET_BIND_SERVICE"]),
        no_new_privileges: Some(true),
        kill_signal: Some("SIGRTMIN+4".into()),
        personality: Some("x86".into()),
        machine_id: Some("0123456789abcdef0123456789abcdef".into()),
        private_users: Some(PrivateUsers::Range {
            start: 1_879_048_192,
            count: 65536,
        }),
        private_users_delegate: Some(2),
        notify_ready: Some(false),
        system_call_filter: strings(&["@clock", "~@mount", "add_key", "~bpf"]),
        restrict_address_families: strings(&["~AF_PACKET", "AF_INET"]),
        limits: BTreeMap::from([
            (Rlimit::Nofile, (Some(1024), Some(524_288))),
            (Rlimit::Core, (Some(0), None)),
            (Rlimit::Nproc, (None, None)),
            (Rlimit::Cpu, (Some(3600), Some(3600))),
            (Rlimit::Rttime, (Some(2_000_000), None)),
            (Rlimit::Nice, (Some(25), Some(40))),
            (Rlimit::As, (Some(4 << 30), Some(8 << 30))),
        ]),
        oom_score_adjust: Some(-500),
        cpu_affinity: Some(vec![0, 1, 2, 3, 5, 7]),
        hostname: Some("box.example".into()),
        resolv_conf: Some("replace-stub".into()),
        timezone: Some("bind".into()),
        link_journal: Some("try-guest".into()),
        suppress_sync: Some(true),
        read_only: Some(true),
        volatile: Some("overlay".into()),
        bind: vec![
            BindSpec {
                source: "/srv/a:b".into(),
                dest: "/mnt/with space ".into(),
                options: strings(&["norbind", "idmap"]),
                ignore_missing: true,
            },
            BindSpec {
                source: "/x\\y".into(),
                dest: "/x\\y".into(),
                options: vec![],
                ignore_missing: false,
            },
            BindSpec {
                source: "".into(),
                dest: "/scratch".into(),
                options: vec![],
                ignore_missing: false,
            },
        ],
        bind_read_only: vec![BindSpec {
            source: "/etc/ssl".into(),
            dest: "/etc/ssl".into(),
            options: strings(&["rootidmap"]),
            ignore_missing: false,
        }],
        bind_user: strings(&["alice", "bob"]),
        bind_user_shell: Some("/bin/zsh".into()),
        temporary_file_system: vec![
            ("/tmp".into(), Some("mode=1777,size=10%".into())),
            ("/var/odd:dir".into(), None),
        ],
        inaccessible: strings(&["/etc/shadow", "/proc/kcore"]),
        overlay: strings(&["/lower:/upper:/dst", "/a\\:b:/c"]),
        overlay_read_only: strings(&["/l1:/l2:/dst2"]),
        private_users_ownership: Some("map".into()),
        private_users_chown: Some(true),
        private: Some(true),
        namespace_path: Some("/run/netns/lab".into()),
        virtual_ethernet: Some(true),
        virtual_ethernet_extra: strings(&["vex0:eth1", "vex1"]),
        interface: strings(&["eth1", "wlan0:wl0"]),
        macvlan: strings(&["eth0"]),
        ipvlan: strings(&["eth2", "eth3"]),
        bridge: Some("br0".into()),
        zone: Some("lab".into()),
        port: vec![
            PortSpec {
                protocol: Protocol::Tcp,
                host: 8080,
                machine: 80,
            },
            PortSpec {
                protocol: Protocol::Udp,
                host: 53,
                machine: 53,
            },
        ],
    }
}

fn reparse(s: &Settings) -> Settings {
    let text = s.to_text();
    let (again, warnings) = parse(text.as_bytes()).unwrap_or_else(|e| panic!("{e}\n{text}"));
    // The only warning to_text may cause is the deprecated PrivateUsersChown= spelling.
    assert!(
        warnings
            .iter()
            .all(|w| w.message.contains("PrivateUsersChown")),
        "{warnings:?}\n{text}"
    );
    again
}

#[test]
fn to_text_round_trips() {
    let s = rich();
    let again = reparse(&s);
    assert_eq!(again, s, "\n{}", s.to_text());
    // Writing is stable.
    assert_eq!(again.to_text(), s.to_text());
}

#[test]
fn to_text_is_canonical() {
    assert_eq!(Settings::default().to_text(), "");
    let s = Settings {
        hostname: Some("h".into()),
        port: vec![PortSpec {
            protocol: Protocol::Tcp,
            host: 1,
            machine: 2,
        }],
        ..Settings::default()
    };
    assert_eq!(s.to_text(), "[Exec]\nHostname=h\n\n[Network]\nPort=1:2\n");
    let (s, _) = parse(
        b"[Files]\nVolatile=1\nBind=/a:/a\n[Exec]\nLimitNOFILE=5:5\nCPUAffinity=7 0-3,5 4\n\
          [Network]\nPort=tcp:80:80\nPort=udp:53\n",
    )
    .unwrap();
    assert_eq!(
        s.to_text(),
        "[Exec]\nLimitNOFILE=5\nCPUAffinity=0-5,7\n\n[Files]\nVolatile=yes\nBind=/a\n\n\
         [Network]\nPort=80\nPort=udp:53\n"
    );
}

#[test]
fn quote_word_round_trips() {
    let tricky = [
        "",
        "plain",
        "two words",
        " lead",
        "trail ",
        "tab\tsep",
        "it's",
        "say \"hi\"",
        "both ' and \"",
        "\"",
        "'",
        "\"\"''",
        "back\\slash",
        "end\\",
        "\\",
        "\\\\",
        "$HOME ${X} $(cmd) `cmd`",
        "#hash ;semi",
        "a=b",
        "ünïcödé ✓",
        "new\nline",
    ];
    for w in tricky {
        let q = quote_word(w);
        assert_eq!(split_words(&q).unwrap(), [w], "{w:?} quoted as {q:?}");
        if !w.contains('\n') {
            // Also as a whole file line, where a trailing backslash would continue the line.
            let text = format!("[Exec]\nParameters={q} x\nParameters={q}\n");
            let (s, _) = parse(text.as_bytes()).unwrap();
            assert_eq!(s.parameters.unwrap(), [w, "x", w], "{text:?}");
        }
    }
    assert_eq!(quote_word("plain"), "plain");
    assert_eq!(quote_word(""), "\"\"");
    assert_eq!(quote_word("a b"), "\"a b\"");
    let all: Vec<String> = tricky.iter().map(|w| quote_word(w)).collect();
    assert_eq!(split_words(&all.join(" ")).unwrap(), tricky);
}

#[test]
fn privileged_keys_follow_the_reference() {
    assert_eq!(
        all_privileged_keys(),
        [
            "Ephemeral",
            "Capability",
            "AmbientCapability",
            "MachineID",
            "PrivateUsers",
            "SystemCallFilter",
            "LimitCPU",
            "LimitFSIZE",
            "LimitDATA",
            "LimitSTACK",
            "LimitCORE",
            "LimitRSS",
            "LimitNOFILE",
            "LimitAS",
            "LimitNPROC",
            "LimitMEMLOCK",
            "LimitLOCKS",
            "LimitSIGPENDING",
            "LimitMSGQUEUE",
            "LimitNICE",
            "LimitRTPRIO",
            "LimitRTTIME",
            "OOMScoreAdjust",
            "CPUAffinity",
            "LinkJournal",
            "Bind",
            "BindReadOnly",
            "BindUser",
            "BindUserShell",
            "TemporaryFileSystem",
            "Inaccessible",
            "Overlay",
            "OverlayReadOnly",
            "PrivateUsersOwnership",
            "PrivateUsersChown",
            "Private",
            "NamespacePath",
            "VirtualEthernet",
            "VirtualEthernetExtra",
            "Interface",
            "MACVLAN",
            "IPVLAN",
            "Bridge",
            "Zone",
            "Port",
        ]
    );
    // Everything set: all privileged keys are reported but only 7 of the 16 limits are set.
    let s = rich();
    assert_eq!(s.privileged_keys().len(), all_privileged_keys().len() - 9);
    assert_eq!(Settings::default().privileged_keys(), Vec::<&str>::new());
}

#[test]
fn strip_privileged_keeps_the_rest() {
    let mut s = rich();
    let reported = s.privileged_keys();
    let stripped = s.strip_privileged();
    assert_eq!(stripped, reported);
    assert!(s.privileged_keys().is_empty());
    // Deny entries of SystemCallFilter= still apply from untrusted files.
    assert_eq!(s.system_call_filter, ["~@mount", "~bpf"]);
    let r = rich();
    let kept = Settings {
        system_call_filter: strings(&["~@mount", "~bpf"]),
        boot: r.boot,
        process_two: r.process_two,
        parameters: r.parameters.clone(),
        environment: r.environment.clone(),
        user: r.user.clone(),
        working_directory: r.working_directory.clone(),
        pivot_root: r.pivot_root.clone(),
        drop_capability: r.drop_capability.clone(),
        no_new_privileges: r.no_new_privileges,
        kill_signal: r.kill_signal.clone(),
        personality: r.personality.clone(),
        private_users_delegate: r.private_users_delegate,
        notify_ready: r.notify_ready,
        restrict_address_families: r.restrict_address_families.clone(),
        hostname: r.hostname.clone(),
        resolv_conf: r.resolv_conf.clone(),
        timezone: r.timezone.clone(),
        suppress_sync: r.suppress_sync,
        read_only: r.read_only,
        volatile: r.volatile.clone(),
        ..Settings::default()
    };
    assert_eq!(s, kept);
    // A second strip finds nothing.
    assert!(s.strip_privileged().is_empty());

    // Only deny entries: SystemCallFilter= is not privileged.
    let (s, _) = parse(b"[Exec]\nSystemCallFilter=~@clock\n").unwrap();
    assert!(s.privileged_keys().is_empty());
}

#[test]
fn fuzz_seeds_parse_and_round_trip() {
    for seed in [
        &include_bytes!("../fuzz/seeds/debian")[..],
        &include_bytes!("../fuzz/seeds/quoting")[..],
        &include_bytes!("../fuzz/seeds/regress-backslash-at-line-end")[..],
        &include_bytes!("../fuzz/seeds/regress-space-at-path-end")[..],
        &include_bytes!("../fuzz/seeds/regress-vtab-at-path-end")[..],
        &include_bytes!("../fuzz/seeds/regress-vtab-at-env-end")[..],
    ] {
        let (s, _) = parse(seed).unwrap();
        assert_ne!(s, Settings::default());
        assert_eq!(reparse(&s), s);
    }
}

/// Found by the fuzzer (2026-11-29): a raw value whose last character is a backslash that was
/// followed by whitespace in the file. `to_text` wrote it at the end of a line, where it
/// continued into the next line, so the settings changed on the round trip.
#[test]
fn raw_value_ending_in_a_backslash_round_trips() {
    let input = "[Files]\nTemporaryFileSystem=/var/tmp:size=1M,x\\   \nBind=/a\n\
                 Inaccessible=/b\\\\\\ \t\n";
    let (s, _) = parse(input.as_bytes()).unwrap();
    assert_eq!(
        s.temporary_file_system,
        vec![("/var/tmp".to_string(), Some("size=1M,x\\".to_string()))]
    );
    assert_eq!(s.inaccessible, vec!["/b\\\\\\".to_string()]);
    let text = s.to_text();
    let (again, _) = parse(text.as_bytes()).unwrap();
    assert_eq!(again, s, "{text}");
    assert_eq!(again.to_text(), text);
    // the fuzzer's input itself
    let crash = "#[Execd=ab\n[Files]\nBind=/a\\:\\c:/b\\d\nVerts\n\
                 TemporaryFileSystem=/var/tmp:size:  x -c \"echo \\      \nKi  \"x\\\"\" rnet=ye ";
    let (s, _) = parse(crash.as_bytes()).unwrap();
    let text = s.to_text();
    let (again, _) = parse(text.as_bytes()).unwrap();
    assert_eq!(again, s, "{text}");
}

/// Found by the fuzzer (2026-11-29): a path ending in whitespace (`Bind=/a :` has the source
/// "/a ") was written as `Bind=/a\ `, whose escaped space the parser trimmed off the line,
/// leaving a trailing backslash that it refused.
#[test]
fn path_ending_in_whitespace_round_trips() {
    let input = "[Files]\nBind=/a :\nBindReadOnly=/b:/c\t:\nTemporaryFileSystem=/t\\  :\n\
                 Bind=/a?n/sh -c \"V\\\";ab\" 'a :\n";
    let (s, _) = parse(input.as_bytes()).unwrap();
    assert_eq!(s.bind[0].source, "/a ");
    assert_eq!(s.bind_read_only[0].dest, "/c\t");
    assert_eq!(s.temporary_file_system[0].0, "/t  ");
    let text = s.to_text();
    let (again, _) = parse(text.as_bytes()).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(again, s, "{text}");
    assert_eq!(again.to_text(), text);
    // Only systemd's WHITESPACE (space, tab, CR, LF) is stripped from lines: a vertical tab or
    // a no-break space at the end of a line is part of the value, as for nspawn.
    let input = "[Files]\nBind=/a\\ b\u{b}\u{b}\nBindReadOnly=/c\u{a0}\n\
                 [Exec]\nEnvironment=A=x\u{b}\n";
    let (s, _) = parse(input.as_bytes()).unwrap();
    assert_eq!(s.bind[0].source, "/a b\u{b}\u{b}");
    assert_eq!(s.bind_read_only[0].source, "/c\u{a0}");
    assert_eq!(s.environment, vec![("A".to_string(), "x\u{b}".to_string())]);
    let text = s.to_text();
    let (again, _) = parse(text.as_bytes()).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(again, s, "{text}");
    assert_eq!(again.to_text(), text);
}
