//! `letsflow test` on the conformance features of the LetsFlow project (../shared): all 30
//! scenarios and 344 steps pass, as they do with the reference runner.

mod common;

use std::process::Command;

#[test]
fn conformance_features_pass() {
    let Some(shared) = common::shared_dir() else {
        return;
    };
    let testing = shared.join("conformance/testing");
    let output = Command::new(env!("CARGO_BIN_EXE_letsflow"))
        .arg("test")
        .arg("--scenarios")
        .arg(testing.join("scenarios"))
        .arg("--schemas")
        .arg(testing.join("schemas"))
        .arg(testing.join("features"))
        .output()
        .expect("run letsflow test");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(
        lines.contains(&"30 scenarios (30 passed, 0 failed)")
            && lines.contains(&"344 steps (344 passed, 0 failed, 0 skipped)"),
        "unexpected report:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "exit status {}", output.status);
}
