//! One test suite, run against every backend (`on_memory`, `on_redb`, `on_sled`), plus the
//! redb crash test and the append timing.

use super::*;
use crate::process::{ActionEvent, InstantiateEvent};
use serde_json::{json, Map};

// --- fixtures -------------------------------------------------------------------------------

/// A place a store lives, which can be opened again after the store was dropped.
trait Fixture: Sized {
    type B: Backend + std::fmt::Debug;
    fn new() -> Self;
    fn open(&self) -> Result<KvStore<Self::B>>;
    fn store(&self) -> KvStore<Self::B> {
        self.open().expect("open store")
    }
}

struct Memory(MemoryBackend);

impl Fixture for Memory {
    type B = MemoryBackend;
    fn new() -> Self {
        Memory(MemoryStore::new().backend().clone())
    }
    fn open(&self) -> Result<MemoryStore> {
        KvStore::with_backend(self.0.clone())
    }
}

struct Redb(tempfile::TempDir);

impl Fixture for Redb {
    type B = RedbBackend;
    fn new() -> Self {
        Redb(tempfile::tempdir().expect("temp dir"))
    }
    fn open(&self) -> Result<RedbStore> {
        RedbStore::open(self.0.path())
    }
}

#[cfg(feature = "sled")]
struct Sled(tempfile::TempDir);

#[cfg(feature = "sled")]
impl Fixture for Sled {
    type B = SledBackend;
    fn new() -> Self {
        Sled(tempfile::tempdir().expect("temp dir"))
    }
    fn open(&self) -> Result<SledStore> {
        SledStore::open(self.0.path())
    }
}

// --- helpers --------------------------------------------------------------------------------

fn ts(millis: i64) -> Timestamp {
    Timestamp::from_millis(1_735_689_600_000 + millis)
}

fn instantiate(process: &str) -> Event {
    let mut event = Event::Instantiate(InstantiateEvent {
        id: process.into(),
        timestamp: ts(0),
        scenario: "scenario-1".into(),
        actors: Map::new(),
        version: crate::process::EVENT_VERSION,
        signer: None,
        signature: None,
        hash: String::new(),
    });
    event.rehash();
    event
}

fn action(previous: &Event, name: &str) -> Event {
    let mut event = Event::Action(ActionEvent {
        previous: previous.hash().into(),
        timestamp: previous.timestamp().plus_seconds(1.0),
        action: name.into(),
        actor: json!({"key": "client"})
            .as_object()
            .cloned()
            .unwrap_or_default(),
        response: None,
        skipped: false,
        errors: vec![],
        version: crate::process::EVENT_VERSION,
        signer: None,
        signature: None,
        hash: String::new(),
    });
    event.rehash();
    event
}

fn batch(events: Vec<Event>, view: Value) -> AppendBatch {
    AppendBatch {
        events,
        view,
        timer: None,
        outbox: vec![],
    }
}

fn outbox(process: &str, after: &Event, n: u32, service: &str, at: Timestamp) -> OutboxEntry {
    OutboxEntry {
        id: format!("{}:{n}", after.hash()),
        process: process.into(),
        service: service.into(),
        after: after.hash().into(),
        message: json!({"n": n}),
        attempts: 0,
        next_attempt: at,
        state: OutboxState::Pending,
        status: None,
        last_error: None,
    }
}

fn api_key(id: &str, hash: &str) -> ApiKey {
    ApiKey {
        service: None,
        id: id.into(),
        name: Some(format!("key {id}")),
        hash: hash.into(),
        privileges: vec!["process:start".into()],
        processes: json!({"scenario": "s1"}),
        expiration: Some(ts(86_400_000)),
        last_used: None,
        revoked: false,
        issued: ts(0),
        issuer: Some(KeyIssuer {
            user: Some("alice".into()),
            roles: vec!["staff".into()],
            key: None,
        }),
    }
}

/// Starts process `id` with the given actors in its view; returns the instantiate event.
fn start(store: &dyn Store, id: &str, actors: Value) -> Event {
    let event = instantiate(id);
    store
        .append(
            id,
            batch(vec![event.clone()], json!({"id": id, "actors": actors})),
        )
        .expect("instantiate");
    event
}

// --- the checks -----------------------------------------------------------------------------

fn scenarios<F: Fixture>() {
    let f = F::new();
    let store = f.store();
    assert!(store
        .put_scenario("b", &json!({"title": "B"}), ts(0))
        .expect("put"));
    assert!(store
        .put_scenario("a", &json!({"title": "A"}), ts(5))
        .expect("put"));
    // Idempotent: the same id changes nothing.
    assert!(!store
        .put_scenario("b", &json!({"title": "other"}), ts(9))
        .expect("put"));
    let b = store.scenario("b").expect("get").expect("b exists");
    assert_eq!(
        b,
        ScenarioRecord {
            id: "b".into(),
            json: json!({"title": "B"}),
            disabled: false,
            created: ts(0)
        }
    );
    assert_eq!(store.scenario("zz").expect("get"), None);

    store.set_scenario_disabled("b", true).expect("disable");
    let ids: Vec<(String, bool)> = store
        .scenarios()
        .expect("list")
        .into_iter()
        .map(|s| (s.id, s.disabled))
        .collect();
    assert_eq!(ids, [("a".to_string(), false), ("b".to_string(), true)]);
    // Storing a disabled scenario again leaves it disabled.
    assert!(!store
        .put_scenario("b", &json!({"title": "B"}), ts(0))
        .expect("put"));
    assert!(store
        .scenario("b")
        .expect("get")
        .is_some_and(|s| s.disabled));
    store.set_scenario_disabled("b", false).expect("enable");
    assert!(store
        .scenario("b")
        .expect("get")
        .is_some_and(|s| !s.disabled));

    assert!(matches!(
        store.set_scenario_disabled("zz", true),
        Err(Error::NotFound {
            kind: "scenario",
            ..
        })
    ));
}

fn events_and_views<F: Fixture>() {
    let f = F::new();
    let store = f.store();
    assert_eq!(store.head("p1").expect("head"), None);
    assert!(matches!(
        store.events("p1"),
        Err(Error::NotFound {
            kind: "process",
            ..
        })
    ));

    let e0 = start(&store, "p1", json!({}));
    let e1 = action(&e0, "one");
    let e2 = action(&e1, "two");
    store
        .append(
            "p1",
            batch(vec![e1.clone(), e2.clone()], json!({"step": 2})),
        )
        .expect("append two");
    let e3 = action(&e2, "three");
    store
        .append("p1", batch(vec![e3.clone()], json!({"step": 3})))
        .expect("append one");

    assert_eq!(
        store.events("p1").expect("events"),
        [e0.clone(), e1.clone(), e2.clone(), e3.clone()]
    );
    assert_eq!(
        store.events_from("p1", 2).expect("from 2"),
        [e2.clone(), e3.clone()]
    );
    assert!(store.events_from("p1", 4).expect("from 4").is_empty());
    assert_eq!(
        store.head("p1").expect("head"),
        Some(Head {
            len: 4,
            hash: e3.hash().into()
        })
    );
    assert_eq!(store.event_position("p1", e0.hash()).expect("pos"), Some(0));
    assert_eq!(store.event_position("p1", e2.hash()).expect("pos"), Some(2));
    assert_eq!(store.event_position("p1", "nope").expect("pos"), None);
    assert_eq!(store.event_position("p2", e2.hash()).expect("pos"), None);
    assert_eq!(store.view("p1").expect("view"), Some(json!({"step": 3})));
    assert_eq!(store.view("p2").expect("view"), None);

    // Rebuild support: list processes, replace a view.
    start(&store, "p0", json!({}));
    let ids: Vec<String> = store
        .processes()
        .expect("ids")
        .collect::<Result<_>>()
        .expect("ids");
    assert_eq!(ids, ["p0", "p1"]);
    store
        .put_view("p1", &json!({"rebuilt": true}))
        .expect("put view");
    assert_eq!(
        store.view("p1").expect("view"),
        Some(json!({"rebuilt": true}))
    );
    assert!(matches!(
        store.put_view("p9", &json!({})),
        Err(Error::NotFound {
            kind: "process",
            ..
        })
    ));
}

fn append_conflicts_change_nothing<F: Fixture>() {
    let f = F::new();
    let store = f.store();
    let e0 = start(&store, "p", json!({"client": {"id": "u1"}}));
    let e1 = action(&e0, "one");
    store
        .append(
            "p",
            AppendBatch {
                timer: Some(ts(100)),
                ..batch(
                    vec![e1.clone()],
                    json!({"v": 1, "actors": {"client": {"id": "u1"}}}),
                )
            },
        )
        .expect("append");

    let before = (
        store.events("p").expect("events"),
        store.view("p").expect("view"),
        store.timer("p").expect("timer"),
    );

    // A sibling of e1 (names e0, but the chain ends at e1).
    let sibling = action(&e0, "other");
    let err = store
        .append(
            "p",
            AppendBatch {
                timer: Some(ts(5)),
                outbox: vec![outbox("p", &sibling, 0, "svc", ts(0))],
                ..batch(
                    vec![sibling.clone()],
                    json!({"v": 99, "actors": {"x": {"id": "u9"}}}),
                )
            },
        )
        .expect_err("conflict");
    match err {
        Error::Conflict {
            process,
            expected,
            found,
        } => {
            assert_eq!(process, "p");
            assert_eq!(expected.as_deref(), Some(e0.hash()));
            assert_eq!(found.as_deref(), Some(e1.hash()));
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    // Instantiating an existing process conflicts too.
    assert!(matches!(
        store.append("p", batch(vec![instantiate("p")], json!({}))),
        Err(Error::Conflict { expected: None, .. })
    ));
    // Continuing a process that does not exist conflicts.
    assert!(matches!(
        store.append("q", batch(vec![action(&e1, "x")], json!({}))),
        Err(Error::Conflict { found: None, .. })
    ));

    let after = (
        store.events("p").expect("events"),
        store.view("p").expect("view"),
        store.timer("p").expect("timer"),
    );
    assert_eq!(before, after);
    assert_eq!(
        store.due_timers(ts(1_000)).expect("due"),
        [(ts(100), "p".to_string())]
    );
    assert!(store.due_outbox(ts(1_000), 10).expect("outbox").is_empty());
    assert_eq!(
        store.event_position("p", sibling.hash()).expect("pos"),
        None
    );
    assert_eq!(
        store.processes_of(Some("u9"), &[]).expect("of"),
        Vec::<String>::new()
    );
    assert_eq!(store.head("q").expect("head"), None);
}

fn invalid_batches_are_refused<F: Fixture>() {
    let f = F::new();
    let store = f.store();
    let e0 = instantiate("p");
    let e1 = action(&e0, "one");
    let unlinked = action(&e0, "two");
    let refused = |b: AppendBatch| matches!(store.append("p", b), Err(Error::InvalidBatch { .. }));
    assert!(refused(batch(vec![], json!({}))));
    assert!(refused(batch(vec![instantiate("other")], json!({}))));
    assert!(refused(batch(
        vec![e0.clone(), e1.clone(), unlinked],
        json!({})
    )));
    assert!(refused(batch(
        vec![e0.clone(), instantiate("p")],
        json!({})
    )));
    assert!(refused(AppendBatch {
        outbox: vec![outbox("other", &e0, 0, "svc", ts(0))],
        ..batch(vec![e0.clone()], json!({}))
    }));
    assert_eq!(store.head("p").expect("head"), None);
    store
        .append("p", batch(vec![e0, e1], json!({})))
        .expect("a linked batch that starts a process");
    assert_eq!(store.head("p").expect("head").map(|h| h.len), Some(2));
}

fn batches_are_atomic<F: Fixture>() {
    let f = F::new();
    let store = f.store();
    let e0 = instantiate("p");
    let e1 = action(&e0, "one");
    store
        .append(
            "p",
            AppendBatch {
                events: vec![e0.clone(), e1.clone()],
                view: json!({"state": "one", "actors": {
                    "client": {"id": "u1"}, "buyer": {"role": "buyer"}
                }}),
                timer: Some(ts(60_000)),
                outbox: vec![
                    outbox("p", &e1, 0, "mail", ts(1_000)),
                    outbox("p", &e1, 1, "hook", ts(1_000)),
                ],
            },
        )
        .expect("append");
    assert_eq!(store.events("p").expect("events"), [e0, e1.clone()]);
    assert_eq!(
        store
            .view("p")
            .expect("view")
            .and_then(|v| v.get("state").cloned()),
        Some(json!("one"))
    );
    assert_eq!(store.timer("p").expect("timer"), Some(ts(60_000)));
    let ids: Vec<String> = store
        .outbox_of("p")
        .expect("outbox")
        .into_iter()
        .map(|o| o.id)
        .collect();
    assert_eq!(
        ids,
        [format!("{}:0", e1.hash()), format!("{}:1", e1.hash())]
    );
    assert_eq!(store.processes_of(Some("u1"), &[]).expect("of"), ["p"]);
    assert_eq!(
        store.processes_of(None, &["buyer".into()]).expect("of"),
        ["p"]
    );

    // The next step replaces the view, moves the timer (None clears it) and adds to the outbox.
    let e2 = action(&e1, "two");
    store
        .append(
            "p",
            AppendBatch {
                events: vec![e2.clone()],
                view: json!({"state": "two", "actors": {"client": {"id": "u2"}}}),
                timer: None,
                outbox: vec![outbox("p", &e2, 0, "mail", ts(2_000))],
            },
        )
        .expect("append");
    assert_eq!(store.timer("p").expect("timer"), None);
    assert!(store.due_timers(ts(1_000_000)).expect("due").is_empty());
    assert_eq!(store.outbox_of("p").expect("outbox").len(), 3);
    assert!(store.processes_of(Some("u1"), &[]).expect("of").is_empty());
    assert!(store
        .processes_of(None, &["buyer".into()])
        .expect("of")
        .is_empty());
    assert_eq!(store.processes_of(Some("u2"), &[]).expect("of"), ["p"]);
}

fn actor_index<F: Fixture>() {
    let f = F::new();
    let store = f.store();
    start(
        &store,
        "p1",
        json!({"client": {"id": "alice"}, "clerk": {"role": "clerk"}}),
    );
    start(
        &store,
        "p2",
        json!({"client": {"id": "bob"}, "clerk": {"role": ["clerk", "boss"]}}),
    );
    start(
        &store,
        "p3",
        json!({"client": {"id": "alice", "role": "vip"}}),
    );
    start(&store, "p4", json!({"client": {"title": "unassigned"}}));
    let of = |user: Option<&str>, roles: &[&str]| {
        let roles: Vec<String> = roles.iter().map(|r| r.to_string()).collect();
        store.processes_of(user, &roles).expect("processes_of")
    };
    assert_eq!(of(Some("alice"), &[]), ["p1", "p3"]);
    assert_eq!(of(Some("bob"), &[]), ["p2"]);
    assert_eq!(of(None, &["clerk"]), ["p1", "p2"]);
    // p3's client is alice's (it has an id), whatever its role
    assert_eq!(of(Some("bob"), &["vip", "boss"]), ["p2"]);
    assert!(of(None, &["vip"]).is_empty());
    assert!(of(Some("carol"), &["nobody"]).is_empty());
    assert!(of(None, &[]).is_empty());
    // A rebuilt view reindexes.
    store
        .put_view("p1", &json!({"actors": {"client": {"id": "carol"}}}))
        .expect("put view");
    assert_eq!(of(Some("alice"), &[]), ["p3"]);
    assert_eq!(of(Some("carol"), &[]), ["p1"]);
    assert_eq!(of(None, &["clerk"]), ["p2"]);
}

fn timers<F: Fixture>() {
    let f = F::new();
    let store = f.store();
    assert_eq!(store.next_timer().expect("next"), None);
    store.set_timer("late", Some(ts(3_000))).expect("set");
    store.set_timer("early", Some(ts(-1_000))).expect("set");
    store.set_timer("b", Some(ts(2_000))).expect("set");
    store.set_timer("a", Some(ts(2_000))).expect("set");
    // Before the epoch, too.
    store
        .set_timer("old", Some(Timestamp::from_millis(-5_000)))
        .expect("set");
    assert_eq!(
        store.due_timers(ts(2_000)).expect("due"),
        [
            (Timestamp::from_millis(-5_000), "old".to_string()),
            (ts(-1_000), "early".to_string()),
            (ts(2_000), "a".to_string()),
            (ts(2_000), "b".to_string()),
        ]
    );
    assert_eq!(store.due_timers(ts(1_999)).expect("due").len(), 2);
    assert_eq!(
        store.next_timer().expect("next"),
        Some((Timestamp::from_millis(-5_000), "old".to_string()))
    );
    // One timer per process: setting again moves it; None clears.
    store.set_timer("late", Some(ts(0))).expect("move");
    store.set_timer("old", None).expect("clear");
    store.set_timer("nothing", None).expect("clear absent");
    assert_eq!(store.timer("late").expect("timer"), Some(ts(0)));
    assert_eq!(store.timer("old").expect("timer"), None);
    let due: Vec<String> = store
        .due_timers(ts(10_000))
        .expect("due")
        .into_iter()
        .map(|(_, p)| p)
        .collect();
    assert_eq!(due, ["early", "late", "a", "b"]);
}

fn outbox_parking<F: Fixture>() {
    let f = F::new();
    let store = f.store();
    let e0 = instantiate("p");
    store
        .append(
            "p",
            AppendBatch {
                outbox: vec![
                    outbox("p", &e0, 0, "mail", ts(100)),
                    outbox("p", &e0, 1, "hook", ts(200)),
                ],
                ..batch(vec![e0.clone()], json!({}))
            },
        )
        .expect("append");
    let due = |now| -> Vec<String> {
        store
            .due_outbox(now, 10)
            .expect("due")
            .into_iter()
            .map(|o| o.service)
            .collect()
    };
    let mail = format!("{}:0", e0.hash());
    let mut parked = store.outbox_entry(&mail).expect("get").expect("entry");
    parked.attempts = 5;
    parked.state = OutboxState::Failed;
    parked.status = Some(503);
    parked.last_error = Some("HTTP 503".into());
    store.outbox_update(&parked).expect("park");
    // Parked: listed, never due.
    assert_eq!(due(ts(10_000)), ["hook"]);
    assert_eq!(store.outbox_of("p").expect("of"), {
        let mut hook = outbox("p", &e0, 1, "hook", ts(200));
        hook.message = json!({"n": 1});
        vec![parked.clone(), hook]
    });
    // Retried by hand: pending again, due at the time given.
    parked.state = OutboxState::Pending;
    parked.next_attempt = ts(50);
    store.outbox_update(&parked).expect("unpark");
    assert_eq!(due(ts(10_000)), ["mail", "hook"]);
    assert_eq!(due(ts(60)), ["mail"]);
    assert_eq!(
        store.outbox_entry(&mail).expect("get"),
        Some(parked.clone())
    );
    store
        .outbox_done_many(&[mail.clone(), "missing".into()])
        .expect("done");
    assert_eq!(store.outbox_entry(&mail).expect("get"), None);
    assert!(matches!(
        store.outbox_update(&parked),
        Err(Error::NotFound {
            kind: "outbox entry",
            ..
        })
    ));
    assert_eq!(due(ts(10_000)), ["hook"]);
}

fn outbox_delivery<F: Fixture>() {
    let f = F::new();
    let store = f.store();
    let e0 = instantiate("p");
    store
        .append(
            "p",
            AppendBatch {
                outbox: vec![
                    outbox("p", &e0, 0, "late", ts(500)),
                    outbox("p", &e0, 1, "first", ts(100)),
                    outbox("p", &e0, 2, "second", ts(200)),
                ],
                ..batch(vec![e0.clone()], json!({}))
            },
        )
        .expect("append");
    let services = |now, limit| -> Vec<String> {
        store
            .due_outbox(now, limit)
            .expect("due")
            .into_iter()
            .map(|o| o.service)
            .collect()
    };
    assert!(services(ts(99), 10).is_empty());
    assert_eq!(services(ts(200), 10), ["first", "second"]);
    assert_eq!(services(ts(1_000), 2), ["first", "second"]);

    let first = format!("{}:1", e0.hash());
    let retried = store.outbox_retry(&first, ts(800)).expect("retry");
    assert_eq!((retried.attempts, retried.next_attempt), (1, ts(800)));
    let retried = store.outbox_retry(&first, ts(900)).expect("retry");
    assert_eq!(retried.attempts, 2);
    assert_eq!(store.outbox_entry(&first).expect("get"), Some(retried));
    assert_eq!(services(ts(1_000), 10), ["second", "late", "first"]);

    store
        .outbox_done(&format!("{}:2", e0.hash()))
        .expect("done");
    assert_eq!(services(ts(1_000), 10), ["late", "first"]);
    assert_eq!(store.outbox_of("p").expect("of").len(), 2);
    assert!(matches!(
        store.outbox_done("missing"),
        Err(Error::NotFound {
            kind: "outbox entry",
            ..
        })
    ));
    assert!(matches!(
        store.outbox_retry("missing", ts(0)),
        Err(Error::NotFound { .. })
    ));
}

fn api_keys<F: Fixture>() {
    let f = F::new();
    let store = f.store();
    store.put_api_key(&api_key("k2", "hash-2")).expect("put");
    store.put_api_key(&api_key("k1", "hash-1")).expect("put");
    assert_eq!(
        store.api_key_by_hash("hash-2").expect("by hash"),
        Some(api_key("k2", "hash-2"))
    );
    assert_eq!(store.api_key_by_hash("hash-3").expect("by hash"), None);
    let ids: Vec<String> = store
        .api_keys()
        .expect("list")
        .into_iter()
        .map(|k| k.id)
        .collect();
    assert_eq!(ids, ["k1", "k2"]);

    store.revoke_api_key("k1").expect("revoke");
    store.touch_api_key("k2", ts(77)).expect("touch");
    assert!(store
        .api_key_by_hash("hash-1")
        .expect("by hash")
        .is_some_and(|k| k.revoked));
    let k2 = store.api_key("k2").expect("get").expect("k2");
    assert_eq!((k2.last_used, k2.revoked), (Some(ts(77)), false));

    // Replacing a key's hash drops the old lookup.
    store
        .put_api_key(&api_key("k2", "hash-2b"))
        .expect("replace");
    assert_eq!(store.api_key_by_hash("hash-2").expect("by hash"), None);
    assert!(store.api_key_by_hash("hash-2b").expect("by hash").is_some());
    assert!(matches!(
        store.revoke_api_key("nope"),
        Err(Error::NotFound {
            kind: "api key",
            ..
        })
    ));
    assert!(matches!(
        store.touch_api_key("nope", ts(0)),
        Err(Error::NotFound { .. })
    ));
}

fn reopen_keeps_everything<F: Fixture>() {
    let f = F::new();
    let e0 = instantiate("p");
    let e1 = action(&e0, "one");
    {
        let store = f.store();
        store
            .put_scenario("s", &json!({"title": "S"}), ts(0))
            .expect("scenario");
        store
            .append(
                "p",
                AppendBatch {
                    events: vec![e0.clone(), e1.clone()],
                    view: json!({"actors": {"client": {"id": "u1"}}}),
                    timer: Some(ts(10)),
                    outbox: vec![outbox("p", &e1, 0, "svc", ts(5))],
                },
            )
            .expect("append");
        store.put_api_key(&api_key("k", "h")).expect("key");
    }
    let store = f.store();
    assert_eq!(store.version().expect("version"), STORE_VERSION);
    assert!(store.scenario("s").expect("scenario").is_some());
    assert_eq!(store.events("p").expect("events"), [e0, e1.clone()]);
    assert!(store.view("p").expect("view").is_some());
    assert_eq!(store.processes_of(Some("u1"), &[]).expect("of"), ["p"]);
    assert_eq!(
        store.due_timers(ts(10)).expect("due"),
        [(ts(10), "p".to_string())]
    );
    assert_eq!(store.due_outbox(ts(5), 10).expect("outbox").len(), 1);
    assert!(store.api_key_by_hash("h").expect("key").is_some());
    // And the chain goes on.
    store
        .append("p", batch(vec![action(&e1, "two")], json!({})))
        .expect("append after reopen");
}

fn write_version<F: Fixture>(f: &F, version: u32) {
    let store = f.store();
    let json = version.to_string();
    store
        .backend()
        .write(&|tx| tx.put(Table::Meta, b"version", json.as_bytes()))
        .expect("write version");
}

fn version_is_checked_on_open<F: Fixture>() {
    let f = F::new();
    assert_eq!(f.store().version().expect("version"), STORE_VERSION);
    write_version(&f, STORE_VERSION + 1);
    match f.open() {
        Err(Error::Version { found, supported }) => {
            assert_eq!((found, supported), (STORE_VERSION + 1, STORE_VERSION));
        }
        other => panic!("expected a version error, got {other:?}"),
    }
}

fn older_versions_are_migrated<F: Fixture>() {
    let f = F::new();
    f.store()
        .put_scenario("s", &json!({}), ts(0))
        .expect("scenario");
    write_version(&f, 0);
    let store = f.store();
    assert_eq!(store.version().expect("version"), STORE_VERSION);
    assert!(store.scenario("s").expect("scenario").is_some());
}

/// Version 1 also indexed the roles of actors with an id; opening rebuilds the index.
fn actor_index_is_rebuilt_from_version_1<F: Fixture>() {
    let f = F::new();
    {
        let store = f.store();
        start(
            &store,
            "p",
            json!({"client": {"id": "alice", "role": "vip"}}),
        );
        // What version 1 wrote for it.
        store
            .backend()
            .write(&|tx| {
                tx.put(Table::Actors, &kv::pair_key("role:vip", "p"), &[])?;
                tx.put(Table::ProcessActors, b"p", br#"["role:vip","user:alice"]"#)
            })
            .expect("write the old index");
        assert_eq!(
            store.processes_of(None, &["vip".into()]).expect("of"),
            ["p"]
        );
    }
    write_version(&f, 1);
    let store = f.store();
    assert_eq!(store.version().expect("version"), STORE_VERSION);
    assert!(store
        .processes_of(None, &["vip".into()])
        .expect("of")
        .is_empty());
    assert_eq!(store.processes_of(Some("alice"), &[]).expect("of"), ["p"]);
    // and the index stays right on the next change
    store
        .put_view("p", &json!({"actors": {"client": {"role": "vip"}}}))
        .expect("put view");
    assert_eq!(
        store.processes_of(None, &["vip".into()]).expect("of"),
        ["p"]
    );
    assert!(store
        .processes_of(Some("alice"), &[])
        .expect("of")
        .is_empty());
}

fn corrupt_records_are_named<F: Fixture>() {
    let f = F::new();
    let store = f.store();
    store
        .backend()
        .write(&|tx| tx.put(Table::Scenarios, b"bad", b"{not json"))
        .expect("write");
    match store.scenario("bad") {
        Err(Error::Corrupt(what)) => assert!(what.contains("scenario 'bad'"), "{what}"),
        other => panic!("expected corrupt, got {other:?}"),
    }
}

fn concurrent_siblings_one_wins<F: Fixture>() {
    let f = F::new();
    let store = f.store();
    let e0 = start(&store, "p", json!({}));
    let siblings: Vec<Event> = (0..6).map(|i| action(&e0, &format!("try {i}"))).collect();
    let results: Vec<Result<()>> = std::thread::scope(|scope| {
        let handles: Vec<_> = siblings
            .iter()
            .map(|event| {
                let store = &store;
                scope.spawn(move || store.append("p", batch(vec![event.clone()], json!({}))))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect()
    });
    let won: Vec<usize> = (0..results.len()).filter(|i| results[*i].is_ok()).collect();
    assert_eq!(won.len(), 1, "{results:?}");
    assert!(results
        .iter()
        .all(|r| r.is_ok() || matches!(r, Err(Error::Conflict { .. }))));
    let head = store.head("p").expect("head").expect("p");
    assert_eq!((head.len, head.hash.as_str()), (2, siblings[won[0]].hash()));
}

/// A switch to another branch: the events from a position on are replaced, the old ones
/// are gone from the chain and its index, and a batch that does not continue the kept part
/// changes nothing.
fn replace_switches_branches<F: Fixture>() {
    let f = F::new();
    let store = f.store();
    let e0 = start(&store, "p", json!({}));
    let a1 = action(&e0, "a1");
    let a2 = action(&a1, "a2");
    let mut owing = batch(vec![a1.clone(), a2.clone()], json!({"n": 2}));
    owing.outbox = vec![
        outbox("p", &a2, 0, "mailer", ts(5)),
        outbox("p", &a2, 1, "mailer", ts(6)),
    ];
    store.append("p", owing).expect("a");
    assert_eq!(store.outbox_of("p").expect("outbox").len(), 2);
    let b1 = action(&e0, "b1");
    let b2 = action(&b1, "b2");
    // Not continuing the kept event: refused, nothing changes.
    assert!(matches!(
        store.replace("p", 1, batch(vec![b2.clone()], json!({"n": 9}))),
        Err(Error::Conflict { .. })
    ));
    assert!(matches!(
        store.replace("p", 0, batch(vec![b1.clone()], json!({"n": 9}))),
        Err(Error::InvalidBatch { .. })
    ));
    assert!(matches!(
        store.replace("p", 4, batch(vec![b1.clone()], json!({"n": 9}))),
        Err(Error::InvalidBatch { .. })
    ));
    assert_eq!(store.events("p").expect("p").len(), 3);
    store
        .replace("p", 1, batch(vec![b1.clone(), b2.clone()], json!({"n": 3})))
        .expect("replace");
    let hashes: Vec<String> = store
        .events("p")
        .expect("p")
        .iter()
        .map(|e| e.hash().to_string())
        .collect();
    assert_eq!(hashes, [e0.hash(), b1.hash(), b2.hash()]);
    assert_eq!(store.event_position("p", a1.hash()).expect("a1"), None);
    assert_eq!(store.event_position("p", a2.hash()).expect("a2"), None);
    assert_eq!(store.event_position("p", b2.hash()).expect("b2"), Some(2));
    let head = store.head("p").expect("head").expect("p");
    assert_eq!((head.len, head.hash.as_str()), (3, b2.hash()));
    assert_eq!(store.view("p").expect("view"), Some(json!({"n": 3})));
    // What the replaced events owed is owed no more.
    assert_eq!(store.outbox_of("p").expect("outbox"), vec![]);
    assert_eq!(store.due_outbox(ts(1_000_000), 10).expect("due"), vec![]);
    // A shorter branch: the tail of the longer one is gone too.
    let c1 = action(&e0, "c1");
    store
        .replace("p", 1, batch(vec![c1.clone()], json!({"n": 1})))
        .expect("shorter");
    assert_eq!(store.events("p").expect("p").len(), 2);
    assert_eq!(store.event_position("p", b2.hash()).expect("b2"), None);
    let d2 = action(&c1, "d2");
    store
        .append("p", batch(vec![d2], json!({})))
        .expect("append after replace");
    assert_eq!(store.head("p").expect("head").expect("p").len, 3);
}

fn group_commit<F: Fixture>() {
    let f = F::new();
    let store = f.store();
    assert!(store.append_many(vec![]).is_empty());

    // New processes, and two steps of one process in a row, in one transaction.
    let a0 = instantiate("a");
    let b0 = instantiate("b");
    let a1 = action(&a0, "one");
    let a2 = action(&a1, "two");
    let mut step = batch(vec![a2.clone()], json!({"actors": {"c": {"id": "u1"}}}));
    step.timer = Some(ts(5));
    step.outbox = vec![outbox("a", &a2, 0, "svc", ts(6))];
    let results = store.append_many(vec![
        ("a".into(), batch(vec![a0.clone()], json!({"n": 0}))),
        ("b".into(), batch(vec![b0.clone()], json!({"n": 0}))),
        ("a".into(), batch(vec![a1.clone()], json!({"n": 1}))),
        ("a".into(), step),
    ]);
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert_eq!(
        store.events("a").expect("a"),
        [a0.clone(), a1.clone(), a2.clone()]
    );
    assert_eq!(store.events("b").expect("b"), std::slice::from_ref(&b0));
    assert_eq!(store.timer("a").expect("timer"), Some(ts(5)));
    assert_eq!(store.outbox_of("a").expect("outbox").len(), 1);
    assert_eq!(store.processes_of(Some("u1"), &[]).expect("index"), ["a"]);

    // A conflicting or invalid batch fails alone; the others are written.
    let b1 = action(&b0, "one");
    let stale = action(&a1, "stale");
    let results = store.append_many(vec![
        ("a".into(), batch(vec![stale], json!({"stale": true}))),
        ("b".into(), batch(vec![b1.clone()], json!({"n": 1}))),
        ("c".into(), batch(vec![], json!({}))),
        ("a".into(), batch(vec![instantiate("a")], json!({}))),
    ]);
    assert!(matches!(&results[0], Err(Error::Conflict { process, .. }) if process == "a"));
    assert!(results[1].is_ok(), "{:?}", results[1]);
    assert!(matches!(&results[2], Err(Error::InvalidBatch { .. })));
    assert!(matches!(&results[3], Err(Error::Conflict { .. })));
    assert_eq!(store.events("a").expect("a").len(), 3);
    assert_eq!(
        store.view("a").expect("view"),
        Some(json!({"actors": {"c": {"id": "u1"}}}))
    );
    assert_eq!(store.events("b").expect("b"), [b0, b1.clone()]);

    // A failure of the transaction itself (here a corrupt head) writes nothing at all.
    store
        .backend()
        .write(&|tx| tx.put(Table::Heads, b"bad", b"{not json"))
        .expect("write");
    let b2 = action(&b1, "two");
    let results = store.append_many(vec![
        ("b".into(), batch(vec![b2], json!({"n": 2}))),
        ("bad".into(), batch(vec![action(&a2, "x")], json!({}))),
    ]);
    assert!(
        matches!(&results[0], Err(Error::GroupFailed(cause)) if matches!(**cause, Error::Corrupt(_))),
        "{results:?}"
    );
    assert!(
        matches!(&results[1], Err(Error::GroupFailed(_))),
        "{results:?}"
    );
    assert_eq!(store.events("b").expect("b").len(), 2);
    assert_eq!(store.view("b").expect("view"), Some(json!({"n": 1})));
}

macro_rules! suite {
    ($name:ident, $fixture:ty) => {
        mod $name {
            use super::*;

            #[test]
            fn scenarios() {
                super::scenarios::<$fixture>();
            }
            #[test]
            fn events_and_views() {
                super::events_and_views::<$fixture>();
            }
            #[test]
            fn append_conflicts_change_nothing() {
                super::append_conflicts_change_nothing::<$fixture>();
            }
            #[test]
            fn invalid_batches_are_refused() {
                super::invalid_batches_are_refused::<$fixture>();
            }
            #[test]
            fn batches_are_atomic() {
                super::batches_are_atomic::<$fixture>();
            }
            #[test]
            fn concurrent_siblings_one_wins() {
                super::concurrent_siblings_one_wins::<$fixture>();
            }
            #[test]
            fn actor_index() {
                super::actor_index::<$fixture>();
            }
            #[test]
            fn timers() {
                super::timers::<$fixture>();
            }
            #[test]
            fn outbox_parking() {
                super::outbox_parking::<$fixture>();
            }

            #[test]
            fn outbox_delivery() {
                super::outbox_delivery::<$fixture>();
            }
            #[test]
            fn api_keys() {
                super::api_keys::<$fixture>();
            }
            #[test]
            fn reopen_keeps_everything() {
                super::reopen_keeps_everything::<$fixture>();
            }
            #[test]
            fn version_is_checked_on_open() {
                super::version_is_checked_on_open::<$fixture>();
            }
            #[test]
            fn older_versions_are_migrated() {
                super::older_versions_are_migrated::<$fixture>();
            }
            #[test]
            fn group_commit() {
                super::group_commit::<$fixture>();
            }
            #[test]
            fn replace_switches_branches() {
                super::replace_switches_branches::<$fixture>();
            }
            #[test]
            fn actor_index_is_rebuilt_from_version_1() {
                super::actor_index_is_rebuilt_from_version_1::<$fixture>();
            }
            #[test]
            fn corrupt_records_are_named() {
                super::corrupt_records_are_named::<$fixture>();
            }
        }
    };
}

suite!(on_memory, Memory);
suite!(on_redb, Redb);
#[cfg(feature = "sled")]
suite!(on_sled, Sled);

// --- crash safety ---------------------------------------------------------------------------

/// The batch of step `seq` in the crash and timing tests: the view, timer and outbox all say
/// which step they belong to, so a torn write would show.
fn step_batch(process: &str, event: &Event, seq: u64) -> AppendBatch {
    AppendBatch {
        events: vec![event.clone()],
        view: json!({"seq": seq}),
        timer: Some(ts(seq as i64)),
        outbox: vec![outbox(process, event, 0, "svc", ts(seq as i64))],
    }
}

/// Appends one step after the stored chain of `process` (or starts it).
fn next_step(store: &dyn Store, process: &str, last: Option<&Event>, seq: u64) -> Event {
    let event = match last {
        Some(last) => action(last, &format!("step {seq}")),
        None => instantiate(process),
    };
    store
        .append(process, step_batch(process, &event, seq))
        .expect("append");
    event
}

mod crash {
    use super::*;
    use std::io::{BufRead, BufReader, Write};
    use std::process::{Command, Stdio};

    const DIR_VAR: &str = "LETSFLOW_STORE_CRASH_DIR";
    const ROUNDS: usize = 3;
    /// Acknowledged appends to wait for in each round before killing the child.
    const ACKS_PER_ROUND: u64 = 100;

    /// The child: opens the store named by the environment and appends steps to process `p`
    /// until it is killed, printing `ack N` after append N returned.
    #[test]
    #[ignore = "run as a child process by redb_crash_keeps_acknowledged_appends"]
    fn child() {
        let Some(dir) = std::env::var_os(DIR_VAR) else {
            return;
        };
        let store = RedbStore::open(dir).expect("open");
        let mut last = store.events("p").ok().and_then(|e| e.last().cloned());
        let mut seq = store.head("p").expect("head").map_or(0, |h| h.len);
        let mut out = std::io::stdout().lock();
        loop {
            last = Some(next_step(&store, "p", last.as_ref(), seq));
            writeln!(out, "ack {seq}").expect("stdout");
            out.flush().expect("stdout");
            seq += 1;
        }
    }

    /// Runs the child until it acknowledged `ACKS_PER_ROUND` more appends, then kills it with
    /// SIGKILL; returns the highest acknowledged position.
    fn run_child_and_kill(dir: &std::path::Path) -> Option<u64> {
        let exe = std::env::current_exe().expect("test binary");
        let mut child = Command::new(exe)
            .args([
                "store::tests::crash::child",
                "--exact",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(DIR_VAR, dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn child");
        let stdout = child.stdout.take().expect("child stdout");
        let mut acked = None;
        let mut count = 0;
        for line in BufReader::new(stdout).lines() {
            let line = line.expect("read child");
            if let Some(n) = line.strip_prefix("ack ") {
                acked = Some(n.parse::<u64>().expect("ack number"));
                count += 1;
                if count >= ACKS_PER_ROUND {
                    break;
                }
            }
        }
        // `kill` sends SIGKILL on Unix: no destructor, no flush, possibly mid-commit.
        child.kill().expect("kill child");
        let status = child.wait().expect("wait child");
        assert!(!status.success(), "the child was killed, not finished");
        acked
    }

    #[test]
    fn redb_crash_keeps_acknowledged_appends() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut acked_total = None;
        for round in 0..ROUNDS {
            let acked = run_child_and_kill(dir.path());
            assert!(
                acked.is_some(),
                "round {round}: the child acknowledged nothing"
            );
            acked_total = acked;

            let store = RedbStore::open(dir.path()).expect("reopen after kill");
            let events = store.events("p").expect("events");
            let len = events.len() as u64;
            let acked = acked.unwrap_or_default();
            assert!(
                len > acked,
                "round {round}: ack {acked} but {len} events stored"
            );
            // The chain is intact: it starts with the instantiate event of `p`, every
            // event's hash matches its content and names the one before it.
            assert!(matches!(&events[0], Event::Instantiate(e) if e.id == "p"));
            assert!(events.iter().all(Event::hash_is_valid), "round {round}");
            for (i, pair) in events.windows(2).enumerate() {
                assert_eq!(
                    pair[1].previous(),
                    Some(pair[0].hash()),
                    "round {round}: link {i} -> {}",
                    i + 1
                );
            }
            // View, timer and outbox belong to the last stored step: nothing torn.
            let head = store.head("p").expect("head").expect("p exists");
            assert_eq!(head.len, len);
            assert_eq!(head.hash, events[events.len() - 1].hash());
            assert_eq!(
                store.view("p").expect("view"),
                Some(json!({"seq": len - 1}))
            );
            assert_eq!(store.timer("p").expect("timer"), Some(ts(len as i64 - 1)));
            assert_eq!(store.outbox_of("p").expect("outbox").len() as u64, len);
            for (i, event) in events.iter().enumerate() {
                assert_eq!(
                    store.event_position("p", event.hash()).expect("position"),
                    Some(i as u64)
                );
            }
        }
        println!(
            "crash test: {ROUNDS} kills, last acknowledged position {:?}",
            acked_total
        );
    }
}

// --- timing ---------------------------------------------------------------------------------

fn append_timing<F: Fixture>(name: &str) {
    const APPENDS: u64 = 2_000;
    let f = F::new();
    let store = f.store();
    let started = std::time::Instant::now();
    let mut last = None;
    for seq in 0..APPENDS {
        last = Some(next_step(&store, "p", last.as_ref(), seq));
    }
    let elapsed = started.elapsed();
    assert_eq!(store.head("p").expect("head").map(|h| h.len), Some(APPENDS));
    println!(
        "{name}: {APPENDS} single-event appends in {:.3} s ({:.0} µs each)",
        elapsed.as_secs_f64(),
        elapsed.as_secs_f64() * 1e6 / APPENDS as f64
    );
}

#[test]
#[ignore = "timing: cargo test --lib store -- --ignored timing --nocapture"]
fn timing_redb() {
    append_timing::<Redb>("redb");
}

#[test]
#[ignore = "timing: cargo test --lib store -- --ignored timing --nocapture"]
fn timing_memory() {
    append_timing::<Memory>("memory");
}

#[cfg(feature = "sled")]
#[test]
#[ignore = "timing: cargo test --features sled --lib store -- --ignored timing --nocapture"]
fn timing_sled() {
    append_timing::<Sled>("sled");
}
