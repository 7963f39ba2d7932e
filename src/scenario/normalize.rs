//! Scenario normalization (SPEC 1.3): fills in every default so that the rest of the
//! engine, and the scenario id, see one complete form.
//!
//! Key order follows the reference implementation: keys of the input keep their place,
//! defaults are appended in the order the rules list them. Keys whose value would be
//! `undefined` in JavaScript are left out, never written as `null`. Like JavaScript's
//! `??=`, a default also replaces an explicit `null`.
//!
//! Decisions where SPEC 1.3 is silent (the golden outputs do not cover these cases):
//! - The wildcard state's transitions are appended to states with transitions only; an
//!   end state stays an end state (its instructions, notify and other keys are merged).
//! - An explicitly given notify `trigger` is kept, also `null` ("no trigger"); only a
//!   missing one gets the default. The trigger names the transition's `on`.
//! - Update instructions keep exactly `set, value, stub, mode, if`; other keys are
//!   dropped. `value: null` gets the default, as `??` does.
//! - Implicit action actors: in actor-key order, a wildcard actor key (`person_*`) adds
//!   the names of `by` it matches (`person_1`), a wildcard entry in `by` adds the actor
//!   keys it matches; `service:…` entries come last.
//! - Type inference gives `integer` for whole numbers and includes `null` for `const`
//!   and `enum` members; `integer` and `number` together give `number`.
//! - A `null` variable becomes `{title}`; `states` that is not a mapping is left as is.
//! - A `!required` node that YAML shares through an alias is required only where it is
//!   normalized first (see [`super::yaml`]), as in the reference.

use super::id::DEFAULT_SCHEMA;
use super::period::{parse_period, PeriodError};
use super::yaml::{REQUIRED_MARKER, SHARED_REQUIRED_PREFIX};
use crate::json;
use serde_json::{json, Map, Value};
use std::collections::HashSet;

/// Why a scenario cannot be normalized.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum NormalizeError {
    /// The document is not a mapping.
    #[error("a scenario must be a mapping (JSON object) with at least `states`, found {found}")]
    NotAnObject {
        /// The JSON type that was found.
        found: &'static str,
    },
    /// A short-form state with `goto` but neither `on` nor `after`.
    #[error("state '{state}': goto without on or after; add `on: ACTION` or `after: PERIOD`, or use `transitions`")]
    GotoWithoutTrigger {
        /// The state key.
        state: String,
    },
    /// An implicit action would take the key of an action the scenario defines.
    #[error("action '{key}' already exists; it clashes with the implicit action for `on: {action}` in state '{state}' (rename the action or define '{action}' as an action)")]
    ActionExists {
        /// The clashing action key (`STATE.ACTION`).
        key: String,
        /// The state whose transition needs the implicit action.
        state: String,
        /// The transition's `on`.
        action: String,
    },
    /// An `after` (of a transition or a notify entry) that is not a time period.
    #[error("state '{state}': {source}")]
    Period {
        /// The state key.
        state: String,
        /// The period problem.
        #[source]
        source: PeriodError,
    },
}

/// The title a key gets by default: a trailing `*` removed, the first `_` replaced by a
/// space, trimmed. `wait_on_client` → `wait on_client`, `person_*` → `person`.
pub fn key_title(key: &str) -> String {
    let key = key.strip_suffix('*').unwrap_or(key);
    key.replacen('_', " ", 1).trim().to_string()
}

/// Normalizes a scenario (SPEC 1.3). The input is not changed.
pub fn normalize(scenario: &Value) -> Result<Value, NormalizeError> {
    let Value::Object(input) = scenario else {
        return Err(NormalizeError::NotAnObject {
            found: type_name(scenario),
        });
    };
    let mut normalizer = Normalizer::default();
    let mut out = normalizer.scenario(input)?;
    normalizer.settle_markers(&mut out);
    Ok(out)
}

/// Normalizes a JSON schema by the "Schemas" rule of SPEC 1.3: a string becomes
/// `{"type": s}` (or `{"$ref": s}` for a URL or `#…`); `!required` markers become
/// `required`; string sub-schemas expand; a missing `type` is inferred; `type: object`
/// gets `additionalProperties: false` unless set. `$ref` schemas and data functions are
/// left alone.
pub fn normalize_schema(schema: &Value) -> Value {
    let mut normalizer = Normalizer::default();
    let mut out = normalizer.schema(schema);
    normalizer.settle_markers(&mut out);
    out
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "text",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

/// `{"$ref": s}` for `http:`, `https:` and `#` references, else `{"type": s}`.
fn expand_schema(s: &str) -> Map<String, Value> {
    let mut out = Map::new();
    if s.starts_with("http:") || s.starts_with("https:") || s.starts_with('#') {
        out.insert("$ref".into(), Value::String(s.into()));
    } else {
        out.insert("type".into(), Value::String(s.into()));
    }
    out
}

/// A data function: `{"<ref>": …}`, `{"<tpl>": …}` or `{"<select>": …}`.
fn is_data_function(map: &Map<String, Value>) -> bool {
    map.len() == 1
        && ["<ref>", "<tpl>", "<select>"]
            .iter()
            .any(|k| map.contains_key(*k))
}

/// JavaScript truthiness.
fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => {
            let f = json::as_f64(n);
            f != 0.0 && !f.is_nan()
        }
        Value::String(s) => !s.is_empty(),
        Value::Array(_) | Value::Object(_) => true,
    }
}

/// Whether the key is missing or `null` (what `??=` replaces).
fn is_nullish(map: &Map<String, Value>, key: &str) -> bool {
    map.get(key).is_none_or(Value::is_null)
}

/// `map[key] ??= value`: keeps the key's place when it exists (as `null`).
fn set_default(map: &mut Map<String, Value>, key: &str, value: Value) {
    if is_nullish(map, key) {
        map.insert(key.into(), value);
    }
}

/// A value as a list: `null`/missing → the default, a list as is, anything else wrapped.
fn as_list(value: Option<&Value>, default: &str) -> Value {
    match value {
        None | Some(Value::Null) => json!([default]),
        Some(Value::Array(items)) => Value::Array(items.clone()),
        Some(other) => Value::Array(vec![other.clone()]),
    }
}

fn strings(value: Option<&Value>) -> Vec<&str> {
    value
        .and_then(Value::as_array)
        .map(|items| items.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// A state is an end state when it has none of `transitions`, `on`, `after` and `goto`.
fn is_end_state(state: &Map<String, Value>) -> bool {
    !["transitions", "on", "after", "goto"]
        .iter()
        .any(|k| state.contains_key(*k))
}

/// `person_*` matches `person_1`: the part before the `*` is a prefix of the name.
fn wildcard_matches(pattern: &str, name: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => name != pattern && name.len() > prefix.len() && name.starts_with(prefix),
        None => false,
    }
}

#[derive(Default)]
struct Normalizer {
    /// Identities of shared `!required` nodes whose marker has been taken (see `yaml`).
    consumed: HashSet<String>,
}

impl Normalizer {
    fn scenario(&mut self, input: &Map<String, Value>) -> Result<Value, NormalizeError> {
        let mut out = Map::new();
        out.insert("$schema".into(), Value::String(DEFAULT_SCHEMA.into()));
        for (key, value) in input {
            out.insert(key.clone(), value.clone());
        }
        set_default(&mut out, "$schema", Value::String(DEFAULT_SCHEMA.into()));
        set_default(&mut out, "title", json!(""));
        set_default(&mut out, "description", json!(""));
        set_default(&mut out, "tags", json!([]));
        set_default(&mut out, "actors", json!({"actor": {"title": "actor"}}));
        set_default(&mut out, "actions", json!({}));
        set_default(&mut out, "vars", json!({}));

        if let Some(Value::Object(actors)) = out.get_mut("actors") {
            for (key, actor) in actors.iter_mut() {
                *actor = self.actor(key, actor);
            }
        }
        if let Some(Value::Object(actions)) = out.get_mut("actions") {
            for (key, action) in actions.iter_mut() {
                *action = self.action(key, action);
            }
        }
        if let Some(Value::Object(states)) = out.get("states") {
            let states = self.states(states)?;
            out.insert("states".into(), Value::Object(states));
        }
        if let Some(Value::Object(vars)) = out.get_mut("vars") {
            for (key, var) in vars.iter_mut() {
                *var = self.var(key, var);
            }
        }
        let result = match out.get("result") {
            None | Some(Value::Null) => json!({}),
            Some(result) => self.schema(result),
        };
        out.insert("result".into(), result);

        let actor_keys: Vec<String> = match out.get("actors") {
            Some(Value::Object(actors)) => actors.keys().cloned().collect(),
            _ => Vec::new(),
        };
        // Taken out while the states need it; the key keeps its place.
        let mut actions = match out.get_mut("actions") {
            Some(Value::Object(actions)) => Some(std::mem::take(actions)),
            _ => None,
        };
        if let Some(Value::Object(states)) = out.get_mut("states") {
            if let Some(actions) = actions.as_mut() {
                add_implicit_actions(states, actions, &actor_keys)?;
            }
            add_implicit_end_states(states);
            finish_notify(states, actions.as_ref());
        }
        if let Some(actions) = actions {
            out.insert("actions".into(), Value::Object(actions));
        }
        Ok(Value::Object(out))
    }

    /// An actor schema: `null` → `{}`, `title` from the key, and unless it is a `$ref`,
    /// `type: object` and the `id`/`title`/`role` properties, then the schema rules.
    fn actor(&mut self, key: &str, actor: &Value) -> Value {
        let mut map = match actor {
            Value::Null => Map::new(),
            Value::String(s) => expand_schema(s),
            Value::Object(map) => map.clone(),
            other => return other.clone(),
        };
        set_default(&mut map, "title", Value::String(key_title(key)));
        if map.contains_key("$ref") {
            return Value::Object(map);
        }
        set_default(&mut map, "type", json!("object"));
        let mut properties = match map.get("properties") {
            Some(Value::Object(properties)) => properties.clone(),
            None | Some(Value::Null) => Map::new(),
            Some(_) => return self.schema(&Value::Object(map)),
        };
        properties.insert("id".into(), json!({"type": "string"}));
        properties.insert("title".into(), json!({"type": "string"}));
        properties.insert(
            "role".into(),
            json!({"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}),
        );
        map.insert("properties".into(), Value::Object(properties));
        self.schema(&Value::Object(map))
    }

    /// A variable schema: the schema rules, then `title` from the key.
    fn var(&mut self, key: &str, var: &Value) -> Value {
        let mut map = match var {
            Value::Null => Map::new(),
            Value::String(s) => expand_schema(s),
            Value::Object(map) if is_data_function(map) => return var.clone(),
            Value::Object(_) => match self.schema(var) {
                Value::Object(map) => map,
                other => return other,
            },
            other => return other.clone(),
        };
        set_default(&mut map, "title", Value::String(key_title(key)));
        Value::Object(map)
    }

    /// The schema rules of SPEC 1.3.
    fn schema(&mut self, schema: &Value) -> Value {
        match schema {
            Value::String(s) => Value::Object(expand_schema(s)),
            Value::Object(map) if is_data_function(map) => schema.clone(),
            Value::Object(map) => Value::Object(self.schema_map(map)),
            other => other.clone(),
        }
    }

    /// A sub-schema position that may hold a string (expanded) or a schema.
    fn sub_schema(&mut self, value: &Value) -> Value {
        match value {
            Value::String(_) | Value::Object(_) => self.schema(value),
            other => other.clone(),
        }
    }

    /// Takes a node's `!required` marker; tells whether it makes the node required.
    fn take_marker(&mut self, map: &mut Map<String, Value>) -> bool {
        match map.shift_remove(REQUIRED_MARKER) {
            Some(Value::String(id)) if id.starts_with(SHARED_REQUIRED_PREFIX) => {
                self.consumed.insert(id)
            }
            Some(marker) => truthy(&marker),
            None => false,
        }
    }

    fn schema_map(&mut self, input: &Map<String, Value>) -> Map<String, Value> {
        let mut map = input.clone();
        self.take_marker(&mut map);
        if map.contains_key("$ref") {
            return map;
        }

        let mut required = Vec::new();
        if let Some(Value::Object(properties)) = map.get("properties") {
            let mut out = Map::new();
            for (key, property) in properties {
                let property = match property {
                    Value::Object(prop) if prop.contains_key(REQUIRED_MARKER) => {
                        let mut prop = prop.clone();
                        if self.take_marker(&mut prop) {
                            required.push(key.clone());
                        }
                        Value::Object(prop)
                    }
                    other => other.clone(),
                };
                out.insert(key.clone(), self.sub_schema(&property));
            }
            map.insert("properties".into(), Value::Object(out));
        }
        match map.get("items") {
            Some(Value::Array(items)) => {
                let items = items.iter().map(|i| self.sub_schema(i)).collect();
                map.insert("items".into(), Value::Array(items));
            }
            Some(items @ (Value::String(_) | Value::Object(_))) => {
                let items = self.schema(&items.clone());
                map.insert("items".into(), items);
            }
            _ => {}
        }
        if let Some(additional @ (Value::String(_) | Value::Object(_))) =
            map.get("additionalProperties")
        {
            let additional = self.schema(&additional.clone());
            map.insert("additionalProperties".into(), additional);
        }
        for key in ["patternProperties", "definitions", "$defs"] {
            if let Some(Value::Object(schemas)) = map.get(key) {
                let schemas = schemas.clone();
                let out = schemas
                    .iter()
                    .map(|(k, v)| (k.clone(), self.sub_schema(v)))
                    .collect();
                map.insert(key.into(), Value::Object(out));
            }
        }
        for key in ["allOf", "oneOf", "anyOf"] {
            if let Some(Value::Array(members)) = map.get(key) {
                let members = members.clone();
                let out = members.iter().map(|m| self.sub_schema(m)).collect();
                map.insert(key.into(), Value::Array(out));
            }
        }

        if is_nullish(&map, "type") {
            if let Some(inferred) = infer_type(&map) {
                map.insert("type".into(), inferred);
            }
        }
        if !required.is_empty() {
            let mut list = match map.get("required") {
                Some(Value::Array(list)) => list.clone(),
                _ => Vec::new(),
            };
            for key in required {
                if !list.iter().any(|k| k.as_str() == Some(key.as_str())) {
                    list.push(Value::String(key));
                }
            }
            map.insert("required".into(), Value::Array(list));
        }
        if map.get("type").and_then(Value::as_str) == Some("object")
            && !map.contains_key("additionalProperties")
        {
            map.insert("additionalProperties".into(), Value::Bool(false));
        }
        map
    }

    /// An action: `null` → `{}`, then title, description, if, actor, response, update.
    fn action(&mut self, key: &str, action: &Value) -> Value {
        let mut map = match action {
            Value::Null => Map::new(),
            Value::Object(map) => map.clone(),
            other => return other.clone(),
        };
        set_default(&mut map, "title", Value::String(key_title(key)));
        set_default(&mut map, "description", json!(""));
        set_default(&mut map, "if", json!(true));
        let actor = match map.get("actor") {
            Some(Value::Object(f)) if is_data_function(f) => Value::Object(f.clone()),
            other => as_list(other, "*"),
        };
        map.insert("actor".into(), actor);
        let response = match map.get("response") {
            None | Some(Value::Null) => json!({}),
            Some(response) => self.schema(response),
        };
        map.insert("response".into(), response);
        let update = update_instructions(map.get("update"));
        map.insert("update".into(), update);
        Value::Object(map)
    }

    /// All states: each normalized, then the wildcard state `*` merged into the others.
    fn states(&mut self, input: &Map<String, Value>) -> Result<Map<String, Value>, NormalizeError> {
        let mut states = Map::new();
        let mut wildcard = None;
        for (key, state) in input {
            if key == "*" {
                wildcard = Some(state_fields(key, state, true)?);
            } else {
                states.insert(key.clone(), state_fields(key, state, false)?);
            }
        }
        if let Some(Value::Object(wildcard)) = wildcard {
            for state in states.values_mut() {
                if let Value::Object(state) = state {
                    merge_wildcard(state, &wildcard);
                }
            }
        }
        Ok(states)
    }

    /// Replaces the markers of shared `!required` nodes: removed where normalization took
    /// them (as the shared object in JavaScript loses it everywhere), `true` elsewhere.
    fn settle_markers(&self, value: &mut Value) {
        match value {
            Value::Object(map) => {
                if let Some(Value::String(id)) = map.get(REQUIRED_MARKER) {
                    if id.starts_with(SHARED_REQUIRED_PREFIX) {
                        if self.consumed.contains(id) {
                            map.shift_remove(REQUIRED_MARKER);
                        } else {
                            map.insert(REQUIRED_MARKER.into(), Value::Bool(true));
                        }
                    }
                }
                map.values_mut().for_each(|v| self.settle_markers(v));
            }
            Value::Array(items) => items.iter_mut().for_each(|v| self.settle_markers(v)),
            _ => {}
        }
    }
}

/// The type a schema without `type` implies: from `const`, `enum`, `items`, or the
/// object keywords.
fn infer_type(map: &Map<String, Value>) -> Option<Value> {
    if let Some(value) = map.get("const") {
        return Some(Value::String(json_type(value).into()));
    }
    if let Some(Value::Array(members)) = map.get("enum") {
        let mut types: Vec<&str> = Vec::new();
        for member in members {
            let t = json_type(member);
            if !types.contains(&t) {
                types.push(t);
            }
        }
        if types.contains(&"number") {
            types.retain(|t| *t != "integer");
        }
        return match types.as_slice() {
            [] => None,
            [one] => Some(Value::String((*one).into())),
            many => Some(Value::Array(
                many.iter().map(|t| Value::String((*t).into())).collect(),
            )),
        };
    }
    if map.contains_key("items") {
        return Some(json!("array"));
    }
    if ["properties", "patternProperties", "additionalProperties"]
        .iter()
        .any(|k| map.contains_key(*k))
    {
        return Some(json!("object"));
    }
    None
}

/// The JSON Schema type of a value (`integer` for whole numbers).
fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) => {
            if n.is_f64() && json::as_f64(n).fract() != 0.0 {
                "number"
            } else {
                "integer"
            }
        }
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// `update` as a list of `{set, value, stub, mode, if}` instructions.
fn update_instructions(update: Option<&Value>) -> Value {
    let items: Vec<Value> = match update {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items.clone(),
        Some(other) => vec![other.clone()],
    };
    let instructions = items
        .into_iter()
        .map(|item| match item {
            Value::String(set) => {
                update_instruction(&Map::from_iter([("set".to_string(), Value::String(set))]))
            }
            Value::Object(map) => update_instruction(&map),
            other => other,
        })
        .collect();
    Value::Array(instructions)
}

fn update_instruction(input: &Map<String, Value>) -> Value {
    let or = |key: &str, default: Value| match input.get(key) {
        None | Some(Value::Null) => default,
        Some(value) => value.clone(),
    };
    let mut out = Map::new();
    if let Some(set) = input.get("set") {
        out.insert("set".into(), set.clone());
    }
    out.insert(
        "value".into(),
        or("value", json!({"<ref>": "current.response"})),
    );
    out.insert("stub".into(), or("stub", Value::Null));
    out.insert("mode".into(), or("mode", json!("replace")));
    out.insert("if".into(), or("if", json!(true)));
    Value::Object(out)
}

fn period(state: &str, value: &Value) -> Result<Value, NormalizeError> {
    match value {
        Value::Number(_) => Ok(value.clone()),
        other => parse_period(other)
            .map(json::number)
            .map_err(|source| NormalizeError::Period {
                state: state.into(),
                source,
            }),
    }
}

/// The log of a transition. Action transitions log the action's title and description
/// unless `log: false`; timeout transitions log only when a log is given. Which one a
/// transition is differs between the forms, as in the reference (SPEC 1.3): the short form
/// decides by the value of `on` (`on: null` gets the timeout log), an explicit transition
/// by the key (any `on`, null included, gets the action log).
fn transition_log(log: Option<&Value>, action: bool) -> Value {
    let log = log.filter(|l| !l.is_null());
    let mut out = if action {
        if log == Some(&Value::Bool(false)) {
            return json!({"title": "", "description": "", "if": false});
        }
        json!({
            "title": {"<ref>": "current.action.title"},
            "description": {"<ref>": "current.action.description"},
            "if": true
        })
    } else {
        let enabled = log.is_some_and(|l| *l != Value::Bool(false));
        json!({"title": "", "description": "", "if": enabled})
    };
    if let (Some(Value::Object(given)), Value::Object(out)) = (log, &mut out) {
        for (key, value) in given {
            out.insert(key.clone(), value.clone());
        }
    }
    out
}

/// The transition that a short-form state (`on`/`by`/`goto`/`log` or `after`/`goto`)
/// stands for.
fn short_transition(key: &str, state: &Map<String, Value>) -> Result<Value, NormalizeError> {
    let mut tr = Map::new();
    if let Some(on) = state.get("on") {
        tr.insert("on".into(), on.clone());
        tr.insert("by".into(), as_list(state.get("by"), "*"));
        tr.insert("if".into(), json!(true));
        if let Some(goto) = state.get("goto") {
            tr.insert("goto".into(), goto.clone());
        }
        tr.insert(
            "log".into(),
            transition_log(state.get("log"), !on.is_null()),
        );
    } else if let Some(after) = state.get("after") {
        tr.insert("after".into(), period(key, after)?);
        tr.insert("if".into(), json!(true));
        if let Some(goto) = state.get("goto") {
            tr.insert("goto".into(), goto.clone());
        }
        tr.insert("log".into(), transition_log(state.get("log"), false));
    } else {
        return Err(NormalizeError::GotoWithoutTrigger { state: key.into() });
    }
    Ok(Value::Object(tr))
}

/// An explicit transition: `after` to seconds, `by` to a list, `if` default, log.
fn explicit_transition(key: &str, transition: &Value) -> Result<Value, NormalizeError> {
    let Value::Object(input) = transition else {
        return Ok(transition.clone());
    };
    let mut tr = input.clone();
    if let Some(after) = input.get("after") {
        tr.insert("after".into(), period(key, after)?);
    }
    if input.contains_key("on") {
        tr.insert("by".into(), as_list(input.get("by"), "*"));
    }
    set_default(&mut tr, "if", json!(true));
    let action = input.contains_key("on");
    tr.insert("log".into(), transition_log(input.get("log"), action));
    Ok(Value::Object(tr))
}

/// One state with its own fields normalized (the wildcard merge, implicit notify entries
/// and notify triggers come later). The wildcard state gets no title, description,
/// instructions or tag defaults.
fn state_fields(key: &str, state: &Value, wildcard: bool) -> Result<Value, NormalizeError> {
    let mut map = match state {
        Value::Null => Map::new(),
        Value::Object(map) => map.clone(),
        other => return Ok(other.clone()),
    };
    if !wildcard {
        set_default(&mut map, "title", Value::String(key_title(key)));
        set_default(&mut map, "description", json!(""));
        set_default(&mut map, "instructions", json!({}));
    }
    if is_end_state(&map) {
        if !wildcard {
            let tag = match map.get("tag") {
                None | Some(Value::Null) => json!([key]),
                Some(Value::String(tag)) => json!([tag]),
                Some(other) => other.clone(),
            };
            map.insert("tag".into(), tag);
        }
    } else {
        let transitions = if map.contains_key("on") || map.contains_key("after") {
            let transition = short_transition(key, &map)?;
            map.shift_remove("log");
            Value::Array(vec![transition])
        } else if map.contains_key("goto") && !map.contains_key("transitions") {
            return Err(NormalizeError::GotoWithoutTrigger { state: key.into() });
        } else {
            match map.get("transitions") {
                Some(Value::Array(list)) => Value::Array(
                    list.iter()
                        .map(|tr| explicit_transition(key, tr))
                        .collect::<Result<_, _>>()?,
                ),
                Some(other) => other.clone(),
                None => Value::Array(Vec::new()),
            }
        };
        for short in ["on", "by", "after", "goto"] {
            map.shift_remove(short);
        }
        map.insert("transitions".into(), transitions);
    }
    let notify = notify_entries(key, map.get("notify"))?;
    map.insert("notify".into(), Value::Array(notify));
    Ok(Value::Object(map))
}

/// `notify` as a list of entries `{service, after, if, [trigger], …}`; the trigger default
/// is filled in by [`finish_notify`].
fn notify_entries(key: &str, notify: Option<&Value>) -> Result<Vec<Value>, NormalizeError> {
    let items = match notify {
        None => return Ok(Vec::new()),
        Some(value) if !truthy(value) => return Ok(Vec::new()),
        Some(Value::Array(items)) => items.clone(),
        Some(other) => vec![other.clone()],
    };
    items
        .into_iter()
        .map(|item| {
            let input = match item {
                Value::String(service) => {
                    Map::from_iter([("service".to_string(), Value::String(service))])
                }
                Value::Object(map) => map,
                other => return Ok(other),
            };
            let mut out = Map::new();
            if let Some(service) = input.get("service") {
                let service = match service {
                    Value::String(s) => {
                        Value::String(s.strip_prefix("service:").unwrap_or(s).to_string())
                    }
                    other => other.clone(),
                };
                out.insert("service".into(), service);
            }
            let after = match input.get("after") {
                None | Some(Value::Null) => json!(0),
                Some(after) => period(key, after)?,
            };
            out.insert("after".into(), after);
            let condition = match input.get("if") {
                None | Some(Value::Null) => json!(true),
                Some(value) => value.clone(),
            };
            out.insert("if".into(), condition);
            // Everything else, `trigger` included, is kept as given: an explicit
            // `trigger: null` says "no trigger" and is not replaced by the default.
            for (k, v) in &input {
                if !["service", "after", "if"].contains(&k.as_str()) {
                    out.insert(k.clone(), v.clone());
                }
            }
            Ok(Value::Object(out))
        })
        .collect()
}

/// Merges the wildcard state into a state: transitions appended (not to end states),
/// instructions fill missing keys, notify entries appended, other keys copied where the
/// state lacks them.
fn merge_wildcard(state: &mut Map<String, Value>, wildcard: &Map<String, Value>) {
    if let (Some(Value::Array(own)), Some(Value::Array(extra))) =
        (state.get_mut("transitions"), wildcard.get("transitions"))
    {
        own.extend(extra.iter().cloned());
    }
    if let Some(Value::Object(extra)) = wildcard.get("instructions") {
        let mut merged = extra.clone();
        if let Some(Value::Object(own)) = state.get("instructions") {
            for (k, v) in own {
                merged.insert(k.clone(), v.clone());
            }
        }
        state.insert("instructions".into(), Value::Object(merged));
    }
    if let (Some(Value::Array(own)), Some(Value::Array(extra))) =
        (state.get_mut("notify"), wildcard.get("notify"))
    {
        own.extend(extra.iter().cloned());
    }
    for (key, value) in wildcard {
        if !["transitions", "instructions", "notify"].contains(&key.as_str())
            && !state.contains_key(key)
        {
            state.insert(key.clone(), value.clone());
        }
    }
}

/// The actors a transition's `by` names: `*` gives all actor keys; otherwise each actor
/// key that `by` lists, with wildcard keys (`person_*`) matching names like `person_1`
/// (and wildcard entries in `by` matching actor keys); then `service:…` entries.
fn actors_by(by: &[&str], actor_keys: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    if by.contains(&"*") {
        out.extend(actor_keys.iter().cloned());
    } else {
        for key in actor_keys {
            if by.contains(&key.as_str()) || by.iter().any(|b| wildcard_matches(b, key)) {
                out.push(key.clone());
            }
            for name in by.iter().filter(|b| wildcard_matches(key, b)) {
                out.push((*name).to_string());
            }
        }
    }
    for entry in by {
        if entry.starts_with("service:") && !actor_keys.iter().any(|k| k == entry) {
            out.push((*entry).to_string());
        }
    }
    out
}

fn dedup(items: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(items.len());
    for item in items {
        if !out.contains(&item) {
            out.push(item);
        }
    }
    out
}

/// Creates `STATE.X` for every transition `on: X` whose action `X` is not defined.
fn add_implicit_actions(
    states: &Map<String, Value>,
    actions: &mut Map<String, Value>,
    actor_keys: &[String],
) -> Result<(), NormalizeError> {
    let mut implicit: Vec<(String, String, Vec<String>)> = Vec::new();
    for (state_key, state) in states {
        let Some(Value::Array(transitions)) = state.get("transitions") else {
            continue;
        };
        let mut per_action: Vec<(String, Vec<String>)> = Vec::new();
        for tr in transitions {
            let Some(on) = tr.get("on").and_then(Value::as_str) else {
                continue;
            };
            if actions.contains_key(on) {
                continue;
            }
            let actors = actors_by(&strings(tr.get("by")), actor_keys);
            match per_action.iter_mut().find(|(a, _)| a == on) {
                Some((_, list)) => list.extend(actors),
                None => per_action.push((on.to_string(), actors)),
            }
        }
        for (action, actors) in per_action {
            implicit.push((state_key.clone(), action, dedup(actors)));
        }
    }
    for (state, action, actors) in implicit {
        let key = format!("{state}.{action}");
        if actions.contains_key(&key) {
            return Err(NormalizeError::ActionExists { key, state, action });
        }
        actions.insert(
            key,
            json!({
                "title": key_title(&action),
                "description": "",
                "if": true,
                "actor": actors,
                "response": {},
                "update": [],
            }),
        );
    }
    Ok(())
}

/// Creates an end state for every `goto: (name)` that is not defined.
fn add_implicit_end_states(states: &mut Map<String, Value>) {
    let mut missing: Vec<String> = Vec::new();
    for state in states.values() {
        let Some(Value::Array(transitions)) = state.get("transitions") else {
            continue;
        };
        for tr in transitions {
            let Some(goto) = tr.get("goto").and_then(Value::as_str) else {
                continue;
            };
            let is_end = goto.len() > 2 && goto.starts_with('(') && goto.ends_with(')');
            if is_end && !states.contains_key(goto) && !missing.iter().any(|m| m == goto) {
                missing.push(goto.to_string());
            }
        }
    }
    for key in missing {
        let name = &key[1..key.len() - 1];
        let state = json!({
            "title": key_title(name),
            "description": "",
            "instructions": {},
            "notify": [],
            "tag": [key.clone()],
        });
        states.insert(key, state);
    }
}

/// The one action (a transition's `on`) that a service can trigger in a state, else
/// `null`. A service can trigger a transition that names it in `by`; with
/// `via_actor_list`, also a `by: *` transition whose action lists it as an actor.
fn service_trigger(
    state_key: &str,
    transitions: &[Value],
    actions: Option<&Map<String, Value>>,
    service: &str,
    via_actor_list: bool,
) -> Value {
    let name = format!("service:{service}");
    let mut found: Vec<&str> = Vec::new();
    for tr in transitions {
        let Some(on) = tr.get("on").and_then(Value::as_str) else {
            continue;
        };
        let by = strings(tr.get("by"));
        let allowed = by.contains(&name.as_str())
            || (via_actor_list
                && by.contains(&"*")
                && actions.is_some_and(|actions| {
                    let action = actions
                        .get(on)
                        .or_else(|| actions.get(&format!("{state_key}.{on}")));
                    strings(action.and_then(|a| a.get("actor"))).contains(&name.as_str())
                }));
        if allowed && !found.contains(&on) {
            found.push(on);
        }
    }
    match found.as_slice() {
        [one] => Value::String((*one).to_string()),
        _ => Value::Null,
    }
}

/// Final notify lists: entries ordered `{service, after, if, trigger, …}` with the
/// trigger default, plus an implicit entry for each service named in a transition's `by`.
fn finish_notify(states: &mut Map<String, Value>, actions: Option<&Map<String, Value>>) {
    for (state_key, state) in states.iter_mut() {
        let Value::Object(state) = state else {
            continue;
        };
        let transitions: Vec<Value> = match state.get("transitions") {
            Some(Value::Array(list)) => list.clone(),
            _ => Vec::new(),
        };
        let is_end = !state.contains_key("transitions");
        let entries = match state.get("notify") {
            Some(Value::Array(entries)) => entries.clone(),
            _ => continue,
        };
        let mut out: Vec<Value> = Vec::with_capacity(entries.len());
        for entry in entries {
            let Value::Object(input) = entry else {
                out.push(entry);
                continue;
            };
            let mut map = Map::new();
            for key in ["service", "after", "if"] {
                if let Some(value) = input.get(key) {
                    map.insert(key.into(), value.clone());
                }
            }
            let trigger = match (input.get("trigger"), input.get("service")) {
                (Some(trigger), _) => trigger.clone(),
                (None, Some(Value::String(service))) if !is_end => {
                    service_trigger(state_key, &transitions, actions, service, true)
                }
                _ => Value::Null,
            };
            map.insert("trigger".into(), trigger);
            for (key, value) in input {
                if !map.contains_key(&key) {
                    map.insert(key, value);
                }
            }
            out.push(Value::Object(map));
        }
        let mut notified: Vec<String> = out
            .iter()
            .filter_map(|e| e.get("service").and_then(Value::as_str).map(String::from))
            .collect();
        for tr in &transitions {
            if tr.get("on").is_none_or(Value::is_null) {
                continue;
            }
            for entry in strings(tr.get("by")) {
                let Some(service) = entry.strip_prefix("service:") else {
                    continue;
                };
                if notified.iter().any(|s| s == service) {
                    continue;
                }
                notified.push(service.to_string());
                let trigger = service_trigger(state_key, &transitions, actions, service, false);
                out.push(json!({"service": service, "after": 0, "if": true, "trigger": trigger}));
            }
        }
        state.insert("notify".into(), Value::Array(out));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::yaml::from_yaml;

    fn norm(value: Value) -> Value {
        normalize(&value).unwrap()
    }

    fn norm_yaml(text: &str) -> Value {
        normalize(&from_yaml(text).unwrap()).unwrap()
    }

    fn keys(value: &Value) -> Vec<String> {
        value.as_object().unwrap().keys().cloned().collect()
    }

    const ACTION_LOG: &str = r#"{"title": {"<ref>": "current.action.title"}, "description": {"<ref>": "current.action.description"}, "if": true}"#;

    fn action_log() -> Value {
        serde_json::from_str(ACTION_LOG).unwrap()
    }

    fn role() -> Value {
        json!({"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]})
    }

    #[test]
    fn key_titles() {
        assert_eq!(key_title("wait_on_client"), "wait on_client");
        assert_eq!(key_title("person_*"), "person");
        assert_eq!(key_title("client"), "client");
        assert_eq!(key_title(" a_b "), "a b");
        assert_eq!(key_title("_x"), "x");
        assert_eq!(key_title("**"), "*");
    }

    #[test]
    fn minimal_scenario_gets_every_default() {
        let out = norm(json!({"states": {"initial": {"on": "complete", "goto": "(done)"}}}));
        assert_eq!(
            out,
            json!({
                "$schema": "https://schemas.letsflow.io/v1.0/scenario",
                "states": {
                    "initial": {
                        "title": "initial",
                        "description": "",
                        "instructions": {},
                        "transitions": [{
                            "on": "complete", "by": ["*"], "if": true, "goto": "(done)",
                            "log": action_log()
                        }],
                        "notify": []
                    },
                    "(done)": {
                        "title": "done", "description": "", "instructions": {},
                        "notify": [], "tag": ["(done)"]
                    }
                },
                "title": "",
                "description": "",
                "tags": [],
                "actors": {
                    "actor": {
                        "title": "actor",
                        "type": "object",
                        "properties": {
                            "id": {"type": "string"},
                            "title": {"type": "string"},
                            "role": role()
                        },
                        "additionalProperties": false
                    }
                },
                "actions": {
                    "initial.complete": {
                        "title": "complete", "description": "", "if": true,
                        "actor": ["actor"], "response": {}, "update": []
                    }
                },
                "vars": {},
                "result": {}
            })
        );
        assert_eq!(
            keys(&out),
            [
                "$schema",
                "states",
                "title",
                "description",
                "tags",
                "actors",
                "actions",
                "vars",
                "result"
            ]
        );
    }

    #[test]
    fn given_top_level_values_and_unknown_keys_are_kept() {
        let out = norm(json!({
            "$schema": "https://example.com/scenario", "title": "T", "tags": ["a"],
            "ui": {"x": 1}, "states": {}
        }));
        assert_eq!(out["$schema"], "https://example.com/scenario");
        assert_eq!(out["title"], "T");
        assert_eq!(out["tags"], json!(["a"]));
        assert_eq!(out["ui"], json!({"x": 1}));
        // null is replaced like `??=` does
        assert_eq!(norm(json!({"title": null, "states": {}}))["title"], "");
    }

    #[test]
    fn not_an_object() {
        let err = normalize(&json!([1])).unwrap_err();
        assert_eq!(err, NormalizeError::NotAnObject { found: "a list" });
        assert!(err.to_string().starts_with("a scenario must be a mapping"));
    }

    #[test]
    fn actors() {
        let out = norm(json!({
            "actors": {
                "user_1": null,
                "person_*": {"properties": {"name": "string", "id": {"type": "string", "format": "uuid"}}},
                "remote": {"$ref": "https://example.com/actor"},
                "typed": "#/definitions/actor",
                "sales": {"title": "Sales", "role": "sales"}
            },
            "states": {}
        }));
        let actors = &out["actors"];
        assert_eq!(
            actors["user_1"],
            json!({
                "title": "user 1", "type": "object",
                "properties": {"id": {"type": "string"}, "title": {"type": "string"}, "role": role()},
                "additionalProperties": false
            })
        );
        let person = &actors["person_*"];
        assert_eq!(person["title"], "person");
        // `id` is replaced but keeps its place; `name` expanded from a string
        assert_eq!(keys(&person["properties"]), ["name", "id", "title", "role"]);
        assert_eq!(person["properties"]["id"], json!({"type": "string"}));
        assert_eq!(person["properties"]["name"], json!({"type": "string"}));
        assert_eq!(
            actors["remote"],
            json!({"$ref": "https://example.com/actor", "title": "remote"})
        );
        assert_eq!(
            actors["typed"],
            json!({"$ref": "#/definitions/actor", "title": "typed"})
        );
        assert_eq!(
            keys(&actors["sales"]),
            [
                "title",
                "role",
                "type",
                "properties",
                "additionalProperties"
            ]
        );
    }

    #[test]
    fn strings_become_schemas() {
        assert_eq!(
            normalize_schema(&json!("string")),
            json!({"type": "string"})
        );
        for reference in ["http://x/s", "https://x/s", "#/defs/a"] {
            assert_eq!(
                normalize_schema(&json!(reference)),
                json!({"$ref": reference})
            );
        }
    }

    #[test]
    fn required_markers_become_required() {
        let schema = normalize_schema(&json!({
            "required": ["b"],
            "properties": {
                "a": {"type": "string", "!required": true},
                "b": {"type": "string", "!required": true},
                "c": {"type": "string", "!required": false},
                "d": {"type": "object", "properties": {"e": {"type": "integer", "!required": true}}}
            }
        }));
        assert_eq!(
            schema,
            json!({
                "required": ["b", "a"],
                "properties": {
                    "a": {"type": "string"},
                    "b": {"type": "string"},
                    "c": {"type": "string"},
                    "d": {
                        "type": "object",
                        "properties": {"e": {"type": "integer"}},
                        "required": ["e"],
                        "additionalProperties": false
                    }
                },
                "type": "object",
                "additionalProperties": false
            })
        );
        assert_eq!(
            keys(&schema),
            ["required", "properties", "type", "additionalProperties"]
        );
    }

    #[test]
    fn required_from_yaml_tags() {
        let out = norm_yaml(concat!(
            "actions:\n",
            "  a:\n",
            "    response:\n",
            "      properties:\n",
            "        x: !required string\n",
            "        y: !required {type: number, title: Y}\n",
            "        z: string\n",
            "states: {}\n",
        ));
        assert_eq!(
            out["actions"]["a"]["response"],
            json!({
                "properties": {
                    "x": {"type": "string"},
                    "y": {"type": "number", "title": "Y"},
                    "z": {"type": "string"}
                },
                "type": "object",
                "required": ["x", "y"],
                "additionalProperties": false
            })
        );
        assert!(!out.to_string().contains("!required"));
    }

    #[test]
    fn shared_required_node_is_required_only_where_first_normalized() {
        // As in the reference: the anchored schema object is shared, and its `!required`
        // marker is consumed by the first action that normalizes it.
        let out = norm_yaml(concat!(
            "actions:\n",
            "  first: &base\n",
            "    response:\n",
            "      properties:\n",
            "        reason: !required string\n",
            "  second:\n",
            "    <<: *base\n",
            "    title: Second\n",
            "states: {}\n",
        ));
        let first = &out["actions"]["first"]["response"];
        let second = &out["actions"]["second"]["response"];
        assert_eq!(first["required"], json!(["reason"]));
        assert!(second.get("required").is_none(), "{second}");
        assert_eq!(second["properties"]["reason"], json!({"type": "string"}));
        assert!(!out.to_string().contains("!required"));
        assert!(!out.to_string().contains("yaml-node"));
    }

    #[test]
    fn shared_markers_outside_schemas_settle_to_true() {
        let out = norm_yaml(concat!(
            "extra: &x {p: !required string}\n",
            "more: *x\n",
            "states: {}\n",
        ));
        assert_eq!(
            out["extra"]["p"],
            json!({"type": "string", "!required": true})
        );
        assert_eq!(
            out["more"]["p"],
            json!({"type": "string", "!required": true})
        );
    }

    #[test]
    fn sub_schemas_expand() {
        let schema = normalize_schema(&json!({
            "type": "object",
            "properties": {"list": {"items": "string"}, "tuple": {"type": "array", "items": ["string", {"type": "integer"}]}},
            "additionalProperties": "number",
            "patternProperties": {"^x_": "boolean"},
            "definitions": {"d": "string"},
            "$defs": {"e": {"properties": {"f": "string"}}},
            "allOf": ["string", {"type": "string"}],
            "oneOf": ["#/a"],
            "anyOf": [{"items": "string"}]
        }));
        assert_eq!(
            schema,
            json!({
                "type": "object",
                "properties": {
                    "list": {"items": {"type": "string"}, "type": "array"},
                    "tuple": {"type": "array", "items": [{"type": "string"}, {"type": "integer"}]}
                },
                "additionalProperties": {"type": "number"},
                "patternProperties": {"^x_": {"type": "boolean"}},
                "definitions": {"d": {"type": "string"}},
                "$defs": {"e": {"properties": {"f": {"type": "string"}}, "type": "object", "additionalProperties": false}},
                "allOf": [{"type": "string"}, {"type": "string"}],
                "oneOf": [{"$ref": "#/a"}],
                "anyOf": [{"items": {"type": "string"}, "type": "array"}]
            })
        );
    }

    #[test]
    fn types_are_inferred() {
        let infer = |schema: Value| normalize_schema(&schema).get("type").cloned();
        assert_eq!(infer(json!({"const": 10})), Some(json!("integer")));
        assert_eq!(infer(json!({"const": 1.5})), Some(json!("number")));
        assert_eq!(infer(json!({"const": "a"})), Some(json!("string")));
        assert_eq!(infer(json!({"const": true})), Some(json!("boolean")));
        assert_eq!(infer(json!({"const": null})), Some(json!("null")));
        assert_eq!(infer(json!({"enum": ["a", "b"]})), Some(json!("string")));
        assert_eq!(
            infer(json!({"enum": ["a", 1, null]})),
            Some(json!(["string", "integer", "null"]))
        );
        assert_eq!(infer(json!({"enum": [1, 2.5]})), Some(json!("number")));
        assert_eq!(
            infer(json!({"items": {"type": "string"}})),
            Some(json!("array"))
        );
        assert_eq!(
            infer(json!({"properties": {"a": "string"}})),
            Some(json!("object"))
        );
        assert_eq!(
            infer(json!({"patternProperties": {}})),
            Some(json!("object"))
        );
        assert_eq!(
            infer(json!({"additionalProperties": true})),
            Some(json!("object"))
        );
        assert_eq!(infer(json!({"description": "anything"})), None);
        assert_eq!(
            infer(json!({"type": "string", "const": 1})),
            Some(json!("string"))
        );
    }

    #[test]
    fn objects_get_additional_properties_false_unless_set() {
        assert_eq!(
            normalize_schema(&json!({"type": "object"})),
            json!({"type": "object", "additionalProperties": false})
        );
        assert_eq!(
            normalize_schema(&json!({"type": "object", "additionalProperties": true})),
            json!({"type": "object", "additionalProperties": true})
        );
        assert_eq!(
            normalize_schema(&json!({"type": "string"})),
            json!({"type": "string"})
        );
    }

    #[test]
    fn refs_and_data_functions_are_left_alone() {
        let reference = json!({"$ref": "https://x/s", "properties": {"a": "string"}});
        assert_eq!(normalize_schema(&reference), reference);
        let function = json!({"<ref>": "scenario.vars.x"});
        assert_eq!(normalize_schema(&function), function);
    }

    #[test]
    fn vars_and_result() {
        let out = norm(json!({
            "vars": {
                "first_name": "string",
                "emails": {"type": "array", "title": "Emails", "items": "string"},
                "obj": {"properties": {"a": "string"}},
                "remote": "https://x/s"
            },
            "result": "string",
            "states": {}
        }));
        assert_eq!(
            out["vars"]["first_name"],
            json!({"type": "string", "title": "first name"})
        );
        assert_eq!(keys(&out["vars"]["first_name"]), ["type", "title"]);
        assert_eq!(
            out["vars"]["emails"],
            json!({"type": "array", "title": "Emails", "items": {"type": "string"}})
        );
        assert_eq!(
            out["vars"]["obj"],
            json!({"properties": {"a": {"type": "string"}}, "type": "object", "additionalProperties": false, "title": "obj"})
        );
        assert_eq!(
            out["vars"]["remote"],
            json!({"$ref": "https://x/s", "title": "remote"})
        );
        assert_eq!(out["result"], json!({"type": "string"}));

        let out = norm(json!({"result": {"properties": {"a": "string"}}, "states": {}}));
        assert_eq!(
            out["result"],
            json!({"properties": {"a": {"type": "string"}}, "type": "object", "additionalProperties": false})
        );
        assert_eq!(norm(json!({"states": {}}))["result"], json!({}));
    }

    #[test]
    fn actions() {
        let out = norm(json!({
            "actions": {
                "empty": null,
                "one_actor": {"actor": "client", "response": "string", "update": "vars.x"},
                "fn_actor": {"actor": {"<ref>": "vars.who"}, "response": {"<ref>": "scenario.vars.x"}},
                "many": {
                    "title": "Many", "if": false, "actor": ["a", "b"],
                    "response": {"properties": {"a": "string"}},
                    "update": [
                        "result",
                        {"set": "vars.y", "value": 1, "mode": "merge", "if": {"<ref>": "x"}, "stub": 2},
                        {"set": "vars.z", "value": false, "extra": 1}
                    ]
                }
            },
            "states": {}
        }));
        let current = json!({"<ref>": "current.response"});
        assert_eq!(
            out["actions"]["empty"],
            json!({"title": "empty", "description": "", "if": true, "actor": ["*"], "response": {}, "update": []})
        );
        assert_eq!(
            keys(&out["actions"]["empty"]),
            ["title", "description", "if", "actor", "response", "update"]
        );
        let one = &out["actions"]["one_actor"];
        assert_eq!(one["title"], "one actor");
        assert_eq!(one["actor"], json!(["client"]));
        assert_eq!(one["response"], json!({"type": "string"}));
        assert_eq!(
            one["update"],
            json!([{"set": "vars.x", "value": current, "stub": null, "mode": "replace", "if": true}])
        );
        let f = &out["actions"]["fn_actor"];
        assert_eq!(f["actor"], json!({"<ref>": "vars.who"}));
        assert_eq!(f["response"], json!({"<ref>": "scenario.vars.x"}));
        let many = &out["actions"]["many"];
        assert_eq!(many["title"], "Many");
        assert_eq!(many["if"], false);
        assert_eq!(many["actor"], json!(["a", "b"]));
        assert_eq!(
            many["response"],
            json!({"properties": {"a": {"type": "string"}}, "type": "object", "additionalProperties": false})
        );
        assert_eq!(
            many["update"],
            json!([
                {"set": "result", "value": current, "stub": null, "mode": "replace", "if": true},
                {"set": "vars.y", "value": 1, "stub": 2, "mode": "merge", "if": {"<ref>": "x"}},
                {"set": "vars.z", "value": false, "stub": null, "mode": "replace", "if": true}
            ])
        );
        assert_eq!(
            keys(&many["update"][1]),
            ["set", "value", "stub", "mode", "if"]
        );
    }

    #[test]
    fn update_tags_from_yaml() {
        let out = norm_yaml("actions:\n  a:\n    update: !append result\nstates: {}\n");
        assert_eq!(
            out["actions"]["a"]["update"],
            json!([{"set": "result", "value": {"<ref>": "current.response"}, "stub": null, "mode": "append", "if": true}])
        );
    }

    #[test]
    fn end_states_and_tags() {
        let out = norm(json!({
            "states": {
                "initial": {"on": "a", "goto": "(done)"},
                "(done)": null,
                "(failed)": {"tag": "failure", "description": "x"},
                "(other)": {"tag": ["a", "b"]}
            }
        }));
        let states = &out["states"];
        assert_eq!(
            states["(done)"],
            json!({"title": "(done)", "description": "", "instructions": {}, "tag": ["(done)"], "notify": []})
        );
        assert_eq!(states["(failed)"]["tag"], json!(["failure"]));
        assert_eq!(states["(failed)"]["description"], "x");
        assert_eq!(states["(other)"]["tag"], json!(["a", "b"]));
        assert!(states["(done)"].get("transitions").is_none());
    }

    #[test]
    fn short_form_states() {
        let out = norm(json!({
            "actors": {"a": {}, "b": {}},
            "actions": {"go": {}},
            "states": {
                "initial": {"on": "go", "by": "a", "goto": "next", "log": {"title": "Went"}},
                "next": {"on": "go", "by": ["a", "b"], "goto": "timed", "log": false},
                "timed": {"after": "10 days", "goto": "(done)"},
                "logged": {"after": 30, "goto": "(done)", "log": {"title": "Timed out"}},
                "open": {"on": null, "goto": "(done)"}
            }
        }));
        let states = &out["states"];
        assert_eq!(
            states["initial"]["transitions"],
            json!([{"on": "go", "by": ["a"], "if": true, "goto": "next", "log": {
                "title": "Went", "description": {"<ref>": "current.action.description"}, "if": true
            }}])
        );
        for key in ["on", "by", "goto", "log", "after"] {
            assert!(states["initial"].get(key).is_none(), "{key}");
        }
        assert_eq!(
            states["next"]["transitions"][0],
            json!({"on": "go", "by": ["a", "b"], "if": true, "goto": "timed",
                   "log": {"title": "", "description": "", "if": false}})
        );
        assert_eq!(
            states["timed"]["transitions"],
            json!([{"after": 864000, "if": true, "goto": "(done)",
                    "log": {"title": "", "description": "", "if": false}}])
        );
        assert!(states["timed"]["transitions"][0]["after"].is_i64());
        assert_eq!(
            states["logged"]["transitions"][0]["log"],
            json!({"title": "Timed out", "description": "", "if": true})
        );
        assert_eq!(
            states["open"]["transitions"][0],
            json!({"on": null, "by": ["*"], "if": true, "goto": "(done)",
                   "log": {"title": "", "description": "", "if": false}})
        );
        assert_eq!(
            keys(&states["timed"]),
            [
                "title",
                "description",
                "instructions",
                "transitions",
                "notify"
            ]
        );
    }

    #[test]
    fn goto_without_on_or_after() {
        let err = normalize(&json!({"states": {"x": {"goto": "y"}}})).unwrap_err();
        assert_eq!(
            err,
            NormalizeError::GotoWithoutTrigger { state: "x".into() }
        );
        assert!(err
            .to_string()
            .starts_with("state 'x': goto without on or after"));
    }

    #[test]
    fn explicit_transitions() {
        let out = norm(json!({
            "actions": {"a": {}, "b": {}},
            "states": {
                "initial": {"transitions": [
                    {"on": "a", "goto": "x"},
                    {"on": "b", "by": "client", "if": {"<ref>": "ok"}, "goto": "y", "log": {"description": "D"}},
                    {"after": "5m", "goto": "z"},
                    {"after": 7, "goto": "z", "log": true},
                    {"on": null, "goto": "z", "log": {"title": "T"}}
                ]}
            }
        }));
        let transitions = &out["states"]["initial"]["transitions"];
        assert_eq!(
            transitions[0],
            json!({"on": "a", "goto": "x", "by": ["*"], "if": true, "log": action_log()})
        );
        assert_eq!(keys(&transitions[0]), ["on", "goto", "by", "if", "log"]);
        assert_eq!(
            transitions[1],
            json!({"on": "b", "by": ["client"], "if": {"<ref>": "ok"}, "goto": "y", "log": {
                "title": {"<ref>": "current.action.title"}, "description": "D", "if": true
            }})
        );
        assert_eq!(
            transitions[2],
            json!({"after": 300, "goto": "z", "if": true, "log": {"title": "", "description": "", "if": false}})
        );
        assert_eq!(
            transitions[3]["log"],
            json!({"title": "", "description": "", "if": true})
        );
        assert_eq!(transitions[3]["after"], json!(7));
        assert_eq!(transitions[4]["by"], json!(["*"]));
        assert_eq!(
            transitions[4]["log"],
            json!({"title": "T", "description": {"<ref>": "current.action.description"}, "if": true})
        );
    }

    /// SPEC 1.3: inside `transitions:` the `on` key decides (null included), in the short
    /// form the value of `on` does.
    #[test]
    fn transition_logs_follow_the_reference() {
        let quiet = json!({"title": "", "description": "", "if": false});
        let log_of = |state: Value| {
            let out = norm(json!({"states": {"initial": state}}));
            out["states"]["initial"]["transitions"][0]["log"].clone()
        };
        let explicit = |tr: Value| log_of(json!({"transitions": [tr]}));
        assert_eq!(explicit(json!({"on": null, "goto": "(a)"})), action_log());
        assert_eq!(
            explicit(json!({"on": null, "goto": "(a)", "log": false})),
            quiet
        );
        assert_eq!(
            explicit(json!({"on": null, "goto": "(a)", "log": {"title": "Auto"}})),
            json!({"title": "Auto", "description": {"<ref>": "current.action.description"}, "if": true})
        );
        assert_eq!(explicit(json!({"after": 5, "goto": "(a)"})), quiet);
        assert_eq!(
            explicit(json!({"after": 5, "goto": "(a)", "log": {"title": "Late"}})),
            json!({"title": "Late", "description": "", "if": true})
        );
        // The short forms: state-level `on: null` gets the timeout log.
        assert_eq!(log_of(json!({"on": null, "goto": "(a)"})), quiet);
        assert_eq!(
            log_of(json!({"on": null, "goto": "(a)", "log": {"title": "Auto"}})),
            json!({"title": "Auto", "description": "", "if": true})
        );
        assert_eq!(log_of(json!({"on": "go", "goto": "(a)"})), action_log());
        assert_eq!(
            log_of(json!({"on": "go", "goto": "(a)", "log": false})),
            quiet
        );
        assert_eq!(log_of(json!({"after": 5, "goto": "(a)"})), quiet);
        assert_eq!(
            log_of(json!({"after": 5, "goto": "(a)", "log": {"title": "Late"}})),
            json!({"title": "Late", "description": "", "if": true})
        );
    }

    #[test]
    fn invalid_periods_name_the_state() {
        let err = normalize(&json!({"states": {"quoted": {"after": "10 dayz", "goto": "(x)"}}}))
            .unwrap_err();
        assert!(matches!(err, NormalizeError::Period { ref state, .. } if state == "quoted"));
        assert!(
            err.to_string()
                .starts_with("state 'quoted': invalid time period '10 dayz'"),
            "{err}"
        );
        let err = normalize(
            &json!({"states": {"s": {"transitions": [{"after": "soon", "goto": "(x)"}]}}}),
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("state 's': invalid time period 'soon'"),
            "{err}"
        );
        let err =
            normalize(&json!({"states": {"s": {"notify": {"service": "x", "after": "1 month"}}}}))
                .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("state 's': invalid time period '1 month'"),
            "{err}"
        );
    }

    #[test]
    fn notify_lists() {
        let out = norm(json!({
            "actors": {"client": {}},
            "actions": {"reply": {"actor": ["client", "service:bot"]}},
            "states": {
                "initial": {
                    "transitions": [
                        {"on": "reply", "goto": "(done)"},
                        {"on": "skip", "by": "service:mail", "goto": "(done)"}
                    ],
                    "notify": [
                        "sms",
                        "service:bot",
                        {"service": "service:mail", "after": "5 days", "message": {"to": "x"}},
                        {"service": "bot", "if": false, "trigger": null}
                    ]
                },
                "(done)": {"notify": {"service": "mail", "trigger": "x"}},
                "(other)": {"notify": "bot"},
                "(none)": {"notify": false}
            }
        }));
        let notify = &out["states"]["initial"]["notify"];
        assert_eq!(
            notify,
            &json!([
                {"service": "sms", "after": 0, "if": true, "trigger": null},
                {"service": "bot", "after": 0, "if": true, "trigger": "reply"},
                {"service": "mail", "after": 432000, "if": true, "trigger": "skip", "message": {"to": "x"}},
                {"service": "bot", "after": 0, "if": false, "trigger": null}
            ])
        );
        assert_eq!(
            keys(&notify[2]),
            ["service", "after", "if", "trigger", "message"]
        );
        assert_eq!(
            out["states"]["(done)"]["notify"],
            json!([{"service": "mail", "after": 0, "if": true, "trigger": "x"}])
        );
        assert_eq!(
            out["states"]["(other)"]["notify"],
            json!([{"service": "bot", "after": 0, "if": true, "trigger": null}])
        );
        assert_eq!(out["states"]["(none)"]["notify"], json!([]));
    }

    #[test]
    fn trigger_is_null_when_a_service_can_trigger_several_actions() {
        let out = norm(json!({
            "states": {
                "initial": {
                    "transitions": [
                        {"on": "a", "by": "service:bot", "goto": "(done)"},
                        {"on": "b", "by": "service:bot", "goto": "(done)"}
                    ],
                    "notify": "bot"
                }
            }
        }));
        assert_eq!(
            out["states"]["initial"]["notify"][0]["trigger"],
            Value::Null
        );
    }

    #[test]
    fn wildcard_state() {
        let out = norm(json!({
            "actions": {"cancel": {}, "go": {}},
            "states": {
                "*": {
                    "transitions": [{"on": "cancel", "goto": "(cancelled)"}],
                    "instructions": {"a": "from wildcard", "b": "from wildcard"},
                    "notify": "log",
                    "ui": {"color": "red"}
                },
                "initial": {"on": "go", "goto": "(done)", "instructions": {"b": "own"}, "ui": {"color": "blue"}},
                "(done)": {}
            }
        }));
        let states = &out["states"];
        assert!(states.get("*").is_none());
        let initial = &states["initial"];
        assert_eq!(initial["transitions"].as_array().unwrap().len(), 2);
        assert_eq!(initial["transitions"][1]["on"], "cancel");
        assert_eq!(initial["transitions"][1]["by"], json!(["*"]));
        assert_eq!(
            initial["instructions"],
            json!({"a": "from wildcard", "b": "own"})
        );
        assert_eq!(
            initial["notify"],
            json!([{"service": "log", "after": 0, "if": true, "trigger": null}])
        );
        assert_eq!(initial["ui"], json!({"color": "blue"}));
        let done = &states["(done)"];
        assert!(
            done.get("transitions").is_none(),
            "end states get no wildcard transitions"
        );
        assert_eq!(
            done["instructions"],
            json!({"a": "from wildcard", "b": "from wildcard"})
        );
        assert_eq!(done["ui"], json!({"color": "red"}));
        assert_eq!(done["notify"][0]["service"], "log");
        assert_eq!(done["tag"], json!(["(done)"]));
        // The wildcard's goto creates the implicit end state.
        assert_eq!(states["(cancelled)"]["tag"], json!(["(cancelled)"]));
    }

    #[test]
    fn implicit_actions() {
        let out = norm(json!({
            "actors": {"client": {}, "person_*": {}, "admin": {}},
            "states": {
                "initial": {"transitions": [
                    {"on": "complete", "by": "client", "goto": "(done)"},
                    {"on": "complete", "by": ["admin", "client"], "goto": "(ready)"},
                    {"on": "cancel", "goto": "(cancelled)"},
                    {"on": "talk", "by": ["person_1", "person_2", "service:bot", "nobody"], "goto": null}
                ]},
                "second": {"on": "complete", "by": "service:mail", "goto": "(done)"}
            }
        }));
        let actions = &out["actions"];
        assert_eq!(
            actions["initial.complete"],
            json!({"title": "complete", "description": "", "if": true,
                   "actor": ["client", "admin"], "response": {}, "update": []})
        );
        assert_eq!(
            keys(&actions["initial.complete"]),
            ["title", "description", "if", "actor", "response", "update"]
        );
        assert_eq!(
            actions["initial.cancel"]["actor"],
            json!(["client", "person_*", "admin"])
        );
        assert_eq!(
            actions["initial.talk"]["actor"],
            json!(["person_1", "person_2", "service:bot"])
        );
        assert_eq!(actions["second.complete"]["actor"], json!(["service:mail"]));
        let order: Vec<String> = keys(actions);
        assert_eq!(
            order,
            [
                "initial.complete",
                "initial.cancel",
                "initial.talk",
                "second.complete"
            ]
        );
    }

    #[test]
    fn wildcard_entries_in_by_match_actor_keys() {
        let out = norm(json!({
            "actors": {"user_1": {}, "user_2": {}, "admin": {}},
            "states": {"initial": {"on": "x", "by": "user_*", "goto": "(done)"}}
        }));
        assert_eq!(
            out["actions"]["initial.x"]["actor"],
            json!(["user_1", "user_2"])
        );
    }

    #[test]
    fn implicit_action_clash() {
        let err = normalize(&json!({
            "actions": {"initial.complete": {}},
            "states": {"initial": {"on": "complete", "goto": "(done)"}}
        }))
        .unwrap_err();
        assert_eq!(
            err,
            NormalizeError::ActionExists {
                key: "initial.complete".into(),
                state: "initial".into(),
                action: "complete".into()
            }
        );
        assert!(err
            .to_string()
            .starts_with("action 'initial.complete' already exists"));
    }

    #[test]
    fn implicit_end_states() {
        let out = norm(json!({
            "states": {
                "initial": {"transitions": [
                    {"on": "a", "goto": "(all_done)"},
                    {"on": "b", "goto": "(defined)"},
                    {"after": 5, "goto": "(all_done)"},
                    {"on": "c", "goto": "()"}
                ]},
                "(defined)": {"title": "Mine"}
            }
        }));
        let states = &out["states"];
        assert_eq!(
            states["(all_done)"],
            json!({"title": "all done", "description": "", "instructions": {}, "notify": [], "tag": ["(all_done)"]})
        );
        assert_eq!(
            keys(&states["(all_done)"]),
            ["title", "description", "instructions", "notify", "tag"]
        );
        assert_eq!(states["(defined)"]["title"], "Mine");
        assert!(states.get("()").is_none());
        assert_eq!(keys(states), ["initial", "(defined)", "(all_done)"]);
    }

    #[test]
    fn implicit_notify_for_services_in_by() {
        let out = norm(json!({
            "actors": {"client": {}},
            "actions": {"start": {"actor": "service:default"}, "answer": {}},
            "states": {
                "initial": {"on": "start", "goto": "waiting"},
                "waiting": {"transitions": [
                    {"on": "answer", "by": ["client", "service:bot"], "goto": "(done)"},
                    {"on": "cancel", "by": "service:bot", "goto": "(done)"},
                    {"on": "ping", "by": "service:pinger", "goto": null},
                    {"on": "ping", "by": "service:known", "goto": null},
                    {"after": 10, "goto": "(done)"}
                ], "notify": "known"}
            }
        }));
        // A service only in the action's actor list (with `by: *`) gets no implicit entry.
        assert_eq!(out["states"]["initial"]["notify"], json!([]));
        assert_eq!(
            out["states"]["waiting"]["notify"],
            json!([
                {"service": "known", "after": 0, "if": true, "trigger": "ping"},
                {"service": "bot", "after": 0, "if": true, "trigger": null},
                {"service": "pinger", "after": 0, "if": true, "trigger": "ping"}
            ])
        );
    }

    #[test]
    fn explicit_notify_trigger_considers_the_action_actor_list() {
        let out = norm(json!({
            "actions": {"start": {"actor": "service:default"}},
            "states": {"initial": {"on": "start", "goto": "(done)", "notify": "default"}}
        }));
        assert_eq!(
            out["states"]["initial"]["notify"],
            json!([{"service": "default", "after": 0, "if": true, "trigger": "start"}])
        );
    }

    #[test]
    fn input_is_not_changed_and_ids_are_stable() {
        use crate::scenario::id::scenario_id;
        let a = json!({"title": "x", "states": {"initial": {"on": "go", "goto": "(done)"}}, "actors": {"a": {}, "b": {}}});
        let before = a.clone();
        let first = norm(a.clone());
        assert_eq!(a, before);
        let b: Value = serde_json::from_str(
            r#"{"actors": {"a": {}, "b": {}}, "states": {"initial": {"goto": "(done)", "on": "go"}}, "title": "x"}"#,
        )
        .unwrap();
        let second = norm(b);
        assert_eq!(scenario_id(&first), scenario_id(&second));
        // Actor order is content: it changes the implicit action's actor list.
        let c = json!({"title": "x", "states": {"initial": {"on": "go", "goto": "(done)"}}, "actors": {"b": {}, "a": {}}});
        assert_ne!(scenario_id(&first), scenario_id(&norm(c)));
    }
}
