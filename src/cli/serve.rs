//! `letsflow serve`: run a node (see `docs/config.md` for every setting).

use letsflow::node::config::{Config, Env, Flags};
use letsflow::node::{preflight, server};
use std::path::PathBuf;
use std::process::ExitCode;

/// Flags of `letsflow serve`; each overrides its `LETSFLOW_*` variable and the config file.
#[derive(Debug, clap::Args)]
pub(crate) struct ServeArgs {
    /// Config file, YAML or TOML [default: $LETSFLOW_CONFIG, else ./letsflow.{yaml,yml,toml}
    /// when present].
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Data folder, where the store lives [default: $LETSFLOW_DATA, else ./data].
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// HTTP listen address [default: $LETSFLOW_HTTP, else 127.0.0.1:8080].
    #[arg(long, value_name = "ADDR")]
    http: Option<String>,
    /// Scenarios folder: scenarios come only from it (read-only mode) [default:
    /// $LETSFLOW_SCENARIOS, else ./scenarios when present; "" for none].
    #[arg(long, value_name = "DIR")]
    scenarios: Option<String>,
    /// Folder with local schemas [default: $LETSFLOW_SCHEMAS, else ./schemas when present;
    /// "" for none].
    #[arg(long, value_name = "DIR")]
    schemas: Option<String>,
    /// Development mode: demo accounts, no JWT key needed [default: $LETSFLOW_DEV, else on
    /// when no JWT secret or public key is configured and the HTTP address is loopback].
    #[arg(long)]
    dev: bool,
    /// p2p listen multiaddr, repeatable [default: $LETSFLOW_LISTEN, else
    /// /ip4/127.0.0.1/tcp/4001, or a random port when that is taken].
    #[arg(long, value_name = "MULTIADDR")]
    listen: Vec<String>,
    /// A peer to connect to and keep connected, repeatable (e.g.
    /// /ip4/10.0.0.2/tcp/4001/p2p/12D3KooW…) [default: $LETSFLOW_PEER].
    #[arg(long, value_name = "MULTIADDR")]
    peer: Vec<String>,
    /// Discover peers on the local network with mDNS [default: $LETSFLOW_MDNS, else off].
    #[arg(long)]
    mdns: bool,
    /// Check the settings (config file, environment, flags), the scenarios and schemas
    /// folders, the JWT keys and the node key, print what the node would start with, and
    /// exit: 0 when it would start, 1 when not. Starts nothing; creates only a missing data
    /// folder (to check that it can be written).
    #[arg(long)]
    check: bool,
}

impl ServeArgs {
    /// Runs the node until SIGINT/SIGTERM: exit 0 after a graceful stop, 2 for a bad
    /// configuration, 1 when the node cannot start or fails. With `--check`, only checks:
    /// exit 0 when the node would start, 1 when not.
    pub(crate) fn run(self) -> ExitCode {
        let flags = Flags {
            config: self.config,
            data: self.data,
            http: self.http,
            // Text, so that "" (no folder) gets through.
            scenarios: self.scenarios.map(PathBuf::from),
            schemas: self.schemas.map(PathBuf::from),
            dev: self.dev,
            listen: self.listen,
            peers: self.peer,
            mdns: self.mdns,
        };
        let config = match Config::load(&flags, &Env::from_process()) {
            Ok(config) => config,
            Err(e) if self.check => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
            Err(e) => return super::bad_input(e),
        };
        if self.check {
            return match preflight::check(&config) {
                Ok(summary) => {
                    print!("{summary}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::FAILURE
                }
            };
        }
        match server::run(config) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        }
    }
}
