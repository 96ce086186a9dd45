//! The partition table of a raw image, for image-status: GPT partitions with their
//! Discoverable Partitions Specification names and flags, and the root partition that would be
//! booted (systemd-dissect's choice).

use std::fs::File;

use serde::Serialize;
use wharf_core::{Image, ImageType};

#[derive(Debug, Serialize)]
pub struct PartRow {
    pub index: u32,
    #[serde(rename = "type")]
    pub type_name: String,
    pub type_uuid: String,
    pub uuid: String,
    pub label: String,
    pub size: u64,
    pub flags: Vec<&'static str>,
}

#[derive(Debug, Serialize, Default)]
pub struct Partitions {
    pub table: Option<&'static str>,
    pub partitions: Vec<PartRow>,
    /// Index of the root partition that would be booted on this machine's architecture.
    pub root: Option<u32>,
    /// Why the table could not be read, for raw images without a (valid) GPT.
    pub error: Option<String>,
}

/// The partitions of `img` (raw images only).
pub fn read(img: &Image) -> Option<Partitions> {
    if img.kind != ImageType::Raw {
        return None;
    }
    let table = match File::open(&img.path)
        .map_err(|e| e.to_string())
        .and_then(|f| wharf_gpt::read_table(f).map_err(|e| e.to_string()))
    {
        Ok(t) => t,
        Err(e) => {
            return Some(Partitions {
                error: Some(e),
                ..Partitions::default()
            })
        }
    };
    let rows = table
        .partitions
        .iter()
        .map(|p| {
            let mut flags = Vec::new();
            if p.no_auto() {
                flags.push("no-auto");
            }
            if p.read_only() {
                flags.push("read-only");
            }
            if p.growfs() {
                flags.push("growfs");
            }
            PartRow {
                index: p.index,
                type_name: wharf_gpt::type_name(&p.type_guid).unwrap_or_else(|| "unknown".into()),
                type_uuid: p.type_guid.to_string(),
                uuid: p.uuid.to_string(),
                label: p.name.clone(),
                size: p.size_bytes(table.sector_size),
                flags,
            }
        })
        .collect();
    let root = wharf_gpt::host_arch()
        .and_then(|arch| wharf_gpt::choose_root(&table, arch))
        .map(|p| p.index);
    Some(Partitions {
        table: Some("gpt"),
        partitions: rows,
        root,
        error: None,
    })
}

/// image-status lines for `parts`.
pub fn print(parts: &Partitions) {
    if let Some(e) = &parts.error {
        println!("{:>12}: none ({e})", "Partitions");
        return;
    }
    for (i, p) in parts.partitions.iter().enumerate() {
        let head = if i == 0 { "Partitions" } else { "" };
        let flags = if p.flags.is_empty() {
            String::new()
        } else {
            format!(" [{}]", p.flags.join(","))
        };
        println!(
            "{head:>12}{} {:>2} {:<24} {:>7} {:?}{flags}",
            if i == 0 { ":" } else { " " },
            p.index,
            p.type_name,
            crate::format::bytes(p.size),
            p.label
        );
    }
    match parts.root {
        Some(r) => println!("{:>12}: partition {r}", "Root"),
        None => println!("{:>12}: none for this architecture", "Root"),
    }
}
