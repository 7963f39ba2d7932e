//! `letsflow test [PATHS…]`: runs Gherkin feature files against scenarios (SPEC 5).

use super::bad_input;
use letsflow::testsuite::{Options, Runner};
use std::path::PathBuf;
use std::process::ExitCode;

/// Output formats of `letsflow test`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Format {
    /// Per scenario passed/failed, failing steps with their reasons, and a summary.
    Pretty,
    /// The whole run as one JSON document (see docs/testsuite.md).
    Json,
    /// JUnit XML for CI servers.
    Junit,
}

#[derive(Debug, clap::Args)]
pub(crate) struct TestArgs {
    /// Feature files or folders with `.feature` files [default: ./features].
    paths: Vec<PathBuf>,
    /// Folder with the scenarios (`NAME.yaml|yml|json`) [default: $LETSFLOW_SCENARIO_PATH,
    /// else ./scenarios].
    #[arg(long, value_name = "DIR")]
    scenarios: Option<PathBuf>,
    /// Folder with local schemas (`actions/form-v1` → DIR/actions/form-v1.yaml)
    /// [default: ./schemas, when it exists].
    #[arg(long, value_name = "DIR")]
    schemas: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Pretty)]
    format: Format,
}

impl TestArgs {
    /// Runs the features; exit code 0 when every scenario passed, 1 when one failed, 2
    /// when the run could not start.
    pub(crate) fn run(self) -> ExitCode {
        let scenario_dir = self
            .scenarios
            .or_else(|| std::env::var_os("LETSFLOW_SCENARIO_PATH").map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from("scenarios"));
        let schema_dir = self
            .schemas
            .or_else(|| Some(PathBuf::from("schemas")).filter(|d| d.is_dir()));
        let mut options = Options::new(scenario_dir);
        options.schema_dir = schema_dir;
        let paths = if self.paths.is_empty() {
            vec![PathBuf::from("features")]
        } else {
            self.paths
        };
        let report = match Runner::new(options).and_then(|mut r| r.run(&paths)) {
            Ok(report) => report,
            Err(e) => return bad_input(e),
        };
        match self.format {
            Format::Pretty => print!("{}", report.pretty()),
            Format::Json => println!(
                "{}",
                serde_json::to_string_pretty(&report.json()).unwrap_or_default()
            ),
            Format::Junit => print!("{}", report.junit()),
        }
        if report.passed() {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        }
    }
}
