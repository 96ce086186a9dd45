//! Verb dispatch.

mod inspect;
mod machines;
mod modify;
mod oci;
mod output;
mod partitions;
mod pull;
mod raw;
mod run;
mod tar;
mod units;

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use anyhow::Result;
use wharf_core::Store;

use crate::args::{Args, Command};

/// A clap error about run options given to `boot`/`start` as one line (clap renders a usage
/// block under it).
pub fn run_options_error(e: clap::Error) -> anyhow::Error {
    let text = e.render().to_string();
    let first = text.lines().next().unwrap_or("invalid run options");
    anyhow::anyhow!("{}", first.trim_start_matches("error: "))
}

/// Options every verb sees.
pub struct Ctx {
    pub store: Store,
    pub json: bool,
    pub quiet: bool,
    pub legend: bool,
    /// Set by SIGINT/SIGTERM so long operations stop and clean up.
    pub cancel: Arc<AtomicBool>,
    /// The state directory of running machines.
    pub machines: wharf_launcher::machine::Registry,
}

pub fn run(args: Args) -> Result<()> {
    // Documentation verbs need no store and no signal handling.
    match &args.command {
        Command::Completions { shell } => {
            return crate::docgen::completions(*shell, &mut std::io::stdout().lock())
        }
        Command::GenerateMan { dir } => return crate::docgen::man_pages(dir),
        _ => {}
    }
    let registry = crate::plugins::registry();
    let store = match &args.image_root {
        Some(root) => Store::at(root.clone(), registry),
        None => Store::system(registry),
    };
    let cancel = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, Arc::clone(&cancel))?;
    }
    let ctx = Ctx {
        store,
        json: args.json,
        quiet: args.quiet,
        legend: !args.no_legend && !args.quiet,
        cancel,
        machines: wharf_launcher::machine::Registry::new(args.state_dir.clone()),
    };
    match args.command {
        Command::ListImages { all } => inspect::list_images(&ctx, all),
        Command::ImageStatus { names } => inspect::image_status(&ctx, &names),
        Command::ShowImage {
            names,
            property,
            value,
        } => inspect::show_image(&ctx, &names, &property, value),
        Command::Clone {
            source,
            destination,
            read_only,
        } => modify::clone(&ctx, &source, &destination, read_only),
        Command::Rename { old, new } => modify::rename(&ctx, &old, &new),
        Command::Remove { names } => modify::remove(&ctx, &names),
        Command::ReadOnly { name, value } => modify::read_only(&ctx, &name, value),
        Command::SetLimit { first, second } => modify::set_limit(&ctx, &first, second.as_deref()),
        Command::Clean { all } => modify::clean(&ctx, all),
        Command::Run(a) => run::run(&ctx, *a),
        Command::Start {
            name,
            timeout,
            args,
        } => machines::start(&ctx, &name, timeout, args),
        Command::Supervise { name, args } => machines::supervise(&ctx, &name, args),
        // Handled above.
        Command::Completions { .. } | Command::GenerateMan { .. } => Ok(()),
        Command::List => machines::list(&ctx),
        Command::Login { name } => machines::login(&ctx, &name),
        Command::CopyTo {
            name,
            source,
            destination,
        } => machines::copy(&ctx, &name, true, &source, destination.as_deref()),
        Command::CopyFrom {
            name,
            source,
            destination,
        } => machines::copy(&ctx, &name, false, &source, destination.as_deref()),
        Command::Bind {
            name,
            source,
            destination,
            read_only,
            mkdir,
        } => machines::bind(&ctx, &name, source, destination, read_only, mkdir),
        Command::Enable { names, root } => units::enable(&ctx, &names, root),
        Command::Disable { names, root } => units::disable(&ctx, &names, root),
        Command::Shell {
            name,
            user,
            command,
        } => machines::shell(&ctx, &name, user, command),
        Command::Status { name } => machines::status(&ctx, &name),
        Command::Poweroff { names, timeout } => machines::poweroff(&ctx, &names, timeout),
        Command::Reboot { names } => machines::reboot(&ctx, &names),
        Command::Terminate { names } => machines::terminate(&ctx, &names),
        Command::Kill {
            names,
            signal,
            kill_whom,
        } => machines::kill(&ctx, &names, &signal, &kill_whom),
        Command::Boot { name, args } => {
            let mut full = vec![
                std::ffi::OsString::from("wharf"),
                "-b".into(),
                "-M".into(),
                name.into(),
            ];
            if !args.is_empty() {
                full.push("--".into());
                full.extend(args);
            }
            use clap::{Args as _, FromArgMatches as _};
            let cmd = crate::args::RunArgs::augment_args(clap::Command::new("wharf"));
            let m = cmd.try_get_matches_from(full).map_err(run_options_error)?;
            let a = crate::args::RunArgs::from_arg_matches(&m)?;
            run::run(&ctx, a)
        }
        Command::ImportTar {
            file,
            name,
            force,
            read_only,
            size_max,
        } => tar::import(
            &ctx,
            &file,
            name.as_deref(),
            force,
            read_only,
            size_max.as_deref(),
        ),
        Command::ImportOci {
            path,
            name,
            reference,
            platform,
            layered,
            force,
            read_only,
        } => oci::import_oci(
            &ctx,
            &path,
            name.as_deref(),
            reference.as_deref(),
            oci::Target {
                platform: platform.as_deref(),
                layered,
                force,
                read_only,
            },
        ),
        Command::PullOci {
            reference,
            name,
            platform,
            layered,
            insecure,
            cache_dir,
            force,
            read_only,
        } => oci::pull_oci(
            &ctx,
            &reference,
            name.as_deref(),
            insecure,
            cache_dir,
            oci::Target {
                platform: platform.as_deref(),
                layered,
                force,
                read_only,
            },
        ),
        Command::Push {
            name,
            reference,
            insecure,
            format,
        } => oci::push(&ctx, &name, &reference, insecure, &format),
        Command::ExportOci {
            name,
            path,
            tag,
            format,
        } => oci::export_oci(&ctx, &name, &path, &tag, &format),
        Command::ImportDocker {
            file,
            name,
            force,
            read_only,
        } => oci::import_docker(&ctx, &file, name.as_deref(), force, read_only),
        Command::ExportTar { name, file, format } => {
            tar::export(&ctx, &name, file.as_deref(), format.as_deref())
        }
        Command::PullTar {
            url,
            name,
            verify,
            keyring,
            keep_download,
            force,
            read_only,
            size_max,
        } => pull::pull(
            &ctx,
            &pull::PullArgs {
                kind: pull::Kind::Tar,
                url,
                name,
                verify,
                keyring,
                keep_download,
                force,
                read_only,
                size_max,
            },
        ),
        Command::ImportRaw {
            file,
            name,
            force,
            read_only,
            allow_backing_file,
        } => raw::import(
            &ctx,
            &file,
            name.as_deref(),
            force,
            read_only,
            allow_backing_file,
        ),
        Command::PullRaw {
            url,
            name,
            verify,
            keyring,
            keep_download,
            force,
            read_only,
        } => pull::pull(
            &ctx,
            &pull::PullArgs {
                kind: pull::Kind::Raw,
                url,
                name,
                verify,
                keyring,
                keep_download,
                force,
                read_only,
                size_max: None,
            },
        ),
        Command::ExportRaw { name, file, format } => {
            raw::export(&ctx, &name, file.as_deref(), format.as_deref())
        }
        Command::Convert {
            input,
            output,
            format,
            compress,
        } => raw::convert(
            &ctx,
            &input,
            &output,
            format.as_deref(),
            compress.as_deref(),
        ),
        Command::ImportFs {
            directory,
            name,
            force,
            read_only,
        } => modify::import_fs(&ctx, &directory, name.as_deref(), force, read_only),
    }
}
