//! Services against real counterparts (SPEC 2.9 and 7): a node (built from its
//! configuration, serving HTTP) notifies an axum HTTP receiver (webhook), ZeroMQ REP and
//! PULL sockets and the RabbitMQ broker on 127.0.0.1:5672; a service's answer becomes a
//! step of `service:NAME` through the notify entry's `trigger`.
//!
//! The AMQP tests skip with a printed reason when no broker listens there, except with
//! `CI=true`, where its absence is a failure. The quote scenario of the conformance data
//! (`../shared`, skipped with a reason when absent) runs with a webhook for its `email`
//! service.

mod common;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, post};
use axum::{Json, Router};
use letsflow::engine::timers::now;
use letsflow::engine::Engine;
use letsflow::node::config::{Config, Env, Flags};
use letsflow::node::server::Node;
use letsflow::process::StepActor;
use serde_json::{json, Map, Value};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;

/// A client orders; the `robot` service confirms with a reference (its answer, through the
/// trigger); `silent` is notified too, without a trigger.
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
    response:
      type: object
      required: [ref]
      properties:
        ref: {type: string}
    update:
      set: vars.ref
      value: !ref current.response.ref
  cancel:
    actor: client
states:
  initial:
    on: order
    goto: waiting
  waiting:
    instructions:
      service:robot: Confirm the order
    notify:
      service: robot
      trigger: confirm
    transitions:
      - on: confirm
        goto: (done)
      - on: cancel
        goto: (cancelled)
"#;

/// Like [`ORDER`], but the notify entry has no trigger (`null`: none is implied) and a
/// custom message.
const NO_TRIGGER: &str = r#"
name: untriggered
version: "1.0"
title: Untriggered
actors:
  client: {}
actions:
  order:
    actor: client
  confirm:
    actor: service:robot
  cancel:
    actor: client
states:
  initial:
    on: order
    goto: waiting
  waiting:
    notify:
      service: robot
      trigger: null
      message: !tpl "Order by {{ actors.client.id }}"
    transitions:
      - on: confirm
        goto: (done)
      - on: cancel
        goto: (cancelled)
"#;

// --- the node -------------------------------------------------------------------------------

struct TestNode {
    engine: Arc<Engine>,
    url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    _data: tempfile::TempDir,
}

impl TestNode {
    async fn start(services: Value, schemas: Option<&Path>) -> TestNode {
        let data = tempfile::tempdir().expect("temp dir");
        let services = services.to_string();
        let schemas = schemas.map_or(String::new(), |p| p.display().to_string());
        let env: Env = [
            ("LETSFLOW_DATA", data.path().to_str().expect("utf-8")),
            ("LETSFLOW_HTTP", "127.0.0.1:0"),
            ("LETSFLOW_SCENARIOS", ""),
            ("LETSFLOW_SCHEMAS", schemas.as_str()),
            ("LETSFLOW_DEV", "true"),
            ("LETSFLOW_LISTEN", "/ip4/127.0.0.1/tcp/0"),
            ("LETSFLOW_SERVICES", services.as_str()),
        ]
        .into_iter()
        .collect();
        let config = Config::load(&Flags::default(), &env).expect("config");
        let node = Node::build(&config).expect("node");
        let engine = node.engine().clone();
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            node.serve(listener, async move {
                let _ = stopped.await;
            })
            .await
            .expect("serve");
        });
        TestNode {
            engine,
            url,
            stop: Some(stop),
            task: Some(task),
            _data: data,
        }
    }

    fn add_scenario(&self, yaml: &str) -> String {
        let raw = letsflow::scenario::yaml::from_yaml(yaml).expect("yaml");
        self.engine.add_scenario(&raw, now()).expect("scenario").0
    }

    /// Starts a process of `scenario` with alice as the client, who orders.
    fn order(&self, scenario: &str) -> String {
        let id = uuid::Uuid::new_v4().to_string();
        let mut actors = Map::new();
        actors.insert("client".into(), json!({"id": "alice"}));
        self.engine
            .start(scenario, &id, actors, now())
            .expect("start");
        let (outcome, _) = self
            .engine
            .step(&id, "order", &alice("client"), None, now())
            .expect("step");
        assert!(!outcome.skipped, "{:?}", outcome.errors);
        id
    }

    fn process(&self, id: &str) -> Value {
        self.engine.process(id).expect("process").to_json()
    }

    async fn admin_token(&self) -> String {
        let accounts: Value = reqwest::get(format!("{}/demo-accounts", self.url))
            .await
            .expect("demo accounts")
            .json()
            .await
            .expect("json");
        accounts
            .as_array()
            .and_then(|l| l.iter().find(|a| a["id"] == "admin"))
            .and_then(|a| a["token"].as_str())
            .expect("admin token")
            .to_string()
    }

    /// `GET /processes/{id}` as the admin: its `notifications`.
    async fn notifications(&self, id: &str) -> Value {
        let token = self.admin_token().await;
        let response = reqwest::Client::new()
            .get(format!("{}/processes/{id}", self.url))
            .bearer_auth(token)
            .send()
            .await
            .expect("get process");
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.expect("json");
        body["notifications"].clone()
    }

    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            tokio::time::timeout(Duration::from_secs(15), task)
                .await
                .expect("the node stops")
                .expect("serve task");
        }
    }
}

fn alice(actor: &str) -> StepActor {
    StepActor::key(actor).with("id", json!("alice"))
}

/// Waits until `check` holds (10 s at most).
async fn until(what: &str, mut check: impl FnMut() -> bool) {
    let started = Instant::now();
    while !check() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "timed out waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn state_of(process: &Value) -> String {
    process["current"]["key"].as_str().unwrap_or("").to_string()
}

fn outbox_len(node: &TestNode, id: &str) -> usize {
    node.engine.store().outbox_of(id).expect("outbox").len()
}

/// The hash of the event the process is at: the etag its notifications carry.
fn head(process: &Value) -> String {
    let events = process["events"].as_array().expect("events");
    events.last().expect("an event")["hash"]
        .as_str()
        .expect("hash")
        .to_string()
}

fn hook(url: &str, extra: Value) -> Value {
    let mut settings = json!({
        "provider": "webhook",
        "url": url,
        "timeout": 0.5,
        "retryDelay": 0.05,
        "maxRetryDelay": 0.1,
    });
    if let (Value::Object(settings), Value::Object(extra)) = (&mut settings, extra) {
        settings.extend(extra);
    }
    settings
}

// --- an HTTP receiver -----------------------------------------------------------------------

/// A request the receiver got.
#[derive(Debug, Clone)]
struct Got {
    id: String,
    content_type: String,
    body: Value,
}

/// What the receiver answers: status, JSON body (none: empty), delay.
type Answer = (u16, Option<Value>, Duration);

#[derive(Clone)]
struct Receiver {
    got: Arc<Mutex<Vec<Got>>>,
    answer: Arc<dyn Fn(usize) -> Answer + Send + Sync>,
}

impl Receiver {
    /// Serves `/hook` (answers by `answer`, given the number of the request from 0),
    /// `/loop` (a redirect to itself) and `/huge` (2 MB of JSON).
    async fn start(answer: impl Fn(usize) -> Answer + Send + Sync + 'static) -> (Receiver, String) {
        let receiver = Receiver {
            got: Arc::default(),
            answer: Arc::new(answer),
        };
        let app = Router::new()
            .route("/hook", post(receive))
            .route(
                "/loop",
                any(|| async {
                    (
                        StatusCode::TEMPORARY_REDIRECT,
                        [(header::LOCATION, "/loop")],
                    )
                }),
            )
            .route(
                "/huge",
                any(|| async { Json(json!({"ref": "x".repeat(2_000_000)})) }),
            )
            .with_state(receiver.clone());
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        tokio::spawn(async move { axum::serve(listener, app).await });
        (receiver, url)
    }

    fn got(&self) -> Vec<Got> {
        self.got.lock().expect("lock").clone()
    }

    fn count(&self) -> usize {
        self.got.lock().expect("lock").len()
    }
}

async fn receive(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> Response {
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let content_type = text("content-type");
    let body = if content_type.starts_with("application/json") {
        serde_json::from_slice(&body).expect("a JSON body")
    } else {
        Value::String(String::from_utf8(body.to_vec()).expect("utf-8"))
    };
    let n = {
        let mut got = r.got.lock().expect("lock");
        got.push(Got {
            id: text("x-message-id"),
            content_type,
            body,
        });
        got.len() - 1
    };
    let (status, body, delay) = (r.answer)(n);
    tokio::time::sleep(delay).await;
    let status = StatusCode::from_u16(status).expect("status");
    match body {
        Some(body) => (status, Json(body)).into_response(),
        None => status.into_response(),
    }
}

fn ok(body: Value) -> Answer {
    (200, Some(body), Duration::ZERO)
}

// --- webhooks -------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_answer_performs_the_trigger_action() {
    let (receiver, url) = Receiver::start(|_| ok(json!({"ref": "R-1"}))).await;
    let node = TestNode::start(
        json!({"robot": hook(&format!("{url}/hook"), json!({"headers": {"Authorization": "Bearer s3cret"}}))}),
        None,
    )
    .await;
    let scenario = node.add_scenario(ORDER);
    let id = node.order(&scenario);
    let etag = head(&node.process(&id));
    until("the process is done", || {
        state_of(&node.process(&id)) == "(done)"
    })
    .await;
    let process = node.process(&id);
    assert_eq!(process["vars"]["ref"], "R-1");
    let last = process["events"]
        .as_array()
        .expect("events")
        .last()
        .cloned();
    let last = last.expect("event");
    assert_eq!(last["action"], "confirm");
    assert_eq!(last["actor"]["key"], "service:robot");
    assert_eq!(last["response"], json!({"ref": "R-1"}));
    let got = receiver.got();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].id, format!("{etag}:0"));
    assert_eq!(got[0].content_type, "application/json");
    // The standard message: the actions service:robot may do, and its instructions.
    assert_eq!(got[0].body["instructions"], "Confirm the order");
    let actions = got[0].body["actions"].as_array().expect("actions");
    assert_eq!(actions.len(), 1);
    assert_eq!(actions[0]["key"], "confirm");
    until("the outbox is empty", || outbox_len(&node, &id) == 0).await;
    assert_eq!(node.notifications(&id).await, json!([]));
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accepted_or_empty_answers_trigger_nothing() {
    // 202 with a body, then 200 with an empty body.
    let (receiver, url) = Receiver::start(|n| match n {
        0 => (202, Some(json!({"ref": "ignored"})), Duration::ZERO),
        _ => (200, None, Duration::ZERO),
    })
    .await;
    let node = TestNode::start(
        json!({"robot": hook(&format!("{url}/hook"), json!({}))}),
        None,
    )
    .await;
    let scenario = node.add_scenario(ORDER);
    let first = node.order(&scenario);
    until("the first is delivered", || outbox_len(&node, &first) == 0).await;
    let second = node.order(&scenario);
    until("the second is delivered", || {
        outbox_len(&node, &second) == 0
    })
    .await;
    assert_eq!(receiver.count(), 2);
    for id in [&first, &second] {
        let process = node.process(id);
        assert_eq!(state_of(&process), "waiting", "{id}");
        assert_eq!(process["events"].as_array().map(Vec::len), Some(2));
    }
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_and_timeouts_are_retried_with_the_same_message_id() {
    let (receiver, url) = Receiver::start(|n| match n {
        0 => (503, None, Duration::ZERO),
        // Longer than the service's timeout of 0.5 s.
        1 => (
            200,
            Some(json!({"ref": "late"})),
            Duration::from_millis(1500),
        ),
        _ => ok(json!({"ref": "third time"})),
    })
    .await;
    let node = TestNode::start(
        json!({"robot": hook(&format!("{url}/hook"), json!({}))}),
        None,
    )
    .await;
    let scenario = node.add_scenario(ORDER);
    let id = node.order(&scenario);
    until("the process is done", || {
        state_of(&node.process(&id)) == "(done)"
    })
    .await;
    assert_eq!(node.process(&id)["vars"]["ref"], "third time");
    let got = receiver.got();
    assert_eq!(got.len(), 3);
    assert!(got.iter().all(|g| g.id == got[0].id), "{got:?}");
    assert!(got.iter().all(|g| g.body == got[0].body), "{got:?}");
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_last_failure_parks_the_notification_until_retried_by_hand() {
    let healthy = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let up = healthy.clone();
    let (receiver, url) = Receiver::start(move |_| {
        if up.load(std::sync::atomic::Ordering::SeqCst) {
            ok(json!({"ref": "at last"}))
        } else {
            (500, None, Duration::ZERO)
        }
    })
    .await;
    let node = TestNode::start(
        json!({"robot": hook(&format!("{url}/hook"), json!({"maxAttempts": 3}))}),
        None,
    )
    .await;
    let scenario = node.add_scenario(ORDER);
    let id = node.order(&scenario);
    let etag = head(&node.process(&id));
    until("the notification is parked", || {
        node.engine
            .store()
            .outbox_of(&id)
            .expect("outbox")
            .first()
            .is_some_and(|e| e.state == letsflow::store::OutboxState::Failed)
    })
    .await;
    assert_eq!(receiver.count(), 3);
    let shown = node.notifications(&id).await;
    let shown = shown.as_array().expect("notifications");
    assert_eq!(shown.len(), 1);
    let mut entry = shown[0].clone();
    assert!(entry["nextAttempt"].is_string(), "{entry}");
    entry.as_object_mut().expect("object").remove("nextAttempt");
    assert_eq!(
        entry,
        json!({
            "id": format!("{etag}:0"),
            "service": "robot",
            "state": "failed",
            "attempts": 3,
            "status": 500,
            "lastError": "the service answered HTTP 500",
        })
    );
    // Parked: no more attempts by itself.
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(receiver.count(), 3);

    // Retried by hand (process:super), once the service is up again.
    healthy.store(true, std::sync::atomic::Ordering::SeqCst);
    let client = reqwest::Client::new();
    let token = node.admin_token().await;
    let retry = |service: &str| {
        client
            .post(format!("{}/processes/{id}/notify/{service}", node.url))
            .bearer_auth(&token)
            .send()
    };
    let unknown = retry("nobody").await.expect("retry");
    assert_eq!(unknown.status(), 404);
    let response = retry("robot").await.expect("retry");
    assert_eq!(response.status(), 202);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body[0]["state"], "pending");
    assert_eq!(body[0]["attempts"], 3);
    until("the process is done", || {
        state_of(&node.process(&id)) == "(done)"
    })
    .await;
    assert_eq!(receiver.count(), 4);
    until("the outbox is empty", || outbox_len(&node, &id) == 0).await;
    assert_eq!(node.notifications(&id).await, json!([]));
    let nobody = reqwest::Client::new()
        .post(format!("{}/processes/{id}/notify/robot", node.url))
        .send()
        .await
        .expect("anonymous");
    assert_eq!(nobody.status(), 401);
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_loop_and_a_huge_answer_are_refused() {
    let (receiver, url) = Receiver::start(|_| ok(json!({}))).await;
    let node = TestNode::start(
        json!({
            "robot": hook(&format!("{url}/loop"), json!({})),
            "big": hook(&format!("{url}/huge"), json!({})),
        }),
        None,
    )
    .await;
    let scenario = node.add_scenario(ORDER);
    let big = node.add_scenario(
        &ORDER
            .replace("robot", "big")
            .replace("name: order", "name: big"),
    );
    let looping = node.order(&scenario);
    let huge = node.order(&big);
    let parked = |id: &str| {
        node.engine
            .store()
            .outbox_of(id)
            .expect("outbox")
            .first()
            .filter(|e| e.state == letsflow::store::OutboxState::Failed)
            .cloned()
    };
    until("both are parked", || {
        parked(&looping).is_some() && parked(&huge).is_some()
    })
    .await;
    let looped = parked(&looping).expect("parked");
    assert_eq!(looped.attempts, 1, "a redirect loop is not retried");
    let reason = looped.last_error.unwrap_or_default();
    assert!(
        reason.starts_with("redirect refused: ") && reason.contains("more than 3 redirects"),
        "{reason}"
    );
    let too_big = parked(&huge).expect("parked");
    assert_eq!(too_big.attempts, 1);
    assert_eq!(
        too_big.last_error.as_deref(),
        Some("the answer is larger than 1048576 bytes")
    );
    assert_eq!(state_of(&node.process(&huge)), "waiting");
    assert_eq!(receiver.count(), 0);
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_that_cannot_be_applied_are_shown_on_the_notification() {
    // A response that does not fit the action's schema, and one for a notify entry
    // without a trigger.
    let (receiver, url) = Receiver::start(|_| ok(json!({"ref": 42}))).await;
    let node = TestNode::start(
        json!({"robot": hook(&format!("{url}/hook"), json!({}))}),
        None,
    )
    .await;
    let scenario = node.add_scenario(ORDER);
    let untriggered = node.add_scenario(NO_TRIGGER);
    let rejected = node.order(&scenario);
    let unmapped = node.order(&untriggered);
    let parked = |id: &str| {
        node.engine
            .store()
            .outbox_of(id)
            .expect("outbox")
            .first()
            .filter(|e| e.state == letsflow::store::OutboxState::Failed)
            .cloned()
    };
    let started = Instant::now();
    while !(parked(&rejected).is_some() && parked(&unmapped).is_some()) {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "not parked: {:?} {:?} {}",
            receiver.got(),
            node.engine.store().outbox_of(&unmapped),
            node.process(&unmapped)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let entry = parked(&rejected).expect("parked");
    assert_eq!(entry.status, Some(200));
    assert_eq!(
        entry.last_error.as_deref(),
        Some("the answer's step was rejected: Response is invalid: data/ref must be string")
    );
    let entry = parked(&unmapped).expect("parked");
    assert_eq!(
        entry.last_error.as_deref(),
        Some("the answer cannot be applied: service 'robot' has no trigger action in state 'waiting'")
    );
    // The custom message, as text.
    let got = receiver.got();
    let text = got
        .iter()
        .find(|g| g.content_type.starts_with("text/plain"))
        .expect("the custom message");
    assert_eq!(text.body, "Order by alice");
    for id in [&rejected, &unmapped] {
        assert_eq!(state_of(&node.process(id)), "waiting");
    }
    // The rejected attempt is kept with the process, as a user's is.
    let shown = node.engine.rejected(&rejected).expect("rejected");
    assert_eq!(shown.len(), 1);
    node.stop().await;
}

// --- ZeroMQ ---------------------------------------------------------------------------------

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_zeromq_reply_socket_answers_and_a_pull_socket_receives() {
    use zeromq::{Socket, SocketRecv, SocketSend, ZmqMessage};
    let (rep_port, pull_port) = (free_port(), free_port());
    let mut rep = zeromq::RepSocket::new();
    rep.bind(&format!("tcp://127.0.0.1:{rep_port}"))
        .await
        .expect("bind REP");
    let mut pull = zeromq::PullSocket::new();
    pull.bind(&format!("tcp://127.0.0.1:{pull_port}"))
        .await
        .expect("bind PULL");
    let node = TestNode::start(
        json!({
            "robot": {"provider": "zeromq", "type": "reply", "address": format!("tcp://127.0.0.1:{rep_port}")},
            "queue": {"provider": "zeromq", "type": "push", "address": format!("tcp://127.0.0.1:{pull_port}")},
        }),
        None,
    )
    .await;

    // Request/reply: the reply is the response.
    let scenario = node.add_scenario(ORDER);
    let id = node.order(&scenario);
    let etag = head(&node.process(&id));
    let request = tokio::time::timeout(Duration::from_secs(10), rep.recv())
        .await
        .expect("a request in time")
        .expect("recv");
    let frames = request.into_vec();
    assert_eq!(frames.len(), 2);
    assert_eq!(frames[0].as_ref(), format!("{etag}:0").as_bytes());
    let message: Value = serde_json::from_slice(&frames[1]).expect("JSON");
    assert_eq!(message["instructions"], "Confirm the order");
    rep.send(ZmqMessage::from(json!({"ref": "Z-1"}).to_string()))
        .await
        .expect("reply");
    until("the process is done", || {
        state_of(&node.process(&id)) == "(done)"
    })
    .await;
    assert_eq!(node.process(&id)["vars"]["ref"], "Z-1");

    // Push: fire and forget.
    let queued = node.add_scenario(
        &ORDER
            .replace("robot", "queue")
            .replace("name: order", "name: queued"),
    );
    let id = node.order(&queued);
    let pushed = tokio::time::timeout(Duration::from_secs(10), pull.recv())
        .await
        .expect("a message in time")
        .expect("recv");
    let frames = pushed.into_vec();
    assert_eq!(frames.len(), 2);
    let message: Value = serde_json::from_slice(&frames[1]).expect("JSON");
    assert_eq!(message["actions"][0]["key"], "confirm");
    until("delivered", || outbox_len(&node, &id) == 0).await;
    assert_eq!(state_of(&node.process(&id)), "waiting");
    node.stop().await;
}

// --- AMQP -----------------------------------------------------------------------------------

const BROKER: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";

/// A connection to the broker, or `None` (with the reason printed) when there is none —
/// which fails the test under `CI=true`.
async fn broker() -> Option<lapin::Connection> {
    match lapin::Connection::connect(BROKER, lapin::ConnectionProperties::default()).await {
        Ok(connection) => Some(connection),
        Err(e) => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "CI=true, but no AMQP broker at 127.0.0.1:5672: {e}"
            );
            println!("skipping: no AMQP broker at 127.0.0.1:5672 ({e})");
            None
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn amqp_replies_carry_the_correlation_id() {
    use futures::StreamExt;
    use lapin::options::{
        BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, QueueDeclareOptions,
    };
    use lapin::types::FieldTable;
    let Some(connection) = broker().await else {
        return;
    };
    let queue = format!("letsflow-test-{}", uuid::Uuid::new_v4());
    let channel = connection.create_channel().await.expect("channel");
    channel
        .queue_declare(
            queue.as_str().into(),
            QueueDeclareOptions {
                auto_delete: true,
                ..QueueDeclareOptions::default()
            },
            FieldTable::default(),
        )
        .await
        .expect("declare");
    let mut consumer = channel
        .basic_consume(
            queue.as_str().into(),
            "robot".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .expect("consume");
    let node = TestNode::start(
        json!({"robot": {"provider": "amqp", "url": BROKER, "routingKey": queue, "reply": true, "responseTimeout": 5}}),
        None,
    )
    .await;
    let scenario = node.add_scenario(ORDER);
    let id = node.order(&scenario);
    let etag = head(&node.process(&id));
    let delivery = tokio::time::timeout(Duration::from_secs(10), consumer.next())
        .await
        .expect("a message in time")
        .expect("a delivery")
        .expect("ok");
    let p = &delivery.properties;
    assert_eq!(
        p.content_type().as_ref().map(|s| s.as_str()),
        Some("application/json")
    );
    assert_eq!(*p.delivery_mode(), Some(2));
    assert_eq!(
        p.message_id().as_ref().map(|s| s.as_str()),
        Some(etag.as_str())
    );
    assert_eq!(p.app_id().as_ref().map(|s| s.as_str()), Some("letsflow"));
    let correlation = p.correlation_id().clone().expect("correlation id");
    assert_eq!(correlation.as_str(), format!("{etag}:0"));
    let reply_to = p.reply_to().clone().expect("reply to");
    let message: Value = serde_json::from_slice(&delivery.data).expect("JSON");
    assert_eq!(message["instructions"], "Confirm the order");
    // An answer with another correlation id is not the answer.
    for (correlation, body) in [
        (
            lapin::types::ShortString::from("someone-else"),
            json!({"ref": "wrong"}),
        ),
        (correlation, json!({"ref": "A-1"})),
    ] {
        channel
            .basic_publish(
                "".into(),
                reply_to.clone(),
                BasicPublishOptions::default(),
                body.to_string().as_bytes(),
                lapin::BasicProperties::default().with_correlation_id(correlation),
            )
            .await
            .expect("publish")
            .await
            .expect("confirm");
    }
    delivery.ack(BasicAckOptions::default()).await.expect("ack");
    until("the process is done", || {
        state_of(&node.process(&id)) == "(done)"
    })
    .await;
    assert_eq!(node.process(&id)["vars"]["ref"], "A-1");
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn amqp_fire_and_forget() {
    use futures::StreamExt;
    use lapin::options::{BasicConsumeOptions, QueueDeclareOptions};
    use lapin::types::FieldTable;
    let Some(connection) = broker().await else {
        return;
    };
    let queue = format!("letsflow-test-{}", uuid::Uuid::new_v4());
    let channel = connection.create_channel().await.expect("channel");
    channel
        .queue_declare(
            queue.as_str().into(),
            QueueDeclareOptions {
                auto_delete: true,
                ..QueueDeclareOptions::default()
            },
            FieldTable::default(),
        )
        .await
        .expect("declare");
    let mut consumer = channel
        .basic_consume(
            queue.as_str().into(),
            "queue".into(),
            BasicConsumeOptions {
                no_ack: true,
                ..BasicConsumeOptions::default()
            },
            FieldTable::default(),
        )
        .await
        .expect("consume");
    let node = TestNode::start(
        json!({"robot": {"provider": "amqp", "url": BROKER, "routingKey": queue}}),
        None,
    )
    .await;
    let scenario = node.add_scenario(ORDER);
    let id = node.order(&scenario);
    let delivery = tokio::time::timeout(Duration::from_secs(10), consumer.next())
        .await
        .expect("a message in time")
        .expect("a delivery")
        .expect("ok");
    assert_eq!(delivery.properties.reply_to(), &None);
    let message: Value = serde_json::from_slice(&delivery.data).expect("JSON");
    assert_eq!(message["actions"][0]["key"], "confirm");
    until("delivered", || outbox_len(&node, &id) == 0).await;
    assert_eq!(state_of(&node.process(&id)), "waiting");

    // A routing key no queue is bound to: the broker returns the message, retried later.
    let node2 = TestNode::start(
        json!({"robot": {"provider": "amqp", "url": BROKER, "routingKey": format!("{queue}-nobody"), "retryDelay": 0.05, "maxRetryDelay": 0.1, "maxAttempts": 2}}),
        None,
    )
    .await;
    let scenario = node2.add_scenario(ORDER);
    let id = node2.order(&scenario);
    until("parked", || {
        node2
            .engine
            .store()
            .outbox_of(&id)
            .expect("outbox")
            .first()
            .is_some_and(|e| e.state == letsflow::store::OutboxState::Failed)
    })
    .await;
    let entry = node2
        .engine
        .store()
        .outbox_of(&id)
        .expect("outbox")
        .remove(0);
    assert_eq!(entry.attempts, 2);
    assert!(
        entry
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("the broker could not route the message")),
        "{entry:?}"
    );
    node.stop().await;
    node2.stop().await;
}

// --- the quote scenario ---------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_quote_scenario_emails_through_a_webhook() {
    let Some(shared) = common::shared_dir() else {
        return;
    };
    let testing = shared.join("conformance/testing");
    let (receiver, url) = Receiver::start(|_| (202, None, Duration::ZERO)).await;
    let node = TestNode::start(
        json!({"email": hook(&format!("{url}/hook"), json!({}))}),
        Some(&testing.join("schemas")),
    )
    .await;
    let raw = letsflow::scenario::load_file(&testing.join("scenarios/quote.yaml")).expect("quote");
    let (scenario, _) = node.engine.add_scenario(&raw, now()).expect("add quote");
    let bob = || {
        StepActor::key("sales")
            .with("id", json!("bob"))
            .with("roles", json!(["sales"]))
    };
    let request = json!({
        "company": "Acme Inc",
        "contact": "Alice",
        "email": "alice@example.com",
        "address": "123 Main St",
        "requirements": "The product should be able to do X, Y and Z",
    });
    let start = |id: &str| {
        let mut actors = Map::new();
        actors.insert("customer".into(), json!({"id": "alice"}));
        actors.insert("sales".into(), json!({"role": "sales"}));
        node.engine
            .start(&scenario, id, actors, now())
            .expect("start");
        let (outcome, process) = node
            .engine
            .step(
                id,
                "request",
                &alice("customer"),
                Some(request.clone()),
                now(),
            )
            .expect("request");
        assert!(
            !outcome.skipped,
            "{:?} {}",
            outcome.errors,
            node.process(id)
        );
        process
    };

    // Quoted: the customer is emailed the quote; then accepts.
    let quoted = uuid::Uuid::new_v4().to_string();
    let process = start(&quoted);
    let customer = process.actors()["customer"].clone();
    let (outcome, _) = node
        .engine
        .step(
            &quoted,
            "create_quote",
            &bob(),
            Some(json!("cms:quotes/test.pdf")),
            now(),
        )
        .expect("create quote");
    assert!(!outcome.skipped, "{:?}", outcome.errors);
    until("the quote is emailed", || receiver.count() == 1).await;
    let email = receiver.got().remove(0);
    assert_eq!(
        email.body,
        json!({
            "schema": "messages/email-v1",
            "to": {"name": "Alice", "email": "alice@example.com"},
            "template": "quote",
            "generate_token": customer["id"],
            "data": {"customer": customer},
            "attachments": [{"filename": "quote.pdf", "source": "cms:quotes/test.pdf"}],
        })
    );
    until("delivered", || outbox_len(&node, &quoted) == 0).await;
    let as_customer = StepActor::key("customer").with("id", customer["id"].clone());
    let (outcome, process) = node
        .engine
        .step(&quoted, "accept", &as_customer, None, now())
        .expect("accept");
    assert!(!outcome.skipped, "{:?}", outcome.errors);
    assert_eq!(process.current_key(), "(accepted)");

    // Cancelled by sales: the customer is told why. Cancelled by the customer: no email.
    let by_sales = uuid::Uuid::new_v4().to_string();
    start(&by_sales);
    node.engine
        .step(
            &by_sales,
            "cancel",
            &bob(),
            Some(json!({"reason": "Unable to deliver on requirements"})),
            now(),
        )
        .expect("cancel");
    until("the cancellation is emailed", || receiver.count() == 2).await;
    let email = receiver.got().remove(1);
    assert_eq!(email.body["template"], "no-quote");
    assert_eq!(
        email.body["data"]["reason"],
        "Unable to deliver on requirements"
    );
    let by_customer = uuid::Uuid::new_v4().to_string();
    let process = start(&by_customer);
    let as_customer =
        StepActor::key("customer").with("id", process.actors()["customer"]["id"].clone());
    node.engine
        .step(
            &by_customer,
            "cancel",
            &as_customer,
            Some(json!({"reason": "No longer interested"})),
            now(),
        )
        .expect("cancel");
    assert_eq!(outbox_len(&node, &by_customer), 0, "the `if` does not hold");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.count(), 2);
    node.stop().await;
}

// --- inbound: API keys bound to a service ---------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_key_bound_to_a_service_acts_as_the_service() {
    let (_receiver, url) = Receiver::start(|_| (202, None, Duration::ZERO)).await;
    let node = TestNode::start(
        json!({"robot": hook(&format!("{url}/hook"), json!({}))}),
        None,
    )
    .await;
    let scenario = node.add_scenario(ORDER);
    let id = node.order(&scenario);
    let client = reqwest::Client::new();
    let admin = node.admin_token().await;
    let issued = client
        .post(format!("{}/apikey", node.url))
        .bearer_auth(&admin)
        .json(&json!({"name": "robot", "privileges": ["process:step"], "service": "robot"}))
        .send()
        .await
        .expect("issue");
    assert_eq!(issued.status(), 201);
    let issued: Value = issued.json().await.expect("json");
    assert_eq!(issued["service"], "robot");
    let token = issued["token"].as_str().expect("token").to_string();
    let step = |action: &str, body: Value| {
        client
            .post(format!("{}/processes/{id}/{action}", node.url))
            .bearer_auth(&token)
            .json(&body)
            .send()
    };
    // Not the client's action.
    let refused = step("cancel", Value::Null).await.expect("cancel");
    assert_eq!(refused.status(), 400, "{:?}", refused.text().await);
    let done = step("confirm", json!({"ref": "K-1"}))
        .await
        .expect("confirm");
    assert_eq!(done.status(), 204);
    let process = node.process(&id);
    assert_eq!(state_of(&process), "(done)");
    let last = process["events"].as_array().and_then(|e| e.last().cloned());
    let last = last.expect("event");
    assert_eq!(last["actor"]["key"], "service:robot");
    assert_eq!(last["actor"]["apiKey"], issued["id"]);
    assert_eq!(process["vars"]["ref"], "K-1");
    // A person without `process:super` cannot bind a key to a service.
    let accounts: Value = reqwest::get(format!("{}/demo-accounts", node.url))
        .await
        .expect("accounts")
        .json()
        .await
        .expect("json");
    let alice = accounts[0]["token"].as_str().expect("token").to_string();
    let refused = client
        .post(format!("{}/apikey", node.url))
        .bearer_auth(&alice)
        .json(&json!({"privileges": ["process:step"], "service": "robot"}))
        .send()
        .await
        .expect("issue");
    assert_eq!(refused.status(), 403);
    node.stop().await;
}

// --- delays and concurrency -----------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_service_does_not_hold_up_another_and_after_delays_wait() {
    // `slow` answers after 3 s, one request at a time; `robot` at once.
    let (slow, slow_url) = Receiver::start(|_| (202, None, Duration::from_secs(3))).await;
    let (fast, fast_url) = Receiver::start(|_| ok(json!({"ref": "quick"}))).await;
    let node = TestNode::start(
        json!({
            "slow": hook(&format!("{slow_url}/hook"), json!({"timeout": 10, "concurrency": 1})),
            "robot": hook(&format!("{fast_url}/hook"), json!({})),
        }),
        None,
    )
    .await;
    let slow_scenario = node.add_scenario(
        &ORDER
            .replace("robot", "slow")
            .replace("name: order", "name: slow"),
    );
    let delayed = node.add_scenario(
        &ORDER
            .replace(
                "      service: robot",
                "      service: robot\n      after: 1",
            )
            .replace("name: order", "name: delayed"),
    );
    let scenario = node.add_scenario(ORDER);
    for _ in 0..4 {
        node.order(&slow_scenario);
    }
    until("the slow service is busy", || slow.count() == 1).await;
    let started = Instant::now();
    let id = node.order(&scenario);
    until("the fast service's answer is applied", || {
        state_of(&node.process(&id)) == "(done)"
    })
    .await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(slow.count(), 1, "one at a time to the slow service");

    // `after: 1`: not before a second has passed since the state was entered.
    let entered = Instant::now();
    let id = node.order(&delayed);
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(fast.count(), 1, "not yet");
    until("the delayed notification is applied", || {
        state_of(&node.process(&id)) == "(done)"
    })
    .await;
    assert!(entered.elapsed() >= Duration::from_secs(1));
    assert_eq!(fast.count(), 2);
    node.stop().await;
}

// --- configuration --------------------------------------------------------------------------

#[test]
fn services_are_checked_at_start_naming_the_key() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("letsflow.yaml");
    std::fs::write(
        &file,
        "storage: memory\nservices:\n  mail:\n    provider: webhook\n    url: http://127.0.0.1:9/hook\n  queue:\n    provider: zeromq\n    type: push\n    address: tcp://127.0.0.1:5555\n",
    )
    .expect("write");
    let flags = Flags {
        config: Some(file.clone()),
        ..Flags::default()
    };
    let env = |services: Option<&str>| -> Env {
        let mut vars = vec![("LETSFLOW_SCENARIOS", ""), ("LETSFLOW_SCHEMAS", "")];
        if let Some(s) = services {
            vars.push(("LETSFLOW_SERVICES", s));
        }
        vars.into_iter().collect()
    };
    let config = Config::load(&flags, &env(None)).expect("config");
    let names: Vec<&str> = config.services.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["mail", "queue"]);

    // The environment variable replaces the file's map.
    let config = Config::load(
        &flags,
        &env(Some(
            r#"{"hook": {"provider": "webhook", "url": "https://x.example/"}}"#,
        )),
    )
    .expect("config");
    assert_eq!(config.services.len(), 1);
    assert_eq!(config.services[0].name, "hook");

    let error = Config::load(
        &flags,
        &env(Some(
            r#"{"hook": {"provider": "webhook", "url": "https://x.example/", "timout": 3}}"#,
        )),
    )
    .expect_err("unknown key");
    assert!(
        error
            .to_string()
            .starts_with("invalid service setting services.hook.timout (from LETSFLOW_SERVICES): unknown setting"),
        "{error}"
    );
    std::fs::write(
        &file,
        "storage: memory\nservices:\n  mail:\n    provider: smtp\n",
    )
    .expect("write");
    let error = Config::load(&flags, &env(None)).expect_err("unknown provider");
    assert_eq!(
        error.to_string(),
        format!(
            "invalid service setting services.mail.provider (from {}): unknown provider 'smtp'; expected webhook, zeromq or amqp",
            file.display()
        )
    );
}
