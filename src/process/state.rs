//! Creating a process and instantiating its states, actions and actors (SPEC 2.3, 2.4, 2.6).

use super::compiled::{wildcard_form, ActorList, CompiledAction, CompiledTransition, Condition};
use super::event::{Event, InstantiateEvent, Timestamp, EVENT_VERSION};
use super::{Error, Process, Scenario};
use crate::expr::datafn::{Evaluator, Prepared};
use crate::expr::jmespath::Entropy;
use crate::json::truthy;
use crate::schema::SchemaRegistry;
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::sync::Arc;

impl Process {
    /// Starts a process of `scenario` with the given id at time `at`: actors from their
    /// schemas (plus `actors` given here, e.g. `{"client": {"id": "u1"}}`), default vars and
    /// result, the instantiate event, and the `initial` state (following automatic
    /// transitions).
    pub fn instantiate(
        scenario: Arc<Scenario>,
        id: &str,
        actors: Map<String, Value>,
        at: Timestamp,
    ) -> Result<Process, Error> {
        let mut event = Event::Instantiate(InstantiateEvent {
            id: id.to_string(),
            timestamp: at,
            scenario: scenario.id().to_string(),
            actors,
            version: EVENT_VERSION,
            signer: None,
            signature: None,
            hash: String::new(),
        });
        let seed = event.rehash_seeded();
        Self::start(scenario, event, seed)
    }

    /// Rebuilds the start of a process from its instantiate event.
    pub(crate) fn from_instantiate_event(
        scenario: Arc<Scenario>,
        event: Event,
    ) -> Result<Process, Error> {
        let seed = event.seed();
        Self::start(scenario, event, seed)
    }

    /// The start of a process from its instantiate event, whose seed is `seed`.
    fn start(scenario: Arc<Scenario>, event: Event, seed: [u8; 32]) -> Result<Process, Error> {
        let Event::Instantiate(start) = &event else {
            return Err(Error::Replay(
                "the first event must be an instantiate event".into(),
            ));
        };
        let json = scenario.json();

        let mut actors = Map::new();
        for (key, actor) in scenario.initial_actors() {
            let actor = match start.actors.get(key) {
                Some(values @ Value::Object(given)) if !given.is_empty() => {
                    instantiate_actor(&scenario, key, values)?
                }
                _ => actor.clone(),
            };
            actors.insert(key.clone(), actor);
        }
        for (key, values) in &start.actors {
            if !scenario.section("actors").contains_key(key) {
                actors.insert(key.clone(), instantiate_actor(&scenario, key, values)?);
            }
        }

        let vars = scenario.initial_vars().clone();
        let result = scenario.initial_result().clone();

        let mut doc = Map::new();
        let title = match json.get("title") {
            Some(Value::String(t)) => Value::String(t.clone()),
            _ => Value::String(format!("Process {}", start.id)),
        };
        doc.insert("id".into(), Value::String(start.id.clone()));
        doc.insert("title".into(), title);
        doc.insert("isRunning".into(), Value::Bool(true));
        doc.insert(
            "tags".into(),
            json.get("tags").cloned().unwrap_or(Value::Array(vec![])),
        );
        if scenario.fns().mentions_scenario() {
            doc.insert("scenario".into(), scenario.json_with_id().clone());
        }
        doc.insert("actors".into(), Value::Object(actors));
        doc.insert("vars".into(), Value::Object(vars));
        doc.insert("result".into(), result);
        doc.insert("current".into(), Value::Null);
        doc.insert("previous".into(), Value::Array(vec![]));

        let at = start.timestamp;
        let entropy = Entropy::new(seed);
        let mut process = Process {
            scenario,
            doc: Value::Object(doc),
            events: vec![event],
            predicting: false,
        };
        process.enter_state("initial", at, &entropy)?;
        Ok(process)
    }

    /// An evaluator for this process's scenario.
    pub(crate) fn evaluator<'a>(&'a self, entropy: &'a Entropy) -> Evaluator<'a> {
        Evaluator::new()
            .with_cache(self.scenario.fns())
            .with_entropy(entropy)
    }

    /// Moves to state `key`, entered at `at`: instantiates it, then follows automatic
    /// transitions (`on: null`) while their condition holds, and marks an end state.
    /// On an error the current state is left as it was.
    pub(crate) fn enter_state(
        &mut self,
        key: &str,
        at: Timestamp,
        entropy: &Entropy,
    ) -> Result<(), Error> {
        // The new state is evaluated while the old one (with the step's actor and
        // response) is still `current`.
        let state = self.instantiate_state(key, at, entropy)?;
        let old = std::mem::replace(self.field_mut("current"), state);
        match self.follow_automatic(key, at, entropy) {
            Ok(()) => Ok(()),
            Err(err) => {
                self.set_field("current", old);
                Err(err)
            }
        }
    }

    fn follow_automatic(
        &mut self,
        key: &str,
        at: Timestamp,
        entropy: &Entropy,
    ) -> Result<(), Error> {
        let scenario = self.scenario.clone();
        let mut key = key.to_string();
        let mut seen = vec![key.clone()];
        while let Some(next) = self.automatic_transition(&scenario, &key, entropy)? {
            self.log_transition(next, entropy)?;
            match &next.goto {
                Some(goto) if !seen.iter().any(|s| s == goto) => {
                    seen.push(goto.to_string());
                    key = goto.to_string();
                    let state = self.instantiate_state(&key, at, entropy)?;
                    self.set_field("current", state);
                }
                _ => break,
            }
        }
        if scenario.is_end_state(&key) {
            self.set_field("isRunning", Value::Bool(false));
            let tag = self.current().get("tag").cloned();
            if let (Some(Value::Array(tags)), Value::Array(list)) = (tag, self.field_mut("tags")) {
                list.extend(tags);
            }
        }
        Ok(())
    }

    /// The first automatic transition (`on: null`) of the state whose `if` holds.
    fn automatic_transition<'s>(
        &self,
        scenario: &'s Scenario,
        state: &str,
        entropy: &Entropy,
    ) -> Result<Option<&'s CompiledTransition>, Error> {
        let Some(compiled) = scenario.compiled_state(state) else {
            return Ok(None);
        };
        for tr in &compiled.transitions {
            if tr.automatic && self.condition(&tr.cond, entropy)? {
                return Ok(Some(tr));
            }
        }
        Ok(None)
    }

    /// Evaluates a condition (`if`): absent is true; otherwise JavaScript truthiness.
    pub(crate) fn condition(&self, cond: &Condition, entropy: &Entropy) -> Result<bool, Error> {
        Ok(match cond {
            Condition::Const(b) => *b,
            Condition::Computed(c) => truthy(&self.evaluator(entropy).evaluate(c, &self.doc)?),
        })
    }

    /// A list of actor keys (`by`), evaluated.
    pub(crate) fn actor_list<'l>(
        &self,
        list: &'l ActorList,
        entropy: &Entropy,
    ) -> Result<Cow<'l, [String]>, Error> {
        Ok(match list {
            ActorList::Const(list) => Cow::Borrowed(list),
            ActorList::Computed(list) => Cow::Owned(string_list(
                &self.evaluator(entropy).evaluate(list, &self.doc)?,
            )),
        })
    }

    /// Appends the transition's log entry to `previous` when its `if` holds (SPEC 2.7).
    pub(crate) fn log_transition(
        &mut self,
        transition: &CompiledTransition,
        entropy: &Entropy,
    ) -> Result<(), Error> {
        let Some(log) = &transition.log else {
            return Ok(());
        };
        let Value::Object(mut log) = self.evaluator(entropy).evaluate(log, &self.doc)? else {
            return Ok(());
        };
        let should_log = log.remove("if").map(|v| truthy(&v)).unwrap_or(true);
        if !should_log {
            return Ok(());
        }
        let event = self.last_event();
        log.insert(
            "timestamp".into(),
            Value::String(event.timestamp().to_iso()),
        );
        if let Event::Action(e) = event {
            log.insert("actor".into(), Value::Object(e.actor.clone()));
        }
        if let Value::Array(previous) = self.field_mut("previous") {
            previous.push(Value::Object(log));
        }
        Ok(())
    }

    /// The current-state object for state `key` (SPEC 2.4).
    pub(crate) fn instantiate_state(
        &self,
        key: &str,
        at: Timestamp,
        entropy: &Entropy,
    ) -> Result<Value, Error> {
        let compiled = self
            .scenario
            .compiled_state(key)
            .ok_or_else(|| Error::UnknownState(key.to_string()))?;
        let eval = self.evaluator(entropy);

        let mut state = eval.evaluate_object(&compiled.fields, &self.doc)?;

        // Actions: transitions with an action whose `if` holds, grouped by action.
        let mut grouped: Vec<(&str, Cow<'_, [String]>)> = Vec::new();
        for tr in &compiled.transitions {
            let Some(on) = &tr.on else {
                continue;
            };
            if !self.condition(&tr.cond, entropy)? {
                continue;
            }
            let by = self.actor_list(&tr.by, entropy)?;
            match grouped.iter_mut().find(|(a, _)| a == on) {
                Some((_, list)) => list.to_mut().extend(by.iter().cloned()),
                None => grouped.push((on, by)),
            }
        }
        let mut actions = Vec::with_capacity(grouped.len());
        for (on, by) in grouped {
            let (_, action) =
                self.scenario
                    .action(key, on)
                    .ok_or_else(|| Error::UnknownAction {
                        action: on.to_string(),
                        state: key.to_string(),
                    })?;
            let mut action = self.instantiate_action(on, action, Some(&by), entropy)?;
            if action.remove("if").is_some_and(|v| truthy(&v)) {
                actions.push(Value::Object(action));
            }
        }

        let mut notify = Vec::new();
        if let Some(entries) = &compiled.notify {
            if let Value::Array(entries) = eval.evaluate(entries, &self.doc)? {
                for entry in entries {
                    let Value::Object(mut entry) = entry else {
                        continue;
                    };
                    if !entry.remove("if").is_none_or(|v| truthy(&v)) {
                        continue;
                    }
                    entry.remove("trigger");
                    notify.push(Value::Object(entry));
                }
            }
        }

        state.insert("notify".into(), Value::Array(notify));
        state.insert("key".into(), Value::String(key.to_string()));
        state.insert("timestamp".into(), Value::String(at.to_iso()));
        state.insert("actions".into(), Value::Array(actions));
        Ok(Value::Object(state))
    }

    /// An action as the process shows it: evaluated, `update` left out, `key` added, its
    /// `actor` list expanded to process actors and narrowed to the transitions' `by`, and
    /// `if` false when no actor is left (SPEC 2.4).
    pub(crate) fn instantiate_action(
        &self,
        key: &str,
        action: &CompiledAction,
        by: Option<&[String]>,
        entropy: &Entropy,
    ) -> Result<Map<String, Value>, Error> {
        self.evaluate_action(key, &action.shown, by, entropy)
    }

    /// Like [`Self::instantiate_action`], evaluating the prepared action `fields`.
    pub(crate) fn evaluate_action(
        &self,
        key: &str,
        fields: &Prepared,
        by: Option<&[String]>,
        entropy: &Entropy,
    ) -> Result<Map<String, Value>, Error> {
        let eval = self.evaluator(entropy);
        let mut out = eval.evaluate_object(fields, &self.doc)?;
        out.insert("key".into(), Value::String(key.to_string()));

        let by = by.filter(|b| !b.iter().any(|s| s == "*"));
        let declared = string_list(out.get("actor").unwrap_or(&Value::Null));
        let process_actors: Vec<&String> = match self.actors() {
            Value::Object(map) => map.keys().collect(),
            _ => vec![],
        };
        let mut actors: Vec<String> = Vec::new();
        for name in &declared {
            if name == "*" {
                actors.extend(process_actors.iter().map(|k| k.to_string()));
                if let Some(by) = by {
                    actors.extend(by.iter().filter(|b| b.starts_with("service:")).cloned());
                }
            } else if name.ends_with('*') {
                actors.extend(
                    process_actors
                        .iter()
                        .filter(|k| wildcard_form(k) == *name)
                        .map(|k| k.to_string()),
                );
            } else if name.starts_with("service:") || process_actors.contains(&name) {
                actors.push(name.clone());
            }
        }
        if let Some(by) = by {
            actors.retain(|a| by.contains(a) || by.contains(&wildcard_form(a)));
        }
        let cond = out.get("if").map(truthy).unwrap_or(true) && !actors.is_empty();
        out.insert(
            "actor".into(),
            Value::Array(actors.into_iter().map(Value::String).collect()),
        );
        out.insert("if".into(), Value::Bool(cond));
        Ok(out)
    }
}

/// A process actor for `key` from its (wildcard) schema: `{title, …defaults, …values, role}`.
pub(crate) fn instantiate_actor(
    scenario: &Scenario,
    key: &str,
    values: &Value,
) -> Result<Value, Error> {
    let schema_key = scenario
        .schema_key("actors", key)
        .ok_or_else(|| Error::UnknownActor(key.to_string()))?;
    let schema = scenario
        .section("actors")
        .get(&schema_key)
        .unwrap_or(&Value::Null);

    let title = match schema.get("title").and_then(Value::as_str) {
        Some(t) if !t.is_empty() => {
            if schema_key.ends_with('*') {
                format!("{t} {}", &key[schema_key.len() - 1..])
            } else {
                t.to_string()
            }
        }
        _ => key.replacen('_', " ", 1).trim().to_string(),
    };

    let mut actor = Map::new();
    actor.insert("title".into(), Value::String(title));
    if let Some(Value::Object(defaults)) = default_value(schema, scenario.registry()) {
        actor.extend(defaults);
    }
    if let Value::Object(values) = values {
        actor.extend(values.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    if let Some(role) = schema.get("role").filter(|r| truthy(r)) {
        actor.insert("role".into(), role.clone());
    }
    Ok(Value::Object(actor))
}

/// The default value a schema describes: `default`, else `const`, else for an object with
/// `properties` the defaults of its properties (none when there are none); `$ref`s to known
/// schemas are followed.
pub(crate) fn default_value(schema: &Value, registry: &SchemaRegistry) -> Option<Value> {
    default_value_in(schema, registry, schema, 0)
}

fn default_value_in(
    schema: &Value,
    registry: &SchemaRegistry,
    base: &Value,
    depth: usize,
) -> Option<Value> {
    if depth > 32 {
        return None;
    }
    let Value::Object(s) = schema else {
        return None;
    };
    if let Some(Value::String(uri)) = s.get("$ref") {
        let (doc, pointer) = uri.split_once('#').unwrap_or((uri, ""));
        let target = if doc.is_empty() {
            base
        } else {
            registry.get(doc)?
        };
        let resolved = pointer
            .split('/')
            .filter(|p| !p.is_empty())
            .try_fold(target, |node, part| node.get(part))?;
        return default_value_in(resolved, registry, target, depth + 1);
    }
    if let Some(v) = s.get("default") {
        return Some(v.clone());
    }
    if let Some(v) = s.get("const") {
        return Some(v.clone());
    }
    let is_object = s.get("type").is_none_or(|t| t == "object");
    if let (true, Some(Value::Object(props))) = (is_object, s.get("properties")) {
        let defaults: Map<String, Value> = props
            .iter()
            .filter_map(|(k, p)| Some((k.clone(), default_value_in(p, registry, base, depth + 1)?)))
            .collect();
        return (!defaults.is_empty()).then_some(Value::Object(defaults));
    }
    None
}

/// The transitions of a scenario state.
pub(crate) fn transitions(state: &Map<String, Value>) -> impl Iterator<Item = &Map<String, Value>> {
    state
        .get("transitions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
}

/// A string or a list of strings as a list; anything else is empty.
pub(crate) fn string_list(value: &Value) -> Vec<String> {
    match value {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        _ => vec![],
    }
}
