//! The machine-readable outputs of `letsflow test`: `--format junit` is well-formed XML
//! with the elements and attributes of the JUnit schema that CI servers read, and
//! `--format json` has the shape documented in docs/testsuite.md.

use serde_json::Value;
use std::process::{Command, Output};

fn run(format: &str, features: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_letsflow"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "test",
            "--scenarios",
            "examples/testsuite/scenarios",
            "--schemas",
            "examples/testsuite/schemas",
            "--format",
            format,
        ])
        .args(features)
        .output()
        .expect("run letsflow test")
}

/// Passing and failing features together, and a file that does not parse.
const MIXED: &[&str] = &[
    "examples/testsuite/features",
    "examples/testsuite/failing/features/wrong-state.feature",
    "examples/testsuite/failing/features/result-diff.feature",
    "examples/testsuite/failing/features/not-gherkin.feature",
];

fn attr<'a>(node: roxmltree::Node<'a, '_>, name: &str) -> &'a str {
    node.attribute(name)
        .unwrap_or_else(|| panic!("<{}> has no {name}", node.tag_name().name()))
}

fn count(node: roxmltree::Node<'_, '_>, name: &str) -> usize {
    attr(node, name)
        .parse()
        .unwrap_or_else(|_| panic!("{name} is not a count"))
}

fn is_seconds(text: &str) -> bool {
    text.parse::<f64>().is_ok_and(|t| t >= 0.0)
}

fn elements<'a, 'i>(node: roxmltree::Node<'a, 'i>) -> Vec<roxmltree::Node<'a, 'i>> {
    node.children().filter(|n| n.is_element()).collect()
}

#[test]
fn junit_output_follows_the_junit_schema() {
    let output = run("junit", MIXED);
    assert_eq!(output.status.code(), Some(1));
    let xml = String::from_utf8(output.stdout).expect("UTF-8");
    assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"));
    let doc = roxmltree::Document::parse(&xml).expect("well-formed XML");

    // <testsuites tests failures errors time>
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "testsuites");
    assert!(is_seconds(attr(root, "time")));
    let suites = elements(root);
    assert_eq!(suites.len(), 8, "one testsuite per feature file");

    let (mut tests, mut failures, mut errors) = (0, 0, 0);
    for suite in &suites {
        // <testsuite name tests failures errors skipped time> with <testcase> children only.
        assert_eq!(suite.tag_name().name(), "testsuite");
        assert!(!attr(*suite, "name").is_empty());
        assert!(attr(*suite, "file").ends_with(".feature"));
        assert!(is_seconds(attr(*suite, "time")));
        assert_eq!(count(*suite, "skipped"), 0);
        let cases = elements(*suite);
        assert_eq!(count(*suite, "tests"), cases.len());
        let (mut suite_failures, mut suite_errors) = (0, 0);
        for case in &cases {
            // <testcase name classname time> with at most one <failure> or <error>.
            assert_eq!(case.tag_name().name(), "testcase");
            assert!(!attr(*case, "name").is_empty());
            assert_eq!(attr(*case, "classname"), attr(*suite, "name"));
            assert!(is_seconds(attr(*case, "time")));
            let outcome = elements(*case);
            assert!(outcome.len() <= 1);
            if let Some(outcome) = outcome.first() {
                assert!(!attr(*outcome, "message").is_empty());
                assert!(!attr(*outcome, "type").is_empty());
                assert!(outcome.text().is_some_and(|t| !t.is_empty()));
                match outcome.tag_name().name() {
                    "failure" => suite_failures += 1,
                    "error" => suite_errors += 1,
                    other => panic!("unexpected <{other}> in <testcase>"),
                }
            }
        }
        assert_eq!(count(*suite, "failures"), suite_failures);
        assert_eq!(count(*suite, "errors"), suite_errors);
        tests += cases.len();
        failures += suite_failures;
        errors += suite_errors;
    }
    assert_eq!(count(root, "tests"), tests);
    assert_eq!(count(root, "failures"), failures);
    assert_eq!(count(root, "errors"), errors);
    assert_eq!((tests, failures, errors), (16, 2, 1));

    // The failure tells what failed, where, and why.
    let failure = doc
        .descendants()
        .filter(|n| n.has_tag_name("failure"))
        .find(|n| n.text().is_some_and(|t| t.contains("result-diff.feature")))
        .expect("the failure of result-diff.feature");
    assert_eq!(
        attr(failure, "message"),
        "The process result is not as expected"
    );
    assert_eq!(
        failure.text(),
        Some(
            "Then the process ended with:\n\
             at examples/testsuite/failing/features/result-diff.feature:18\n\
             The process result is not as expected\n  \
             $.condition: expected \"good\", got \"damaged\"\n  \
             $.extensions: expected 1, got 0"
        )
    );
}

fn keys(value: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = value
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort();
    keys
}

#[test]
fn json_output_has_the_documented_shape() {
    let output = run("json", MIXED);
    assert_eq!(output.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(keys(&report), ["features", "summary"]);

    let features = report["features"].as_array().expect("features");
    assert_eq!(features.len(), 8);
    let (mut scenarios, mut steps) = (0, 0);
    for feature in features {
        let k = keys(feature);
        assert!(
            k == ["file", "name", "scenarios"] || k == ["error", "file", "name", "scenarios"],
            "{k:?}"
        );
        assert!(feature["file"]
            .as_str()
            .is_some_and(|f| f.ends_with(".feature")));
        assert!(feature["name"].is_string());
        for scenario in feature["scenarios"].as_array().expect("scenarios") {
            scenarios += 1;
            assert_eq!(keys(scenario), ["line", "name", "status", "steps"]);
            assert!(scenario["line"].is_u64() && scenario["name"].is_string());
            assert!(["passed", "failed"].contains(&scenario["status"].as_str().unwrap_or("")));
            for step in scenario["steps"].as_array().expect("steps") {
                steps += 1;
                let k = keys(step);
                let status = step["status"].as_str().unwrap_or("");
                if status == "failed" {
                    assert_eq!(k, ["error", "keyword", "line", "status", "text"]);
                    assert!(step["error"].is_string());
                } else {
                    assert_eq!(k, ["keyword", "line", "status", "text"]);
                    assert!(["passed", "skipped"].contains(&status));
                }
                assert!(["Given", "When", "Then", "And", "But", "*"]
                    .contains(&step["keyword"].as_str().unwrap_or("")));
                assert!(step["line"].is_u64() && step["text"].is_string());
            }
        }
    }
    assert_eq!(
        report["summary"],
        serde_json::json!({
            "scenarios": {"total": scenarios, "passed": 13, "failed": 2},
            "steps": {"total": steps, "passed": 204, "failed": 2, "skipped": 1},
            "errors": 1,
        })
    );
}
