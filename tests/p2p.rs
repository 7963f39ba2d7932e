//! Peer-to-peer integration tests with real nodes: each node is a separate `letsflow serve`
//! process with its own data folder and key, talking libp2p over loopback TCP.
//!
//! 1. three organisations run a purchase order to its end, each acting only through its
//!    own node; all three then hold the same chain;
//! 2. a node is SIGKILLed while the others make 60 steps in 10 processes it takes part in,
//!    and catches up unaided after its restart; a node killed right after acknowledging a
//!    step still has it, and so do the others;
//! 3. a node that is connected but takes no part never receives the process;
//! 4. a rejected attempt stays on its node (shown as `rejected` there) and never reaches
//!    another chain; acting for another node's actor is 403, naming that node.

mod cluster;

use cluster::{fixtures, hashes};
use reqwest::StatusCode;
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_organisations_run_a_purchase_order_to_its_end() {
    let root = tempfile::tempdir().expect("temp dir");
    let ([buyer, supplier, bank], [a, b, c]) =
        cluster::three(root.path(), ["buyer", "supplier", "bank"]).await;

    // Only the buyer's node holds the scenario: the others fetch it by id.
    let scenario = a.store_scenario(&cluster::purchase()).await;
    let (alice, bob, claire) = (
        a.token("alice").await,
        b.token("bob").await,
        c.token("claire").await,
    );
    let order = cluster::purchase_order(&scenario, &supplier.id, &bank.id);
    let (id, process) = a.start_process(&alice, order).await;
    let start = hashes(&process);
    assert_eq!(start.len(), 2);
    b.wait_for(&id, &start).await;

    // The supplier's user cannot act for the bank, nor the buyer for the supplier.
    let (status, body) = b
        .post(&format!("/processes/{id}/accept"), &bob, Some(json!(null)))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    // bob is the supplier's user; at the buyer's node he cannot act for the supplier.
    let bob_at_a = a.token("bob").await;
    let (status, body) = a
        .post(
            &format!("/processes/{id}/ship"),
            &bob_at_a,
            Some(json!({"tracking": "T-1"})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        body["error"]["message"],
        format!(
            "Actor 'supplier' of process '{id}' belongs to node {}; act for it through that node",
            supplier.id
        )
    );

    // A rejected attempt at the supplier stays there.
    let (status, body) = b
        .post(&format!("/processes/{id}/ship"), &bob, Some(json!({})))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(
        b.step(&id, "ship", &bob, json!({"tracking": "T-1"})).await,
        StatusCode::NO_CONTENT
    );
    let shipped = b.hashes(&id).await;
    c.wait_for(&id, &shipped).await;
    assert_eq!(
        c.step(&id, "pay", &claire, json!(null)).await,
        StatusCode::NO_CONTENT
    );
    let paid = c.hashes(&id).await;
    a.wait_for(&id, &paid).await;
    assert_eq!(
        a.step(&id, "confirm", &alice, json!(null)).await,
        StatusCode::NO_CONTENT
    );
    let done = a.hashes(&id).await;
    assert_eq!(done.len(), 6);
    b.wait_for(&id, &done).await;
    c.wait_for(&id, &done).await;

    let mut views = vec![];
    for node in [&a, &b, &c] {
        let process = node.process(&id).await.expect("process");
        assert_eq!(process["current"]["key"], "(done)");
        assert_eq!(process["result"], "Received 10 x bolts, paid 20");
        // Every event is signed by the node of its actor.
        let signers: Vec<&str> = process["events"]
            .as_array()
            .expect("events")
            .iter()
            .map(|e| e["signer"].as_str().expect("signed"))
            .collect();
        assert_eq!(
            signers,
            [
                &buyer.id,
                &buyer.id,
                &supplier.id,
                &supplier.id,
                &bank.id,
                &buyer.id
            ]
        );
        assert!(process["events"]
            .as_array()
            .expect("events")
            .iter()
            .all(|e| e.get("skipped") == Some(&json!(false)) || e.get("skipped").is_none()));
        views.push(process);
    }
    // The rejected attempt is kept only where it was made.
    assert_eq!(views[1]["rejected"].as_array().map(Vec::len), Some(1));
    assert_eq!(views[1]["rejected"][0]["action"], "ship");
    assert_eq!(
        views[1]["rejected"][0]["errors"],
        json!(["Response is invalid: data must have required property 'tracking'"])
    );
    assert_eq!(views[0]["rejected"], json!([]));
    assert_eq!(views[2]["rejected"], json!([]));
    // The same events (whether each node knows them final yet may differ for a moment).
    let unflagged = |view: &Value| {
        let mut events = view["events"].clone();
        for event in events.as_array_mut().into_iter().flatten() {
            event.as_object_mut().map(|e| e.remove("final"));
        }
        events
    };
    for view in &views[1..] {
        assert_eq!(unflagged(view), unflagged(&views[0]));
        assert_eq!(view["vars"], views[0]["vars"]);
    }

    // /info names the node; /peers shows the others connected, nothing refused.
    let (_, info) = a.get("/info", &alice).await;
    assert_eq!(info["node"]["id"], buyer.id);
    assert_eq!(info["node"]["name"], "buyer");
    assert_eq!(
        info["node"]["addresses"],
        json!([format!("/ip4/127.0.0.1/tcp/{}", buyer.p2p)])
    );
    let (_, peers) = a.get("/peers", &alice).await;
    for peer in peers.as_array().expect("peers") {
        assert_eq!(peer["connected"], true, "{peer}");
        assert_eq!(peer["refused"]["count"], 0, "{peer}");
    }
}

/// Starts a relay process on `a` with actors a, b, c on the three nodes.
async fn start_relay(a: &cluster::Node, scenario: &str, nodes: [&str; 3]) -> (String, Vec<String>) {
    let token = a.token("alice").await;
    let (status, process) = a
        .post(
            "/processes",
            &token,
            Some(json!({
                "scenario": scenario,
                "actors": {
                    "a": {"id": "alice", "node": nodes[0]},
                    "b": {"id": "bob", "node": nodes[1]},
                    "c": {"id": "claire", "node": nodes[2]},
                },
                "action": {"key": "pass_a", "response": {"n": 0}},
            })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{process}");
    (
        process["id"].as_str().expect("id").to_string(),
        hashes(&process),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_node_catches_up_and_loses_nothing_it_acknowledged() {
    let root = tempfile::tempdir().expect("temp dir");
    let (specs, [a, b, c]) = cluster::three(root.path(), ["a", "b", "c"]).await;
    let [sa, sb, sc] = &specs;
    let scenario = a.store_scenario(&fixtures().join("relay.yaml")).await;
    let nodes = [sa.id.as_str(), sb.id.as_str(), sc.id.as_str()];

    let mut processes = vec![];
    for _ in 0..10 {
        let (id, events) = start_relay(&a, &scenario, nodes).await;
        c.wait_for(&id, &events).await;
        processes.push(id);
    }

    c.kill();
    let (alice, bob) = (a.token("alice").await, b.token("bob").await);
    // 60 steps in the 10 processes while c is down.
    for round in 1..=3 {
        for id in &processes {
            let n = json!({ "n": round });
            assert_eq!(
                b.step(id, "pass_b", &bob, n.clone()).await,
                StatusCode::NO_CONTENT
            );
            let events = b.hashes(id).await;
            a.wait_for(id, &events).await;
            assert_eq!(
                a.step(id, "pass_a", &alice, n).await,
                StatusCode::NO_CONTENT
            );
        }
    }
    let mut expected = vec![];
    for id in &processes {
        let events = a.hashes(id).await;
        assert_eq!(events.len(), 2 + 6);
        b.wait_for(id, &events).await;
        expected.push(events);
    }

    // c comes back and catches up by itself.
    let c = sc.start(&[sa, sb]).await;
    for (id, events) in processes.iter().zip(&expected) {
        c.wait_for(id, events).await;
    }
    // ... and acts again: close one process from c.
    let claire = c.token("claire").await;
    assert_eq!(
        c.step(&processes[0], "close", &claire, json!(null)).await,
        StatusCode::NO_CONTENT
    );
    let closed = c.hashes(&processes[0]).await;
    a.wait_for(&processes[0], &closed).await;

    // a acknowledges a step and is killed at once: after its restart the step is there,
    // and it reached the others.
    let id = &processes[1];
    assert_eq!(
        b.step(id, "pass_b", &bob, json!({"n": 9})).await,
        StatusCode::NO_CONTENT
    );
    let events = b.hashes(id).await;
    a.wait_for(id, &events).await;
    assert_eq!(
        a.step(id, "pass_a", &alice, json!({"n": 10})).await,
        StatusCode::NO_CONTENT
    );
    a.kill();
    let a = sa.start(&[sb, sc]).await;
    let after = a.hashes(id).await;
    assert_eq!(after.len(), events.len() + 1);
    assert_eq!(after[..events.len()], events[..]);
    b.wait_for(id, &after).await;
    c.wait_for(id, &after).await;
    let process: Value = a.process(id).await.expect("process");
    assert_eq!(process["vars"]["last"], 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connected_node_that_takes_no_part_never_receives_the_process() {
    let root = tempfile::tempdir().expect("temp dir");
    let (specs, [a, b, c]) = cluster::three(root.path(), ["a", "b", "outsider"]).await;
    let [sa, sb, _] = &specs;
    c.wait_connected(&[&a.id, &b.id]).await;
    let scenario = a.store_scenario(&fixtures().join("relay.yaml")).await;
    // a and b take part; c (the outsider) is connected to both but bound to no actor.
    let (id, events) = start_relay(&a, &scenario, [&sa.id, &sb.id, &sa.id]).await;
    b.wait_for(&id, &events).await;
    let bob = b.token("bob").await;
    assert_eq!(
        b.step(&id, "pass_b", &bob, json!({"n": 1})).await,
        StatusCode::NO_CONTENT
    );
    let events = b.hashes(&id).await;
    a.wait_for(&id, &events).await;
    // Several head exchanges later the outsider still knows nothing of it.
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    let admin = c.token("admin").await;
    let (status, _) = c.get(&format!("/processes/{id}"), &admin).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, list) = c.get("/processes?all=true", &admin).await;
    assert_eq!(list, json!([]));
    let (_, scenarios) = c.get("/scenarios", &admin).await;
    assert_eq!(scenarios, json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timeout_fired_by_every_participant_is_one_event_in_every_chain() {
    let root = tempfile::tempdir().expect("temp dir");
    let (specs, [a, b, c]) = cluster::three(root.path(), ["a", "b", "c"]).await;
    let [_, sb, sc] = &specs;
    let scenario = a.store_scenario(&fixtures().join("deadline.yaml")).await;
    let alice = a.token("alice").await;
    let mut ids = vec![];
    for _ in 0..3 {
        let (status, process) = a
            .post(
                "/processes",
                &alice,
                Some(json!({
                    "scenario": scenario,
                    "actors": {
                        "a": {"id": "alice"},
                        "b": {"id": "bob", "node": sb.id},
                        "c": {"id": "claire", "node": sc.id},
                    },
                    "action": "begin",
                })),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{process}");
        ids.push(process["id"].as_str().expect("id").to_string());
    }
    // Every node's timer fires the timeout two seconds after `begin`; the events are the
    // same (same due time, the signer is not hashed), so each chain ends with one.
    for id in &ids {
        let started = std::time::Instant::now();
        let expired = loop {
            match a.process(id).await {
                Some(p) if p["current"]["key"] == "(expired)" => break p,
                _ => {
                    assert!(
                        started.elapsed() < std::time::Duration::from_secs(30),
                        "no timeout"
                    );
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
            }
        };
        let events = hashes(&expired);
        assert_eq!(events.len(), 3, "{expired}");
        b.wait_for(id, &events).await;
        c.wait_for(id, &events).await;
        for node in [&a, &b, &c] {
            // Final at every participant: one timeout event, whoever fired it.
            let token = node.token("admin").await;
            let (_, process) = node
                .get(&format!("/processes/{id}?wait=final&timeout=30000"), &token)
                .await;
            assert_eq!(hashes(&process), events);
            assert!(process["events"]
                .as_array()
                .expect("events")
                .iter()
                .all(|e| e["final"] == true));
            let timeouts = process["events"]
                .as_array()
                .expect("events")
                .iter()
                .filter(|e| e.get("action").is_none() && e.get("previous").is_some())
                .count();
            assert_eq!(timeouts, 1);
            assert_eq!(process["current"]["key"], "(expired)");
        }
    }
    // Late answers are refused everywhere: the state is final.
    let bob = b.token("bob").await;
    assert_eq!(
        b.step(&ids[0], "answer", &bob, json!(null)).await,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_bound_to_an_actor_by_a_step_receives_the_whole_chain() {
    let root = tempfile::tempdir().expect("temp dir");
    let (specs, [a, b, c]) = cluster::three(root.path(), ["host", "guest", "outsider"]).await;
    let [_, sb, _] = &specs;
    let scenario = a.store_scenario(&fixtures().join("invite.yaml")).await;
    let alice = a.token("alice").await;
    let (status, process) = a
        .post(
            "/processes",
            &alice,
            Some(json!({
                "scenario": scenario,
                "actors": {"host": {"id": "alice"}, "guest": {"id": "bob"}},
            })),
        )
        .await;
    // alice may not start without an action; admin may.
    assert_eq!(status, StatusCode::FORBIDDEN, "{process}");
    let admin = a.token("admin").await;
    let (status, process) = a
        .post(
            "/processes",
            &admin,
            Some(json!({
                "scenario": scenario,
                "actors": {"host": {"id": "alice"}, "guest": {"id": "bob"}},
            })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{process}");
    let id = process["id"].as_str().expect("id").to_string();
    // Local so far: nothing reached the guest's node.
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    assert_eq!(b.hashes(&id).await, Vec::<String>::new());

    assert_eq!(
        a.step(&id, "invite", &alice, json!({"node": sb.id})).await,
        StatusCode::NO_CONTENT
    );
    let events = a.hashes(&id).await;
    b.wait_for(&id, &events).await;
    let bob = b.token("bob").await;
    assert_eq!(
        b.step(&id, "reply", &bob, json!({"answer": "gladly"}))
            .await,
        StatusCode::NO_CONTENT
    );
    let events = b.hashes(&id).await;
    a.wait_for(&id, &events).await;
    let done = a.process(&id).await.expect("process");
    assert_eq!(done["result"], json!({"answer": "gladly"}));
    assert_eq!(done["events"][2]["signer"], sb.id);
    // The outsider still knows nothing of it.
    let (status, _) = c
        .get(&format!("/processes/{id}"), &c.token("admin").await)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
