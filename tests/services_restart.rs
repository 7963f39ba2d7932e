//! A notification owed when the node is SIGKILLed is delivered after the restart: the node
//! (`letsflow serve`, a child process) is killed while its webhook request is in flight,
//! and started again on the same data folder. The receiver sees the notification again
//! with the same message id (at least once; exactly once for a receiver that deduplicates
//! by id) and the service's answer becomes one step, not two.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use axum::{Json, Router};
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_letsflow");

const ORDER: &str = r#"
name: order
version: "1.0"
title: Order
actors:
  client: {}
actions:
  order:
    actor: client
  confirm:
    actor: service:robot
    update:
      set: vars.ref
      value: !ref current.response.ref
states:
  initial:
    on: order
    goto: waiting
  waiting:
    notify:
      service: robot
      trigger: confirm
    on: confirm
    goto: (done)
"#;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

struct Node {
    child: Child,
    url: String,
}

impl Node {
    fn start(data: &Path, scenarios: &Path, port: u16, services: &Value) -> Node {
        let mut child = Command::new(BIN)
            .arg("serve")
            .arg("--dev")
            .arg("--data")
            .arg(data)
            .arg("--http")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--scenarios")
            .arg(scenarios)
            .arg("--schemas")
            .arg("")
            .env("LETSFLOW_LOG", "error")
            .env("LETSFLOW_LISTEN", "/ip4/127.0.0.1/tcp/0")
            .env("LETSFLOW_SERVICES", services.to_string())
            .env_remove("LETSFLOW_CONFIG")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn letsflow serve");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::sync_channel(4);
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
        Node { child, url }
    }

    fn kill(mut self) {
        self.child.kill().expect("kill");
        let status = self.child.wait().expect("wait");
        assert!(!status.success());
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn token(client: &Client, url: &str) -> String {
    let accounts: Value = client
        .get(format!("{url}/demo-accounts"))
        .send()
        .await
        .expect("demo accounts")
        .json()
        .await
        .expect("json");
    accounts
        .as_array()
        .and_then(|l| l.iter().find(|a| a["id"] == "alice"))
        .and_then(|a| a["token"].as_str())
        .expect("alice's token")
        .to_string()
}

/// Message ids of the requests received, in order.
#[derive(Clone, Default)]
struct Received(Arc<Mutex<Vec<String>>>);

impl Received {
    fn ids(&self) -> Vec<String> {
        self.0.lock().expect("lock").clone()
    }
}

async fn receive(State(received): State<Received>, headers: HeaderMap) -> Json<Value> {
    let first = {
        let mut ids = received.0.lock().expect("lock");
        let id = headers
            .get("x-message-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        ids.push(id);
        ids.len() == 1
    };
    if first {
        // The node is killed while it waits for this answer.
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
    Json(json!({"ref": "R-1"}))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notification_owed_at_sigkill_is_delivered_after_the_restart() {
    let received = Received::default();
    let app = Router::new()
        .route("/hook", post(receive))
        .with_state(received.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let hook = format!("http://{}/hook", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });

    let data = tempfile::tempdir().expect("temp dir");
    let scenarios = tempfile::tempdir().expect("temp dir");
    std::fs::write(scenarios.path().join("order.yaml"), ORDER).expect("write");
    let raw = letsflow::scenario::load_file(&scenarios.path().join("order.yaml")).expect("load");
    let scenario =
        letsflow::scenario::scenario_id(&letsflow::scenario::normalize(&raw).expect("normalize"))
            .to_string();
    let services =
        json!({"robot": {"provider": "webhook", "url": hook, "timeout": 30, "retryDelay": 0.1}});
    let port = free_port();

    let node = Node::start(data.path(), scenarios.path(), port, &services);
    let client = Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");
    let token = token(&client, &node.url).await;
    let response = client
        .post(format!("{}/processes", node.url))
        .bearer_auth(&token)
        .header("As-Actor", "client")
        .json(&json!({"scenario": scenario, "actors": {"client": {"id": "alice"}}, "action": "order"}))
        .send()
        .await
        .expect("start");
    assert_eq!(response.status(), StatusCode::CREATED);
    let process: Value = response.json().await.expect("json");
    let id = process["id"].as_str().expect("id").to_string();
    let etag = process["events"][1]["hash"]
        .as_str()
        .expect("hash")
        .to_string();

    let started = Instant::now();
    while received.ids().is_empty() {
        assert!(started.elapsed() < Duration::from_secs(10), "not notified");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    node.kill();

    let node = Node::start(data.path(), scenarios.path(), port, &services);
    let started = Instant::now();
    let process = loop {
        let process: Value = client
            .get(format!("{}/processes/{id}", node.url))
            .bearer_auth(&token)
            .send()
            .await
            .expect("get")
            .json()
            .await
            .expect("json");
        // Stepped, and the notification recorded as delivered (just after).
        if process["current"]["key"] == "(done)" && process["notifications"] == json!([]) {
            break process;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "not delivered after the restart: {process}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let ids = received.ids();
    assert!(ids.len() >= 2, "{ids:?}");
    let unique: BTreeSet<&String> = ids.iter().collect();
    assert_eq!(
        unique.into_iter().collect::<Vec<_>>(),
        [&format!("{etag}:0")]
    );
    let confirms = process["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["action"] == "confirm")
        .count();
    assert_eq!(confirms, 1);
    assert_eq!(process["vars"]["ref"], "R-1");
    node.kill();
}
