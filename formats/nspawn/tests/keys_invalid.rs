//! Every key: invalid values are refused with the key and line; every documented key is known.

use wharf_nspawn_settings::{parse, Rlimit};

#[test]
fn invalid_values() {
    let cases: &[(&str, &str)] = &[
        ("[Exec]\nBoot=maybe", "Boot"),
        ("[Exec]\nEphemeral=2", "Ephemeral"),
        ("[Exec]\nProcessTwo=yess", "ProcessTwo"),
        ("[Exec]\nParameters=/bin/sh \"unterminated", "Parameters"),
        ("[Exec]\nEnvironment=NOVALUE", "Environment"),
        ("[Exec]\nEnvironment==x", "Environment"),
        ("[Exec]\nEnvironment=\"A=1", "Environment"),
        ("[Exec]\nUser=bad user", "User"),
        ("[Exec]\nUser=-x", "User"),
        ("[Exec]\nUser=1000", "User"),
        ("[Exec]\nWorkingDirectory=relative", "WorkingDirectory"),
        ("[Exec]\nPivotRoot=/a:b", "PivotRoot"),
        ("[Exec]\nCapability=CAP_NOPE", "Capability"),
        ("[Exec]\nCapability=63", "Capability"),
        ("[Exec]\nDropCapability=sys_admin", "DropCapability"),
        ("[Exec]\nAmbientCapability=all", "AmbientCapability"),
        ("[Exec]\nNoNewPrivileges=perhaps", "NoNewPrivileges"),
        ("[Exec]\nKillSignal=SIGFOO", "KillSignal"),
        ("[Exec]\nKillSignal=RTMIN+40", "KillSignal"),
        ("[Exec]\nKillSignal=0", "KillSignal"),
        ("[Exec]\nPersonality=vax", "Personality"),
        ("[Exec]\nMachineID=xyz", "MachineID"),
        (
            "[Exec]\nMachineID=00000000000000000000000000000000",
            "MachineID",
        ),
        ("[Exec]\nPrivateUsers=lots", "PrivateUsers"),
        ("[Exec]\nPrivateUsers=10:0", "PrivateUsers"),
        ("[Exec]\nPrivateUsers=4294967295", "PrivateUsers"),
        ("[Exec]\nPrivateUsers=4294900000:100000", "PrivateUsers"),
        ("[Exec]\nPrivateUsers=0:65536x", "PrivateUsers"),
        ("[Exec]\nPrivateUsersDelegate=-1", "PrivateUsersDelegate"),
        ("[Exec]\nNotifyReady=ready", "NotifyReady"),
        ("[Exec]\nSystemCallFilter=Open!", "SystemCallFilter"),
        (
            "[Exec]\nRestrictAddressFamilies=INET",
            "RestrictAddressFamilies",
        ),
        ("[Exec]\nLimitNOFILE=lots", "LimitNOFILE"),
        ("[Exec]\nLimitNOFILE=2048:1024", "LimitNOFILE"),
        ("[Exec]\nLimitNOFILE=infinity:1024", "LimitNOFILE"),
        ("[Exec]\nLimitNOFILE=1K", "LimitNOFILE"),
        ("[Exec]\nLimitNOFILE=1:", "LimitNOFILE"),
        ("[Exec]\nLimitAS=4Q", "LimitAS"),
        ("[Exec]\nLimitAS=99999999E", "LimitAS"),
        ("[Exec]\nLimitCPU=5 fortnights", "LimitCPU"),
        ("[Exec]\nLimitNICE=+20", "LimitNICE"),
        ("[Exec]\nLimitNICE=41", "LimitNICE"),
        ("[Exec]\nLimitRTTIME=-1", "LimitRTTIME"),
        ("[Exec]\nOOMScoreAdjust=1001", "OOMScoreAdjust"),
        ("[Exec]\nOOMScoreAdjust=high", "OOMScoreAdjust"),
        ("[Exec]\nCPUAffinity=3-1", "CPUAffinity"),
        ("[Exec]\nCPUAffinity=0-99999999", "CPUAffinity"),
        ("[Exec]\nHostname=bad_host", "Hostname"),
        ("[Exec]\nHostname=a..b", "Hostname"),
        ("[Exec]\nResolvConf=yes", "ResolvConf"),
        ("[Exec]\nTimezone=utc", "Timezone"),
        ("[Exec]\nLinkJournal=yes", "LinkJournal"),
        ("[Exec]\nSuppressSync=sometimes", "SuppressSync"),
        ("[Files]\nReadOnly=ro", "ReadOnly"),
        ("[Files]\nVolatile=tmpfs", "Volatile"),
        ("[Files]\nBind=relative", "Bind"),
        ("[Files]\nBind=/a:relative", "Bind"),
        ("[Files]\nBind=/a:/b:bogus", "Bind"),
        ("[Files]\nBind=/a:/b:rbind:x", "Bind"),
        ("[Files]\nBind=:", "Bind"),
        ("[Files]\nBindReadOnly=x:/y", "BindReadOnly"),
        ("[Files]\nBindUser=a:b", "BindUser"),
        ("[Files]\nBindUserShell=sh", "BindUserShell"),
        ("[Files]\nTemporaryFileSystem=tmp", "TemporaryFileSystem"),
        ("[Files]\nInaccessible=etc", "Inaccessible"),
        ("[Files]\nOverlay=/only", "Overlay"),
        ("[Files]\nOverlayReadOnly=/a:rel", "OverlayReadOnly"),
        (
            "[Files]\nPrivateUsersOwnership=yes",
            "PrivateUsersOwnership",
        ),
        ("[Files]\nPrivateUsersChown=auto", "PrivateUsersChown"),
        ("[Network]\nPrivate=net", "Private"),
        ("[Network]\nNamespacePath=netns", "NamespacePath"),
        ("[Network]\nVirtualEthernet=veth", "VirtualEthernet"),
        (
            "[Network]\nVirtualEthernetExtra=a:this-name-is-too-long",
            "VirtualEthernetExtra",
        ),
        ("[Network]\nInterface=bad/name", "Interface"),
        ("[Network]\nMACVLAN=a:b", "MACVLAN"),
        ("[Network]\nIPVLAN=..", "IPVLAN"),
        ("[Network]\nBridge=br 0", "Bridge"),
        ("[Network]\nZone=0123456789abc", "Zone"),
        ("[Network]\nPort=0", "Port"),
        ("[Network]\nPort=sctp:80", "Port"),
        ("[Network]\nPort=65536", "Port"),
        ("[Network]\nPort=80:+80", "Port"),
        ("[Network]\nPort=80\nPort=tcp:80:81", "Port"),
    ];
    for (text, key) in cases {
        let err = parse(text.as_bytes()).expect_err(text);
        assert_eq!(err.key, *key, "{text:?}: {err}");
        let last_line = text.lines().count();
        assert_eq!(err.line, last_line, "{text:?}: {err}");
        assert!(!err.message.is_empty());
        assert_eq!(
            err.to_string(),
            format!("line {last_line}: {key}=: {}", err.message)
        );
    }
}

#[test]
fn every_documented_key_is_known() {
    // Each key of systemd.nspawn(5) v262 with a valid value: none may warn as unknown.
    let exec = "Boot Ephemeral ProcessTwo NoNewPrivileges NotifyReady SuppressSync";
    let mut text = String::from("[Exec]\n");
    for k in exec.split(' ') {
        text += &format!("{k}=no\n");
    }
    for r in Rlimit::ALL {
        text += &format!("{}=1\n", r.key());
    }
    text += "Parameters=x\nEnvironment=A=b\nUser=u\nWorkingDirectory=/\nPivotRoot=/p\n\
             Capability=CAP_CHOWN\nDropCapability=CAP_CHOWN\nAmbientCapability=CAP_CHOWN\n\
             KillSignal=SIGINT\nPersonality=x86-64\nMachineID=0123456789abcdef0123456789abcdef\n\
             PrivateUsers=pick\nPrivateUsersDelegate=1\nSystemCallFilter=@basic-io\n\
             RestrictAddressFamilies=AF_INET\nOOMScoreAdjust=0\nCPUAffinity=0\nHostname=h\n\
             ResolvConf=auto\nTimezone=auto\nLinkJournal=auto\n\
             [Files]\nReadOnly=no\nVolatile=no\nBind=/b\nBindReadOnly=/b\nBindUser=u\n\
             BindUserShell=yes\nTemporaryFileSystem=/t\nInaccessible=/i\nOverlay=/a:/b\n\
             OverlayReadOnly=/a:/b\nPrivateUsersOwnership=off\n\
             [Network]\nPrivate=no\nNamespacePath=/n\nVirtualEthernet=no\nVirtualEthernetExtra=v\n\
             Interface=i\nMACVLAN=m\nIPVLAN=i\nBridge=b\nZone=z\nPort=1\n";
    let (settings, warnings) = parse(text.as_bytes()).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(settings.limits.len(), 16);
}
