//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::PathBuf;

/// The `shared/` folder with the conformance data and golden outputs: `$LETSFLOW_SHARED_DIR`,
/// else `../shared` beside the crate. `None` (with the reason printed) when it is absent,
/// so that the conformance tests skip on a machine without it.
pub fn shared_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("LETSFLOW_SHARED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared"));
    if dir.join("conformance").is_dir() {
        Some(dir)
    } else {
        println!(
            "skipping: conformance data not found at {} (set LETSFLOW_SHARED_DIR)",
            dir.display()
        );
        None
    }
}

/// The differences between two JSON values, one line per differing path, with numbers
/// compared by value and objects regardless of key order. Empty when they are equal.
pub fn json_diff(expected: &serde_json::Value, actual: &serde_json::Value) -> Vec<String> {
    let mut out = Vec::new();
    diff_at("$", expected, actual, &mut out);
    out
}

fn diff_at(
    path: &str,
    expected: &serde_json::Value,
    actual: &serde_json::Value,
    out: &mut Vec<String>,
) {
    use serde_json::Value;
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for (k, ev) in e {
                match a.get(k) {
                    Some(av) => diff_at(&format!("{path}.{k}"), ev, av, out),
                    None => out.push(format!("{path}.{k}: missing (expected {ev})")),
                }
            }
            for (k, av) in a {
                if !e.contains_key(k) {
                    out.push(format!("{path}.{k}: unexpected {av}"));
                }
            }
        }
        (Value::Array(e), Value::Array(a)) if e.len() == a.len() => {
            for (i, (ev, av)) in e.iter().zip(a).enumerate() {
                diff_at(&format!("{path}[{i}]"), ev, av, out);
            }
        }
        _ if letsflow::json::loose_eq(expected, actual) => {}
        _ => out.push(format!("{path}: expected {expected}, got {actual}")),
    }
}
