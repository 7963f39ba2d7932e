//! Concurrent steps between real nodes (separate `letsflow serve` processes over loopback
//! TCP): fork choice, rebase, finality and `?wait=final`.
//!
//! 1. Two parties act on the same state at the same moment, 200 times over four processes,
//!    while a recorder reads the processes from both nodes all along: both nodes converge
//!    on the same chain, every losing step is rebased (all steps end up in the chain) or —
//!    for a close that lost — answered 409 with its reason, and no event shown as final is
//!    ever shown differently by either node.
//! 2. Three organisations run the purchase order with `?wait=final` on every step: each
//!    answer comes once the step is final at every participant, and all three end with
//!    every event final.

mod cluster;

use cluster::{fixtures, hashes, Node, NodeSpec};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const PROCESSES: usize = 4;
const RACES: usize = 50;

/// The final events every GET showed, by process: the first ones, in order. A node may
/// know fewer final events than another, but never different ones.
#[derive(Default)]
struct FinalLog {
    by_process: HashMap<String, Vec<String>>,
    reads: usize,
}

impl FinalLog {
    fn check(&mut self, node: &str, process: &str, json: &Value) -> Result<(), String> {
        let Some(events) = json["events"].as_array() else {
            return Ok(());
        };
        self.reads += 1;
        let finals = events
            .iter()
            .take_while(|e| e["final"] == json!(true))
            .count();
        if events[finals..].iter().any(|e| e["final"] == json!(true)) {
            return Err(format!(
                "{node}: final events of {process} are not a prefix"
            ));
        }
        let known = self.by_process.entry(process.to_string()).or_default();
        for (i, event) in events.iter().enumerate() {
            let hash = event["hash"].as_str().unwrap_or_default();
            match known.get(i) {
                Some(shown) if shown != hash => {
                    return Err(format!(
                        "{node}: event {i} of {process} is {hash}, but {shown} was shown final"
                    ))
                }
                None if i < finals => known.push(hash.to_string()),
                _ => {}
            }
        }
        Ok(())
    }
}

/// Reads every process from every node until `stop`, checking each answer with the log.
fn record(
    nodes: Vec<(String, String, String)>,
    processes: Vec<String>,
    log: Arc<Mutex<FinalLog>>,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<Result<(), String>> {
    tokio::spawn(async move {
        let client = reqwest::Client::new();
        while !stop.load(Ordering::Relaxed) {
            for (name, url, token) in &nodes {
                for id in &processes {
                    let Ok(response) = client
                        .get(format!("{url}/processes/{id}"))
                        .bearer_auth(token)
                        .send()
                        .await
                    else {
                        continue;
                    };
                    let Ok(json) = response.json::<Value>().await else {
                        continue;
                    };
                    log.lock().expect("log").check(name, id, &json)?;
                }
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        Ok(())
    })
}

/// A step with `?wait=final`: status, `Finality` header and body.
async fn step_final(
    node: &Node,
    process: &str,
    action: &str,
    token: &str,
) -> (StatusCode, String, Value) {
    let response = node
        .client
        .post(format!(
            "{}/processes/{process}/{action}?wait=final&timeout=30000",
            node.url
        ))
        .bearer_auth(token)
        .json(&Value::Null)
        .send()
        .await
        .expect("POST");
    let status = response.status();
    let finality = response
        .headers()
        .get("finality")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, finality, body)
}

fn all_final(process: &Value) -> bool {
    process["events"]
        .as_array()
        .is_some_and(|events| events.iter().all(|e| e["final"] == json!(true)))
}

fn count_actions(process: &Value, action: &str) -> usize {
    process["events"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["action"] == action)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_steps_converge_and_final_events_never_change() {
    let root = tempfile::tempdir().expect("temp dir");
    let (spec_a, spec_b) = (
        NodeSpec::new(root.path(), "alpha"),
        NodeSpec::new(root.path(), "beta"),
    );
    let a = Arc::new(spec_a.start(&[&spec_b]).await);
    let b = Arc::new(spec_b.start(&[&spec_a]).await);
    a.wait_connected(&[&b.id]).await;
    let scenario = a.store_scenario(&fixtures().join("race.yaml")).await;
    let (alice, bob) = (a.token("alice").await, b.token("bob").await);

    let mut ids = vec![];
    for _ in 0..PROCESSES {
        let (id, process) = a
            .start_process(&alice, cluster::race(&scenario, &b.id))
            .await;
        b.wait_for(&id, &hashes(&process)).await;
        ids.push(id);
    }

    let log = Arc::new(Mutex::new(FinalLog::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let recorder = record(
        vec![
            ("alpha".into(), a.url.clone(), a.token("admin").await),
            ("beta".into(), b.url.clone(), b.token("admin").await),
        ],
        ids.clone(),
        log.clone(),
        stop.clone(),
    );

    // The races: both parties bump the same process at the same moment.
    let accepted = Arc::new(AtomicUsize::new(0));
    let mut races = vec![];
    for id in ids.clone() {
        let (a, b, alice, bob, accepted) = (
            a.clone(),
            b.clone(),
            alice.clone(),
            bob.clone(),
            accepted.clone(),
        );
        races.push(tokio::spawn(async move {
            for _ in 0..RACES {
                let (sa, sb) = tokio::join!(
                    a.step(&id, "bump_a", &alice, Value::Null),
                    b.step(&id, "bump_b", &bob, Value::Null),
                );
                assert_eq!((sa, sb), (StatusCode::NO_CONTENT, StatusCode::NO_CONTENT));
                accepted.fetch_add(2, Ordering::Relaxed);
            }
        }));
    }
    for race in races {
        race.await.expect("races");
    }
    assert_eq!(accepted.load(Ordering::Relaxed), 2 * PROCESSES * RACES);

    // Both nodes converge on one chain, all of it final, with every step in it: the ones
    // that lost a race were rebased.
    for id in &ids {
        let (finality_a, at_a) = a.read_final(id).await;
        let (finality_b, at_b) = b.read_final(id).await;
        assert_eq!(
            (finality_a.as_str(), finality_b.as_str()),
            ("final", "final")
        );
        assert_eq!(hashes(&at_a), hashes(&at_b), "process {id}");
        assert!(all_final(&at_a) && all_final(&at_b), "process {id}");
        // The start took one bump of `a`.
        assert_eq!(count_actions(&at_a, "bump_a"), RACES + 1, "process {id}");
        assert_eq!(count_actions(&at_a, "bump_b"), RACES, "process {id}");
        assert_eq!(at_a["vars"], json!({"a": RACES + 1, "b": RACES}));
        assert_eq!(hashes(&at_a).len(), 2 + 2 * RACES);
    }

    // A race to the end: one close wins and is final everywhere; the other lost, and its
    // author says so (409 with the reason), or had already seen the winner (400).
    let closes: Vec<_> = ids
        .iter()
        .map(|id| {
            let (a, b, alice, bob, id) =
                (a.clone(), b.clone(), alice.clone(), bob.clone(), id.clone());
            tokio::spawn(async move {
                let (ra, rb) = tokio::join!(
                    step_final(&a, &id, "close_a", &alice),
                    step_final(&b, &id, "close_b", &bob),
                );
                (id, ra, rb)
            })
        })
        .collect();
    for close in closes {
        let (id, ra, rb) = close.await.expect("close");
        let (winner, loser) = if ra.0 == StatusCode::OK {
            (ra, rb)
        } else {
            (rb, ra)
        };
        assert_eq!(winner.0, StatusCode::OK, "{id}: {winner:?} {loser:?}");
        assert_eq!(winner.1, "final");
        assert!(all_final(&winner.2), "{}", winner.2);
        assert!(
            [StatusCode::CONFLICT, StatusCode::BAD_REQUEST].contains(&loser.0),
            "{id}: {loser:?}"
        );
        if loser.0 == StatusCode::CONFLICT {
            let message = loser.2["error"]["message"].as_str().unwrap_or_default();
            assert!(message.contains("lost a concurrent step"), "{message}");
        }
        let (_, at_a) = a.read_final(&id).await;
        let (_, at_b) = b.read_final(&id).await;
        assert_eq!(hashes(&at_a), hashes(&at_b));
        assert_eq!(at_a["current"]["key"], winner.2["current"]["key"]);
        assert!(all_final(&at_a) && all_final(&at_b));
    }

    stop.store(true, Ordering::Relaxed);
    recorder
        .await
        .expect("recorder")
        .expect("no final event ever changed");
    let reads = log.lock().expect("log").reads;
    assert!(reads > 100, "the recorder read {reads} times");

    // The races did fork: the nodes switched branches and rebased.
    let mut switched = 0;
    for node in [&a, &b] {
        let token = node.token("admin").await;
        let (_, replication) = node.get("/replication", &token).await;
        println!("{}: {}", node.url, replication["forks"]);
        switched += replication["forks"]["switched"].as_u64().unwrap_or(0);
    }
    assert!(switched > 0, "no race forked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_parties_wait_for_finality_on_every_step() {
    let root = tempfile::tempdir().expect("temp dir");
    let ([_, supplier, bank], [a, b, c]) =
        cluster::three(root.path(), ["buyer", "supplier", "bank"]).await;
    let scenario = a.store_scenario(&cluster::purchase()).await;
    let (alice, bob, claire) = (
        a.token("alice").await,
        b.token("bob").await,
        c.token("claire").await,
    );
    let order = cluster::purchase_order(&scenario, &supplier.id, &bank.id);
    let (id, process) = a.start_process(&alice, order).await;
    b.wait_for(&id, &hashes(&process)).await;

    let mut length = 2;
    for (node, action, token) in [
        (&b, "accept", &bob),
        (&b, "ship", &bob),
        (&c, "pay", &claire),
        (&a, "confirm", &alice),
    ] {
        let url = format!(
            "{}/processes/{id}/{action}?wait=final&timeout=30000",
            node.url
        );
        let body = if action == "ship" {
            json!({"tracking": "T-1"})
        } else {
            Value::Null
        };
        let response = node
            .client
            .post(url)
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .expect("POST");
        assert_eq!(response.status(), StatusCode::OK, "{action}");
        assert_eq!(
            response
                .headers()
                .get("finality")
                .and_then(|v| v.to_str().ok()),
            Some("final"),
            "{action}"
        );
        let process: Value = response.json().await.expect("json");
        length += 1;
        assert_eq!(hashes(&process).len(), length, "{action}");
        assert!(all_final(&process), "{action}: {process}");
        // Final at every participant: each announced a head at least this long, with
        // this many events final there.
        let heads = process["heads"].as_object().expect("heads");
        assert_eq!(heads.len(), 3, "{heads:?}");
        for (node, head) in heads {
            assert_eq!(head["len"], length, "{action} at {node}");
            assert_eq!(head["final"], length, "{action} at {node}");
        }
    }
    let expected = a.hashes(&id).await;
    for node in [&a, &b, &c] {
        let (finality, process) = node.read_final(&id).await;
        assert_eq!(finality, "final");
        assert_eq!(hashes(&process), expected);
        assert!(all_final(&process));
        assert_eq!(process["result"], "Received 10 x bolts, paid 20");
    }
    // A bad value for wait is a clear error.
    let token = a.token("admin").await;
    let (status, body) = a.get(&format!("/processes/{id}?wait=soon"), &token).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body["error"]["message"],
        "Invalid query: wait must be 'final', not 'soon'"
    );
}
