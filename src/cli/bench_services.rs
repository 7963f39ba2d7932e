//! `letsflow bench services`: notifications delivered per second to a local webhook receiver,
//! and the delay from the commit of the event that owes a notification to its arrival at the
//! receiver (p50/p99/max).
//!
//! It starts, in one process: an HTTP receiver on loopback (axum, answering 202: no
//! response, so no step follows) and a node (redb store in a temporary folder, development
//! mode, default settings) with one webhook service `sink`. Producer threads start processes of a scenario whose first state notifies
//! `sink`: each start is one durable commit that owes one notification. The commit time of
//! each is taken when the start returns (the commit is durable then) and its arrival when
//! the receiver reads the request. Bounded in count; loopback only. See `docs/bench.md`.

use anyhow::{bail, Context, Result};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use letsflow::engine::timers::now;
use letsflow::node::config::{Config, Env, Flags};
use letsflow::node::server::Node;
use serde_json::{json, Map};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const SCENARIO: &str = r#"
name: bench-notify
version: "1.0"
title: Notify benchmark
actors:
  client: {}
actions:
  confirm:
    actor: service:sink
states:
  initial:
    notify:
      service: sink
    on: confirm
    goto: (done)
"#;

/// The most notifications in one run.
const MAX_NOTIFICATIONS: usize = 1_000_000;

#[derive(Debug, clap::Args)]
pub(crate) struct ServicesArgs {
    /// Notifications to deliver (one process started for each).
    #[arg(long, default_value_t = 20_000)]
    notifications: usize,
    /// Threads starting processes concurrently.
    #[arg(long, default_value_t = 8)]
    producers: usize,
    /// Deliveries in flight to the webhook at most (the service's `concurrency`).
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Commit all notifications first, then start delivering: measures how fast the node
    /// drains a backlog (the delays then include the wait and are not reported).
    #[arg(long)]
    backlog: bool,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

/// Arrival times at the receiver, by process id.
#[derive(Clone, Default)]
struct Arrivals(Arc<Mutex<HashMap<String, Instant>>>);

async fn receive(State(arrivals): State<Arrivals>, headers: HeaderMap) -> StatusCode {
    let at = Instant::now();
    if let Some(process) = headers
        .get("x-letsflow-process")
        .and_then(|v| v.to_str().ok())
    {
        if let Ok(mut map) = arrivals.0.lock() {
            map.entry(process.to_string()).or_insert(at);
        }
    }
    StatusCode::ACCEPTED
}

impl ServicesArgs {
    pub(crate) fn run(self) -> Result<()> {
        if !(1..=MAX_NOTIFICATIONS).contains(&self.notifications) {
            bail!("--notifications must be from 1 to {MAX_NOTIFICATIONS}");
        }
        if !(1..=64).contains(&self.producers) {
            bail!("--producers must be from 1 to 64");
        }
        if !(1..=1000).contains(&self.concurrency) {
            bail!("--concurrency must be from 1 to 1000");
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .context("cannot start the runtime")?;
        runtime.block_on(self.measure())
    }

    async fn measure(&self) -> Result<()> {
        let arrivals = Arrivals::default();
        let app = Router::new()
            .route("/sink", post(receive))
            .with_state(arrivals.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("cannot bind the receiver")?;
        let sink = format!("http://{}/sink", listener.local_addr()?);
        tokio::spawn(async move { axum::serve(listener, app).await });

        let data = tempfile::tempdir().context("cannot create a temporary folder")?;
        let services =
            json!({"sink": {"provider": "webhook", "url": sink, "concurrency": self.concurrency}})
                .to_string();
        let env: Env = [
            ("LETSFLOW_DATA", data.path().to_str().unwrap_or_default()),
            ("LETSFLOW_HTTP", "127.0.0.1:0"),
            ("LETSFLOW_SCENARIOS", ""),
            ("LETSFLOW_SCHEMAS", ""),
            ("LETSFLOW_DEV", "true"),
            ("LETSFLOW_LOG", "warn"),
            ("LETSFLOW_LISTEN", "/ip4/127.0.0.1/tcp/0"),
            ("LETSFLOW_SERVICES", services.as_str()),
        ]
        .into_iter()
        .collect();
        let config = Config::load(&Flags::default(), &env).context("configuration")?;
        let node = tokio::task::block_in_place(|| Node::build(&config))?;
        let engine = node.engine().clone();
        let raw = letsflow::scenario::yaml::from_yaml(SCENARIO).context("the scenario")?;
        let (scenario, _) = engine.add_scenario(&raw, now())?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let serve = node.serve(listener, async move {
            let _ = stopped.await;
        });
        let (served, mut serve) = if self.backlog {
            (None, Some(serve))
        } else {
            (Some(tokio::spawn(serve)), None)
        };

        let mut started = Instant::now();
        let per = self.notifications.div_ceil(self.producers);
        let mut producers = Vec::new();
        for p in 0..self.producers {
            let (engine, scenario) = (engine.clone(), scenario.clone());
            let count = per.min(self.notifications.saturating_sub(p * per));
            producers.push(tokio::task::spawn_blocking(move || {
                let mut committed = Vec::with_capacity(count);
                for i in 0..count {
                    let id = format!("bench-{p}-{i}");
                    let mut actors = Map::new();
                    actors.insert("client".into(), json!({}));
                    engine.start(&scenario, &id, actors, now())?;
                    committed.push((id, Instant::now()));
                }
                Ok::<_, letsflow::engine::EngineError>(committed)
            }));
        }
        let mut committed = HashMap::new();
        for p in producers {
            committed.extend(p.await.context("a producer failed")??);
        }
        let produced = started.elapsed();
        let served = match (served, serve.take()) {
            (Some(task), _) => task,
            (None, Some(serve)) => {
                started = Instant::now();
                tokio::spawn(serve)
            }
            (None, None) => bail!("the node was not started"),
        };
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let arrived = arrivals.0.lock().map(|m| m.len()).unwrap_or(0);
            if arrived >= committed.len() {
                break;
            }
            if Instant::now() > deadline {
                bail!(
                    "only {arrived} of {} notifications arrived within 2 minutes",
                    committed.len()
                );
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let arrivals = arrivals.0.lock().map(|m| m.clone()).unwrap_or_default();
        let last = arrivals.values().max().copied().unwrap_or(started);
        let elapsed = last.duration_since(started);
        let mut delays: Vec<f64> = committed
            .iter()
            .filter_map(|(id, at)| {
                arrivals
                    .get(id)
                    .map(|a| a.saturating_duration_since(*at).as_secs_f64() * 1000.0)
            })
            .collect();
        delays.sort_by(f64::total_cmp);
        let pick = |q: f64| {
            let i = ((delays.len() as f64 * q).ceil() as usize).clamp(1, delays.len()) - 1;
            delays[i]
        };
        let rate = committed.len() as f64 / elapsed.as_secs_f64();
        let commit_rate = committed.len() as f64 / produced.as_secs_f64();
        let _ = stop.send(());
        served.await.context("the node task")??;
        if self.backlog {
            println!(
                "a backlog of {} notifications delivered to a local webhook in {:.2} s: {:.0} \
                 notifications/s (concurrency {})",
                committed.len(),
                elapsed.as_secs_f64(),
                rate,
                self.concurrency
            );
            return Ok(());
        }
        if self.json {
            let out = json!({
                "notifications": committed.len(),
                "notificationsPerSecond": rate,
                "commitsPerSecond": commit_rate,
                "delayMs": {"p50": pick(0.5), "p99": pick(0.99), "max": pick(1.0)},
                "producers": self.producers,
                "concurrency": self.concurrency,
            });
            println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
        } else {
            println!(
                "{} notifications to a local webhook in {:.2} s: {:.0} notifications/s \
                 (commits {:.0}/s); commit to delivery p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms \
                 ({} producers, concurrency {})",
                committed.len(),
                elapsed.as_secs_f64(),
                rate,
                commit_rate,
                pick(0.5),
                pick(0.99),
                pick(1.0),
                self.producers,
                self.concurrency,
            );
        }
        Ok(())
    }
}
