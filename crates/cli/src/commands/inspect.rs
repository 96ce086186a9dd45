//! Read-only verbs: list-images, image-status, show-image.

use anyhow::{Context, Result};
use serde::Serialize;
use wharf_core::store::{ImageDetails, ImageUsage};
use wharf_core::Image;

use super::Ctx;
use crate::format;

#[derive(Serialize)]
struct Listed<'a> {
    #[serde(flatten)]
    image: &'a Image,
    #[serde(flatten)]
    usage: ImageUsage,
}

pub fn list_images(ctx: &Ctx, all: bool) -> Result<()> {
    let images = ctx.store.list(all).context("cannot list images")?;
    let usages: Vec<ImageUsage> = images
        .iter()
        .map(|i| ctx.store.usage(i).unwrap_or_default())
        .collect();
    if ctx.json {
        let rows: Vec<Listed> = images
            .iter()
            .zip(&usages)
            .map(|(image, usage)| Listed {
                image,
                usage: *usage,
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    if images.is_empty() {
        if ctx.legend {
            println!("No images.");
        }
        return Ok(());
    }
    let mut rows = Vec::new();
    if ctx.legend {
        rows.push(["NAME", "TYPE", "RO", "USAGE", "CREATED", "MODIFIED"].map(String::from));
    }
    for (img, usage) in images.iter().zip(&usages) {
        rows.push([
            img.name.clone(),
            img.kind.to_string(),
            if img.read_only { "yes" } else { "no" }.into(),
            usage
                .usage
                .map(format::bytes)
                .unwrap_or_else(|| "n/a".into()),
            img.crtime_usec
                .map(format::timestamp)
                .unwrap_or_else(|| "n/a".into()),
            img.mtime_usec
                .map(format::timestamp)
                .unwrap_or_else(|| "n/a".into()),
        ]);
    }
    print_table(&rows);
    if ctx.legend {
        println!("\n{} images listed.", images.len());
    }
    Ok(())
}

#[derive(Serialize)]
struct Status {
    #[serde(flatten)]
    image: Image,
    #[serde(flatten)]
    usage: ImageUsage,
    os: Option<String>,
    hostname: Option<String>,
    machine_id: Option<String>,
    sidecars: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    partitions: Option<super::partitions::Partitions>,
}

pub fn image_status(ctx: &Ctx, names: &[String]) -> Result<()> {
    let mut out = Vec::new();
    for name in names {
        let img = ctx.store.find(name)?;
        let usage = ctx.store.usage(&img).unwrap_or_default();
        let ImageDetails {
            os,
            hostname,
            machine_id,
            ..
        } = ctx.store.details(&img);
        let sidecars: Vec<String> = ctx
            .store
            .sidecars(&img)
            .into_iter()
            .map(|(p, _)| p.display().to_string())
            .collect();
        let parts = super::partitions::read(&img);
        out.push((img, usage, os, hostname, machine_id, sidecars, parts));
    }
    if ctx.json {
        let rows: Vec<Status> = out
            .into_iter()
            .map(
                |(image, usage, os, hostname, machine_id, sidecars, partitions)| Status {
                    image,
                    usage,
                    os,
                    hostname,
                    machine_id,
                    sidecars,
                    partitions,
                },
            )
            .collect();
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    for (i, (img, usage, os, hostname, machine_id, sidecars, parts)) in out.iter().enumerate() {
        if i > 0 {
            println!();
        }
        println!("{}", img.name);
        let field = |k: &str, v: Option<String>| {
            if let Some(v) = v {
                println!("{k:>12}: {v}");
            }
        };
        field("Path", Some(img.path.display().to_string()));
        field("Type", Some(img.kind.to_string()));
        field("Hostname", hostname.clone());
        field("Machine ID", machine_id.clone());
        field("OS", os.clone());
        field(
            "RO",
            Some(
                if img.read_only {
                    "read-only"
                } else {
                    "writable"
                }
                .into(),
            ),
        );
        field("Created", img.crtime_usec.map(format::timestamp));
        field("Modified", img.mtime_usec.map(format::timestamp));
        field("Usage", usage.usage.map(format::bytes));
        field("Limit", usage.limit.map(format::bytes));
        for s in sidecars {
            field("Sidecar", Some(s.clone()));
        }
        if let Some(p) = parts {
            super::partitions::print(p);
        }
    }
    Ok(())
}

pub fn show_image(ctx: &Ctx, names: &[String], only: &[String], value_only: bool) -> Result<()> {
    let mut all = Vec::new();
    for name in names {
        let img = ctx.store.find(name)?;
        let usage = ctx.store.usage(&img).unwrap_or_default();
        let mut props = properties(&img, &usage);
        props.extend(origin_properties(ctx, &img));
        all.push(props);
    }
    if ctx.json {
        let objs: Vec<serde_json::Map<String, serde_json::Value>> = all
            .iter()
            .map(|props| {
                props
                    .iter()
                    .filter(|(k, _)| only.is_empty() || only.iter().any(|o| o == k))
                    .map(|(k, v)| (k.to_string(), v.clone()))
                    .collect()
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&objs)?);
        return Ok(());
    }
    for (i, props) in all.iter().enumerate() {
        if i > 0 && only.is_empty() {
            println!();
        }
        for (k, v) in props {
            if !only.is_empty() && !only.iter().any(|o| o == k) {
                continue;
            }
            let text = match v {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Null => String::new(),
                other => other.to_string(),
            };
            if value_only {
                println!("{text}");
            } else {
                println!("{k}={text}");
            }
        }
    }
    Ok(())
}

/// machinectl's show-image properties, in its order.
fn properties(img: &Image, usage: &ImageUsage) -> Vec<(&'static str, serde_json::Value)> {
    use serde_json::Value;
    let ts = |t: Option<u64>| {
        t.map(|u| Value::String(format::timestamp(u)))
            .unwrap_or(Value::Null)
    };
    let num = |n: Option<u64>| n.map(Value::from).unwrap_or(Value::Null);
    vec![
        ("Name", Value::String(img.name.clone())),
        ("Path", Value::String(img.path.display().to_string())),
        ("Type", Value::String(img.kind.to_string())),
        (
            "ReadOnly",
            Value::String(if img.read_only { "yes" } else { "no" }.into()),
        ),
        ("CreationTimestamp", ts(img.crtime_usec)),
        ("ModificationTimestamp", ts(img.mtime_usec)),
        ("Usage", num(usage.usage)),
        ("Limit", num(usage.limit)),
        ("UsageExclusive", num(usage.usage_exclusive)),
        ("LimitExclusive", num(usage.limit_exclusive)),
    ]
}

/// `Origin` and `OriginDigest` of images imported from container images (`NAME.oci-origin`):
/// the reference or path they came from and the manifest digest (else the config digest).
fn origin_properties(ctx: &Ctx, img: &Image) -> Vec<(&'static str, serde_json::Value)> {
    let Some((path, _)) = ctx
        .store
        .sidecars(img)
        .into_iter()
        .find(|(_, suffix)| *suffix == ".oci-origin")
    else {
        return Vec::new();
    };
    let Ok(origin) = std::fs::read(&path)
        .map_err(|_| ())
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).map_err(|_| ()))
    else {
        return Vec::new();
    };
    let digest = origin
        .get("manifestDigest")
        .or_else(|| origin.get("configDigest"))
        .cloned()
        .unwrap_or(serde_json::Value::Null);
    vec![
        (
            "Origin",
            origin
                .get("reference")
                .cloned()
                .unwrap_or(serde_json::Value::Null),
        ),
        ("OriginDigest", digest),
    ]
}

/// Print rows as left-aligned columns separated by two spaces.
fn print_table(rows: &[[String; 6]]) {
    let mut widths = [0usize; 6];
    for r in rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    for r in rows {
        let line: Vec<String> = r
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        println!("{}", line.join("  ").trim_end());
    }
}
