//! Processes: instantiate, step, timeout, predict, replay and notify (SPEC 2).
//!
//! This layer is pure and deterministic: it never reads the clock or a random source. Time
//! comes in with every call, the process id is given at instantiate, and `uuid()` without a
//! name is seeded from the event being applied, so that replaying the same events on any
//! node gives the same process. A rejected step is not an `Err`: it is recorded as a skipped
//! event with its errors, exactly as the reference engine does.

mod compiled;
mod event;
mod notify;
mod path;
mod predict;
mod replay;
mod state;
mod step;
#[cfg(test)]
mod tests;
mod validate;

pub use compiled::Scenario;
pub use event::{
    hash_value, ActionEvent, Event, InstantiateEvent, TimeoutEvent, Timestamp, EVENT_VERSION,
    HASH_CONTEXT,
};
pub use notify::NotifyMessage;
pub use replay::{migrate, replay, Recorded};
pub use validate::NODE_PROPERTY;

use crate::expr::datafn::FnError;
use serde_json::{Map, Value};
use std::sync::Arc;

/// What can go wrong when calling the engine (a rejected step is not one of these).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The scenario cannot run, e.g. it has no `initial` state.
    #[error("invalid scenario: {0}")]
    InvalidScenario(String),
    /// A state named by a transition does not exist.
    #[error("State '{0}' not found in scenario")]
    UnknownState(String),
    /// A transition of a state names an action the scenario does not define.
    #[error("Action '{action}' is used in state '{state}', but not defined in the scenario")]
    UnknownAction {
        /// The action key.
        action: String,
        /// The state key.
        state: String,
    },
    /// An actor given at instantiate that the scenario does not define.
    #[error("Actor '{0}' not found in scenario")]
    UnknownActor(String),
    /// A data function of the scenario failed.
    #[error(transparent)]
    Fn(#[from] FnError),
    /// An update instruction with a path that may not be written.
    #[error("Not allowed to set '{0}' through update instructions")]
    UpdatePath(String),
    /// Replay found an event chain that is broken or does not match the scenario.
    #[error("{0}")]
    Replay(String),
    /// A notify entry without a trigger action received a response.
    #[error("service '{0}' has no trigger action in state '{1}'")]
    NoTrigger(String, String),
    /// Prediction did not reach an end or a repeated state within the step limit.
    #[error("Max iterations reached")]
    MaxIterations,
}

/// The actor performing a step: `{key, id?, roles?, …}` as the caller identifies it. `id`
/// and `roles` take part in the checks of SPEC 2.5; `roles` is not recorded in the event.
#[derive(Debug, Clone, PartialEq)]
pub struct StepActor(Map<String, Value>);

impl StepActor {
    /// An actor known only by its key.
    pub fn key(key: &str) -> Self {
        let mut map = Map::new();
        map.insert("key".into(), Value::String(key.to_string()));
        StepActor(map)
    }

    /// An actor from a JSON object that has at least `key`.
    pub fn from_json(value: Map<String, Value>) -> Option<Self> {
        value.get("key").and_then(Value::as_str)?;
        Some(StepActor(value))
    }

    /// Adds a property (`id`, `roles`, …).
    pub fn with(mut self, name: &str, value: Value) -> Self {
        self.0.insert(name.to_string(), value);
        self
    }

    /// The actor key.
    pub fn actor_key(&self) -> &str {
        self.0
            .get("key")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }

    pub(crate) fn get(&self, name: &str) -> Option<&Value> {
        self.0.get(name).filter(|v| !v.is_null())
    }

    /// The actor as recorded in the event: without `roles` and without null values.
    pub(crate) fn for_event(&self) -> Map<String, Value> {
        self.0
            .iter()
            .filter(|(k, v)| k.as_str() != "roles" && !v.is_null())
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
}

impl From<&str> for StepActor {
    fn from(key: &str) -> Self {
        StepActor::key(key)
    }
}

/// The outcome of a step: whether it was rejected, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepOutcome {
    /// True when the step was rejected and recorded as a skipped event.
    pub skipped: bool,
    /// The errors, in the order of SPEC 2.5.
    pub errors: Vec<String>,
}

/// A running (or ended) process: its JSON document and its event chain.
#[derive(Debug, Clone)]
pub struct Process {
    scenario: Arc<Scenario>,
    /// `{id, title, isRunning, tags, scenario, actors, vars, result, current, previous}`:
    /// what data functions see and what the API shows (plus `events`).
    doc: Value,
    events: Vec<Event>,
    /// Prediction mode: response and process schema checks are off, stubs are used.
    predicting: bool,
}

impl Process {
    /// The scenario the process runs.
    pub fn scenario(&self) -> &Arc<Scenario> {
        &self.scenario
    }

    /// The process id.
    pub fn id(&self) -> &str {
        self.field("id").as_str().unwrap_or_default()
    }

    /// The title.
    pub fn title(&self) -> &Value {
        self.field("title")
    }

    /// False once an end state is reached.
    pub fn is_running(&self) -> bool {
        self.field("isRunning").as_bool().unwrap_or(false)
    }

    /// Tags: the scenario's, plus those of the end state reached.
    pub fn tags(&self) -> &Value {
        self.field("tags")
    }

    /// The process actors by key.
    pub fn actors(&self) -> &Value {
        self.field("actors")
    }

    /// The process variables.
    pub fn vars(&self) -> &Value {
        self.field("vars")
    }

    /// The result.
    pub fn result(&self) -> &Value {
        self.field("result")
    }

    /// The current state (`key`, `title`, `actions`, `instructions`, `notify`, …).
    pub fn current(&self) -> &Value {
        self.field("current")
    }

    /// The key of the current state.
    pub fn current_key(&self) -> &str {
        self.current()
            .get("key")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }

    /// When the current state was entered.
    pub fn current_timestamp(&self) -> Timestamp {
        self.current()
            .get("timestamp")
            .and_then(Value::as_str)
            .and_then(Timestamp::parse)
            .unwrap_or_else(|| self.last_event().timestamp())
    }

    /// The previous log.
    pub fn previous(&self) -> &Value {
        self.field("previous")
    }

    /// The event chain.
    pub fn events(&self) -> &[Event] {
        &self.events
    }

    /// The last event.
    pub fn last_event(&self) -> &Event {
        // A process always has its instantiate event.
        &self.events[self.events.len() - 1]
    }

    /// The data data functions are evaluated against: the process document (with the
    /// scenario only when a data function of the scenario mentions it; see
    /// `docs/decisions.md`).
    pub fn data(&self) -> &Value {
        &self.doc
    }

    /// The whole process as JSON: the document, its `scenario` and its `events`.
    pub fn to_json(&self) -> Value {
        let mut out = Map::new();
        if let Value::Object(map) = &self.doc {
            for (key, value) in map {
                out.insert(key.clone(), value.clone());
                if key == "tags" && !map.contains_key("scenario") {
                    out.insert("scenario".into(), self.scenario.json_with_id().clone());
                }
            }
        }
        let events = self.events.iter().map(Event::to_json).collect();
        out.insert("events".into(), Value::Array(events));
        Value::Object(out)
    }

    fn field(&self, name: &str) -> &Value {
        static NULL: Value = Value::Null;
        self.doc.get(name).unwrap_or(&NULL)
    }

    fn field_mut(&mut self, name: &str) -> &mut Value {
        if !self.doc.is_object() {
            self.doc = Value::Object(Map::new());
        }
        // Indexing an object by a missing key inserts `null`.
        &mut self.doc[name]
    }

    fn set_field(&mut self, name: &str, value: Value) {
        *self.field_mut(name) = value;
    }
}
