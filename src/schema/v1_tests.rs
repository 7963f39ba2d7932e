//! Our v1.0 scenario schema against the official LetsFlow v1.0 documents (read at test
//! time from `../shared/conformance/schemas/v1.0`): both must agree on the conformance
//! scenarios and on a set of broken ones; the few deliberate differences are pinned here.

use super::*;
use crate::scenario::yaml::from_yaml;
use serde_json::{json, Value};
use std::path::PathBuf;

const SCENARIO: &str = "https://schemas.letsflow.io/v1.0/scenario";

/// `$LETSFLOW_SHARED_DIR`, else `../shared` beside the crate; `None` (printed) if absent.
fn shared_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("LETSFLOW_SHARED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared"));
    if dir.join("conformance").is_dir() {
        Some(dir)
    } else {
        println!("skipping: conformance data not found at {}", dir.display());
        None
    }
}

fn ours() -> Validator {
    let registry = SchemaRegistry::new();
    Validator::new(registry.get(SCENARIO).unwrap(), &registry).unwrap()
}

/// A validator of the official documents (they replace ours under the same ids).
fn theirs(shared: &std::path::Path) -> Validator {
    let mut registry = SchemaRegistry::new();
    for name in ["scenario", "actor", "action", "fn", "schema"] {
        let path = shared.join(format!("conformance/schemas/v1.0/{name}.json"));
        let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let id = doc["$id"].as_str().unwrap().to_string();
        registry.add(&id, doc);
    }
    Validator::new(registry.get(SCENARIO).unwrap(), &registry).unwrap()
}

fn yaml(text: &str) -> Value {
    from_yaml(text).unwrap()
}

const MINIMAL_STATES: &str = "states:\n  initial:\n    on: go\n    goto: (done)\n";

/// Scenarios both schemas accept.
fn valid_cases() -> Vec<(&'static str, Value)> {
    vec![
        ("minimal", yaml(MINIMAL_STATES)),
        (
            "null actors, actions and end state",
            yaml("actors:\n  a: ~\nactions:\n  go: ~\nstates:\n  initial:\n    on: go\n    goto: (done)\n  (done): ~\n"),
        ),
        (
            "timeouts, wildcard state, logs and notify",
            yaml(concat!(
                "states:\n",
                "  '*':\n    transitions:\n      - on: cancel\n        goto: (cancelled)\n",
                "  initial:\n    notify: [sms, {service: email, after: 1 day, trigger: ~}]\n",
                "    transitions:\n",
                "      - on: go\n        by: [a, b]\n        goto: next\n        log: false\n",
                "      - after: 300\n        goto: (late)\n        log: {title: Late}\n",
                "  next:\n    after: 2 weeks\n    goto: ~\n",
                "  (late):\n    tag: [late, timeout]\n",
            )),
        ),
        (
            "data functions",
            yaml(concat!(
                "actions:\n  go:\n    actor: !ref actors.x\n    if: !ref vars.ok\n    description: !tpl 'Hi {{ a }}'\n",
                "    update:\n      - set: !ref vars.path\n        value: 1\n        if: !ref vars.ok\n",
                "states:\n  initial:\n    title: !select {$: !ref vars.x, a: A, '*': B}\n    on: go\n    goto: (done)\n",
                "    instructions:\n      a: !tpl {template: 'x', view: {a: 1}, partials: {p: y}}\n",
            )),
        ),
        (
            "schemas in short and full form",
            yaml(concat!(
                "actors:\n  a:\n    role: [x, y]\n    properties:\n      name: string\n      age: !default 3\n",
                "  b:\n    type: object\n    properties: {id: {type: string}}\n",
                "vars:\n  v: string\n  w: {type: array, items: string}\n  x: !format uri\n",
                "result: {type: object, properties: {a: integer}}\n",
                "states:\n  initial:\n    on: go\n    goto: (done)\n",
            )),
        ),
        ("name with version", yaml(&format!("name: x\nversion: '1.0'\n{MINIMAL_STATES}"))),
    ]
}

/// Scenarios both schemas reject.
fn broken_cases() -> Vec<(&'static str, Value)> {
    let with_states = |states: &str| yaml(&format!("states:\n{states}"));
    vec![
        ("no states", json!({})),
        ("not an object", json!([1])),
        ("states without initial", with_states("  start:\n    on: go\n    goto: (done)\n")),
        ("states is a list", json!({"states": []})),
        ("initial is null", with_states("  initial: ~\n")),
        ("end state without parentheses", with_states("  initial:\n    on: go\n    goto: done\n  done: {}\n")),
        ("goto without on or after", with_states("  initial:\n    goto: (done)\n")),
        ("on without goto", with_states("  initial:\n    on: go\n")),
        ("on and after", with_states("  initial:\n    on: go\n    after: 5\n    goto: (done)\n")),
        ("by with after", with_states("  initial:\n    after: 5\n    by: a\n    goto: (done)\n")),
        ("by with on null", with_states("  initial:\n    on: ~\n    by: a\n    goto: (done)\n")),
        ("transitions and on", with_states("  initial:\n    on: go\n    goto: (done)\n    transitions: []\n")),
        ("transition without goto", with_states("  initial:\n    transitions:\n      - on: go\n")),
        ("transition without on or after", with_states("  initial:\n    transitions:\n      - goto: (done)\n")),
        ("transition by with after", with_states("  initial:\n    transitions:\n      - after: 5\n        by: a\n        goto: (done)\n")),
        ("bad time period", with_states("  initial:\n    after: 10 fortnights\n    goto: (done)\n")),
        ("negative time period", with_states("  initial:\n    after: -1\n    goto: (done)\n")),
        ("goto is a number", with_states("  initial:\n    on: go\n    goto: 1\n")),
        ("by is a number", with_states("  initial:\n    on: go\n    by: 1\n    goto: (done)\n")),
        ("log is true", with_states("  initial:\n    on: go\n    goto: (done)\n    log: true\n")),
        ("instructions value is a number", with_states("  initial:\n    on: go\n    goto: (done)\n    instructions: {a: 1}\n")),
        ("notify without service", with_states("  initial:\n    on: go\n    goto: (done)\n    notify: {after: 5}\n")),
        ("notify trigger is a number", with_states("  initial:\n    on: go\n    goto: (done)\n    notify: {service: s, trigger: 1}\n")),
        ("end state tag is a number", with_states("  initial:\n    on: go\n    goto: (done)\n  (done):\n    tag: 1\n")),
        ("state title is a number", with_states("  initial:\n    title: 1\n    on: go\n    goto: (done)\n")),
        ("ref is not a string", with_states("  initial:\n    title: {'<ref>': 1}\n    on: go\n    goto: (done)\n")),
        ("two data functions in one", with_states("  initial:\n    title: {'<ref>': a, '<tpl>': b}\n    on: go\n    goto: (done)\n")),
        ("select without $", with_states("  initial:\n    title: {'<select>': {a: 1}}\n    on: go\n    goto: (done)\n")),
        ("title is a number", yaml(&format!("title: 1\n{MINIMAL_STATES}"))),
        ("tags are numbers", yaml(&format!("tags: [1]\n{MINIMAL_STATES}"))),
        ("id is not a uuid", yaml(&format!("id: abc\n{MINIMAL_STATES}"))),
        ("name without version", yaml(&format!("name: x\n{MINIMAL_STATES}"))),
        ("actors is a list", yaml(&format!("actors: [a]\n{MINIMAL_STATES}"))),
        ("actor role is a number", yaml(&format!("actors:\n  a: {{role: 1}}\n{MINIMAL_STATES}"))),
        ("actor is a number", yaml(&format!("actors:\n  a: 1\n{MINIMAL_STATES}"))),
        ("action is a list", yaml(&format!("actions:\n  go: [1]\n{MINIMAL_STATES}"))),
        ("action title is a number", yaml(&format!("actions:\n  go: {{title: 1}}\n{MINIMAL_STATES}"))),
        ("action if is a string", yaml(&format!("actions:\n  go: {{if: 'yes'}}\n{MINIMAL_STATES}"))),
        ("action actor is a number", yaml(&format!("actions:\n  go: {{actor: 1}}\n{MINIMAL_STATES}"))),
        ("update without set", yaml(&format!("actions:\n  go:\n    update: {{value: 1}}\n{MINIMAL_STATES}"))),
        ("update mode unknown", yaml(&format!("actions:\n  go:\n    update: {{set: result, mode: overwrite}}\n{MINIMAL_STATES}"))),
        ("response is a number", yaml(&format!("actions:\n  go: {{response: 1}}\n{MINIMAL_STATES}"))),
        ("var schema is a number", yaml(&format!("vars:\n  x: 12\n{MINIMAL_STATES}"))),
        ("result type is a number", yaml(&format!("result: {{type: 12}}\n{MINIMAL_STATES}"))),
    ]
}

/// Where ours deliberately differs (valid for us, invalid for the official documents),
/// each following SPEC section 1 where the official schema is stricter by accident.
fn relaxed_cases() -> Vec<(&'static str, Value)> {
    vec![
        // SPEC 1.3: units are case-insensitive and a bare number is seconds.
        ("time period with capital unit", yaml("states:\n  initial:\n    after: 10 Days\n    goto: (done)\n")),
        ("time period without unit", yaml("states:\n  initial:\n    after: '10'\n    goto: (done)\n")),
        // `<select>` is a data function like the others (theirs matches it twice in a oneOf).
        (
            "notify message as select",
            yaml("states:\n  initial:\n    on: go\n    goto: (done)\n    notify:\n      service: s\n      message: !select {$: a, a: x}\n"),
        ),
        // A boolean is both a schema and a boolean (theirs: oneOf of the two).
        (
            "short-form actor with additionalProperties",
            yaml(&format!("actors:\n  a:\n    properties: {{name: string}}\n    additionalProperties: false\n{MINIMAL_STATES}")),
        ),
        // SPEC 1.3: any type name or a URI is a schema short form.
        ("var of type array", yaml(&format!("vars:\n  x: array\n{MINIMAL_STATES}"))),
        ("var as $ref URI", yaml(&format!("vars:\n  x: 'https://example.com/s'\n{MINIMAL_STATES}"))),
        // A view given as a data function (theirs: matches both branches of a oneOf).
        (
            "template view as ref",
            yaml("states:\n  initial:\n    on: go\n    goto: (done)\n    title: !tpl {template: x, view: !ref vars}\n"),
        ),
    ]
}

/// Where ours is stricter: a data function has exactly one key (the official `fn` schema
/// means this, but puts `additionalProperties: false` inside `properties`).
fn stricter_cases() -> Vec<(&'static str, Value)> {
    vec![(
        "data function with an extra key",
        yaml("states:\n  initial:\n    title: {'<ref>': a, x: 1}\n    on: go\n    goto: (done)\n"),
    )]
}

#[test]
fn our_schema_accepts_and_rejects_without_the_official_documents() {
    let ours = ours();
    for (name, scenario) in valid_cases().into_iter().chain(relaxed_cases()) {
        assert!(
            ours.is_valid(&scenario),
            "{name}: {}",
            errors_text(&ours.validate(&scenario))
        );
    }
    for (name, scenario) in broken_cases().into_iter().chain(stricter_cases()) {
        assert!(!ours.is_valid(&scenario), "{name} should be invalid");
        assert!(!ours.validate(&scenario).is_empty(), "{name} has errors");
    }
}

#[test]
fn ours_and_theirs_agree() {
    let Some(shared) = shared_dir() else { return };
    let (ours, theirs) = (ours(), theirs(&shared));

    let mut files: Vec<PathBuf> = std::fs::read_dir(shared.join("conformance/testing/scenarios"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files.push(shared.join("conformance/core/scenario.yaml"));
    assert_eq!(files.len(), 7);
    for file in &files {
        let scenario = yaml(&std::fs::read_to_string(file).unwrap());
        let name = file.display();
        assert!(
            theirs.is_valid(&scenario),
            "{name}: theirs: {}",
            errors_text(&theirs.validate(&scenario))
        );
        assert!(
            ours.is_valid(&scenario),
            "{name}: ours: {}",
            errors_text(&ours.validate(&scenario))
        );
    }
    let core_json: Value = serde_json::from_str(
        &std::fs::read_to_string(shared.join("conformance/core/scenario.json")).unwrap(),
    )
    .unwrap();
    assert!(theirs.is_valid(&core_json), "core/scenario.json: theirs");
    assert!(ours.is_valid(&core_json), "core/scenario.json: ours");
    for (name, scenario) in valid_cases() {
        assert!(
            theirs.is_valid(&scenario),
            "{name}: theirs: {}",
            errors_text(&theirs.validate(&scenario))
        );
        assert!(
            ours.is_valid(&scenario),
            "{name}: ours: {}",
            errors_text(&ours.validate(&scenario))
        );
    }
    for (name, scenario) in broken_cases() {
        assert!(!theirs.is_valid(&scenario), "{name}: theirs accepts it");
        assert!(!ours.is_valid(&scenario), "{name}: ours accepts it");
    }
    for (name, scenario) in relaxed_cases() {
        assert!(
            !theirs.is_valid(&scenario),
            "{name}: theirs accepts it now; drop the case"
        );
        assert!(
            ours.is_valid(&scenario),
            "{name}: ours: {}",
            errors_text(&ours.validate(&scenario))
        );
    }
    for (name, scenario) in stricter_cases() {
        assert!(
            theirs.is_valid(&scenario),
            "{name}: theirs rejects it now; drop the case"
        );
        assert!(!ours.is_valid(&scenario), "{name}: ours accepts it");
    }
}

#[test]
fn scenario_errors_read_like_ajv() {
    let ours = ours();
    assert_eq!(
        errors_text(&ours.validate(&json!({"title": "x"}))),
        "data must have required property 'states'"
    );
    let errors = ours.validate(&yaml("states:\n  start:\n    on: go\n    goto: (done)\n"));
    assert_eq!(
        errors_text(&errors),
        "data/states must have required property 'initial'"
    );
    assert_eq!(errors[0].params, json!({"missingProperty": "initial"}));
}

/// The reference implementation's `Response is invalid: …` texts in the golden traces:
/// validating the same response against the same (normalized) action schema gives the
/// same texts in the same order.
#[test]
fn response_errors_match_the_golden_traces() {
    let Some(shared) = shared_dir() else { return };
    let registry = SchemaRegistry::new();
    let prefix = "Response is invalid: ";
    let mut compared = 0;
    for entry in std::fs::read_dir(shared.join("golden")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let Some(stem) = name.strip_suffix(".traces.json") else {
            continue;
        };
        let read = |p: PathBuf| -> Value {
            serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
        };
        let scenario = read(shared.join(format!("golden/{stem}.normalized.json")));
        let traces = read(path.clone());
        for trace in traces.as_array().unwrap() {
            let ops = trace["ops"].as_array().unwrap();
            let snapshots = trace["snapshots"].as_array().unwrap();
            for (op, snapshot) in ops.iter().zip(&snapshots[1..]) {
                let expected: Vec<String> = snapshot["last"]["errors"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|e| e.as_str()?.strip_prefix(prefix).map(str::to_string))
                    .collect();
                // A timeout that fires nothing leaves the previous step as `last`.
                if expected.is_empty() || op["op"] != "step" {
                    continue;
                }
                let action = op["action"].as_str().unwrap();
                let mut schema = &scenario["actions"][action]["response"];
                // A data function `scenario.…` (the only kind used) points into the scenario.
                if let Some(path) = schema["<ref>"]
                    .as_str()
                    .and_then(|r| r.strip_prefix("scenario."))
                {
                    schema = path.split('.').fold(&scenario, |v, key| &v[key]);
                }
                let response = op.get("response").cloned().unwrap_or(Value::Null);
                let validator = Validator::new(schema, &registry).unwrap();
                let ours: Vec<String> = validator
                    .validate(&response)
                    .iter()
                    .map(ValidationError::text)
                    .collect();
                assert_eq!(ours, expected, "{stem}: {action} with {response}");
                compared += 1;
            }
        }
    }
    println!("{compared} golden response validations compared");
    assert!(
        compared > 100,
        "only {compared} golden response errors compared"
    );
}
