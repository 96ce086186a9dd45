//! Serialise [`Settings`] back into `.nspawn` syntax.

use std::fmt::Write;

use crate::words::{escape_colons, quote_word};
use crate::{BindSpec, PrivateUsers, Protocol, Settings};

struct Out {
    text: String,
    section: String,
}

impl Out {
    fn line(&mut self, key: &str, value: &str) {
        let _ = writeln!(self.section, "{key}={value}");
    }
    fn opt(&mut self, key: &str, value: &Option<String>) {
        if let Some(v) = value {
            self.line(key, v);
        }
    }
    fn bool(&mut self, key: &str, value: Option<bool>) {
        if let Some(b) = value {
            self.line(key, if b { "yes" } else { "no" });
        }
    }
    /// One line per entry, each a single quoted word.
    fn words(&mut self, key: &str, values: &[String]) {
        for v in values {
            self.line(key, &quote_word(v));
        }
    }
    fn each(&mut self, key: &str, values: &[String]) {
        for v in values {
            self.line(key, v);
        }
    }
    fn end_section(&mut self, name: &str) {
        if !self.section.is_empty() {
            if !self.text.is_empty() {
                self.text.push('\n');
            }
            let _ = writeln!(self.text, "[{name}]");
            self.text.push_str(&self.section);
            self.section.clear();
        }
    }
}

/// A bare number is seconds for `LimitCPU=`, microseconds for `LimitRTTIME=`, the raw rlimit
/// for `LimitNICE=` and bytes or a count for the rest: exactly what is stored.
fn limit_value(v: Option<u64>) -> String {
    v.map_or_else(|| "infinity".into(), |n| n.to_string())
}

fn bind(b: &BindSpec) -> String {
    let mut s = String::new();
    if b.ignore_missing {
        s.push('-');
    }
    s.push_str(&escape_colons(&b.source));
    if b.dest != b.source || !b.options.is_empty() || b.source.is_empty() {
        s.push(':');
        s.push_str(&escape_colons(&b.dest));
    }
    if !b.options.is_empty() {
        s.push(':');
        s.push_str(&b.options.join(","));
    }
    s
}

/// `~` entries and plain entries go on separate lines (a `~` applies to the whole line).
fn negatable(out: &mut Out, key: &str, entries: &[String]) {
    let allow: Vec<String> = entries
        .iter()
        .filter(|e| !e.starts_with('~'))
        .map(|e| quote_word(e))
        .collect();
    let deny: Vec<String> = entries
        .iter()
        .filter_map(|e| e.strip_prefix('~'))
        .map(quote_word)
        .collect();
    if !allow.is_empty() {
        out.line(key, &allow.join(" "));
    }
    if !deny.is_empty() {
        out.line(key, &format!("~{}", deny.join(" ")));
    }
}

pub(crate) fn to_text(s: &Settings) -> String {
    let mut o = Out {
        text: String::new(),
        section: String::new(),
    };

    o.bool("Boot", s.boot);
    o.bool("Ephemeral", s.ephemeral);
    o.bool("ProcessTwo", s.process_two);
    if let Some(p) = &s.parameters {
        if !p.is_empty() {
            let words: Vec<String> = p.iter().map(|w| quote_word(w)).collect();
            o.line("Parameters", &words.join(" "));
        }
    }
    for (name, value) in &s.environment {
        o.line("Environment", &quote_word(&format!("{name}={value}")));
    }
    o.opt("User", &s.user);
    o.opt("WorkingDirectory", &s.working_directory);
    o.opt("PivotRoot", &s.pivot_root);
    for (key, caps) in [
        ("Capability", &s.capability),
        ("DropCapability", &s.drop_capability),
        ("AmbientCapability", &s.ambient_capability),
    ] {
        if !caps.is_empty() {
            o.line(key, &caps.join(" "));
        }
    }
    o.bool("NoNewPrivileges", s.no_new_privileges);
    o.opt("KillSignal", &s.kill_signal);
    o.opt("Personality", &s.personality);
    o.opt("MachineID", &s.machine_id);
    if let Some(p) = s.private_users {
        let v = match p {
            PrivateUsers::No => "no".into(),
            PrivateUsers::Yes => "yes".into(),
            PrivateUsers::Pick => "pick".into(),
            PrivateUsers::Identity => "identity".into(),
            PrivateUsers::Managed => "managed".into(),
            PrivateUsers::Range { start, count } => format!("{start}:{count}"),
        };
        o.line("PrivateUsers", &v);
    }
    o.opt(
        "PrivateUsersDelegate",
        &s.private_users_delegate.map(|n| n.to_string()),
    );
    o.bool("NotifyReady", s.notify_ready);
    negatable(&mut o, "SystemCallFilter", &s.system_call_filter);
    negatable(
        &mut o,
        "RestrictAddressFamilies",
        &s.restrict_address_families,
    );
    for (r, (soft, hard)) in &s.limits {
        let v = if soft == hard {
            limit_value(*soft)
        } else {
            format!("{}:{}", limit_value(*soft), limit_value(*hard))
        };
        o.line(r.key(), &v);
    }
    o.opt("OOMScoreAdjust", &s.oom_score_adjust.map(|n| n.to_string()));
    if let Some(cpus) = &s.cpu_affinity {
        if !cpus.is_empty() {
            let list: Vec<String> = cpus.iter().map(u32::to_string).collect();
            o.line("CPUAffinity", &list.join(","));
        }
    }
    o.opt("Hostname", &s.hostname);
    o.opt("ResolvConf", &s.resolv_conf);
    o.opt("Timezone", &s.timezone);
    o.opt("LinkJournal", &s.link_journal);
    o.bool("SuppressSync", s.suppress_sync);
    o.end_section("Exec");

    o.bool("ReadOnly", s.read_only);
    o.opt("Volatile", &s.volatile);
    for b in &s.bind {
        o.line("Bind", &bind(b));
    }
    for b in &s.bind_read_only {
        o.line("BindReadOnly", &bind(b));
    }
    o.words("BindUser", &s.bind_user);
    o.opt("BindUserShell", &s.bind_user_shell);
    for (path, opts) in &s.temporary_file_system {
        let mut v = escape_colons(path);
        if let Some(opts) = opts {
            v.push(':');
            v.push_str(opts);
        }
        o.line("TemporaryFileSystem", &v);
    }
    o.each("Inaccessible", &s.inaccessible);
    o.each("Overlay", &s.overlay);
    o.each("OverlayReadOnly", &s.overlay_read_only);
    o.bool("PrivateUsersChown", s.private_users_chown);
    o.opt("PrivateUsersOwnership", &s.private_users_ownership);
    o.end_section("Files");

    o.bool("Private", s.private);
    o.opt("NamespacePath", &s.namespace_path);
    o.bool("VirtualEthernet", s.virtual_ethernet);
    o.each("VirtualEthernetExtra", &s.virtual_ethernet_extra);
    o.words("Interface", &s.interface);
    o.words("MACVLAN", &s.macvlan);
    o.words("IPVLAN", &s.ipvlan);
    o.opt("Bridge", &s.bridge);
    o.opt("Zone", &s.zone);
    for p in &s.port {
        let proto = match p.protocol {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        };
        o.line("Port", &format!("{proto}:{}:{}", p.host, p.machine));
    }
    o.end_section("Network");
    o.text
}
