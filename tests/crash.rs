//! Crash tests of the node, through the real binary: `letsflow serve` as a child process on a
//! free loopback port, driven over HTTP, killed with SIGKILL and started again on the same
//! data folder.
//!
//! * every step the node acknowledged (a 2xx answer) is there after the restart, in order;
//! * a timeout that fell due while the node was down fires after the restart;
//! * SIGTERM stops the node gracefully (exit code 0); bad configuration and invalid scenario
//!   files stop it before it listens, with a message naming the problem.
//!
//! The steps use the REST API of SPEC 6 (`seed/engine-api.txt`): `GET /demo-accounts` for a
//! token, `POST /processes`, `POST /processes/{id}/{action}`, `GET /processes/{id}`.

use reqwest::{Client, StatusCode};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_letsflow");

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/node")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// A running `letsflow serve`.
struct Node {
    child: Child,
    url: String,
}

impl Node {
    /// Starts the node on `port` over `data` with the test scenarios, and waits until it
    /// prints its address and `/health` answers.
    async fn start(data: &Path, port: u16) -> Node {
        let mut child = Command::new(BIN)
            .arg("serve")
            .arg("--dev")
            .arg("--data")
            .arg(data)
            .arg("--http")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--scenarios")
            .arg(fixtures().join("scenarios"))
            .arg("--schemas")
            .arg("")
            .env("LETSFLOW_LOG", "error")
            .env_remove("LETSFLOW_CONFIG")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn letsflow serve");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::sync_channel(16);
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("letsflow listening on ") {
                    let _ = tx.send(url.to_string());
                }
            }
        });
        let url = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("the node prints its address");
        assert_eq!(url, format!("http://127.0.0.1:{port}"));
        let node = Node { child, url };
        let client = Client::new();
        let started = Instant::now();
        loop {
            match client.get(format!("{}/health", node.url)).send().await {
                Ok(r) if r.status().is_success() => break,
                _ if started.elapsed() < Duration::from_secs(30) => {
                    tokio::time::sleep(Duration::from_millis(50)).await
                }
                other => panic!("/health does not answer: {other:?}"),
            }
        }
        node
    }

    /// SIGKILL: no destructor, no flush, maybe in the middle of a commit.
    fn kill(mut self) {
        self.child.kill().expect("kill");
        let status = self.child.wait().expect("wait");
        assert!(!status.success());
    }

    /// SIGTERM, and the exit code.
    fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill -TERM");
        assert!(sent.success());
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "the node did not stop on SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        // A node left running by a failing test.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A client of one node with a demo account's token.
#[derive(Clone)]
struct Api {
    client: Client,
    url: String,
    token: String,
}

impl Api {
    async fn login(url: &str) -> Api {
        let client = Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .expect("client");
        let accounts: Value = client
            .get(format!("{url}/demo-accounts"))
            .send()
            .await
            .expect("demo accounts")
            .json()
            .await
            .expect("demo accounts json");
        let token = accounts
            .as_array()
            .and_then(|list| list.iter().find(|a| a["id"] == "alice"))
            .and_then(|a| a["token"].as_str())
            .unwrap_or_else(|| panic!("no token for alice in {accounts}"))
            .to_string();
        Api {
            client,
            url: url.to_string(),
            token,
        }
    }

    /// Starts a process of the counter scenario with alice as `user` and a first `action`
    /// (a person must take part in what they start); returns its id.
    async fn start(&self, scenario: &str, action: Value) -> String {
        let response = self
            .client
            .post(format!("{}/processes", self.url))
            .bearer_auth(&self.token)
            .header("As-Actor", "user")
            .json(&json!({
                "scenario": scenario,
                "actors": {"user": {"id": "alice"}},
                "action": action,
            }))
            .send()
            .await
            .expect("start process");
        assert_eq!(response.status(), StatusCode::CREATED);
        let location = response
            .headers()
            .get("location")
            .and_then(|l| l.to_str().ok())
            .map(str::to_string);
        let body: Value = response.json().await.unwrap_or(Value::Null);
        body["id"]
            .as_str()
            .map(str::to_string)
            .or_else(|| location.and_then(|l| l.rsplit('/').next().map(str::to_string)))
            .unwrap_or_else(|| panic!("no process id in {body}"))
    }

    /// Performs a step; `Ok` when the node acknowledged it (2xx).
    async fn step(&self, process: &str, action: &str, response: &Value) -> Result<(), String> {
        let answer = self
            .client
            .post(format!("{}/processes/{process}/{action}", self.url))
            .bearer_auth(&self.token)
            .json(response)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if answer.status().is_success() {
            Ok(())
        } else {
            Err(format!(
                "{}: {}",
                answer.status(),
                answer.text().await.unwrap_or_default()
            ))
        }
    }

    async fn process(&self, id: &str) -> Value {
        let response = self
            .client
            .get(format!("{}/processes/{id}", self.url))
            .bearer_auth(&self.token)
            .send()
            .await
            .expect("get process");
        assert_eq!(response.status(), StatusCode::OK, "GET /processes/{id}");
        response.json().await.expect("process json")
    }
}

fn counter_scenario_id() -> String {
    let raw = letsflow::scenario::load_file(&fixtures().join("scenarios/counter.yaml"))
        .expect("load counter.yaml");
    let normalized = letsflow::scenario::normalize(&raw).expect("normalize");
    letsflow::scenario::scenario_id(&normalized).to_string()
}

/// The responses of the action events `next` of a process document, in chain order.
fn next_responses(process: &Value) -> Vec<u64> {
    process["events"]
        .as_array()
        .unwrap_or_else(|| panic!("no events in {process}"))
        .iter()
        .filter(|e| e["action"] == "next" && e["skipped"] != true)
        .filter_map(|e| e["response"]["n"].as_u64())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_steps_and_due_timers_survive_sigkill() {
    let data = tempfile::tempdir().expect("temp dir");
    let port = free_port();
    let scenario = counter_scenario_id();

    let node = Node::start(data.path(), port).await;
    let api = Api::login(&node.url).await;

    // A process waiting for a timeout of two seconds, which falls due while the node is down.
    let waiting = api.start(&scenario, json!("wait")).await;
    let timer_set = Instant::now();

    // Four clients step their own process concurrently; the node is killed mid-flight.
    let mut processes = Vec::new();
    for _ in 0..4 {
        let first = json!({"key": "next", "response": {"n": 0}});
        processes.push(api.start(&scenario, first).await);
    }
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = processes
        .iter()
        .map(|id| {
            let (api, id, stop) = (api.clone(), id.clone(), stop.clone());
            tokio::spawn(async move {
                let mut acked = vec![0];
                for n in 1u64.. {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    match api.step(&id, "next", &json!({"n": n})).await {
                        Ok(()) => acked.push(n),
                        // The node is gone: what was not acknowledged may or may not be there.
                        Err(_) => break,
                    }
                }
                acked
            })
        })
        .collect();
    let started = Instant::now();
    while started.elapsed() < Duration::from_millis(800) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    node.kill();
    stop.store(true, Ordering::SeqCst);
    let mut acked = Vec::new();
    for worker in workers {
        acked.push(worker.await.expect("worker"));
    }
    let total: usize = acked.iter().map(|a| a.len() - 1).sum();
    assert!(
        total >= 20,
        "only {total} steps were acknowledged before the kill"
    );

    // Down for longer than the timeout.
    while timer_set.elapsed() < Duration::from_millis(2_500) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let node = Node::start(data.path(), port).await;
    let api = Api::login(&node.url).await;
    for (id, acked) in processes.iter().zip(&acked) {
        let stored = next_responses(&api.process(id).await);
        // Every acknowledged step, in order; at most the one step in flight beyond them.
        assert!(
            stored.len() == acked.len() || stored.len() == acked.len() + 1,
            "process {id}: {} acknowledged, {} stored",
            acked.len(),
            stored.len()
        );
        assert_eq!(&stored[..acked.len()], &acked[..], "process {id}");
    }

    // The timeout that fell due while the node was down fires on start.
    let started = Instant::now();
    loop {
        let process = api.process(&waiting).await;
        if process["current"]["key"] == "(timed out)" {
            let events = process["events"].as_array().expect("events");
            let last = events.last().expect("an event");
            assert!(last.get("action").is_none(), "a timeout event: {last}");
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the due timeout did not fire after the restart: {}",
            process["current"]
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // And the node stops gracefully.
    assert!(node.terminate().success());
    eprintln!(
        "crash test: {total} steps acknowledged by 4 clients before SIGKILL, all found after the restart"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_the_node_with_exit_code_0() {
    let data = tempfile::tempdir().expect("temp dir");
    let node = Node::start(data.path(), free_port()).await;
    let status = node.terminate();
    assert!(status.success(), "{status:?}");
}

/// Runs `letsflow serve` expected to fail before listening; returns exit code and stderr.
fn serve_fails(args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String) {
    let output = Command::new(BIN)
        .arg("serve")
        .args(args)
        .envs(env.iter().copied())
        .env_remove("LETSFLOW_CONFIG")
        .stdin(Stdio::null())
        .output()
        .expect("run letsflow serve");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(!stdout.contains("listening"), "{stdout}");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn bad_configuration_stops_the_node_before_it_listens() {
    let data = tempfile::tempdir().expect("temp dir");
    let dir = data.path().to_str().expect("utf-8");
    let (code, stderr) = serve_fails(&["--data", dir, "--http", "127.0.0.1:notaport"], &[]);
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains("error: invalid HTTP address '127.0.0.1:notaport' (from --http)"),
        "{stderr}"
    );
    let (code, stderr) = serve_fails(&["--data", dir], &[("LETSFLOW_STORAGE", "postgres")]);
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains("invalid storage 'postgres' (from LETSFLOW_STORAGE)"),
        "{stderr}"
    );
}

#[test]
fn invalid_scenario_files_stop_the_node() {
    let data = tempfile::tempdir().expect("temp dir");
    let scenarios = data.path().join("scenarios");
    std::fs::create_dir(&scenarios).expect("mkdir");
    std::fs::copy(
        fixtures().join("scenarios/counter.yaml"),
        scenarios.join("counter.yaml"),
    )
    .expect("copy");
    std::fs::write(
        scenarios.join("broken.yaml"),
        "states:\n  initial:\n    on: go\n    goto: nowhere\n",
    )
    .expect("write");
    let (code, stderr) = serve_fails(
        &[
            "--data",
            data.path().join("data").to_str().expect("utf-8"),
            "--http",
            "127.0.0.1:0",
            "--scenarios",
            scenarios.to_str().expect("utf-8"),
        ],
        &[],
    );
    assert_eq!(code, Some(1));
    assert!(
        stderr.contains("has 1 invalid file(s); the node does not start"),
        "{stderr}"
    );
    assert!(stderr.contains("broken.yaml: "), "{stderr}");
}
