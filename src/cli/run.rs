//! `letsflow run FILE --ops OPS.json`: instantiate a process, apply operations and print a
//! snapshot after each, in the format of the reference implementation's golden traces.

use super::scenario::{locations, pretty, problem_lines};
use super::{bad_input, SchemaArgs};
use letsflow::process::{Event, Process, Scenario, StepActor, Timestamp};
use letsflow::scenario::normalize;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Debug, clap::Args)]
pub(crate) struct RunArgs {
    /// Scenario file (.yaml, .yml or .json).
    file: PathBuf,
    /// JSON file with a list of operations: `{"op": "step", "action", "actor": {"key"},
    /// "response"?}` or `{"op": "timeout", "seconds"}`.
    #[arg(long, value_name = "OPS.json")]
    ops: PathBuf,
    /// Process id (default: a fixed, all-zero v4-style id).
    #[arg(
        long,
        value_name = "UUID",
        default_value = "00000000-0000-4000-8000-000000000000"
    )]
    id: String,
    /// Time of instantiation (ISO-8601); every op happens at that time unless a timeout
    /// moves the clock.
    #[arg(long, value_name = "TIME", default_value = "2025-01-01T00:00:00Z")]
    time: String,
    #[command(flatten)]
    schemas: SchemaArgs,
}

/// One operation of an ops file.
#[derive(Debug, Deserialize)]
#[serde(tag = "op", rename_all = "lowercase")]
pub(crate) enum Op {
    /// An actor performs an action; no `response` key means no response given.
    Step {
        action: String,
        actor: Map<String, Value>,
        #[serde(default, deserialize_with = "present")]
        response: Option<Value>,
    },
    /// Time passes: `seconds` since the current state was entered.
    Timeout { seconds: f64 },
}

/// Keeps an explicit `null` response as `Some(Null)`; only a missing key is `None`.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

/// Why `run` stopped.
enum Failure {
    /// Input that could not be read or parsed (exit 2).
    BadInput(String),
    /// A scenario that `scenario validate` rejects: its error lines (exit 1).
    Invalid(Vec<String>),
}

impl From<String> for Failure {
    fn from(message: String) -> Self {
        Failure::BadInput(message)
    }
}

impl RunArgs {
    pub(crate) fn run(self) -> ExitCode {
        match self.execute() {
            Ok(snapshots) => {
                println!("{}", pretty(&Value::Array(snapshots)));
                ExitCode::SUCCESS
            }
            Err(Failure::BadInput(e)) => bad_input(e),
            Err(Failure::Invalid(lines)) => {
                for line in lines {
                    eprintln!("{line}");
                }
                ExitCode::from(1)
            }
        }
    }

    fn execute(&self) -> Result<Vec<Value>, Failure> {
        let registry = self.schemas.registry()?;
        // The same scenarios run as `scenario validate` and the server accept.
        let raw = letsflow::scenario::load_file(&self.file).map_err(|e| e.to_string())?;
        if let Err(errors) = letsflow::scenario::validate::validate(&raw, &registry) {
            let locations = locations(&self.file);
            return Err(Failure::Invalid(
                problem_lines(&self.file, &locations, "error", &errors).collect(),
            ));
        }
        let normalized = normalize(&raw).map_err(|e| format!("{}: {e}", self.file.display()))?;
        let ops = read_ops(&self.ops)?;
        let start = Timestamp::parse(&self.time)
            .ok_or_else(|| format!("--time: invalid timestamp '{}'", self.time))?;
        let scenario = Scenario::new(normalized, &registry)
            .map_err(|e| format!("{}: {e}", self.file.display()))?;
        Ok(run_ops(Arc::new(scenario), &self.id, start, &ops)?)
    }
}

fn read_ops(path: &Path) -> Result<Vec<Op>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Applies `ops` and returns the snapshots: one after instantiate, one after each op.
pub(crate) fn run_ops(
    scenario: Arc<Scenario>,
    id: &str,
    start: Timestamp,
    ops: &[Op],
) -> Result<Vec<Value>, String> {
    let mut process =
        Process::instantiate(scenario, id, Map::new(), start).map_err(|e| e.to_string())?;
    let mut clock = start;
    let mut snapshots = vec![snapshot(&process)];
    for (i, op) in ops.iter().enumerate() {
        let result = match op {
            Op::Step {
                action,
                actor,
                response,
            } => {
                let actor = StepActor::from_json(actor.clone())
                    .ok_or_else(|| format!("op {i}: the actor has no \"key\""))?;
                process
                    .step(action, &actor, response.clone(), clock)
                    .map(|_| ())
            }
            Op::Timeout { seconds } => {
                let at = process.current_timestamp().plus_seconds(*seconds);
                clock = clock.max(at);
                process.timeout(at).map(|_| ())
            }
        };
        result.map_err(|e| format!("op {i}: {e}"))?;
        snapshots.push(snapshot(&process));
    }
    Ok(snapshots)
}

/// The golden snapshot of a process: no timestamps, the number of events, the last event
/// in short, and the keys of the predicted states.
pub(crate) fn snapshot(process: &Process) -> Value {
    let mut current = process.current().clone();
    if let Value::Object(map) = &mut current {
        map.remove("timestamp");
    }
    let previous: Vec<Value> = process
        .previous()
        .as_array()
        .into_iter()
        .flatten()
        .map(|entry| {
            let mut entry = entry.clone();
            if let Value::Object(map) = &mut entry {
                map.remove("timestamp");
            }
            entry
        })
        .collect();
    let last = match process.last_event() {
        Event::Instantiate(_) => json!({"instantiate": true}),
        Event::Timeout(_) => json!({"timeout": true}),
        Event::Action(e) => json!({
            "action": e.action,
            "actor": e.actor,
            "skipped": e.skipped,
            "errors": e.errors,
        }),
    };
    let next = match process.predict() {
        Ok(states) => Value::Array(
            states
                .iter()
                .filter_map(|s| s.get("key").cloned())
                .collect(),
        ),
        Err(e) => Value::String(format!("error: {e}")),
    };
    json!({
        "title": process.title(),
        "isRunning": process.is_running(),
        "tags": process.tags(),
        "actors": process.actors(),
        "vars": process.vars(),
        "result": process.result(),
        "current": current,
        "previous": previous,
        "events": process.events().len(),
        "last": last,
        "next": next,
    })
}
