//! Resource settings: `--property=` cgroup limits (MemoryMax, TasksMax, CPUQuota), and the
//! per-process ones set in the container before the payload starts: `--rlimit=` on top of
//! nspawn's PID-1 defaults, `--oom-score-adjust=`, `--cpu-affinity=`, `--personality=`.

use anyhow::{bail, Context, Result};
use rustix::process::{Resource, Rlimit};

/// A `--property=` assignment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Property {
    /// Bytes; `None` = infinity.
    MemoryMax(Option<u64>),
    /// Tasks; `None` = infinity.
    TasksMax(Option<u64>),
    /// Percent of one CPU (200 = two CPUs).
    CpuQuota(u32),
}

/// The CFS period wharf uses for `CPUQuota=` (systemd's default, 100 ms).
pub const CPU_PERIOD_US: u64 = 100_000;

/// One cgroup file to write: (controller, file name, value).
pub type CgroupWrite = (&'static str, &'static str, String);

impl Property {
    /// Parse `NAME=VALUE` for the supported properties.
    pub fn parse(s: &str) -> Result<Property> {
        let (name, value) = s
            .split_once('=')
            .with_context(|| format!("invalid --property={s}: expected NAME=VALUE"))?;
        let value = value.trim();
        let infinite = value.eq_ignore_ascii_case("infinity");
        match name.trim() {
            "MemoryMax" | "MemoryLimit" => Ok(Property::MemoryMax(if infinite {
                None
            } else {
                Some(parse_bytes(value).with_context(|| format!("invalid MemoryMax={value}"))?)
            })),
            "TasksMax" => Ok(Property::TasksMax(if infinite {
                None
            } else {
                Some(
                    value
                        .parse::<u64>()
                        .ok()
                        .filter(|&n| n > 0)
                        .with_context(|| format!("invalid TasksMax={value}"))?,
                )
            })),
            "CPUQuota" => {
                let pct = value
                    .strip_suffix('%')
                    .and_then(|p| p.trim().parse::<u32>().ok())
                    .filter(|&p| p > 0 && p <= 100_000)
                    .with_context(|| format!("invalid CPUQuota={value}: expected N% (N > 0)"))?;
                Ok(Property::CpuQuota(pct))
            }
            other => bail!(
                "unsupported --property={other}: supported are MemoryMax=, TasksMax=, CPUQuota="
            ),
        }
    }

    /// The files to write, on cgroup2 (`unified`) or the v1 controllers, in order.
    pub fn writes(self, unified: bool) -> Vec<CgroupWrite> {
        match (self, unified) {
            (Property::MemoryMax(v), true) => vec![("memory", "memory.max", num_or(v, "max"))],
            (Property::MemoryMax(v), false) => {
                vec![("memory", "memory.limit_in_bytes", num_or(v, "-1"))]
            }
            (Property::TasksMax(v), _) => vec![("pids", "pids.max", num_or(v, "max"))],
            (Property::CpuQuota(p), true) => {
                vec![("cpu", "cpu.max", format!("{} {CPU_PERIOD_US}", quota_us(p)))]
            }
            (Property::CpuQuota(p), false) => vec![
                ("cpu", "cpu.cfs_period_us", CPU_PERIOD_US.to_string()),
                ("cpu", "cpu.cfs_quota_us", quota_us(p).to_string()),
            ],
        }
    }

    pub fn controller(self) -> &'static str {
        match self {
            Property::MemoryMax(_) => "memory",
            Property::TasksMax(_) => "pids",
            Property::CpuQuota(_) => "cpu",
        }
    }
}

fn quota_us(percent: u32) -> u64 {
    u64::from(percent) * CPU_PERIOD_US / 100
}

fn num_or(v: Option<u64>, inf: &str) -> String {
    v.map_or(inf.to_string(), |n| n.to_string())
}

/// systemd's size syntax: a number with an optional K, M, G, T, P, E suffix (powers of 1024).
pub fn parse_bytes(s: &str) -> Result<u64> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, suffix) = s.split_at(split);
    let n: u64 = num.parse().with_context(|| format!("invalid size {s:?}"))?;
    let shift = match suffix.trim() {
        "" | "B" => 0,
        "K" => 10,
        "M" => 20,
        "G" => 30,
        "T" => 40,
        "P" => 50,
        "E" => 60,
        _ => bail!("invalid size {s:?}: unknown suffix"),
    };
    n.checked_mul(1 << shift)
        .with_context(|| format!("size {s:?} is too large"))
}

/// Resource names (`RLIMIT_` prefix optional) in `setrlimit` order, with whether the value is a
/// size (K/M/G suffixes accepted).
const RLIMITS: [(&str, Resource, bool); 16] = [
    ("CPU", Resource::Cpu, false),
    ("FSIZE", Resource::Fsize, true),
    ("DATA", Resource::Data, true),
    ("STACK", Resource::Stack, true),
    ("CORE", Resource::Core, true),
    ("RSS", Resource::Rss, true),
    ("NPROC", Resource::Nproc, false),
    ("NOFILE", Resource::Nofile, false),
    ("MEMLOCK", Resource::Memlock, true),
    ("AS", Resource::As, true),
    ("LOCKS", Resource::Locks, false),
    ("SIGPENDING", Resource::Sigpending, false),
    ("MSGQUEUE", Resource::Msgqueue, true),
    ("NICE", Resource::Nice, false),
    ("RTPRIO", Resource::Rtprio, false),
    ("RTTIME", Resource::Rttime, false),
];

/// One resource limit: soft and hard (`None` = infinity).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rlimit1 {
    pub index: usize,
    pub soft: Option<u64>,
    pub hard: Option<u64>,
}

impl Rlimit1 {
    pub fn name(&self) -> &'static str {
        RLIMITS[self.index].0
    }
}

/// The index of resource `NAME` (`NOFILE`, without `RLIMIT_`) in [`Rlimit1::index`] order.
pub fn rlimit_index(name: &str) -> Option<usize> {
    RLIMITS.iter().position(|(n, _, _)| *n == name)
}

/// Parse `--rlimit=NAME=SOFT[:HARD]` (`NAME` with or without `RLIMIT_`, values a number,
/// a size for byte limits, or `infinity`; HARD defaults to SOFT).
pub fn parse_rlimit(s: &str) -> Result<Rlimit1> {
    let (name, value) = s
        .split_once('=')
        .with_context(|| format!("invalid --rlimit={s}: expected NAME=SOFT[:HARD]"))?;
    let upper = name.trim().to_ascii_uppercase();
    let short = upper.strip_prefix("RLIMIT_").unwrap_or(&upper);
    let index = RLIMITS
        .iter()
        .position(|(n, _, _)| *n == short)
        .with_context(|| format!("invalid --rlimit={s}: unknown resource {name:?}"))?;
    let size = RLIMITS[index].2;
    let one = |v: &str| -> Result<Option<u64>> {
        let v = v.trim();
        if v.eq_ignore_ascii_case("infinity") {
            Ok(None)
        } else if size {
            parse_bytes(v).map(Some)
        } else {
            v.parse::<u64>()
                .map(Some)
                .with_context(|| format!("invalid --rlimit={s}: bad value {v:?}"))
        }
    };
    let (soft, hard) = match value.split_once(':') {
        Some((a, b)) => (one(a)?, one(b)?),
        None => {
            let v = one(value)?;
            (v, v)
        }
    };
    if let (Some(s1), Some(h)) = (soft, hard) {
        if s1 > h {
            bail!("invalid --rlimit={s}: soft limit above the hard limit");
        }
    } else if soft.is_none() && hard.is_some() {
        bail!("invalid --rlimit={s}: soft limit above the hard limit");
    }
    Ok(Rlimit1 { index, soft, hard })
}

/// nspawn's limits for the container: the kernel's PID-1 defaults, NPROC and SIGPENDING as the
/// host's PID 1 has them, NOFILE 1024 soft and min(nr_open, 524288) hard; then `overrides`.
pub fn rlimits(
    overrides: &[Rlimit1],
    host_nproc: Option<u64>,
    host_sigpending: Option<u64>,
    nr_open: u64,
) -> Vec<Rlimit1> {
    const MIB: u64 = 1 << 20;
    let fixed = |index: usize, soft: Option<u64>, hard: Option<u64>| Rlimit1 { index, soft, hard };
    let mut v = vec![
        fixed(0, None, None),
        fixed(1, None, None),
        fixed(2, None, None),
        fixed(3, Some(8 * MIB), None),
        fixed(4, Some(0), None),
        fixed(5, None, None),
        fixed(6, host_nproc, host_nproc),
        fixed(7, Some(1024), Some(nr_open.min(512 * 1024))),
        fixed(8, Some(8 * MIB), Some(8 * MIB)),
        fixed(9, None, None),
        fixed(10, None, None),
        fixed(11, host_sigpending, host_sigpending),
        fixed(12, Some(819_200), Some(819_200)),
        fixed(13, Some(0), Some(0)),
        fixed(14, Some(0), Some(0)),
        fixed(15, None, None),
    ];
    for o in overrides {
        v[o.index] = *o;
    }
    v
}

/// The host's PID-1 limit in `/proc/1/limits` for the line starting with `label`.
pub fn host_pid1_limit(limits: &str, label: &str) -> Option<u64> {
    let line = limits.lines().find(|l| l.starts_with(label))?;
    line[label.len()..].split_whitespace().next()?.parse().ok()
}

/// Every resource limit of process `pid` (read with `prlimit`; when that is refused, from
/// `/proc/PID/limits`), in [`Rlimit1`] form.
pub fn rlimits_of(pid: u32) -> Result<Vec<Rlimit1>> {
    let read = (0..RLIMITS.len())
        .map(|index| {
            let (soft, hard) = wharf_sys::process::rlimit_of(pid, index as u32)?;
            Ok(Rlimit1 { index, soft, hard })
        })
        .collect::<std::io::Result<Vec<_>>>();
    match read {
        Ok(v) => Ok(v),
        Err(e) => {
            let text = std::fs::read_to_string(format!("/proc/{pid}/limits"))
                .with_context(|| format!("read the resource limits of PID {pid} ({e})"))?;
            parse_proc_limits(&text)
                .with_context(|| format!("/proc/{pid}/limits: unexpected contents"))
        }
    }
}

/// `/proc/PID/limits`: a header, then one line per resource in `RLIMIT_*` order ("Max open
/// files  1024  4096  files"; the value columns are the last numbers or `unlimited`).
fn parse_proc_limits(text: &str) -> Option<Vec<Rlimit1>> {
    let rows: Vec<&str> = text
        .lines()
        .skip(1)
        .filter(|l| l.starts_with("Max "))
        .collect();
    if rows.len() != RLIMITS.len() {
        return None;
    }
    let value = |w: &str| -> Option<Option<u64>> {
        if w == "unlimited" {
            Some(None)
        } else {
            w.parse().ok().map(Some)
        }
    };
    rows.iter()
        .enumerate()
        .map(|(index, l)| {
            // The name has spaces; the values are the first two words that parse.
            let mut vals = l.split_whitespace().filter_map(value);
            let soft = vals.next()?;
            let hard = vals.next()?;
            Some(Rlimit1 { index, soft, hard })
        })
        .collect()
}

/// Set every limit of `list` on the calling process. A hard limit above the current one needs
/// CAP_SYS_RESOURCE; without it the current hard limit is kept (nspawn does the same, with a
/// log line).
pub fn apply_rlimits(list: &[Rlimit1]) -> Result<()> {
    for l in list {
        let res = RLIMITS[l.index].1;
        let want = Rlimit {
            current: l.soft,
            maximum: l.hard,
        };
        if let Err(e) = rustix::process::setrlimit(res, want) {
            if e != rustix::io::Errno::PERM {
                bail!("set RLIMIT_{}: {e}", l.name());
            }
            let cur = rustix::process::getrlimit(res);
            let lower = |a: Option<u64>, b: Option<u64>| match (a, b) {
                (Some(x), Some(y)) => Some(x.min(y)),
                (x, None) => x,
                (None, y) => y,
            };
            let hard = lower(l.hard, cur.maximum);
            let soft = lower(l.soft, hard);
            rustix::process::setrlimit(
                res,
                Rlimit {
                    current: soft,
                    maximum: hard,
                },
            )
            .with_context(|| format!("set RLIMIT_{}", l.name()))?;
        }
    }
    Ok(())
}

/// `--cpu-affinity=`: a list like `0,2-3`.
pub fn parse_cpu_list(s: &str) -> Result<Vec<usize>> {
    let max = rustix::thread::CpuSet::MAX_CPU;
    let mut v = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (a, b) = part.split_once('-').unwrap_or((part, part));
        let (a, b): (usize, usize) = match (a.trim().parse(), b.trim().parse()) {
            (Ok(a), Ok(b)) if a <= b && b < max => (a, b),
            _ => bail!("invalid --cpu-affinity={s}: bad CPU range {part:?}"),
        };
        v.extend(a..=b);
    }
    if v.is_empty() {
        bail!("invalid --cpu-affinity={s}: no CPUs");
    }
    v.sort_unstable();
    v.dedup();
    Ok(v)
}

/// `--personality=`: `x86` (32-bit, PER_LINUX32) or `x86-64` (PER_LINUX) on x86-64 hosts,
/// `arm` / `arm64` on aarch64 hosts.
pub fn parse_personality(s: &str) -> Result<u32> {
    const PER_LINUX: u32 = 0;
    const PER_LINUX32: u32 = 8;
    let host = if cfg!(target_arch = "x86_64") {
        ("x86-64", "x86")
    } else if cfg!(target_arch = "aarch64") {
        ("arm64", "arm")
    } else {
        ("", "")
    };
    match s {
        _ if s == host.0 && !s.is_empty() => Ok(PER_LINUX),
        _ if s == host.1 && !s.is_empty() => Ok(PER_LINUX32),
        _ => bail!(
            "invalid --personality={s}: this host supports {:?} and {:?}",
            host.0,
            host.1
        ),
    }
}

/// Per-process settings of a run, applied in the container right before the payload starts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProcessLimits {
    pub rlimits: Vec<Rlimit1>,
    pub oom_score_adjust: Option<i32>,
    pub cpu_affinity: Option<Vec<usize>>,
    pub personality: Option<u32>,
}

/// Apply `p` (after the defaults in `rlimits`) to the calling process.
pub(crate) fn apply(p: &ProcessLimits, rlimits: &[Rlimit1]) -> Result<()> {
    apply_rlimits(rlimits)?;
    if let Some(adj) = p.oom_score_adjust {
        std::fs::write("/proc/self/oom_score_adj", adj.to_string())
            .with_context(|| format!("set the OOM score adjustment to {adj}"))?;
    }
    if let Some(cpus) = &p.cpu_affinity {
        let mut set = rustix::thread::CpuSet::new();
        for &c in cpus {
            set.set(c);
        }
        rustix::thread::sched_setaffinity(None, &set).context("set the CPU affinity")?;
    }
    if let Some(per) = p.personality {
        wharf_sys::process::set_personality(per).context("set the personality")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_limits_two_ways() {
        let me = std::process::id();
        let via_prlimit = rlimits_of(me).unwrap();
        let text = std::fs::read_to_string("/proc/self/limits").unwrap();
        let via_proc = parse_proc_limits(&text).unwrap();
        assert_eq!(via_prlimit.len(), 16);
        for (a, b) in via_prlimit.iter().zip(&via_proc) {
            assert_eq!(
                (a.index, a.soft, a.hard),
                (b.index, b.soft, b.hard),
                "{}",
                a.name()
            );
        }
    }

    #[test]
    fn properties() {
        assert_eq!(
            Property::parse("MemoryMax=512M").unwrap(),
            Property::MemoryMax(Some(512 << 20))
        );
        assert_eq!(
            Property::parse("MemoryMax=infinity").unwrap(),
            Property::MemoryMax(None)
        );
        assert_eq!(
            Property::parse("TasksMax=20").unwrap(),
            Property::TasksMax(Some(20))
        );
        assert_eq!(
            Property::parse("CPUQuota=50%").unwrap(),
            Property::CpuQuota(50)
        );
        for bad in [
            "MemoryMax=12Q",
            "TasksMax=0",
            "CPUQuota=50",
            "Nope=1",
            "MemoryMax",
        ] {
            assert!(Property::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            Property::CpuQuota(150).writes(true),
            [("cpu", "cpu.max", "150000 100000".to_string())]
        );
        assert_eq!(
            Property::CpuQuota(20).writes(false)[1],
            ("cpu", "cpu.cfs_quota_us", "20000".to_string())
        );
        assert_eq!(
            Property::MemoryMax(None).writes(false),
            [("memory", "memory.limit_in_bytes", "-1".to_string())]
        );
        assert_eq!(
            Property::TasksMax(Some(20)).writes(true),
            [("pids", "pids.max", "20".to_string())]
        );
    }

    #[test]
    fn rlimit_options() {
        let l = parse_rlimit("NOFILE=4096:8192").unwrap();
        assert_eq!(
            (l.name(), l.soft, l.hard),
            ("NOFILE", Some(4096), Some(8192))
        );
        let l = parse_rlimit("RLIMIT_CORE=infinity").unwrap();
        assert_eq!((l.name(), l.soft, l.hard), ("CORE", None, None));
        let l = parse_rlimit("rlimit_memlock=64M").unwrap();
        assert_eq!(l.soft, Some(64 << 20));
        assert_eq!(parse_rlimit("NPROC=100").unwrap().hard, Some(100));
        for bad in [
            "NOFILE",
            "NOPE=1",
            "NOFILE=2:1",
            "NOFILE=x",
            "NOFILE=infinity:5",
        ] {
            assert!(parse_rlimit(bad).is_err(), "{bad}");
        }
        let d = rlimits(&[], Some(96365), Some(777), 1 << 20);
        assert_eq!(d.len(), 16);
        assert_eq!((d[7].soft, d[7].hard), (Some(1024), Some(524288)));
        assert_eq!((d[6].soft, d[11].hard), (Some(96365), Some(777)));
        assert_eq!((d[4].soft, d[4].hard), (Some(0), None));
        let o = rlimits(
            &[parse_rlimit("NOFILE=10:20").unwrap()],
            None,
            None,
            1 << 20,
        );
        assert_eq!((o[7].soft, o[7].hard), (Some(10), Some(20)));
        let limits = "Limit                     Soft Limit           Hard Limit           Units     \n\
                      Max processes             96365                96365                processes \n\
                      Max pending signals       555                  555                  signals   \n";
        assert_eq!(host_pid1_limit(limits, "Max processes"), Some(96365));
        assert_eq!(host_pid1_limit(limits, "Max pending signals"), Some(555));
    }

    #[test]
    fn cpu_lists_and_personalities() {
        assert_eq!(parse_cpu_list("0,2-3").unwrap(), [0, 2, 3]);
        assert_eq!(parse_cpu_list("1,1").unwrap(), [1]);
        for bad in ["", "3-1", "a", "0-99999"] {
            assert!(parse_cpu_list(bad).is_err(), "{bad}");
        }
        if cfg!(target_arch = "x86_64") {
            assert_eq!(parse_personality("x86").unwrap(), 8);
            assert_eq!(parse_personality("x86-64").unwrap(), 0);
        }
        assert!(parse_personality("s390").is_err());
    }
}
