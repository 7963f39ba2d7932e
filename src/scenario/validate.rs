//! scenario::validate
//!
//! Validation of a scenario as loaded (before normalization), SPEC 1.5: first the v1.0
//! scenario schema, then the checks a schema cannot express:
//!
//! - every entry of an action's `actor` names a defined actor, `*`, an actor matched by a
//!   wildcard actor key (`person_1` for `person_*`), or a service (`service:…`);
//! - every `goto` — short form or in `transitions`, also in the `*` state — names a
//!   defined state or an end state `(…)`, or is null;
//! - actions, states and notify messages with a `schema` key satisfy that schema, looked up
//!   in the registry (a local name such as `actions/form-v1`, or an id). Values that are
//!   data functions (`{"<ref>": …}`, `{"<tpl>": …}`, `{"<select>": …}`) only get their
//!   value when the process runs, so they count as valid here.
//!
//! (`states` containing `initial` is part of the schema.) All errors are collected: the
//! schema's first, in ajv's order, then the others in document order.

use crate::schema::{escape_segment, SchemaRegistry, ValidationError, Validator};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

/// The id of the v1.0 scenario schema.
const SCENARIO_SCHEMA: &str = "https://schemas.letsflow.io/v1.0/scenario";

/// Checks a scenario (raw, as loaded from YAML or JSON) against SPEC 1.5. `registry`
/// provides the schemas that `schema` keys name. Returns every problem found, each with
/// the JSON pointer of the offending value, a message and params.
pub fn validate(scenario: &Value, registry: &SchemaRegistry) -> Result<(), Vec<ValidationError>> {
    let mut errors = match scenario_validator(registry) {
        Ok(validator) => validator.validate(scenario),
        Err(message) => vec![ValidationError::new(
            "",
            "$schema",
            format!("scenario schema cannot be used: {message}"),
            json!({ "schema": SCENARIO_SCHEMA }),
        )],
    };
    for error in &mut errors {
        explain_forbidden_property(scenario, error);
    }
    let mut checker = Checker {
        registry,
        compiled: BTreeMap::new(),
        errors: Vec::new(),
    };
    checker.check(scenario);
    errors.append(&mut checker.errors);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// The built-in scenario schema document and its validator, compiled once.
struct BuiltIn {
    doc: Option<Arc<Value>>,
    compiled: Result<Validator, String>,
}

/// The compiled scenario schema: compiled once for the built-in document, or afresh when
/// the registry holds a different document under the scenario schema id. `Err` says why
/// it cannot be used.
fn scenario_validator(registry: &SchemaRegistry) -> Result<Validator, String> {
    static BUILT_IN: OnceLock<BuiltIn> = OnceLock::new();
    let built_in = BUILT_IN.get_or_init(|| {
        let built_ins = SchemaRegistry::new();
        let doc = built_ins.get_arc(SCENARIO_SCHEMA).cloned();
        let compiled = match &doc {
            Some(doc) => Validator::new(doc, &built_ins).map_err(|e| e.to_string()),
            None => Err("the built-in scenario schema is missing".to_string()),
        };
        BuiltIn { doc, compiled }
    });
    match (registry.get_arc(SCENARIO_SCHEMA), &built_in.doc) {
        (Some(own), Some(doc)) if !Arc::ptr_eq(own, doc) => {
            Validator::new(own, registry).map_err(|e| e.to_string())
        }
        _ => built_in.compiled.clone(),
    }
}

/// The scenario schema forbids some state and transition keys next to others with a
/// `false` schema, which ajv words `boolean schema is false`. Say which key is not allowed
/// and why, on the object that holds it.
fn explain_forbidden_property(scenario: &Value, error: &mut ValidationError) {
    if error.keyword != "false schema" {
        return;
    }
    let Some((parent, key)) = error.instance_path.rsplit_once('/') else {
        return;
    };
    let property = key.replace("~1", "/").replace("~0", "~");
    let holder = scenario.pointer(parent).and_then(Value::as_object);
    let has = |k: &str| holder.is_some_and(|h| h.contains_key(k));
    let reason = if property == "by" && has("after") {
        " when property 'after' is present".to_string()
    } else if has("transitions") && ["on", "by", "goto", "log"].contains(&property.as_str()) {
        " when property 'transitions' is present".to_string()
    } else if property == "by" && holder.and_then(|h| h.get("on")) == Some(&Value::Null) {
        " when 'on' is null".to_string()
    } else {
        " here".to_string()
    };
    error.message = format!("must NOT have property '{property}'{reason}");
    error.params = json!({ "property": property });
    error.instance_path = parent.to_string();
}

/// Whether a value is a data function: an object with exactly one of the keys `<ref>`,
/// `<tpl>` or `<select>`.
fn is_data_function(value: &Value) -> bool {
    value.as_object().is_some_and(|map| {
        map.len() == 1
            && ["<ref>", "<tpl>", "<select>"]
                .iter()
                .any(|k| map.contains_key(*k))
    })
}

/// A JSON pointer from a base pointer and further keys.
fn path(base: &str, keys: &[&str]) -> String {
    let mut out = base.to_string();
    for key in keys {
        out.push('/');
        out.push_str(&escape_segment(key));
    }
    out
}

/// The semantic checks, collecting errors.
struct Checker<'r> {
    registry: &'r SchemaRegistry,
    /// Validators of `schema` names compiled during this validation (or why not).
    compiled: BTreeMap<String, Result<Validator, String>>,
    errors: Vec<ValidationError>,
}

impl Checker<'_> {
    fn check(&mut self, scenario: &Value) {
        let empty = Map::new();
        let actors: Vec<String> = match scenario.get("actors") {
            // Normalization gives a scenario without actors the single actor `actor`.
            None => vec!["actor".to_string()],
            Some(actors) => actors
                .as_object()
                .map(|m| m.keys().cloned().collect())
                .unwrap_or_default(),
        };
        let states = scenario
            .get("states")
            .and_then(Value::as_object)
            .unwrap_or(&empty);

        if let Some(actions) = scenario.get("actions").and_then(Value::as_object) {
            for (key, action) in actions {
                let at = path("", &["actions", key]);
                self.check_action_actors(&at, action, &actors);
                self.check_schema(&at, action);
            }
        }
        for (key, state) in states {
            let at = path("", &["states", key]);
            self.check_gotos(&at, state, states);
            self.check_schema(&at, state);
            self.check_notify(&at, state);
        }
    }

    /// Action `actor` entries must name an actor.
    fn check_action_actors(&mut self, at: &str, action: &Value, actors: &[String]) {
        let entries: Vec<(String, &str)> = match action.get("actor") {
            Some(Value::String(actor)) => vec![(path(at, &["actor"]), actor.as_str())],
            Some(Value::Array(list)) => list
                .iter()
                .enumerate()
                .filter_map(|(i, entry)| {
                    let actor = entry.as_str()?;
                    Some((path(at, &["actor", &i.to_string()]), actor))
                })
                .collect(),
            _ => Vec::new(),
        };
        for (pointer, actor) in entries {
            if !actor_is_known(actor, actors) {
                self.errors.push(ValidationError::new(
                    pointer,
                    "actor",
                    format!("actor '{actor}' is not defined"),
                    json!({ "actor": actor, "allowedValues": actors }),
                ));
            }
        }
    }

    /// Every `goto` must name a state or an end state, or be null.
    fn check_gotos(&mut self, at: &str, state: &Value, states: &Map<String, Value>) {
        let mut gotos: Vec<(String, &Value)> = Vec::new();
        if let Some(goto) = state.get("goto") {
            gotos.push((path(at, &["goto"]), goto));
        }
        if let Some(transitions) = state.get("transitions").and_then(Value::as_array) {
            for (i, transition) in transitions.iter().enumerate() {
                if let Some(goto) = transition.get("goto") {
                    gotos.push((path(at, &["transitions", &i.to_string(), "goto"]), goto));
                }
            }
        }
        for (pointer, goto) in gotos {
            let Some(target) = goto.as_str() else {
                continue; // null stays in the state; other types are schema errors
            };
            let end_state = target.len() > 2 && target.starts_with('(') && target.ends_with(')');
            if end_state || (target != "*" && states.contains_key(target)) {
                continue;
            }
            let allowed: Vec<&String> = states.keys().filter(|k| *k != "*").collect();
            self.errors.push(ValidationError::new(
                pointer,
                "goto",
                format!("state '{target}' is not defined"),
                json!({ "goto": target, "allowedValues": allowed }),
            ));
        }
    }

    /// The `schema` of each notify message of a state.
    fn check_notify(&mut self, at: &str, state: &Value) {
        match state.get("notify") {
            Some(Value::Array(entries)) => {
                for (i, entry) in entries.iter().enumerate() {
                    if let Some(message) = entry.get("message") {
                        let at = path(at, &["notify", &i.to_string(), "message"]);
                        self.check_schema(&at, message);
                    }
                }
            }
            Some(entry @ Value::Object(_)) => {
                if let Some(message) = entry.get("message") {
                    self.check_schema(&path(at, &["notify", "message"]), message);
                }
            }
            _ => {}
        }
    }

    /// An object with a `schema` key must satisfy the schema it names.
    fn check_schema(&mut self, at: &str, object: &Value) {
        let Some(name) = object.get("schema").and_then(Value::as_str) else {
            return;
        };
        let schema_at = path(at, &["schema"]);
        let registry = self.registry;
        let compiled =
            self.compiled
                .entry(name.to_string())
                .or_insert_with(|| match registry.get(name) {
                    None => Err(format!("schema '{name}' is not found")),
                    Some(schema) => Validator::new(schema, registry)
                        .map_err(|e| format!("schema '{name}' cannot be used: {e}")),
                });
        match compiled {
            Err(message) => {
                let message = message.clone();
                self.errors.push(ValidationError::new(
                    schema_at,
                    "schema",
                    message,
                    json!({ "schema": name }),
                ));
            }
            Ok(validator) => {
                for mut error in validator.validate_except(object, &is_data_function) {
                    error.instance_path = format!("{at}{}", error.instance_path);
                    self.errors.push(error);
                }
            }
        }
    }
}

/// Whether an action's actor entry names an actor: `*`, a service, a defined key, or a
/// name that a wildcard key (`person_*`) covers.
fn actor_is_known(actor: &str, actors: &[String]) -> bool {
    actor == "*"
        || actor.starts_with("service:")
        || actors.iter().any(|key| {
            key == actor
                || key
                    .strip_suffix('*')
                    .is_some_and(|prefix| actor.starts_with(prefix))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::yaml::from_yaml;
    use crate::schema::errors_text;
    use std::path::PathBuf;

    fn yaml(text: &str) -> Value {
        from_yaml(text).unwrap()
    }

    fn registry() -> SchemaRegistry {
        let mut registry = SchemaRegistry::new();
        registry.add(
            "actions/form-v1",
            json!({
                "$id": "schema:actions/form-v1",
                "type": "object",
                "additionalProperties": true,
                "properties": {"response": {}, "ui": {"type": "object", "additionalProperties": {"type": "object"}}},
                "required": ["response"]
            }),
        );
        registry.add(
            "messages/email-v1",
            json!({
                "type": "object",
                "properties": {"to": {"type": "string", "format": "email"}, "template": {"type": "string"}},
                "required": ["to", "template"]
            }),
        );
        registry
    }

    /// The errors of validating `text` (YAML).
    fn errors(text: &str) -> Vec<ValidationError> {
        validate(&yaml(text), &registry()).err().unwrap_or_default()
    }

    #[test]
    fn a_valid_scenario_passes() {
        let scenario = yaml(concat!(
            "actors:\n  client: ~\n  person_*: ~\nactions:\n",
            "  a: {actor: [client, person_2, person_*, '*', 'service:mail', !ref actors.x]}\n",
            "  b: {actor: client}\n  c: {actor: !ref vars.who}\n",
            "states:\n",
            "  '*':\n    transitions:\n      - on: a\n        goto: (cancelled)\n",
            "  initial:\n    on: a\n    goto: next\n",
            "  next:\n    transitions:\n      - on: b\n        goto: ~\n      - after: 5\n        goto: initial\n",
        ));
        assert_eq!(validate(&scenario, &registry()), Ok(()));
    }

    #[test]
    fn the_default_actor_is_defined_without_actors() {
        let text =
            "actions:\n  a: {actor: actor}\nstates:\n  initial:\n    on: a\n    goto: (done)\n";
        assert!(errors(text).is_empty());
        let text = "actors: {client: ~}\nactions:\n  a: {actor: actor}\nstates:\n  initial:\n    on: a\n    goto: (done)\n";
        assert_eq!(
            errors_text(&errors(text)),
            "data/actions/a/actor actor 'actor' is not defined"
        );
    }

    #[test]
    fn undefined_actors_are_reported_where_they_are() {
        let errors = errors(concat!(
            "actors: {client: ~, person_*: ~}\n",
            "actions:\n  request: {actor: [client, klant]}\n  other: {actor: persoon_1}\n",
            "states:\n  initial:\n    on: request\n    goto: (done)\n",
        ));
        assert_eq!(errors.len(), 2);
        assert_eq!(errors[0].instance_path, "/actions/request/actor/1");
        assert_eq!(errors[0].message, "actor 'klant' is not defined");
        assert_eq!(errors[0].keyword, "actor");
        assert_eq!(
            errors[0].params,
            json!({"actor": "klant", "allowedValues": ["client", "person_*"]})
        );
        assert_eq!(errors[1].instance_path, "/actions/other/actor");
        assert_eq!(errors[1].message, "actor 'persoon_1' is not defined");
    }

    #[test]
    fn undefined_goto_targets_are_reported() {
        let errors = errors(concat!(
            "states:\n",
            "  '*':\n    transitions:\n      - on: x\n        goto: nowhere\n",
            "  initial:\n    on: a\n    goto: nxet\n",
            "  next:\n    transitions:\n      - on: b\n        goto: '*'\n      - on: c\n        goto: (end)\n",
        ));
        assert_eq!(
            errors_text(&errors),
            "data/states/*/transitions/0/goto state 'nowhere' is not defined, \
             data/states/initial/goto state 'nxet' is not defined, \
             data/states/next/transitions/0/goto state '*' is not defined"
        );
        let errors = as_json(&errors);
        assert_eq!(
            errors[1]["params"],
            json!({"goto": "nxet", "allowedValues": ["initial", "next"]})
        );
    }

    /// The errors as JSON (the form the API returns).
    fn as_json(errors: &[ValidationError]) -> Vec<Value> {
        errors
            .iter()
            .map(|e| serde_json::to_value(e).unwrap())
            .collect()
    }

    #[test]
    fn objects_with_a_schema_key_must_satisfy_it() {
        let errors = errors(concat!(
            "actions:\n",
            "  ok: {schema: actions/form-v1, response: {}, description: !ref vars.t}\n",
            "  no_response: {schema: actions/form-v1, ui: {a: 1}}\n",
            "  unknown: {schema: actions/form-v2}\n",
            "states:\n",
            "  initial:\n    on: ok\n    goto: (done)\n",
            "    notify:\n      - service: mail\n        message: {schema: messages/email-v1, to: !ref actors.x.email, template: t}\n",
            "      - service: mail\n        message: {schema: messages/email-v1, to: nope}\n",
            "  (done):\n    schema: actions/form-v1\n",
        ));
        assert_eq!(
            errors_text(&errors),
            "data/actions/no_response must have required property 'response', \
             data/actions/no_response/ui/a must be object, \
             data/actions/unknown/schema schema 'actions/form-v2' is not found, \
             data/states/initial/notify/1/message must have required property 'template', \
             data/states/initial/notify/1/message/to must match format \"email\", \
             data/states/(done) must have required property 'response'"
        );
        assert_eq!(errors[2].params, json!({"schema": "actions/form-v2"}));
        assert_eq!(errors[2].keyword, "schema");
    }

    #[test]
    fn schema_ids_and_single_notify_entries_work_too() {
        let text = concat!(
            "actions:\n  a: {schema: 'schema:actions/form-v1'}\n",
            "states:\n  initial:\n    on: a\n    goto: (done)\n",
            "    notify: {service: mail, message: {schema: messages/email-v1, template: 1}}\n",
        );
        assert_eq!(
            errors_text(&errors(text)),
            "data/actions/a must have required property 'response', \
             data/states/initial/notify/message must have required property 'to', \
             data/states/initial/notify/message/template must be string"
        );
    }

    #[test]
    fn schema_errors_come_first_and_checks_still_run() {
        let errors = errors(concat!(
            "title: 1\nactors: {a: ~}\nactions:\n  go: {actor: b}\n",
            "states:\n  initial:\n    on: go\n    goto: next\n",
        ));
        assert_eq!(
            errors_text(&errors),
            "data/title must be string, data/actions/go/actor actor 'b' is not defined, \
             data/states/initial/goto state 'next' is not defined"
        );
        let missing = validate(&json!({"title": "x"}), &SchemaRegistry::new()).unwrap_err();
        assert_eq!(
            errors_text(&missing),
            "data must have required property 'states'"
        );
        let no_initial = validate(
            &yaml("states:\n  start: {on: a, goto: (done)}\n"),
            &SchemaRegistry::new(),
        )
        .unwrap_err();
        assert_eq!(
            errors_text(&no_initial),
            "data/states must have required property 'initial'"
        );
        assert_eq!(
            validate(&json!("text"), &SchemaRegistry::new()).map_err(|e| errors_text(&e)),
            Err("data must be object".to_string())
        );
    }

    #[test]
    fn forbidden_state_keys_are_explained() {
        let found = errors(concat!(
            "states:\n",
            "  initial:\n    after: 5\n    by: a\n    goto: (done)\n",
            "  other:\n    transitions: [{on: a, goto: (done)}]\n    goto: (done)\n",
            "  third:\n    transitions: [{after: 5, by: x, goto: (done)}]\n",
        ));
        assert_eq!(
            errors_text(&found),
            "data/states/initial must NOT have property 'by' when property 'after' is present, \
             data/states/other must NOT have property 'goto' when property 'transitions' is present, \
             data/states/third/transitions/0 must NOT have property 'by' when property 'after' is present"
        );
        assert_eq!(found[0].params, json!({"property": "by"}));
        let on_null = errors("states:\n  initial:\n    on: ~\n    by: a\n    goto: (done)\n");
        assert_eq!(
            errors_text(&on_null),
            "data/states/initial must NOT have property 'by' when 'on' is null, \
             data/states/initial must match \"then\" schema"
        );
    }

    #[test]
    fn a_registry_with_another_scenario_schema_is_used() {
        let mut registry = SchemaRegistry::new();
        registry.add(
            SCENARIO_SCHEMA,
            json!({"type": "object", "required": ["states", "title"]}),
        );
        let scenario = yaml("states:\n  initial: {on: a, goto: (done)}\n");
        assert_eq!(
            validate(&scenario, &registry).map_err(|e| errors_text(&e)),
            Err("data must have required property 'title'".to_string())
        );
        assert_eq!(validate(&scenario, &SchemaRegistry::new()), Ok(()));
    }

    /// `$LETSFLOW_SHARED_DIR`, else `../shared` beside the crate; `None` (printed) if absent.
    fn shared_dir() -> Option<PathBuf> {
        let dir = std::env::var_os("LETSFLOW_SHARED_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared"));
        if dir.join("golden").is_dir() {
            Some(dir)
        } else {
            println!("skipping: golden data not found at {}", dir.display());
            None
        }
    }

    #[test]
    fn the_golden_scenarios_are_valid() {
        let Some(shared) = shared_dir() else { return };
        let mut registry = SchemaRegistry::new();
        let loaded = registry
            .load_dir(&shared.join("conformance/testing/schemas"))
            .unwrap();
        assert_eq!(loaded, 3);
        let golden: Value = serde_json::from_str(
            &std::fs::read_to_string(shared.join("golden/scenarios.json")).unwrap(),
        )
        .unwrap();
        let golden = golden.as_object().unwrap();
        assert_eq!(golden.len(), 7);
        for (name, expected) in golden {
            let file = expected["file"].as_str().unwrap();
            let path = [
                shared.join("conformance/testing/scenarios").join(file),
                shared.join("conformance/core").join(file),
            ]
            .into_iter()
            .find(|p| p.is_file())
            .unwrap();
            let scenario = yaml(&std::fs::read_to_string(&path).unwrap());
            let result = validate(&scenario, &registry).map_err(|e| errors_text(&e));
            assert_eq!(expected["valid"], json!(true), "{name}");
            assert_eq!(result, Ok(()), "{name}");
        }
    }

    #[test]
    fn the_quote_scenario_fails_without_its_local_schemas() {
        let Some(shared) = shared_dir() else { return };
        let text = std::fs::read_to_string(shared.join("conformance/testing/scenarios/quote.yaml"))
            .unwrap();
        let errors = validate(&yaml(&text), &SchemaRegistry::new()).unwrap_err();
        assert_eq!(
            errors_text(&errors),
            "data/actions/request/schema schema 'actions/form-v1' is not found, \
             data/actions/create_quote/schema schema 'actions/draft-v1' is not found, \
             data/actions/reject/schema schema 'actions/form-v1' is not found, \
             data/actions/cancel/schema schema 'actions/form-v1' is not found, \
             data/states/quoted/notify/message/schema schema 'messages/email-v1' is not found, \
             data/states/(cancelled)/notify/message/schema schema 'messages/email-v1' is not found"
        );
    }
}
