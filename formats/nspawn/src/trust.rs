//! The keys systemd-nspawn honours only from trusted locations (table in the crate docs).

use crate::Settings;

/// Visit every privileged key: its name, whether it is set, and how to clear it.
fn each(s: &mut Settings, f: &mut dyn FnMut(&'static str, bool) -> bool) {
    macro_rules! key {
        ($name:literal, $field:expr, $set:expr, $clear:expr) => {
            if f($name, $set(&$field)) {
                $clear(&mut $field);
            }
        };
    }
    macro_rules! opt {
        ($name:literal, $field:expr) => {
            key!(
                $name,
                $field,
                |x: &Option<_>| x.is_some(),
                |x: &mut Option<_>| *x = None
            )
        };
    }
    macro_rules! vec {
        ($name:literal, $field:expr) => {
            key!($name, $field, |x: &Vec<_>| !x.is_empty(), |x: &mut Vec<
                _,
            >| x.clear())
        };
    }
    opt!("Ephemeral", s.ephemeral);
    vec!["Capability", s.capability];
    vec!["AmbientCapability", s.ambient_capability];
    opt!("MachineID", s.machine_id);
    opt!("PrivateUsers", s.private_users);
    key!(
        "SystemCallFilter",
        s.system_call_filter,
        |x: &Vec<String>| x.iter().any(|e| !e.starts_with('~')),
        |x: &mut Vec<String>| x.retain(|e| e.starts_with('~'))
    );
    for r in crate::Rlimit::ALL {
        let set = s.limits.contains_key(&r);
        if f(r.key(), set) {
            s.limits.remove(&r);
        }
    }
    opt!("OOMScoreAdjust", s.oom_score_adjust);
    opt!("CPUAffinity", s.cpu_affinity);
    opt!("LinkJournal", s.link_journal);
    vec!["Bind", s.bind];
    vec!["BindReadOnly", s.bind_read_only];
    vec!["BindUser", s.bind_user];
    opt!("BindUserShell", s.bind_user_shell);
    vec!["TemporaryFileSystem", s.temporary_file_system];
    vec!["Inaccessible", s.inaccessible];
    vec!["Overlay", s.overlay];
    vec!["OverlayReadOnly", s.overlay_read_only];
    opt!("PrivateUsersOwnership", s.private_users_ownership);
    opt!("PrivateUsersChown", s.private_users_chown);
    opt!("Private", s.private);
    opt!("NamespacePath", s.namespace_path);
    opt!("VirtualEthernet", s.virtual_ethernet);
    vec!["VirtualEthernetExtra", s.virtual_ethernet_extra];
    vec!["Interface", s.interface];
    vec!["MACVLAN", s.macvlan];
    vec!["IPVLAN", s.ipvlan];
    opt!("Bridge", s.bridge);
    opt!("Zone", s.zone);
    vec!["Port", s.port];
}

/// Every privileged key name, set or not, in table order.
pub fn all_privileged_keys() -> Vec<&'static str> {
    let mut names = Vec::new();
    each(&mut Settings::default(), &mut |name, _| {
        names.push(name);
        false
    });
    names
}

pub(crate) fn privileged_keys(s: &Settings) -> Vec<&'static str> {
    let mut copy = s.clone();
    let mut names = Vec::new();
    each(&mut copy, &mut |name, set| {
        if set {
            names.push(name);
        }
        false
    });
    names
}

pub(crate) fn strip_privileged(s: &mut Settings) -> Vec<&'static str> {
    let mut names = Vec::new();
    each(s, &mut |name, set| {
        if set {
            names.push(name);
        }
        set
    });
    names
}
