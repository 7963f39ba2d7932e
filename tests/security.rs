//! The findings of the security review (issue 8), each reproduced over HTTP against a real
//! server on a loopback port, now getting the safe answer. docs/security.md explains them.

use letsflow::api::auth::{Auth, AuthConfig, JwtConfig};
use letsflow::api::{router, ApiSettings, AppState};
use letsflow::engine::Engine;
use letsflow::process::{StepActor, Timestamp};
use letsflow::schema::SchemaRegistry;
use letsflow::store::{MemoryStore, RedbStore, Store};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde_json::{json, Map, Value};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

const SECRET: &str = "security-test-secret-of-at-least-32-bytes";
const YAML: &str = "application/yaml";

/// A client asks a supplier for a price; no actor has a role.
const QUOTE: &str = r#"
name: quote
version: "1.0"
actors:
  client:
    title: Client
  supplier:
    title: Supplier
actions:
  request:
    actor: client
    response:
      type: object
      properties:
        item: !required string
  offer:
    actor: supplier
    response: number
  accept:
    actor: client
states:
  initial:
    on: request
    by: client
    goto: quoting
  quoting:
    on: offer
    by: supplier
    goto: deciding
  deciding:
    on: accept
    by: client
    goto: (accepted)
"#;

/// A writer adds notes with any response, as often as they like.
const NOTES: &str = r#"
name: notes
version: "1.0"
actors:
  writer:
    title: Writer
actions:
  note:
    actor: writer
states:
  initial:
    on: note
    by: writer
    goto: open
  open:
    on: note
    by: writer
    goto: open
"#;

/// `examples/scenarios/approval.yaml`: the manager has `role: manager`, finance `role:
/// finance`.
fn approval() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/scenarios/approval.yaml");
    std::fs::read_to_string(path).expect("approval.yaml")
}

struct Node {
    base: String,
    client: reqwest::Client,
    shutdown: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

fn settings() -> ApiSettings {
    ApiSettings {
        name: "security-test-node".into(),
        dev: false,
        ..ApiSettings::default()
    }
}

/// Production authentication with [`SECRET`]; role `issuer` may issue API keys.
fn auth_config() -> AuthConfig {
    let mut config = AuthConfig {
        jwt: Some(JwtConfig {
            secret: Some(SECRET.into()),
            ..JwtConfig::default()
        }),
        ..AuthConfig::default()
    };
    config
        .roles
        .insert("issuer".into(), vec!["apikey:issue".into()]);
    config
}

async fn serve_with(store: Arc<dyn Store>, settings: ApiSettings, config: AuthConfig) -> Node {
    let state = AppState {
        engine: Arc::new(Engine::new(store.clone(), SchemaRegistry::new())),
        auth: Arc::new(Auth::new(config, settings.dev, store).expect("auth")),
        settings: Arc::new(settings),
        network: None,
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    let (shutdown, stop) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        axum::serve(listener, router(state))
            .with_graceful_shutdown(async {
                let _ = stop.await;
            })
            .await
            .expect("serve");
    });
    Node {
        base: format!("http://{addr}"),
        client: reqwest::Client::new(),
        shutdown,
        task,
    }
}

async fn serve(store: Arc<dyn Store>) -> Node {
    serve_with(store, settings(), auth_config()).await
}

async fn node() -> Node {
    serve(Arc::new(MemoryStore::new())).await
}

/// A JWT for user `id` with `roles`, valid for an hour.
fn token(id: &str, roles: &[&str]) -> String {
    sign(&json!({
        "sub": id,
        "roles": roles,
        "exp": chrono::Utc::now().timestamp() + 3600,
    }))
}

fn sign(claims: &Value) -> String {
    let key = jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()).expect("key");
    jsonwebtoken::encode(&jsonwebtoken::Header::default(), claims, &key).expect("jwt")
}

fn admin() -> String {
    token("admin", &["admin"])
}

impl Node {
    async fn stop(self) {
        let Node {
            client,
            shutdown,
            task,
            ..
        } = self;
        drop(client);
        let _ = shutdown.send(());
        task.await.expect("server task");
    }

    fn request(&self, method: Method, path: &str, bearer: &str) -> RequestBuilder {
        self.client
            .request(method, format!("{}{path}", self.base))
            .header(AUTHORIZATION, format!("Bearer {bearer}"))
    }

    fn get(&self, path: &str, bearer: &str) -> RequestBuilder {
        self.request(Method::GET, path, bearer)
    }

    fn post(&self, path: &str, bearer: &str) -> RequestBuilder {
        self.request(Method::POST, path, bearer)
    }

    /// Stores a YAML scenario as admin; returns its id.
    async fn scenario(&self, yaml: &str) -> String {
        let res = self
            .post("/scenarios", &admin())
            .header(CONTENT_TYPE, YAML)
            .body(yaml.to_string())
            .send()
            .await
            .expect("send");
        let status = res.status();
        let body = json_of(res).await;
        assert!(status.is_success(), "{status}: {body}");
        body["id"].as_str().expect("id").to_string()
    }

    /// Starts a process as `bearer`; returns its id.
    async fn start(&self, bearer: &str, instructions: Value) -> String {
        let res = self
            .post("/processes", bearer)
            .json(&instructions)
            .send()
            .await
            .expect("send");
        let status = res.status();
        let body = json_of(res).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["id"].as_str().expect("id").to_string()
    }

    /// A quote process with alice as client and bob as supplier, alice having requested.
    async fn quote(&self, scenario: &str) -> String {
        self.start(
            &token("alice", &[]),
            json!({
                "scenario": scenario,
                "actors": {"client": {"id": "alice"}, "supplier": {"id": "bob"}},
                "action": {"key": "request", "response": {"item": "bike"}},
            }),
        )
        .await
    }

    /// The process as admin sees it.
    async fn process(&self, id: &str) -> Value {
        let res = self
            .get(&format!("/processes/{id}"), &admin())
            .send()
            .await
            .expect("send");
        assert_eq!(res.status(), StatusCode::OK);
        json_of(res).await
    }

    /// Issues an API key as `bearer`; returns the key as answered (with its token).
    async fn issue(&self, bearer: &str, request: Value) -> Value {
        let res = self
            .post("/apikey", bearer)
            .json(&request)
            .send()
            .await
            .expect("send");
        let status = res.status();
        let body = json_of(res).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body
    }

    async fn list(&self, bearer: &str) -> (String, Vec<Value>) {
        let res = self.get("/processes", bearer).send().await.expect("send");
        assert_eq!(res.status(), StatusCode::OK);
        let total = res.headers()["x-total-count"]
            .to_str()
            .expect("text")
            .to_string();
        let list = json_of(res).await.as_array().expect("list").clone();
        (total, list)
    }
}

async fn json_of(res: Response) -> Value {
    let text = res.text().await.expect("body");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// Asserts the status and the error shape; returns the error message.
async fn error(res: Response, status: StatusCode) -> String {
    assert_eq!(res.status(), status, "status of {}", res.url());
    let body = json_of(res).await;
    body["error"]["message"]
        .as_str()
        .unwrap_or_else(|| panic!("no error message in {body}"))
        .to_string()
}

fn events(process: &Value) -> &Vec<Value> {
    process["events"].as_array().expect("events")
}

fn secret_of(key: &Value) -> String {
    key["token"].as_str().expect("token").to_string()
}

// --- 1. An API key acts on behalf of its issuer ----------------------------------------------

#[tokio::test]
async fn an_api_key_sees_and_steps_only_where_its_issuer_could() {
    let node = node().await;
    let quote = node.scenario(QUOTE).await;
    let approval = node.scenario(&approval()).await;
    let pid = node.quote(&quote).await;
    let claim = node
        .start(
            &token("alice", &[]),
            json!({
                "scenario": approval,
                "actors": {"employee": {"id": "alice"}},
                "action": {"key": "submit", "response": {"amount": 120, "reason": "train"}},
            }),
        )
        .await;

    // mallory may only issue keys (and start and step, as everyone)
    let mallory = token("mallory", &["issuer"]);
    let key = node
        .issue(&mallory, json!({"privileges": ["process:step"]}))
        .await;
    assert_eq!(
        key["issuer"],
        json!({"user": "mallory", "roles": ["issuer"]})
    );
    let key = secret_of(&key);
    assert_eq!(node.list(&key).await, ("0".to_string(), vec![]));
    let res = node
        .get(&format!("/processes/{pid}"), &key)
        .send()
        .await
        .expect("send");
    error(res, StatusCode::NOT_FOUND).await;
    let res = node
        .post(&format!("/processes/{claim}/approve"), &key)
        .header("As-Actor", "manager")
        .send()
        .await
        .expect("send");
    assert_eq!(
        error(res, StatusCode::NOT_FOUND).await,
        format!("Process '{claim}' not found")
    );
    let res = node
        .post(&format!("/processes/{pid}/offer"), &key)
        .header("As-Actor", "supplier")
        .json(&json!(1))
        .send()
        .await
        .expect("send");
    error(res, StatusCode::NOT_FOUND).await;
    assert_eq!(
        events(&node.process(&claim).await).len(),
        2,
        "nothing recorded"
    );
    assert_eq!(
        events(&node.process(&pid).await).len(),
        2,
        "nothing recorded"
    );

    // nor can she grant what she lacks
    let res = node
        .post("/apikey", &mallory)
        .json(&json!({"privileges": ["process:super"]}))
        .send()
        .await
        .expect("send");
    assert_eq!(
        error(res, StatusCode::FORBIDDEN).await,
        "cannot grant the privilege 'process:super', which the issuer does not have"
    );

    // alice's key acts as alice, in alice's processes only
    let alice = token("alice", &["issuer"]);
    let key = secret_of(
        &node
            .issue(&alice, json!({"privileges": ["process:step"]}))
            .await,
    );
    let (total, list) = node.list(&key).await;
    assert_eq!(total, "2");
    assert_eq!(list.len(), 2);
    let res = node
        .post(&format!("/processes/{pid}/offer"), &token("bob", &[]))
        .json(&json!(9))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let res = node
        .post(&format!("/processes/{pid}/accept"), &key)
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(node.process(&pid).await["current"]["key"], "(accepted)");

    // a key restricted to actors sees no process where it plays none of them
    let supplier_only = secret_of(
        &node
            .issue(
                &alice,
                json!({"privileges": ["process:step"], "processes": {"actors": ["supplier"]}}),
            )
            .await,
    );
    assert_eq!(node.list(&supplier_only).await, ("0".to_string(), vec![]));
    let res = node
        .get(&format!("/processes/{pid}"), &supplier_only)
        .send()
        .await
        .expect("send");
    error(res, StatusCode::NOT_FOUND).await;
    let client_only = secret_of(
        &node
            .issue(
                &alice,
                json!({"privileges": ["process:step"], "processes": {"actors": ["client"]}}),
            )
            .await,
    );
    let (total, list) = node.list(&client_only).await;
    assert_eq!(
        (total.as_str(), list[0]["id"].as_str()),
        ("1", Some(pid.as_str()))
    );

    // only a key holding process:super, from an issuer who had it, reaches every process
    let app = secret_of(
        &node
            .issue(
                &admin(),
                json!({"privileges": ["process:step", "process:super"]}),
            )
            .await,
    );
    assert_eq!(node.list(&app).await.0, "2");
    node.stop().await;
}

// --- 2. Keys issued by a key never outlive it ---------------------------------------------------

#[tokio::test]
async fn keys_issued_by_a_key_never_outlive_it() {
    let node = node().await;
    let expiration = chrono::Utc::now() + chrono::Duration::milliseconds(2500);
    let parent = node
        .issue(
            &admin(),
            json!({
                "privileges": ["apikey:issue", "process:step"],
                "expiration": expiration.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            }),
        )
        .await;
    let child = node
        .issue(
            &secret_of(&parent),
            json!({"privileges": ["apikey:issue", "process:step"], "expirationDays": 36500}),
        )
        .await;
    assert_eq!(child["expiration"], parent["expiration"], "capped");
    assert_eq!(
        child["issuer"],
        json!({"user": "admin", "roles": ["admin"], "key": parent["id"]})
    );
    let grandchild = node
        .issue(&secret_of(&child), json!({"privileges": ["process:step"]}))
        .await;
    assert_eq!(grandchild["expiration"], parent["expiration"], "capped");
    assert_eq!(grandchild["issuer"]["key"], child["id"]);
    assert_eq!(grandchild["issuer"]["user"], "admin");
    for key in [&parent, &child, &grandchild] {
        let res = node
            .get("/processes", &secret_of(key))
            .send()
            .await
            .expect("send");
        assert_eq!(res.status(), StatusCode::OK);
    }

    // revoking a key disables every key issued through it
    let other = node
        .issue(
            &admin(),
            json!({"privileges": ["apikey:issue", "process:step"]}),
        )
        .await;
    let other_child = node
        .issue(
            &secret_of(&other),
            json!({"privileges": ["apikey:issue", "process:step"]}),
        )
        .await;
    let other_grandchild = node
        .issue(
            &secret_of(&other_child),
            json!({"privileges": ["process:step"]}),
        )
        .await;
    let res = node
        .request(
            Method::DELETE,
            &format!("/apikey/{}", other["id"].as_str().expect("id")),
            &admin(),
        )
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let res = node
        .get("/processes", &secret_of(&other))
        .send()
        .await
        .expect("send");
    assert_eq!(
        error(res, StatusCode::UNAUTHORIZED).await,
        "API key revoked"
    );
    for key in [&other_child, &other_grandchild] {
        let res = node
            .get("/processes", &secret_of(key))
            .send()
            .await
            .expect("send");
        assert_eq!(
            error(res, StatusCode::UNAUTHORIZED).await,
            "API key revoked: the key that issued it was revoked"
        );
    }

    // and when the parent expires, so does everything it issued
    let left = (expiration - chrono::Utc::now())
        .to_std()
        .unwrap_or_default();
    tokio::time::sleep(left + Duration::from_millis(100)).await;
    for key in [&parent, &child, &grandchild] {
        let res = node
            .get("/processes", &secret_of(key))
            .send()
            .await
            .expect("send");
        assert_eq!(
            error(res, StatusCode::UNAUTHORIZED).await,
            "API key expired"
        );
    }
    node.stop().await;
}

// --- 3. Role-bound actors ---------------------------------------------------------------------

#[tokio::test]
async fn only_a_user_with_the_role_or_process_super_binds_a_role_bound_actor() {
    let node = node().await;
    let approval = node.scenario(&approval()).await;
    let submit = json!({"key": "submit", "response": {"amount": 120, "reason": "train"}});

    // alice makes herself manager and finance of her own claim
    let res = node
        .post("/processes", &token("alice", &[]))
        .json(&json!({
            "scenario": approval,
            "actors": {"employee": {"id": "alice"}, "manager": {"id": "alice"}, "finance": {"id": "alice"}},
            "action": submit,
        }))
        .send()
        .await
        .expect("send");
    assert_eq!(
        error(res, StatusCode::FORBIDDEN).await,
        "Cannot assign actor 'manager' to user 'alice': the actor needs the role 'management', \
         which only that user holding it or a caller with 'process:super' can assign"
    );
    // ... or names someone else for it
    let res = node
        .post("/processes", &token("alice", &["support"]))
        .json(&json!({
            "scenario": approval,
            "actors": {"employee": {"id": "alice"}, "finance": {"id": "bob"}},
            "action": submit,
        }))
        .send()
        .await
        .expect("send");
    assert_eq!(
        error(res, StatusCode::FORBIDDEN).await,
        "Cannot assign actor 'finance' to user 'bob': the actor needs the role 'support', \
         which only that user holding it or a caller with 'process:super' can assign"
    );
    let res = node
        .get("/processes?all=true", &admin())
        .send()
        .await
        .expect("send");
    assert_eq!(res.headers()["x-total-count"], "0", "nothing was started");

    // a user who holds the role may take it; process:super may assign anyone
    node.start(
        &token("bob", &["management"]),
        json!({
            "scenario": approval,
            "actors": {"employee": {"id": "bob"}, "manager": {"id": "bob"}},
            "action": submit,
        }),
    )
    .await;
    node.start(
        &admin(),
        json!({
            "scenario": approval,
            "actors": {"employee": {"id": "alice"}, "manager": {"id": "carol"}, "finance": {"id": "dave"}},
        }),
    )
    .await;
    // and the actor bound by role stays the role's
    let claim = node
        .start(
            &token("alice", &[]),
            json!({"scenario": approval, "actors": {"employee": {"id": "alice"}}, "action": submit}),
        )
        .await;
    let res = node
        .post(&format!("/processes/{claim}/approve"), &token("alice", &[]))
        .send()
        .await
        .expect("send");
    error(res, StatusCode::FORBIDDEN).await;
    node.stop().await;
}

// --- 4. One depth limit -----------------------------------------------------------------------

/// `n` arrays in one another, as JSON text.
fn nested_text(n: usize) -> String {
    format!("{}{}", "[".repeat(n), "]".repeat(n))
}

fn nested(n: usize) -> Value {
    let mut value = json!([]);
    for _ in 1..n {
        value = Value::Array(vec![value]);
    }
    value
}

#[tokio::test]
async fn the_deepest_accepted_value_is_readable_after_a_restart() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store: Arc<dyn Store> = Arc::new(RedbStore::open(dir.path()).expect("open"));
    let node = serve(store).await;
    let notes = node.scenario(NOTES).await;
    let pid = node
        .start(
            &token("alice", &[]),
            json!({"scenario": notes, "actors": {"writer": {"id": "alice"}}, "action": "note"}),
        )
        .await;
    let alice = token("alice", &[]);
    let step = format!("/processes/{pid}/note");
    let res = node
        .post(&step, &alice)
        .header(CONTENT_TYPE, "application/json")
        .body(nested_text(letsflow::json::MAX_DEPTH))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    // one level deeper, or the 127 levels that made a process unreadable, is refused
    for (depth, content_type) in [
        (65, "application/json"),
        (127, "application/json"),
        (65, YAML),
    ] {
        let res = node
            .post(&step, &alice)
            .header(CONTENT_TYPE, content_type)
            .body(nested_text(depth))
            .send()
            .await
            .expect("send");
        assert_eq!(
            error(res, StatusCode::BAD_REQUEST).await,
            "the document nests deeper than 64 levels",
            "{depth} levels of {content_type}"
        );
    }
    // scenarios too
    let res = node
        .post("/scenarios", &admin())
        .header(CONTENT_TYPE, "application/json")
        .body(format!(
            r#"{{"name": "deep", "version": "1.0", "actors": {{"a": {{}}}}, "states": {{"initial": {{"on": "go", "goto": "(done)"}}}}, "x": {}}}"#,
            nested_text(64)
        ))
        .send()
        .await
        .expect("send");
    assert_eq!(
        error(res, StatusCode::BAD_REQUEST).await,
        "the document nests deeper than 64 levels"
    );
    node.stop().await;

    let store: Arc<dyn Store> = Arc::new(RedbStore::open(dir.path()).expect("reopen"));
    let node = serve(store).await;
    let res = node
        .get(&format!("/processes/{pid}"), &alice)
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), StatusCode::OK);
    let process = json_of(res).await;
    assert_eq!(events(&process).len(), 3);
    assert_eq!(events(&process)[2]["response"], nested(64));
    node.stop().await;
}

#[tokio::test]
async fn a_process_stored_deeper_than_the_decoder_limit_still_opens() {
    // An earlier node accepted 127 levels; its event (one level more) is past serde_json's
    // default limit of 128.
    let dir = tempfile::tempdir().expect("temp dir");
    let at = Timestamp::from_millis(chrono::Utc::now().timestamp_millis());
    {
        let store: Arc<dyn Store> = Arc::new(RedbStore::open(dir.path()).expect("open"));
        let engine = Engine::new(store, SchemaRegistry::new());
        let raw = letsflow::scenario::parse(NOTES, letsflow::scenario::Format::Yaml).expect("yaml");
        let (scenario, _) = engine.add_scenario(&raw, at).expect("scenario");
        let mut actors = Map::new();
        actors.insert("writer".into(), json!({"id": "alice"}));
        engine
            .start(&scenario, "deep-process", actors, at)
            .expect("start");
        let (outcome, _) = engine
            .step(
                "deep-process",
                "note",
                &StepActor::key("writer"),
                Some(nested(127)),
                at,
            )
            .expect("step");
        assert!(!outcome.skipped);
    }
    let check = Command::new(env!("CARGO_BIN_EXE_letsflow"))
        .args(["store", "check", "--data"])
        .arg(dir.path())
        .output()
        .expect("run letsflow");
    assert!(
        check.status.success(),
        "{}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );

    let store: Arc<dyn Store> = Arc::new(RedbStore::open(dir.path()).expect("reopen"));
    let node = serve(store).await;
    let res = node
        .get("/processes/deep-process", &admin())
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), StatusCode::OK);
    let text = res.text().await.expect("body");
    let mut de = serde_json::Deserializer::from_str(&text);
    de.disable_recursion_limit();
    let process: Value = serde::Deserialize::deserialize(&mut de).expect("JSON");
    assert_eq!(events(&process)[1]["response"], nested(127));
    node.stop().await;
}

// --- 5. Starting without a usable key -------------------------------------------------------------

/// Runs `letsflow serve` in an empty folder with only `env` set; it must refuse to start.
/// Returns what it printed on stderr.
fn refused_to_serve(args: &[&str], env: &[(&str, &str)]) -> String {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut command = Command::new(env!("CARGO_BIN_EXE_letsflow"));
    command
        .arg("serve")
        .args(args)
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (name, _) in std::env::vars() {
        if name.starts_with("LETSFLOW_") {
            command.env_remove(name);
        }
    }
    for (name, value) in env {
        command.env(name, value);
    }
    let mut child = command.spawn().expect("run letsflow");
    let started = Instant::now();
    while child.try_wait().expect("wait").is_none() {
        if started.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("letsflow serve {args:?} started instead of refusing");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let output = child.wait_with_output().expect("output");
    assert!(!output.status.success(), "exit status {}", output.status);
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn a_node_reachable_from_other_machines_needs_a_key_or_dev() {
    let stderr = refused_to_serve(&["--http", "0.0.0.0:0"], &[]);
    assert!(
        stderr.contains(
            "the HTTP address 0.0.0.0:0 is not a loopback address, so the node does not start \
             in development mode: set LETSFLOW_AUTH_JWT_SECRET or LETSFLOW_AUTH_JWT_PUBLIC_KEY"
        ) && stderr.contains("or pass --dev"),
        "{stderr}"
    );
}

#[test]
fn an_empty_or_short_jwt_secret_is_refused_at_start() {
    for value in ["", "   "] {
        let stderr = refused_to_serve(
            &["--http", "127.0.0.1:0"],
            &[("LETSFLOW_AUTH_JWT_SECRET", value)],
        );
        assert!(
            stderr.contains(&format!(
                "invalid JWT secret '{value}' (from LETSFLOW_AUTH_JWT_SECRET): expected a secret \
                 of at least 32 bytes; an empty one is refused"
            )),
            "{stderr}"
        );
    }
    let stderr = refused_to_serve(
        &["--http", "127.0.0.1:0"],
        &[("LETSFLOW_AUTH_JWT_SECRET", "only-20-bytes-secret")],
    );
    assert!(
        stderr.contains(
            "invalid auth.jwt.secret: an HS256 secret needs at least 32 bytes in production \
             mode; this one has 20"
        ),
        "{stderr}"
    );
}

#[tokio::test]
async fn tokens_without_expiry_are_refused_unless_allowed() {
    let node = node().await;
    let forever = sign(&json!({"sub": "alice"}));
    let res = node.get("/processes", &forever).send().await.expect("send");
    assert_eq!(
        error(res, StatusCode::UNAUTHORIZED).await,
        "invalid token: the token has no expiry ('exp'), which this node requires"
    );
    node.stop().await;

    let mut config = auth_config();
    if let Some(jwt) = config.jwt.as_mut() {
        jwt.require_expiry = false;
    }
    let node = serve_with(Arc::new(MemoryStore::new()), settings(), config).await;
    let res = node.get("/processes", &forever).send().await.expect("send");
    assert_eq!(res.status(), StatusCode::OK);
    node.stop().await;
}

// --- 6. Hostile YAML bodies ---------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_answers_while_hostile_yaml_bodies_are_refused() {
    let node = Arc::new(node().await);
    let notes = node.scenario(NOTES).await;
    let pid = node
        .start(
            &token("alice", &[]),
            json!({"scenario": notes, "actors": {"writer": {"id": "alice"}}, "action": "note"}),
        )
        .await;
    let unknown = format!("/processes/{}/note", uuid::Uuid::new_v4());
    let visible = format!("/processes/{pid}/note");
    let megabyte = "{".repeat(1024 * 1024);
    let under_limit = "{".repeat(letsflow::api::DEFAULT_YAML_BODY_LIMIT);

    let mut attackers = Vec::new();
    for n in 0..4 {
        let node = node.clone();
        let (unknown, visible) = (unknown.clone(), visible.clone());
        let (megabyte, under_limit) = (megabyte.clone(), under_limit.clone());
        attackers.push(tokio::spawn(async move {
            let alice = token("alice", &[]);
            let mut answers = Vec::new();
            for round in 0..3 {
                let (path, body) = match (n + round) % 3 {
                    0 => (&unknown, &megabyte),
                    1 => (&unknown, &under_limit),
                    _ => (&visible, &under_limit),
                };
                let res = node
                    .post(path, &alice)
                    .header(CONTENT_TYPE, YAML)
                    .body(body.clone())
                    .send()
                    .await
                    .expect("send");
                answers.push((path.clone(), body.len(), res.status()));
            }
            answers
        }));
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    for _ in 0..5 {
        let started = Instant::now();
        let res = node
            .client
            .get(format!("{}/health", node.base))
            .send()
            .await
            .expect("send");
        assert_eq!(res.status(), StatusCode::OK);
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "/health took {:?}",
            started.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for attacker in attackers {
        for (path, len, status) in attacker.await.expect("attacker") {
            let expected = if len > letsflow::api::DEFAULT_YAML_BODY_LIMIT {
                StatusCode::PAYLOAD_TOO_LARGE
            } else if path == unknown {
                StatusCode::NOT_FOUND
            } else {
                StatusCode::BAD_REQUEST
            };
            assert_eq!(status, expected, "{len} bytes to {path}");
        }
    }

    let res = node
        .post(&unknown, &token("alice", &[]))
        .header(CONTENT_TYPE, YAML)
        .body(megabyte)
        .send()
        .await
        .expect("send");
    assert_eq!(
        error(res, StatusCode::PAYLOAD_TOO_LARGE).await,
        "YAML request body too large: the limit is 131072 bytes; send larger bodies as JSON"
    );
    assert_eq!(
        events(&node.process(&pid).await).len(),
        2,
        "nothing recorded"
    );
}

// --- 7. Page overflow -------------------------------------------------------------------------

#[tokio::test]
async fn absurd_pages_answer_an_empty_page() {
    let node = node().await;
    let quote = node.scenario(QUOTE).await;
    node.quote(&quote).await;
    for page in ["184467440737095518", "18446744073709551615"] {
        let res = node
            .get(&format!("/processes?all=true&page={page}"), &admin())
            .send()
            .await
            .expect("send");
        assert_eq!(res.status(), StatusCode::OK, "page {page}");
        assert_eq!(res.headers()["x-total-count"], "1");
        assert_eq!(json_of(res).await, json!([]), "page {page}");
    }
    let res = node
        .get("/processes?page=18446744073709551616", &admin())
        .send()
        .await
        .expect("send");
    error(res, StatusCode::BAD_REQUEST).await;
    node.stop().await;
}

// --- 8. Audit trail -------------------------------------------------------------------------------

#[tokio::test]
async fn a_step_with_an_api_key_records_the_user_and_the_key() {
    let node = node().await;
    let quote = node.scenario(QUOTE).await;
    let pid = node.quote(&quote).await;
    let bob = node
        .issue(
            &token("bob", &["issuer"]),
            json!({"privileges": ["process:step"]}),
        )
        .await;
    let res = node
        .post(&format!("/processes/{pid}/offer"), &secret_of(&bob))
        .json(&json!(9))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let process = node.process(&pid).await;
    assert_eq!(
        events(&process)[2]["actor"],
        json!({"key": "supplier", "id": "bob", "apiKey": bob["id"]})
    );
    // a step with a JWT names the user, as before
    assert_eq!(
        events(&process)[1]["actor"],
        json!({"key": "client", "id": "alice"})
    );
    node.stop().await;
}

// --- 9. Rejected steps and large scenarios -------------------------------------------------------

#[tokio::test]
async fn a_rejected_attempt_stores_a_capped_response() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store: Arc<dyn Store> = Arc::new(RedbStore::open(dir.path()).expect("open"));
    let node = serve(store).await;
    let quote = node.scenario(QUOTE).await;
    let pid = node.quote(&quote).await;
    let alice = token("alice", &[]);
    let big = json!({"item": "x".repeat(60 * 1024)});
    for _ in 0..30 {
        let res = node
            .post(&format!("/processes/{pid}/request"), &alice)
            .json(&big)
            .send()
            .await
            .expect("send");
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
        let body = json_of(res).await;
        assert_eq!(
            body["error"]["reason"],
            json!(["Action 'request' is not allowed in state 'quoting'"])
        );
    }
    // a small rejected response is kept as given
    let res = node
        .post(&format!("/processes/{pid}/request"), &alice)
        .json(&json!({"item": "car"}))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    node.stop().await;

    // after a restart: the chain holds none of the attempts; the local log of rejected
    // attempts keeps them, capped, and the process stays small
    let store: Arc<dyn Store> = Arc::new(RedbStore::open(dir.path()).expect("reopen"));
    let node = serve(store).await;
    let process = node.process(&pid).await;
    assert_eq!(events(&process).len(), 2);
    let rejected = process["rejected"].as_array().expect("rejected").clone();
    assert_eq!(rejected.len(), 31);
    let bytes = serde_json::to_vec(&big).expect("json").len();
    for attempt in &rejected[..30] {
        assert_eq!(attempt["action"], "request");
        assert_eq!(attempt["response"]["truncated"], true);
        assert_eq!(attempt["response"]["bytes"], bytes);
        assert_eq!(
            attempt["response"]["sha256"].as_str().map(str::len),
            Some(64)
        );
        assert_eq!(
            attempt["errors"],
            json!(["Action 'request' is not allowed in state 'quoting'"])
        );
    }
    assert_eq!(rejected[30]["response"], json!({"item": "car"}));
    assert!(serde_json::to_vec(&process).expect("json").len() < 64 * 1024);
    node.stop().await;
}

#[tokio::test]
async fn scenarios_over_the_limits_are_refused() {
    let node = node().await;
    let post = |scenario: Value| node.post("/scenarios", &admin()).json(&scenario).send();
    let mut states = Map::new();
    states.insert(
        "initial".into(),
        json!({"on": "go", "by": "a", "goto": "s0"}),
    );
    for n in 0..1000 {
        states.insert(
            format!("s{n}"),
            json!({"on": "go", "by": "a", "goto": "(done)"}),
        );
    }
    let res = post(json!({"name": "big", "version": "1.0", "actors": {"a": {}}, "states": states}))
        .await
        .expect("send");
    assert_eq!(
        error(res, StatusCode::BAD_REQUEST).await,
        "Scenario too large: 1001 states (the limit is 1000)"
    );
    let actions: Map<String, Value> = (0..1001).map(|n| (format!("a{n}"), json!({}))).collect();
    let res = post(json!({
        "name": "big", "version": "1.0", "actors": {"a": {}}, "actions": actions,
        "states": {"initial": {"on": "a0", "by": "a", "goto": "(done)"}},
    }))
    .await
    .expect("send");
    assert_eq!(
        error(res, StatusCode::BAD_REQUEST).await,
        "Scenario too large: 1001 actions (the limit is 1000)"
    );
    let res = post(json!({
        "name": "big", "version": "1.0", "description": "x".repeat(600 * 1024), "actors": {"a": {}},
        "states": {"initial": {"on": "go", "by": "a", "goto": "(done)"}},
    }))
    .await
    .expect("send");
    let message = error(res, StatusCode::BAD_REQUEST).await;
    assert!(
        message.starts_with("Scenario too large: ")
            && message.ends_with(" bytes as JSON (the limit is 524288)"),
        "{message}"
    );
    let res = node.get("/scenarios", &admin()).send().await.expect("send");
    assert_eq!(json_of(res).await, json!([]), "nothing stored");
    node.stop().await;
}

// --- 10. Logs -------------------------------------------------------------------------------------

/// Everything the tests of this binary log, at INFO and above.
fn log() -> &'static Arc<Mutex<Vec<u8>>> {
    static LOG: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOG.get_or_init(|| {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::INFO)
            .with_ansi(false)
            .with_writer(move || LogWriter(writer.clone()))
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("one subscriber");
        buffer
    })
}

struct LogWriter(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log").extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn lines_of(request_id: &str) -> Vec<String> {
    let text = String::from_utf8_lossy(&log().lock().expect("log")).into_owned();
    text.lines()
        .filter(|l| l.contains(&format!("request_id={request_id}")))
        .map(str::to_string)
        .collect()
}

#[tokio::test]
async fn one_access_line_per_request_and_no_tokens_in_the_log() {
    log();
    let node = node().await;
    let quote = node.scenario(QUOTE).await;
    let pid = node.quote(&quote).await;
    let alice = token("alice", &["issuer"]);

    let res = node
        .get("/processes", &alice)
        .header("x-request-id", "log-list")
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), StatusCode::OK);
    let access: Vec<String> = lines_of("log-list")
        .into_iter()
        .filter(|l| l.ends_with(" request") || l.contains(": request status="))
        .collect();
    assert_eq!(access.len(), 1, "{access:?}");
    let line = &access[0];
    for part in [
        "method=GET",
        "path=/processes",
        "request_id=log-list",
        "user=alice",
        "status=200",
        "latency_ms=",
    ] {
        assert!(line.contains(part), "{part} in {line}");
    }

    let res = node
        .post("/apikey", &alice)
        .header("x-request-id", "log-issue")
        .json(&json!({"privileges": ["process:step"]}))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), StatusCode::CREATED);
    let key = json_of(res).await;
    let key_id = key["id"].as_str().expect("id").to_string();
    let res = node
        .post(&format!("/processes/{pid}/accept"), &secret_of(&key))
        .header("x-request-id", "log-rejected")
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let lines = lines_of("log-rejected");
    assert!(
        lines.iter().any(|l| l.contains("step rejected")),
        "step rejected in the request's span: {lines:?}"
    );
    let access: Vec<&String> = lines.iter().filter(|l| l.contains("status=")).collect();
    assert_eq!(access.len(), 1, "{access:?}");
    assert!(
        access[0].contains(&format!("key={key_id}"))
            && access[0].contains("user=alice")
            && access[0].contains("status=400"),
        "{}",
        access[0]
    );

    let text = String::from_utf8_lossy(&log().lock().expect("log")).into_owned();
    for secret in [SECRET, alice.as_str(), &secret_of(&key)] {
        assert!(!text.contains(secret), "a secret in the log");
    }
    node.stop().await;
}
