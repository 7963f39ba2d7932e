//! Scenario loading, normalization and ids against the golden outputs of the reference
//! implementation (`shared/golden/`) and the core fixture (`shared/conformance/core/`).

mod common;

use letsflow::scenario::{load_file, normalize, scenario_id, validate::validate};
use letsflow::schema::SchemaRegistry;
use libtest_mimic::{Arguments, Failed, Trial};
use serde_json::Value;
use std::path::{Path, PathBuf};

fn main() {
    let args = Arguments::from_args();
    let Some(shared) = common::shared_dir() else {
        return;
    };
    let trials = match trials(&shared) {
        Ok(trials) => trials,
        Err(err) => {
            eprintln!("cannot set up the golden scenario tests: {err}");
            std::process::exit(1);
        }
    };
    libtest_mimic::run(&args, trials).exit();
}

fn read_json(path: &Path) -> Result<Value, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// The scenario file of a golden entry: `scenario.yaml` is the core fixture, the others
/// are in the test suite's scenario folder.
fn scenario_path(shared: &Path, file: &str) -> PathBuf {
    if file == "scenario.yaml" {
        shared.join("conformance/core/scenario.yaml")
    } else {
        shared.join("conformance/testing/scenarios").join(file)
    }
}

fn trials(shared: &Path) -> Result<Vec<Trial>, String> {
    let index = read_json(&shared.join("golden/scenarios.json"))?;
    let entries = index
        .as_object()
        .ok_or("golden/scenarios.json is not an object")?;
    let mut trials = Vec::new();
    for (name, entry) in entries {
        let file = entry
            .get("file")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("golden entry {name} has no file"))?;
        let path = scenario_path(shared, file);

        // A scenario the reference could not normalize must fail here too.
        if let Some(expected) = entry.get("normalize_error").and_then(Value::as_str) {
            let expected = expected.to_string();
            trials.push(Trial::test(format!("{name}: normalize error"), move || {
                let scenario = load_file(&path).map_err(|e| e.to_string())?;
                match normalize(&scenario) {
                    Ok(_) => {
                        Err(format!("normalized, but the reference failed: {expected}").into())
                    }
                    Err(_) => Ok(()),
                }
            }));
            continue;
        }

        let golden = shared.join(format!("golden/{name}.normalized.json"));
        let source = path.clone();
        trials.push(Trial::test(format!("{name}: normalized"), move || {
            let actual = load_and_normalize(&source)?;
            let expected = read_json(&golden)?;
            compare(&actual, &expected)
        }));

        let valid = entry.get("valid").and_then(Value::as_bool).unwrap_or(true);
        let schemas = shared.join("conformance/testing/schemas");
        let source = path.clone();
        trials.push(Trial::test(format!("{name}: validity"), move || {
            let mut registry = SchemaRegistry::new();
            registry.load_dir(&schemas).map_err(|e| e.to_string())?;
            let scenario = load_file(&source).map_err(|e| e.to_string())?;
            match (validate(&scenario, &registry), valid) {
                (Ok(()), true) | (Err(_), false) => Ok(()),
                (Ok(()), false) => Err("valid, but the reference found it invalid".into()),
                (Err(errors), true) => Err(format!(
                    "invalid, but the reference found it valid: {}",
                    letsflow::schema::errors_text(&errors)
                )
                .into()),
            }
        }));

        let expected_id = entry.get("id").and_then(Value::as_str).map(String::from);
        trials.push(Trial::test(format!("{name}: id"), move || {
            let expected = expected_id.ok_or("the golden entry has no id")?;
            let actual = scenario_id(&load_and_normalize(&path)?).to_string();
            if actual == expected {
                Ok(())
            } else {
                Err(format!("id {actual}, expected {expected}").into())
            }
        }));
    }

    let core = shared.join("conformance/core");
    let (yaml, json) = (core.join("scenario.yaml"), core.join("scenario.json"));
    trials.push(Trial::test("core: json equals yaml", move || {
        let from_yaml = load_file(&yaml).map_err(|e| e.to_string())?;
        let from_json = load_file(&json).map_err(|e| e.to_string())?;
        compare(&from_yaml, &from_json)
    }));

    // `scenario-normalized.json` of the core fixture is the same kind of output as the
    // golden `*.normalized.json` (checked: it equals `golden/scenario.normalized.json`
    // value for value), so it is compared in full, from both the YAML and the JSON source.
    for (name, source) in [
        ("core: normalized", "scenario.yaml"),
        ("core: normalized from json", "scenario.json"),
    ] {
        let path = core.join(source);
        let expected = core.join("scenario-normalized.json");
        trials.push(Trial::test(name, move || {
            compare(&load_and_normalize(&path)?, &read_json(&expected)?)
        }));
    }
    Ok(trials)
}

fn load_and_normalize(path: &Path) -> Result<Value, Failed> {
    let scenario = load_file(path).map_err(|e| e.to_string())?;
    Ok(normalize(&scenario).map_err(|e| format!("{}: {e}", path.display()))?)
}

fn compare(actual: &Value, expected: &Value) -> Result<(), Failed> {
    let diffs = common::json_diff(expected, actual);
    if diffs.is_empty() {
        return Ok(());
    }
    let total = diffs.len();
    let shown: Vec<String> = diffs.into_iter().take(40).collect();
    Err(format!("{total} difference(s):\n{}", shown.join("\n")).into())
}
