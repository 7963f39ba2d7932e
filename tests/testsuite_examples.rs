//! `letsflow test` on the project's own examples (examples/testsuite, and the multi-party
//! scenarios of examples/scenarios with examples/features): the features pass, and each
//! feature under `failing/` fails with exactly the message a person needs.

use serde_json::Value;
use std::process::{Command, Output};

const SCENARIOS: &str = "examples/testsuite/scenarios";
const SCHEMAS: &str = "examples/testsuite/schemas";

/// Runs `letsflow test ARGS…` in the crate folder, so paths in messages are relative.
fn letsflow_test(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_letsflow"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .arg("test")
        .args(args)
        .output()
        .expect("run letsflow test")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn examples_pass() {
    let output = letsflow_test(&[
        "--scenarios",
        SCENARIOS,
        "--schemas",
        SCHEMAS,
        "examples/testsuite/features",
    ]);
    let text = stdout(&output);
    assert!(
        text.contains("13 scenarios (13 passed, 0 failed)\n")
            && text.contains("194 steps (194 passed, 0 failed, 0 skipped)\n"),
        "{text}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success());
}

/// The multi-party scenarios of `examples/scenarios` (purchase order, document approval,
/// quote) and their features in `examples/features`.
#[test]
fn multi_party_examples_pass() {
    let output = letsflow_test(&["--scenarios", "examples/scenarios", "examples/features"]);
    let text = stdout(&output);
    assert!(
        text.contains("12 scenarios (12 passed, 0 failed)\n")
            && text.contains("164 steps (164 passed, 0 failed, 0 skipped)\n"),
        "{text}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for feature in ["purchase", "document", "quote"] {
        assert!(
            text.contains(&format!("# examples/features/{feature}/01-")),
            "{feature}: {text}"
        );
    }
    assert!(output.status.success());
}

#[test]
fn scenario_folder_comes_from_the_environment() {
    let output = Command::new(env!("CARGO_BIN_EXE_letsflow"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("LETSFLOW_SCENARIO_PATH", SCENARIOS)
        .args([
            "test",
            "--schemas",
            SCHEMAS,
            "examples/testsuite/features/tally",
        ])
        .output()
        .expect("run letsflow test");
    assert!(output.status.success(), "{}", stdout(&output));
}

/// Runs one failing feature with `--format json` and returns the report and exit code.
fn run_failing(feature: &str, scenarios: &str) -> (Value, Option<i32>) {
    let path = format!("examples/testsuite/failing/features/{feature}");
    let output = letsflow_test(&[
        "--scenarios",
        scenarios,
        "--schemas",
        SCHEMAS,
        "--format",
        "json",
        &path,
    ]);
    let report = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!("{feature}: not JSON ({e}):\n{}", stdout(&output));
    });
    (report, output.status.code())
}

/// The error of the one failing step of the report, with its line.
fn failed_step(report: &Value) -> (u64, String) {
    let failed: Vec<&Value> = report["features"][0]["scenarios"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|s| s["steps"].as_array().into_iter().flatten())
        .filter(|s| s["status"] == "failed")
        .collect();
    assert_eq!(failed.len(), 1, "{report:#}");
    (
        failed[0]["line"].as_u64().unwrap_or_default(),
        failed[0]["error"].as_str().unwrap_or_default().to_string(),
    )
}

#[test]
fn failing_examples_report_what_went_wrong() {
    let cases: &[(&str, &str, u64, &str)] = &[
        (
            "wrong-state.feature",
            SCENARIOS,
            12,
            "The process is not in the expected state\n  expected: \"ready\"\n  actual:   \"requested\"",
        ),
        (
            "skipped-action.feature",
            SCENARIOS,
            18,
            "The process is not in the expected state\n  expected: \"on_loan\"\n  actual:   \"ready\"\n\
             The last event, action 'hand_out' by actor 'librarian', was skipped:\n  \
             - User is not allowed to perform as actor 'librarian'",
        ),
        (
            "result-diff.feature",
            SCENARIOS,
            18,
            "The process result is not as expected\n  $.condition: expected \"good\", got \"damaged\"\n  \
             $.extensions: expected 1, got 0",
        ),
        (
            "undefined-step.feature",
            SCENARIOS,
            7,
            "Undefined step. The closest known step is: \"NAME\" does \"ACTION\"",
        ),
        (
            "invalid-scenario.feature",
            "examples/testsuite/failing/scenarios",
            6,
            "Scenario \"broken\" (examples/testsuite/failing/scenarios/broken.yaml) is invalid:\n  \
             /states/initial/goto: state 'shipped' is not defined",
        ),
        (
            "missing-scenario.feature",
            SCENARIOS,
            5,
            "Scenario \"lending\" not found: no lending.json, lending.yaml or lending.yml in examples/testsuite/scenarios",
        ),
        (
            "not-notified.feature",
            SCENARIOS,
            11,
            "Service 'mail' was not notified\n  notified: catalog",
        ),
        (
            "unknown-actor.feature",
            SCENARIOS,
            7,
            "\"Max\" is not an actor in the \"main\" process (actors: \"Mia\"); add a step like '\"Max\" is the \"KEY\" actor'",
        ),
        (
            "other-error.feature",
            SCENARIOS,
            10,
            "The last event, action 'request' by actor 'member', is skipped, but not with the expected error(s)\n  \
             missing: Response is invalid: data must have required property 'name'\n  \
             actual:  Response is invalid: data must have required property 'book'",
        ),
    ];
    let mut seen = vec!["not-gherkin.feature".to_string()];
    for (feature, scenarios, line, expected) in cases {
        let (report, code) = run_failing(feature, scenarios);
        assert_eq!(code, Some(1), "{feature}: exit code");
        assert_eq!(report["summary"]["scenarios"]["failed"], 1, "{feature}");
        assert_eq!(
            failed_step(&report),
            (*line, expected.to_string()),
            "{feature}"
        );
        seen.push(feature.to_string());
    }

    // Every failing example is checked here.
    let mut files: Vec<String> = std::fs::read_dir(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("examples/testsuite/failing/features"),
    )
    .expect("failing features")
    .filter_map(|e| e.ok()?.file_name().into_string().ok())
    .collect();
    files.sort();
    seen.sort();
    assert_eq!(files, seen);
}

#[test]
fn steps_after_a_failure_are_skipped() {
    let output = letsflow_test(&[
        "--scenarios",
        SCENARIOS,
        "--schemas",
        SCHEMAS,
        "examples/testsuite/failing/features/wrong-state.feature",
    ]);
    let text = stdout(&output);
    assert!(text.contains(
        "  ✗ Scenario: Expecting the book on the shelf too soon  # examples/testsuite/failing/features/wrong-state.feature:5\n"
    ), "{text}");
    assert!(text.contains(
        "      ✗ Then the process is in \"ready\"\n        at examples/testsuite/failing/features/wrong-state.feature:12\n"
    ), "{text}");
    assert!(
        text.contains("      - And service \"catalog\" is notified\n"),
        "{text}"
    );
    assert!(
        text.ends_with(
            "1 scenarios (0 passed, 1 failed)\n5 steps (3 passed, 1 failed, 1 skipped)\n"
        ),
        "{text}"
    );
    assert_eq!(output.status.code(), Some(1));
}

#[test]
fn a_file_that_is_not_gherkin_fails_the_run() {
    let (report, code) = run_failing("not-gherkin.feature", SCENARIOS);
    assert_eq!(code, Some(1));
    assert_eq!(
        report["features"][0]["error"],
        "is not valid Gherkin: the doc string opened at line 7 is not closed"
    );
    assert_eq!(report["summary"]["errors"], 1);
}

#[test]
fn a_missing_path_is_bad_input() {
    let output = letsflow_test(&["--scenarios", SCENARIOS, "examples/testsuite/nowhere"]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        "error: examples/testsuite/nowhere: no such file or folder\n"
    );
}
