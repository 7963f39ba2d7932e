//! The official JMESPath compliance suite (`<shared>/conformance/jmespath/*.json`), one
//! trial per case, named `file:group:case expression`.
//!
//! A case with `result` passes when the search gives that value (numbers compared by value);
//! a case with `error` passes when parsing or searching fails with the error kind the case
//! names. Cases marked `bench` are timing cases: they are ignored trials, which
//! `--ignored` runs to check that they evaluate without error.

mod common;

use letsflow::expr::jmespath::{Env, Expression, Runtime};
use letsflow::json::loose_eq;
use libtest_mimic::{Arguments, Failed, Trial};
use serde_json::Value;
use std::path::Path;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args = Arguments::from_args();
    let Some(shared) = common::shared_dir() else {
        return ExitCode::SUCCESS;
    };
    match trials(&shared.join("conformance/jmespath")) {
        Ok(trials) => libtest_mimic::run(&args, trials).exit_code(),
        Err(e) => {
            eprintln!("cannot load the compliance suite: {e}");
            ExitCode::FAILURE
        }
    }
}

/// One trial per case of every suite file except `_schema.json`, in file order.
fn trials(dir: &Path) -> Result<Vec<Trial>, String> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| {
            path.extension().is_some_and(|ext| ext == "json")
                && path.file_name().is_some_and(|name| name != "_schema.json")
        })
        .collect();
    files.sort();
    let mut trials = Vec::new();
    for path in files {
        let file = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_string();
        let text = std::fs::read_to_string(&path).map_err(|e| format!("{file}: {e}"))?;
        let groups: Value = serde_json::from_str(&text).map_err(|e| format!("{file}: {e}"))?;
        let groups = groups.as_array().ok_or(format!("{file}: not an array"))?;
        for (g, group) in groups.iter().enumerate() {
            let given = group.get("given").cloned().unwrap_or(Value::Null);
            let cases = group
                .get("cases")
                .and_then(Value::as_array)
                .ok_or(format!("{file}: group {g} has no cases"))?;
            for (c, case) in cases.iter().enumerate() {
                let expression = case
                    .get("expression")
                    .and_then(Value::as_str)
                    .ok_or(format!("{file}:{g}:{c} has no expression"))?
                    .to_string();
                let name = format!("{file}:{g}:{c} {}", one_line(&expression));
                let given = given.clone();
                if case.get("bench").is_some() {
                    let trial = Trial::test(name, move || run_bench(&expression, &given));
                    trials.push(trial.with_ignored_flag(true));
                    continue;
                }
                let expected = match (case.get("result"), case.get("error")) {
                    (Some(result), _) => Expected::Result(result.clone()),
                    (None, Some(kind)) => {
                        Expected::Error(kind.as_str().unwrap_or_default().to_string())
                    }
                    (None, None) => return Err(format!("{name}: neither result nor error")),
                };
                trials.push(Trial::test(name, move || {
                    run_case(&expression, &given, &expected)
                }));
            }
        }
    }
    Ok(trials)
}

/// The expression with line breaks and tabs written as `\n`, `\r`, `\t`, so that each
/// trial is one line (the `file:group:case` prefix keeps names unique).
fn one_line(expression: &str) -> String {
    expression
        .replace('\n', "\\n")
        .replace('\r', "\\r")
        .replace('\t', "\\t")
}

enum Expected {
    Result(Value),
    Error(String),
}

fn run_bench(expression: &str, given: &Value) -> Result<(), Failed> {
    let expr = Expression::parse(expression).map_err(|e| e.to_string())?;
    expr.search(given, &Env::new(Runtime::global()))
        .map(|_| ())
        .map_err(|e| e.to_string().into())
}

fn run_case(expression: &str, given: &Value, expected: &Expected) -> Result<(), Failed> {
    let env = Env::new(Runtime::global());
    let outcome = Expression::parse(expression).and_then(|expr| expr.search(given, &env));
    match (expected, outcome) {
        (Expected::Result(want), Ok(got)) if loose_eq(&got, want) => Ok(()),
        (Expected::Result(want), Ok(got)) => Err(format!("expected {want}, got {got}").into()),
        (Expected::Result(want), Err(e)) => Err(format!("expected {want}, got error: {e}").into()),
        (Expected::Error(kind), Err(e)) if e.kind() == kind => Ok(()),
        (Expected::Error(kind), Err(e)) => {
            Err(format!("expected a {kind} error, got a {} error: {e}", e.kind()).into())
        }
        (Expected::Error(kind), Ok(got)) => {
            Err(format!("expected a {kind} error, got {got}").into())
        }
    }
}
