//! Mutation smoke test: feeds randomly mutated scenarios (the conformance scenarios when
//! `../shared` is there, and our own examples), JMESPath expressions and Mustache templates
//! through the library — load, normalize, validate, compile, instantiate, step, time out,
//! predict — and fails (exit 1) on any panic. Bad input must give an error, never a panic.
//!
//! `cargo run --release --example fuzz_smoke -- [INPUTS] [SEED]` (default 100000 inputs).
//! Deterministic for a seed: a reported input comes back with the same arguments.

use letsflow::process::{Process, Scenario, StepActor, Timestamp};
use letsflow::schema::SchemaRegistry;
use serde_json::{json, Map};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

/// xorshift64: small, deterministic, good enough to pick mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Fragments that matter to the parsers: YAML syntax and tags, JMESPath and Mustache tokens,
/// scenario keywords, odd numbers and characters.
const TOKENS: &[&str] = &[
    "!ref ",
    "!tpl ",
    "!required ",
    "!select ",
    "<<: ",
    "*a",
    "&a ",
    "{{",
    "}}",
    "[",
    "]",
    "{",
    "}",
    ":",
    "- ",
    "\n",
    "  ",
    "'",
    "\"",
    "`",
    "|",
    "&",
    "$",
    "@",
    "..",
    "[?",
    "(",
    ")",
    "*",
    "~",
    "null",
    "0",
    "-1",
    "1e999",
    "(done)",
    "after: 1 day",
    "goto: ",
    "on: ",
    "by: ",
    "😀",
    "\\",
    "#",
    "%",
    "!!binary ",
    "? ",
];

/// One to four edits: delete a run, insert a token, copy a piece elsewhere, change a byte.
fn mutate(rng: &mut Rng, text: &str) -> String {
    let mut s: Vec<char> = text.chars().collect();
    for _ in 0..1 + rng.below(4) {
        match rng.below(4) {
            0 if !s.is_empty() => {
                let i = rng.below(s.len());
                let end = (i + 1 + rng.below(8)).min(s.len());
                s.drain(i..end);
            }
            1 => {
                let i = rng.below(s.len() + 1);
                let token = TOKENS[rng.below(TOKENS.len())];
                s.splice(i..i, token.chars());
            }
            2 if s.len() > 2 => {
                let (a, b) = (rng.below(s.len()), rng.below(s.len()));
                let (a, b) = (a.min(b), a.max(b).min(a.min(b) + 40));
                let piece: Vec<char> = s[a..b].to_vec();
                let i = rng.below(s.len() + 1);
                s.splice(i..i, piece);
            }
            _ if !s.is_empty() => {
                let i = rng.below(s.len());
                s[i] = char::from(32 + rng.below(95) as u8);
            }
            _ => {}
        }
    }
    s.into_iter().collect()
}

/// As far as the scenario gets: errors end the run quietly; only panics count.
fn run_scenario(text: &str, registry: &SchemaRegistry) {
    let Ok(raw) = letsflow::scenario::from_yaml(text) else {
        return;
    };
    let _ = letsflow::scenario::to_yaml(&raw);
    let Ok(normalized) = letsflow::scenario::normalize(&raw) else {
        return;
    };
    let _ = letsflow::scenario::scenario_id(&normalized);
    if letsflow::scenario::validate::validate(&normalized, registry).is_err() {
        return;
    }
    let Ok(scenario) = Scenario::new(normalized.clone(), registry) else {
        return;
    };
    let Some(at) = Timestamp::parse("2025-01-01T00:00:00Z") else {
        return;
    };
    let id = "00000000-0000-4000-8000-000000000000";
    let Ok(mut process) = Process::instantiate(Arc::new(scenario), id, Map::new(), at) else {
        return;
    };
    let _ = process.predict();
    let keys = |field: &str| -> Vec<String> {
        normalized[field]
            .as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    };
    let (actions, actors) = (keys("actions"), keys("actors"));
    for (n, action) in actions.iter().enumerate().take(6) {
        let actor = actors
            .get(n % actors.len().max(1))
            .cloned()
            .unwrap_or_default();
        let _ = process.step(action, &StepActor::key(&actor), Some(json!({"x": n})), at);
        let _ = process.timeout(at.plus_seconds(1e7));
        let _ = process.notify_messages();
    }
    let _ = process.to_json();
}

fn seeds() -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dirs = [
        root.join("../shared/conformance/testing/scenarios"),
        root.join("examples/scenarios"),
        root.join("examples/testsuite/scenarios"),
    ];
    dirs.iter()
        .filter_map(|dir| std::fs::read_dir(dir).ok())
        .flatten()
        .filter_map(|entry| std::fs::read_to_string(entry.ok()?.path()).ok())
        .collect()
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let inputs: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(100_000);
    let seed: u64 = args
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x9E37_79B9_7F4A_7C15);
    let scenarios = seeds();
    let expressions = [
        "foo.bar[0]",
        "$.vars[?a > `1`].b | length(@)",
        "sum(a) + 3 * b",
        "join(', ', keys(@))",
        "a || b && !c",
        "sort_by(x, &y)[-1]",
        "{a: b, c: [d, e]}",
        "to_number('1') / `0`",
        "max_by(@, &age).name",
    ];
    let templates = [
        "{{a}} {{#b}}{{c}}{{/b}}",
        "{{> p}}{{^x}}y{{/x}}",
        "{{{a.b}}} {{=<% %>=}}<%x%>",
        "{{#a}}{{.}}{{/a}}",
    ];
    let data = json!({
        "a": [1, 2, {"b": "x"}], "b": 2, "c": null, "foo": {"bar": [1]},
        "vars": [{"a": 2, "b": 3}], "x": [{"y": 1}],
    });
    let registry = SchemaRegistry::new();
    std::panic::set_hook(Box::new(|_| {}));
    let mut rng = Rng(seed.max(1));
    let mut panics = 0u64;
    for n in 0..inputs {
        let kind = if scenarios.is_empty() {
            1 + rng.below(2)
        } else {
            rng.below(3)
        };
        let original = match kind {
            0 => scenarios[rng.below(scenarios.len())].clone(),
            1 => expressions[rng.below(expressions.len())].to_string(),
            _ => templates[rng.below(templates.len())].to_string(),
        };
        let input = mutate(&mut rng, &original);
        let outcome = catch_unwind(AssertUnwindSafe(|| match kind {
            0 => run_scenario(&input, &registry),
            1 => drop(letsflow::expr::jmespath::search(&input, &data)),
            _ => drop(letsflow::expr::mustache::render(&input, &data, &Map::new())),
        }));
        if outcome.is_err() {
            panics += 1;
            if panics <= 10 {
                let what = ["scenario", "JMESPath", "Mustache"][kind];
                eprintln!("panic on input {n} ({what}):\n{input}\n-----");
            }
        }
    }
    println!(
        "{inputs} inputs ({} seed scenarios), {panics} panics",
        scenarios.len()
    );
    if panics == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
