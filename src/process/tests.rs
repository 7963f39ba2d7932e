//! Behaviour of the process engine: each error text of SPEC 2.5/2.6, update modes,
//! wildcards, implicit actions and end states, timeouts, notify, prediction and replay.

use super::*;
use crate::scenario::{normalize::normalize, yaml::from_yaml};
use crate::schema::SchemaRegistry;
use serde_json::{json, Value};

const ID: &str = "00000000-0000-4000-8000-000000000001";

fn t0() -> Timestamp {
    Timestamp::parse("2025-01-01T00:00:00Z").expect("time")
}

fn scenario(yaml: &str) -> Arc<Scenario> {
    let raw = from_yaml(yaml).expect("yaml");
    let normalized = normalize(&raw).expect("normalize");
    Arc::new(Scenario::new(normalized, &SchemaRegistry::new()).expect("scenario"))
}

fn start(yaml: &str) -> Process {
    Process::instantiate(scenario(yaml), ID, Map::new(), t0()).expect("instantiate")
}

fn step(p: &mut Process, action: &str, actor: &str, response: Option<Value>) -> StepOutcome {
    p.step(action, &StepActor::key(actor), response, t0())
        .expect("step")
}

fn errors(outcome: StepOutcome) -> Vec<String> {
    assert!(outcome.skipped, "expected the step to be skipped");
    outcome.errors
}

const HANDSHAKE: &str = r#"
actors:
  initiator:
    title: Initiator
  recipient:
    title: Recipient
states:
  initial:
    on: greet
    by: initiator
    goto: wait_on_recipient
  wait_on_recipient:
    transitions:
      - on: reply
        by: recipient
        goto: (done)
      - on: ignore
        by: recipient
        goto: (failed)
"#;

#[test]
fn instantiate_creates_actors_state_and_event() {
    let p = start(HANDSHAKE);
    assert_eq!(p.id(), ID);
    assert_eq!(p.title(), &json!(""));
    assert!(p.is_running());
    assert_eq!(
        p.actors(),
        &json!({"initiator": {"title": "Initiator"}, "recipient": {"title": "Recipient"}})
    );
    assert_eq!(p.current_key(), "initial");
    assert_eq!(p.current()["actions"][0]["key"], json!("greet"));
    assert_eq!(p.current()["actions"][0]["actor"], json!(["initiator"]));
    assert_eq!(p.events().len(), 1);
    assert!(matches!(p.last_event(), Event::Instantiate(e) if e.id == ID));
    assert!(p.last_event().hash_is_valid());
}

#[test]
fn a_step_moves_logs_and_ends() {
    let mut p = start(HANDSHAKE);
    let ok = step(&mut p, "greet", "initiator", None);
    assert!(!ok.skipped, "{:?}", ok.errors);
    assert_eq!(p.current_key(), "wait_on_recipient");
    assert_eq!(p.previous()[0]["title"], json!("greet"));
    assert_eq!(p.previous()[0]["actor"], json!({"key": "initiator"}));
    step(&mut p, "reply", "recipient", None);
    assert_eq!(p.current_key(), "(done)");
    assert!(!p.is_running());
    assert_eq!(p.tags(), &json!(["(done)"]));
    assert_eq!(p.events().len(), 3);
}

#[test]
fn rejected_steps_are_recorded_with_the_error_texts() {
    let mut p = start(HANDSHAKE);
    assert_eq!(
        errors(step(&mut p, "reply", "recipient", None)),
        vec!["Action 'reply' is not allowed in state 'initial'"]
    );
    assert_eq!(
        errors(step(&mut p, "greet", "stranger", None)),
        vec!["Actor 'stranger' is not defined in the scenario"]
    );
    assert_eq!(
        errors(step(&mut p, "greet", "service:mail", None)),
        vec!["Service 'mail' is not allowed to perform action 'greet'"]
    );
    assert_eq!(p.current_key(), "initial");
    assert_eq!(p.events().len(), 4);
    let Event::Action(last) = p.last_event() else {
        panic!("expected an action event")
    };
    assert!(last.skipped);
    assert_eq!(last.errors.len(), 1);
}

#[test]
fn user_identity_is_checked_against_the_actor() {
    let yaml = r#"
actors:
  client:
    title: Client
  manager:
    role: manager
states:
  initial:
    transitions:
      - on: go
        goto: (done)
"#;
    let scenario = scenario(yaml);
    let mut given = Map::new();
    given.insert("client".into(), json!({"id": "u1"}));
    let mut p = Process::instantiate(scenario.clone(), ID, given, t0()).expect("instantiate");
    let user = |key: &str, id: &str| StepActor::key(key).with("id", json!(id));
    let as_roles = |key: &str, roles: Value| StepActor::key(key).with("roles", roles);

    let out = p
        .step("go", &user("client", "u2"), None, t0())
        .expect("step");
    assert_eq!(
        out.errors,
        vec!["User is not allowed to perform as actor 'client'"]
    );
    let out = p
        .step("go", &as_roles("manager", json!(["sales"])), None, t0())
        .expect("step");
    assert_eq!(
        out.errors,
        vec!["User is not allowed to perform as actor 'manager'"]
    );

    let mut q = Process::instantiate(scenario, ID, Map::new(), t0()).expect("instantiate");
    let out = q
        .step("go", &user("client", "u1"), None, t0())
        .expect("step");
    assert_eq!(
        out.errors,
        vec!["Actor 'client' is not assigned to a user or role"]
    );

    let out = p
        .step("go", &as_roles("manager", json!(["manager"])), None, t0())
        .expect("step");
    assert!(!out.skipped, "{:?}", out.errors);
    // roles are not recorded in the event
    let Event::Action(e) = p.last_event() else {
        panic!("action")
    };
    assert_eq!(Value::Object(e.actor.clone()), json!({"key": "manager"}));
}

#[test]
fn if_conditions_and_response_schemas_reject_steps() {
    let yaml = r#"
actions:
  pay:
    if: !ref vars.open
    response:
      properties:
        amount: !required number
states:
  initial:
    on: pay
    goto: (paid)
vars:
  open: !default false
"#;
    let mut p = start(yaml);
    assert_eq!(
        errors(step(&mut p, "pay", "actor", Some(json!({})))),
        vec![
            "Action 'pay' is not allowed due to if condition",
            "Response is invalid: data must have required property 'amount'",
        ]
    );
    assert_eq!(
        errors(step(&mut p, "pay", "actor", Some(json!({"amount": "ten"})))),
        vec![
            "Action 'pay' is not allowed due to if condition",
            "Response is invalid: data/amount must be number",
        ]
    );
}

#[test]
fn process_validation_and_missing_transition_revert_the_update() {
    let yaml = r#"
actors:
  client:
    properties:
      name: string
actions:
  rename:
    update:
      - set: actors.client.name
        value: 42
  retitle:
    update:
      - set: title
        value: 7
  setvar:
    update: vars.count
  finish:
    update: result
states:
  initial:
    transitions:
      - on: rename
        goto: ~
      - on: retitle
        goto: ~
      - on: setvar
        goto: ~
      - on: finish
        by: nobody
        goto: (done)
vars:
  count: integer
result: string
"#;
    let mut p = start(yaml);
    assert_eq!(
        errors(step(&mut p, "rename", "client", None)),
        vec!["Actor 'client' is invalid: data/name must be string"]
    );
    assert_eq!(p.actors()["client"], json!({"title": "client"}));
    assert_eq!(
        errors(step(&mut p, "retitle", "client", None)),
        vec!["Title is invalid: must be a string"]
    );
    assert_eq!(
        errors(step(&mut p, "setvar", "client", Some(json!("x")))),
        vec!["Variable 'count' is invalid: data must be integer"]
    );
    assert_eq!(p.vars(), &json!({}));
    assert_eq!(
        errors(step(&mut p, "finish", "client", Some(json!(1)))),
        vec!["Result is invalid: data must be string"]
    );
    assert_eq!(
        errors(step(&mut p, "finish", "client", Some(json!("ok")))),
        vec!["No transition found for action 'finish' in state 'initial' for actor client"]
    );
    assert_eq!(p.result(), &Value::Null);
}

#[test]
fn a_removed_actor_is_missing() {
    let yaml = r#"
actors:
  client: {}
actions:
  reset:
    update:
      set: actors
      value: {}
states:
  initial:
    on: reset
    goto: (done)
"#;
    let mut p = start(yaml);
    assert_eq!(
        errors(step(&mut p, "reset", "client", None)),
        vec!["Actor 'client' is missing"]
    );
    assert_eq!(p.actors(), &json!({"client": {"title": "client"}}));
}

#[test]
fn a_failing_expression_rejects_the_step_and_changes_nothing() {
    let yaml = r#"
actions:
  go:
    update:
      set: vars.x
      value: !ref "abs('not a number')"
states:
  initial:
    transitions:
      - on: go
        goto: next
      - on: enter
        goto: next
  next:
    description: !ref "to_number(vars.missing) + length(@)"
    on: stop
    goto: (done)
"#;
    let mut p = start(yaml);
    let out = step(&mut p, "go", "actor", None);
    assert!(out.skipped);
    assert!(
        out.errors[0].starts_with("Failed to evaluate JMESPath expression: abs('not a number'). "),
        "{:?}",
        out.errors
    );
    assert_eq!(p.current_key(), "initial");
    assert_eq!(p.vars(), &json!({}));
    assert_eq!(p.events().len(), 2);

    // The next state's data function fails: the step is rejected, the log not written.
    let out = step(&mut p, "enter", "actor", None);
    assert!(out.skipped);
    assert!(
        out.errors[0].contains("to_number(vars.missing)"),
        "{:?}",
        out.errors
    );
    assert_eq!(p.current_key(), "initial");
    assert!(p.current().get("actor").is_none());
    assert_eq!(p.previous(), &json!([]));
    assert_eq!(p.events().len(), 3);
}

#[test]
fn a_changed_role_is_refused() {
    let yaml = r#"
actors:
  admin:
    role: admin
actions:
  demote:
    update:
      set: actors.admin.role
      value: user
states:
  initial:
    on: demote
    goto: (done)
"#;
    let mut p = start(yaml);
    assert_eq!(
        errors(step(&mut p, "demote", "admin", None)),
        vec!["Role of actor 'admin' must not be changed"]
    );
}

#[test]
fn update_modes_replace_merge_and_append() {
    let yaml = r#"
actions:
  fill:
    update:
      - set: vars.obj
        value: { a: 1 }
      - set: vars.obj
        mode: merge
        value: { b: 2 }
      - set: vars.list
        mode: merge
        value: [1]
      - set: vars.list
        mode: merge
        value: [2, 3]
      - set: vars.log
        mode: append
        value: first
      - set: vars.log
        mode: append
        value: second
      - set: vars.skipped
        if: false
        value: never
states:
  initial:
    on: fill
    goto: (done)
"#;
    let mut p = start(yaml);
    let out = step(&mut p, "fill", "actor", None);
    assert!(!out.skipped, "{:?}", out.errors);
    assert_eq!(
        p.vars(),
        &json!({"obj": {"a": 1, "b": 2}, "list": [1, 2, 3], "log": ["first", "second"]})
    );
}

#[test]
fn current_actor_updates_write_through() {
    let yaml = r#"
actors:
  person:
    properties:
      name: string
actions:
  introduce:
    update:
      set: current.actor
      mode: merge
states:
  initial:
    on: introduce
    goto: (done)
"#;
    let mut p = start(yaml);
    let out = step(
        &mut p,
        "introduce",
        "person",
        Some(json!({"name": "Alice"})),
    );
    assert!(!out.skipped, "{:?}", out.errors);
    assert_eq!(
        p.actors()["person"],
        json!({"title": "person", "name": "Alice"})
    );
}

#[test]
fn rejected_steps_revert_written_through_and_computed_paths() {
    let yaml = r#"
actors:
  person:
    properties:
      name: string
actions:
  introduce:
    update:
      set: current.actor
      mode: merge
  compute:
    update:
      - set: !ref "'vars.count'"
        value: x
      - set: title
        value: !ref "'Renamed'"
states:
  initial:
    transitions:
      - on: introduce
        goto: ~
      - on: compute
        by: nobody
        goto: ~
vars:
  count: string
"#;
    let mut p = start(yaml);
    assert_eq!(
        errors(step(
            &mut p,
            "introduce",
            "person",
            Some(json!({"name": 1}))
        )),
        vec!["Actor 'person' is invalid: data/name must be string"]
    );
    assert_eq!(p.actors()["person"], json!({"title": "person"}));
    assert_eq!(
        errors(step(&mut p, "compute", "person", None)),
        vec!["No transition found for action 'compute' in state 'initial' for actor person"]
    );
    assert_eq!(p.vars(), &json!({}));
    assert_ne!(p.title(), &json!("Renamed"));
}

#[test]
fn forbidden_update_paths_reject_the_step() {
    let yaml = r#"
actions:
  hack:
    update: current.key
states:
  initial:
    on: hack
    goto: (done)
"#;
    let mut p = start(yaml);
    assert_eq!(
        errors(step(&mut p, "hack", "actor", None)),
        vec!["Not allowed to set 'current.key' through update instructions"]
    );
}

const MEETING: &str = r#"
actors:
  person_*:
    title: Person
    properties:
      name: string
      present: !default true
actions:
  start:
    actor: service:planner
    update: actors
states:
  initial:
    on: start
    by: service:planner
    goto: talking
  talking:
    transitions:
      - on: talk
        goto: ~
      - on: end
        goto: (done)
"#;

#[test]
fn wildcard_actors_are_created_from_their_schema() {
    let mut p = start(MEETING);
    assert_eq!(p.actors(), &json!({}));
    assert_eq!(
        p.current()["actions"][0]["actor"],
        json!(["service:planner"])
    );
    let out = step(
        &mut p,
        "start",
        "service:planner",
        Some(json!({"person_1": null, "person_2": {"name": "Bob"}})),
    );
    assert!(!out.skipped, "{:?}", out.errors);
    assert_eq!(
        p.actors(),
        &json!({
            "person_1": {"title": "Person 1", "present": true},
            "person_2": {"title": "Person 2", "present": true, "name": "Bob"}
        })
    );
    // implicit action `talking.talk` may be done by every process actor
    assert_eq!(
        p.current()["actions"][0]["actor"],
        json!(["person_1", "person_2"])
    );
    let out = step(&mut p, "talk", "person_2", None);
    assert!(!out.skipped, "{:?}", out.errors);
    assert_eq!(p.current_key(), "talking");
}

#[test]
fn the_wildcard_state_adds_its_transitions_everywhere() {
    let yaml = r#"
states:
  '*':
    on: cancel
    goto: (cancelled)
  initial:
    on: next
    goto: second
  second:
    on: finish
    goto: (done)
"#;
    let mut p = start(yaml);
    let keys: Vec<Value> = p.current()["actions"]
        .as_array()
        .expect("actions")
        .iter()
        .map(|a| a["key"].clone())
        .collect();
    assert_eq!(keys, vec![json!("next"), json!("cancel")]);
    step(&mut p, "next", "actor", None);
    step(&mut p, "cancel", "actor", None);
    assert_eq!(p.current_key(), "(cancelled)");
    assert_eq!(p.current()["title"], json!("cancelled"));
    assert!(!p.is_running());
}

#[test]
fn timeouts_fire_when_due_and_only_then() {
    let yaml = r#"
states:
  initial:
    transitions:
      - on: answer
        goto: (answered)
      - after: 2 days
        goto: (expired)
      - after: 1 hour
        if: !ref "previous[?title == 'Reminder'] | length(@) == 0"
        goto: ~
        log: { title: Reminder }
"#;
    let mut p = start(yaml);
    assert_eq!(p.next_timeout(), Some(t0().plus_seconds(3600.0)));
    assert!(!p.timeout(t0().plus_seconds(60.0)).expect("timeout"));
    assert_eq!(p.events().len(), 1);
    assert!(p.timeout(t0().plus_seconds(3600.0)).expect("timeout"));
    assert_eq!(p.current_key(), "initial");
    assert_eq!(p.previous()[0]["title"], json!("Reminder"));
    assert!(p
        .timeout(t0().plus_seconds(2.0 * 86400.0))
        .expect("timeout"));
    assert_eq!(p.current_key(), "(expired)");
    assert!(matches!(p.last_event(), Event::Timeout(_)));
    assert_eq!(p.events().len(), 3);
}

#[test]
fn automatic_transitions_are_followed() {
    let yaml = r#"
actions:
  pick:
    update: vars.choice
states:
  initial:
    on: pick
    goto: route
  route:
    transitions:
      - on: ~
        if: !ref vars.choice == 'a'
        goto: (a)
      - on: ~
        goto: (b)
vars:
  choice: string
"#;
    let mut p = start(yaml);
    step(&mut p, "pick", "actor", Some(json!("a")));
    assert_eq!(p.current_key(), "(a)");
    let mut q = start(yaml);
    step(&mut q, "pick", "actor", Some(json!("z")));
    assert_eq!(q.current_key(), "(b)");
}

/// SPEC 1.3/2.7: an explicit `- on: ~` transition has the action log, so it is logged,
/// with title and description null (no action is current in the state it leaves) and the
/// actor of the event; after instantiate there is no actor.
#[test]
fn explicit_automatic_transitions_are_logged() {
    let yaml = r#"
states:
  initial:
    transitions:
      - on: ~
        goto: wait
  wait:
    on: go
    goto: route
  route:
    transitions:
      - on: ~
        goto: quiet
  quiet:
    transitions:
      - on: ~
        log: false
        goto: (done)
"#;
    let mut p = start(yaml);
    assert_eq!(
        p.previous(),
        &json!([{"title": null, "description": null, "timestamp": "2025-01-01T00:00:00.000Z"}])
    );
    step(&mut p, "go", "actor", None);
    assert_eq!(p.current_key(), "(done)");
    let previous = p.previous().as_array().expect("previous");
    assert_eq!(previous.len(), 3);
    assert_eq!(previous[1]["title"], json!("go"));
    assert_eq!(
        previous[2],
        json!({"title": null, "description": null, "timestamp": "2025-01-01T00:00:00.000Z",
               "actor": {"key": "actor"}})
    );
}

#[test]
fn data_functions_see_the_process() {
    let yaml = r#"
title: Greeting
actors:
  guest:
    properties:
      name: string
actions:
  arrive:
    update:
      - set: actors.guest.name
        value: !ref current.response
      - set: vars.token
        value: !ref uuid()
states:
  initial:
    on: arrive
    goto: welcome
  welcome:
    instructions:
      guest: !tpl 'Welcome {{ actors.guest.name }} to {{ title }} & more'
    description: !select
      $: !ref length(actors.guest.name)
      '5': five letters
      '*': other
    on: leave
    goto: (gone)
vars:
  token: string
"#;
    let mut p = start(yaml);
    step(&mut p, "arrive", "guest", Some(json!("Alice")));
    assert_eq!(
        p.current()["instructions"]["guest"],
        json!("Welcome Alice to Greeting & more")
    );
    assert_eq!(p.current()["description"], json!("five letters"));
    // uuid() is derived from the event: replaying gives the same value
    let token = p.vars()["token"].clone();
    assert!(token.as_str().is_some_and(|t| t.len() == 36));
    let again = replay(p.scenario().clone(), p.events()).expect("replay");
    assert_eq!(again.vars()["token"], token);
}

#[test]
fn notify_messages_and_service_triggers() {
    let yaml = r#"
actions:
  request:
    actor: client
  approve:
    actor: service:checker
    update: vars.verdict
actors:
  client: {}
states:
  initial:
    on: request
    goto: checking
  checking:
    instructions:
      service:checker: Check the request
    on: approve
    by: service:checker
    goto: (approved)
vars:
  verdict: string
"#;
    let mut p = start(yaml);
    step(&mut p, "request", "client", None);
    let messages = p.notify_messages().expect("notify");
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].service, "checker");
    assert_eq!(messages[0].trigger, Some(json!("approve")));
    assert_eq!(
        messages[0].message["instructions"],
        json!("Check the request")
    );
    assert_eq!(messages[0].message["actions"][0]["key"], json!("approve"));
    let out = p
        .service_response("checker", json!("fine"), t0())
        .expect("service response");
    assert!(!out.skipped, "{:?}", out.errors);
    assert_eq!(p.current_key(), "(approved)");
    assert_eq!(p.vars()["verdict"], json!("fine"));
    assert!(matches!(
        p.service_response("checker", json!("again"), t0()),
        Err(Error::NoTrigger(..))
    ));
}

#[test]
fn prediction_follows_the_likely_path() {
    let mut p = start(HANDSHAKE);
    let keys = |p: &Process| -> Vec<Value> {
        p.predict()
            .expect("predict")
            .iter()
            .map(|s| s["key"].clone())
            .collect()
    };
    assert_eq!(keys(&p), vec![json!("wait_on_recipient"), json!("(done)")]);
    step(&mut p, "greet", "initiator", None);
    assert_eq!(keys(&p), vec![json!("(done)")]);
    step(&mut p, "reply", "recipient", None);
    assert_eq!(keys(&p), Vec::<Value>::new());

    let looping = start(
        r#"
actions:
  talk:
    update: { set: result, mode: append }
states:
  initial:
    on: talk
    goto: ~
"#,
    );
    assert!(matches!(looping.predict(), Err(Error::MaxIterations)));
}

/// SPEC 2.10: a simulated step whose update cannot be evaluated without a response makes
/// the whole prediction fail with that error, not come out empty.
#[test]
fn a_failing_simulated_step_fails_the_prediction() {
    let p = start(
        r#"
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
    );
    let err = p.predict().expect_err("the prediction fails");
    assert!(matches!(err, Error::Fn(_)), "{err:?}");
    assert_eq!(
        err.to_string(),
        "Failed to evaluate JMESPath expression: current.response.members + `1`. invalid type: \
         '+' expects two numbers or two strings, received null and a number"
    );
    // The prediction is simulated: the process itself is unchanged.
    assert_eq!(p.events().len(), 1);
}

#[test]
fn replay_rebuilds_and_refuses_tampered_chains() {
    let mut p = start(HANDSHAKE);
    step(&mut p, "reply", "recipient", None); // skipped
    step(&mut p, "greet", "initiator", None);
    step(&mut p, "reply", "recipient", None);
    let events = p.events().to_vec();

    let again = replay(p.scenario().clone(), &events).expect("replay");
    assert_eq!(again.to_json(), p.to_json());

    // a changed action breaks its hash
    let mut tampered = events.clone();
    if let Event::Action(e) = &mut tampered[2] {
        e.action = "ignore".into();
    }
    let err = replay(p.scenario().clone(), &tampered).expect_err("tampered");
    assert!(err.to_string().contains("has been tampered with"), "{err}");

    // a re-hashed forgery still cannot pass validation
    let mut forged = events.clone();
    if let Event::Action(e) = &mut forged[1] {
        e.skipped = false;
        e.errors.clear();
    }
    forged[1].rehash();
    let err = replay(p.scenario().clone(), &forged).expect_err("forged");
    assert!(
        err.to_string().contains("should have been skipped"),
        "{err}"
    );
    // … and the event after it no longer links to it
    let mut relinked = events.clone();
    relinked[1] = forged[1].clone();
    if let Event::Action(e) = &mut relinked[1] {
        e.skipped = true;
    }
    relinked[1].rehash();
    let err = replay(p.scenario().clone(), &relinked).expect_err("relinked");
    assert!(
        err.to_string().contains("does not follow previous event"),
        "{err}"
    );

    // dropping an event breaks the links
    let mut gap = events.clone();
    gap.remove(2);
    assert!(replay(p.scenario().clone(), &gap).is_err());

    // a timeout that was not due is refused
    let mut early = events[..1].to_vec();
    let mut timeout = Event::Timeout(TimeoutEvent {
        previous: early[0].hash().to_string(),
        timestamp: t0(),
        version: crate::process::EVENT_VERSION,
        signer: None,
        signature: None,
        hash: String::new(),
    });
    timeout.rehash();
    early.push(timeout);
    let err = replay(p.scenario().clone(), &early).expect_err("timeout");
    assert!(
        err.to_string().contains("should not have been triggered"),
        "{err}"
    );
}

#[test]
fn replay_refuses_an_accepted_step_that_should_have_been_skipped() {
    let p = start(HANDSHAKE);
    let mut events = p.events().to_vec();
    let mut forged = Event::Action(ActionEvent {
        previous: events[0].hash().to_string(),
        timestamp: t0(),
        action: "reply".into(),
        actor: StepActor::key("recipient").for_event(),
        response: None,
        skipped: false,
        errors: vec![],
        version: crate::process::EVENT_VERSION,
        signer: None,
        signature: None,
        hash: String::new(),
    });
    forged.rehash();
    events.push(forged);
    let err = replay(p.scenario().clone(), &events).expect_err("forged");
    assert!(
        err.to_string().contains("should have been skipped"),
        "{err}"
    );
    assert!(err
        .to_string()
        .contains("Action 'reply' is not allowed in state 'initial'"));
}

#[test]
fn migrate_moves_a_chain_to_another_scenario_version() {
    let mut p = start(HANDSHAKE);
    step(&mut p, "greet", "initiator", None);
    let v2 = scenario(&HANDSHAKE.replace("(done)", "(completed)"));
    let migrated = migrate(v2.clone(), p.events()).expect("migrate");
    assert_eq!(migrated.current_key(), "wait_on_recipient");
    let Event::Instantiate(e) = &migrated.events()[0] else {
        panic!("instantiate")
    };
    assert_eq!(e.scenario, v2.id());
}
