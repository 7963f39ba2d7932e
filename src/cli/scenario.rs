//! `letsflow scenario validate|normalize|id`.

use super::{bad_input, SchemaArgs};
use clap::Subcommand;
use letsflow::scenario::{self, normalize::normalize};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Debug, Subcommand)]
pub(crate) enum ScenarioCommand {
    /// Check a scenario against the LetsFlow v1.0 schema and the semantic rules; prints
    /// the errors (path and message, one a line) and exits 1 when it is invalid.
    Validate {
        /// Scenario file (.yaml, .yml or .json).
        file: PathBuf,
        #[command(flatten)]
        schemas: SchemaArgs,
    },
    /// Print the normalized scenario as JSON.
    Normalize {
        /// Scenario file (.yaml, .yml or .json).
        file: PathBuf,
        #[command(flatten)]
        schemas: SchemaArgs,
    },
    /// Print the scenario id (a UUID derived from the normalized content).
    Id {
        /// Scenario file (.yaml, .yml or .json).
        file: PathBuf,
    },
}

impl ScenarioCommand {
    pub(crate) fn run(self) -> ExitCode {
        match self {
            ScenarioCommand::Validate { file, schemas } => validate(&file, &schemas),
            ScenarioCommand::Normalize { file, .. } => match load_normalized(&file) {
                Ok(normalized) => {
                    println!("{}", pretty(&normalized));
                    ExitCode::SUCCESS
                }
                Err(e) => bad_input(e),
            },
            ScenarioCommand::Id { file } => match load_normalized(&file) {
                Ok(normalized) => {
                    println!("{}", scenario::id::scenario_id(&normalized));
                    ExitCode::SUCCESS
                }
                Err(e) => bad_input(e),
            },
        }
    }
}

fn validate(file: &Path, schemas: &SchemaArgs) -> ExitCode {
    let registry = match schemas.registry() {
        Ok(r) => r,
        Err(e) => return bad_input(e),
    };
    let raw = match scenario::load_file(file) {
        Ok(raw) => raw,
        Err(e) => return bad_input(e),
    };
    match scenario::validate::validate(&raw, &registry) {
        Ok(()) => {
            println!("{}: valid", file.display());
            ExitCode::SUCCESS
        }
        Err(errors) => {
            for e in errors {
                println!("{}", e.located());
            }
            ExitCode::from(1)
        }
    }
}

/// Loads and normalizes a scenario file; the error names the file.
pub(crate) fn load_normalized(file: &Path) -> Result<Value, String> {
    let raw = scenario::load_file(file).map_err(|e| e.to_string())?;
    normalize(&raw).map_err(|e| format!("{}: {e}", file.display()))
}

pub(crate) fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}
