//! Every golden trace of the reference implementation, replayed with `letsflow run`:
//! each snapshot (after instantiate and after every op) must equal the golden one.

mod common;

use libtest_mimic::{Arguments, Failed, Trial};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let args = Arguments::from_args();
    let Some(shared) = common::shared_dir() else {
        return;
    };
    let mut trials = Vec::new();
    let golden = shared.join("golden");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&golden)
        .expect("golden folder")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with(".traces.json"))
        .collect();
    files.sort();
    for file in files {
        let name = file
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".traces.json"))
            .expect("trace file name")
            .to_string();
        let scenario = scenario_file(&shared, &name);
        let traces: Vec<Value> =
            serde_json::from_str(&std::fs::read_to_string(&file).expect("read traces"))
                .expect("parse traces");
        for (i, trace) in traces.into_iter().enumerate() {
            let scenario = scenario.clone();
            let schemas = shared.join("conformance/testing/schemas");
            trials.push(Trial::test(format!("{name}: trace {i}"), move || {
                check_trace(&scenario, &schemas, &trace)
            }));
        }
    }
    libtest_mimic::run(&args, trials).exit();
}

fn scenario_file(shared: &Path, name: &str) -> PathBuf {
    if name == "scenario" {
        shared.join("conformance/core/scenario.yaml")
    } else {
        shared.join(format!("conformance/testing/scenarios/{name}.yaml"))
    }
}

fn check_trace(scenario: &Path, schemas: &Path, trace: &Value) -> Result<(), Failed> {
    let dir = std::env::temp_dir().join(format!("letsflow-golden-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let ops_file = dir.join(format!(
        "{}.json",
        blake3::hash(trace.to_string().as_bytes()).to_hex()
    ));
    std::fs::write(&ops_file, trace["ops"].to_string())?;

    let output = Command::new(env!("CARGO_BIN_EXE_letsflow"))
        .arg("run")
        .arg(scenario)
        .arg("--ops")
        .arg(&ops_file)
        .arg("--id")
        .arg(trace["process_id"].as_str().unwrap_or_default())
        .arg("--schemas")
        .arg(schemas)
        .output()?;
    let _ = std::fs::remove_file(&ops_file);
    if !output.status.success() {
        return Err(format!(
            "letsflow run failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        )
        .into());
    }
    let actual: Value = serde_json::from_slice(&output.stdout)?;
    let expected = trace["snapshots"].as_array().cloned().unwrap_or_default();
    let actual = actual.as_array().cloned().unwrap_or_default();
    if expected.len() != actual.len() {
        return Err(format!(
            "expected {} snapshots, got {}",
            expected.len(),
            actual.len()
        )
        .into());
    }
    let ops = trace["ops"].as_array().cloned().unwrap_or_default();
    for (i, (e, a)) in expected.iter().zip(&actual).enumerate() {
        let diff = common::json_diff(e, a);
        if !diff.is_empty() {
            let op = if i == 0 {
                "instantiate".to_string()
            } else {
                ops[i - 1].to_string()
            };
            return Err(format!(
                "snapshot {i} (after {op}) differs:\n  {}",
                diff.join("\n  ")
            )
            .into());
        }
    }
    Ok(())
}
