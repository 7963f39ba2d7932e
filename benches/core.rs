//! The quote workload: normalize `conformance/testing/scenarios/quote.yaml` once, then per
//! iteration instantiate a process and step `request` → `create_quote` → `accept`, ending
//! in `(accepted)`. Needs `../shared` (or `LETSFLOW_SHARED_DIR`); skips without it.
//!
//! `cargo bench --bench core`

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use letsflow::process::{Process, Scenario, StepActor, Timestamp};
use letsflow::scenario::{self, normalize::normalize};
use letsflow::schema::SchemaRegistry;
use serde_json::{json, Map};
use std::path::PathBuf;
use std::sync::Arc;

// The same allocator as the `letsflow` binary.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn shared_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("LETSFLOW_SHARED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared"));
    dir.join("conformance").is_dir().then_some(dir)
}

fn quote_workload(c: &mut Criterion) {
    let Some(shared) = shared_dir() else {
        eprintln!("skipping: ../shared not found (set LETSFLOW_SHARED_DIR)");
        return;
    };
    let testing = shared.join("conformance/testing");
    let mut registry = SchemaRegistry::new();
    registry
        .load_dir(&testing.join("schemas"))
        .expect("load schemas");
    let raw = scenario::load_file(&testing.join("scenarios/quote.yaml")).expect("load quote");
    let normalized = normalize(&raw).expect("normalize quote");
    let scenario = Arc::new(Scenario::new(normalized, &registry).expect("compile quote"));

    let at = Timestamp::parse("2025-01-01T00:00:00Z").expect("time");
    let form = json!({
        "company": "Acme Inc", "contact": "Alice", "email": "alice@example.com",
        "address": "Main street 1", "requirements": "A new website"
    });
    let (customer, sales) = (StepActor::key("customer"), StepActor::key("sales"));

    let mut group = c.benchmark_group("core");
    group.throughput(Throughput::Elements(1));
    group.bench_function("quote process (instantiate + 3 steps)", |b| {
        b.iter(|| {
            let mut p = Process::instantiate(
                scenario.clone(),
                "00000000-0000-4000-8000-000000000000",
                Map::new(),
                at,
            )
            .expect("instantiate");
            p.step("request", &customer, Some(form.clone()), at)
                .expect("request");
            p.step(
                "create_quote",
                &sales,
                Some(json!("https://example.com/quote.pdf")),
                at,
            )
            .expect("create_quote");
            p.step("accept", &customer, None, at).expect("accept");
            assert_eq!(p.current_key(), "(accepted)");
            p
        })
    });
    group.finish();
}

criterion_group!(benches, quote_workload);
criterion_main!(benches);
