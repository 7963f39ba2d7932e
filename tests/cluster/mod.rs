//! Nodes as separate processes: `letsflow serve` on free loopback ports (HTTP and p2p),
//! each with its own data folder and key, connected to the others by `--peer`.

#![allow(dead_code)]

use reqwest::{Client, StatusCode};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_letsflow");

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// One node's place: data folder, ports and id; it may be running or not.
pub struct NodeSpec {
    pub name: String,
    pub data: PathBuf,
    pub http: u16,
    pub p2p: u16,
    pub id: String,
}

impl NodeSpec {
    /// A new node in `root/name`: its key is created with `letsflow keygen`.
    pub fn new(root: &Path, name: &str) -> NodeSpec {
        let data = root.join(name);
        let out = Command::new(BIN)
            .args(["keygen", "--data"])
            .arg(&data)
            .output()
            .expect("letsflow keygen");
        assert!(out.status.success(), "keygen failed");
        let id = String::from_utf8_lossy(&out.stdout).trim().to_string();
        assert!(id.starts_with("12D3KooW"), "node id {id}");
        NodeSpec {
            name: name.into(),
            data,
            http: free_port(),
            p2p: free_port(),
            id,
        }
    }

    /// The multiaddr other nodes dial.
    pub fn address(&self) -> String {
        format!("/ip4/127.0.0.1/tcp/{}/p2p/{}", self.p2p, self.id)
    }

    /// Starts `letsflow serve` (dev mode) connected to `peers`, and waits for `/health`.
    pub async fn start(&self, peers: &[&NodeSpec]) -> Node {
        let peers: Vec<String> = peers.iter().map(|p| p.address()).collect();
        let listen = format!("/ip4/127.0.0.1/tcp/{}", self.p2p);
        self.start_at(None, "127.0.0.1", &listen, &peers).await
    }

    /// Starts `letsflow serve` (dev mode) inside network namespace `netns` (if given), with
    /// HTTP on `http_ip`, listening for peers on `listen`, dialing the multiaddrs `peers`.
    pub async fn start_at(
        &self,
        netns: Option<&str>,
        http_ip: &str,
        listen: &str,
        peers: &[String],
    ) -> Node {
        let mut command = match netns {
            Some(ns) => {
                let mut command = Command::new("ip");
                command.args(["netns", "exec", ns, BIN]);
                command
            }
            None => Command::new(BIN),
        };
        command
            .arg("serve")
            .arg("--dev")
            .arg("--data")
            .arg(&self.data)
            .arg("--http")
            .arg(format!("{http_ip}:{}", self.http))
            .args(["--scenarios", "", "--schemas", ""])
            .arg("--listen")
            .arg(listen);
        for peer in peers {
            command.arg("--peer").arg(peer);
        }
        let mut child = command
            .env(
                "LETSFLOW_LOG",
                std::env::var("P2P_TEST_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .env("LETSFLOW_SYNC_INTERVAL", "1")
            .env("LETSFLOW_NAME", &self.name)
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
        let node = Node {
            child,
            url,
            client: Client::new(),
            id: self.id.clone(),
        };
        let started = Instant::now();
        loop {
            match node.client.get(format!("{}/health", node.url)).send().await {
                Ok(r) if r.status().is_success() => break,
                _ if started.elapsed() < Duration::from_secs(30) => {
                    tokio::time::sleep(Duration::from_millis(50)).await
                }
                other => panic!("/health does not answer: {other:?}"),
            }
        }
        node
    }
}

/// A running node.
pub struct Node {
    child: Child,
    pub url: String,
    pub client: Client,
    pub id: String,
}

impl Node {
    /// The demo token of `user` on this node.
    pub async fn token(&self, user: &str) -> String {
        let accounts: Value = self
            .client
            .get(format!("{}/demo-accounts", self.url))
            .send()
            .await
            .expect("demo accounts")
            .json()
            .await
            .expect("json");
        accounts
            .as_array()
            .and_then(|a| a.iter().find(|a| a["id"] == user))
            .and_then(|a| a["token"].as_str())
            .expect("demo account")
            .to_string()
    }

    /// `GET path` as `token`: status and JSON body (`Null` when empty).
    pub async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        let response = self
            .client
            .get(format!("{}{path}", self.url))
            .bearer_auth(token)
            .send()
            .await
            .expect("GET");
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// `POST path` with a JSON (or YAML with `yaml`) body as `token`.
    pub async fn post(&self, path: &str, token: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut request = self
            .client
            .post(format!("{}{path}", self.url))
            .bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("POST");
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// Stores the scenario file `path` (YAML) as admin; returns its id.
    pub async fn store_scenario(&self, path: &Path) -> String {
        let token = self.token("admin").await;
        let response = self
            .client
            .post(format!("{}/scenarios", self.url))
            .bearer_auth(&token)
            .header("content-type", "application/yaml")
            .body(std::fs::read_to_string(path).expect("scenario file"))
            .send()
            .await
            .expect("POST /scenarios");
        assert!(
            response.status().is_success(),
            "store scenario: {}",
            response.status()
        );
        let body: Value = response.json().await.expect("json");
        body["id"].as_str().expect("scenario id").to_string()
    }

    /// A step: `POST /processes/{id}/{action}` as `token`; the status.
    pub async fn step(
        &self,
        process: &str,
        action: &str,
        token: &str,
        response: Value,
    ) -> StatusCode {
        self.post(
            &format!("/processes/{process}/{action}"),
            token,
            Some(response),
        )
        .await
        .0
    }

    /// Starts a process (`POST /processes`, which must answer 201) as `token`; its id and
    /// JSON.
    pub async fn start_process(&self, token: &str, body: Value) -> (String, Value) {
        let (status, process) = self.post("/processes", token, Some(body)).await;
        assert_eq!(status, StatusCode::CREATED, "{process}");
        let id = process["id"].as_str().expect("process id").to_string();
        (id, process)
    }

    /// `GET /processes/{id}?wait=final` as admin (waiting up to 30 s): the `Finality`
    /// header and the process.
    pub async fn read_final(&self, id: &str) -> (String, Value) {
        let token = self.token("admin").await;
        let response = self
            .client
            .get(format!(
                "{}/processes/{id}?wait=final&timeout=30000",
                self.url
            ))
            .bearer_auth(token)
            .send()
            .await
            .expect("GET");
        let finality = response
            .headers()
            .get("finality")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        (finality, response.json().await.expect("json"))
    }

    /// The process as admin (`None` while it is unknown here).
    pub async fn process(&self, id: &str) -> Option<Value> {
        let token = self.token("admin").await;
        let (status, body) = self.get(&format!("/processes/{id}"), &token).await;
        (status == StatusCode::OK).then_some(body)
    }

    /// The hashes of the process's events (empty while it is unknown here).
    pub async fn hashes(&self, id: &str) -> Vec<String> {
        self.process(id)
            .await
            .map(|p| hashes(&p))
            .unwrap_or_default()
    }

    /// Waits until the node holds `expected` as the events of process `id`.
    pub async fn wait_for(&self, id: &str, expected: &[String]) {
        let started = Instant::now();
        loop {
            let found = self.hashes(id).await;
            if found == expected {
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "node {} holds {} of {} events of {id}",
                self.url,
                found.len(),
                expected.len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until this node sees `peers` connected.
    pub async fn wait_connected(&self, peers: &[&str]) {
        let token = self.token("admin").await;
        let started = Instant::now();
        loop {
            let (_, list) = self.get("/peers", &token).await;
            let connected = |id: &str| {
                list.as_array().is_some_and(|l| {
                    l.iter()
                        .any(|p| p["id"] == id && p["connected"] == json!(true))
                })
            };
            if peers.iter().all(|p| connected(p)) {
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "peers not connected: {list}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGKILL.
    pub fn kill(mut self) {
        self.child.kill().expect("kill");
        let _ = self.child.wait();
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Three nodes in `root` named `names`, each told of the other two, started, and the first
/// connected to the others.
pub async fn three(root: &Path, names: [&str; 3]) -> ([NodeSpec; 3], [Node; 3]) {
    let specs = names.map(|name| NodeSpec::new(root, name));
    let [sa, sb, sc] = &specs;
    let a = sa.start(&[sb, sc]).await;
    let b = sb.start(&[sa, sc]).await;
    let c = sc.start(&[sa, sb]).await;
    a.wait_connected(&[&b.id, &c.id]).await;
    (specs, [a, b, c])
}

/// The event hashes of a process JSON.
pub fn hashes(process: &Value) -> Vec<String> {
    process["events"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["hash"].as_str().map(str::to_string))
        .collect()
}

/// The purchase order of the examples (buyer, supplier, bank).
pub fn purchase() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/scenarios/purchase.yaml")
}

/// The start of a purchase order of scenario `scenario`: alice buys at the starting node,
/// bob supplies at node `supplier`, claire pays at node `bank`.
pub fn purchase_order(scenario: &str, supplier: &str, bank: &str) -> Value {
    json!({
        "scenario": scenario,
        "actors": {
            "buyer": {"id": "alice"},
            "supplier": {"id": "bob", "node": supplier},
            "bank": {"id": "claire", "node": bank},
        },
        "action": {"key": "order", "response": {"item": "bolts", "quantity": 10, "price": 2}},
    })
}

/// The start of a process of `race.yaml` (scenario `scenario`): alice is `a` at the starting
/// node and bumps at once, bob is `b` at node `b`.
pub fn race(scenario: &str, b: &str) -> Value {
    json!({
        "scenario": scenario,
        "actors": {"a": {"id": "alice"}, "b": {"id": "bob", "node": b}},
        "action": {"key": "bump_a"},
    })
}

/// The folder of the p2p test scenarios.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/p2p")
}
