//! In peer-to-peer mode only the node hosting a service notifies it: two nodes (separate
//! processes) share a process created on node A, whose client acts through node B. Both
//! commit the client's step and so both owe the notification of `robot`; A, the process's
//! creator, hosts the service (no node is bound to `service:robot`) and delivers it, B
//! drops its copy. The answer becomes a step signed by A that reaches B.

mod cluster;

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use cluster::NodeSpec;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const ORDER: &str = r#"
name: shared-order
version: "1.0"
title: Shared order
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

async fn receive(State(count): State<Arc<AtomicUsize>>) -> Json<Value> {
    count.fetch_add(1, Ordering::SeqCst);
    Json(json!({"ref": "P-1"}))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_node_hosting_the_service_notifies_it() {
    let count = Arc::new(AtomicUsize::new(0));
    let app = Router::new()
        .route("/hook", post(receive))
        .with_state(count.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let hook = format!("http://{}/hook", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    // Both nodes (child processes, which inherit it) configure the service.
    std::env::set_var(
        "LETSFLOW_SERVICES",
        json!({"robot": {"provider": "webhook", "url": hook}}).to_string(),
    );

    let root = tempfile::tempdir().expect("temp dir");
    let (a, b) = (
        NodeSpec::new(root.path(), "a"),
        NodeSpec::new(root.path(), "b"),
    );
    let node_a = a.start(&[&b]).await;
    let node_b = b.start(&[&a]).await;
    node_a.wait_connected(&[&b.id]).await;
    let file = root.path().join("order.yaml");
    std::fs::write(&file, ORDER).expect("write");
    let scenario = node_a.store_scenario(&file).await;

    let admin = node_a.token("admin").await;
    let (status, process) = node_a
        .post(
            "/processes",
            &admin,
            Some(
                json!({"scenario": scenario, "actors": {"client": {"id": "alice", "node": b.id}}}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{process}");
    let id = process["id"].as_str().expect("id").to_string();
    let started = Instant::now();
    while node_b.process(&id).await.is_none() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "B never got it"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let alice = node_b.token("alice").await;
    assert_eq!(
        node_b.step(&id, "order", &alice, Value::Null).await,
        StatusCode::NO_CONTENT
    );

    let started = Instant::now();
    let (on_a, on_b) = loop {
        let (on_a, on_b) = (node_a.process(&id).await, node_b.process(&id).await);
        let done = |p: &Option<Value>| p.as_ref().is_some_and(|p| p["current"]["key"] == "(done)");
        if done(&on_a) && done(&on_b) {
            break (on_a.unwrap_or_default(), on_b.unwrap_or_default());
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "not done on both: {on_a:?} {on_b:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    // B's copy fell due as soon as A's: had B delivered it, it would have by now.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(count.load(Ordering::SeqCst), 1, "notified once, by A");
    let confirm = on_b["events"]
        .as_array()
        .and_then(|e| e.iter().find(|e| e["action"] == "confirm").cloned())
        .expect("the confirm step on B");
    assert_eq!(confirm["signer"], a.id.as_str());
    assert_eq!(on_a["vars"]["ref"], "P-1");
    let on_b = node_b.process(&id).await.expect("on B");
    assert_eq!(on_b["notifications"], json!([]), "B dropped its copy");
    node_a.kill();
    node_b.kill();
}
