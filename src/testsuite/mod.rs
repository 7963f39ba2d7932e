//! `letsflow test`: runs Gherkin `.feature` files against scenarios (SPEC 5).
//!
//! The features are parsed with the `gherkin` crate; this module runs them: Background
//! steps before every scenario, Scenario Outlines expanded per example row, every scenario
//! in a fresh [`World`], steps after a failing step skipped. Scenarios are loaded by name
//! from a folder (`NAME.json`, `NAME.yaml` or `NAME.yml`), validated and normalized once per
//! run; local schemas (`actions/form-v1`) come from a schema folder.
//!
//! ```no_run
//! use letsflow::testsuite::{Options, Runner};
//! use std::path::PathBuf;
//!
//! let mut runner = Runner::new(Options::new("scenarios")).expect("schemas load");
//! let report = runner.run(&[PathBuf::from("features")]).expect("features found");
//! print!("{}", report.pretty());
//! ```

mod diff;
pub mod report;
pub mod steps;
pub mod world;

pub use report::{FeatureReport, Report, ScenarioReport, Status, StepReport, Summary};
pub use steps::{Arg, DocString, Step};
pub use world::{StepError, World};

use crate::process::{Scenario, Timestamp};
use crate::scenario::{self, normalize::normalize};
use crate::schema::{SchemaRegistry, ValidationError};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

/// The time every process of a test starts at.
pub const START_TIME: &str = "2025-01-01T00:00:00Z";

/// What can stop a test run before it starts.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A path given to run does not exist.
    #[error("{0}: no such file or folder")]
    NotFound(PathBuf),
    /// A folder could not be listed.
    #[error("{path}: {source}")]
    Read {
        /// The folder.
        path: PathBuf,
        /// What the file system said.
        source: std::io::Error,
    },
    /// The paths hold no `.feature` files.
    #[error("no .feature files found in {0}")]
    NoFeatures(String),
    /// The schema folder could not be loaded.
    #[error("schemas in {path}: {message}")]
    Schemas {
        /// The schema folder.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
}

/// Where the scenarios and schemas are, and when processes start.
#[derive(Debug, Clone)]
pub struct Options {
    /// The folder with `NAME.yaml|yml|json` scenarios.
    pub scenario_dir: PathBuf,
    /// The folder with local schemas, if any.
    pub schema_dir: Option<PathBuf>,
    /// The time every process starts at.
    pub start: Timestamp,
}

impl Options {
    /// Scenarios from `scenario_dir`, no local schemas, processes starting at
    /// [`START_TIME`].
    pub fn new(scenario_dir: impl Into<PathBuf>) -> Self {
        Options {
            scenario_dir: scenario_dir.into(),
            schema_dir: None,
            start: Timestamp::parse(START_TIME).unwrap_or(Timestamp::from_millis(0)),
        }
    }

    /// Uses local schemas from `dir`.
    pub fn with_schemas(mut self, dir: impl Into<PathBuf>) -> Self {
        self.schema_dir = Some(dir.into());
        self
    }
}

/// Why a scenario named by a step cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScenarioError {
    /// No `NAME.json`, `NAME.yaml` or `NAME.yml` in the scenario folder.
    #[error("Scenario \"{name}\" not found: no {name}.json, {name}.yaml or {name}.yml in {dir}")]
    NotFound {
        /// The scenario name.
        name: String,
        /// The scenario folder.
        dir: String,
    },
    /// The file is not valid YAML or JSON.
    #[error("Scenario \"{name}\" could not be loaded from {file}: {message}")]
    Load {
        /// The scenario name.
        name: String,
        /// The scenario file.
        file: String,
        /// What the loader said.
        message: String,
    },
    /// The scenario does not validate (SPEC 1.5); one `path: message` per error.
    #[error("Scenario \"{name}\" ({file}) is invalid:{}", errors.iter().map(|e| format!("\n  {e}")).collect::<String>())]
    Invalid {
        /// The scenario name.
        name: String,
        /// The scenario file.
        file: String,
        /// The validation errors as `instance path: message`.
        errors: Vec<String>,
    },
    /// Normalizing or compiling the scenario failed.
    #[error("Scenario \"{name}\" ({file}) cannot run: {message}")]
    Unusable {
        /// The scenario name.
        name: String,
        /// The scenario file.
        file: String,
        /// What went wrong.
        message: String,
    },
}

/// The scenarios of a run, loaded by name on first use and kept (also when they fail to
/// load, so that every feature using a broken scenario reports the same error).
pub struct Scenarios {
    dir: PathBuf,
    registry: SchemaRegistry,
    loaded: HashMap<String, Result<Arc<Scenario>, ScenarioError>>,
}

impl Scenarios {
    /// Scenarios from `dir`, with `registry` for `schema:` references.
    pub fn new(dir: impl Into<PathBuf>, registry: SchemaRegistry) -> Self {
        Scenarios {
            dir: dir.into(),
            registry,
            loaded: HashMap::new(),
        }
    }

    /// The scenario `name`: loaded, validated, normalized and compiled.
    pub fn get(&mut self, name: &str) -> Result<Arc<Scenario>, ScenarioError> {
        if let Some(found) = self.loaded.get(name) {
            return found.clone();
        }
        let result = self.load(name);
        self.loaded.insert(name.to_string(), result.clone());
        result
    }

    fn load(&self, name: &str) -> Result<Arc<Scenario>, ScenarioError> {
        let Some(path) = ["json", "yaml", "yml"]
            .iter()
            .map(|ext| self.dir.join(format!("{name}.{ext}")))
            .find(|p| p.is_file())
        else {
            return Err(ScenarioError::NotFound {
                name: name.to_string(),
                dir: self.dir.display().to_string(),
            });
        };
        let file = path.display().to_string();
        let unusable = |message: String| ScenarioError::Unusable {
            name: name.to_string(),
            file: file.clone(),
            message,
        };
        let raw = scenario::load_file(&path).map_err(|e| ScenarioError::Load {
            name: name.to_string(),
            file: file.clone(),
            message: e.to_string(),
        })?;
        if let Err(errors) = scenario::validate::validate(&raw, &self.registry) {
            let errors = errors.iter().map(ValidationError::located).collect();
            return Err(ScenarioError::Invalid {
                name: name.to_string(),
                file,
                errors,
            });
        }
        let normalized = normalize(&raw).map_err(|e| unusable(e.to_string()))?;
        let compiled =
            Scenario::new(normalized, &self.registry).map_err(|e| unusable(e.to_string()))?;
        Ok(Arc::new(compiled))
    }
}

/// Runs feature files.
pub struct Runner {
    scenarios: Scenarios,
    start: Timestamp,
}

/// A scenario ready to run: Background steps and, for an outline, the example row filled in.
struct Planned {
    name: String,
    line: usize,
    steps: Vec<PlannedStep>,
}

#[derive(Clone)]
struct PlannedStep {
    keyword: String,
    text: String,
    line: usize,
    block: Option<Arg>,
}

impl Runner {
    /// A runner with the schemas of `options` loaded.
    pub fn new(options: Options) -> Result<Runner, Error> {
        let mut registry = SchemaRegistry::new();
        if let Some(dir) = &options.schema_dir {
            registry.load_dir(dir).map_err(|e| Error::Schemas {
                path: dir.clone(),
                message: e.to_string(),
            })?;
        }
        Ok(Runner {
            scenarios: Scenarios::new(options.scenario_dir, registry),
            start: options.start,
        })
    }

    /// Runs every `.feature` file in `paths` (files, or folders searched recursively, in
    /// name order).
    pub fn run(&mut self, paths: &[PathBuf]) -> Result<Report, Error> {
        let files = feature_files(paths)?;
        Ok(Report {
            features: files.iter().map(|f| self.run_file(f)).collect(),
        })
    }

    /// Runs one feature file; a file that cannot be read or parsed is reported as such.
    pub fn run_file(&mut self, path: &Path) -> FeatureReport {
        let file = path.display().to_string();
        match std::fs::read_to_string(path) {
            Ok(source) => self.run_source(&file, &source),
            Err(e) => FeatureReport {
                file,
                name: String::new(),
                error: Some(format!("could not be read: {e}")),
                scenarios: vec![],
            },
        }
    }

    /// Runs a feature given as text; `file` is the name to report it by.
    pub fn run_source(&mut self, file: &str, source: &str) -> FeatureReport {
        let feature = match gherkin::Feature::parse(source, gherkin::GherkinEnv::default()) {
            Ok(feature) => feature,
            Err(e) => {
                let error = match unclosed_doc_string(source) {
                    Some(line) => format!(
                        "is not valid Gherkin: the doc string opened at line {line} is not closed"
                    ),
                    None => gherkin_error(&e),
                };
                return FeatureReport {
                    file: file.to_string(),
                    name: String::new(),
                    error: Some(error),
                    scenarios: vec![],
                };
            }
        };
        let scenarios = plan(&feature)
            .into_iter()
            .map(|planned| self.run_scenario(planned))
            .collect();
        FeatureReport {
            file: file.to_string(),
            name: feature.name.clone(),
            error: None,
            scenarios,
        }
    }

    fn run_scenario(&mut self, planned: Planned) -> ScenarioReport {
        let started = Instant::now();
        let mut world = World::new(&mut self.scenarios, self.start);
        let mut failed = false;
        let mut steps = Vec::with_capacity(planned.steps.len());
        for step in planned.steps {
            let (status, error) = if failed {
                (Status::Skipped, None)
            } else {
                match world.run(&step.text, step.block) {
                    Ok(()) => (Status::Passed, None),
                    Err(e) => {
                        failed = true;
                        (Status::Failed, Some(e.to_string()))
                    }
                }
            };
            steps.push(StepReport {
                keyword: step.keyword,
                text: step.text,
                line: step.line,
                status,
                error,
            });
        }
        ScenarioReport {
            name: planned.name,
            line: planned.line,
            status: if failed {
                Status::Failed
            } else {
                Status::Passed
            },
            steps,
            duration: started.elapsed(),
        }
    }
}

/// "is not valid Gherkin: syntax error at line L, column C" (the parser's own text lists
/// the tokens it expected, in no stable order).
fn gherkin_error(e: &gherkin::ParseError) -> String {
    let text = e.to_string();
    let position = text
        .strip_prefix("Error at ")
        .and_then(|rest| rest.split(':').next().zip(rest.split(':').nth(1)))
        .filter(|(l, c)| l.parse::<usize>().is_ok() && c.parse::<usize>().is_ok());
    match position {
        Some((line, col)) => {
            format!("is not valid Gherkin: syntax error at line {line}, column {col}")
        }
        None => format!("is not valid Gherkin: {text}"),
    }
}

/// The line of a doc string (`"""` or ```` ``` ````) that is never closed, if any: the
/// parser only says where it gave up (the end of the file).
fn unclosed_doc_string(source: &str) -> Option<usize> {
    let mut open: Option<(&str, usize)> = None;
    for (i, line) in source.lines().enumerate() {
        let line = line.trim();
        match open {
            None => {
                open = ["\"\"\"", "```"]
                    .into_iter()
                    .find(|d| line.starts_with(d))
                    .map(|d| (d, i + 1));
            }
            Some((delimiter, _)) if line == delimiter => open = None,
            Some(_) => {}
        }
    }
    open.map(|(_, line)| line)
}

/// The `.feature` files in `paths`: files as given, folders searched recursively (sorted).
pub fn feature_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, Error> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_file() {
            files.push(path.clone());
        } else if path.is_dir() {
            collect(path, &mut files)?;
        } else {
            return Err(Error::NotFound(path.clone()));
        }
    }
    if files.is_empty() {
        let names: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        return Err(Error::NoFeatures(names.join(", ")));
    }
    Ok(files)
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), Error> {
    let read = |source| Error::Read {
        path: dir.to_path_buf(),
        source,
    };
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(read)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .map_err(read)?;
    entries.sort();
    for entry in entries {
        if entry.is_dir() {
            collect(&entry, out)?;
        } else if entry.extension().is_some_and(|e| e == "feature") {
            out.push(entry);
        }
    }
    Ok(())
}

/// The scenarios of a feature in file order, each with its Background steps (the feature's,
/// then its rule's) and outlines expanded.
fn plan(feature: &gherkin::Feature) -> Vec<Planned> {
    let background = |b: &Option<gherkin::Background>| -> Vec<PlannedStep> {
        b.iter()
            .flat_map(|b| b.steps.iter())
            .map(planned_step)
            .collect()
    };
    let feature_bg = background(&feature.background);
    let mut out = Vec::new();
    for scenario in &feature.scenarios {
        expand(scenario, &feature_bg, &mut out);
    }
    for rule in &feature.rules {
        let mut bg = background(&feature.background);
        bg.extend(background(&rule.background));
        for scenario in &rule.scenarios {
            expand(scenario, &bg, &mut out);
        }
    }
    out
}

fn planned_step(step: &gherkin::Step) -> PlannedStep {
    let block = match (&step.docstring, &step.table) {
        (Some(doc), _) => Some(Arg::DocString(DocString::from_raw(doc))),
        (None, Some(table)) => Some(Arg::Table(table.rows.clone())),
        (None, None) => None,
    };
    PlannedStep {
        keyword: step.keyword.trim().to_string(),
        text: step.value.clone(),
        line: step.position.line,
        block,
    }
}

/// A scenario, or one per example row of an outline (`<name>` replaced by the row's value
/// in the name, the step texts, doc strings and tables).
fn expand(scenario: &gherkin::Scenario, background: &[PlannedStep], out: &mut Vec<Planned>) {
    let own: Vec<PlannedStep> = scenario.steps.iter().map(planned_step).collect();
    if scenario.examples.is_empty() {
        let mut steps = background.to_vec();
        steps.extend(own);
        out.push(Planned {
            name: scenario.name.clone(),
            line: scenario.position.line,
            steps,
        });
        return;
    }
    for examples in &scenario.examples {
        let Some(table) = &examples.table else {
            continue;
        };
        let Some((header, rows)) = table.rows.split_first() else {
            continue;
        };
        for (i, row) in rows.iter().enumerate() {
            let fill = |text: &str| {
                header.iter().zip(row).fold(text.to_string(), |t, (k, v)| {
                    t.replace(&format!("<{k}>"), v)
                })
            };
            let mut steps = background.to_vec();
            steps.extend(own.iter().map(|s| PlannedStep {
                keyword: s.keyword.clone(),
                text: fill(&s.text),
                line: s.line,
                block: s.block.as_ref().map(|b| {
                    match b {
                        Arg::DocString(d) => Arg::DocString(DocString {
                            content_type: d.content_type.clone(),
                            text: fill(&d.text),
                        }),
                        Arg::Table(rows) => Arg::Table(
                            rows.iter()
                                .map(|r| r.iter().map(|c| fill(c)).collect())
                                .collect(),
                        ),
                        other => other.clone(),
                    }
                }),
            }));
            out.push(Planned {
                name: fill(&scenario.name),
                line: table.position.line + i + 1,
                steps,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unclosed_doc_string_is_named() {
        let source =
            "Feature: F\n  Scenario: S\n    Then the result is:\n      \"\"\"yaml\n      a: 1\n";
        assert_eq!(unclosed_doc_string(source), Some(4));
        let closed = format!(
            "{source}      \"\"\"\n    And the result is:\n      ```\n      x\n      ```\n"
        );
        assert_eq!(unclosed_doc_string(&closed), None);
        let report = Runner::new(Options::new("scenarios"))
            .expect("runner")
            .run_source("f.feature", source);
        assert_eq!(
            report.error.as_deref(),
            Some("is not valid Gherkin: the doc string opened at line 4 is not closed")
        );
    }

    fn parse(src: &str) -> gherkin::Feature {
        gherkin::Feature::parse(src, gherkin::GherkinEnv::default()).expect("valid gherkin")
    }

    #[test]
    fn outlines_expand_per_example_row_with_background_first() {
        let feature = parse(
            r#"Feature: F

  Background:
    Given the process is created from the "s" scenario

  Scenario Outline: <who> acts
    When "<who>" does "go" with:
      | note | <note> |
    Then the process is in "<state>"

    Examples:
      | who | note | state |
      | Bob | hi   | one   |
      | Eve | yo   | two   |
"#,
        );
        let planned = plan(&feature);
        assert_eq!(planned.len(), 2);
        assert_eq!(planned[1].name, "Eve acts");
        assert_eq!(planned[1].line, 14);
        let texts: Vec<&str> = planned[1].steps.iter().map(|s| s.text.as_str()).collect();
        assert_eq!(
            texts,
            [
                r#"the process is created from the "s" scenario"#,
                r#""Eve" does "go" with:"#,
                r#"the process is in "two""#
            ]
        );
        assert_eq!(
            planned[1].steps[1].block,
            Some(Arg::Table(vec![vec!["note".into(), "yo".into()]]))
        );
        assert_eq!(planned[0].steps[0].line, 4);
        assert_eq!(planned[0].steps[0].keyword, "Given");
    }

    #[test]
    fn rules_add_their_background() {
        let feature = parse(
            r#"Feature: F
  Background:
    Given the process is created from the "s" scenario

  Rule: R
    Background:
      Given "Bob" is the actor

    Scenario: S
      When "Bob" does "go"
"#,
        );
        let planned = plan(&feature);
        assert_eq!(planned.len(), 1);
        assert_eq!(planned[0].steps.len(), 3);
    }

    #[test]
    fn doc_strings_keep_their_content_type() {
        let feature = parse(
            "Feature: F\n  Scenario: S\n    Then the result is:\n      \"\"\"yaml\n        - a\n      \"\"\"\n",
        );
        let planned = plan(&feature);
        assert_eq!(
            planned[0].steps[0].block,
            Some(Arg::DocString(DocString {
                content_type: "yaml".into(),
                text: "- a".into()
            }))
        );
    }

    #[test]
    fn missing_paths_and_empty_folders_are_errors() {
        assert!(matches!(
            feature_files(&[PathBuf::from("/no/such/dir")]),
            Err(Error::NotFound(_))
        ));
    }
}
