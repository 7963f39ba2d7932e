//! `letsflow init [DIR]`: a new node's folder — a commented `letsflow.yaml` with every
//! setting (its default and its environment variable) and the node key in `DIR/data` — and
//! the commands to run next.

use letsflow::node::identity;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// The config file `letsflow init` writes: every setting, commented.
pub(crate) const TEMPLATE: &str = include_str!("init_template.yaml");

/// The name of the config file, one of those `letsflow serve` looks for.
const CONFIG_FILE: &str = "letsflow.yaml";

/// Flags of `letsflow init`.
#[derive(Debug, clap::Args)]
pub(crate) struct InitArgs {
    /// The node's folder (created when missing).
    #[arg(value_name = "DIR", default_value = ".")]
    dir: PathBuf,
}

impl InitArgs {
    /// Exit 0 with the next commands on stdout; 1 when the folder already has a config file
    /// (it is never overwritten) or a file cannot be written.
    pub(crate) fn run(self) -> ExitCode {
        let config = self.dir.join(CONFIG_FILE);
        let data = self.dir.join("data");
        let written = std::fs::create_dir_all(&self.dir).and_then(|()| {
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&config)?;
            file.write_all(TEMPLATE.as_bytes())?;
            file.sync_all()
        });
        if let Err(e) = written {
            let reason = if e.kind() == std::io::ErrorKind::AlreadyExists {
                "it exists already (letsflow init never overwrites it)".to_string()
            } else {
                e.to_string()
            };
            eprintln!("error: cannot write {}: {reason}", config.display());
            return ExitCode::FAILURE;
        }
        let key = match identity::load_or_create(&data) {
            Ok((key, _)) => key,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        };
        let cd = if self.dir == std::path::Path::new(".") {
            String::new()
        } else {
            format!("cd {} && ", self.dir.display())
        };
        println!(
            "wrote {config} (every setting, commented)
node key {key_file} (mode 0600): node id {id}

next:
  {cd}letsflow serve --check     # check the settings without starting
  {cd}letsflow serve             # a development node on http://127.0.0.1:8080
  curl http://127.0.0.1:8080/health

for production, set a JWT secret (or auth.jwt.publicKey in {file}) and mint tokens with it:
  export LETSFLOW_AUTH_JWT_SECRET=$(openssl rand -hex 32)
  letsflow token --sub alice --role admin
partners reach this node by its id: give them {id} and its p2p address
(p2p.listen in {file}; docs/config.md, \"Peer-to-peer\")",
            config = config.display(),
            key_file = data.join(identity::KEY_FILE).display(),
            id = key.id(),
            file = CONFIG_FILE,
        );
        ExitCode::SUCCESS
    }
}
