//! File syntax: sections, comments, continuations, repeated keys, warnings, refused input.

use wharf_nspawn_settings::{parse, BindSpec, Rlimit, Settings, Warning, MAX_INPUT};

fn parse_ok(text: &str) -> (Settings, Vec<Warning>) {
    parse(text.as_bytes()).unwrap_or_else(|e| panic!("{text:?}: {e}"))
}

fn strings(xs: &[&str]) -> Vec<String> {
    xs.iter().map(|x| x.to_string()).collect()
}

#[test]
fn list_keys_accumulate_and_empty_resets() {
    // Checked against systemd-nspawn 252: Parameters= accumulates, an empty one resets.
    let (s, _) = parse_ok(
        "[Exec]\nParameters=/usr/bin/printf a\nParameters=b\n  Parameters  =  c  \nParameters=\n\
         Parameters=/usr/bin/printf d\nParameters=e \\\n\n",
    );
    assert_eq!(s.parameters, Some(strings(&["/usr/bin/printf", "d", "e"])));
    let (s, _) = parse_ok("[Exec]\nParameters=a\nParameters=");
    assert_eq!(s.parameters, None);

    let (s, _) = parse_ok("[Files]\nBind=/a\nBind=\nBind=/b\nBind=/c");
    assert_eq!(
        s.bind.iter().map(|b| b.source.as_str()).collect::<Vec<_>>(),
        ["/b", "/c"]
    );

    let (s, _) =
        parse_ok("[Exec]\nCapability=CAP_CHOWN\nCapability=\nCapability=CAP_KILL CAP_KILL");
    assert_eq!(s.capability, strings(&["CAP_KILL"]));

    let (s, _) = parse_ok("[Network]\nPort=80\nPort=\nPort=443");
    assert_eq!(s.port.len(), 1);

    // Environment: a later value of the same name replaces the earlier one (observed on 252).
    let (s, _) =
        parse_ok("[Exec]\nEnvironment=A=1\nEnvironment=\nEnvironment=Q=1 R=2\nEnvironment=Q=3");
    assert_eq!(
        s.environment,
        [
            ("R".to_string(), "2".to_string()),
            ("Q".to_string(), "3".to_string())
        ]
    );

    let (s, _) = parse_ok("[Exec]\nSystemCallFilter=@a\nSystemCallFilter=\nSystemCallFilter=~@b");
    assert_eq!(s.system_call_filter, strings(&["~@b"]));

    let (s, _) = parse_ok("[Exec]\nLimitNOFILE=10\nLimitNOFILE=\nLimitCORE=0\nLimitCORE=1");
    assert_eq!(s.limits.len(), 1);
    assert_eq!(s.limits[&Rlimit::Core], (Some(1), Some(1)));
}

#[test]
fn scalar_keys_last_wins_and_empty_unsets() {
    let (s, _) = parse_ok("[Exec]\nHostname=a\nHostname=b\nUser=x\nUser=\nBoot=yes\nBoot=no");
    assert_eq!(s.hostname.as_deref(), Some("b"));
    assert_eq!(s.user, None);
    assert_eq!(s.boot, Some(false));
    let (s, _) = parse_ok("[Exec]\nCPUAffinity=1\nCPUAffinity=2-3\n[Network]\nZone=a\nZone=b");
    assert_eq!(s.cpu_affinity, Some(vec![2, 3]));
    assert_eq!(s.zone.as_deref(), Some("b"));
}

#[test]
fn boot_and_process_two_exclude_each_other() {
    let (s, w) = parse_ok("[Exec]\nProcessTwo=yes\nBoot=yes");
    assert_eq!((s.boot, s.process_two), (Some(true), None));
    assert_eq!(w.len(), 1);
    let (s, w) = parse_ok("[Exec]\nBoot=yes\nProcessTwo=yes");
    assert_eq!((s.boot, s.process_two), (None, Some(true)));
    assert!(w[0].message.contains("overrides"), "{w:?}");
    let (s, w) = parse_ok("[Exec]\nBoot=yes\nProcessTwo=no");
    assert_eq!((s.boot, s.process_two), (Some(true), Some(false)));
    assert!(w.is_empty());
}

#[test]
fn continuation_lines_and_comments() {
    let text = "# header comment\n; another\n[Exec]\nParameters=/bin/echo one \\\n  two\\\n# skipped comment\n   three\nHostname=h # not a comment\n";
    let err = parse(text.as_bytes()).unwrap_err();
    assert_eq!((err.line, err.key.as_str()), (8, "Hostname"));

    let text = "[Exec]\n  # indented comment\nParameters=/bin/echo one \\\n  two\\\n# skipped\n   three\n\n\nHostname=h\n";
    let (s, w) = parse_ok(text);
    assert!(w.is_empty());
    assert_eq!(
        s.parameters,
        Some(strings(&["/bin/echo", "one", "two", "three"]))
    );
    assert_eq!(s.hostname.as_deref(), Some("h"));

    // The key itself may be continued; the error names the line where it starts.
    let (s, _) = parse_ok("[Files]\nBind=\\\n/srv");
    assert_eq!(s.bind[0].source, "/srv");
    let err = parse(b"[Exec]\n\nHostname=\\\nbad_name\n").unwrap_err();
    assert_eq!(err.line, 3);

    // CRLF files and a byte order mark.
    let (s, _) = parse_ok("\u{feff}[Exec]\r\nBoot=yes\r\n");
    assert_eq!(s.boot, Some(true));
}

#[test]
fn unknown_things_warn() {
    let text = "Boot=yes\n[exec]\nBoot=yes\n[Exec]\nFoo=bar\nX-Foo=1\nnoequals\n=x\nLimitFOO=1\n\
                [X-Vendor]\nA=1\n[Other]\nB=2\n[Files]\nBind=/srv\n";
    let (s, w) = parse_ok(text);
    assert_eq!(s.boot, None, "keys in unknown sections are ignored");
    assert_eq!(s.bind.len(), 1);
    let lines: Vec<usize> = w.iter().map(|w| w.line).collect();
    assert_eq!(lines, [1, 2, 5, 7, 8, 9, 12], "{w:?}");
    assert!(w[0].message.contains("outside"));
    assert!(w[1].message.contains("[exec]"));
    assert!(w[2].message.contains("Foo="));
    assert!(w[3].message.contains("missing '='"));
    assert!(w[5].message.contains("LimitFOO="));
    assert_eq!(
        w[6].to_string(),
        "line 12: unknown section [Other], ignoring it"
    );

    let (s, w) = parse_ok("[Files]\nPrivateUsersChown=yes\n");
    assert_eq!(s.private_users_chown, Some(true));
    assert!(w[0].message.contains("deprecated"), "{w:?}");
    // A key from the wrong section is unknown there.
    let (s, w) = parse_ok("[Network]\nBoot=yes\n");
    assert_eq!((s.boot, w.len()), (None, 1));
}

#[test]
fn refused_input() {
    let err = parse(b"[Exec]\nHostname=a\nUser=\xff\n").unwrap_err();
    assert_eq!((err.line, err.key.as_str()), (3, ""));
    assert_eq!(err.to_string(), "line 3: not valid UTF-8");

    let err = parse(b"[Exec]\nUser=a\0b\n").unwrap_err();
    assert!(err.message.contains("NUL"));

    let err = parse(b"[Exec\nBoot=yes\n").unwrap_err();
    assert_eq!(err.line, 1);
    assert!(err.message.contains("section header"), "{err}");

    let mut big = b"[Exec]\n".to_vec();
    big.resize(MAX_INPUT + 1, b'#');
    let err = parse(&big).unwrap_err();
    assert_eq!(err.line, 0);
    assert_eq!(
        err.to_string(),
        format!("file is larger than {MAX_INPUT} bytes")
    );

    // Exactly the cap is fine.
    big.truncate(MAX_INPUT);
    assert!(parse(&big).is_ok());
}

#[test]
fn empty_file() {
    assert_eq!(parse(b"").unwrap(), (Settings::default(), vec![]));
    assert_eq!(
        parse(b"\n\n# only comments\n[Exec]\n").unwrap().0,
        Settings::default()
    );
}

#[test]
fn debian_style_example() {
    // Shaped like the examples in systemd.nspawn(5) and the files Debian users keep in
    // /etc/systemd/nspawn/.
    let text = r#"# /etc/systemd/nspawn/debian.nspawn
[Exec]
Boot=yes
PrivateUsers=pick
Environment=LANG=C.UTF-8 "TZ=Europe/Berlin"
Hostname=debian-box
ResolvConf=copy-host
Timezone=auto
LimitNOFILE=65536
SystemCallFilter=@known
Capability=CAP_NET_ADMIN

[Files]
PrivateUsersOwnership=auto
Bind=/home/user/src:/src
BindReadOnly=/etc/ssl/certs
TemporaryFileSystem=/var/tmp:size=200M

[Network]
VirtualEthernet=yes
Port=tcp:2222:22
Zone=lab
"#;
    let (s, w) = parse_ok(text);
    assert!(w.is_empty());
    assert_eq!(s.boot, Some(true));
    assert_eq!(s.environment.len(), 2);
    assert_eq!(
        s.bind,
        [BindSpec {
            source: "/home/user/src".into(),
            dest: "/src".into(),
            options: vec![],
            ignore_missing: false
        }]
    );
    assert_eq!(
        s.privileged_keys(),
        [
            "Capability",
            "PrivateUsers",
            "SystemCallFilter",
            "LimitNOFILE",
            "Bind",
            "BindReadOnly",
            "TemporaryFileSystem",
            "PrivateUsersOwnership",
            "VirtualEthernet",
            "Zone",
            "Port"
        ]
    );
    let (again, _) = parse_ok(&s.to_text());
    assert_eq!(again, s);
}
