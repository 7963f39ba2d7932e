//! `letsflow keygen`: create the node key (or show the one there is) and print the node id.

use std::path::PathBuf;
use std::process::ExitCode;

/// Flags of `letsflow keygen`.
#[derive(Debug, clap::Args)]
pub(crate) struct KeygenArgs {
    /// Data folder, where the key file `node.key` lives [default: $LETSFLOW_DATA, else
    /// ./data].
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
}

impl KeygenArgs {
    /// Prints the node id on stdout (and on stderr whether the key was created).
    pub(crate) fn run(self) -> ExitCode {
        let data = self
            .data
            .or_else(|| std::env::var_os("LETSFLOW_DATA").map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from("data"));
        match letsflow::node::identity::load_or_create(&data) {
            Ok((key, created)) => {
                let file = data.join(letsflow::node::identity::KEY_FILE);
                if created {
                    eprintln!("created {} (mode 0600)", file.display());
                } else {
                    eprintln!("key in {}", file.display());
                }
                println!("{}", key.id());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        }
    }
}
