//! `letsflow bench p2p`: three nodes, each a separate `letsflow serve` process on loopback,
//! sharing processes. Every node has `--concurrency` workers; each worker owns one process
//! of the `ledger` scenario whose actor `user` is bound to the worker's node and whose other
//! actors are bound to the two other nodes, and steps it over HTTP — so all three nodes
//! author events and every event is delivered to two others. Reports the replicated steps/s
//! (acknowledged steps, counted once every node holds them), the arrival latency at the
//! other nodes (from the step's timestamp to its commit there, p50/p99, from
//! `GET /replication`), the finality latency at every node (from the step's timestamp to the
//! moment it is final there, also from `GET /replication`), and the cost of signing and
//! verifying one event. See
//! `docs/bench.md`.

use super::bench::{call, connect, demo_token, percentile, text, Conn};
use anyhow::{anyhow, bail, Context, Result};
use hyper::{Method, StatusCode};
use letsflow::chain::{sign_event, verify_event, NodeKey};
use letsflow::process::{Event, TimeoutEvent, Timestamp, EVENT_VERSION};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tokio::time::Instant;

/// The scenario of the benchmark: `user` notes as often as it likes; `b` and `c` only take
/// part (they make the process shared).
const LEDGER: &str = "name: ledger
version: '1.0'
title: Ledger
actors:
  user: {title: User}
  b: {title: B}
  c: {title: C}
actions:
  note:
    actor: user
    update:
      set: vars.n
      value: !ref current.response
states:
  initial:
    on: note
    goto: initial
";

#[derive(Debug, clap::Args)]
pub(crate) struct P2pArgs {
    /// Workers per node, each with its own process and one step in flight (1–256).
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Seconds to measure (at most 600).
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Target steps per second over all three nodes; without it, as fast as they answer.
    #[arg(long)]
    rate: Option<f64>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

/// One node process of the benchmark.
struct BenchNode {
    child: Child,
    addr: SocketAddr,
    id: String,
}

impl Drop for BenchNode {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Starts three connected nodes in `root`.
fn start_nodes(root: &std::path::Path) -> Result<Vec<BenchNode>> {
    let exe = std::env::current_exe().context("the letsflow executable")?;
    let mut specs = vec![];
    for n in 0..3 {
        let data = root.join(format!("node{n}"));
        let (key, _) = letsflow::node::identity::load_or_create(&data)?;
        specs.push((data, free_port()?, key.id().to_string()));
    }
    let mut nodes = vec![];
    for (n, (data, port, id)) in specs.iter().enumerate() {
        let mut command = Command::new(&exe);
        command
            .args([
                "serve",
                "--dev",
                "--http",
                "127.0.0.1:0",
                "--scenarios",
                "",
                "--schemas",
                "",
            ])
            .arg("--data")
            .arg(data)
            .arg("--listen")
            .arg(format!("/ip4/127.0.0.1/tcp/{port}"));
        for (m, (_, other, other_id)) in specs.iter().enumerate() {
            if m != n {
                command
                    .arg("--peer")
                    .arg(format!("/ip4/127.0.0.1/tcp/{other}/p2p/{other_id}"));
            }
        }
        let mut child = command
            .env("LETSFLOW_LOG", "error")
            .env_remove("LETSFLOW_CONFIG")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .context("cannot start letsflow serve")?;
        let stdout = child.stdout.take().context("stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let addr = loop {
            match lines.next() {
                Some(Ok(line)) => {
                    if let Some(url) = line.strip_prefix("letsflow listening on http://") {
                        break url.parse().context("the node's address")?;
                    }
                }
                _ => bail!("node {n} stopped before it listened"),
            }
        };
        nodes.push(BenchNode {
            child,
            addr,
            id: id.clone(),
        });
    }
    Ok(nodes)
}

/// Sign and verify costs of one event, in microseconds.
fn seal_costs() -> (f64, f64) {
    let key = NodeKey::from_bytes(&[9; 32]);
    let mut event = Event::Timeout(TimeoutEvent {
        previous: "0".repeat(64),
        timestamp: Timestamp::from_millis(0),
        version: EVENT_VERSION,
        signer: None,
        signature: None,
        hash: String::new(),
    });
    event.rehash();
    let rounds = 2_000;
    let started = std::time::Instant::now();
    for _ in 0..rounds {
        let _ = sign_event(&key, &mut event);
    }
    let sign = started.elapsed().as_secs_f64() * 1e6 / f64::from(rounds);
    let started = std::time::Instant::now();
    for _ in 0..rounds {
        let _ = verify_event(&event);
    }
    let verify = started.elapsed().as_secs_f64() * 1e6 / f64::from(rounds);
    (sign, verify)
}

/// What one worker did in the measurement window.
#[derive(Default)]
struct Tally {
    acknowledged: u64,
    failed: u64,
    latencies: Vec<u32>,
    process: Option<(usize, String)>,
    error: Option<String>,
}

impl P2pArgs {
    pub(crate) fn run(self) -> Result<()> {
        if !(1..=256).contains(&self.concurrency) {
            bail!("--concurrency must be 1–256");
        }
        if !(self.duration > 0.0 && self.duration <= 600.0) {
            bail!("--duration must be more than 0 and at most 600 seconds");
        }
        let (sign, verify) = seal_costs();
        let root = tempfile::Builder::new()
            .prefix("letsflow-bench-p2p-")
            .tempdir()?;
        eprintln!("starting three nodes in {}", root.path().display());
        let nodes = start_nodes(root.path())?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        runtime.block_on(self.drive(&nodes, sign, verify))
    }

    async fn drive(&self, nodes: &[BenchNode], sign: f64, verify: f64) -> Result<()> {
        let host = |n: &BenchNode| n.addr.to_string();
        let mut tokens = vec![];
        for node in nodes {
            let mut conn = ready(node.addr).await?;
            tokens.push(demo_token(&mut conn, &host(node), "admin").await?);
        }
        // Every node stores the scenario; they would fetch it from each other otherwise.
        let raw = letsflow::scenario::from_yaml(LEDGER)?;
        let mut scenario = String::new();
        for (node, token) in nodes.iter().zip(&tokens) {
            let mut conn = connect(node.addr).await?;
            let (status, _, body) = call(
                &mut conn,
                Method::POST,
                &host(node),
                "/scenarios",
                Some(token),
                Some(&raw),
            )
            .await?;
            if !status.is_success() {
                bail!("POST /scenarios answered {status}: {}", text(&body));
            }
            let body: Value = serde_json::from_slice(&body)?;
            scenario = body["id"].as_str().unwrap_or_default().to_string();
        }
        wait_connected(nodes, &tokens).await?;

        let workers = self.concurrency * 3;
        let interval = self
            .rate
            .map(|r| Duration::from_secs_f64(workers as f64 / r.max(0.001)));
        let start = Instant::now();
        let measure_from = start + Duration::from_secs(2);
        let end = measure_from + Duration::from_secs_f64(self.duration);
        let since = chrono::Utc::now().timestamp_millis() + 2_000;
        let ids: Vec<String> = nodes.iter().map(|n| n.id.clone()).collect();
        let ticker = super::progress::timed(measure_from, end);
        let mut tasks = vec![];
        for w in 0..workers {
            let n = w % 3;
            let addr = nodes[n].addr;
            let token = tokens[n].clone();
            let scenario = scenario.clone();
            let actors = json!({
                "user": {"id": "admin"},
                "b": {"id": "b", "node": ids[(n + 1) % 3]},
                "c": {"id": "c", "node": ids[(n + 2) % 3]},
            });
            tasks.push(tokio::spawn(async move {
                worker(
                    addr,
                    n,
                    token,
                    scenario,
                    actors,
                    interval,
                    measure_from,
                    end,
                )
                .await
            }));
        }
        let mut tallies = vec![];
        for task in tasks {
            tallies.push(task.await.map_err(|e| anyhow!("worker: {e}"))?);
        }
        ticker.stop();
        let measured = self.duration;
        let acknowledged: u64 = tallies.iter().map(|t| t.acknowledged).sum();
        let failed: u64 = tallies.iter().map(|t| t.failed).sum();
        if let Some(error) = tallies.iter().find_map(|t| t.error.clone()) {
            eprintln!("first failure: {error}");
        }

        // Replicated: every node holds every process with the same head.
        let converge_from = Instant::now();
        let processes: Vec<(usize, String)> =
            tallies.iter().filter_map(|t| t.process.clone()).collect();
        for (author, id) in &processes {
            let head = head_of(&nodes[*author], &tokens[*author], id).await?;
            for (node, token) in nodes.iter().zip(&tokens) {
                let deadline = Instant::now() + Duration::from_secs(60);
                while head_of(node, token, id).await? != head {
                    if Instant::now() > deadline {
                        bail!("process {id} did not converge on {}", node.addr);
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        }
        let converge = converge_from.elapsed().as_secs_f64();
        let mut lag = vec![];
        for (node, token) in nodes.iter().zip(&tokens) {
            let mut conn = connect(node.addr).await?;
            let path = format!("/replication?since={since}");
            let (_, _, body) = call(
                &mut conn,
                Method::GET,
                &host(node),
                &path,
                Some(token),
                None,
            )
            .await?;
            lag.push(serde_json::from_slice::<Value>(&body)?);
        }
        let mut latencies: Vec<u32> = tallies.iter().flat_map(|t| t.latencies.clone()).collect();
        latencies.sort_unstable();
        let report = json!({
            "nodes": 3,
            "workers": workers,
            "seconds": measured,
            "acknowledgedSteps": acknowledged,
            "failedSteps": failed,
            "replicatedStepsPerSecond": (acknowledged as f64 / (measured + converge)).round(),
            "ackStepsPerSecond": (acknowledged as f64 / measured).round(),
            "convergeSeconds": (converge * 1000.0).round() / 1000.0,
            "stepLatencyMs": {
                "p50": f64::from(percentile(&latencies, 0.5)) / 1000.0,
                "p99": f64::from(percentile(&latencies, 0.99)) / 1000.0,
            },
            "arrivalLagMs": lag,
            "signMicros": (sign * 10.0).round() / 10.0,
            "verifyMicros": (verify * 10.0).round() / 10.0,
        });
        if self.json {
            println!("{}", serde_json::to_string_pretty(&report)?);
        } else {
            println!(
                "{} steps acknowledged in {measured} s by {workers} workers on 3 nodes ({failed} failed)",
                acknowledged
            );
            println!(
                "replicated: {} steps/s (all nodes converged {:.3} s after the end)",
                report["replicatedStepsPerSecond"], converge
            );
            println!(
                "step latency at the author: p50 {} ms, p99 {} ms",
                report["stepLatencyMs"]["p50"], report["stepLatencyMs"]["p99"]
            );
            for (n, l) in lag.iter().enumerate() {
                println!(
                    "arrival at node {n}: {} events, p50 {} ms, p99 {} ms, max {} ms",
                    l["received"], l["p50Ms"], l["p99Ms"], l["maxMs"]
                );
            }
            for (n, l) in lag.iter().enumerate() {
                let f = &l["final"];
                println!(
                    "final at node {n}: {} events, p50 {} ms, p99 {} ms, max {} ms (forks: {})",
                    f["received"], f["p50Ms"], f["p99Ms"], f["maxMs"], l["forks"]
                );
            }
            println!("sign {sign:.1} µs, verify {verify:.1} µs per event");
        }
        Ok(())
    }
}

async fn ready(addr: SocketAddr) -> Result<Conn> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match connect(addr).await {
            Ok(conn) => return Ok(conn),
            Err(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await
            }
            Err(e) => return Err(e),
        }
    }
}

async fn wait_connected(nodes: &[BenchNode], tokens: &[String]) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    for (node, token) in nodes.iter().zip(tokens) {
        loop {
            let mut conn = connect(node.addr).await?;
            let (_, _, body) = call(
                &mut conn,
                Method::GET,
                &node.addr.to_string(),
                "/peers",
                Some(token),
                None,
            )
            .await?;
            let peers: Value = serde_json::from_slice(&body)?;
            let connected = peers
                .as_array()
                .map_or(0, |l| l.iter().filter(|p| p["connected"] == true).count());
            if connected >= 2 {
                break;
            }
            if Instant::now() > deadline {
                bail!("the nodes did not connect: {peers}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    Ok(())
}

async fn head_of(node: &BenchNode, token: &str, id: &str) -> Result<String> {
    let mut conn = connect(node.addr).await?;
    let path = format!("/processes/{id}");
    let (status, _, body) = call(
        &mut conn,
        Method::GET,
        &node.addr.to_string(),
        &path,
        Some(token),
        None,
    )
    .await?;
    if status == StatusCode::NOT_FOUND {
        return Ok(String::new());
    }
    let process: Value = serde_json::from_slice(&body)?;
    Ok(process["events"]
        .as_array()
        .and_then(|e| e.last())
        .and_then(|e| e["hash"].as_str())
        .unwrap_or_default()
        .to_string())
}

#[allow(clippy::too_many_arguments)]
async fn worker(
    addr: SocketAddr,
    node: usize,
    token: String,
    scenario: String,
    actors: Value,
    interval: Option<Duration>,
    measure_from: Instant,
    end: Instant,
) -> Tally {
    let mut tally = Tally::default();
    let host = addr.to_string();
    let mut conn = match connect(addr).await {
        Ok(conn) => conn,
        Err(e) => {
            tally.error = Some(e.to_string());
            return tally;
        }
    };
    let start = json!({"scenario": scenario, "actors": actors});
    let id = match call(
        &mut conn,
        Method::POST,
        &host,
        "/processes",
        Some(&token),
        Some(&start),
    )
    .await
    {
        Ok((status, _, body)) if status.is_success() => serde_json::from_slice::<Value>(&body)
            .ok()
            .and_then(|p| p["id"].as_str().map(str::to_string)),
        Ok((status, _, body)) => {
            tally.error = Some(format!("start answered {status}: {}", text(&body)));
            None
        }
        Err(e) => {
            tally.error = Some(e.to_string());
            None
        }
    };
    let Some(id) = id else {
        return tally;
    };
    tally.process = Some((node, id.clone()));
    let path = format!("/processes/{id}/note");
    let mut next = Instant::now();
    let mut n = 0u64;
    while Instant::now() < end {
        if let Some(interval) = interval {
            tokio::time::sleep_until(next).await;
            next += interval;
        }
        n += 1;
        let sent = Instant::now();
        let result = call(
            &mut conn,
            Method::POST,
            &host,
            &path,
            Some(&token),
            Some(&json!(n)),
        )
        .await;
        let measured = sent >= measure_from && sent < end;
        match result {
            Ok((status, _, _)) if status.is_success() => {
                if measured {
                    tally.acknowledged += 1;
                    tally
                        .latencies
                        .push(sent.elapsed().as_micros().min(u128::from(u32::MAX)) as u32);
                }
            }
            Ok((status, _, body)) => {
                tally.failed += u64::from(measured);
                tally
                    .error
                    .get_or_insert_with(|| format!("step answered {status}: {}", text(&body)));
            }
            Err(e) => {
                tally.failed += u64::from(measured);
                tally.error.get_or_insert_with(|| e.to_string());
                match connect(addr).await {
                    Ok(c) => conn = c,
                    Err(_) => return tally,
                }
            }
        }
    }
    tally
}
