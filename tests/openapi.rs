//! The OpenAPI document against the running server: every endpoint is called, and every
//! answer (status and JSON body) must be one the document describes, so that a client
//! generated from it can read what the server sends.

use letsflow::api::auth::{Auth, AuthConfig};
use letsflow::api::{router, ApiSettings, AppState};
use letsflow::engine::Engine;
use letsflow::process::{Process, StepActor, Timestamp};
use letsflow::schema::SchemaRegistry;
use letsflow::store::MemoryStore;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use reqwest::{Method, RequestBuilder};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

const QUOTE: &str = r#"
name: quote
version: "1.0"
title: Quote
actors:
  client: {}
  supplier: {}
actions:
  request:
    actor: client
    response:
      properties:
        item: !required string
  offer:
    actor: supplier
    response: number
    update: vars.price
  accept:
    actor: client
vars:
  price: number
states:
  initial:
    on: request
    goto: quoting
  quoting:
    on: offer
    goto: deciding
  deciding:
    notify:
      service: mailer
    transitions:
      - on: accept
        goto: (accepted)
      - after: 1 day
        goto: (expired)
"#;

/// A development node on a loopback port, its OpenAPI document, and the operations
/// called so far.
struct Checked {
    base: String,
    client: reqwest::Client,
    doc: Value,
    called: Mutex<BTreeSet<(String, String)>>,
}

impl Checked {
    async fn start() -> Checked {
        let store = Arc::new(MemoryStore::new());
        let settings = ApiSettings {
            name: "test-node".into(),
            dev: true,
            read_only_scenarios: false,
            body_limit: 64 * 1024,
            yaml_body_limit: 64 * 1024,
            cors_origins: vec![],
        };
        let key = letsflow::chain::NodeKey::from_bytes(&[5; 32]);
        let peers = letsflow::net::Peers::new(key.id(), "test-node", vec![]);
        let state = AppState {
            engine: Arc::new(Engine::new(store.clone(), SchemaRegistry::new())),
            auth: Arc::new(Auth::new(AuthConfig::default(), true, store).expect("auth")),
            settings: Arc::new(settings),
            network: Some(Arc::new(peers)),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("address");
        tokio::spawn(async move {
            axum::serve(listener, router(state)).await.expect("serve");
        });
        let base = format!("http://{addr}");
        let client = reqwest::Client::new();
        let doc = client
            .get(format!("{base}/openapi.json"))
            .send()
            .await
            .expect("send")
            .json()
            .await
            .expect("the OpenAPI document is JSON");
        Checked {
            base,
            client,
            doc,
            called: Mutex::new(BTreeSet::new()),
        }
    }

    fn request(&self, method: Method, path: &str, token: Option<&str>) -> RequestBuilder {
        let req = self.client.request(method, format!("{}{path}", self.base));
        match token {
            Some(t) => req.header(AUTHORIZATION, format!("Bearer {t}")),
            None => req,
        }
    }

    /// Sends `req` for the operation `method template` and checks the answer against the
    /// document: the status is documented, and a JSON body matches its schema. Returns
    /// the status and the body (null when empty).
    async fn call(&self, template: &str, req: RequestBuilder) -> (u16, Value) {
        let req = req.build().expect("request");
        let method = req.method().as_str().to_ascii_lowercase();
        let res = self.client.execute(req).await.expect("send");
        let status = res.status().as_u16();
        let text = res.text().await.expect("body");
        let body: Value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
        };
        let operation = &self.doc["paths"][template][&method];
        assert!(
            operation.is_object(),
            "{method} {template} is not in the document"
        );
        let answer = &operation["responses"][status.to_string()];
        assert!(
            answer.is_object(),
            "{method} {template}: status {status} is not documented ({body})"
        );
        let schema = &answer["content"]["application/json"]["schema"];
        if text.is_empty() {
            assert!(
                schema.is_null(),
                "{method} {template} {status}: documented with a body, answered none"
            );
        } else {
            assert!(
                schema.is_object(),
                "{method} {template} {status}: answered a body the document does not describe"
            );
            let mut root = schema.clone();
            root["components"] = self.doc["components"].clone();
            let validator = jsonschema::validator_for(&root).expect("a usable schema");
            let errors: Vec<String> = validator
                .iter_errors(&body)
                .map(|e| format!("{} at {}", e, e.instance_path()))
                .collect();
            assert!(
                errors.is_empty(),
                "{method} {template} {status}: the answer does not match the document: {errors:#?}\n{body:#}"
            );
        }
        self.called
            .lock()
            .expect("lock")
            .insert((method, template.to_string()));
        (status, body)
    }

    /// Every operation of the document.
    fn operations(&self) -> BTreeSet<(String, String)> {
        let mut out = BTreeSet::new();
        for (path, item) in self.doc["paths"].as_object().expect("paths") {
            for method in item.as_object().expect("path item").keys() {
                if ["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                    out.insert((method.clone(), path.clone()));
                }
            }
        }
        out
    }
}

#[tokio::test]
async fn every_answer_matches_the_openapi_document() {
    let api = Checked::start().await;
    let get = |path: &str, token: Option<&str>| api.request(Method::GET, path, token);
    let post = |path: &str, token: Option<&str>| api.request(Method::POST, path, token);
    let delete = |path: &str, token: Option<&str>| api.request(Method::DELETE, path, token);

    // system
    assert_eq!(api.call("/health", get("/health", None)).await.0, 200);
    assert_eq!(api.call("/info", get("/info", None)).await.0, 200);
    let (status, accounts) = api
        .call("/demo-accounts", get("/demo-accounts", None))
        .await;
    assert_eq!(status, 200);
    let token = |id: &str| {
        accounts
            .as_array()
            .and_then(|l| l.iter().find(|a| a["id"] == id))
            .and_then(|a| a["token"].as_str())
            .expect("demo token")
            .to_string()
    };
    let (admin, alice, bob) = (token("admin"), token("alice"), token("bob"));
    let (admin, alice, bob) = (
        Some(admin.as_str()),
        Some(alice.as_str()),
        Some(bob.as_str()),
    );
    let (status, info) = api.call("/info", get("/info", None)).await;
    assert_eq!(
        (status, info["node"]["name"].as_str()),
        (200, Some("test-node"))
    );
    assert_eq!(
        api.call("/peers", get("/peers", alice)).await,
        (200, json!([]))
    );
    let (status, replication) = api
        .call("/replication", get("/replication?since=0", alice))
        .await;
    assert_eq!((status, &replication["received"]), (200, &json!(0)));

    // scenarios
    let yaml = |req: RequestBuilder, body: &str| {
        req.header(CONTENT_TYPE, "application/yaml")
            .body(body.to_string())
    };
    assert_eq!(
        api.call("/scenarios", post("/scenarios", None)).await.0,
        401
    );
    let (status, stored) = api
        .call("/scenarios", yaml(post("/scenarios", admin), QUOTE))
        .await;
    assert_eq!(status, 201);
    let id = stored["id"].as_str().expect("id").to_string();
    let (status, _) = api
        .call("/scenarios", yaml(post("/scenarios", admin), QUOTE))
        .await;
    assert_eq!(status, 200);
    let typo = QUOTE.replace("    actor: supplier", "    actr: supplier");
    let (status, stored) = api
        .call("/scenarios", yaml(post("/scenarios", admin), &typo))
        .await;
    assert_eq!(status, 201);
    assert_eq!(stored["warnings"][0]["keyword"], "unknownKey");
    let (status, _) = api
        .call("/scenarios", yaml(post("/scenarios", admin), "states: {}"))
        .await;
    assert_eq!(status, 400);
    let (status, list) = api.call("/scenarios", get("/scenarios", admin)).await;
    assert_eq!((status, list.as_array().map(Vec::len)), (200, Some(2)));
    let one = format!("/scenarios/{id}");
    assert_eq!(api.call("/scenarios/{id}", get(&one, admin)).await.0, 200);
    assert_eq!(
        api.call("/scenarios/{id}", get("/scenarios/nope", admin))
            .await
            .0,
        404
    );
    assert_eq!(
        api.call("/scenarios/{id}", delete(&one, alice)).await.0,
        403
    );

    // processes
    let start = json!({
        "scenario": id,
        "actors": {"client": {"id": "alice"}, "supplier": {"id": "bob"}},
        "action": {"key": "request", "response": {"item": "bike"}},
    });
    let (status, process) = api
        .call("/processes", post("/processes", alice).json(&start))
        .await;
    assert_eq!(status, 201);
    let pid = process["id"].as_str().expect("id").to_string();
    let (status, refused) = api
        .call(
            "/processes",
            post("/processes", alice).json(&json!({"scenario": id, "action": "request"})),
        )
        .await;
    assert_eq!(status, 403);
    assert!(refused["error"]["reason"].is_array());
    assert_eq!(
        api.call(
            "/processes",
            post("/processes", alice).json(&json!({"scenario": "nope", "action": "request"}))
        )
        .await
        .0,
        400
    );
    let (status, list) = api.call("/processes", get("/processes", alice)).await;
    assert_eq!((status, list.as_array().map(Vec::len)), (200, Some(1)));

    let at = |suffix: &str| format!("/processes/{pid}{suffix}");
    let step = "/processes/{id}/{action}";
    let (status, _) = api
        .call(step, post(&at("/offer"), alice).json(&json!(100)))
        .await;
    assert_eq!(status, 403);
    let (status, _) = api
        .call(step, post(&at("/offer"), bob).json(&json!("a lot")))
        .await;
    assert_eq!(status, 400, "a rejected step");
    let (status, body) = api
        .call(step, post(&at("/offer"), bob).json(&json!(100)))
        .await;
    assert_eq!((status, body), (204, Value::Null));
    assert_eq!(api.call(step, post(&at("/fly"), alice)).await.0, 404);
    let (status, process) = api
        .call("/processes/{id}", get(&at("?predict=true"), alice))
        .await;
    assert_eq!(status, 200);
    assert_eq!(process["next"][0]["key"], "(accepted)");
    let (status, process) = api
        .call(
            step,
            post(&at("/accept"), alice).header("Prefer", "return=representation"),
        )
        .await;
    assert_eq!(
        (status, &process["current"]["key"]),
        (200, &json!("(accepted)"))
    );
    assert_eq!(
        process["events"].as_array().map(Vec::len),
        Some(4),
        "instantiate, request, offer, accept (the rejected offer is kept apart)"
    );
    // Notifications: owed to `mailer` since the offer (no services run here).
    let (status, process) = api.call("/processes/{id}", get(&at(""), admin)).await;
    assert_eq!(status, 200);
    assert_eq!(process["notifications"][0]["service"], "mailer");
    assert_eq!(process["notifications"][0]["state"], "pending");
    let notify = "/processes/{id}/notify/{service}";
    assert_eq!(
        api.call(notify, post(&at("/notify/mailer"), alice)).await.0,
        403
    );
    assert_eq!(
        api.call(notify, post(&at("/notify/nobody"), admin)).await.0,
        404
    );
    let (status, retried) = api.call(notify, post(&at("/notify/mailer"), admin)).await;
    assert_eq!((status, &retried[0]["service"]), (202, &json!("mailer")));
    assert_eq!(
        api.call("/processes/{id}", get("/processes/nope", alice))
            .await
            .0,
        404
    );

    // API keys
    let (status, key) = api
        .call(
            "/apikey",
            post("/apikey", admin).json(&json!({"name": "ci", "privileges": ["process:start"]})),
        )
        .await;
    assert_eq!(status, 201);
    let key_id = key["id"].as_str().expect("id").to_string();
    assert_eq!(
        api.call(
            "/apikey",
            post("/apikey", admin).json(&json!({"privileges": ["process:read"]}))
        )
        .await
        .0,
        400
    );
    assert_eq!(api.call("/apikey", get("/apikey", admin)).await.0, 200);
    let revoke = format!("/apikey/{key_id}");
    assert_eq!(
        api.call("/apikey/{id}", delete(&revoke, admin)).await.0,
        204
    );
    assert_eq!(
        api.call("/apikey/{id}", delete("/apikey/nope", admin))
            .await
            .0,
        404
    );
    assert_eq!(
        api.call("/scenarios/{id}", delete(&one, admin)).await.0,
        204
    );

    let called = api.called.lock().expect("lock").clone();
    let missing: Vec<_> = api.operations().difference(&called).cloned().collect();
    assert!(missing.is_empty(), "operations not checked: {missing:?}");
}

/// The schemas a generated client needs are there, and the step body is any JSON value.
#[tokio::test]
async fn processes_scenarios_events_and_errors_have_real_schemas() {
    let api = Checked::start().await;
    let schemas = &api.doc["components"]["schemas"];
    for name in [
        "Process",
        "Scenario",
        "Event",
        "ErrorBody",
        "CurrentState",
        "LogEntry",
    ] {
        assert!(schemas[name].is_object(), "no schema {name}");
    }
    assert_eq!(schemas["Process"]["type"], "object");
    assert!(schemas["Process"]["example"].is_object());
    assert!(schemas["Scenario"]["example"].is_object());
    assert!(schemas["ErrorBody"]["example"].is_object());
    assert_eq!(schemas["Event"]["oneOf"].as_array().map(Vec::len), Some(3));
    let step = &api.doc["paths"]["/processes/{id}/{action}"]["post"];
    assert_eq!(
        step["requestBody"]["content"]["application/json"]["schema"],
        json!({}),
        "any JSON value is a response"
    );
    // A process with a timeout event (the API cannot make time pass) fits the schema too.
    let raw = letsflow::scenario::from_yaml(QUOTE).expect("yaml");
    let normalized = letsflow::scenario::normalize(&raw).expect("normalize");
    let scenario =
        letsflow::process::Scenario::new(normalized, &SchemaRegistry::new()).expect("scenario");
    let t0 = Timestamp::parse("2025-01-01T00:00:00Z").expect("time");
    let mut process = Process::instantiate(
        Arc::new(scenario),
        "00000000-0000-4000-8000-000000000001",
        serde_json::Map::new(),
        t0,
    )
    .expect("instantiate");
    for (action, actor, response) in [
        ("request", "client", json!({"item": "x"})),
        ("offer", "supplier", json!(5)),
    ] {
        let outcome = process
            .step(action, &StepActor::key(actor), Some(response), t0)
            .expect("step");
        assert!(!outcome.skipped, "{:?}", outcome.errors);
    }
    assert!(process.timeout(t0.plus_seconds(86400.0)).expect("timeout"));
    let mut root = json!({"$ref": "#/components/schemas/Process"});
    root["components"] = api.doc["components"].clone();
    let validator = jsonschema::validator_for(&root).expect("schema");
    let json = process.to_json();
    let errors: Vec<String> = validator
        .iter_errors(&json)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    assert_eq!(
        json["events"][3].as_object().map(|e| e.len()),
        Some(4),
        "a timeout event: previous, timestamp, version, hash"
    );

    let text = api.doc.to_string();
    assert!(
        !text.contains("[`"),
        "descriptions show Rust doc links: {}",
        &text[text.find("[`").unwrap_or(0)..][..80.min(text.len())]
    );
}
