//! The `letsflow` command line, run as a real binary.

use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn letsflow(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_letsflow"))
        .args(args)
        .output()
        .expect("run letsflow")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A fresh temporary folder for one test.
fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("letsflow-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write");
    path.to_string_lossy().into_owned()
}

const EXAMPLE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/examples/scenarios/approval.yaml"
);

#[test]
fn validate_accepts_a_valid_scenario() {
    let out = letsflow(&["scenario", "validate", EXAMPLE]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).ends_with("approval.yaml: valid\n"));
}

#[test]
fn validate_lists_the_errors_of_an_invalid_scenario() {
    let dir = temp_dir("invalid");
    let file = write(
        &dir,
        "bad.yaml",
        "actors:\n  client: {}\nactions:\n  go:\n    actor: klant\nstates:\n  initial:\n    on: go\n    goto: nowhere\n",
    );
    let out = letsflow(&["scenario", "validate", &file]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(text.lines().count() >= 2, "{text}");
    assert!(text.contains("klant"), "{text}");
    assert!(text.contains("nowhere"), "{text}");
}

/// Typos keep a scenario valid (the reference accepts them) but are warned about, with
/// the line and column of the key; `--strict` makes them errors.
#[test]
fn validate_warns_about_typos_and_strict_refuses_them() {
    let dir = temp_dir("warnings");
    let file = write(
        &dir,
        "typo.yaml",
        "\
actors:
  employee: {}
actions:
  submit:
    actr: employee
states:
  initial:
    instrucions:
      employee: Submit it
    on: submit
    goto: review
  review:
    on: finish
    goto: (done)
",
    );
    let out = letsflow(&["scenario", "validate", &file]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let expected = format!(
        "{file}:5:5: warning: /actions/submit/actr: unknown key 'actr' is ignored (did you mean 'actor'?)\n\
         {file}:8:5: warning: /states/initial/instrucions: unknown key 'instrucions' is ignored (did you mean 'instructions'?)\n\
         {file}:13:5: warning: /states/review/on: action 'finish' is not defined in actions; an implicit action 'review.finish' is created\n\
         {file}: valid, with 3 warnings\n"
    );
    assert_eq!(stdout(&out), expected);

    let out = letsflow(&["scenario", "validate", "--strict", &file]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stdout(&out),
        expected.replace(&format!("{file}: valid, with 3 warnings\n"), "")
    );
}

#[test]
fn validation_errors_of_a_yaml_file_are_located() {
    let dir = temp_dir("located");
    let file = write(
        &dir,
        "bad.yaml",
        "name: x\nstates:\n  initial:\n    transitions:\n      - on: go\n        goto: nowhere\n",
    );
    let out = letsflow(&["scenario", "validate", &file]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stdout(&out),
        format!(
            "{file}: error: /: must have property version when property name is present\n\
             {file}:6:9: error: /states/initial/transitions/0/goto: state 'nowhere' is not defined\n"
        )
    );
}

#[test]
fn normalize_and_id_agree() {
    let out = letsflow(&["scenario", "normalize", EXAMPLE]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let normalized: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(normalized["title"], json!("Expense approval"));
    assert_eq!(
        normalized["states"]["(rejected)"]["tag"],
        json!(["(rejected)"])
    );
    assert_eq!(
        normalized["states"]["review"]["transitions"][2]["after"],
        json!(604800)
    );

    let out = letsflow(&["scenario", "id", EXAMPLE]);
    let id = stdout(&out).trim().to_string();
    let expected = letsflow::scenario::id::scenario_id(&normalized).to_string();
    assert_eq!(id, expected);
}

#[test]
fn malformed_scenario_files_give_a_one_line_error_and_exit_2() {
    let dir = temp_dir("malformed");
    let file = write(&dir, "broken.yaml", "states:\n  initial: [unclosed\n");
    for args in [
        vec!["scenario", "normalize", file.as_str()],
        vec!["scenario", "id", file.as_str()],
        vec!["scenario", "validate", file.as_str()],
    ] {
        let out = letsflow(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = stderr(&out);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.starts_with("error: ") && err.contains("broken.yaml"),
            "{err}"
        );
    }
    let out = letsflow(&["scenario", "id", "/nonexistent/scenario.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("/nonexistent/scenario.yaml"));
}

#[test]
fn run_prints_a_snapshot_after_each_op() {
    let dir = temp_dir("run");
    let ops = write(
        &dir,
        "ops.json",
        &json!([
            {"op": "step", "action": "submit", "actor": {"key": "employee"}, "response": {"amount": 5}},
            {"op": "step", "action": "submit", "actor": {"key": "employee"}, "response": {"amount": 5, "reason": "taxi"}},
            {"op": "timeout", "seconds": 3600},
            {"op": "timeout", "seconds": 604800}
        ])
        .to_string(),
    );
    let out = letsflow(&[
        "run",
        EXAMPLE,
        "--ops",
        &ops,
        "--id",
        "00000000-0000-4000-8000-00000000000a",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let snapshots: Vec<Value> = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(snapshots.len(), 5);
    assert_eq!(snapshots[0]["last"], json!({"instantiate": true}));
    assert_eq!(snapshots[0]["next"], json!(["review", "payment", "(paid)"]));
    assert_eq!(
        snapshots[1]["last"]["errors"],
        json!(["Response is invalid: data must have required property 'reason'"])
    );
    assert_eq!(snapshots[2]["current"]["key"], json!("review"));
    assert_eq!(snapshots[2]["vars"]["reference"], json!("EXP-5"));
    assert_eq!(
        snapshots[3]["events"],
        json!(3),
        "no timeout is due after an hour"
    );
    assert_eq!(snapshots[4]["current"]["key"], json!("(expired)"));
    assert_eq!(snapshots[4]["last"], json!({"timeout": true}));
    assert_eq!(snapshots[4]["isRunning"], json!(false));
}

#[test]
fn run_reports_bad_ops_files() {
    let dir = temp_dir("badops");
    let ops = write(&dir, "ops.json", "[{\"op\": \"jump\"}]");
    let out = letsflow(&["run", EXAMPLE, "--ops", &ops]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("ops.json") && err.contains("jump"), "{err}");

    let ops = write(
        &dir,
        "noactor.json",
        "[{\"op\": \"step\", \"action\": \"submit\", \"actor\": {}}]",
    );
    let out = letsflow(&["run", EXAMPLE, "--ops", &ops]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("op 0: the actor has no \"key\""),
        "{}",
        stderr(&out)
    );
}

/// SPEC 2.10: when a simulated step of the prediction fails, the snapshot's `next` is
/// `"error: "` and the error text, as in the reference's golden traces.
#[test]
fn run_prints_a_failing_prediction_as_an_error() {
    let dir = temp_dir("predict-error");
    let file = write(
        &dir,
        "count.yaml",
        "actions:\n  count:\n    update:\n      set: vars.total\n      value: !ref current.response.members + `1`\n\
         states:\n  initial:\n    on: count\n    goto: (counted)\n",
    );
    let ops = write(&dir, "ops.json", "[]");
    let out = letsflow(&["run", &file, "--ops", &ops]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let snapshots: Vec<Value> = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(
        snapshots[0]["next"],
        json!(
            "error: Failed to evaluate JMESPath expression: current.response.members + `1`. \
               invalid type: '+' expects two numbers or two strings, received null and a number"
        )
    );
}

/// `run` runs only what `scenario validate` (and the server) accept: an invalid scenario
/// gives its errors, located, and exit code 1.
#[test]
fn run_refuses_an_invalid_scenario() {
    let dir = temp_dir("run-invalid");
    let file = write(
        &dir,
        "bad.yaml",
        "actors:\n  client: {}\nstates:\n  initial:\n    on: go\n    goto: nowhere\n",
    );
    let ops = write(&dir, "ops.json", "[]");
    let out = letsflow(&["run", &file, "--ops", &ops]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert_eq!(stdout(&out), "");
    assert_eq!(
        stderr(&out),
        format!("{file}:6:5: error: /states/initial/goto: state 'nowhere' is not defined\n")
    );
}

/// A redb store in `data` with three approval processes: `p-ok` consistent, `p-stale` with a
/// wrong view and no timer, `p-forged` with a tampered last event.
fn store_with_problems(data: &Path) {
    use letsflow::engine::Engine;
    use letsflow::process::{Event, StepActor, Timestamp};
    use letsflow::schema::SchemaRegistry;
    use letsflow::store::{AppendBatch, RedbStore, Store};
    use std::sync::Arc;

    let store: Arc<dyn Store> = Arc::new(RedbStore::open(data).expect("open"));
    let engine = Engine::new(store.clone(), SchemaRegistry::new());
    let raw = letsflow::scenario::load_file(Path::new(EXAMPLE)).expect("scenario");
    let at = Timestamp::parse("2026-01-01T00:00:00Z").expect("time");
    let (scenario, _) = engine.add_scenario(&raw, at).expect("add");
    let employee = StepActor::key("employee");
    let claim = json!({"amount": 12, "reason": "taxi"});
    for id in ["p-ok", "p-stale", "p-forged"] {
        engine
            .start(&scenario, id, serde_json::Map::new(), at)
            .expect("start");
        let (outcome, _) = engine
            .step(id, "submit", &employee, Some(claim.clone()), at)
            .expect("step");
        assert!(!outcome.skipped, "{:?}", outcome.errors);
    }
    store
        .put_view("p-stale", &json!({"title": "wrong", "actors": {}}))
        .expect("put view");
    store.set_timer("p-stale", Some(at)).expect("set timer");

    // An event appended with a valid link but content changed after hashing.
    let last = store
        .events("p-forged")
        .expect("events")
        .pop()
        .expect("event");
    let mut forged = match last {
        Event::Action(mut e) => {
            e.previous = e.hash.clone();
            e.timestamp = at.plus_seconds(1.0);
            e.action = "approve".into();
            e.actor = json!({"key": "manager"}).as_object().cloned().expect("map");
            e.response = None;
            Event::Action(e)
        }
        other => panic!("unexpected {other:?}"),
    };
    forged.rehash();
    if let Event::Action(e) = &mut forged {
        e.action = "reject".into();
    }
    let view = store.view("p-forged").expect("view").expect("some");
    store
        .append(
            "p-forged",
            AppendBatch {
                events: vec![forged],
                view,
                timer: None,
                outbox: vec![],
            },
        )
        .expect("append");
}

fn store_check(dir: &Path, repair: bool) -> Output {
    let mut args = vec!["store", "check", "--data", "data"];
    if repair {
        args.push("--repair");
    }
    Command::new(env!("CARGO_BIN_EXE_letsflow"))
        .args(&args)
        .current_dir(dir)
        .env_remove("LETSFLOW_DATA")
        .env_remove("LETSFLOW_CONFIG")
        .output()
        .expect("run letsflow")
}

#[test]
fn store_check_finds_stale_projections_and_forged_events_and_repairs_projections() {
    let dir = temp_dir("store-check");
    store_with_problems(&dir.join("data"));

    let out = store_check(&dir, false);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(
        lines[0].starts_with("p-forged: broken: the events do not replay: "),
        "{text}"
    );
    assert_eq!(
        lines[1],
        "p-stale: stored view and timer differ from the events"
    );
    assert!(
        lines[2].starts_with("3 processes checked in ")
            && lines[2]
                .ends_with("s: 1 consistent, 1 with stale projections (0 repaired), 1 broken"),
        "{text}"
    );
    assert!(
        stderr(&out).contains("run again with --repair"),
        "{}",
        stderr(&out)
    );

    let out = store_check(&dir, true);
    assert_eq!(
        out.status.code(),
        Some(1),
        "the forged process stays broken"
    );
    assert!(
        stdout(&out).contains("p-stale: stored view and timer differ from the events (repaired)"),
        "{}",
        stdout(&out)
    );

    // Repaired: only the forged process is left, and the view is the replayed one.
    let out = store_check(&dir, false);
    let text = stdout(&out);
    assert!(!text.contains("p-stale"), "{text}");
    assert!(
        text.contains("2 consistent, 0 with stale projections (0 repaired), 1 broken"),
        "{text}"
    );
    let store = letsflow::store::RedbStore::open(dir.join("data")).expect("open");
    use letsflow::store::ProcessStore;
    let view = store.view("p-stale").expect("view").expect("some");
    assert_eq!(view["current"]["key"], "review");
    assert_eq!(view["title"], "Expense approval");
    assert_eq!(view["created"], "2026-01-01T00:00:00.000Z");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn store_check_of_a_consistent_store_exits_0() {
    let dir = temp_dir("store-check-ok");
    let out = store_check(&dir, false);
    // An empty store (created on open) is consistent.
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).starts_with("0 processes checked in "),
        "{}",
        stdout(&out)
    );
    let _ = std::fs::remove_dir_all(&dir);
}
