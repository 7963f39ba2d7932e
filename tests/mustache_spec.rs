//! The official Mustache spec tests (`<shared>/conformance/mustache/*.json`), one trial per
//! case, named `file: name`. LetsFlow renders without HTML escaping, so where a case's
//! expected output holds HTML entities the expectation is that text with them decoded.
mod common;

use std::path::Path;
use std::process::ExitCode;

use letsflow::expr::mustache;
use libtest_mimic::{Arguments, Failed, Trial};
use serde_json::{Map, Value};

fn main() -> ExitCode {
    let args = Arguments::from_args();
    let Some(shared) = common::shared_dir() else {
        return ExitCode::SUCCESS;
    };
    let dir = shared.join("conformance").join("mustache");
    let trials = match trials(&dir) {
        Ok(trials) => trials,
        Err(error) => vec![Trial::test(format!("load {}", dir.display()), move || {
            Err(error.into())
        })],
    };
    libtest_mimic::run(&args, trials).exit_code()
}

/// One trial per case of every `*.json` file in `dir`, in file-name order.
fn trials(dir: &Path) -> Result<Vec<Trial>, String> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    files.sort();

    let mut trials = Vec::new();
    for path in files {
        let file = path
            .file_stem()
            .map(|stem| stem.to_string_lossy().into_owned())
            .unwrap_or_default();
        let text = std::fs::read_to_string(&path).map_err(|e| format!("{file}: {e}"))?;
        let suite: Value = serde_json::from_str(&text).map_err(|e| format!("{file}: {e}"))?;
        let cases = suite
            .get("tests")
            .and_then(Value::as_array)
            .ok_or_else(|| format!("{file}: no `tests` list"))?;
        for case in cases {
            let name = case.get("name").and_then(Value::as_str).unwrap_or("?");
            let case = case.clone();
            trials.push(Trial::test(format!("{file}: {name}"), move || check(&case)));
        }
    }
    Ok(trials)
}

/// Renders one case and compares it with its (unescaped) expected output.
fn check(case: &Value) -> Result<(), Failed> {
    let template = case
        .get("template")
        .and_then(Value::as_str)
        .ok_or("case without a template")?;
    let expected = case
        .get("expected")
        .and_then(Value::as_str)
        .ok_or("case without an expected output")?;
    let data = case.get("data").cloned().unwrap_or(Value::Null);
    let partials = match case.get("partials") {
        Some(Value::Object(partials)) => partials.clone(),
        _ => Map::new(),
    };
    let expected = unescape_html(expected);
    let actual = mustache::render(template, &data, &partials).map_err(|e| e.to_string())?;
    if actual == expected {
        Ok(())
    } else {
        Err(format!(
            "template: {template:?}\ndata:     {data}\nexpected: {expected:?}\nactual:   {actual:?}"
        )
        .into())
    }
}

/// The HTML entities a Mustache renderer escapes with, decoded (`&amp;` last, so that
/// `&amp;lt;` becomes `&lt;`).
fn unescape_html(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}
