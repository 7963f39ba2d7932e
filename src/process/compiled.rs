//! A normalized scenario made ready to run: its id, parsed data functions and compiled
//! JSON schemas, built once and shared (`Arc`) by every process of that scenario.

use super::state::{default_value, instantiate_actor, string_list};
use super::Error;
use crate::expr::datafn::{has_fn, FnCache, Prepared};
use crate::json::truthy;
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
    /// The states, prepared for instantiation.
    states: HashMap<String, CompiledState>,
    /// The actions (object-valued ones), prepared, by their key (`ACTION` or
    /// `STATE.ACTION`).
    actions: HashMap<String, CompiledAction>,
    /// The actors a process starts with when none are given (all but wildcard ones).
    initial_actors: Vec<(String, Value)>,
    /// The default vars.
    initial_vars: Map<String, Value>,
    /// The default result.
    initial_result: Value,
}

/// A scenario state prepared for running: what instantiating it evaluates, found once.
pub(crate) struct CompiledState {
    /// The fields the current state shows as they are (all but `transitions` and
    /// `notify`).
    pub fields: Prepared,
    /// The `notify` entries, when there are.
    pub notify: Option<Prepared>,
    /// The transitions (object-valued ones), in order.
    pub transitions: Vec<CompiledTransition>,
    /// The timeout transitions (positions in `transitions`) by `after`, shortest first.
    pub timeouts: Vec<(f64, usize)>,
    /// The key of the action each `on` of the transitions performs here.
    pub actions: Vec<(String, String)>,
    /// No transitions: an end state.
    pub end: bool,
}

/// A transition prepared for running.
pub(crate) struct CompiledTransition {
    /// `on` when it is a string: the action.
    pub on: Option<String>,
    /// `on: null`: an automatic transition.
    pub automatic: bool,
    /// `after` in seconds, when it is a number.
    pub after: Option<f64>,
    /// `goto` when it is a string.
    pub goto: Option<String>,
    /// The condition (`if`).
    pub cond: Condition,
    /// `by` as a list of actor keys.
    pub by: ActorList,
    /// The `log` entry, when there is one.
    pub log: Option<Prepared>,
}

/// A condition (`if`): a constant when it has no data function (absent is true).
pub(crate) enum Condition {
    Const(bool),
    Computed(Prepared),
}

/// A list of actor keys (a string or a list of strings): a constant when it has no data
/// function.
pub(crate) enum ActorList {
    Const(Vec<String>),
    Computed(Prepared),
}

/// An action prepared for running.
pub(crate) struct CompiledAction {
    /// The fields an instantiated action shows (all but `update`), before `key`, `actor`
    /// and `if` are settled.
    pub shown: Prepared,
    /// The fields the checks of a step evaluate: `actor`, `if`, and `response` when it is
    /// computed by a data function.
    pub checked: Prepared,
    /// The response schema as the scenario gives it.
    pub response: Option<Value>,
    /// The default value of the response schema: the response when none is given.
    pub default_response: Option<Value>,
    /// The update instructions.
    pub update: Vec<Prepared>,
    /// Whether an update instruction could write `previous` (its `set` is `previous` or
    /// not a plain string).
    pub writes_previous: bool,
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
        for (key, action) in map
            .get("actions")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            if let Some(schema) = action
                .get("response")
                .filter(|s| s.as_object().is_some_and(|m| !m.is_empty()) && !has_fn(s))
            {
                let validator = compile(schema, registry, "actions", &format!("{key}.response"))?;
                static_responses.insert(key.clone(), Arc::new(validator));
            }
        }

        let mut actions = HashMap::new();
        for (key, action) in map
            .get("actions")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            if let Value::Object(action) = action {
                actions.insert(key.clone(), compile_action(action, registry));
            }
        }
        let action_keys = |state: &str, on: &str| {
            let scoped = format!("{state}.{on}");
            if actions.contains_key(&scoped) {
                Some(scoped)
            } else {
                actions.contains_key(on).then(|| on.to_string())
            }
        };
        let mut states = HashMap::new();
        for (key, state) in map
            .get("states")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            if let Value::Object(state) = state {
                states.insert(key.clone(), compile_state(key, state, &action_keys));
            }
        }

        let mut with_id = Map::new();
        with_id.insert("id".into(), Value::String(id.clone()));
        with_id.extend(map.iter().map(|(k, v)| (k.clone(), v.clone())));

        let mut initial_vars = Map::new();
        for (key, schema) in map
            .get("vars")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            if let Some(v) = default_value(schema, registry) {
                initial_vars.insert(key.clone(), v);
            }
        }
        let initial_result = map
            .get("result")
            .and_then(|s| default_value(s, registry))
            .unwrap_or(Value::Null);

        let mut scenario = Scenario {
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
            states,
            actions,
            initial_actors: Vec::new(),
            initial_vars,
            initial_result,
        };
        let mut initial_actors = Vec::new();
        for key in scenario
            .section("actors")
            .keys()
            .filter(|k| !k.ends_with('*'))
        {
            let actor = instantiate_actor(&scenario, key, &Value::Null)?;
            initial_actors.push((key.clone(), actor));
        }
        scenario.initial_actors = initial_actors;
        Ok(scenario)
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

    /// The actors a process starts with when none are given, in order.
    pub(crate) fn initial_actors(&self) -> &[(String, Value)] {
        &self.initial_actors
    }

    /// The default vars of a process.
    pub(crate) fn initial_vars(&self) -> &Map<String, Value> {
        &self.initial_vars
    }

    /// The default result of a process.
    pub(crate) fn initial_result(&self) -> &Value {
        &self.initial_result
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

    /// The prepared state `key`.
    pub(crate) fn compiled_state(&self, key: &str) -> Option<&CompiledState> {
        self.states.get(key)
    }

    /// An end state has no transitions.
    pub(crate) fn is_end_state(&self, key: &str) -> bool {
        self.states.get(key).is_some_and(|s| s.end)
    }

    /// The action performed as `action` in state `state`: `STATE.ACTION`, else `ACTION`;
    /// with its key.
    pub(crate) fn action(&self, state: &str, action: &str) -> Option<(&str, &CompiledAction)> {
        let known = self
            .states
            .get(state)
            .and_then(|s| s.actions.iter().find(|(on, _)| on == action));
        let key = match known {
            Some((_, key)) => key.as_str(),
            None => {
                let scoped = format!("{state}.{action}");
                match self.actions.get_key_value(&scoped) {
                    Some((key, compiled)) => return Some((key.as_str(), compiled)),
                    None => action,
                }
            }
        };
        self.actions
            .get_key_value(key)
            .map(|(key, compiled)| (key.as_str(), compiled))
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

fn compile_action(action: &Map<String, Value>, registry: &SchemaRegistry) -> CompiledAction {
    let select = |keep: &dyn Fn(&str, &Value) -> bool| {
        let fields: Map<String, Value> = action
            .iter()
            .filter(|(name, value)| keep(name, value))
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect();
        Prepared::new(&Value::Object(fields))
    };
    let update: Vec<Prepared> = action
        .get("update")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(Prepared::new)
        .collect();
    let writes_previous = action
        .get("update")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .any(|i| match i.get("set") {
            Some(Value::String(path)) => path == "previous",
            _ => true,
        });
    let response = action.get("response").cloned();
    CompiledAction {
        shown: select(&|name, _| name != "update"),
        checked: select(&|name, value| {
            matches!(name, "actor" | "if") || (name == "response" && has_fn(value))
        }),
        default_response: response.as_ref().and_then(|s| default_value(s, registry)),
        response,
        update,
        writes_previous,
    }
}

fn compile_state(
    key: &str,
    state: &Map<String, Value>,
    action_keys: &dyn Fn(&str, &str) -> Option<String>,
) -> CompiledState {
    let fields: Map<String, Value> = state
        .iter()
        .filter(|(name, _)| *name != "transitions" && *name != "notify")
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect();
    let transitions: Vec<CompiledTransition> = state
        .get("transitions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
        .map(compile_transition)
        .collect();
    let mut timeouts: Vec<(f64, usize)> = transitions
        .iter()
        .enumerate()
        .filter_map(|(i, tr)| Some((tr.after?, i)))
        .collect();
    timeouts.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut actions: Vec<(String, String)> = Vec::new();
    for on in transitions.iter().filter_map(|tr| tr.on.as_deref()) {
        if !actions.iter().any(|(a, _)| a == on) {
            if let Some(action) = action_keys(key, on) {
                actions.push((on.to_string(), action));
            }
        }
    }
    CompiledState {
        fields: Prepared::new(&Value::Object(fields)),
        notify: state.get("notify").map(Prepared::new),
        end: state
            .get("transitions")
            .and_then(Value::as_array)
            .is_none_or(Vec::is_empty),
        transitions,
        timeouts,
        actions,
    }
}

fn compile_transition(tr: &Map<String, Value>) -> CompiledTransition {
    let cond = match tr.get("if") {
        None => Condition::Const(true),
        Some(Value::Bool(b)) => Condition::Const(*b),
        Some(c) => match Prepared::new(c) {
            Prepared::Static(c) => Condition::Const(truthy(&c)),
            computed => Condition::Computed(computed),
        },
    };
    let by = match Prepared::new(tr.get("by").unwrap_or(&Value::Null)) {
        Prepared::Static(by) => ActorList::Const(string_list(&by)),
        computed => ActorList::Computed(computed),
    };
    CompiledTransition {
        on: tr.get("on").and_then(Value::as_str).map(str::to_string),
        automatic: matches!(tr.get("on"), Some(Value::Null)),
        after: tr.get("after").and_then(Value::as_f64),
        goto: tr.get("goto").and_then(Value::as_str).map(str::to_string),
        cond,
        by,
        log: tr.get("log").map(Prepared::new),
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
