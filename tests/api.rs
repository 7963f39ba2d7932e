//! The REST API through a real server on a loopback port (SPEC 6).

use letsflow::api::auth::{Auth, AuthConfig, JwtConfig};
use letsflow::api::{router, ApiSettings, AppState};
use letsflow::engine::Engine;
use letsflow::schema::SchemaRegistry;
use letsflow::store::{MemoryStore, RedbStore, Store};
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, LOCATION};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde_json::{json, Value};
use std::sync::Arc;

const SECRET: &str = "test-secret-for-the-api-tests-of-32-bytes-or-more";
const YAML: &str = "application/yaml";

/// The quote scenario: a client requests, a supplier offers a price, the client accepts or
/// rejects.
const QUOTE: &str = r#"
name: quote
version: "1.0"
title: Quote
description: Ask for a price
tags: [sales]
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
    update: vars.price
  accept:
    actor: client
  reject:
    actor: client
vars:
  price: number
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
    transitions:
      - on: accept
        by: client
        goto: (accepted)
      - on: reject
        by: client
        goto: (rejected)
"#;

/// Two reviewers, both assigned by role: a user with that role could be either.
const REVIEW: &str = r#"
name: review
version: "1.0"
title: Review
actors:
  first:
    role: staff
  second:
    role: staff
states:
  initial:
    on: approve
    by: [first, second]
    goto: (done)
"#;

/// A client submits, a service checks.
const CHECK: &str = r#"
name: check
version: "1.0"
actors:
  client:
    title: Client
states:
  initial:
    on: submit
    by: client
    goto: checking
  checking:
    on: verified
    by: service:checker
    goto: (ok)
"#;

/// A running API on a loopback port.
struct Node {
    base: String,
    client: reqwest::Client,
    shutdown: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

fn settings() -> ApiSettings {
    ApiSettings {
        name: "test-node".into(),
        dev: false,
        read_only_scenarios: false,
        body_limit: 64 * 1024,
        yaml_body_limit: 64 * 1024,
        cors_origins: vec![],
    }
}

async fn serve(store: Arc<dyn Store>, settings: ApiSettings) -> Node {
    let config = AuthConfig {
        jwt: Some(JwtConfig {
            secret: Some(SECRET.into()),
            ..JwtConfig::default()
        }),
        ..AuthConfig::default()
    };
    serve_with(store, settings, config).await
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

async fn node() -> Node {
    serve(Arc::new(MemoryStore::new()), settings()).await
}

/// A JWT for user `id` with `roles`.
fn token(id: &str, roles: &[&str]) -> String {
    let claims = json!({
        "sub": id,
        "roles": roles,
        "exp": chrono::Utc::now().timestamp() + 3600,
    });
    let key = jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()).expect("key");
    jsonwebtoken::encode(&jsonwebtoken::Header::default(), &claims, &key).expect("jwt")
}

fn admin() -> String {
    token("admin", &["admin"])
}

impl Node {
    /// Stops the server and waits until it has let go of the store.
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

    fn request(&self, method: Method, path: &str, bearer: Option<&str>) -> RequestBuilder {
        let req = self.client.request(method, format!("{}{path}", self.base));
        match bearer {
            Some(t) => req.header(AUTHORIZATION, format!("Bearer {t}")),
            None => req,
        }
    }

    fn get(&self, path: &str, bearer: &str) -> RequestBuilder {
        self.request(Method::GET, path, Some(bearer))
    }

    fn post(&self, path: &str, bearer: &str) -> RequestBuilder {
        self.request(Method::POST, path, Some(bearer))
    }

    fn delete(&self, path: &str, bearer: &str) -> RequestBuilder {
        self.request(Method::DELETE, path, Some(bearer))
    }

    /// Stores a YAML scenario as admin and returns its id.
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

    /// Starts a quote process with alice as client and bob as supplier, alice requesting.
    async fn quote(&self, scenario: &str) -> Value {
        let res = self
            .post("/processes", &token("alice", &[]))
            .json(&json!({
                "scenario": scenario,
                "actors": {"client": {"id": "alice"}, "supplier": {"id": "bob"}},
                "action": {"key": "request", "response": {"item": "bike"}},
            }))
            .send()
            .await
            .expect("send");
        assert_eq!(res.status(), StatusCode::CREATED);
        json_of(res).await
    }

    async fn process(&self, id: &str) -> Value {
        let res = self
            .get(&format!("/processes/{id}"), &admin())
            .send()
            .await
            .expect("send");
        assert_eq!(res.status(), StatusCode::OK);
        json_of(res).await
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

#[tokio::test]
async fn health_info_openapi_and_request_ids() {
    let node = node().await;
    let res = node
        .request(Method::GET, "/health", None)
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers().contains_key("x-request-id"));
    assert_eq!(json_of(res).await, json!({"status": "ok"}));

    let res = node
        .request(Method::GET, "/info", None)
        .header("x-request-id", "abc-123")
        .send()
        .await
        .expect("send");
    assert_eq!(res.headers()["x-request-id"], "abc-123");
    let info = json_of(res).await;
    assert_eq!(info["name"], "test-node");
    assert_eq!(info["env"], "production");
    // An engine without a network has no node identity.
    assert_eq!(info["node"], Value::Null);
    assert_eq!(info["version"], env!("CARGO_PKG_VERSION"));
    assert!(info["schemas"]
        .as_array()
        .expect("schemas")
        .contains(&json!("https://schemas.letsflow.io/v1.0/scenario")));

    let res = node
        .request(Method::GET, "/info", None)
        .header(ACCEPT, YAML)
        .send()
        .await
        .expect("send");
    assert_eq!(res.headers()[CONTENT_TYPE], YAML);
    let yaml = res.text().await.expect("text");
    assert!(yaml.contains("name: test-node"), "{yaml}");

    let res = node
        .request(Method::GET, "/openapi.json", None)
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), StatusCode::OK);
    let doc = json_of(res).await;
    for path in [
        "/info",
        "/demo-accounts",
        "/health",
        "/scenarios",
        "/scenarios/{id}",
        "/processes",
        "/processes/{id}",
        "/processes/{id}/{action}",
        "/apikey",
        "/apikey/{id}",
    ] {
        assert!(doc["paths"].get(path).is_some(), "{path} documented");
    }
    assert!(doc["paths"]["/scenarios/{id}"].get("delete").is_some());
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());

    let res = node
        .request(Method::GET, "/docs/", None)
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.text().await.expect("text").contains("swagger"));
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_json_errors() {
    let node = node().await;
    let res = node.get("/nothing", &admin()).send().await.expect("send");
    let message = error(res, StatusCode::NOT_FOUND).await;
    assert_eq!(message, "No route for GET /nothing");
    let res = node
        .request(Method::PUT, "/scenarios", Some(&admin()))
        .send()
        .await
        .expect("send");
    error(res, StatusCode::METHOD_NOT_ALLOWED).await;
}

#[tokio::test]
async fn demo_accounts_only_in_development_mode() {
    let node = node().await;
    let res = node
        .request(Method::GET, "/demo-accounts", None)
        .send()
        .await
        .expect("send");
    let message = error(res, StatusCode::NOT_FOUND).await;
    assert_eq!(
        message,
        "Demo accounts are only available in development mode"
    );

    let dev = serve(
        Arc::new(MemoryStore::new()),
        ApiSettings {
            dev: true,
            ..settings()
        },
    )
    .await;
    let res = dev
        .request(Method::GET, "/demo-accounts", None)
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), StatusCode::OK);
    let accounts = json_of(res).await;
    let accounts = accounts.as_array().expect("list");
    assert!(!accounts.is_empty());
    // the tokens work
    let token = accounts[0]["token"].as_str().expect("token");
    let res = dev.get("/processes", token).send().await.expect("send");
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn authentication_is_required() {
    let node = node().await;
    for (method, path) in [
        (Method::GET, "/scenarios"),
        (Method::POST, "/scenarios"),
        (Method::GET, "/scenarios/x"),
        (Method::DELETE, "/scenarios/x"),
        (Method::GET, "/processes"),
        (Method::POST, "/processes"),
        (Method::GET, "/processes/x"),
        (Method::POST, "/processes/x/y"),
        (Method::GET, "/apikey"),
        (Method::POST, "/apikey"),
        (Method::DELETE, "/apikey/x"),
    ] {
        let res = node
            .request(method.clone(), path, None)
            .send()
            .await
            .expect("send");
        error(res, StatusCode::UNAUTHORIZED).await;
        let res = node
            .request(method, path, Some("not-a-token"))
            .send()
            .await
            .expect("send");
        error(res, StatusCode::UNAUTHORIZED).await;
    }
}

#[tokio::test]
async fn scenarios_in_yaml_and_json() {
    let node = node().await;
    let res = node
        .post("/scenarios", &admin())
        .header(CONTENT_TYPE, YAML)
        .body(QUOTE)
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), StatusCode::CREATED);
    let location = res.headers()[LOCATION].to_str().expect("text").to_string();
    let stored = json_of(res).await;
    let id = stored["id"].as_str().expect("id").to_string();
    assert_eq!(location, format!("/scenarios/{id}"));
    assert_eq!(stored["name"], "quote");
    // normalized: the short form became a transition, the response a schema
    assert_eq!(
        stored["states"]["initial"]["transitions"][0]["on"],
        "request"
    );
    assert_eq!(
        stored["actions"]["request"]["response"]["required"],
        json!(["item"])
    );

    // the same content again: the same id, not created
    let res = node
        .post("/scenarios", &admin())
        .header(CONTENT_TYPE, YAML)
        .body(QUOTE)
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(json_of(res).await["id"], id.as_str());

    let res = node.get("/scenarios", &admin()).send().await.expect("send");
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        json_of(res).await,
        json!([{"id": id, "name": "quote", "title": "Quote",
                "description": "Ask for a price", "tags": ["sales"]}])
    );

    // JSON, by default and with the suffix
    let res = node
        .get(&format!("/scenarios/{id}"), &admin())
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers().get("x-disabled").is_none());
    let json = json_of(res).await;
    assert_eq!(json["title"], "Quote");
    assert!(
        json.get("id").is_none(),
        "the id is not part of the content"
    );
    let res = node
        .get(&format!("/scenarios/{id}.json"), &admin())
        .header(ACCEPT, YAML)
        .send()
        .await
        .expect("send");
    assert_eq!(json_of(res).await, json);

    // YAML, with the suffix or Accept
    for (path, accept) in [
        (format!("/scenarios/{id}.yaml"), "*/*"),
        (format!("/scenarios/{id}"), YAML),
        (
            format!("/scenarios/{id}"),
            "application/json;q=0.5, application/x-yaml",
        ),
    ] {
        let res = node
            .get(&path, &admin())
            .header(ACCEPT, accept)
            .send()
            .await
            .expect("send");
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.headers()[CONTENT_TYPE], YAML);
        let yaml = res.text().await.expect("text");
        let parsed = letsflow::scenario::from_yaml(&yaml).expect("YAML");
        assert_eq!(parsed, json, "{path} {accept}");
    }

    // what was fetched can be stored again under the same id
    let res = node
        .post("/scenarios", &admin())
        .json(&json)
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(json_of(res).await["id"], id.as_str());

    // a scenario in JSON, answered in YAML
    let res = node
        .post("/scenarios", &admin())
        .header(ACCEPT, YAML)
        .json(&json!({"title": "Tiny", "states": {"initial": {"on": "go", "goto": "(done)"}}}))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), StatusCode::CREATED);
    assert_eq!(res.headers()[CONTENT_TYPE], YAML);
    let tiny = letsflow::scenario::from_yaml(&res.text().await.expect("text")).expect("YAML");
    assert_eq!(tiny["title"], "Tiny");
    let res = node.get("/scenarios", &admin()).send().await.expect("send");
    let titles: Vec<Value> = json_of(res)
        .await
        .as_array()
        .expect("list")
        .iter()
        .map(|s| s["title"].clone())
        .collect();
    assert_eq!(titles, vec![json!("Quote"), json!("Tiny")]);
}

/// A scenario with a typo is stored (the reference accepts it), and the 201 body says
/// what is most likely wrong and where; a scenario without such problems has no warnings.
#[tokio::test]
async fn storing_a_scenario_answers_its_warnings() {
    let node = node().await;
    let res = node
        .post("/scenarios", &admin())
        .header(CONTENT_TYPE, YAML)
        .body("name: typo\nversion: '1'\nactions:\n  submit:\n    actr: employee\nstates:\n  initial:\n    on: submit\n    goto: (done)\n")
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), StatusCode::CREATED);
    let stored = json_of(res).await;
    assert_eq!(
        stored["warnings"],
        json!([{
            "instancePath": "/actions/submit/actr",
            "keyword": "unknownKey",
            "message": "unknown key 'actr' is ignored (did you mean 'actor'?)",
            "params": {"key": "actr", "closest": "actor"},
            "line": 5,
            "column": 5
        }])
    );
    assert_eq!(stored["actions"]["submit"]["actor"], json!(["*"]));

    let res = node
        .post("/scenarios", &admin())
        .header(CONTENT_TYPE, YAML)
        .body(QUOTE)
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), StatusCode::CREATED);
    assert!(json_of(res).await.get("warnings").is_none());
}

#[tokio::test]
async fn scenario_privileges() {
    let node = node().await;
    let id = node.scenario(QUOTE).await;
    let alice = token("alice", &[]);
    for req in [
        node.get("/scenarios", &alice),
        node.get(&format!("/scenarios/{id}"), &alice),
        node.post("/scenarios", &alice)
            .header(CONTENT_TYPE, YAML)
            .body(QUOTE),
        node.delete(&format!("/scenarios/{id}"), &alice),
    ] {
        let res = req.send().await.expect("send");
        let message = error(res, StatusCode::FORBIDDEN).await;
        assert!(
            message.starts_with("the 'scenario:") && message.ends_with("' privilege is required"),
            "{message}"
        );
    }
    // nothing was disabled
    let res = node
        .get(&format!("/scenarios/{id}"), &admin())
        .send()
        .await
        .expect("send");
    assert!(res.headers().get("x-disabled").is_none());
}

#[tokio::test]
async fn bad_scenarios_are_refused_and_change_nothing() {
    let node = node().await;
    let send = |content_type: &'static str, body: String| {
        node.post("/scenarios", &admin())
            .header(CONTENT_TYPE, content_type)
            .body(body)
            .send()
    };

    let res = send("application/json", "{\"title\": ".into())
        .await
        .expect("send");
    let message = error(res, StatusCode::BAD_REQUEST).await;
    assert!(message.starts_with("invalid JSON at line 1"), "{message}");

    let res = send(YAML, "title: [unclosed\nstates: {}\n".into())
        .await
        .expect("send");
    let message = error(res, StatusCode::BAD_REQUEST).await;
    assert!(message.starts_with("invalid YAML"), "{message}");

    let res = send(YAML, "title: !nonsense x\n".into())
        .await
        .expect("send");
    error(res, StatusCode::BAD_REQUEST).await;

    // well-formed but not a valid scenario: the validation errors come back as reason
    let res = send(YAML, "title: No states\n".into()).await.expect("send");
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let body = json_of(res).await;
    assert_eq!(body["error"]["message"], "Invalid scenario");
    let reason = body["error"]["reason"].as_array().expect("reason");
    assert!(
        reason
            .iter()
            .any(|e| e["message"] == "must have required property 'states'"),
        "{body}"
    );

    let res = send("application/json", String::new()).await.expect("send");
    let message = error(res, StatusCode::BAD_REQUEST).await;
    assert!(message.contains("no body"), "{message}");

    let res = send("text/plain", QUOTE.into()).await.expect("send");
    let message = error(res, StatusCode::UNSUPPORTED_MEDIA_TYPE).await;
    assert!(message.contains("text/plain"), "{message}");

    let huge = format!("{QUOTE}\n# {}\n", "x".repeat(70 * 1024));
    let res = send(YAML, huge).await.expect("send");
    let message = error(res, StatusCode::PAYLOAD_TOO_LARGE).await;
    assert!(message.contains("65536 bytes"), "{message}");

    let res = node.get("/scenarios", &admin()).send().await.expect("send");
    assert_eq!(json_of(res).await, json!([]));
}

#[tokio::test]
async fn disabled_scenarios() {
    let node = node().await;
    let id = node.scenario(QUOTE).await;
    let running = node.quote(&id).await;

    let res = node
        .delete(&format!("/scenarios/{id}"), &admin())
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), StatusCode::NO_CONTENT);

    let res = node.get("/scenarios", &admin()).send().await.expect("send");
    assert_eq!(json_of(res).await, json!([]));
    let res = node
        .get(&format!("/scenarios/{id}"), &admin())
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["x-disabled"], "true");

    // no new processes
    let res = node
        .post("/processes", &admin())
        .json(&json!({"scenario": id}))
        .send()
        .await
        .expect("send");
    let message = error(res, StatusCode::BAD_REQUEST).await;
    assert_eq!(message, format!("Scenario '{id}' is disabled"));

    // running processes keep working
    let res = node
        .post(
            &format!("/processes/{}/offer", running["id"].as_str().expect("id")),
            &token("bob", &[]),
        )
        .json(&json!(100))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), StatusCode::NO_CONTENT);

    let res = node
        .delete("/scenarios/00000000-0000-0000-0000-000000000000", &admin())
        .send()
        .await
        .expect("send");
    let message = error(res, StatusCode::NOT_FOUND).await;
    assert_eq!(
        message,
        "Scenario '00000000-0000-0000-0000-000000000000' not found"
    );

    // storing it again enables it
    assert_eq!(node.scenario(QUOTE).await, id);
    let res = node.get("/scenarios", &admin()).send().await.expect("send");
    assert_eq!(json_of(res).await.as_array().expect("list").len(), 1);
}

#[tokio::test]
async fn read_only_scenarios() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let writable = serve(store.clone(), settings()).await;
    let id = writable.scenario(QUOTE).await;
    let node = serve(
        store,
        ApiSettings {
            read_only_scenarios: true,
            ..settings()
        },
    )
    .await;
    let res = node
        .post("/scenarios", &admin())
        .header(CONTENT_TYPE, YAML)
        .body(REVIEW)
        .send()
        .await
        .expect("send");
    let message = error(res, StatusCode::FORBIDDEN).await;
    assert_eq!(message, "Scenarios are read-only on this node");
    let res = node
        .delete(&format!("/scenarios/{id}"), &admin())
        .send()
        .await
        .expect("send");
    error(res, StatusCode::FORBIDDEN).await;
    // reading works, and nothing changed
    let res = node.get("/scenarios", &admin()).send().await.expect("send");
    let list = json_of(res).await;
    assert_eq!(list.as_array().expect("list").len(), 1);
    assert_eq!(list[0]["id"], id.as_str());
}

#[tokio::test]
async fn a_process_from_start_to_end() {
    let node = node().await;
    let id = node.scenario(QUOTE).await;
    let res = node
        .post("/processes", &token("alice", &[]))
        .json(&json!({
            "scenario": id,
            "actors": {"client": {"id": "alice"}, "supplier": {"id": "bob", "title": "Bob"}},
            "action": {"key": "request", "response": {"item": "bike"}},
        }))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), StatusCode::CREATED);
    let location = res.headers()[LOCATION].to_str().expect("text").to_string();
    let process = json_of(res).await;
    let pid = process["id"].as_str().expect("id").to_string();
    assert_eq!(location, format!("/processes/{pid}"));
    assert!(uuid::Uuid::parse_str(&pid).is_ok());
    assert_eq!(process["current"]["key"], "quoting");
    assert_eq!(process["actors"]["supplier"]["title"], "Bob");
    assert_eq!(process["scenario"]["id"], id.as_str());
    assert_eq!(events(&process).len(), 2);
    assert_eq!(
        events(&process)[1]["actor"],
        json!({"key": "client", "id": "alice"})
    );

    // a YAML response
    let res = node
        .post(&format!("/processes/{pid}/offer"), &token("bob", &[]))
        .header(CONTENT_TYPE, YAML)
        .body("250\n")
        .send()
        .await
        .expect("send");
    // as the published API: 204 without a body
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert!(res.headers().get("preference-applied").is_none());
    assert!(res.bytes().await.expect("body").is_empty());
    let process = node.process(&pid).await;
    assert_eq!(process["vars"]["price"], 250);
    assert_eq!(process["current"]["key"], "deciding");

    // no body: no response; the process in the answer when asked for, in YAML
    let res = node
        .post(&format!("/processes/{pid}/accept"), &token("alice", &[]))
        .header(ACCEPT, YAML)
        .header("Prefer", "respond-async, return=representation")
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()[CONTENT_TYPE], YAML);
    assert_eq!(res.headers()["preference-applied"], "return=representation");
    let process = letsflow::scenario::from_yaml(&res.text().await.expect("text")).expect("YAML");
    assert_eq!(process["current"]["key"], "(accepted)");
    assert_eq!(process["isRunning"], false);

    let res = node
        .get(&format!("/processes/{pid}.yaml"), &token("alice", &[]))
        .send()
        .await
        .expect("send");
    assert_eq!(res.headers()[CONTENT_TYPE], YAML);
    let stored = node.process(&pid).await;
    assert_eq!(stored["isRunning"], false);
    assert_eq!(events(&stored).len(), 4);
    assert!(stored.get("next").is_none());
}

#[tokio::test]
async fn rejected_steps_are_recorded_and_answer_the_errors() {
    let node = node().await;
    let id = node.scenario(QUOTE).await;
    let pid = node.quote(&id).await["id"]
        .as_str()
        .expect("id")
        .to_string();

    let res = node
        .post(&format!("/processes/{pid}/offer"), &token("bob", &[]))
        .json(&json!("cheap"))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let body = json_of(res).await;
    assert_eq!(body["error"]["message"], "Unable to perform action 'offer'");
    assert_eq!(
        body["error"]["reason"],
        json!(["Response is invalid: data must be number"])
    );

    // alice is the client; the client may not accept in `quoting`
    let res = node
        .post(&format!("/processes/{pid}/accept"), &token("alice", &[]))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let body = json_of(res).await;
    assert_eq!(
        body["error"]["reason"][0],
        "Action 'accept' is not allowed in state 'quoting'"
    );

    let process = node.process(&pid).await;
    assert_eq!(process["current"]["key"], "quoting");
    // Rejected attempts are kept apart, not in the chain.
    assert_eq!(events(&process).len(), 2);
    let rejected = process["rejected"].as_array().expect("rejected");
    assert_eq!(rejected.len(), 2);
    assert_eq!(rejected[0]["action"], "offer");
    assert_eq!(rejected[0]["response"], "cheap");
    assert_eq!(
        rejected[0]["errors"],
        json!(["Response is invalid: data must be number"])
    );
    assert_eq!(rejected[1]["action"], "accept");
    assert!(process["vars"].get("price").is_none());
}

#[tokio::test]
async fn bad_step_requests_change_nothing() {
    let node = node().await;
    let id = node.scenario(QUOTE).await;
    let pid = node.quote(&id).await["id"]
        .as_str()
        .expect("id")
        .to_string();
    let bob = token("bob", &[]);
    let offer = format!("/processes/{pid}/offer");

    let res = node
        .post(&offer, &bob)
        .header(CONTENT_TYPE, "application/json")
        .body("{\"price\": }")
        .send()
        .await
        .expect("send");
    let message = error(res, StatusCode::BAD_REQUEST).await;
    assert!(
        message.starts_with("invalid JSON at line 1, column 11"),
        "{message}"
    );

    let res = node
        .post(&offer, &bob)
        .header(CONTENT_TYPE, YAML)
        .body("a: [b\n")
        .send()
        .await
        .expect("send");
    let message = error(res, StatusCode::BAD_REQUEST).await;
    assert!(message.starts_with("invalid YAML"), "{message}");

    let res = node
        .post(&offer, &bob)
        .header(CONTENT_TYPE, "application/xml")
        .body("<price>1</price>")
        .send()
        .await
        .expect("send");
    error(res, StatusCode::UNSUPPORTED_MEDIA_TYPE).await;

    let res = node
        .post(&offer, &bob)
        .json(&json!({"padding": "x".repeat(70 * 1024)}))
        .send()
        .await
        .expect("send");
    error(res, StatusCode::PAYLOAD_TOO_LARGE).await;

    let res = node
        .post(&format!("/processes/{pid}/dance"), &bob)
        .send()
        .await
        .expect("send");
    let message = error(res, StatusCode::NOT_FOUND).await;
    assert_eq!(message, "Unknown action 'dance' for this process");

    let res = node
        .post("/processes/no-such-process/offer", &bob)
        .json(&json!(1))
        .send()
        .await
        .expect("send");
    let message = error(res, StatusCode::NOT_FOUND).await;
    assert_eq!(message, "Process 'no-such-process' not found");

    let res = node
        .get("/processes/no-such-process", &admin())
        .send()
        .await
        .expect("send");
    error(res, StatusCode::NOT_FOUND).await;

    let process = node.process(&pid).await;
    assert_eq!(events(&process).len(), 2, "nothing recorded");
    assert_eq!(process["current"]["key"], "quoting");
}

#[tokio::test]
async fn bad_start_requests() {
    let node = node().await;
    let id = node.scenario(QUOTE).await;
    let alice = token("alice", &[]);
    let start = |body: Value| node.post("/processes", &alice).json(&body).send();

    let res = start(json!({"actors": {}})).await.expect("send");
    let message = error(res, StatusCode::BAD_REQUEST).await;
    assert!(message.contains("missing field `scenario`"), "{message}");

    let res = start(json!({"scenario": "nope", "action": "request"}))
        .await
        .expect("send");
    let message = error(res, StatusCode::BAD_REQUEST).await;
    assert_eq!(message, "Scenario 'nope' not found");

    let res = start(json!({"scenario": id, "actors": {"client": "alice"}, "action": "request"}))
        .await
        .expect("send");
    let message = error(res, StatusCode::BAD_REQUEST).await;
    assert_eq!(
        message,
        "Invalid request body: actor 'client' must be an object"
    );

    let res =
        start(json!({"scenario": id, "actors": {"boss": {"id": "alice"}}, "action": "request"}))
            .await
            .expect("send");
    let message = error(res, StatusCode::BAD_REQUEST).await;
    assert_eq!(message, "Actor 'boss' not found in scenario");

    // a person must start with an action
    let res = start(json!({"scenario": id, "actors": {"client": {"id": "alice"}}}))
        .await
        .expect("send");
    error(res, StatusCode::FORBIDDEN).await;

    // ... as an actor they are
    let res =
        start(json!({"scenario": id, "actors": {"client": {"id": "carol"}}, "action": "request"}))
            .await
            .expect("send");
    let message = error(res, StatusCode::FORBIDDEN).await;
    assert_eq!(
        message,
        "Not allowed to perform action 'request' in this process"
    );

    // a rejected first step stores nothing
    let res = start(json!({
        "scenario": id,
        "actors": {"client": {"id": "alice"}},
        "action": {"key": "request", "response": {"colour": "red"}},
    }))
    .await
    .expect("send");
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let body = json_of(res).await;
    assert_eq!(
        body["error"]["reason"],
        json!([
            "Response is invalid: data must have required property 'item'",
            "Response is invalid: data must NOT have additional properties"
        ])
    );

    let res = node
        .post("/processes", &alice)
        .header(CONTENT_TYPE, YAML)
        .body("scenario: [\n")
        .send()
        .await
        .expect("send");
    error(res, StatusCode::BAD_REQUEST).await;
    let res = node
        .post("/processes", &alice)
        .header(CONTENT_TYPE, "text/csv")
        .body("a,b")
        .send()
        .await
        .expect("send");
    error(res, StatusCode::UNSUPPORTED_MEDIA_TYPE).await;

    let res = node
        .get("/processes?all=true", &admin())
        .send()
        .await
        .expect("send");
    assert_eq!(res.headers()["x-total-count"], "0");
    assert_eq!(json_of(res).await, json!([]));

    // a YAML start
    let res = node
        .post("/processes", &alice)
        .header(CONTENT_TYPE, YAML)
        .body(format!(
            "scenario: {id}\nactors:\n  client:\n    id: alice\naction:\n  key: request\n  response:\n    item: bike\n"
        ))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn process_privileges() {
    let node = node().await;
    let id = node.scenario(QUOTE).await;
    let pid = node.quote(&id).await["id"]
        .as_str()
        .expect("id")
        .to_string();
    // a role that grants nothing beyond the defaults is not enough for super
    let res = node
        .get("/processes?all=true", &token("carol", &[]))
        .send()
        .await
        .expect("send");
    let message = error(res, StatusCode::FORBIDDEN).await;
    assert_eq!(message, "the 'process:super' privilege is required");

    // an API key without process:start / process:step
    let key = issue(
        &node,
        json!({"name": "reader", "privileges": ["scenario:read"]}),
    )
    .await;
    let res = node
        .post("/processes", &key)
        .json(&json!({"scenario": id}))
        .send()
        .await
        .expect("send");
    let message = error(res, StatusCode::FORBIDDEN).await;
    assert_eq!(message, "the 'process:start' privilege is required");
    let res = node
        .post(&format!("/processes/{pid}/offer"), &key)
        .json(&json!(1))
        .send()
        .await
        .expect("send");
    let message = error(res, StatusCode::FORBIDDEN).await;
    assert_eq!(message, "the 'process:step' privilege is required");
    // and it sees no processes
    let res = node
        .get(&format!("/processes/{pid}"), &key)
        .send()
        .await
        .expect("send");
    error(res, StatusCode::NOT_FOUND).await;
    let res = node.get("/processes", &key).send().await.expect("send");
    assert_eq!(json_of(res).await, json!([]));
}

#[tokio::test]
async fn processes_are_visible_to_their_actors() {
    let node = node().await;
    let id = node.scenario(QUOTE).await;
    let pid = node.quote(&id).await["id"]
        .as_str()
        .expect("id")
        .to_string();
    let path = format!("/processes/{pid}");

    for who in ["alice", "bob"] {
        let res = node
            .get(&path, &token(who, &[]))
            .send()
            .await
            .expect("send");
        assert_eq!(res.status(), StatusCode::OK, "{who}");
        let res = node
            .get("/processes", &token(who, &[]))
            .send()
            .await
            .expect("send");
        let list = json_of(res).await;
        assert_eq!(list.as_array().expect("list").len(), 1, "{who}");
        assert_eq!(list[0]["id"], pid.as_str());
        assert_eq!(list[0]["scenario"]["name"], "quote");
        assert_eq!(list[0]["current"]["key"], "quoting");
        assert_eq!(list[0]["isRunning"], true);
        // the times of the first and the last event, as the process has them
        let process = node.process(&pid).await;
        let events = events(&process);
        assert_eq!(list[0]["created"], events[0]["timestamp"]);
        assert_eq!(
            list[0]["lastUpdated"],
            events[events.len() - 1]["timestamp"]
        );
    }

    // carol is no actor: the process does not exist for her
    let carol = token("carol", &[]);
    let res = node.get(&path, &carol).send().await.expect("send");
    let message = error(res, StatusCode::NOT_FOUND).await;
    assert_eq!(message, format!("Process '{pid}' not found"));
    let res = node
        .post(&format!("{path}/offer"), &carol)
        .json(&json!(1))
        .send()
        .await
        .expect("send");
    error(res, StatusCode::NOT_FOUND).await;
    let res = node.get("/processes", &carol).send().await.expect("send");
    assert_eq!(json_of(res).await, json!([]));

    // admin (process:super) sees it, but lists it only with all=true
    let res = node.get(&path, &admin()).send().await.expect("send");
    assert_eq!(res.status(), StatusCode::OK);
    let res = node.get("/processes", &admin()).send().await.expect("send");
    assert_eq!(json_of(res).await, json!([]));
    let res = node
        .get("/processes?all=true", &admin())
        .send()
        .await
        .expect("send");
    assert_eq!(json_of(res).await.as_array().expect("list").len(), 1);

    // bob cannot act as the client
    let res = node
        .post(&format!("{path}/accept"), &token("bob", &[]))
        .send()
        .await
        .expect("send");
    error(res, StatusCode::BAD_REQUEST).await;
    let process = node.process(&pid).await;
    assert_eq!(
        process["rejected"]
            .as_array()
            .and_then(|r| r.last())
            .expect("rejected")["errors"][0],
        "Action 'accept' is not allowed in state 'quoting'"
    );
}

#[tokio::test]
async fn actors_by_role_and_as_actor() {
    let node = node().await;
    let id = node.scenario(REVIEW).await;
    let res = node
        .post("/processes", &admin())
        .json(&json!({"scenario": id}))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), StatusCode::CREATED);
    let pid = json_of(res).await["id"].as_str().expect("id").to_string();
    let approve = format!("/processes/{pid}/approve");

    // visible and listed by role
    let staff = token("sam", &["staff"]);
    let res = node.get("/processes", &staff).send().await.expect("send");
    assert_eq!(json_of(res).await.as_array().expect("list").len(), 1);

    // Once both reviewers are assigned to people, the role alone no longer shows it.
    let res = node
        .post("/processes", &admin())
        .json(
            &json!({"scenario": id, "actors": {"first": {"id": "bob"}, "second": {"id": "carl"}}}),
        )
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), StatusCode::CREATED);
    let assigned = json_of(res).await["id"].as_str().expect("id").to_string();
    let res = node.get("/processes", &staff).send().await.expect("send");
    assert_eq!(res.headers()["x-total-count"], "1");
    let list = json_of(res).await;
    assert_eq!(list.as_array().expect("list").len(), 1);
    assert_eq!(list[0]["id"], pid.as_str());
    let res = node
        .get(&format!("/processes/{assigned}"), &staff)
        .send()
        .await
        .expect("send");
    error(res, StatusCode::NOT_FOUND).await;
    let res = node
        .get("/processes", &token("bob", &["staff"]))
        .send()
        .await
        .expect("send");
    assert_eq!(res.headers()["x-total-count"], "2");

    // sam could be either reviewer
    let res = node.post(&approve, &staff).send().await.expect("send");
    let message = error(res, StatusCode::BAD_REQUEST).await;
    assert_eq!(
        message,
        "Several actors can perform action 'approve': first, second; choose one with the As-Actor header"
    );

    // As-Actor for an actor sam is not: rejected by the engine
    let res = node
        .post(&approve, &token("olga", &["other"]))
        .header("As-Actor", "first")
        .send()
        .await
        .expect("send");
    // olga is no actor at all: she does not see the process
    error(res, StatusCode::NOT_FOUND).await;

    let res = node
        .post(&approve, &staff)
        .header("As-Actor", "second")
        .header("Prefer", "return=representation")
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), StatusCode::OK);
    let process = json_of(res).await;
    assert_eq!(process["current"]["key"], "(done)");
    assert_eq!(
        events(&process).last().expect("event")["actor"],
        json!({"key": "second", "id": "sam"})
    );
}

/// The error body of a refused request: status, message and reasons.
async fn refusal(res: Response, status: StatusCode) -> (String, Value) {
    assert_eq!(res.status(), status, "status of {}", res.url());
    let body = json_of(res).await;
    let message = body["error"]["message"].as_str().unwrap_or_default();
    (message.to_string(), body["error"]["reason"].clone())
}

/// Every 403 of a step says, for each actor that could perform the action, why the caller
/// is not that actor: not assigned, assigned to someone else, or which role is missing.
#[tokio::test]
async fn a_refused_step_says_which_actor_and_what_is_missing() {
    let node = node().await;
    let quote = node.scenario(QUOTE).await;
    let alice = token("alice", &["sales"]);
    let start = |body: Value| node.post("/processes", &alice).json(&body).send();

    let res = start(json!({"scenario": quote, "action": "request"}))
        .await
        .expect("send");
    let (message, reason) = refusal(res, StatusCode::FORBIDDEN).await;
    assert_eq!(
        message,
        "Not allowed to perform action 'request' in this process"
    );
    assert_eq!(
        reason,
        json!(["Actor 'client' is not assigned to a user or role"])
    );

    let res = start(
        json!({"scenario": quote, "actors": {"client": {"id": "carol"}}, "action": "request"}),
    )
    .await
    .expect("send");
    let (_, reason) = refusal(res, StatusCode::FORBIDDEN).await;
    assert_eq!(
        reason,
        json!(["User is not allowed to perform as actor 'client': it is assigned to user 'carol'"])
    );

    let res = start(json!({
        "scenario": quote,
        "actors": {"client": {"id": "alice"}, "supplier": {"role": ["buyer", "finance"]}},
        "action": {"key": "request", "response": {"item": "bike"}},
    }))
    .await
    .expect("send");
    assert_eq!(res.status(), StatusCode::CREATED);
    let pid = json_of(res).await["id"].as_str().expect("id").to_string();
    let res = node
        .post(&format!("/processes/{pid}/offer"), &alice)
        .json(&json!(100))
        .send()
        .await
        .expect("send");
    let (message, reason) = refusal(res, StatusCode::FORBIDDEN).await;
    assert_eq!(
        message,
        "Not allowed to perform action 'offer' in this process"
    );
    assert_eq!(
        reason,
        json!(["User is not allowed to perform as actor 'supplier': it needs one of the roles 'buyer', 'finance', the user has 'sales'"])
    );

    let res = node
        .post(&format!("/processes/{pid}/offer"), &alice)
        .header("As-Actor", "service:pricing")
        .json(&json!(100))
        .send()
        .await
        .expect("send");
    let (_, reason) = refusal(res, StatusCode::FORBIDDEN).await;
    assert_eq!(
        reason,
        json!(["A person cannot perform as service 'service:pricing'"])
    );

    // A rejected step (400) has the engine's errors as its reason, with what is missing
    // added; the kept attempt has the engine's text.
    let res = node
        .post(&format!("/processes/{pid}/offer"), &alice)
        .header("As-Actor", "supplier")
        .json(&json!(100))
        .send()
        .await
        .expect("send");
    let (message, reason) = refusal(res, StatusCode::BAD_REQUEST).await;
    assert_eq!(message, "Unable to perform action 'offer'");
    assert_eq!(
        reason,
        json!(["User is not allowed to perform as actor 'supplier': it needs one of the roles 'buyer', 'finance', the user has 'sales'"])
    );
    let process = node.process(&pid).await;
    assert_eq!(
        process["rejected"]
            .as_array()
            .and_then(|r| r.last())
            .expect("rejected")["errors"],
        json!(["User is not allowed to perform as actor 'supplier'"])
    );
}

#[tokio::test]
async fn as_actor_that_the_user_is_not() {
    let node = node().await;
    let id = node.scenario(QUOTE).await;
    let pid = node.quote(&id).await["id"]
        .as_str()
        .expect("id")
        .to_string();
    // alice (the client) claims to be the supplier
    let res = node
        .post(&format!("/processes/{pid}/offer"), &token("alice", &[]))
        .header("As-Actor", "supplier")
        .json(&json!(1))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let body = json_of(res).await;
    assert_eq!(
        body["error"]["reason"],
        json!(["User is not allowed to perform as actor 'supplier': it is assigned to user 'bob'"])
    );
    let process = node.process(&pid).await;
    assert_eq!(process["current"]["key"], "quoting");
}

#[tokio::test]
async fn paging() {
    let node = node().await;
    let id = node.scenario(QUOTE).await;
    for _ in 0..105 {
        let res = node
            .post("/processes", &admin())
            .json(&json!({"scenario": id, "actors": {"client": {"id": "alice"}}}))
            .send()
            .await
            .expect("send");
        assert_eq!(res.status(), StatusCode::CREATED);
    }
    let alice = token("alice", &[]);
    let mut seen = Vec::new();
    for (page, count) in [("", 100), ("?page=1", 100), ("?page=2", 5), ("?page=3", 0)] {
        let res = node
            .get(&format!("/processes{page}"), &alice)
            .send()
            .await
            .expect("send");
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.headers()["x-total-count"], "105");
        let list = json_of(res).await;
        let list = list.as_array().expect("list");
        assert_eq!(list.len(), count, "{page}");
        if !page.is_empty() {
            seen.extend(list.iter().map(|p| p["id"].clone()));
        }
    }
    seen.sort_by_key(|v| v.to_string());
    seen.dedup();
    assert_eq!(seen.len(), 105);

    let res = node
        .get("/processes?page=0", &alice)
        .send()
        .await
        .expect("send");
    error(res, StatusCode::BAD_REQUEST).await;
    let res = node
        .get("/processes?page=two", &alice)
        .send()
        .await
        .expect("send");
    let message = error(res, StatusCode::BAD_REQUEST).await;
    assert!(message.starts_with("Invalid query"), "{message}");
}

#[tokio::test]
async fn prediction() {
    let node = node().await;
    let id = node.scenario(QUOTE).await;
    let pid = node.quote(&id).await["id"]
        .as_str()
        .expect("id")
        .to_string();
    let res = node
        .get(
            &format!("/processes/{pid}?predict=true"),
            &token("alice", &[]),
        )
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), StatusCode::OK);
    let process = json_of(res).await;
    let next = process["next"].as_array().expect("next");
    let keys: Vec<&Value> = next.iter().map(|s| &s["key"]).collect();
    assert_eq!(keys, vec![&json!("deciding"), &json!("(accepted)")]);
    assert!(next[0].get("timestamp").is_none());

    let res = node
        .get(&format!("/processes/{pid}?predict=maybe"), &admin())
        .send()
        .await
        .expect("send");
    error(res, StatusCode::BAD_REQUEST).await;
}

/// A prediction that fails (an update that cannot be evaluated without a response) still
/// answers the process, without `next`, with the reason in `predictError` (SPEC 2.10).
#[tokio::test]
async fn a_failing_prediction_answers_the_reason() {
    let node = node().await;
    let id = node
        .scenario(
            r#"
name: count
version: "1.0"
actions:
  count:
    update:
      set: vars.total
      value: !ref current.response.members + `1`
states:
  initial:
    on: count
    goto: (counted)
"#,
        )
        .await;
    let res = node
        .post("/processes", &admin())
        .json(&json!({"scenario": id, "actors": {"actor": {"id": "admin"}}}))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), StatusCode::CREATED);
    let pid = json_of(res).await["id"].as_str().expect("id").to_string();
    let res = node
        .get(&format!("/processes/{pid}?predict=true"), &admin())
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), StatusCode::OK);
    let process = json_of(res).await;
    assert!(process.get("next").is_none(), "{process}");
    assert_eq!(
        process["predictError"],
        json!(
            "Failed to evaluate JMESPath expression: current.response.members + `1`. \
               invalid type: '+' expects two numbers or two strings, received null and a number"
        )
    );
}

/// Issues an API key as admin and returns its token.
async fn issue(node: &Node, request: Value) -> String {
    let res = node
        .post("/apikey", &admin())
        .json(&request)
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), StatusCode::CREATED);
    let key = json_of(res).await;
    key["token"].as_str().expect("token").to_string()
}

#[tokio::test]
async fn api_keys() {
    let node = node().await;
    let id = node.scenario(QUOTE).await;
    let other = node.scenario(REVIEW).await;

    let res = node
        .post("/apikey", &admin())
        .header(CONTENT_TYPE, YAML)
        .body(
            format!("name: shop\nprivileges: [process:start, process:step, process:super, scenario:read]\nprocesses:\n  - scenario: {id}\n    actions: [request, offer]\n"),
        )
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), StatusCode::CREATED);
    let issued = json_of(res).await;
    let token_ = issued["token"].as_str().expect("token").to_string();
    assert!(token_.starts_with("lfl_"));
    assert_eq!(issued["name"], "shop");
    assert_eq!(issued["revoked"], false);
    assert!(issued.get("hash").is_none());
    let key_id = issued["id"].as_str().expect("id").to_string();

    let res = node.get("/apikey", &admin()).send().await.expect("send");
    let keys = json_of(res).await;
    assert_eq!(keys.as_array().expect("list").len(), 1);
    assert_eq!(keys[0]["id"], key_id.as_str());
    assert!(keys[0].get("token").is_none(), "the token is shown once");
    assert!(keys[0].get("hash").is_none());

    // the key holds process:super, so it acts for an application: no action needed to
    // start, As-Actor picks the actor
    let res = node
        .post("/processes", &token_)
        .json(&json!({"scenario": id, "actors": {"supplier": {"id": "bob"}}}))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), StatusCode::CREATED);
    let pid = json_of(res).await["id"].as_str().expect("id").to_string();
    let res = node
        .post(&format!("/processes/{pid}/request"), &token_)
        .json(&json!({"item": "car"}))
        .send()
        .await
        .expect("send");
    assert_eq!(
        res.status(),
        StatusCode::NO_CONTENT,
        "the one actor that may request"
    );
    let res = node
        .post(&format!("/processes/{pid}/offer"), &token_)
        .header("As-Actor", "supplier")
        .json(&json!(9))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    // restricted to request and offer
    let res = node
        .post(&format!("/processes/{pid}/accept"), &token_)
        .header("As-Actor", "client")
        .send()
        .await
        .expect("send");
    let message = error(res, StatusCode::FORBIDDEN).await;
    assert!(
        message.starts_with("Insufficient privileges of API key"),
        "{message}"
    );
    // ... and to the quote scenario
    let res = node
        .post("/processes", &token_)
        .json(&json!({"scenario": other}))
        .send()
        .await
        .expect("send");
    error(res, StatusCode::FORBIDDEN).await;
    // it sees the processes of its scenario
    let res = node.get("/processes", &token_).send().await.expect("send");
    assert_eq!(json_of(res).await.as_array().expect("list").len(), 1);

    // lastUsed is recorded
    let res = node.get("/apikey", &admin()).send().await.expect("send");
    assert!(json_of(res).await[0]["lastUsed"].is_string());

    // privileges
    let alice = token("alice", &[]);
    let res = node.get("/apikey", &alice).send().await.expect("send");
    error(res, StatusCode::FORBIDDEN).await;
    let res = node
        .post("/apikey", &alice)
        .json(&json!({"name": "x", "privileges": []}))
        .send()
        .await
        .expect("send");
    error(res, StatusCode::FORBIDDEN).await;
    let res = node
        .delete(&format!("/apikey/{key_id}"), &alice)
        .send()
        .await
        .expect("send");
    error(res, StatusCode::FORBIDDEN).await;

    let res = node
        .post("/apikey", &admin())
        .json(&json!({"privileges": []}))
        .send()
        .await
        .expect("send");
    let message = error(res, StatusCode::BAD_REQUEST).await;
    assert_eq!(message, "an API key needs at least one privilege");

    // revoke
    let res = node
        .delete(&format!("/apikey/{key_id}"), &admin())
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let res = node.get("/processes", &token_).send().await.expect("send");
    error(res, StatusCode::UNAUTHORIZED).await;
    let res = node
        .delete("/apikey/no-such-key", &admin())
        .send()
        .await
        .expect("send");
    error(res, StatusCode::NOT_FOUND).await;
}

#[tokio::test]
async fn processes_survive_a_restart_with_redb() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (id, pid) = {
        let store: Arc<dyn Store> = Arc::new(RedbStore::open(dir.path()).expect("open"));
        let node = serve(store, settings()).await;
        let id = node.scenario(QUOTE).await;
        let pid = node.quote(&id).await["id"]
            .as_str()
            .expect("id")
            .to_string();
        let res = node
            .post(&format!("/processes/{pid}/offer"), &token("bob", &[]))
            .json(&json!(42))
            .send()
            .await
            .expect("send");
        assert_eq!(res.status(), StatusCode::NO_CONTENT);
        node.stop().await;
        (id, pid)
    };
    let store = RedbStore::open(dir.path()).expect("reopen");
    let node = serve(Arc::new(store), settings()).await;
    let res = node.get("/scenarios", &admin()).send().await.expect("send");
    assert_eq!(json_of(res).await[0]["id"], id.as_str());
    let process = node.process(&pid).await;
    assert_eq!(process["vars"]["price"], 42);
    assert_eq!(process["current"]["key"], "deciding");
    let res = node
        .post(&format!("/processes/{pid}/accept"), &token("alice", &[]))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn people_do_not_speak_for_services() {
    let node = node().await;
    let id = node.scenario(CHECK).await;
    let alice = token("alice", &[]);
    let res = node
        .post("/processes", &alice)
        .json(&json!({"scenario": id, "actors": {"client": {"id": "alice"}}, "action": "submit"}))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), StatusCode::CREATED);
    let pid = json_of(res).await["id"].as_str().expect("id").to_string();
    let verified = format!("/processes/{pid}/verified");

    let res = node.post(&verified, &alice).send().await.expect("send");
    error(res, StatusCode::FORBIDDEN).await;
    let res = node
        .post(&verified, &alice)
        .header("As-Actor", "service:checker")
        .send()
        .await
        .expect("send");
    error(res, StatusCode::FORBIDDEN).await;
    assert_eq!(
        events(&node.process(&pid).await).len(),
        2,
        "nothing recorded"
    );

    // an application with a key may; an empty body with any content type is no response
    let key = issue(
        &node,
        json!({"name": "checker", "privileges": ["process:step", "process:super"]}),
    )
    .await;
    // an unrestricted application key (process:super) takes part in every process
    let res = node.get("/processes", &key).send().await.expect("send");
    assert_eq!(res.headers()["x-total-count"], "1");
    assert_eq!(json_of(res).await[0]["id"], pid.as_str());
    let res = node
        .post(&verified, &key)
        .header("As-Actor", "service:checker")
        .header(CONTENT_TYPE, "text/plain")
        .header("Prefer", "return=representation")
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), StatusCode::OK);
    let process = json_of(res).await;
    assert_eq!(process["current"]["key"], "(ok)");
    // the event names the key and the user who issued it
    let actor = &events(&process).last().expect("event")["actor"];
    assert_eq!(actor["key"], "service:checker");
    assert_eq!(actor["issuer"], "admin");
    assert!(actor["apiKey"].is_string(), "{actor}");
}

/// Signs `claims` with HS256 and `secret`.
fn hs256(secret: &str, claims: &Value) -> String {
    let key = jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()).expect("key");
    jsonwebtoken::encode(&jsonwebtoken::Header::default(), claims, &key).expect("jwt")
}

#[tokio::test]
async fn jwt_valid_expired_wrong_key_and_wrong_issuer() {
    let node = node().await;
    let now = chrono::Utc::now().timestamp();
    let valid = hs256(SECRET, &json!({"sub": "alice", "exp": now + 60}));
    let res = node.get("/processes", &valid).send().await.expect("send");
    assert_eq!(res.status(), StatusCode::OK);

    let expired = hs256(SECRET, &json!({"sub": "alice", "exp": now - 5}));
    let res = node.get("/processes", &expired).send().await.expect("send");
    assert_eq!(error(res, StatusCode::UNAUTHORIZED).await, "token expired");

    let forged = hs256(
        "not-the-secret",
        &json!({"sub": "admin", "roles": ["admin"]}),
    );
    let res = node.get("/apikey", &forged).send().await.expect("send");
    assert_eq!(
        error(res, StatusCode::UNAUTHORIZED).await,
        "invalid signature"
    );
}

#[tokio::test]
async fn eddsa_key_issuer_and_claims_transform() {
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/jwt");
    let read = |name: &str| std::fs::read_to_string(fixtures.join(name)).expect("fixture");
    let config = AuthConfig {
        jwt: Some(JwtConfig {
            public_key: Some(read("ed25519-public.pem")),
            issuer: Some("https://id.example".into()),
            transform: Some("{id: sub, roles: groups, info: {name: profile.name}}".into()),
            ..JwtConfig::default()
        }),
        ..AuthConfig::default()
    };
    let node = serve_with(Arc::new(MemoryStore::new()), settings(), config).await;
    let key = jsonwebtoken::EncodingKey::from_ed_pem(read("ed25519-private.pem").as_bytes())
        .expect("key");
    let sign = |claims: Value| {
        let header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA);
        jsonwebtoken::encode(&header, &claims, &key).expect("jwt")
    };
    let exp = chrono::Utc::now().timestamp() + 60;

    // `groups` becomes the roles: `admin` may list API keys, a plain user may not.
    let admin_ = sign(json!({
        "sub": "u1", "iss": "https://id.example", "exp": exp,
        "groups": ["admin"], "profile": {"name": "Ada"},
    }));
    let res = node.get("/apikey", &admin_).send().await.expect("send");
    assert_eq!(res.status(), StatusCode::OK);
    let user = sign(json!({
        "sub": "u2", "iss": "https://id.example", "exp": exp, "groups": [],
    }));
    let res = node.get("/apikey", &user).send().await.expect("send");
    error(res, StatusCode::FORBIDDEN).await;

    let other_issuer =
        sign(json!({"sub": "u1", "iss": "https://evil.example", "exp": exp, "groups": ["admin"]}));
    let res = node
        .get("/apikey", &other_issuer)
        .send()
        .await
        .expect("send");
    assert_eq!(error(res, StatusCode::UNAUTHORIZED).await, "wrong issuer");

    // An HS256 token signed with the public key as secret is refused.
    let forged = hs256(
        &read("ed25519-public.pem"),
        &json!({"sub": "m", "iss": "https://id.example", "groups": ["admin"]}),
    );
    let res = node.get("/apikey", &forged).send().await.expect("send");
    assert_eq!(
        error(res, StatusCode::UNAUTHORIZED).await,
        "invalid token: HS256 tokens are not accepted by this node"
    );
}

#[tokio::test]
async fn an_api_key_expires() {
    let node = node().await;
    let expiration = chrono::Utc::now() + chrono::Duration::milliseconds(3000);
    let key = issue(
        &node,
        json!({
            "name": "short-lived",
            "privileges": ["process:start"],
            "expiration": expiration.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        }),
    )
    .await;
    let res = node.get("/processes", &key).send().await.expect("send");
    assert_eq!(res.status(), StatusCode::OK);
    // Until the expiration has passed (with a margin for the clock's granularity).
    let left = (expiration - chrono::Utc::now())
        .to_std()
        .unwrap_or_default();
    tokio::time::sleep(left + std::time::Duration::from_millis(100)).await;
    let res = node.get("/processes", &key).send().await.expect("send");
    assert_eq!(
        error(res, StatusCode::UNAUTHORIZED).await,
        "API key expired"
    );
}

#[tokio::test]
async fn cors_for_configured_origins_only() {
    let preflight = |node: &Node, origin: &str| {
        node.request(Method::OPTIONS, "/processes/x/approve", None)
            .header("Origin", origin.to_string())
            .header("Access-Control-Request-Method", "POST")
            .header(
                "Access-Control-Request-Headers",
                "authorization, content-type, as-actor, prefer",
            )
    };

    // Without configured origins: no CORS headers at all.
    let node = node().await;
    let res = node
        .get("/scenarios", &admin())
        .header("Origin", "https://app.example")
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers().get("access-control-allow-origin").is_none());
    node.stop().await;

    let node = serve(
        Arc::new(MemoryStore::new()),
        ApiSettings {
            cors_origins: vec!["https://app.example".into()],
            ..settings()
        },
    )
    .await;
    // A preflight is answered before authentication.
    let res = preflight(&node, "https://app.example")
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), StatusCode::OK);
    let headers = res.headers();
    assert_eq!(
        headers["access-control-allow-origin"],
        "https://app.example"
    );
    let methods = headers["access-control-allow-methods"]
        .to_str()
        .expect("text");
    assert!(
        methods.contains("POST") && methods.contains("DELETE"),
        "{methods}"
    );
    let allowed = headers["access-control-allow-headers"]
        .to_str()
        .expect("text");
    for name in ["authorization", "content-type", "as-actor", "prefer"] {
        assert!(allowed.contains(name), "{allowed}");
    }
    // Another origin gets no permission.
    let res = preflight(&node, "https://evil.example")
        .send()
        .await
        .expect("send");
    assert!(res.headers().get("access-control-allow-origin").is_none());

    // A real request from the app: allowed, with the headers it may read.
    let res = node
        .post("/scenarios", &admin())
        .header("Origin", "https://app.example")
        .header(CONTENT_TYPE, YAML)
        .body(QUOTE.to_string())
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), StatusCode::CREATED);
    assert_eq!(
        res.headers()["access-control-allow-origin"],
        "https://app.example"
    );
    let exposed = res.headers()["access-control-expose-headers"]
        .to_str()
        .expect("text")
        .to_ascii_lowercase();
    for name in ["location", "x-total-count", "x-request-id"] {
        assert!(exposed.contains(name), "{exposed}");
    }
}
