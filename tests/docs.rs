//! What the README and `docs/` show a new user works as shown: every scenario in them is
//! valid (without warnings), and the README walkthrough — `examples/walkthrough.sh` —
//! runs against a real node.

use letsflow::scenario::{self, normalize::normalize, Format};
use letsflow::schema::SchemaRegistry;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The markdown files a user reads: the README and everything in `docs/`.
fn markdown_files() -> Vec<PathBuf> {
    let mut files = vec![root().join("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root().join("docs"))
        .expect("docs/")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    files.extend(docs);
    files
}

/// The fenced code blocks of a markdown text: (language, first line number, text).
fn code_blocks(text: &str) -> Vec<(String, usize, String)> {
    let mut blocks = Vec::new();
    let mut open: Option<(String, usize, String)> = None;
    for (i, line) in text.lines().enumerate() {
        let fence = line.trim_start().strip_prefix("```");
        match (&mut open, fence) {
            (None, Some(lang)) => open = Some((lang.trim().to_string(), i + 2, String::new())),
            (Some(_), Some(_)) => blocks.extend(open.take()),
            (Some((_, _, body)), None) => {
                body.push_str(line);
                body.push('\n');
            }
            (None, None) => {}
        }
    }
    blocks
}

#[test]
fn every_scenario_in_the_readme_and_docs_is_valid() {
    let registry = SchemaRegistry::new();
    let mut checked = 0;
    for file in markdown_files() {
        let text = std::fs::read_to_string(&file).expect("read");
        for (lang, line, body) in code_blocks(&text) {
            let format = match lang.as_str() {
                "yaml" | "yml" => Format::Yaml,
                "json" => Format::Json,
                _ => continue,
            };
            let Ok(value) = scenario::parse(&body, format) else {
                continue; // not every block is a whole document (e.g. an excerpt)
            };
            if value.get("states").is_none() {
                continue; // a config file, an ops list, a report
            }
            let at = format!("{}:{line}", file.display());
            scenario::validate::validate(&value, &registry)
                .unwrap_or_else(|errors| panic!("{at}: invalid scenario: {errors:?}"));
            let warnings = scenario::warnings::warnings(&value);
            assert!(warnings.is_empty(), "{at}: warnings: {warnings:?}");
            normalize(&value).unwrap_or_else(|e| panic!("{at}: {e}"));
            checked += 1;
        }
    }
    assert!(checked >= 1, "the README shows a scenario");
}

/// The example scenarios are valid without warnings too.
#[test]
fn the_example_scenarios_are_valid() {
    let dir = root().join("examples/scenarios");
    for entry in std::fs::read_dir(&dir).expect("examples/scenarios") {
        let path = entry.expect("entry").path();
        let value = scenario::load_file(&path).expect("load");
        scenario::validate::validate(&value, &SchemaRegistry::new())
            .unwrap_or_else(|errors| panic!("{}: {errors:?}", path.display()));
        let warnings = scenario::warnings::warnings(&value);
        assert!(warnings.is_empty(), "{}: {warnings:?}", path.display());
    }
}

/// What the README's walkthrough shows is the script (less its `#!` and `set` lines), so
/// running the script runs the README.
#[test]
fn the_readme_walkthrough_is_the_script() {
    let script = std::fs::read_to_string(root().join("examples/walkthrough.sh")).expect("script");
    let (_, body) = script
        .split_once("set -euo pipefail\n\n")
        .expect("the script's header ends with `set -euo pipefail` and a blank line");
    let readme = std::fs::read_to_string(root().join("README.md")).expect("README");
    assert!(
        code_blocks(&readme)
            .iter()
            .any(|(lang, _, text)| lang == "sh" && text == body),
        "the README's walkthrough differs from examples/walkthrough.sh"
    );
}

/// A node started for a test, stopped (by its pid) when dropped.
struct Node(Child);

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `letsflow serve` in development mode on a free port with its data in `data`;
/// returns the node and its base URL once it listens.
fn start_node(data: &Path) -> (Node, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_letsflow"));
    command
        .args(["serve", "--dev", "--http", "127.0.0.1:0", "--scenarios", ""])
        .arg("--data")
        .arg(data)
        .current_dir(data);
    // A node as the README starts it: no settings from this environment.
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("LETSFLOW_") {
            command.env_remove(name);
        }
    }
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start letsflow serve");
    let stdout = child.stdout.take().expect("stdout");
    let node = Node(child);
    let mut lines = BufReader::new(stdout).lines();
    let url = loop {
        let line = lines
            .next()
            .expect("the node stopped before it listened")
            .expect("read");
        if let Some(url) = line.strip_prefix("letsflow listening on ") {
            break url.trim().to_string();
        }
    };
    // Keep reading, so that the node never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    (node, url)
}

fn has(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn the_readme_walkthrough_runs_against_a_real_node() {
    for tool in ["bash", "curl", "jq"] {
        assert!(has(tool), "the walkthrough needs {tool}");
    }
    let data = std::env::temp_dir().join(format!("letsflow-walkthrough-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    std::fs::create_dir_all(&data).expect("data dir");
    let (node, url) = start_node(&data);

    let out = Command::new("bash")
        .arg("examples/walkthrough.sh")
        .current_dir(root())
        .env("LETSFLOW_URL", &url)
        .output()
        .expect("run the walkthrough");
    drop(node);
    let _ = std::fs::remove_dir_all(&data);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the walkthrough failed: {}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "",
        "the walkthrough wrote errors"
    );
    let printed: Value = serde_json::from_str(&stdout).expect("the walkthrough prints JSON");
    assert_eq!(
        printed,
        json!({
            "state": "(paid)",
            "isRunning": false,
            "result": "Paid 120 for train tickets",
            "events": 4,
            "history": [
                {"title": "Submit a claim", "actor": "employee", "user": "claire"},
                {"title": "approve", "actor": "manager", "user": "bob"},
                {"title": "pay", "actor": "finance", "user": "alice"}
            ]
        })
    );

    // The README shows the same output.
    let readme = std::fs::read_to_string(root().join("README.md")).expect("README");
    let shown = code_blocks(&readme)
        .into_iter()
        .find(|(lang, _, text)| lang == "json" && text.contains("\"state\": \"(paid)\""))
        .expect("the README shows the walkthrough's output");
    assert_eq!(
        serde_json::from_str::<Value>(&shown.2).expect("JSON"),
        printed
    );
}
