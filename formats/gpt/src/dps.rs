//! Partition types of the Discoverable Partitions Specification (UAPI group).

use std::fmt;

use crate::guid::Guid;

/// CPU architectures whose DPS types this crate knows: the two supported hosts and their
/// secondary (32-bit) architectures, which systemd falls back to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Arch {
    /// x86-64 (amd64).
    X86_64,
    /// 64-bit little-endian ARM (aarch64).
    Arm64,
    /// 32-bit x86, the secondary architecture of x86-64.
    X86,
    /// 32-bit little-endian ARM, the secondary architecture of arm64.
    Arm,
}

impl Arch {
    /// every known architecture.
    pub const ALL: [Arch; 4] = [Arch::X86_64, Arch::Arm64, Arch::X86, Arch::Arm];

    /// systemd's name (`x86-64`, `arm64`, `x86`, `arm`), as used in partition type names.
    pub fn name(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86-64",
            Arch::Arm64 => "arm64",
            Arch::X86 => "x86",
            Arch::Arm => "arm",
        }
    }

    /// the architecture whose images this one also runs and systemd falls back to.
    pub fn secondary(self) -> Option<Arch> {
        match self {
            Arch::X86_64 => Some(Arch::X86),
            Arch::Arm64 => Some(Arch::Arm),
            Arch::X86 | Arch::Arm => None,
        }
    }
}

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// the architecture this program was built for, if DPS types for it are known here.
pub fn host_arch() -> Option<Arch> {
    if cfg!(target_endian = "big") {
        None
    } else if cfg!(target_arch = "x86_64") {
        Some(Arch::X86_64)
    } else if cfg!(target_arch = "aarch64") {
        Some(Arch::Arm64)
    } else if cfg!(target_arch = "x86") {
        Some(Arch::X86)
    } else if cfg!(target_arch = "arm") {
        Some(Arch::Arm)
    } else {
        None
    }
}

/// what a DPS partition is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Designator {
    /// the root file system (per architecture).
    Root,
    /// `/usr` (per architecture).
    Usr,
    /// dm-verity hash data of the root partition.
    RootVerity,
    /// dm-verity hash data of the `/usr` partition.
    UsrVerity,
    /// signature of the root verity hash.
    RootVeritySig,
    /// signature of the `/usr` verity hash.
    UsrVeritySig,
    /// EFI system partition.
    Esp,
    /// extended boot loader partition (`/boot`).
    Xbootldr,
    /// `/home`.
    Home,
    /// `/srv`.
    Srv,
    /// `/var`.
    Var,
    /// `/var/tmp`.
    Tmp,
    /// swap.
    Swap,
    /// a per-user home (systemd-homed).
    UserHome,
}

impl Designator {
    /// systemd's designator name (`root`, `usr-verity`, `esp`, `user-home`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Designator::Root => "root",
            Designator::Usr => "usr",
            Designator::RootVerity => "root-verity",
            Designator::UsrVerity => "usr-verity",
            Designator::RootVeritySig => "root-verity-sig",
            Designator::UsrVeritySig => "usr-verity-sig",
            Designator::Esp => "esp",
            Designator::Xbootldr => "xbootldr",
            Designator::Home => "home",
            Designator::Srv => "srv",
            Designator::Var => "var",
            Designator::Tmp => "tmp",
            Designator::Swap => "swap",
            Designator::UserHome => "user-home",
        }
    }

    /// whether the designator has one type per architecture.
    pub fn is_per_arch(self) -> bool {
        matches!(
            self,
            Designator::Root
                | Designator::Usr
                | Designator::RootVerity
                | Designator::UsrVerity
                | Designator::RootVeritySig
                | Designator::UsrVeritySig
        )
    }
}

impl fmt::Display for Designator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// "Linux filesystem data": not a DPS type, but systemd uses a single such partition as the
/// root when no root or `/usr` partition exists.
pub const LINUX_GENERIC: Guid = Guid::must("0fc63daf-8483-4772-8e79-3d69d8477de4");

/// the six per-architecture types, in [`PER_ARCH_DESIGNATORS`] order.
struct ArchTypes {
    arch: Arch,
    guids: [Guid; 6],
}

const PER_ARCH_DESIGNATORS: [Designator; 6] = [
    Designator::Root,
    Designator::Usr,
    Designator::RootVerity,
    Designator::UsrVerity,
    Designator::RootVeritySig,
    Designator::UsrVeritySig,
];

const ARCH_TYPES: [ArchTypes; 4] = [
    ArchTypes {
        arch: Arch::X86_64,
        guids: [
            Guid::must("4f68bce3-e8cd-4db1-96e7-fbcaf984b709"),
            Guid::must("8484680c-9521-48c6-9c11-b0720656f69e"),
            Guid::must("2c7357ed-ebd2-46d9-aec1-23d437ec2bf5"),
            Guid::must("77ff5f63-e7b6-4633-acf4-1565b864c0e6"),
            Guid::must("41092b05-9fc8-4523-994f-2def0408b176"),
            Guid::must("e7bb33fb-06cf-4e81-8273-e543b413e2e2"),
        ],
    },
    ArchTypes {
        arch: Arch::Arm64,
        guids: [
            Guid::must("b921b045-1df0-41c3-af44-4c6f280d3fae"),
            Guid::must("b0e01050-ee5f-4390-949a-9101b17104e9"),
            Guid::must("df3300ce-d69f-4c92-978c-9bfb0f38d820"),
            Guid::must("6e11a4e7-fbca-4ded-b9e9-e1a512bb664e"),
            Guid::must("6db69de6-29f4-4758-a7a5-962190f00ce3"),
            Guid::must("c23ce4ff-44bd-4b00-b2d4-b41b3419e02a"),
        ],
    },
    ArchTypes {
        arch: Arch::X86,
        guids: [
            Guid::must("44479540-f297-41b2-9af7-d131d5f0458a"),
            Guid::must("75250d76-8cc6-458e-bd66-bd47cc81a812"),
            Guid::must("d13c5d3b-b5d1-422a-b29f-9454fdc89d76"),
            Guid::must("8f461b0d-14ee-4e81-9aa9-049b6fb97abd"),
            Guid::must("5996fc05-109c-48de-808b-23fa0830b676"),
            Guid::must("974a71c0-de41-43c3-be5d-5c5ccd1ad2c0"),
        ],
    },
    ArchTypes {
        arch: Arch::Arm,
        guids: [
            Guid::must("69dad710-2ce4-4e3c-b16c-21a1d49abed3"),
            Guid::must("7d0359a3-02b3-4f0a-865c-654403e70625"),
            Guid::must("7386cdf2-203c-47a9-a498-f2ecce45a2d6"),
            Guid::must("c215d751-7bcd-4649-be90-6627490a4c05"),
            Guid::must("42b0455f-eb11-491d-98d3-56145ba9d037"),
            Guid::must("d7ff812f-37d1-4902-a810-d76ba57b975a"),
        ],
    },
];

const SHARED_TYPES: [(Designator, Guid); 8] = [
    (
        Designator::Esp,
        Guid::must("c12a7328-f81f-11d2-ba4b-00a0c93ec93b"),
    ),
    (
        Designator::Xbootldr,
        Guid::must("bc13c2ff-59e6-4262-a352-b275fd6f7172"),
    ),
    (
        Designator::Swap,
        Guid::must("0657fd6d-a4ab-43c4-84e5-0933c84b4f4f"),
    ),
    (
        Designator::Home,
        Guid::must("933ac7e1-2eb4-4f13-b844-0e14e2aef915"),
    ),
    (
        Designator::Srv,
        Guid::must("3b8f8425-20e0-4f3b-907f-1a25a76f98e8"),
    ),
    (
        Designator::Var,
        Guid::must("4d21b016-b534-45c2-a9fb-5c16e091fd2d"),
    ),
    (
        Designator::Tmp,
        Guid::must("7ec6f557-3bc5-4aca-b293-16ef5df639d1"),
    ),
    (
        Designator::UserHome,
        Guid::must("773f91ef-66d4-49b5-bd83-d683bf40ad16"),
    ),
];

/// the designator and (for per-architecture types) the architecture of a DPS type GUID.
pub fn classify(type_guid: &Guid) -> Option<(Designator, Option<Arch>)> {
    for t in &ARCH_TYPES {
        if let Some(i) = t.guids.iter().position(|g| g == type_guid) {
            return Some((PER_ARCH_DESIGNATORS[i], Some(t.arch)));
        }
    }
    SHARED_TYPES
        .iter()
        .find(|(_, g)| g == type_guid)
        .map(|&(d, _)| (d, None))
}

/// the type GUID for a designator: `arch` must be `Some` exactly for per-architecture ones.
pub fn type_guid(designator: Designator, arch: Option<Arch>) -> Option<Guid> {
    match arch {
        Some(arch) => {
            let i = PER_ARCH_DESIGNATORS.iter().position(|&d| d == designator)?;
            let t = ARCH_TYPES.iter().find(|t| t.arch == arch)?;
            Some(t.guids[i])
        }
        None => SHARED_TYPES
            .iter()
            .find(|(d, _)| *d == designator)
            .map(|&(_, g)| g),
    }
}

/// systemd's name for a partition type: `root-x86-64`, `usr-arm64-verity`,
/// `root-x86-64-verity-sig`, `esp`, `xbootldr`, `home`, `swap`, `linux-generic`, ...
pub fn type_name(type_guid: &Guid) -> Option<String> {
    if *type_guid == LINUX_GENERIC {
        return Some("linux-generic".to_owned());
    }
    let (designator, arch) = classify(type_guid)?;
    let Some(arch) = arch else {
        return Some(designator.name().to_owned());
    };
    let (base, suffix) = match designator {
        Designator::Root => ("root", ""),
        Designator::Usr => ("usr", ""),
        Designator::RootVerity => ("root", "-verity"),
        Designator::UsrVerity => ("usr", "-verity"),
        Designator::RootVeritySig => ("root", "-verity-sig"),
        Designator::UsrVeritySig => ("usr", "-verity-sig"),
        _ => return Some(designator.name().to_owned()),
    };
    Some(format!("{base}-{arch}{suffix}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(s: &str) -> Guid {
        s.parse().unwrap()
    }

    #[test]
    fn classify_known_types() {
        let root = g("4f68bce3-e8cd-4db1-96e7-fbcaf984b709");
        assert_eq!(
            classify(&root),
            Some((Designator::Root, Some(Arch::X86_64)))
        );
        let usr_arm64_verity = g("6e11a4e7-fbca-4ded-b9e9-e1a512bb664e");
        assert_eq!(
            classify(&usr_arm64_verity),
            Some((Designator::UsrVerity, Some(Arch::Arm64)))
        );
        let esp = g("c12a7328-f81f-11d2-ba4b-00a0c93ec93b");
        assert_eq!(classify(&esp), Some((Designator::Esp, None)));
        assert_eq!(classify(&LINUX_GENERIC), None);
        assert_eq!(classify(&Guid::ZERO), None);
    }

    #[test]
    fn names() {
        let cases = [
            ("4f68bce3-e8cd-4db1-96e7-fbcaf984b709", "root-x86-64"),
            ("2c7357ed-ebd2-46d9-aec1-23d437ec2bf5", "root-x86-64-verity"),
            (
                "41092b05-9fc8-4523-994f-2def0408b176",
                "root-x86-64-verity-sig",
            ),
            ("8484680c-9521-48c6-9c11-b0720656f69e", "usr-x86-64"),
            ("6e11a4e7-fbca-4ded-b9e9-e1a512bb664e", "usr-arm64-verity"),
            (
                "c23ce4ff-44bd-4b00-b2d4-b41b3419e02a",
                "usr-arm64-verity-sig",
            ),
            ("44479540-f297-41b2-9af7-d131d5f0458a", "root-x86"),
            ("69dad710-2ce4-4e3c-b16c-21a1d49abed3", "root-arm"),
            ("c12a7328-f81f-11d2-ba4b-00a0c93ec93b", "esp"),
            ("bc13c2ff-59e6-4262-a352-b275fd6f7172", "xbootldr"),
            ("933ac7e1-2eb4-4f13-b844-0e14e2aef915", "home"),
            ("0657fd6d-a4ab-43c4-84e5-0933c84b4f4f", "swap"),
            ("773f91ef-66d4-49b5-bd83-d683bf40ad16", "user-home"),
            ("0fc63daf-8483-4772-8e79-3d69d8477de4", "linux-generic"),
        ];
        for (guid, name) in cases {
            assert_eq!(type_name(&g(guid)).as_deref(), Some(name), "{guid}");
        }
        assert_eq!(type_name(&Guid::ZERO), None);
    }

    #[test]
    fn every_type_round_trips_and_is_unique() {
        let mut seen = std::collections::HashSet::new();
        for arch in Arch::ALL {
            for d in PER_ARCH_DESIGNATORS {
                assert!(d.is_per_arch());
                let guid = type_guid(d, Some(arch)).unwrap();
                assert_eq!(classify(&guid), Some((d, Some(arch))));
                assert!(seen.insert(guid));
            }
        }
        for (d, guid) in SHARED_TYPES {
            assert!(!d.is_per_arch());
            assert_eq!(type_guid(d, None), Some(guid));
            assert_eq!(type_guid(d, Some(Arch::X86_64)), None);
            assert!(seen.insert(guid));
        }
        assert_eq!(type_guid(Designator::Root, None), None);
        assert!(!seen.contains(&LINUX_GENERIC));
    }

    #[test]
    fn host() {
        if cfg!(all(target_arch = "x86_64", target_endian = "little")) {
            assert_eq!(host_arch(), Some(Arch::X86_64));
        }
        assert_eq!(Arch::X86_64.secondary(), Some(Arch::X86));
        assert_eq!(Arch::Arm64.secondary(), Some(Arch::Arm));
        assert_eq!(Arch::X86.secondary(), None);
        assert_eq!(Arch::Arm64.to_string(), "arm64");
    }
}
