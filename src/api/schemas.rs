//! Schemas of the process and scenario documents for the OpenAPI document, so that a
//! generated client has real types. Documentation only: the API builds these bodies as
//! JSON (`Process::to_json`, the normalized scenario); `tests/api.rs` checks every answer
//! against them. Values that may be data functions (`{"<ref>": …}`, `{"<tpl>": …}`) in a
//! scenario are typed as any value.
#![allow(dead_code)]

use serde_json::Value;
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// A process: its scenario, actors, variables, result, current state, log of
/// transitions (`previous`) and event chain.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({
    "id": "962ad416-c5ad-4aed-a26e-a25f796ae3f2",
    "title": "Expense approval",
    "isRunning": true,
    "tags": [],
    "scenario": {"id": "1e5acd09-4eda-5439-9073-91f6d95231ad", "title": "Expense approval", "description": "", "tags": [], "actors": {}, "actions": {}, "states": {"initial": {"on": "submit", "goto": "(done)"}}, "vars": {}, "result": {}},
    "actors": {"employee": {"title": "Employee", "id": "claire"}, "manager": {"title": "Manager", "role": "management"}},
    "vars": {"claim": {"amount": 120, "reason": "train tickets"}},
    "result": null,
    "current": {"key": "review", "timestamp": "2026-12-04T21:02:23.042Z", "title": "review", "description": "", "instructions": {"manager": "Please review the claim of 120."}, "notify": [], "actions": [{"key": "approve", "title": "approve", "description": "", "actor": ["manager"], "response": {}}]},
    "previous": [{"title": "Submit a claim", "description": "", "timestamp": "2026-12-04T21:02:23.042Z", "actor": {"key": "employee", "id": "claire"}}],
    "events": [
        {"id": "962ad416-c5ad-4aed-a26e-a25f796ae3f2", "timestamp": "2026-12-04T21:02:23.042Z", "scenario": "1e5acd09-4eda-5439-9073-91f6d95231ad", "actors": {"employee": {"id": "claire"}}, "hash": "ff0b2026c91e831d11876bd405461549c8541fcb2e437105e8f9effda49af72a"},
        {"previous": "ff0b2026c91e831d11876bd405461549c8541fcb2e437105e8f9effda49af72a", "timestamp": "2026-12-04T21:02:23.042Z", "action": "submit", "actor": {"key": "employee", "id": "claire"}, "response": {"amount": 120, "reason": "train tickets"}, "skipped": false, "hash": "473fd0a8d2d6290b722db1f3ebdf7898169141a55bf9cc5c0b52a8693d2afa27"}
    ]
}))]
pub struct Process {
    /// Process id (a UUID).
    #[schema(format = "uuid")]
    id: String,
    /// Title (the scenario's title unless an update instruction set it).
    title: String,
    /// False once the process has reached an end state.
    is_running: bool,
    /// Tags: the scenario's, plus those of the end state reached.
    tags: Vec<String>,
    /// The normalized scenario the process runs, with its id.
    scenario: Scenario,
    /// The actors by key: `title`, `id` and `role` when assigned, and their properties.
    actors: BTreeMap<String, Actor>,
    /// The variables by key.
    #[schema(value_type = Object)]
    vars: Value,
    /// The result: any value (null until set).
    result: Value,
    /// The current state.
    current: CurrentState,
    /// The log of the transitions taken.
    previous: Vec<LogEntry>,
    /// The events, a hash chain: the instantiate event, then actions and timeouts.
    events: Vec<Event>,
    /// The heads of the participants' chains as this node knows them, by node id (this
    /// node's own included): `{hash, len, final}` — `final` is how many events are final
    /// at that node as it announced.
    #[schema(value_type = Option<Object>)]
    heads: Option<Value>,
    /// Rejected attempts kept by this node (the latest 100; never part of the chain):
    /// `{timestamp, action, actor, response, errors}`.
    #[schema(value_type = Option<Vec<Object>>)]
    rejected: Option<Vec<Value>>,
    /// Notifications this node still owes services for the process, pending or parked as
    /// failed (delivered ones are gone).
    notifications: Option<Vec<Notification>>,
    /// With `?predict=true`: the states the process will likely pass through.
    next: Option<Vec<PredictedState>>,
    /// With `?predict=true`, when the prediction failed: why (instead of `next`).
    predict_error: Option<String>,
}

/// An actor of a process.
#[derive(ToSchema)]
pub struct Actor {
    /// Title.
    title: String,
    /// The user assigned to this actor.
    id: Option<String>,
    /// The role (or roles) a user needs to be this actor.
    role: Option<Roles>,
}

/// One role, or a list of roles.
#[derive(ToSchema)]
#[serde(untagged)]
pub enum Roles {
    /// One role.
    One(String),
    /// Any of these roles.
    Any(Vec<String>),
}

/// The state a process is in, its data functions evaluated.
#[derive(ToSchema)]
pub struct CurrentState {
    /// State key (`(name)` for an end state).
    key: String,
    /// When the state was entered.
    #[schema(format = DateTime)]
    timestamp: String,
    /// Title.
    title: Value,
    /// Description.
    description: Value,
    /// Instructions by actor key.
    #[schema(value_type = Object)]
    instructions: Value,
    /// The services to message now.
    notify: Vec<Value>,
    /// The actions that can be performed now, and by whom.
    actions: Vec<StateAction>,
    /// The tags of an end state.
    tag: Option<Vec<String>>,
}

/// A predicted state: a current state without `timestamp` and `notify`.
#[derive(ToSchema)]
pub struct PredictedState {
    /// State key.
    key: String,
    /// Title.
    title: Value,
    /// Description.
    description: Value,
    /// Instructions by actor key.
    #[schema(value_type = Object)]
    instructions: Value,
    /// The actions that could be performed there.
    actions: Vec<StateAction>,
}

/// An action that can be performed in the current state.
#[derive(ToSchema)]
pub struct StateAction {
    /// Action key: the path of `POST /processes/{id}/{action}`.
    key: String,
    /// Title.
    title: Value,
    /// Description.
    description: Value,
    /// The actor keys that may perform it now.
    actor: Vec<String>,
    /// The JSON schema of the response.
    #[schema(value_type = Object)]
    response: Value,
}

/// An entry of the previous log.
#[derive(ToSchema)]
pub struct LogEntry {
    /// Title (null for an automatic transition when no action is current).
    title: Value,
    /// Description.
    description: Value,
    /// When the transition happened.
    #[schema(format = DateTime)]
    timestamp: String,
    /// The actor of the event (`key`, and `id` when known); absent for a timeout.
    #[schema(value_type = Option<Object>)]
    actor: Option<Value>,
}

/// An event of a process's chain.
#[derive(ToSchema)]
#[serde(untagged)]
pub enum Event {
    /// The start of the process.
    Instantiate(InstantiateEvent),
    /// An action attempt (a rejected one is `skipped`, with `errors`).
    Action(ActionEvent),
    /// A timeout that fired.
    Timeout(TimeoutEvent),
}

/// The first event of a process.
#[derive(ToSchema)]
pub struct InstantiateEvent {
    /// Process id.
    #[schema(format = "uuid")]
    id: String,
    /// When the process started.
    #[schema(format = DateTime)]
    timestamp: String,
    /// The scenario id.
    #[schema(format = "uuid")]
    scenario: String,
    /// Actor properties given at the start.
    #[schema(value_type = Option<Object>)]
    actors: Option<Value>,
    /// Encoding version of the hash (1; absent in events written before versions existed).
    version: Option<u8>,
    /// The node that signed the event (its node id), on nodes with an identity.
    signer: Option<String>,
    /// The signer's ed25519 signature over the hash (hex).
    signature: Option<String>,
    /// Hash of the event.
    hash: String,
    /// Whether the event is final at this node: every participant's announced head
    /// descends from it, so it never changes (always true in a process no other node
    /// takes part in).
    #[serde(rename = "final")]
    is_final: Option<bool>,
}

/// An actor performed (or tried to perform) an action.
#[derive(ToSchema)]
pub struct ActionEvent {
    /// Hash of the event before it.
    previous: String,
    /// When.
    #[schema(format = DateTime)]
    timestamp: String,
    /// Action key.
    action: String,
    /// The actor: `key`, and the user's `id` when known.
    #[schema(value_type = Object)]
    actor: Value,
    /// The response, when one was given: any value.
    response: Option<Value>,
    /// Whether the step was rejected.
    skipped: bool,
    /// Why it was rejected.
    errors: Option<Vec<String>>,
    /// Encoding version of the hash (1; absent in events written before versions existed).
    version: Option<u8>,
    /// The node that signed the event (its node id), on nodes with an identity.
    signer: Option<String>,
    /// The signer's ed25519 signature over the hash (hex).
    signature: Option<String>,
    /// Hash of the event.
    hash: String,
    /// Whether the event is final at this node: every participant's announced head
    /// descends from it, so it never changes (always true in a process no other node
    /// takes part in).
    #[serde(rename = "final")]
    is_final: Option<bool>,
}

/// A timeout fired.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TimeoutEvent {
    /// Hash of the event before it.
    previous: String,
    /// When.
    #[schema(format = DateTime)]
    timestamp: String,
    /// Encoding version of the hash (1; absent in events written before versions existed).
    version: Option<u8>,
    /// The node that signed the event (its node id), on nodes with an identity.
    signer: Option<String>,
    /// The signer's ed25519 signature over the hash (hex).
    signature: Option<String>,
    /// Hash of the event.
    hash: String,
    /// Whether the event is final at this node: every participant's announced head
    /// descends from it, so it never changes (always true in a process no other node
    /// takes part in).
    #[serde(rename = "final")]
    is_final: Option<bool>,
}

/// A normalized scenario with its content-derived `id`. Fetched with
/// `GET /scenarios/{id}` it has no `id`, so it can be stored again under the same id.
#[derive(ToSchema)]
#[schema(example = json!({
    "id": "1e5acd09-4eda-5439-9073-91f6d95231ad",
    "$schema": "https://schemas.letsflow.io/v1.0/scenario",
    "name": "approval", "version": "1.0", "title": "Expense approval", "description": "", "tags": [],
    "actors": {"employee": {"title": "Employee", "type": "object", "properties": {}, "additionalProperties": false}},
    "actions": {"submit": {"title": "submit", "description": "", "actor": ["employee"], "if": true, "response": {}, "update": []}},
    "states": {
        "initial": {"title": "initial", "description": "", "instructions": {}, "notify": [], "transitions": [{"on": "submit", "by": ["*"], "if": true, "goto": "(done)", "log": {"title": {"<ref>": "current.action.title"}, "description": {"<ref>": "current.action.description"}, "if": true}}]},
        "(done)": {"title": "done", "description": "", "instructions": {}, "notify": [], "tag": ["(done)"]}
    },
    "vars": {}, "result": {}
}))]
pub struct Scenario {
    /// The scenario id (UUID v5 of the normalized content); absent in `GET /scenarios/{id}`.
    #[schema(format = "uuid")]
    id: Option<String>,
    /// The schema of the scenario format.
    #[serde(rename = "$schema")]
    schema: Option<String>,
    /// Name (with `version`, identifies the scenario for people).
    name: Option<String>,
    /// Version.
    version: Option<String>,
    /// Title.
    title: String,
    /// Description.
    description: String,
    /// Tags.
    tags: Vec<String>,
    /// The actors by key, each a JSON schema of its properties.
    #[schema(value_type = Object)]
    actors: Value,
    /// The actions by key.
    actions: BTreeMap<String, ScenarioAction>,
    /// The states by key (`initial` is where a process starts, `(name)` an end state).
    states: BTreeMap<String, ScenarioState>,
    /// The variables by key, each a JSON schema.
    #[schema(value_type = Object)]
    vars: Value,
    /// The JSON schema of the result.
    #[schema(value_type = Object)]
    result: Value,
    /// `POST /scenarios` only: what is valid but most likely a mistake.
    warnings: Option<Vec<Warning>>,
}

/// An action of a normalized scenario.
#[derive(ToSchema)]
pub struct ScenarioAction {
    /// Title.
    title: Value,
    /// Description.
    description: Value,
    /// The actor keys that may perform it (`*` for all), or a data function.
    actor: Value,
    /// Condition: true, false or a data function.
    #[serde(rename = "if")]
    condition: Value,
    /// The JSON schema of the response.
    #[schema(value_type = Object)]
    response: Value,
    /// Update instructions: `{set, value, stub, mode, if}`.
    update: Vec<Value>,
}

/// A state of a normalized scenario.
#[derive(ToSchema)]
pub struct ScenarioState {
    /// Title.
    title: Value,
    /// Description.
    description: Value,
    /// Instructions by actor key.
    #[schema(value_type = Object)]
    instructions: Value,
    /// Notify entries: `{service, after, if, trigger, message?}`.
    notify: Vec<Value>,
    /// Transitions (absent in an end state).
    transitions: Option<Vec<Transition>>,
    /// Tags of an end state.
    tag: Option<Vec<String>>,
}

/// A transition of a normalized scenario: on an action (`on`, `by`) or after a time
/// (`after`, in seconds); `goto` null stays in the state.
#[derive(ToSchema)]
pub struct Transition {
    /// The action (null: automatic).
    on: Option<String>,
    /// The actors that may take it (`*` for all), or a data function.
    by: Option<Value>,
    /// Seconds after entering the state.
    after: Option<f64>,
    /// Condition: true, false or a data function.
    #[serde(rename = "if")]
    condition: Value,
    /// The next state.
    goto: Option<String>,
    /// What to log in `previous`: `{title, description, if, …}`.
    #[schema(value_type = Object)]
    log: Value,
}

/// A warning about a stored scenario.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Warning {
    /// JSON pointer to the offending key.
    instance_path: String,
    /// `unknownKey`, `undefinedAction`, `unreachableState` or `noWayOut`.
    keyword: String,
    /// What is most likely wrong.
    message: String,
    /// Details, e.g. `{key, closest}` for an unknown key.
    #[schema(value_type = Object)]
    params: Value,
    /// Line of the key in a YAML body.
    line: Option<u64>,
    /// Column of the key in a YAML body.
    column: Option<u64>,
}

/// A notification owed to a service (SPEC 7): pending (delivered when `nextAttempt` comes)
/// or failed (parked after the last attempt, or after an answer that could not be applied;
/// `POST /processes/{id}/notify/{service}` tries it again).
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Notification {
    /// The message id, the same on every attempt: `{event hash}:{n}`.
    id: String,
    /// The service.
    service: String,
    /// `pending` or `failed`.
    #[schema(pattern = "^(pending|failed)$")]
    state: String,
    /// Failed attempts so far.
    attempts: u32,
    /// The HTTP status of the last answer (webhooks), when there was one.
    status: Option<u16>,
    /// When it is delivered next (for a failed one: when it was due last).
    #[schema(format = "date-time")]
    next_attempt: String,
    /// Why the last attempt failed, or why the answer was not applied.
    last_error: Option<String>,
}
