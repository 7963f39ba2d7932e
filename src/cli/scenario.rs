//! `letsflow scenario validate|normalize|id`.

use super::{bad_input, SchemaArgs};
use clap::Subcommand;
use letsflow::scenario::{self, locate::Locations, normalize::normalize};
use letsflow::schema::ValidationError;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Debug, Subcommand)]
pub(crate) enum ScenarioCommand {
    /// Check a scenario against the LetsFlow v1.0 schema and the semantic rules; prints
    /// the errors and warnings (`FILE:LINE:COLUMN: error|warning: PATH: message`, one a
    /// line) and exits 1 when it is invalid. Warnings (unknown keys, undefined actions,
    /// unreached states, states without a way out) leave it valid unless `--strict`.
    Validate {
        /// Scenario file (.yaml, .yml or .json).
        file: PathBuf,
        #[command(flatten)]
        schemas: SchemaArgs,
        /// Treat warnings as errors.
        #[arg(long)]
        strict: bool,
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
            ScenarioCommand::Validate {
                file,
                schemas,
                strict,
            } => validate(&file, &schemas, strict),
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

fn validate(file: &Path, schemas: &SchemaArgs, strict: bool) -> ExitCode {
    let registry = match schemas.registry() {
        Ok(r) => r,
        Err(e) => return bad_input(e),
    };
    let raw = match scenario::load_file(file) {
        Ok(raw) => raw,
        Err(e) => return bad_input(e),
    };
    let errors = scenario::validate::validate(&raw, &registry).err();
    let warnings = scenario::warnings::warnings(&raw);
    let locations = locations(file);
    for line in problem_lines(file, &locations, "error", errors.iter().flatten())
        .chain(problem_lines(file, &locations, "warning", &warnings))
    {
        println!("{line}");
    }
    if errors.is_some() || (strict && !warnings.is_empty()) {
        return ExitCode::from(1);
    }
    match warnings.len() {
        0 => println!("{}: valid", file.display()),
        1 => println!("{}: valid, with 1 warning", file.display()),
        n => println!("{}: valid, with {n} warnings", file.display()),
    }
    ExitCode::SUCCESS
}

/// The problems as lines for people: `FILE:LINE:COLUMN: KIND: PATH: message` (without
/// line and column when the key is not found in the text).
pub(crate) fn problem_lines<'e>(
    file: &'e Path,
    locations: &'e Locations,
    kind: &'e str,
    problems: impl IntoIterator<Item = &'e ValidationError> + 'e,
) -> impl Iterator<Item = String> + 'e {
    problems.into_iter().map(move |e| {
        let at = match locations.find(&e.instance_path) {
            Some(p) => format!("{}:{}:{}", file.display(), p.line, p.column),
            None => file.display().to_string(),
        };
        format!("{at}: {kind}: {}", e.located())
    })
}

/// Where the keys of a YAML file are; nothing for JSON (or a file that cannot be read,
/// which [`scenario::load_file`] has reported by then).
pub(crate) fn locations(file: &Path) -> Locations {
    match scenario::Format::from_path(file) {
        Some(scenario::Format::Yaml) => std::fs::read_to_string(file)
            .map(|text| Locations::of_yaml(&text))
            .unwrap_or_default(),
        _ => Locations::default(),
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
