//! The engine over real storage: the write path, restarts and timers.

use super::core::{Engine, EngineError};
use crate::process::{StepActor, Timestamp};
use crate::scenario::yaml::from_yaml;
use crate::schema::SchemaRegistry;
use crate::store::{MemoryStore, RedbStore, Store};
use serde_json::{json, Map, Value};
use std::sync::Arc;

const SCENARIO: &str = r#"
title: Approval
actors:
  client:
    properties:
      name: string
  manager:
    role: manager
actions:
  submit:
    actor: client
    response:
      properties:
        amount: !required number
    update:
      set: vars.amount
      value: !ref current.response.amount
  approve:
    actor: manager
states:
  initial:
    on: submit
    goto: review
  review:
    notify:
      service: mailer
      message: !tpl 'Please review {{ vars.amount }}'
    transitions:
      - on: approve
        goto: (approved)
      - after: 1 day
        goto: (expired)
vars:
  amount: number
"#;

fn t(seconds: f64) -> Timestamp {
    Timestamp::parse("2025-01-01T00:00:00Z")
        .expect("time")
        .plus_seconds(seconds)
}

fn new_engine(store: Arc<dyn Store>) -> (Engine, String) {
    let engine = Engine::new(store, SchemaRegistry::new());
    let raw = from_yaml(SCENARIO).expect("yaml");
    let (id, _) = engine.add_scenario(&raw, t(0.0)).expect("add scenario");
    (engine, id)
}

#[test]
fn steps_are_committed_and_survive_a_restart() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store: Arc<dyn Store> = Arc::new(RedbStore::open(dir.path()).expect("open"));
    let (engine, scenario) = new_engine(store);
    engine
        .start(&scenario, "p1", Map::new(), t(0.0))
        .expect("start");
    let client = StepActor::key("client");
    let (outcome, _) = engine
        .step("p1", "submit", &client, Some(json!({})), t(1.0))
        .expect("step");
    assert_eq!(
        outcome.errors,
        vec!["Response is invalid: data must have required property 'amount'"]
    );
    let (outcome, process) = engine
        .step("p1", "submit", &client, Some(json!({"amount": 10})), t(2.0))
        .expect("step");
    assert!(!outcome.skipped);
    assert_eq!(process.current_key(), "review");
    let before = process.to_json();
    drop(engine);

    // A new engine on the same folder replays the stored events.
    let store: Arc<dyn Store> = Arc::new(RedbStore::open(dir.path()).expect("reopen"));
    // The rejected attempt is kept apart, not in the chain.
    assert_eq!(store.events("p1").expect("events").len(), 2);
    let rejected = store.rejected("p1").expect("rejected");
    assert_eq!(rejected.len(), 1);
    assert_eq!(rejected[0]["action"], "submit");
    assert_eq!(
        rejected[0]["errors"],
        json!(["Response is invalid: data must have required property 'amount'"])
    );
    assert_eq!(
        store.view("p1").expect("view").expect("some")["current"]["key"],
        json!("review")
    );
    let (engine, _) = new_engine(store.clone());
    let after = engine.process("p1").expect("process");
    assert_eq!(after.to_json(), before);

    // The notification owed was stored with the step.
    let outbox = store.outbox_of("p1").expect("outbox");
    assert_eq!(outbox.len(), 1);
    assert_eq!(outbox[0].service, "mailer");
    assert_eq!(outbox[0].message, json!("Please review 10"));
}

#[test]
fn due_timers_fire_also_after_a_restart() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let (engine, scenario) = new_engine(store.clone());
    engine
        .start(&scenario, "p1", Map::new(), t(0.0))
        .expect("start");
    engine
        .step(
            "p1",
            "submit",
            &StepActor::key("client"),
            Some(json!({"amount": 5})),
            t(10.0),
        )
        .expect("step");
    assert_eq!(store.timer("p1").expect("timer"), Some(t(10.0 + 86400.0)));
    assert!(engine.fire_due_timers(t(3600.0)).expect("fire").is_empty());

    let (engine, _) = new_engine(store.clone());
    assert_eq!(
        engine.fire_due_timers(t(2.0 * 86400.0)).expect("fire"),
        vec!["p1"]
    );
    let process = engine.process("p1").expect("process");
    assert_eq!(process.current_key(), "(expired)");
    assert_eq!(process.last_event().timestamp(), t(10.0 + 86400.0));
    assert_eq!(store.timer("p1").expect("timer"), None);
}

#[test]
fn unknown_and_disabled_things_are_refused() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let (engine, scenario) = new_engine(store);
    assert!(matches!(
        engine.step("nope", "submit", &StepActor::key("client"), None, t(0.0)),
        Err(EngineError::NotFound {
            kind: "process",
            ..
        })
    ));
    assert!(matches!(
        engine.start("no-such-scenario", "p1", Map::new(), t(0.0)),
        Err(EngineError::NotFound {
            kind: "scenario",
            ..
        })
    ));
    engine
        .start(&scenario, "p1", Map::new(), t(0.0))
        .expect("start");
    assert!(matches!(
        engine.start(&scenario, "p1", Map::new(), t(0.0)),
        Err(EngineError::Exists(_))
    ));

    engine.disable_scenario(&scenario).expect("disable");
    assert!(matches!(
        engine.start(&scenario, "p2", Map::new(), t(0.0)),
        Err(EngineError::Disabled(_))
    ));
    // processes of a disabled scenario keep working
    let (outcome, _) = engine
        .step(
            "p1",
            "submit",
            &StepActor::key("client"),
            Some(json!({"amount": 1})),
            t(1.0),
        )
        .expect("step");
    assert!(!outcome.skipped);

    let invalid = json!({"states": {"initial": {"on": "go", "goto": "nowhere"}}});
    assert!(matches!(
        engine.add_scenario(&invalid, t(0.0)),
        Err(EngineError::InvalidScenario(errors)) if !errors.is_empty()
    ));
    let unknown_actor: Map<String, Value> = json!({"stranger": {"id": "x"}})
        .as_object()
        .cloned()
        .unwrap_or_default();
    assert!(matches!(
        engine
            .start(&scenario, "p3", Map::new(), t(0.0))
            .map(|_| ()),
        Err(EngineError::Disabled(_))
    ));
    let (engine, scenario) = new_engine(Arc::new(MemoryStore::new()));
    assert!(matches!(
        engine.start(&scenario, "p3", unknown_actor, t(0.0)),
        Err(EngineError::Process(_))
    ));
}

#[test]
fn work_on_one_process_is_serialized() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let (engine, scenario) = new_engine(store.clone());
    engine
        .start(&scenario, "p1", Map::new(), t(0.0))
        .expect("start");
    let engine = Arc::new(engine);
    let threads: Vec<_> = (0..8)
        .map(|i| {
            let engine = engine.clone();
            std::thread::spawn(move || {
                engine
                    .step(
                        "p1",
                        "submit",
                        &StepActor::key("client"),
                        Some(json!({})),
                        t(i as f64),
                    )
                    .map(|(o, _)| o.skipped)
            })
        })
        .collect();
    for t in threads {
        assert!(
            t.join().expect("thread").expect("step"),
            "the empty response is refused"
        );
    }
    // every attempt was recorded in the local log; the chain holds only the start
    assert_eq!(store.rejected("p1").expect("rejected").len(), 8);
    assert_eq!(store.events("p1").expect("events").len(), 1);
    let process = engine.process("p1").expect("process");
    assert_eq!(process.events().len(), 1);
}

#[test]
fn group_commit_engine_keeps_every_step() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store: Arc<dyn Store> = Arc::new(RedbStore::open(dir.path()).expect("open"));
    let engine = Engine::with_group_commit(
        store.clone(),
        SchemaRegistry::new(),
        crate::engine::GroupCommit::default(),
    )
    .expect("engine");
    let raw = from_yaml(SCENARIO).expect("yaml");
    let (scenario, _) = engine.add_scenario(&raw, t(0.0)).expect("scenario");
    std::thread::scope(|scope| {
        for n in 0..6 {
            let (engine, scenario) = (&engine, &scenario);
            scope.spawn(move || {
                let id = format!("p{n}");
                engine
                    .start(scenario, &id, Map::new(), t(0.0))
                    .expect("start");
                let client = StepActor::key("client");
                for i in 0..5 {
                    // refused (no amount): kept in the rejected log, not committed
                    engine
                        .step(&id, "submit", &client, Some(json!({})), t(f64::from(i)))
                        .expect("step");
                }
                let (outcome, _) = engine
                    .step(&id, "submit", &client, Some(json!({"amount": n})), t(9.0))
                    .expect("step");
                assert!(!outcome.skipped);
            });
        }
    });
    let stats = engine.commit_stats().expect("group commit");
    assert_eq!(stats.batches, 6 * 2);
    drop((engine, store));
    let store: Arc<dyn Store> = Arc::new(RedbStore::open(dir.path()).expect("reopen"));
    for n in 0..6 {
        assert_eq!(store.events(&format!("p{n}")).expect("events").len(), 2);
        assert_eq!(store.rejected(&format!("p{n}")).expect("rejected").len(), 5);
        assert!(store.timer(&format!("p{n}")).expect("timer").is_some());
    }
}

#[test]
fn the_process_cache_is_bounded_and_evicted_processes_are_replayed() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let (engine, scenario) = new_engine(store);
    let engine = engine.with_cache_capacity(4);
    let client = StepActor::key("client");
    for n in 0..10 {
        let id = format!("p{n}");
        engine
            .start(&scenario, &id, Map::new(), t(0.0))
            .expect("start");
        engine
            .step(&id, "submit", &client, Some(json!({"amount": n})), t(1.0))
            .expect("step");
        assert!(
            engine.cached_processes() <= 4,
            "{}",
            engine.cached_processes()
        );
    }
    // p0 was dropped from memory long ago: it is read back from the store, with its vars,
    // and steps on from there.
    let process = engine.process("p0").expect("process");
    assert_eq!(process.current_key(), "review");
    assert_eq!(process.to_json()["vars"]["amount"], json!(0));
    let (outcome, process) = engine
        .step("p0", "approve", &StepActor::key("manager"), None, t(2.0))
        .expect("step");
    assert!(!outcome.skipped, "{:?}", outcome.errors);
    assert_eq!(process.current_key(), "(approved)");
    assert!(engine.cached_processes() <= 4);
    // the most recently used ones stay
    assert_eq!(engine.process("p9").expect("p9").current_key(), "review");
}

#[test]
fn a_process_in_use_is_not_evicted() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let (engine, scenario) = new_engine(store);
    let engine = Arc::new(engine.with_cache_capacity(2));
    engine
        .start(&scenario, "busy", Map::new(), t(0.0))
        .expect("start");
    // Hold the lock of `busy` from another thread while many others come and go.
    let (held_tx, held_rx) = std::sync::mpsc::sync_channel(16);
    let (release_tx, release_rx) = std::sync::mpsc::sync_channel::<()>(16);
    let holder = {
        let engine = engine.clone();
        std::thread::spawn(move || {
            engine
                .with_process(
                    "busy",
                    |process| {
                        held_tx.send(()).expect("send");
                        release_rx.recv().expect("release");
                        // nothing appended: nothing to commit
                        Ok(((), process.events().len(), false))
                    },
                    |_| (),
                )
                .expect("with process");
        })
    };
    held_rx.recv().expect("held");
    for n in 0..6 {
        engine
            .start(&scenario, &format!("q{n}"), Map::new(), t(0.0))
            .expect("start");
    }
    // `busy` is still the slot the holder locks: a second one would not wait for it.
    assert!(engine.slot_in_use("busy"));
    release_tx.send(()).expect("release");
    holder.join().expect("holder");
    assert_eq!(
        engine.process("busy").expect("busy").current_key(),
        "initial"
    );
}

// --- forks between two nodes --------------------------------------------------------------

mod forks {
    use super::*;
    use crate::chain::{NodeKey, ReceiptRules, Refusal, SignedHead};
    use crate::engine::{EventStatus, Rebased, Received};
    use crate::process::Event;

    const RACE: &str = r#"
title: Race
actors:
  a: {}
  b: {}
actions:
  bump_a: {actor: a}
  bump_b: {actor: b}
  close_a: {actor: a}
  close_b: {actor: b}
states:
  initial:
    transitions:
      - {on: bump_a, goto: initial}
      - {on: bump_b, goto: initial}
      - {on: close_a, goto: (closed_a)}
      - {on: close_b, goto: (closed_b)}
"#;

    struct Node {
        engine: Engine,
        key: Arc<NodeKey>,
    }

    fn node(seed: u8) -> Node {
        let key = Arc::new(NodeKey::from_bytes(&[seed; 32]));
        let engine =
            Engine::new(Arc::new(MemoryStore::new()), SchemaRegistry::new()).with_key(key.clone());
        let raw = from_yaml(RACE).expect("yaml");
        engine.add_scenario(&raw, t(0.0)).expect("scenario");
        Node { engine, key }
    }

    fn rules() -> ReceiptRules {
        // Rebased steps are made at the current time.
        ReceiptRules {
            now: crate::engine::timers::now(),
            max_skew_ms: 60_000,
        }
    }

    fn hashes(node: &Node) -> Vec<String> {
        let process = node.engine.process("p").expect("p");
        process
            .events()
            .iter()
            .map(|e| e.hash().to_string())
            .collect()
    }

    fn last(node: &Node) -> Event {
        node.engine.process("p").expect("p").last_event().clone()
    }

    fn step(node: &Node, action: &str, actor: &str, at: f64) -> Event {
        let (outcome, _) = node
            .engine
            .step("p", action, &StepActor::key(actor), None, t(at))
            .expect("step");
        assert!(!outcome.skipped, "{outcome:?}");
        last(node)
    }

    fn send(to: &Node, from: &Node, event: &Event) -> crate::engine::Result<Received> {
        to.engine.receive("p", event, from.key.id(), rules())
    }

    /// Two nodes step on the same state at once; both end on the branch of the earlier
    /// step, the later one rebased (or rejected when no longer valid), and once each has
    /// announced its head the chain is final and a winning sibling of it is refused.
    #[test]
    fn concurrent_steps_converge_and_finality_holds() {
        let (a, b) = (node(1), node(2));
        let mut actors = Map::new();
        actors.insert("b".into(), json!({"node": b.key.id().to_string()}));
        let scenario = a.engine.scenarios().expect("scenarios")[0].id.clone();
        let start = a
            .engine
            .start(&scenario, "p", actors, t(1.0))
            .expect("start");
        assert_eq!(
            send(&b, &a, &start.events()[0]).expect("start"),
            Received::Applied
        );

        // The race: a's step is earlier and wins everywhere.
        let a1 = step(&a, "bump_a", "a", 2.0);
        let b1 = step(&b, "bump_b", "b", 3.0);
        assert_eq!(
            send(&a, &b, &b1).expect("b1 at a"),
            Received::Superseded {
                by: a1.hash().to_string()
            }
        );
        assert_eq!(send(&b, &a, &a1).expect("a1 at b"), Received::Applied);
        let Some(Rebased::Moved(b1_new)) = b.engine.rebased(b1.hash()) else {
            panic!("b1 rebased expected");
        };
        let rebased = last(&b);
        assert_eq!(rebased.hash(), b1_new);
        assert_eq!(rebased.previous(), Some(a1.hash()));
        assert_eq!(rebased.seal().0, Some(b.key.id().to_string().as_str()));
        assert_eq!(send(&a, &b, &rebased).expect("b1' at a"), Received::Applied);
        assert_eq!(hashes(&a), hashes(&b));
        // b1 is gone from b's chain; what replaced it is not final yet.
        let status = |node: &Node, hash: &str| node.engine.event_status("p", hash).expect("status");
        assert_eq!(status(&b, b1.hash()), EventStatus::Gone);
        assert_eq!(status(&b, a1.hash()), EventStatus::Pending);
        assert_eq!(b.engine.store().events("p").expect("events").len(), 3);

        // Nothing is final until the other side's head is known.
        let process = a.engine.process("p").expect("p");
        assert_eq!(a.engine.finality_of(&process).final_len, 0);
        let head_b = SignedHead::sign(&b.key, "p", rebased.hash(), 3, Some(0));
        let seen = a.engine.observe_head(&head_b).expect("head");
        assert!(seen.known && seen.changed);
        let process = a.engine.process("p").expect("p");
        let view = a.engine.finality_of(&process);
        assert_eq!((view.final_len, view.final_everywhere), (3, 0));
        assert_eq!(status(&a, rebased.hash()), EventStatus::Final);
        // A head signed by a node that takes no part is refused.
        let stranger = NodeKey::from_bytes(&[9; 32]);
        let foreign = SignedHead::sign(&stranger, "p", rebased.hash(), 3, None);
        assert!(a.engine.observe_head(&foreign).is_err());

        // A winning sibling of a final event is refused: final events never change.
        let process = a.engine.process("p").expect("p");
        let mut before = crate::process::replay(process.scenario().clone(), &process.events()[..2])
            .expect("replay");
        before
            .step("bump_b", &StepActor::key("b"), None, t(2.5))
            .expect("rival");
        let mut rival = before.last_event().clone();
        crate::chain::sign_event(&b.key, &mut rival).expect("sign");
        let refused = send(&a, &b, &rival).expect_err("refused");
        assert!(
            matches!(&refused, EngineError::Refused(r) if matches!(**r, Refusal::FinalSibling { .. })),
            "{refused}"
        );
        assert_eq!(hashes(&a), hashes(&b));

        // A race to the end: b's close is no longer valid on a's branch, and is rejected.
        // (After the rebased step, which was made now.)
        let soon = crate::engine::timers::now().seconds_since(&t(0.0));
        let a2 = step(&a, "close_a", "a", soon + 20.0);
        let b2 = step(&b, "close_b", "b", soon + 21.0);
        assert!(matches!(send(&a, &b, &b2), Ok(Received::Superseded { .. })));
        assert_eq!(send(&b, &a, &a2).expect("a2 at b"), Received::Applied);
        assert!(matches!(
            b.engine.rebased(b2.hash()),
            Some(Rebased::Rejected(_))
        ));
        assert_eq!(hashes(&a), hashes(&b));
        let process = b.engine.process("p").expect("p");
        assert_eq!(process.current_key(), "(closed_a)");
        let rejected = b.engine.rejected("p").expect("rejected");
        assert_eq!(rejected.len(), 1);
        assert_eq!(rejected[0]["action"], "close_b");
        let errors = rejected[0]["errors"].to_string();
        assert!(errors.contains("lost a concurrent step"), "{errors}");
        // The store holds the winning branch only.
        assert_eq!(
            b.engine.store().event_position("p", b2.hash()).expect("b2"),
            None
        );
        assert_eq!(b.engine.store().events("p").expect("events").len(), 4);
    }
}

/// A service confirms through its notify trigger (a data function of the response).
const SERVICE: &str = r#"
title: Service
actors:
  client: {}
actions:
  order:
    actor: client
  confirm:
    actor: service:robot
  refuse:
    actor: service:robot
states:
  initial:
    on: order
    goto: waiting
  waiting:
    notify:
      service: robot
      trigger: !ref "current.response.ok && 'confirm' || 'refuse'"
    transitions:
      - on: confirm
        goto: (confirmed)
      - on: refuse
        goto: (refused)
"#;

#[test]
fn a_service_answer_steps_only_the_state_it_was_sent_for() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let engine = Engine::new(store.clone(), SchemaRegistry::new());
    let raw = from_yaml(SERVICE).expect("yaml");
    let (scenario, _) = engine.add_scenario(&raw, t(0.0)).expect("add scenario");
    engine
        .start(&scenario, "p1", Map::new(), t(0.0))
        .expect("start");
    engine
        .step("p1", "order", &StepActor::key("client"), None, t(1.0))
        .expect("order");
    let owed = store.outbox_of("p1").expect("outbox").remove(0);
    assert_eq!(owed.service, "robot");
    // An answer for an earlier event is refused: the process has moved on since.
    let first = store.events("p1").expect("events")[0].hash().to_string();
    let err = engine
        .service_response("p1", "robot", &first, json!({"ok": true}), t(2.0))
        .expect_err("moved on");
    assert!(matches!(err, EngineError::MovedOn { .. }), "{err}");
    // The trigger is evaluated with the response.
    let outcome = engine
        .service_response("p1", "robot", &owed.after, json!({"ok": false}), t(2.0))
        .expect("applied");
    assert!(!outcome.skipped, "{:?}", outcome.errors);
    let process = engine.process("p1").expect("process");
    assert_eq!(process.current_key(), "(refused)");
    let last = process.to_json()["events"][2].clone();
    assert_eq!(last["actor"]["key"], "service:robot");
    assert_eq!(last["response"], json!({"ok": false}));
    // The same answer again: moved on, nothing stepped twice.
    let err = engine
        .service_response("p1", "robot", &owed.after, json!({"ok": false}), t(3.0))
        .expect_err("moved on");
    assert!(matches!(err, EngineError::MovedOn { .. }), "{err}");
    assert_eq!(store.events("p1").expect("events").len(), 3);
}

#[test]
fn retrying_notifications_by_hand_makes_them_pending_and_due() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let (engine, scenario) = new_engine(store.clone());
    engine
        .start(&scenario, "p1", Map::new(), t(0.0))
        .expect("start");
    let client = StepActor::key("client");
    engine
        .step("p1", "submit", &client, Some(json!({"amount": 10})), t(1.0))
        .expect("submit");
    let mut entry = store.outbox_of("p1").expect("outbox").remove(0);
    entry.state = crate::store::OutboxState::Failed;
    entry.attempts = 10;
    store.outbox_update(&entry).expect("park");
    assert!(store.due_outbox(t(100.0), 10).expect("due").is_empty());
    assert!(engine
        .retry_notifications("p1", "other", t(50.0))
        .expect("retry")
        .is_empty());
    let retried = engine
        .retry_notifications("p1", "mailer", t(50.0))
        .expect("retry");
    assert_eq!(retried.len(), 1);
    assert_eq!(retried[0].state, crate::store::OutboxState::Pending);
    assert_eq!(retried[0].attempts, 10);
    let due = store.due_outbox(t(50.0), 10).expect("due");
    assert_eq!(due, retried);
}
