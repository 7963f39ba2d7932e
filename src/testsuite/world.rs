//! The world of one Gherkin scenario: its named processes, the actors that perform in them,
//! and the clock. Every Gherkin scenario starts with a fresh world.
//!
//! A process is created by a `Given` step but only instantiated when a later step first
//! needs it, so that the actors can be given in between. Every process starts at the same
//! fixed time; actions happen at the world's clock, which only moves when time passes.

use super::diff::diff;
use super::steps::{Arg, DocString, ParseError, Step, MAIN_PROCESS};
use super::Scenarios;
use crate::expr::datafn::{has_fn, Evaluator};
use crate::json::loose_eq;
use crate::process::{Event, Process, Scenario, StepActor, Timestamp};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

/// Why a step failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StepError {
    /// The step text is not a known step, or its doc string or table does not fit it.
    #[error(transparent)]
    Parse(#[from] ParseError),
    /// The scenario of a `Given` step cannot be used.
    #[error(transparent)]
    Scenario(#[from] super::ScenarioError),
    /// The step cannot be carried out: an unknown process or actor, a doc string that is
    /// not valid YAML, …
    #[error("{0}")]
    Setup(String),
    /// The process is not as the step expects.
    #[error("{0}")]
    Assertion(Assertion),
    /// The engine failed (an `Err` of the process layer, not a skipped step).
    #[error("The engine failed: {0}")]
    Engine(String),
}

/// A failed expectation: what was expected, what was found, and, when the last event of
/// the process was skipped, why.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Assertion {
    /// One line saying what is wrong.
    pub message: String,
    /// Expected and actual values, or the differing JSON paths.
    pub details: Vec<String>,
    /// The last event when it was a skipped action: `(action, actor key, errors)`.
    pub skipped: Option<(String, String, Vec<String>)>,
}

impl Assertion {
    fn new(message: impl Into<String>) -> Self {
        Assertion {
            message: message.into(),
            ..Default::default()
        }
    }

    fn detail(mut self, line: impl Into<String>) -> Self {
        self.details.push(line.into());
        self
    }

    /// `expected:` / `actual:` lines for scalars, the differing paths for structures.
    fn values(mut self, expected: &Value, actual: &Value) -> Self {
        let structured = |v: &Value| v.is_array() || v.is_object();
        if structured(expected) && structured(actual) {
            self.details.extend(diff(expected, actual));
        } else {
            self.details.push(format!("expected: {}", show(expected)));
            self.details.push(format!("actual:   {}", show(actual)));
        }
        self
    }
}

impl fmt::Display for Assertion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.message)?;
        for line in &self.details {
            write!(f, "\n  {line}")?;
        }
        if let Some((action, actor, errors)) = &self.skipped {
            write!(
                f,
                "\nThe last event, action '{action}' by actor '{actor}', was skipped:"
            )?;
            for error in errors {
                write!(f, "\n  - {error}")?;
            }
        }
        Ok(())
    }
}

/// A value in a failure message: compact JSON.
fn show(value: &Value) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

type StepResult = Result<(), StepError>;

/// One named process: its scenario, its actors, and the process once it has started.
struct Slot {
    scenario_name: String,
    scenario: Arc<Scenario>,
    actors: BTreeMap<String, StepActor>,
    process: Option<Process>,
}

/// The processes, actors and clock of one Gherkin scenario.
pub struct World<'a> {
    scenarios: &'a mut Scenarios,
    slots: BTreeMap<String, Slot>,
    /// Creation order of the processes (time passes for them in this order).
    order: Vec<String>,
    clock: Timestamp,
}

impl<'a> World<'a> {
    /// A world without processes whose clock starts at `start`.
    pub fn new(scenarios: &'a mut Scenarios, start: Timestamp) -> Self {
        World {
            scenarios,
            slots: BTreeMap::new(),
            order: Vec::new(),
            clock: start,
        }
    }

    /// Parses and performs one step.
    pub fn run(&mut self, text: &str, block: Option<Arg>) -> StepResult {
        let step = Step::parse(text, block)?;
        self.perform(&step)
    }

    /// Performs one step. A failed expectation tells why the last event was skipped, if it
    /// was.
    pub fn perform(&mut self, step: &Step) -> StepResult {
        let result = self.dispatch(step);
        let about_skipping = matches!(
            step,
            Step::LastSkipped { .. } | Step::LastNotSkipped { .. } | Step::NothingSkipped { .. }
        );
        match result {
            Err(StepError::Assertion(mut a)) if !about_skipping => {
                if let Some(p) = step.process().and_then(|p| self.started(p)) {
                    a.skipped = skipped_event(p);
                }
                Err(StepError::Assertion(a))
            }
            other => other,
        }
    }

    fn dispatch(&mut self, step: &Step) -> StepResult {
        match step {
            Step::CreateProcess { process, scenario } => self.create(process, scenario),
            Step::Actor {
                process,
                name,
                key,
                properties,
            } => self.add_actor(process, name, key, properties.as_ref()),
            Step::Does {
                process,
                actor,
                action,
                response,
            } => {
                let actor = self.actor(process, actor)?;
                self.step(process, action, &actor, response.as_ref())
            }
            Step::ServiceDoes {
                process,
                service,
                action,
                response,
            } => {
                let actor = StepActor::key(&format!("service:{service}"));
                self.step(process, action, &actor, response.as_ref())
            }
            Step::TimePasses { process, seconds } => self.time_passes(process.as_deref(), *seconds),
            Step::IsIn { process, state } => {
                let p = self.process(process)?;
                if p.current_key() == state {
                    return Ok(());
                }
                fail(
                    Assertion::new("The process is not in the expected state")
                        .values(&json!(state), &json!(p.current_key())),
                )
            }
            Step::Ended {
                process,
                state,
                result,
            } => self.ended(process, state.as_deref(), result.as_ref()),
            Step::NotEnded { process, state } => {
                let p = self.process(process)?;
                match state {
                    None if p.is_running() => Ok(()),
                    None => fail(Assertion::new(format!(
                        "The process has ended in state \"{}\"",
                        p.current_key()
                    ))),
                    Some(s) if !is_state(p.current_key(), s) => Ok(()),
                    Some(s) => fail(Assertion::new(format!("The process has ended in \"{s}\""))),
                }
            }
            Step::StateProperty {
                process,
                property,
                expected,
            } => self.state_property(process, property, expected),
            Step::Instructions {
                process,
                actor,
                expected,
            } => self.instructions(process, actor, expected),
            Step::HasActor { process, actor } => {
                let p = self.process(process)?;
                if p.actors().get(actor).is_some() {
                    return Ok(());
                }
                fail(
                    Assertion::new(format!("Actor '{actor}' is not defined in the process"))
                        .detail(format!("actors: {}", keys(p.actors()))),
                )
            }
            Step::ActorProperty {
                process,
                actor,
                property,
                expected,
            } => {
                let p = self.process(process)?;
                let Some(a) = p.actors().get(actor) else {
                    return fail(
                        Assertion::new(format!("Actor '{actor}' is not defined in the process"))
                            .detail(format!("actors: {}", keys(p.actors()))),
                    );
                };
                let actual = lookup(a, property);
                let expected = value(expected, Some(p.data()))?;
                expect_eq(
                    &expected,
                    &actual,
                    format!("Actor '{actor}' does not have the expected value for '{property}'"),
                )
            }
            Step::Variable {
                process,
                name,
                expected,
            } => {
                let p = self.process(process)?;
                let actual = lookup(p.vars(), name);
                let expected = value(expected, Some(p.data()))?;
                expect_eq(
                    &expected,
                    &actual,
                    format!("The variable '{name}' is not as expected"),
                )
            }
            Step::Result { process, expected } => {
                let p = self.process(process)?;
                let expected = value(expected, Some(p.data()))?;
                expect_eq(
                    &expected,
                    p.result(),
                    "The process result is not as expected",
                )
            }
            Step::Tag {
                process,
                tag,
                present,
            } => {
                let p = self.process(process)?;
                let has = p
                    .tags()
                    .as_array()
                    .is_some_and(|t| t.iter().any(|x| x.as_str() == Some(tag)));
                match (has, present) {
                    (true, true) | (false, false) => Ok(()),
                    (false, true) => fail(
                        Assertion::new(format!("The process does not have the tag \"{tag}\""))
                            .detail(format!("tags: {}", show(p.tags()))),
                    ),
                    (true, false) => {
                        fail(Assertion::new(format!("The process has the tag \"{tag}\"")))
                    }
                }
            }
            Step::Notified {
                process,
                service,
                message,
            } => self.notified(process, service, message.as_ref()),
            Step::NotNotified { process, service } => {
                let p = self.process(process)?;
                let messages = p.notify_messages().map_err(engine)?;
                match messages.iter().find(|m| &m.service == service) {
                    None => Ok(()),
                    Some(m) => fail(
                        Assertion::new(format!("Service '{service}' was notified"))
                            .detail(format!("message: {}", show(&m.message))),
                    ),
                }
            }
            Step::LastSkipped { process, errors } => self.last_skipped(process, errors.as_ref()),
            Step::LastNotSkipped { process } => {
                let p = self.process(process)?;
                match skipped_event(p) {
                    None => Ok(()),
                    Some(skipped) => fail(Assertion {
                        message: "The last event is skipped".into(),
                        details: vec![],
                        skipped: Some(skipped),
                    }),
                }
            }
            Step::NothingSkipped { process } => {
                let p = self.process(process)?;
                let skipped: Vec<String> = p
                    .events()
                    .iter()
                    .filter_map(|e| match e {
                        Event::Action(a) if a.skipped => Some(format!(
                            "action '{}' by actor '{}': {}",
                            a.action,
                            actor_key(&a.actor),
                            a.errors.join("; ")
                        )),
                        _ => None,
                    })
                    .collect();
                if skipped.is_empty() {
                    return Ok(());
                }
                fail(Assertion {
                    message: format!("{} event(s) were skipped", skipped.len()),
                    details: skipped,
                    skipped: None,
                })
            }
            Step::LastTimeout { process } => {
                let p = self.process(process)?;
                if matches!(p.last_event(), Event::Timeout(_)) {
                    return Ok(());
                }
                fail(
                    Assertion::new("The last event is not a timeout")
                        .detail(format!("last event: {}", describe(p.last_event()))),
                )
            }
        }
    }

    fn create(&mut self, name: &str, scenario_name: &str) -> StepResult {
        if self.slots.contains_key(name) {
            return Err(StepError::Setup(format!(
                "The \"{name}\" process is already created"
            )));
        }
        let scenario = self.scenarios.get(scenario_name)?;
        self.slots.insert(
            name.to_string(),
            Slot {
                scenario_name: scenario_name.to_string(),
                scenario,
                actors: BTreeMap::new(),
                process: None,
            },
        );
        self.order.push(name.to_string());
        Ok(())
    }

    fn slot(&mut self, name: &str) -> Result<&mut Slot, StepError> {
        match self.slots.get_mut(name) {
            Some(slot) => Ok(slot),
            None => Err(StepError::Setup(no_process(name, &self.order))),
        }
    }

    fn add_actor(
        &mut self,
        process: &str,
        name: &str,
        key: &str,
        properties: Option<&Arg>,
    ) -> StepResult {
        let slot = self.slot(process)?;
        if slot.process.is_some() {
            return Err(StepError::Setup(format!(
                "The \"{process}\" process has already started: give its actors before the steps that use it"
            )));
        }
        let mut map = match properties.map(|p| value(p, None)).transpose()? {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(map)) => map,
            Some(other) => {
                return Err(StepError::Setup(format!(
                    "The properties of an actor must be a map, not {}",
                    show(&other)
                )))
            }
        };
        map.insert("key".into(), Value::String(key.to_string()));
        let actor = StepActor::from_json(map)
            .ok_or_else(|| StepError::Setup("The actor has no key".into()))?;
        slot.actors.insert(name.to_string(), actor);
        Ok(())
    }

    /// The actor performing as `name` in `process`.
    fn actor(&mut self, process: &str, name: &str) -> Result<StepActor, StepError> {
        let slot = self.slot(process)?;
        if let Some(actor) = slot.actors.get(name) {
            return Ok(actor.clone());
        }
        if name.starts_with("service:") {
            return Ok(StepActor::key(name));
        }
        let known: Vec<String> = slot.actors.keys().map(|k| format!("\"{k}\"")).collect();
        Err(StepError::Setup(format!(
            "\"{name}\" is not an actor in the \"{process}\" process (actors: {}); add a step like '\"{name}\" is the \"KEY\" actor'",
            if known.is_empty() { "none".into() } else { known.join(", ") }
        )))
    }

    /// The process `name`, instantiated now if it has not started yet.
    fn process(&mut self, name: &str) -> Result<&mut Process, StepError> {
        let at = self.clock;
        let id = process_id(name);
        let slot = self.slot(name)?;
        if slot.process.is_none() {
            let p =
                Process::instantiate(slot.scenario.clone(), &id, Map::new(), at).map_err(|e| {
                    StepError::Engine(format!(
                        "the \"{}\" scenario cannot start: {e}",
                        slot.scenario_name
                    ))
                })?;
            slot.process = Some(p);
        }
        slot.process
            .as_mut()
            .ok_or_else(|| StepError::Engine("process not instantiated".into()))
    }

    /// The process `name` if it has started.
    fn started(&self, name: &str) -> Option<&Process> {
        self.slots.get(name).and_then(|s| s.process.as_ref())
    }

    fn step(
        &mut self,
        process: &str,
        action: &str,
        actor: &StepActor,
        response: Option<&Arg>,
    ) -> StepResult {
        let at = self.clock;
        let p = self.process(process)?;
        let response = response.map(|r| value(r, Some(p.data()))).transpose()?;
        p.step(action, actor, response, at).map_err(engine)?;
        Ok(())
    }

    fn time_passes(&mut self, process: Option<&str>, seconds: f64) -> StepResult {
        let names = match process {
            Some(name) => vec![name.to_string()],
            None => self.order.clone(),
        };
        if names.is_empty() {
            return Err(StepError::Setup(no_process(MAIN_PROCESS, &[])));
        }
        for name in names {
            let p = self.process(&name)?;
            let at = p.current_timestamp().plus_seconds(seconds);
            p.timeout(at).map_err(engine)?;
            self.clock = self.clock.max(at);
        }
        Ok(())
    }

    fn ended(&mut self, process: &str, state: Option<&str>, result: Option<&Arg>) -> StepResult {
        let p = self.process(process)?;
        if p.is_running() {
            return fail(Assertion::new(format!(
                "The process has not ended; it is in state \"{}\"",
                p.current_key()
            )));
        }
        if let Some(state) = state {
            if !is_state(p.current_key(), state) {
                return fail(
                    Assertion::new("The process is not in the expected end state")
                        .values(&json!(state), &json!(p.current_key())),
                );
            }
        }
        if let Some(result) = result {
            let expected = value(result, Some(p.data()))?;
            return expect_eq(
                &expected,
                p.result(),
                "The process result is not as expected",
            );
        }
        Ok(())
    }

    fn state_property(&mut self, process: &str, property: &str, expected: &Arg) -> StepResult {
        let p = self.process(process)?;
        let data = p.data();
        let actual = lookup(p.current(), property);
        // A string is a Mustache template; a doc string is YAML, and when the property is
        // text, also a template (so plain text with a colon still compares as text).
        let mut candidates = Vec::new();
        match expected {
            Arg::Scalar(Value::String(s)) => candidates.push(template(s, data)?),
            Arg::DocString(doc) => {
                if actual.is_string() {
                    candidates.push(template(&doc.text, data)?);
                }
                if let Ok(v) = value(expected, Some(data)) {
                    candidates.push(v);
                }
            }
            other => candidates.push(value(other, Some(data))?),
        }
        if candidates.iter().any(|c| text_eq(c, &actual)) {
            return Ok(());
        }
        let expected = candidates.first().cloned().unwrap_or(Value::Null);
        fail(
            Assertion::new(format!(
                "The {property} of the current state does not have the expected value"
            ))
            .values(&trimmed(&expected), &trimmed(&actual)),
        )
    }

    fn instructions(&mut self, process: &str, actor: &str, expected: &Arg) -> StepResult {
        let p = self.process(process)?;
        let data = p.data();
        let expected = match expected {
            Arg::Scalar(Value::String(s)) => template(s, data)?,
            Arg::DocString(doc) => template(&doc.text, data)?,
            other => value(other, Some(data))?,
        };
        let Some(actual) = p.current().get("instructions").and_then(|i| i.get(actor)) else {
            let with = p
                .current()
                .get("instructions")
                .map(keys)
                .unwrap_or_default();
            return fail(
                Assertion::new(format!("Actor '{actor}' does not have instructions")).detail(
                    format!(
                        "actors with instructions: {}",
                        if with.is_empty() { "none".into() } else { with }
                    ),
                ),
            );
        };
        if text_eq(&expected, actual) {
            return Ok(());
        }
        fail(
            Assertion::new(format!(
                "Actor '{actor}' does not have the expected instructions"
            ))
            .values(&trimmed(&expected), &trimmed(actual)),
        )
    }

    fn notified(&mut self, process: &str, service: &str, message: Option<&Arg>) -> StepResult {
        let p = self.process(process)?;
        let messages = p.notify_messages().map_err(engine)?;
        let Some(found) = messages.iter().find(|m| m.service == service) else {
            let services: Vec<&str> = messages.iter().map(|m| m.service.as_str()).collect();
            return fail(
                Assertion::new(format!("Service '{service}' was not notified")).detail(format!(
                    "notified: {}",
                    if services.is_empty() {
                        "none".into()
                    } else {
                        services.join(", ")
                    }
                )),
            );
        };
        let Some(message) = message else {
            return Ok(());
        };
        let expected = value(message, Some(p.data()))?;
        expect_eq(
            &expected,
            &found.message,
            format!("Service '{service}' was not notified with the expected message"),
        )
    }

    fn last_skipped(&mut self, process: &str, errors: Option<&Arg>) -> StepResult {
        let p = self.process(process)?;
        let Some((action, actor, actual)) = skipped_event(p) else {
            return fail(
                Assertion::new("The last event is not skipped")
                    .detail(format!("last event: {}", describe(p.last_event()))),
            );
        };
        let Some(errors) = errors else {
            return Ok(());
        };
        let expected = match value(errors, Some(p.data()))? {
            Value::Array(list) => list,
            one => vec![one],
        };
        let missing: Vec<String> = expected
            .iter()
            .filter(|e| !actual.iter().any(|a| e.as_str() == Some(a.as_str())))
            .map(|e| match e {
                Value::String(s) => s.clone(),
                other => show(other),
            })
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        let mut assertion = Assertion::new(format!(
            "The last event, action '{action}' by actor '{actor}', is skipped, but not with the expected error(s)"
        ));
        assertion
            .details
            .extend(missing.iter().map(|m| format!("missing: {m}")));
        assertion
            .details
            .extend(actual.iter().map(|a| format!("actual:  {a}")));
        fail(assertion)
    }
}

fn fail(assertion: Assertion) -> StepResult {
    Err(StepError::Assertion(assertion))
}

fn engine(e: crate::process::Error) -> StepError {
    StepError::Engine(e.to_string())
}

fn expect_eq(expected: &Value, actual: &Value, message: impl Into<String>) -> StepResult {
    if loose_eq(expected, actual) {
        return Ok(());
    }
    fail(Assertion::new(message).values(expected, actual))
}

/// A process id for `name`: the same in every run, so that failures reproduce.
fn process_id(name: &str) -> String {
    uuid::Uuid::new_v5(
        &uuid::Uuid::NAMESPACE_URL,
        format!("urn:letsflow:test:process:{name}").as_bytes(),
    )
    .to_string()
}

fn no_process(name: &str, known: &[String]) -> String {
    if known.is_empty() {
        return "No process is created; start with 'the process is created from the \"SCENARIO\" scenario'".into();
    }
    let known: Vec<String> = known.iter().map(|k| format!("\"{k}\"")).collect();
    format!(
        "There is no process called \"{name}\" (processes: {})",
        known.join(", ")
    )
}

/// `state` or `(state)`: end states are written in parentheses.
fn is_state(key: &str, state: &str) -> bool {
    key == state || key == format!("({state})")
}

/// The last event as `(action, actor key, errors)` when it is a skipped action.
fn skipped_event(p: &Process) -> Option<(String, String, Vec<String>)> {
    match p.last_event() {
        Event::Action(a) if a.skipped => {
            Some((a.action.clone(), actor_key(&a.actor), a.errors.clone()))
        }
        _ => None,
    }
}

fn actor_key(actor: &Map<String, Value>) -> String {
    actor
        .get("key")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// An event in a few words, for failure messages.
fn describe(event: &Event) -> String {
    match event {
        Event::Instantiate(_) => "the process was instantiated".into(),
        Event::Timeout(_) => "a timeout".into(),
        Event::Action(a) => format!(
            "action '{}' by actor '{}'{}",
            a.action,
            actor_key(&a.actor),
            if a.skipped { " (skipped)" } else { "" }
        ),
    }
}

/// The keys of an object, quoted and comma-separated.
fn keys(value: &Value) -> String {
    match value {
        Value::Object(map) if !map.is_empty() => map
            .keys()
            .map(|k| format!("\"{k}\""))
            .collect::<Vec<_>>()
            .join(", "),
        _ => "none".into(),
    }
}

/// The value at a dotted path (`a.b.0`); null when there is none.
fn lookup(root: &Value, path: &str) -> Value {
    let mut at = root;
    for part in path.split('.').filter(|p| !p.is_empty()) {
        let next = match at {
            Value::Object(map) => map.get(part),
            Value::Array(items) => part.parse::<usize>().ok().and_then(|i| items.get(i)),
            _ => None,
        };
        match next {
            Some(v) => at = v,
            None => return Value::Null,
        }
    }
    at.clone()
}

/// Equal as JSON, with strings compared without surrounding whitespace.
fn text_eq(expected: &Value, actual: &Value) -> bool {
    match (expected, actual) {
        (Value::String(e), Value::String(a)) => e.trim() == a.trim(),
        _ => loose_eq(expected, actual),
    }
}

fn trimmed(value: &Value) -> Value {
    match value {
        Value::String(s) => Value::String(s.trim().to_string()),
        other => other.clone(),
    }
}

/// Renders a Mustache template against the process data.
fn template(src: &str, data: &Value) -> Result<Value, StepError> {
    Evaluator::new()
        .apply(&json!({ "<tpl>": src }), data)
        .map_err(|e| StepError::Setup(format!("The expected text is not a valid template: {e}")))
}

/// The value of a step argument. A doc string is YAML (custom tags allowed) or JSON; its
/// data functions are evaluated against `data` (the process), when given. A doc string
/// without a content type that is not valid YAML is a Mustache template. A data table with
/// one column is a list, with two a map.
pub(crate) fn value(arg: &Arg, data: Option<&Value>) -> Result<Value, StepError> {
    match arg {
        Arg::Scalar(v) => Ok(v.clone()),
        Arg::Table(rows) => table(rows),
        Arg::DocString(doc) => doc_value(doc, data),
    }
}

fn doc_value(doc: &DocString, data: Option<&Value>) -> Result<Value, StepError> {
    let structured = matches!(doc.content_type.as_str(), "yaml" | "yml" | "json");
    if !structured && !doc.content_type.is_empty() {
        return match data {
            Some(data) => template(&doc.text, data),
            None => Ok(Value::String(doc.text.clone())),
        };
    }
    match crate::scenario::yaml::from_yaml(&doc.text) {
        Ok(v) => match data {
            Some(data) if has_fn(&v) => Evaluator::new().apply(&v, data).map_err(|e| {
                StepError::Setup(format!("A data function in the doc string failed: {e}"))
            }),
            _ => Ok(v),
        },
        Err(e) if structured => Err(StepError::Setup(format!(
            "The doc string is not valid {}: {e}",
            doc.content_type.to_uppercase()
        ))),
        Err(_) => match data {
            Some(data) => template(&doc.text, data),
            None => Ok(Value::String(doc.text.clone())),
        },
    }
}

fn table(rows: &[Vec<String>]) -> Result<Value, StepError> {
    let width = rows.first().map_or(0, Vec::len);
    match width {
        1 => Ok(Value::Array(
            rows.iter().map(|r| Value::String(cell(r, 0))).collect(),
        )),
        2 => Ok(Value::Object(
            rows.iter()
                .map(|r| (cell(r, 0), Value::String(cell(r, 1))))
                .collect(),
        )),
        n => Err(StepError::Setup(format!(
            "A data table has {n} columns; use one column for a list or two for a map"
        ))),
    }
}

fn cell(row: &[String], i: usize) -> String {
    row.get(i).cloned().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_become_lists_or_maps() {
        let rows = |r: &[&[&str]]| -> Vec<Vec<String>> {
            r.iter()
                .map(|row| row.iter().map(|c| c.to_string()).collect())
                .collect()
        };
        assert_eq!(
            table(&rows(&[&["a"], &["b"]])).ok(),
            Some(json!(["a", "b"]))
        );
        assert_eq!(
            table(&rows(&[&["name", "Bob"], &["age", "42"]])).ok(),
            Some(json!({"name": "Bob", "age": "42"}))
        );
        assert!(table(&rows(&[&["a", "b", "c"]])).is_err());
    }

    #[test]
    fn doc_strings_are_yaml_or_text() {
        let doc = |ct: &str, text: &str| DocString {
            content_type: ct.into(),
            text: text.into(),
        };
        assert_eq!(
            doc_value(&doc("yaml", "- a\n- 2"), None).ok(),
            Some(json!(["a", 2]))
        );
        assert_eq!(
            doc_value(&doc("", "It is cancelled.\nReason: none"), None).ok(),
            Some(json!("It is cancelled.\nReason: none"))
        );
        assert!(doc_value(&doc("yaml", "a: [b"), None).is_err());
        assert_eq!(
            doc_value(&doc("text", "a: 1"), None).ok(),
            Some(json!("a: 1"))
        );
    }

    #[test]
    fn lookup_follows_dotted_paths() {
        let v = json!({"a": {"b": [1, {"c": true}]}});
        assert_eq!(lookup(&v, "a.b.1.c"), json!(true));
        assert_eq!(lookup(&v, "a.x"), Value::Null);
        assert_eq!(lookup(&v, ""), v);
    }

    #[test]
    fn assertions_show_values_and_skipped_errors() {
        let a = Assertion {
            skipped: Some(("talk".into(), "initiator".into(), vec!["Nope".into()])),
            ..Assertion::new("The process is not in the expected state")
                .values(&json!("a"), &json!("b"))
        };
        assert_eq!(
            a.to_string(),
            "The process is not in the expected state\n  expected: \"a\"\n  actual:   \"b\"\n\
             The last event, action 'talk' by actor 'initiator', was skipped:\n  - Nope"
        );
        let a = Assertion::new("x").values(&json!([1, 2]), &json!([1, 3]));
        assert_eq!(a.to_string(), "x\n  $[1]: expected 2, got 3");
    }

    #[test]
    fn end_states_match_with_or_without_parentheses() {
        assert!(is_state("(done)", "done"));
        assert!(is_state("(done)", "(done)"));
        assert!(!is_state("done_soon", "done"));
    }
}
