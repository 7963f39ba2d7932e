//! A rogue peer against a real node: this test speaks the sync protocol with its own key
//! (the library's network layer, with messages crafted by hand) to a `letsflow serve`
//! process. It takes part in one process, so its events reach the checks of a participant;
//! every bad one must be refused, nothing of it stored, and the refusal counted against the
//! rogue in `GET /peers`. A good event from it is then accepted, which shows that the
//! refusals are due to what was wrong and not to the harness.

mod cluster;

use cluster::{fixtures, hashes, NodeSpec};
use letsflow::chain::{sign_event, NodeKey, SignedHead};
use letsflow::net::protocol::{Request, Response};
use letsflow::net::{Client, Network, Peers, SwarmSettings};
use letsflow::process::{self, ActionEvent, Event, Process, Scenario, Timestamp};
use letsflow::schema::SchemaRegistry;
use reqwest::StatusCode;
use serde_json::{json, Map, Value};
use std::sync::Arc;
use std::time::Duration;

fn now() -> Timestamp {
    Timestamp::from_millis(chrono::Utc::now().timestamp_millis())
}

/// The rogue: a swarm with its own key, connected to the node, refusing whatever it is
/// asked (it serves no catch-up).
async fn rogue(key: &NodeKey, node: &NodeSpec) -> Client {
    let (peer, address) =
        letsflow::net::swarm::parse_peer_address(&node.address()).expect("address");
    let settings = SwarmSettings {
        listen: vec!["/ip4/127.0.0.1/tcp/0".parse().expect("multiaddr")],
        peers: vec![(peer, address)],
        mdns: false,
        request_timeout: Duration::from_secs(20),
    };
    let peers = Arc::new(Peers::new(key.id(), "rogue", vec![]));
    let (network, client, mut inbound) = Network::build(key, settings, peers).expect("swarm");
    let (_stop, stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        let _stop = _stop;
        network.run(stopped).await
    });
    let answers = client.clone();
    tokio::spawn(async move {
        while let Some(request) = inbound.recv().await {
            let refused = Response::Refused {
                reason: "the rogue serves nothing".into(),
            };
            answers.respond(request.channel, refused).await;
        }
    });
    let node_id = node.id.parse().expect("node id");
    for _ in 0..200 {
        if client.connected().await.contains(&node_id) {
            return client;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the rogue did not connect");
}

/// An action event of `process` after its head, by `actor`, sealed by `key`.
fn action(
    process: &Process,
    action: &str,
    actor: &str,
    response: Value,
    at: Timestamp,
    key: &NodeKey,
) -> Event {
    let mut actor_map = Map::new();
    actor_map.insert("key".into(), Value::String(actor.into()));
    let mut event = Event::Action(ActionEvent {
        previous: process.last_event().hash().to_string(),
        timestamp: at,
        action: action.into(),
        actor: actor_map,
        response: Some(response),
        skipped: false,
        errors: vec![],
        version: process::EVENT_VERSION,
        signer: None,
        signature: None,
        hash: String::new(),
    });
    event.rehash();
    sign_event(key, &mut event).expect("sign");
    event
}

/// Checks after each attack that it was refused (or the request failed), that the chain
/// is as it was, and that the rogue's refusal count went up with the reason named.
struct Watch<'a> {
    node: &'a cluster::Node,
    admin: String,
    process: String,
    chain: Vec<String>,
    rogue: String,
    refused: u64,
}

impl Watch<'_> {
    async fn check(&mut self, answer: Result<Response, String>, reason: &str) {
        self.refused += 1;
        if let Ok(answer) = &answer {
            assert!(
                matches!(answer, Response::Refused { .. }),
                "{reason}: {answer:?}"
            );
        }
        let mut peer = Value::Null;
        for _ in 0..100 {
            let (_, peers) = self.node.get("/peers", &self.admin).await;
            peer = peers
                .as_array()
                .and_then(|l| l.iter().find(|p| p["id"] == *self.rogue).cloned())
                .unwrap_or(Value::Null);
            if peer["refused"]["count"] == self.refused {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(peer["refused"]["count"], self.refused, "{reason}: {peer}");
        let last = peer["refused"]["lastReason"].as_str().unwrap_or_default();
        assert!(last.contains(reason), "expected '{reason}' in '{last}'");
        assert_eq!(
            self.node.hashes(&self.process).await,
            self.chain,
            "{reason}: the chain changed"
        );
    }
}

async fn send(
    client: &Client,
    node: &str,
    process: &str,
    events: Vec<Event>,
) -> Result<Response, String> {
    let request = Request::Events {
        process: process.into(),
        events,
        committed: None,
    };
    client
        .request(node.parse().expect("node id"), request)
        .await
        .map_err(|e| e.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_attack_of_a_rogue_peer_is_refused_and_counted() {
    let root = tempfile::tempdir().expect("temp dir");
    let spec = NodeSpec::new(root.path(), "target");
    let node = spec.start(&[]).await;
    let key = NodeKey::from_bytes(&rand::random());
    let other = NodeKey::from_bytes(&rand::random());
    let client = rogue(&key, &spec).await;
    let rogue_id = key.id().to_string();

    let scenario_id = node.store_scenario(&fixtures().join("relay.yaml")).await;
    let alice = node.token("alice").await;
    let start = |b_node: String| {
        json!({
            "scenario": scenario_id,
            "actors": {
                "a": {"id": "alice"},
                "b": {"id": "bob", "node": b_node},
                "c": {"id": "claire"},
            },
            "action": {"key": "pass_a", "response": {"n": 0}},
        })
    };
    // The rogue plays `b` in `shared`; `private` is the node's own.
    let (status, shared) = node
        .post("/processes", &alice, Some(start(rogue_id.clone())))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{shared}");
    let (status, private) = node
        .post("/processes", &alice, Some(start(spec.id.clone())))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{private}");
    let shared_id = shared["id"].as_str().expect("id").to_string();
    let private_id = private["id"].as_str().expect("id").to_string();
    let chain = hashes(&shared);

    // As a participant the rogue may fetch the chain and the scenario.
    let target: letsflow::chain::NodeId = spec.id.parse().expect("node id");
    let fetched = client
        .request(
            target,
            Request::GetEvents {
                process: shared_id.clone(),
                after: None,
                since: None,
            },
        )
        .await
        .expect("getEvents");
    let Response::Events {
        events,
        more: false,
    } = fetched
    else {
        panic!("events expected: {fetched:?}");
    };
    assert_eq!(events.len(), 2);
    let scenario = client
        .request(
            target,
            Request::GetScenario {
                id: scenario_id.clone(),
                process: shared_id.clone(),
            },
        )
        .await
        .expect("getScenario");
    let Response::Scenario { scenario } = scenario else {
        panic!("scenario expected: {scenario:?}");
    };
    let scenario = Arc::new(Scenario::new(scenario, &SchemaRegistry::new()).expect("scenario"));
    assert_eq!(scenario.id(), scenario_id);
    let process = process::replay(scenario, &events).expect("replay");
    assert_eq!(process.current_key(), "b_turn");

    let mut watch = Watch {
        node: &node,
        admin: node.token("admin").await,
        process: shared_id.clone(),
        chain: chain.clone(),
        rogue: rogue_id.clone(),
        refused: 0,
    };

    let good = action(&process, "pass_b", "b", json!({"n": 1}), now(), &key);

    // A forged signature: signed by another key, claiming the rogue as signer.
    let mut forged = good.clone();
    let mut by_other = good.clone();
    sign_event(&other, &mut by_other).expect("sign");
    forged.set_seal(
        Some(rogue_id.clone()),
        by_other.seal().1.map(str::to_string),
    );
    watch
        .check(
            send(&client, &spec.id, &shared_id, vec![forged]).await,
            "does not verify",
        )
        .await;

    // A tampered body: the response changed after signing.
    let mut tampered = good.to_json();
    tampered["response"] = json!({"n": 1000});
    let tampered: Event = serde_json::from_value(tampered).expect("event");
    watch
        .check(
            send(&client, &spec.id, &shared_id, vec![tampered]).await,
            "its hash does not match",
        )
        .await;

    // A wrong signer: the rogue acts for `a`, who belongs to the node.
    let wrong = action(&process, "pass_b", "a", json!({"n": 1}), now(), &key);
    watch
        .check(
            send(&client, &spec.id, &shared_id, vec![wrong]).await,
            "but actor 'a' belongs to node",
        )
        .await;

    // A broken link: a sibling of the node's second event, which is not valid where it
    // claims to be (b may not pass in the initial state).
    let first = process::replay(process.scenario().clone(), &events[..1]).expect("replay");
    let broken = action(&first, "pass_b", "b", json!({"n": 1}), now(), &key);
    watch
        .check(
            send(&client, &spec.id, &shared_id, vec![broken]).await,
            "would be rejected",
        )
        .await;

    // An event the scenario would skip: only `c` may close, and the response is invalid.
    let skipped = action(&process, "close", "b", json!(null), now(), &key);
    watch
        .check(
            send(&client, &spec.id, &shared_id, vec![skipped]).await,
            "would be rejected",
        )
        .await;
    let invalid = action(&process, "pass_b", "b", json!({"n": "one"}), now(), &key);
    watch
        .check(
            send(&client, &spec.id, &shared_id, vec![invalid]).await,
            "would be rejected",
        )
        .await;

    // A rejected attempt presented as one: never shared.
    let mut attempt = good.to_json();
    attempt["skipped"] = json!(true);
    attempt["errors"] = json!(["whatever"]);
    let mut attempt: Event = serde_json::from_value(attempt).expect("event");
    attempt.rehash();
    sign_event(&key, &mut attempt).expect("sign");
    watch
        .check(
            send(&client, &spec.id, &shared_id, vec![attempt]).await,
            "never shared",
        )
        .await;

    // A timestamp a day ahead of the node's clock.
    let future = action(
        &process,
        "pass_b",
        "b",
        json!({"n": 1}),
        now().plus_seconds(86_400.0),
        &key,
    );
    watch
        .check(
            send(&client, &spec.id, &shared_id, vec![future]).await,
            "ahead of this node's clock",
        )
        .await;

    // A flood of orphans: events after hashes nobody has; the rogue cannot supply their
    // ancestors, so each message is refused.
    for n in 0..20 {
        let mut orphan = good.to_json();
        orphan["previous"] = json!(format!("{n:064x}"));
        let mut orphan: Event = serde_json::from_value(orphan).expect("event");
        orphan.rehash();
        sign_event(&key, &mut orphan).expect("sign");
        watch
            .check(
                send(&client, &spec.id, &shared_id, vec![orphan]).await,
                "catch-up refused by the sender",
            )
            .await;
    }

    // An oversized message (over the 8 MiB request limit) is not even read.
    let big = action(
        &process,
        "pass_b",
        "b",
        json!({"n": 1, "pad": "x".repeat(9 * 1024 * 1024)}),
        now(),
        &key,
    );
    let answer = send(&client, &spec.id, &shared_id, vec![big]).await;
    assert!(
        answer.is_err(),
        "an oversized request is not answered: {answer:?}"
    );
    watch.check(answer, "unreadable request").await;

    // Asking for a process it takes no part in, or its scenario.
    let answer = client
        .request(
            target,
            Request::GetEvents {
                process: private_id.clone(),
                after: None,
                since: None,
            },
        )
        .await
        .map_err(|e| e.to_string());
    watch.check(answer, "takes no part in process").await;
    let answer = client
        .request(
            target,
            Request::GetScenario {
                id: scenario_id.clone(),
                process: private_id.clone(),
            },
        )
        .await
        .map_err(|e| e.to_string());
    watch
        .check(answer, "takes no part in a process of scenario")
        .await;

    // The node itself never holds anything of the rogue's attempts: its stored chain is
    // the one it had (checked after each), and its private process is untouched.
    assert_eq!(node.hashes(&private_id).await, hashes(&private));

    // A valid event of the rogue is taken.
    let answer = send(&client, &spec.id, &shared_id, vec![good.clone()])
        .await
        .expect("answer");
    assert!(
        matches!(
            answer,
            Response::Ack {
                applied: 1,
                duplicates: 0,
                superseded: 0
            }
        ),
        "{answer:?}"
    );
    let mut expected = chain.clone();
    expected.push(good.hash().to_string());
    assert_eq!(node.hashes(&shared_id).await, expected);
    // Sent again it is a harmless duplicate.
    let answer = send(&client, &spec.id, &shared_id, vec![good.clone()])
        .await
        .expect("answer");
    assert!(
        matches!(
            answer,
            Response::Ack {
                applied: 0,
                duplicates: 1,
                superseded: 0
            }
        ),
        "{answer:?}"
    );

    // The rogue announces its head: both hold the whole chain, so all of it is final.
    let head = SignedHead::sign(&key, &shared_id, good.hash(), 3, Some(3));
    let answer = client
        .request(
            target,
            Request::Heads {
                heads: vec![head],
                signature: None,
            },
        )
        .await
        .expect("heads");
    assert!(matches!(answer, Response::Ack { .. }), "{answer:?}");
    let mut finals = Value::Null;
    for _ in 0..100 {
        let (_, process) = node.get(&format!("/processes/{shared_id}"), &alice).await;
        finals = process["events"]
            .as_array()
            .map(|events| events.iter().map(|e| e["final"].clone()).collect())
            .unwrap_or_default();
        if finals == json!([true, true, true]) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(finals, json!([true, true, true]));

    // A sibling of a final event that would win the fork choice (earlier than it): final
    // events never change, so it is refused and reported.
    let before = process::replay(process.scenario().clone(), &events).expect("replay");
    let earlier = Timestamp::from_millis(good.timestamp().millis() - 1);
    let rival = action(&before, "pass_b", "b", json!({"n": 2}), earlier, &key);
    watch.chain = expected;
    watch
        .check(
            send(&client, &spec.id, &shared_id, vec![rival]).await,
            "is a sibling of final event",
        )
        .await;
}
