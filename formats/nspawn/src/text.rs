//! Serialise [`Settings`] back into `.nspawn` syntax.

use std::fmt::Write;

use crate::words::{escape_colons, quote_word, WHITESPACE};
use crate::{BindSpec, PrivateUsers, Protocol, Settings};

struct Out {
    text: String,
    section: String,
}

impl Out {
    fn line(&mut self, key: &str, value: &str) {
        // A raw value ending in an odd number of backslashes was read from a line where
        // whitespace followed them; written bare, that backslash would continue the line into
        // the next one. A trailing space keeps it a plain backslash, as in the file it came
        // from (the parser trims it again).
        let trailing = value.len() - value.trim_end_matches('\\').len();
        let pad = if trailing % 2 == 1 { " " } else { "" };
        let _ = writeln!(self.section, "{key}={value}{pad}");
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
    keep_final_whitespace(&mut s);
    s
}

/// An escaped space or tab at the very end of a value would be stripped off its line by the
/// parser, leaving a dangling backslash: an empty field after it (`PATH\ :`, which the parser
/// reads as absent) keeps it inside the value.
fn keep_final_whitespace(v: &mut String) {
    if v.ends_with(WHITESPACE) {
        v.push(':');
    }
}

/// A `~` applies to a whole line, so each run of deny entries and each run of allow entries
/// gets its own line, keeping the order.
fn negatable(out: &mut Out, key: &str, entries: &[String]) {
    let mut i = 0;
    while i < entries.len() {
        let deny = entries[i].starts_with('~');
        let run: Vec<String> = entries[i..]
            .iter()
            .take_while(|e| e.starts_with('~') == deny)
            .map(|e| quote_word(e.strip_prefix('~').unwrap_or(e)))
            .collect();
        i += run.len();
        let prefix = if deny { "~" } else { "" };
        out.line(key, &format!("{prefix}{}", run.join(" ")));
    }
}

/// `0-3,5,7`: sorted CPUs as ranges.
fn cpu_ranges(cpus: &[u32]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < cpus.len() {
        let start = cpus[i];
        let mut end = start;
        while i + 1 < cpus.len() && cpus[i + 1] == end.wrapping_add(1) {
            i += 1;
            end = cpus[i];
        }
        parts.push(if start == end {
            start.to_string()
        } else {
            format!("{start}-{end}")
        });
        i += 1;
    }
    parts.join(",")
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
            o.line("CPUAffinity", &cpu_ranges(cpus));
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
        } else {
            keep_final_whitespace(&mut v);
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
        // Shortest form: tcp is the default protocol, the container port defaults to the host's.
        let mut v = match p.protocol {
            Protocol::Tcp => String::new(),
            Protocol::Udp => "udp:".into(),
        };
        v.push_str(&p.host.to_string());
        if p.machine != p.host {
            v.push_str(&format!(":{}", p.machine));
        }
        o.line("Port", &v);
    }
    o.end_section("Network");
    o.text
}
