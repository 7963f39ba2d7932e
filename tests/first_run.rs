//! A new user's first minutes: the README's quick start works as written (`letsflow serve`
//! in an empty folder answers `/health`), `letsflow init` writes a config file that names
//! every setting the config parser knows (with its environment variable) and that the real
//! parser takes, creates the node key and says what to run next, and `letsflow token` mints
//! tokens a production node accepts.

use letsflow::node::config::{vars, Config, ConfigError, Env, Flags};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_letsflow");

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `letsflow ARGS…` in `dir` with no `LETSFLOW_*` variables but `env`.
fn letsflow(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(BIN);
    command.args(args).current_dir(dir).stdin(Stdio::null());
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("LETSFLOW_") {
            command.env_remove(name);
        }
    }
    command
        .envs(env.iter().copied())
        .output()
        .expect("run letsflow")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// A node started for a test, stopped (by its pid) when dropped.
struct Node(Child);

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `letsflow serve` in `dir` with `env` and waits for its `listening on` line.
fn serve(dir: &Path, env: &[(&str, &str)]) -> (Node, String) {
    let mut command = Command::new(BIN);
    command.arg("serve").current_dir(dir);
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("LETSFLOW_") {
            command.env_remove(name);
        }
    }
    let mut child = command
        .envs(env.iter().copied())
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
    std::thread::spawn(move || lines.for_each(drop));
    (node, url)
}

/// The README's quick start is these two commands; the first, run in an empty folder (with
/// the HTTP port moved to a free one), starts a node that answers `/health`.
#[tokio::test]
async fn the_readme_quick_start_serves_health() {
    let readme = std::fs::read_to_string(root().join("README.md")).expect("README");
    let quick = readme
        .split("## Quick start")
        .nth(1)
        .and_then(|s| s.split("```sh\n").nth(1))
        .and_then(|s| s.split("```").next())
        .expect("a quick start block");
    let commands: Vec<&str> = quick
        .lines()
        .map(|l| l.split('#').next().unwrap_or_default().trim())
        .collect();
    assert_eq!(commands, ["cargo run --release -- serve", "cargo test"]);

    let dir = tempfile::tempdir().expect("temp dir");
    let port = free_port();
    let http = format!("127.0.0.1:{port}");
    let (node, url) = serve(dir.path(), &[("LETSFLOW_HTTP", &http)]);
    assert_eq!(url, format!("http://{http}"));
    let body: Value = reqwest::get(format!("{url}/health"))
        .await
        .expect("GET /health")
        .json()
        .await
        .expect("JSON");
    assert_eq!(body, serde_json::json!({"status": "ok"}));
    // The container's health check asks the same, finding the node by LETSFLOW_HTTP.
    let out = letsflow(dir.path(), &["health"], &[("LETSFLOW_HTTP", &http)]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "ok\n");
    // As the README says: storage and the node key in ./data.
    assert!(dir.path().join("data/node.key").is_file());
    drop(node);
    let out = letsflow(dir.path(), &["health"], &[("LETSFLOW_HTTP", &http)]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).starts_with(&format!("error: cannot reach {http}: ")),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn letsflow_init_writes_the_config_and_the_key_and_says_what_next() {
    let dir = tempfile::tempdir().expect("temp dir");
    let node = dir.path().join("acme");
    let out = letsflow(dir.path(), &["init", "acme"], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let keygen = letsflow(dir.path(), &["keygen", "--data", "acme/data"], &[]);
    let id = text(&keygen.stdout).trim().to_string();
    assert!(id.starts_with("12D3KooW"), "{id}");
    assert!(
        stdout.starts_with(&format!(
            "wrote acme/letsflow.yaml (every setting, commented)\n\
             node key acme/data/node.key (mode 0600): node id {id}\n\nnext:\n  \
             cd acme && letsflow serve --check     # check the settings without starting\n  \
             cd acme && letsflow serve             # a development node on http://127.0.0.1:8080\n"
        )),
        "{stdout}"
    );
    assert!(stdout.contains("letsflow token --sub alice --role admin\n"));

    // What it says to run next works, and the file gives the defaults: the check prints
    // the same with the file as without it.
    let with_file = letsflow(&node, &["serve", "--check"], &[]);
    assert!(with_file.status.success(), "{}", text(&with_file.stderr));
    let template = std::fs::read_to_string(node.join("letsflow.yaml")).expect("config");
    std::fs::remove_file(node.join("letsflow.yaml")).expect("rm");
    let without = letsflow(&node, &["serve", "--check"], &[]);
    std::fs::write(node.join("letsflow.yaml"), &template).expect("write back");
    let (with_file, without) = (text(&with_file.stdout), text(&without.stdout));
    assert_eq!(
        with_file.replace("(config file: ./letsflow.yaml)", "(config file: none)"),
        without
    );
    assert!(
        with_file.contains(&format!("id {id} (./data/node.key)")),
        "{with_file}"
    );

    // Never overwritten; the key stays.
    let again = letsflow(dir.path(), &["init", "acme"], &[]);
    assert_eq!(again.status.code(), Some(1));
    assert_eq!(
        text(&again.stderr),
        "error: cannot write acme/letsflow.yaml: it exists already (letsflow init never \
         overwrites it)\n"
    );
    let keygen = letsflow(dir.path(), &["keygen", "--data", "acme/data"], &[]);
    assert_eq!(text(&keygen.stdout).trim(), id);
}

/// The template's settings that are commented out, uncommented: a `#` right before a key
/// (after any indentation, and before an even number of spaces that nest it).
fn uncomment(template: &str) -> String {
    template
        .lines()
        .map(|line| {
            let indent = line.len() - line.trim_start().len();
            let rest = &line[indent..];
            match rest.strip_prefix('#') {
                Some(after)
                    if {
                        let spaces = after.len() - after.trim_start_matches(' ').len();
                        let key = after.trim_start_matches(' ');
                        spaces % 2 == 0
                            && key.starts_with(|c: char| c.is_ascii_alphabetic())
                            && key
                                .split_once(':')
                                .is_some_and(|(k, _)| k.chars().all(|c| c.is_ascii_alphanumeric()))
                    } =>
                {
                    format!("{}{after}", &line[..indent])
                }
                _ => line.to_string(),
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The keys the real config parser knows, found by asking it: an unknown key in a map is
/// an error that lists the known ones; a known key whose value is a map with an unknown key
/// is a section when the error names that key inside it.
fn known_keys(base: &Path) -> BTreeMap<String, BTreeSet<String>> {
    fn probe(base: &Path, yaml: &str) -> Option<(String, Vec<&'static str>)> {
        let file = base.join("probe.yaml");
        std::fs::write(&file, yaml).expect("write");
        let flags = Flags {
            config: Some(file),
            ..Flags::default()
        };
        match Config::load_in(&flags, &Env::default(), base) {
            Err(ConfigError::UnknownKey { key, known, .. }) => Some((key, known)),
            _ => None,
        }
    }
    /// `a.b` with `zzz: 1` inside → `a: {b: {zzz: 1}}`.
    fn nested(section: &str) -> String {
        let mut yaml = "zzz: 1".to_string();
        for part in section.split('.').rev().filter(|p| !p.is_empty()) {
            yaml = format!("{part}: {{{yaml}}}");
        }
        yaml
    }
    let mut sections = BTreeMap::new();
    let mut todo = vec![String::new()];
    while let Some(section) = todo.pop() {
        let (key, known) = probe(base, &nested(&section)).expect("an unknown key error");
        let prefix = if section.is_empty() {
            String::new()
        } else {
            format!("{section}.")
        };
        assert_eq!(key, format!("{prefix}zzz"));
        for k in &known {
            let child = format!("{prefix}{k}");
            if probe(base, &nested(&child)).is_some_and(|(key, _)| key == format!("{child}.zzz")) {
                todo.push(child);
            }
        }
        sections.insert(section, known.iter().map(|k| k.to_string()).collect());
    }
    sections
}

#[test]
fn the_template_names_every_setting_and_variable_and_the_real_parser_takes_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = letsflow(dir.path(), &["init", "node"], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let template = std::fs::read_to_string(dir.path().join("node/letsflow.yaml")).expect("read");

    for var in vars::ALL {
        assert!(template.contains(var), "the template does not name {var}");
    }

    let full = uncomment(&template);
    let known = known_keys(dir.path());
    assert!(
        known.contains_key("auth.jwt") && known.contains_key("p2p"),
        "{known:?}"
    );
    let yaml: yaml_serde::Value = yaml_serde::from_str(&full).expect("YAML");
    let doc = serde_json::to_value(yaml).expect("JSON");
    for (section, keys) in &known {
        let mut value = &doc;
        for part in section.split('.').filter(|p| !p.is_empty()) {
            value = &value[part];
        }
        let present: BTreeSet<String> = value
            .as_object()
            .unwrap_or_else(|| panic!("the template has no section '{section}'"))
            .keys()
            .cloned()
            .collect();
        assert_eq!(&present, keys, "the settings of section '{section}'");
    }

    // With every setting on (the public key from a file that exists), `serve --check`
    // takes it.
    let public_key = root().join("tests/fixtures/jwt/ed25519-public.pem");
    let full = full.replace(
        "publicKey: /etc/letsflow/jwt.pem",
        &format!("publicKey: {}", public_key.display()),
    );
    let place = dir.path().join("full");
    for folder in ["scenarios", "schemas"] {
        std::fs::create_dir_all(place.join(folder)).expect("mkdir");
    }
    std::fs::write(place.join("letsflow.yaml"), &full).expect("write");
    let out = letsflow(&place, &["serve", "--check"], &[]);
    assert!(out.status.success(), "{}\n{full}", text(&out.stderr));
    let stdout = text(&out.stdout);
    for line in [
        "  mode:      production (JWTs checked with the HS256 secret and public key)",
        "  scenarios: 0 from ./scenarios (read-only mode)",
        "  p2p:       listen /ip4/0.0.0.0/tcp/4001",
    ] {
        assert!(
            stdout.lines().any(|l| l == line),
            "no '{line}' in\n{stdout}"
        );
    }
}

/// `letsflow token` signs with the node's secret: a production node accepts the token,
/// with the user's id and roles; a node with another secret does not.
#[tokio::test]
async fn tokens_minted_with_the_node_secret_are_accepted() {
    let dir = tempfile::tempdir().expect("temp dir");
    let secret = "0123456789abcdef0123456789abcdef";
    let http = format!("127.0.0.1:{}", free_port());
    let env = [
        ("LETSFLOW_HTTP", http.as_str()),
        ("LETSFLOW_AUTH_JWT_SECRET", secret),
    ];
    let (_node, url) = serve(dir.path(), &env);
    let out = letsflow(
        dir.path(),
        &[
            "token", "--sub", "alice", "--role", "admin", "--valid", "1 hour",
        ],
        &env,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let token = text(&out.stdout).trim().to_string();
    let client = reqwest::Client::new();
    let status = |token: String| {
        let client = client.clone();
        let url = url.clone();
        async move {
            client
                .get(format!("{url}/apikey"))
                .bearer_auth(token)
                .send()
                .await
                .expect("GET /apikey")
                .status()
                .as_u16()
        }
    };
    assert_eq!(status(token).await, 200);
    let other = letsflow(
        dir.path(),
        &["token", "--sub", "alice"],
        &[("LETSFLOW_AUTH_JWT_SECRET", &"x".repeat(32))],
    );
    assert_eq!(status(text(&other.stdout).trim().to_string()).await, 401);

    // No secret: it says where tokens come from instead.
    let none = letsflow(dir.path(), &["token", "--sub", "alice"], &[]);
    assert_eq!(none.status.code(), Some(1));
    assert_eq!(
        text(&none.stderr),
        "error: this node has no JWT secret to sign with: set LETSFLOW_AUTH_JWT_SECRET \
         (auth.jwt.secret); a development node serves ready tokens at GET /demo-accounts\n"
    );
}

/// The README links every page of `docs/` and the Docker guide.
#[test]
fn the_readme_links_every_docs_page() {
    let readme = std::fs::read_to_string(root().join("README.md")).expect("README");
    let mut pages: Vec<String> = std::fs::read_dir(root().join("docs"))
        .expect("docs/")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".md"))
        .map(|name| format!("docs/{name}"))
        .collect();
    pages.push("docker/README.md".into());
    for page in pages {
        assert!(
            readme.contains(&format!("]({page})")),
            "the README does not link {page}"
        );
    }
}

/// `letsflow --help` lists every subcommand with a one-line description.
#[test]
fn help_lists_every_subcommand_with_a_description() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = letsflow(dir.path(), &["--help"], &[]);
    assert!(out.status.success());
    let help = text(&out.stdout);
    let commands: Vec<(String, String)> = help
        .split("Commands:\n")
        .nth(1)
        .and_then(|s| s.split("\n\n").next())
        .expect("a Commands section")
        .lines()
        .map(|line| {
            let line = line.trim();
            let (name, description) = line.split_once(' ').expect("NAME DESCRIPTION");
            (name.to_string(), description.trim().to_string())
        })
        .collect();
    let names: Vec<&str> = commands.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "scenario", "run", "test", "serve", "bench", "keygen", "store", "init", "token",
            "health", "help"
        ]
    );
    for (name, description) in &commands {
        assert!(
            description.len() > 10 && !description.contains('\n'),
            "{name}: '{description}'"
        );
    }
}
