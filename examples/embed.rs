//! Deep integration: run a LetsFlow process inside your own Rust program, without a node.
//!
//! `cargo run --example embed`

use letsflow::process::{Process, Scenario, StepActor, Timestamp};
use letsflow::scenario::{self, normalize::normalize};
use letsflow::schema::SchemaRegistry;
use serde_json::{json, Map};
use std::sync::Arc;

fn main() -> anyhow::Result<()> {
    // Load a YAML scenario (custom tags like !ref and !required are understood),
    // normalize it and prepare it to run. Its id is derived from its content.
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/scenarios/approval.yaml"
    );
    let raw = scenario::load_file(path.as_ref())?;
    let scenario = Arc::new(Scenario::new(normalize(&raw)?, &SchemaRegistry::new())?);
    println!("scenario {} ({})", scenario.id(), path);

    // The engine is pure: you pass in the time and the process id.
    let now = Timestamp::parse("2025-03-01T09:00:00Z").expect("valid time");
    let mut process = Process::instantiate(
        scenario,
        "6a2f41a3-c54c-4f1e-8e5a-2e3b0c4d5e6f",
        Map::new(),
        now,
    )?;
    println!("state: {}", process.current_key());

    // A rejected step is recorded with its errors; the process does not move.
    let outcome = process.step(
        "submit",
        &StepActor::key("employee"),
        Some(json!({"amount": 120})),
        now,
    )?;
    println!(
        "submit without a reason: skipped={} {:?}",
        outcome.skipped, outcome.errors
    );

    let claim = json!({"amount": 120, "reason": "train tickets"});
    process.step("submit", &StepActor::key("employee"), Some(claim), now)?;
    println!("state: {}", process.current_key());
    println!(
        "manager instructions: {}",
        process.current()["instructions"]["manager"]
    );
    println!(
        "predicted: {:?}",
        process
            .predict()?
            .iter()
            .map(|s| s["key"].clone())
            .collect::<Vec<_>>()
    );

    process.step(
        "approve",
        &StepActor::key("manager"),
        None,
        now.plus_seconds(3600.0),
    )?;
    process.step(
        "pay",
        &StepActor::key("finance"),
        None,
        now.plus_seconds(7200.0),
    )?;
    println!(
        "state: {} (running: {})",
        process.current_key(),
        process.is_running()
    );
    println!("result: {}", process.result());
    println!("vars: {}", process.vars());
    println!("events: {}", process.events().len());
    Ok(())
}
