//! `letsflow bench http`: a load generator for a node over loopback HTTP.
//!
//! N workers, each with its own keep-alive HTTP/1 connection, start processes of the
//! `counter` scenario and step them (`POST /processes/{id}/next`), either as fast as the node
//! answers or at a total target rate. After a warm-up it measures for a fixed time and
//! reports steps per second and the p50/p90/p99/max latency of the steps. Without `--url` it
//! starts a node itself, in a temporary folder, with the configuration of `letsflow serve`
//! (so `LETSFLOW_*` variables apply). Bounded in count and time; loopback only. See
//! `docs/bench.md`.

use anyhow::{anyhow, bail, Context, Result};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper::{header, Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use letsflow::node::config::{Config, Env, Flags};
use letsflow::node::server::Node;
use serde_json::{json, Value};
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// The scenario the benchmark runs (also the crash test's).
const COUNTER: &str = include_str!("../../tests/fixtures/node/scenarios/counter.yaml");

/// The most workers.
const MAX_CONCURRENCY: usize = 1024;
/// The longest measurement.
const MAX_DURATION: f64 = 600.0;
/// The longest a request may take before it counts as failed.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, clap::Subcommand)]
pub(crate) enum BenchCommand {
    /// Load a node over loopback HTTP: start processes and step them concurrently; report
    /// steps/s and latency.
    Http(HttpArgs),
    /// Three nodes (separate processes) on loopback sharing processes: replicated steps/s,
    /// arrival latency at the other nodes, and the cost of signing and verifying an event.
    P2p(super::bench_p2p::P2pArgs),
    /// Notifications delivered per second to a local webhook receiver, and the delay from
    /// the commit that owes one to its delivery (p50/p99).
    Services(super::bench_services::ServicesArgs),
}

#[derive(Debug, clap::Args)]
pub(crate) struct HttpArgs {
    /// Base URL of a running node (loopback only), e.g. http://127.0.0.1:8080. Without it,
    /// a node is started in a temporary folder and stopped afterwards.
    #[arg(long)]
    url: Option<String>,
    /// Workers, each with one connection and one request in flight (1–1024).
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Seconds to measure, after the warm-up (at most 600).
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Target steps per second over all workers; without it, as fast as the node answers.
    #[arg(long)]
    rate: Option<f64>,
    /// Seconds of load before measuring.
    #[arg(long, default_value_t = 2.0)]
    warmup: f64,
    /// Steps per process before a worker starts a new one.
    #[arg(long, default_value_t = 20)]
    steps_per_process: u64,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

impl BenchCommand {
    pub(crate) fn run(self) -> ExitCode {
        match self {
            BenchCommand::Http(args) => match args.run() {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: {e:#}");
                    ExitCode::FAILURE
                }
            },
            BenchCommand::P2p(args) => match args.run() {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: {e:#}");
                    ExitCode::FAILURE
                }
            },
            BenchCommand::Services(args) => match args.run() {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: {e:#}");
                    ExitCode::FAILURE
                }
            },
        }
    }
}

/// What the workers share.
struct Plan {
    addr: SocketAddr,
    host: String,
    token: String,
    scenario: String,
    concurrency: usize,
    /// Time between two steps of one worker (`None`: no pause).
    interval: Option<Duration>,
    measure_from: Instant,
    end: Instant,
    steps_per_process: u64,
}

/// What one worker saw in the measurement window.
#[derive(Debug, Default)]
struct Tally {
    /// Latencies of the acknowledged steps, in microseconds.
    latencies: Vec<u32>,
    failed: u64,
    /// Processes started (whole run).
    started: u64,
    first_error: Option<String>,
}

impl HttpArgs {
    fn run(self) -> Result<()> {
        if !(1..=MAX_CONCURRENCY).contains(&self.concurrency) {
            bail!("--concurrency must be from 1 to {MAX_CONCURRENCY}");
        }
        if !(self.duration > 0.0 && self.duration <= MAX_DURATION) {
            bail!("--duration must be above 0 and at most {MAX_DURATION} seconds");
        }
        if !(0.0..=60.0).contains(&self.warmup) {
            bail!("--warmup must be from 0 to 60 seconds");
        }
        if let Some(rate) = self.rate {
            if !(rate > 0.0 && rate <= 1e6) {
                bail!("--rate must be above 0 and at most 1000000 steps/s");
            }
        }
        if self.steps_per_process == 0 {
            bail!("--steps-per-process must be at least 1");
        }

        // A node of our own, when no URL is given, on its own runtime (its own threads).
        let own = match &self.url {
            Some(_) => None,
            None => Some(OwnNode::start()?),
        };
        let url = match (&self.url, &own) {
            (Some(url), _) => url.trim_end_matches('/').to_string(),
            (None, Some(node)) => format!("http://{}", node.addr),
            (None, None) => bail!("no node to load"),
        };
        let addr = loopback_addr(&url)?;

        // The load generator: one thread, so it takes at most one core from the node.
        let client = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("cannot start the client runtime")?;
        let result = client.block_on(self.load(addr, &url));
        let stats = own.and_then(OwnNode::stop);
        let report = result?;
        self.print(&url, &report, stats);
        Ok(())
    }

    async fn load(&self, addr: SocketAddr, url: &str) -> Result<Report> {
        let host = url
            .trim_start_matches("http://")
            .split('/')
            .next()
            .unwrap_or_default()
            .to_string();
        let mut conn = connect(addr).await?;
        // alice steps; the admin account checks (or stores) the scenario.
        let token = demo_token(&mut conn, &host, "alice").await?;
        let admin = demo_token(&mut conn, &host, "admin").await?;
        let scenario = ensure_scenario(&mut conn, &host, &admin).await?;
        drop(conn);

        let start = Instant::now();
        let measure_from = start + Duration::from_secs_f64(self.warmup);
        let plan = Arc::new(Plan {
            addr,
            host,
            token,
            scenario,
            concurrency: self.concurrency,
            interval: self
                .rate
                .map(|r| Duration::from_secs_f64(self.concurrency as f64 / r)),
            measure_from,
            end: measure_from + Duration::from_secs_f64(self.duration),
            steps_per_process: self.steps_per_process,
        });
        let ticker = super::progress::timed(plan.measure_from, plan.end);
        let workers: Vec<_> = (0..self.concurrency)
            .map(|i| tokio::spawn(worker(plan.clone(), i)))
            .collect();
        let mut total = Tally::default();
        for w in workers {
            let tally = w.await.context("a worker failed")?;
            total.latencies.extend(tally.latencies);
            total.failed += tally.failed;
            total.started += tally.started;
            if total.first_error.is_none() {
                total.first_error = tally.first_error;
            }
        }
        ticker.stop();
        total.latencies.sort_unstable();
        Ok(Report {
            tally: total,
            seconds: self.duration,
        })
    }

    fn print(&self, url: &str, report: &Report, stats: Option<(String, CommitFigures)>) {
        let lat = &report.tally.latencies;
        let ms = |q: f64| percentile(lat, q) as f64 / 1000.0;
        let ok = lat.len() as u64;
        let rate = ok as f64 / report.seconds;
        let node = stats.as_ref().map_or_else(
            || format!("node at {url}"),
            |(what, _)| format!("own node at {url} ({what})"),
        );
        if self.json {
            let mut out = json!({
                "node": node,
                "concurrency": self.concurrency,
                "duration": report.seconds,
                "targetRate": self.rate,
                "steps": ok,
                "failed": report.tally.failed,
                "stepsPerSecond": rate,
                "latencyMs": {"p50": ms(0.50), "p90": ms(0.90), "p99": ms(0.99), "max": ms(1.0)},
                "processesStarted": report.tally.started,
            });
            if let Some((_, c)) = &stats {
                out["groupCommit"] = json!({
                    "transactions": c.transactions,
                    "batches": c.batches,
                    "busyMs": c.busy_micros / 1000,
                    "slowestMs": c.max_micros as f64 / 1000.0,
                });
            }
            println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
            return;
        }
        println!("letsflow bench http — {node}");
        println!(
            "  {} workers, {:.1} s measured after {:.1} s warm-up, target rate {}",
            self.concurrency,
            report.seconds,
            self.warmup,
            self.rate
                .map_or("none (as fast as answered)".to_string(), |r| format!(
                    "{r} steps/s"
                ))
        );
        println!(
            "  steps: {ok} acknowledged, {} failed → {rate:.0} steps/s",
            report.tally.failed
        );
        println!(
            "  latency: p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            ms(0.50),
            ms(0.90),
            ms(0.99),
            ms(1.0)
        );
        println!("  processes started: {}", report.tally.started);
        if let Some((_, c)) = stats {
            if c.transactions > 0 {
                println!(
                    "  group commit: {} transactions for {} steps and starts ({:.1} per \
                     transaction, {:.2} ms each on average, slowest {:.2} ms)",
                    c.transactions,
                    c.batches,
                    c.batches as f64 / c.transactions as f64,
                    c.busy_micros as f64 / 1000.0 / c.transactions as f64,
                    c.max_micros as f64 / 1000.0
                );
            }
        }
        if let Some(e) = &report.tally.first_error {
            println!("  first error: {e}");
        }
    }
}

struct Report {
    tally: Tally,
    seconds: f64,
}

/// The latency at quantile `q` (0–1) of sorted microseconds.
pub(crate) fn percentile(sorted: &[u32], q: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((sorted.len() as f64) * q).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// The socket address of a loopback URL (`http://127.0.0.1:8080`, `http://localhost:8080`);
/// anything else is refused.
fn loopback_addr(url: &str) -> Result<SocketAddr> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| anyhow!("--url must start with http:// (got '{url}')"))?;
    let authority = rest.split('/').next().unwrap_or_default();
    let addrs: Vec<SocketAddr> = authority
        .to_socket_addrs()
        .with_context(|| format!("--url: '{authority}' is not HOST:PORT"))?
        .collect();
    addrs
        .into_iter()
        .find(|a| is_loopback(a.ip()))
        .ok_or_else(|| {
            anyhow!(
                "--url must be a loopback address (127.0.0.0/8, ::1, localhost), not '{authority}'"
            )
        })
}

fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

pub(crate) type Conn = SendRequest<Full<Bytes>>;

pub(crate) async fn connect(addr: SocketAddr) -> Result<Conn> {
    let stream = tokio::net::TcpStream::connect(addr)
        .await
        .with_context(|| format!("cannot connect to {addr}"))?;
    stream.set_nodelay(true).context("TCP_NODELAY")?;
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .context("HTTP handshake")?;
    tokio::spawn(async move {
        // Ends when the worker drops its sender or the node closes the connection.
        let _ = connection.await;
    });
    Ok(sender)
}

/// One request; returns the status, the `Location` header and the body.
pub(crate) async fn call(
    conn: &mut Conn,
    method: Method,
    host: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> Result<(StatusCode, Option<String>, Bytes)> {
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header(header::HOST, host);
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let body = match body {
        Some(value) => {
            request = request
                .header(header::CONTENT_TYPE, "application/json")
                .header("As-Actor", "user");
            Full::new(Bytes::from(serde_json::to_vec(value)?))
        }
        None => Full::new(Bytes::new()),
    };
    let request = request.body(body)?;
    let exchange = async {
        conn.ready().await?;
        let response = conn.send_request(request).await?;
        let status = response.status();
        let location = response
            .headers()
            .get(header::LOCATION)
            .and_then(|l| l.to_str().ok())
            .map(str::to_string);
        let bytes = response.into_body().collect().await?.to_bytes();
        Ok::<_, hyper::Error>((status, location, bytes))
    };
    tokio::time::timeout(REQUEST_TIMEOUT, exchange)
        .await
        .map_err(|_| anyhow!("no answer within {REQUEST_TIMEOUT:?}"))?
        .map_err(Into::into)
}

pub(crate) fn text(bytes: &Bytes) -> String {
    String::from_utf8_lossy(bytes).chars().take(300).collect()
}

/// The token of demo account `account` of a development node.
pub(crate) async fn demo_token(conn: &mut Conn, host: &str, account: &str) -> Result<String> {
    let (status, _, body) = call(conn, Method::GET, host, "/demo-accounts", None, None).await?;
    if !status.is_success() {
        bail!(
            "GET /demo-accounts answered {status}: the node must run in development mode ({})",
            text(&body)
        );
    }
    let accounts: Value = serde_json::from_slice(&body).context("GET /demo-accounts: not JSON")?;
    accounts
        .as_array()
        .and_then(|list| list.iter().find(|a| a["id"] == account))
        .and_then(|a| a["token"].as_str())
        .map(str::to_string)
        .ok_or_else(|| {
            anyhow!(
                "GET /demo-accounts has no token for {account}: {}",
                text(&body)
            )
        })
}

/// The id of the counter scenario on the node, storing it there when it is missing.
async fn ensure_scenario(conn: &mut Conn, host: &str, token: &str) -> Result<String> {
    let raw = letsflow::scenario::from_yaml(COUNTER).context("the counter scenario")?;
    let normalized = letsflow::scenario::normalize(&raw).context("the counter scenario")?;
    let id = letsflow::scenario::scenario_id(&normalized).to_string();
    let path = format!("/scenarios/{id}");
    let (status, _, _) = call(conn, Method::GET, host, &path, Some(token), None).await?;
    if status.is_success() {
        return Ok(id);
    }
    let (status, _, body) = call(
        conn,
        Method::POST,
        host,
        "/scenarios",
        Some(token),
        Some(&raw),
    )
    .await?;
    if !status.is_success() {
        bail!(
            "the node has no counter scenario and POST /scenarios answered {status} ({}); \
             put tests/fixtures/node/scenarios/counter.yaml in its scenarios folder",
            text(&body)
        );
    }
    Ok(id)
}

/// One worker: its own connection, its own process (a new one every `steps_per_process`
/// steps), one step in flight.
async fn worker(plan: Arc<Plan>, index: usize) -> Tally {
    let mut tally = Tally::default();
    let mut conn: Option<Conn> = None;
    let mut process: Option<(String, u64)> = None;
    // Spread the workers' first steps over one interval.
    let mut next = plan
        .interval
        .map(|iv| Instant::now() + iv.mul_f64(index as f64 / plan.concurrency as f64));
    let mut n: u64 = 0;
    loop {
        // Between steps, off the clock: connect, start a process.
        if conn.is_none() {
            match connect(plan.addr).await {
                Ok(c) => conn = Some(c),
                Err(e) => {
                    fail(&mut tally, &plan, Instant::now(), e);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
        if let (Some(c), None) = (conn.as_mut(), &process) {
            match start_process(c, &plan).await {
                Ok(id) => {
                    process = Some((id, 0));
                    tally.started += 1;
                }
                Err(e) => {
                    fail(&mut tally, &plan, Instant::now(), e);
                    conn = None;
                }
            }
        }
        if let Some(at) = next {
            if at >= plan.end {
                break;
            }
            tokio::time::sleep_until(at).await;
        }
        let scheduled = next.unwrap_or_else(Instant::now);
        if scheduled >= plan.end {
            break;
        }
        if let Some(iv) = plan.interval {
            next = Some(scheduled + iv);
        }
        let (Some(c), Some((id, steps))) = (conn.as_mut(), process.as_mut()) else {
            continue;
        };
        let path = format!("/processes/{id}/next");
        let body = json!({"n": n});
        n += 1;
        let answer = call(
            c,
            Method::POST,
            &plan.host,
            &path,
            Some(&plan.token),
            Some(&body),
        )
        .await;
        // With a target rate, latency counts from when the step was due, so a slow answer
        // that delays the next steps shows in their latency too.
        let latency = scheduled.elapsed();
        match answer {
            Ok((status, _, _)) if status.is_success() => {
                if scheduled >= plan.measure_from {
                    let micros = u32::try_from(latency.as_micros()).unwrap_or(u32::MAX);
                    tally.latencies.push(micros);
                }
                *steps += 1;
                if *steps >= plan.steps_per_process {
                    process = None;
                }
            }
            Ok((status, _, body)) => {
                fail(
                    &mut tally,
                    &plan,
                    scheduled,
                    anyhow!("step answered {status}: {}", text(&body)),
                );
            }
            Err(e) => {
                fail(&mut tally, &plan, scheduled, e);
                conn = None;
            }
        }
    }
    tally
}

fn fail(tally: &mut Tally, plan: &Plan, at: Instant, error: anyhow::Error) {
    if at >= plan.measure_from {
        tally.failed += 1;
    }
    if tally.first_error.is_none() {
        tally.first_error = Some(format!("{error:#}"));
    }
}

async fn start_process(conn: &mut Conn, plan: &Plan) -> Result<String> {
    // A person starts only processes they take part in: with a first step.
    let body = json!({
        "scenario": plan.scenario,
        "actors": {"user": {"id": "alice"}},
        "action": {"key": "next", "response": {"n": 0}},
    });
    let (status, location, bytes) = call(
        conn,
        Method::POST,
        &plan.host,
        "/processes",
        Some(&plan.token),
        Some(&body),
    )
    .await?;
    if !status.is_success() {
        bail!("POST /processes answered {status}: {}", text(&bytes));
    }
    let answer: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    answer["id"]
        .as_str()
        .map(str::to_string)
        .or_else(|| location.and_then(|l| l.rsplit('/').next().map(str::to_string)))
        .ok_or_else(|| anyhow!("POST /processes gave no process id: {}", text(&bytes)))
}

/// Group commit figures of the node the benchmark started.
#[derive(Debug, Clone, Copy)]
struct CommitFigures {
    transactions: u64,
    batches: u64,
    busy_micros: u64,
    max_micros: u64,
}

/// A node started by the benchmark: temp folder, the counter scenario, its own runtime.
struct OwnNode {
    addr: SocketAddr,
    stop: tokio::sync::oneshot::Sender<()>,
    thread: std::thread::JoinHandle<Result<()>>,
    engine: Arc<letsflow::engine::Engine>,
    what: String,
    _dir: tempfile::TempDir,
}

impl OwnNode {
    fn start() -> Result<OwnNode> {
        let dir = tempfile::Builder::new()
            .prefix("letsflow-bench-")
            .tempdir()
            .context("temp dir")?;
        let scenarios = dir.path().join("scenarios");
        std::fs::create_dir_all(&scenarios)?;
        std::fs::write(scenarios.join("counter.yaml"), COUNTER)?;
        let flags = Flags {
            data: Some(dir.path().join("data")),
            http: Some("127.0.0.1:0".into()),
            scenarios: Some(scenarios),
            schemas: Some(PathBuf::new()),
            dev: true,
            ..Flags::default()
        };
        let config = Config::load(&flags, &Env::from_process())?;
        let what = format!(
            "{} in {}, group commit ≤ {} per transaction",
            config.storage,
            config.data.display(),
            config.commit.max_group
        );
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .thread_name("letsflow-node")
            .build()
            .context("cannot start the node runtime")?;
        let node = Node::build(&config)?;
        let engine = node.engine().clone();
        let listener = runtime.block_on(tokio::net::TcpListener::bind(config.http))?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("letsflow-node".into())
            .spawn(move || {
                runtime.block_on(node.serve(listener, async move {
                    let _ = stopped.await;
                }))?;
                Ok(())
            })?;
        Ok(OwnNode {
            addr,
            stop,
            thread,
            engine,
            what,
            _dir: dir,
        })
    }

    /// Stops the node; returns what it is and its group-commit figures.
    fn stop(self) -> Option<(String, CommitFigures)> {
        let _ = self.stop.send(());
        match self.thread.join() {
            Ok(Err(e)) => eprintln!("warning: the benchmark node failed: {e:#}"),
            Err(_) => eprintln!("warning: the benchmark node panicked"),
            Ok(Ok(())) => {}
        }
        let stats = self.engine.commit_stats()?;
        Some((
            self.what,
            CommitFigures {
                transactions: stats.transactions,
                batches: stats.batches,
                busy_micros: stats.busy_micros,
                max_micros: stats.max_micros,
            },
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_urls() {
        assert!(loopback_addr("http://127.0.0.1:8080").is_ok());
        assert!(loopback_addr("http://127.1.2.3:8080/").is_ok());
        assert!(loopback_addr("http://[::1]:8080").is_ok());
        assert!(loopback_addr("http://localhost:8080").is_ok());
        for bad in [
            "http://10.0.0.1:8080",
            "http://192.168.1.1:80",
            "http://8.8.8.8:80",
            "https://127.0.0.1:8080",
            "127.0.0.1:8080",
        ] {
            assert!(loopback_addr(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn percentiles() {
        let v: Vec<u32> = (1..=100).collect();
        assert_eq!(percentile(&v, 0.5), 50);
        assert_eq!(percentile(&v, 0.99), 99);
        assert_eq!(percentile(&v, 1.0), 100);
        assert_eq!(percentile(&[], 0.5), 0);
        assert_eq!(percentile(&[7], 0.01), 7);
    }
}
