//! `letsflow store check`: replay every process of a node's store and compare the stored
//! projections with the events (see `letsflow::engine::check`).

use letsflow::engine::check::{check_store, ProcessCheck};
use letsflow::engine::Engine;
use letsflow::node::config::{Config, Env, Flags};
use letsflow::node::server::{open_registry, open_store};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

/// Maintenance of a node's store.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum StoreCommand {
    /// Replay every process from its events (verifying the hash chains and transitions) and
    /// compare the stored views and timers with them. Exit 0 when all is consistent (or
    /// repaired), 1 when not. Stop the node first: the store is opened for writing.
    Check(CheckArgs),
}

#[derive(Debug, clap::Args)]
pub(crate) struct CheckArgs {
    /// Config file, YAML or TOML [default: $LETSFLOW_CONFIG, else ./letsflow.{yaml,yml,toml}
    /// when present].
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Data folder, where the store lives [default: $LETSFLOW_DATA, else ./data].
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// Folder with local schemas [default: $LETSFLOW_SCHEMAS, else ./schemas when present].
    #[arg(long, value_name = "DIR")]
    schemas: Option<String>,
    /// Rewrite the views and timers that differ from the events.
    #[arg(long)]
    repair: bool,
}

impl StoreCommand {
    pub(crate) fn run(self) -> ExitCode {
        match self {
            StoreCommand::Check(args) => args.run(),
        }
    }
}

impl CheckArgs {
    fn run(self) -> ExitCode {
        let flags = Flags {
            config: self.config,
            data: self.data,
            schemas: self.schemas.map(PathBuf::from),
            // The check authenticates no one: JWT settings do not matter here.
            dev: true,
            ..Flags::default()
        };
        let config = match Config::load(&flags, &Env::from_process()) {
            Ok(config) => config,
            Err(e) => return super::bad_input(e),
        };
        let opened = open_store(&config).and_then(|store| Ok((store, open_registry(&config)?)));
        let (store, registry) = match opened {
            Ok(opened) => opened,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        };
        let engine = Engine::new(store, registry);
        eprintln!(
            "checking the {} store in {}{}",
            config.storage,
            config.data.display(),
            if self.repair { " (repairing)" } else { "" }
        );
        let total = match engine.store().processes() {
            Ok(ids) => ids.count(),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        };
        let started = Instant::now();
        let mut progress = super::progress::Progress::new();
        let mut seen = 0usize;
        let result = check_store(&engine, self.repair, |id, check| {
            seen += 1;
            match check {
                ProcessCheck::Consistent => {}
                ProcessCheck::Stale {
                    projections,
                    repaired,
                } => println!(
                    "{id}: stored {} differ{} from the events{}",
                    projections.join(" and "),
                    if projections.len() == 1 { "s" } else { "" },
                    if *repaired { " (repaired)" } else { "" }
                ),
                ProcessCheck::Broken(why) => println!("{id}: broken: {why}"),
            }
            progress.show(|| {
                format!(
                    "  {seen} of {total} processes checked ({}%) …",
                    seen * 100 / total.max(1)
                )
            });
        });
        progress.done();
        let summary = match result {
            Ok(summary) => summary,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        };
        println!(
            "{} processes checked in {:.1} s: {} consistent, {} with stale projections ({} \
             repaired), {} broken",
            summary.processes,
            started.elapsed().as_secs_f64(),
            summary.processes - summary.stale - summary.broken.len(),
            summary.stale,
            summary.repaired,
            summary.broken.len()
        );
        if summary.ok() {
            ExitCode::SUCCESS
        } else {
            if summary.stale > summary.repaired {
                eprintln!("run again with --repair to rewrite the stale projections");
            }
            ExitCode::FAILURE
        }
    }
}
