//! A normalized scenario made ready to run: its id, parsed data functions and compiled
//! JSON schemas, built once and shared (`Arc`) by every process of that scenario.

use super::Error;
use crate::expr::datafn::{has_fn, FnCache};
use crate::scenario::id::scenario_id;
use crate::schema::{SchemaRegistry, ValidationError, Validator};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// A normalized scenario with everything the engine caches per scenario.
pub struct Scenario {
    id: String,
    json: Value,
    /// `json` with the `id` in front: the `scenario` field of a process.
    with_id: Value,
    fns: FnCache,
    registry: SchemaRegistry,
    actors: HashMap<String, Arc<Validator>>,
    vars: HashMap<String, Arc<Validator>>,
    result: Option<Arc<Validator>>,
    /// Validators of response schemas without data functions, by action key.
    static_responses: HashMap<String, Arc<Validator>>,
    /// Validators of response schemas, keyed by the schema's canonical JSON. Filled on
    /// first use, since a response schema may be computed by a data function.
    responses: Mutex<HashMap<String, Arc<Validator>>>,
}

impl std::fmt::Debug for Scenario {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scenario").field("id", &self.id).finish()
    }
}

impl Scenario {
    /// Prepares a normalized scenario (see [`crate::scenario::normalize::normalize`]); its id
    /// is derived from its content. `registry` resolves `$ref`s and local schema names.
    pub fn new(normalized: Value, registry: &SchemaRegistry) -> Result<Self, Error> {
        let id = scenario_id(&normalized).to_string();
        Self::with_id(id, normalized, registry)
    }

    /// Prepares a normalized scenario whose id is already known (e.g. read from storage).
    pub fn with_id(
        id: String,
        normalized: Value,
        registry: &SchemaRegistry,
    ) -> Result<Self, Error> {
        let Value::Object(map) = &normalized else {
            return Err(Error::InvalidScenario(
                "a scenario must be an object".into(),
            ));
        };
        if !map
            .get("states")
            .and_then(Value::as_object)
            .is_some_and(|s| s.contains_key("initial"))
        {
            return Err(Error::InvalidScenario(
                "the scenario has no 'initial' state".into(),
            ));
        }

        let compile_all = |section: &str, strip_role: bool| -> Result<_, Error> {
            let mut out = HashMap::new();
            for (key, schema) in map
                .get(section)
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
            {
                let mut schema = schema.clone();
                if strip_role {
                    if let Value::Object(s) = &mut schema {
                        s.remove("role");
                    }
                }
                out.insert(
                    key.clone(),
                    Arc::new(compile(&schema, registry, section, key)?),
                );
            }
            Ok(out)
        };
        let actors = compile_all("actors", true)?;
        let vars = compile_all("vars", false)?;
        let result = match map.get("result") {
            Some(schema) if schema.as_object().is_some_and(|s| !s.is_empty()) => {
                Some(Arc::new(compile(schema, registry, "result", "")?))
            }
            _ => None,
        };

        let mut static_responses = HashMap::new();
        for (key, action) in map.get("actions").and_then(Value::as_object).into_iter().flatten() {
            if let Some(schema) = action
                .get("response")
                .filter(|s| s.as_object().is_some_and(|m| !m.is_empty()) && !has_fn(s))
            {
                let validator = compile(schema, registry, "actions", &format!("{key}.response"))?;
                static_responses.insert(key.clone(), Arc::new(validator));
            }
        }

        let mut with_id = Map::new();
        with_id.insert("id".into(), Value::String(id.clone()));
        with_id.extend(map.iter().map(|(k, v)| (k.clone(), v.clone())));

        Ok(Scenario {
            fns: FnCache::collect(&normalized),
            id,
            with_id: Value::Object(with_id),
            json: normalized,
            registry: registry.clone(),
            actors,
            vars,
            result,
            static_responses,
            responses: Mutex::new(HashMap::new()),
        })
    }

    /// The content-derived id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The normalized scenario.
    pub fn json(&self) -> &Value {
        &self.json
    }

    /// The normalized scenario with its `id`, as a process shows it.
    pub fn json_with_id(&self) -> &Value {
        &self.with_id
    }

    /// Parsed data functions of the scenario.
    pub fn fns(&self) -> &FnCache {
        &self.fns
    }

    /// The schema registry the scenario resolves references with.
    pub fn registry(&self) -> &SchemaRegistry {
        &self.registry
    }

    /// A top-level section (`actors`, `actions`, `states`, `vars`, …) as an object.
    pub(crate) fn section(&self, name: &str) -> &Map<String, Value> {
        static EMPTY: std::sync::OnceLock<Map<String, Value>> = std::sync::OnceLock::new();
        self.json
            .get(name)
            .and_then(Value::as_object)
            .unwrap_or_else(|| EMPTY.get_or_init(Map::new))
    }

    /// The scenario state `key`.
    pub(crate) fn state(&self, key: &str) -> Option<&Map<String, Value>> {
        self.section("states").get(key).and_then(Value::as_object)
    }

    /// An end state has no transitions.
    pub(crate) fn is_end_state(&self, key: &str) -> bool {
        self.state(key).is_some_and(|s| {
            s.get("transitions")
                .and_then(Value::as_array)
                .is_none_or(Vec::is_empty)
        })
    }

    /// The action performed as `action` in state `state`: `STATE.ACTION`, else `ACTION`.
    pub(crate) fn action(
        &self,
        state: &str,
        action: &str,
    ) -> Option<(String, &Map<String, Value>)> {
        let actions = self.section("actions");
        let scoped = format!("{state}.{action}");
        if let Some(a) = actions.get(&scoped).and_then(Value::as_object) {
            return Some((scoped, a));
        }
        actions
            .get(action)
            .and_then(Value::as_object)
            .map(|a| (action.to_string(), a))
    }

    /// The schema key for an actor or variable: the key itself, else its wildcard form
    /// (`person_2` → `person_*`).
    pub(crate) fn schema_key(&self, section: &str, key: &str) -> Option<String> {
        let map = self.section(section);
        if map.contains_key(key) {
            return Some(key.to_string());
        }
        let wildcard = wildcard_form(key);
        map.contains_key(&wildcard).then_some(wildcard)
    }

    pub(crate) fn actor_validator(&self, key: &str) -> Option<&Validator> {
        let key = self.schema_key("actors", key)?;
        self.actors.get(&key).map(Arc::as_ref)
    }

    pub(crate) fn var_validator(&self, key: &str) -> Option<&Validator> {
        let key = self.schema_key("vars", key)?;
        self.vars.get(&key).map(Arc::as_ref)
    }

    pub(crate) fn result_validator(&self) -> Option<&Validator> {
        self.result.as_deref()
    }

    /// Validates a response against the response schema of action `action_key` (as
    /// evaluated: it may be computed by a data function).
    pub(crate) fn validate_response(
        &self,
        action_key: &str,
        schema: &Value,
        response: &Value,
    ) -> Result<Vec<ValidationError>, Error> {
        if let Some(validator) = self.static_responses.get(action_key) {
            return Ok(validator.validate(response));
        }
        let key = crate::json::canonical(schema);
        let cached = self
            .responses
            .lock()
            .ok()
            .and_then(|map| map.get(&key).cloned());
        let validator = match cached {
            Some(v) => v,
            None => {
                let v = Arc::new(compile(schema, &self.registry, "response", "")?);
                if let Ok(mut map) = self.responses.lock() {
                    map.insert(key, v.clone());
                }
                v
            }
        };
        Ok(validator.validate(response))
    }
}

/// `person_2` → `person_*`: trailing digits replaced by `*`, as wildcard actor keys match.
pub(crate) fn wildcard_form(key: &str) -> String {
    let trimmed = key.trim_end_matches(|c: char| c.is_ascii_digit());
    if trimmed.len() == key.len() {
        key.to_string()
    } else {
        format!("{trimmed}*")
    }
}

fn compile(
    schema: &Value,
    registry: &SchemaRegistry,
    section: &str,
    key: &str,
) -> Result<Validator, Error> {
    Validator::new(schema, registry).map_err(|e| {
        let at = if key.is_empty() {
            section.to_string()
        } else {
            format!("{section}.{key}")
        };
        Error::InvalidScenario(format!("schema of {at} does not compile: {e}"))
    })
}
