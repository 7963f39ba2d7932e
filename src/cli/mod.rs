//! Command-line interface: scenario tools, running processes from a script of ops, the
//! Gherkin test suite, the node (`serve`, `init`, `keygen`, `token`, `health`), its load
//! benchmark (`bench`) and store check (`store check`).

mod bench;
mod bench_p2p;
mod bench_services;
mod health;
mod init;
mod keygen;
mod progress;
mod run;
mod scenario;
mod serve;
mod store;
mod test;
mod token;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// LetsFlow node: a decentralized, peer-to-peer LetsFlow workflow engine.
#[derive(Debug, Parser)]
#[command(name = "letsflow", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Validate, normalize or identify a scenario file.
    #[command(subcommand)]
    Scenario(scenario::ScenarioCommand),
    /// Instantiate a process and apply a list of operations, printing a snapshot after each.
    Run(run::RunArgs),
    /// Run Gherkin feature files against scenarios and report per scenario.
    Test(test::TestArgs),
    /// Run a node: the REST API over durable storage, with timers.
    Serve(serve::ServeArgs),
    /// Load benchmarks of a node.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
    /// Create the node key (or show it) and print the node id.
    Keygen(keygen::KeygenArgs),
    /// Check (and repair) a node's store.
    #[command(subcommand)]
    Store(store::StoreCommand),
    /// Start a node's folder: a commented config file and the node key; prints what next.
    Init(init::InitArgs),
    /// Mint a JWT for a user, signed with the node's HS256 secret (production auth).
    Token(token::TokenArgs),
    /// Ask a node's GET /health; exit 0 when it answers 200 (the container health check).
    Health(health::HealthArgs),
}

/// Exit code for input that could not be read or parsed.
pub(crate) const EXIT_BAD_INPUT: u8 = 2;

impl Cli {
    /// Runs the command and returns the process exit code.
    pub fn run(self) -> ExitCode {
        match self.command {
            Command::Scenario(cmd) => cmd.run(),
            Command::Run(args) => args.run(),
            Command::Test(args) => args.run(),
            Command::Serve(args) => args.run(),
            Command::Bench(cmd) => cmd.run(),
            Command::Store(cmd) => cmd.run(),
            Command::Keygen(args) => args.run(),
            Command::Init(args) => args.run(),
            Command::Token(args) => args.run(),
            Command::Health(args) => args.run(),
        }
    }
}

/// A scenario folder option shared by the commands.
#[derive(Debug, clap::Args)]
pub(crate) struct SchemaArgs {
    /// Folder with local schemas (`actions/form-v1` → DIR/actions/form-v1.yaml).
    #[arg(long, value_name = "DIR")]
    pub(crate) schemas: Option<PathBuf>,
}

impl SchemaArgs {
    pub(crate) fn registry(&self) -> Result<letsflow::schema::SchemaRegistry, String> {
        let mut registry = letsflow::schema::SchemaRegistry::new();
        if let Some(dir) = &self.schemas {
            registry
                .load_dir(dir)
                .map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        Ok(registry)
    }
}

/// Prints a one-line error for bad input and returns exit code 2.
pub(crate) fn bad_input(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(EXIT_BAD_INPUT)
}
