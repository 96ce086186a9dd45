use super::*;

fn parse(text: &str) -> Settings {
    wharf_nspawn_settings::parse(text.as_bytes()).unwrap().0
}

fn applied(text: &str, given: Given, mode: SettingsMode) -> (Config, Vec<String>) {
    let mut cfg = Config::default();
    let w = apply(&mut cfg, &parse(text), &given, mode).unwrap();
    (cfg, w)
}

#[test]
fn oci_style_settings_set_the_command_and_identity() {
    let (cfg, w) = applied(
        "[Exec]\nProcessTwo=yes\nParameters=/entry \"a b\" c\nEnvironment=A=1 B=2\nWorkingDirectory=/srv\nUser=app\n",
        Given::default(),
        SettingsMode::Yes,
    );
    assert!(w.is_empty(), "{w:?}");
    assert_eq!(cfg.mode, StartMode::Pid2);
    assert_eq!(
        cfg.command,
        ["/entry", "a b", "c"].map(std::ffi::OsString::from)
    );
    assert_eq!(
        cfg.setenv,
        [("A".into(), "1".into()), ("B".into(), "2".into())]
    );
    assert_eq!(cfg.chdir, Some(PathBuf::from("/srv")));
    assert_eq!(cfg.user.as_deref(), Some("app"));
}

#[test]
fn the_command_line_wins_unless_override() {
    let text = "[Exec]\nHostname=file\nEnvironment=A=file\nBoot=yes\nParameters=x\n";
    let given = Given {
        hostname: true,
        environment: true,
        start_mode: true,
        ..Given::default()
    };
    let mut cfg = Config {
        hostname: Some("cli".into()),
        setenv: vec![("A".into(), "cli".into())],
        command: vec!["cmd".into()],
        ..Config::default()
    };
    apply(&mut cfg, &parse(text), &given, SettingsMode::Yes).unwrap();
    assert_eq!(cfg.hostname.as_deref(), Some("cli"));
    assert_eq!(cfg.setenv[0].1, "cli");
    assert_eq!(cfg.mode, StartMode::Pid1);
    assert_eq!(cfg.command, ["cmd"].map(std::ffi::OsString::from));
    apply(&mut cfg, &parse(text), &given, SettingsMode::Override).unwrap();
    assert_eq!(cfg.hostname.as_deref(), Some("file"));
    assert_eq!(cfg.setenv[0].1, "file");
    assert_eq!(cfg.mode, StartMode::Boot);
    assert_eq!(cfg.command, ["x"].map(std::ffi::OsString::from));
}

#[test]
fn settings_no_changes_nothing() {
    let (cfg, w) = applied(
        "[Exec]\nHostname=file\nPort=80\n",
        Given::default(),
        SettingsMode::No,
    );
    assert_eq!(cfg.hostname, None);
    assert!(w.is_empty());
}

#[test]
fn every_supported_key_maps() {
    let text = "[Exec]\nCapability=CAP_NET_ADMIN\nDropCapability=CAP_CHOWN\nNoNewPrivileges=yes\n\
        KillSignal=SIGTERM\nMachineID=0123456789abcdef0123456789abcdef\nNotifyReady=yes\n\
        SystemCallFilter=@clock\nSystemCallFilter=~@mount\nLimitNOFILE=100:200\nLimitCORE=infinity\n\
        OOMScoreAdjust=-5\nCPUAffinity=0\nHostname=h\nResolvConf=off\nTimezone=off\nLinkJournal=no\nEphemeral=yes\n\
        [Files]\nReadOnly=yes\nVolatile=state\nBind=/a:/b\nBindReadOnly=/c\nTemporaryFileSystem=/t:size=1M\n\
        Inaccessible=/i\nOverlay=/l:/u:/d\nOverlayReadOnly=/l1:/l2:/d2\n";
    let (cfg, w) = applied(text, Given::default(), SettingsMode::Trusted);
    assert!(w.is_empty(), "{w:?}");
    assert_ne!(cfg.caps.add, 0);
    assert_ne!(cfg.caps.drop, 0);
    assert!(cfg.no_new_privileges && cfg.notify_ready && cfg.read_only && cfg.ephemeral);
    assert_eq!(cfg.kill_signal, Some(15));
    assert!(cfg.uuid.is_some());
    assert_eq!(cfg.syscall_filter.allow, ["@clock"]);
    assert_eq!(cfg.syscall_filter.deny, ["@mount"]);
    let nofile = limits::rlimit_index("NOFILE").unwrap();
    let core = limits::rlimit_index("CORE").unwrap();
    assert!(cfg.limits.rlimits.contains(&limits::Rlimit1 {
        index: nofile,
        soft: Some(100),
        hard: Some(200)
    }));
    assert!(cfg.limits.rlimits.contains(&limits::Rlimit1 {
        index: core,
        soft: None,
        hard: None
    }));
    assert_eq!(cfg.limits.oom_score_adjust, Some(-5));
    assert_eq!(cfg.limits.cpu_affinity, Some(vec![0]));
    assert_eq!(cfg.hostname.as_deref(), Some("h"));
    assert_eq!(cfg.resolv_conf, ResolvConf::Off);
    assert_eq!(cfg.timezone, Timezone::Off);
    assert_eq!(cfg.link_journal, LinkJournal::No);
    assert_eq!(cfg.volatile, Volatile::State);
    assert_eq!(cfg.binds.len(), 2);
    assert_eq!(cfg.binds[0].dst, PathBuf::from("/b"));
    assert!(cfg.binds[1].read_only);
    assert_eq!(cfg.tmpfs[0].options, "size=1M");
    assert_eq!(cfg.inaccessible, [PathBuf::from("/i")]);
    assert_eq!(cfg.overlays.len(), 2);
}

#[test]
fn unsupported_keys_warn() {
    let (_, w) = applied(
        "[Exec]\nPrivateUsers=pick\nPivotRoot=/x\n[Network]\nVirtualEthernet=yes\nPort=80\n",
        Given::default(),
        SettingsMode::Trusted,
    );
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(w.iter().all(|l| l.contains("not supported yet")));
}

#[test]
fn private_users_keys() {
    use crate::userns::{Ownership, PrivateUsers};
    let (cfg, w) = applied(
        "[Exec]\nPrivateUsers=pick\n[Files]\nPrivateUsersOwnership=chown\n",
        Given::default(),
        SettingsMode::Trusted,
    );
    assert!(w.is_empty(), "{w:?}");
    assert_eq!(cfg.private_users, PrivateUsers::Pick);
    assert_eq!(cfg.private_users_ownership, Some(Ownership::Chown));
    let (cfg, _) = applied(
        "[Exec]\nPrivateUsers=1048576:1000\n[Files]\nPrivateUsersChown=yes\n",
        Given::default(),
        SettingsMode::Trusted,
    );
    assert_eq!(
        cfg.private_users,
        PrivateUsers::Fixed {
            base: 1048576,
            count: 1000
        }
    );
    assert_eq!(cfg.private_users_ownership, Some(Ownership::Chown));
    // The command line wins.
    let (cfg, _) = applied(
        "[Exec]\nPrivateUsers=identity\n[Files]\nPrivateUsersOwnership=map\n",
        Given {
            private_users: true,
            private_users_ownership: true,
            ..Given::default()
        },
        SettingsMode::Trusted,
    );
    assert_eq!(cfg.private_users, PrivateUsers::No);
    assert_eq!(cfg.private_users_ownership, None);
}

#[test]
fn network_keys_become_network_options() {
    let (cfg, w) = applied(
        "[Network]\nVirtualEthernet=yes\nPort=tcp:8080:80\nZone=web\n",
        Given::default(),
        SettingsMode::Trusted,
    );
    assert!(w.is_empty(), "{w:?}");
    assert!(cfg.network.private && cfg.network.spec.veth);
    assert_eq!(cfg.network.spec.zone.as_deref(), Some("web"));
    assert_eq!(cfg.network.spec.ports.len(), 1);
    // The command line's network options win over the file's.
    let (cfg, _) = applied(
        "[Network]\nZone=web\n",
        Given {
            network: true,
            ..Given::default()
        },
        SettingsMode::Trusted,
    );
    assert!(cfg.network.spec.zone.is_none());
}

#[test]
fn virtual_ethernet_extra_implies_a_private_network() {
    let (cfg, w) = applied(
        "[Network]\nVirtualEthernetExtra=vx0:eth1\nVirtualEthernetExtra=vx1\n",
        Given::default(),
        SettingsMode::Trusted,
    );
    assert!(w.is_empty(), "{w:?}");
    assert!(cfg.network.private && !cfg.network.spec.veth);
    let x: Vec<String> = cfg
        .network
        .spec
        .veth_extra
        .iter()
        .map(|x| x.to_string())
        .collect();
    assert_eq!(x, ["vx0:eth1", "vx1"]);
}

#[test]
fn untrusted_file_loses_privileged_keys_with_warnings() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("m.nspawn"),
        "[Exec]\nCapability=CAP_NET_ADMIN\nEnvironment=A=1\n[Files]\nBind=/x\n",
    )
    .unwrap();
    let found = lookup_in(&[], Some(dir.path()), "m").unwrap();
    assert!(!found.trusted);
    let (s, w) = load(&found, SettingsMode::Yes).unwrap();
    assert!(s.capability.is_empty() && s.bind.is_empty());
    assert_eq!(s.environment.len(), 1);
    assert_eq!(w.len(), 2, "{w:?}");
    assert!(w[0].contains("Capability=") && w[1].contains("Bind="));
    let (s, w) = load(&found, SettingsMode::Trusted).unwrap();
    assert_eq!(s.capability.len(), 1);
    assert!(w.is_empty());
}

#[test]
fn lookup_prefers_trusted_directories_in_order() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let img = tempfile::tempdir().unwrap();
    std::fs::write(img.path().join("m.nspawn"), "").unwrap();
    std::fs::write(b.path().join("m.nspawn"), "").unwrap();
    let dirs = [a.path().to_path_buf(), b.path().to_path_buf()];
    let f = lookup_in(&dirs, Some(img.path()), "m").unwrap();
    assert_eq!(f.path, b.path().join("m.nspawn"));
    assert!(f.trusted);
    std::fs::write(a.path().join("m.nspawn"), "").unwrap();
    assert_eq!(
        lookup_in(&dirs, Some(img.path()), "m").unwrap().path,
        a.path().join("m.nspawn")
    );
    assert_eq!(lookup_in(&dirs, Some(img.path()), "other"), None);
    assert_eq!(lookup_in(&dirs, Some(img.path()), "../m"), None);
}

#[test]
fn parse_errors_name_file_and_line() {
    let e = parse_named(b"[Exec]\n\nBoot=maybe\n", Path::new("/x/m.nspawn")).unwrap_err();
    assert!(e.to_string().starts_with("/x/m.nspawn:3: Boot=: "), "{e}");
    let (_, w) = parse_named(b"[Exec]\nFoo=1\n", Path::new("/x/m.nspawn")).unwrap();
    assert!(w[0].starts_with("/x/m.nspawn:2: "), "{w:?}");
}
