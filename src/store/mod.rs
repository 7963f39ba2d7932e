//! Durable storage of one node: scenarios, process event chains and their views, timers, the
//! outbox of notifications owed, and API keys (DESIGN "Storage", STYLE 5 and 6).
//!
//! The API is split by concern into small traits — [`ScenarioStore`], [`ProcessStore`],
//! [`TimerStore`], [`OutboxStore`] and [`ApiKeyStore`] — and [`Store`] is all of them together.
//! Code that needs one concern takes `&S` with `S: ScenarioStore + ?Sized`, which accepts a
//! `&dyn Store` as well.
//!
//! Everything of one applied step is written by [`ProcessStore::append`] in one durable write
//! transaction: the new events, the process view, the pending timer and the outbox entries.
//! An append whose first event does not continue the stored chain fails with
//! [`Error::Conflict`] and changes nothing (optimistic concurrency).
//!
//! The logic lives once, in [`KvStore`], over a byte-level transactional key–value
//! [`Backend`]; three backends implement it: [`MemoryStore`] (tests of upper layers),
//! [`RedbStore`] (the default) and `SledStore` (cargo feature `sled`). The API is
//! synchronous; the node calls it from a blocking task. `docs/storage.md` describes the
//! tables and their encoding.
#![warn(missing_docs)]

mod kv;
mod memory;
mod redb;
#[cfg(feature = "sled")]
mod sled;
#[cfg(test)]
mod tests;

pub use self::kv::{Backend, Entries, KvStore, Table, WriteTx};
pub use self::memory::{MemoryBackend, MemoryStore};
pub use self::redb::{RedbBackend, RedbStore};
#[cfg(feature = "sled")]
pub use self::sled::{SledBackend, SledStore};

use crate::process::{Event, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The version of the storage format this build writes. A store records it when it is created;
/// opening a store with a newer version fails with [`Error::Version`], an older one is migrated.
pub const STORE_VERSION: u32 = 2;

/// What can go wrong when reading or writing the store.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The batch does not continue the stored chain: its first event names another
    /// predecessor than the stored last event, or an instantiate event was appended to a
    /// process that exists. Nothing was written.
    #[error(
        "append conflict on process '{process}': the batch continues from {} but the stored chain ends at {}",
        or_nothing(.expected),
        or_nothing(.found)
    )]
    Conflict {
        /// The process.
        process: String,
        /// The hash the batch's first event names as `previous` (`None` for instantiate).
        expected: Option<String>,
        /// The hash of the stored last event (`None` when the process does not exist).
        found: Option<String>,
    },
    /// The record does not exist.
    #[error("{kind} '{id}' not found")]
    NotFound {
        /// What was looked for: `scenario`, `process`, `outbox entry` or `api key`.
        kind: &'static str,
        /// Its id.
        id: String,
    },
    /// The caller passed a batch that breaks an invariant of the chain (no events, events
    /// that do not link to each other, an instantiate event for another process, …).
    #[error("invalid append batch for process '{process}': {reason}")]
    InvalidBatch {
        /// The process.
        process: String,
        /// The broken invariant.
        reason: String,
    },
    /// The group write ([`ProcessStore::append_many`]) that carried this batch failed as a
    /// whole, so nothing of it was written; the cause is shared by every batch in the group.
    #[error("the group commit failed: {0}")]
    GroupFailed(std::sync::Arc<Error>),
    /// Stored data cannot be read back; the message names the record.
    #[error("corrupt store: {0}")]
    Corrupt(String),
    /// The store was written by a newer version of the node.
    #[error(
        "the store has format version {found}, but this node supports up to version {supported}"
    )]
    Version {
        /// The version found in the store.
        found: u32,
        /// [`STORE_VERSION`].
        supported: u32,
    },
    /// A record could not be written as JSON.
    #[error("cannot encode a record as JSON: {0}")]
    Encode(#[source] serde_json::Error),
    /// The store folder could not be created.
    #[error("store folder: {0}")]
    Io(#[from] std::io::Error),
    /// The redb backend failed.
    #[error("redb: {0}")]
    Redb(#[from] Box<::redb::Error>),
    /// The sled backend failed.
    #[cfg(feature = "sled")]
    #[error("sled: {0}")]
    Sled(#[from] ::sled::Error),
}

fn or_nothing(hash: &Option<String>) -> String {
    match hash {
        Some(h) => format!("'{h}'"),
        None => "nothing".to_string(),
    }
}

/// The result of a store operation.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A stored scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScenarioRecord {
    /// The scenario id (derived from its content).
    pub id: String,
    /// The normalized scenario.
    pub json: Value,
    /// A disabled scenario is hidden from listings and starts no new processes; running
    /// processes keep working.
    pub disabled: bool,
    /// When it was first stored.
    pub created: Timestamp,
}

/// The end of a stored chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Head {
    /// The number of stored events (the next event gets this position).
    pub len: u64,
    /// The hash of the last event.
    pub hash: String,
}

/// Everything one applied step writes, committed together by [`ProcessStore::append`].
#[derive(Debug, Clone, PartialEq)]
pub struct AppendBatch {
    /// The new events, in chain order (at least one). The first is an instantiate event for a
    /// new process, or names the stored last event as `previous`.
    pub events: Vec<Event>,
    /// The process view after the events (replaces the stored one).
    pub view: Value,
    /// The next timeout of the process; `None` clears a pending one.
    pub timer: Option<Timestamp>,
    /// Notifications owed because of these events.
    pub outbox: Vec<OutboxEntry>,
}

/// A notification owed to a service, delivered (and retried) until it is marked done.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OutboxEntry {
    /// Unique in the node; chosen by the caller (the node uses `{after}:{n}`, so applying the
    /// same step twice cannot owe a message twice).
    pub id: String,
    /// The process it belongs to.
    pub process: String,
    /// The service to notify.
    pub service: String,
    /// The hash of the event whose step made the notification owed.
    pub after: String,
    /// The message to deliver.
    pub message: Value,
    /// Failed deliveries so far.
    pub attempts: u32,
    /// Not to be delivered before this time.
    pub next_attempt: Timestamp,
    /// Pending (delivered when due) or failed (parked: never delivered again unless retried
    /// by hand). Entries written before the state existed are pending.
    #[serde(default)]
    pub state: OutboxState,
    /// What the last attempt got: the HTTP status of a webhook's answer, when there was one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Why the last attempt failed, or why the service's answer was not applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

/// The state of an [`OutboxEntry`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutboxState {
    /// Delivered at `next_attempt` (and retried after failures).
    #[default]
    Pending,
    /// Parked after too many failed attempts, or after an answer that could not be applied:
    /// listed, but delivered again only when retried by hand.
    Failed,
}

/// Who issued an API key: the key acts on their behalf and never beyond them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyIssuer {
    /// The id of the user who issued the key (for a key issued by a key: the user at the
    /// root of the chain).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// That user's roles when the key was issued.
    #[serde(default)]
    pub roles: Vec<String>,
    /// The id of the API key that issued this key, when a key did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

/// An API key. The token itself is never stored, only its SHA-256.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiKey {
    /// The key id.
    pub id: String,
    /// A name given by the issuer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// SHA-256 of the token, lowercase hex.
    pub hash: String,
    /// Privileges such as `process:start` or `*`.
    pub privileges: Vec<String>,
    /// Process restrictions `{scenario, actors, actions}` (`null` for none).
    #[serde(default)]
    pub processes: Value,
    /// When the key stops working (`None`: never).
    #[serde(default)]
    pub expiration: Option<Timestamp>,
    /// When the key was last used.
    #[serde(default)]
    pub last_used: Option<Timestamp>,
    /// True once revoked.
    #[serde(default)]
    pub revoked: bool,
    /// When the key was issued.
    pub issued: Timestamp,
    /// Who issued it (`None` for keys stored before issuers were recorded: such a key acts
    /// for nobody, so only one holding `process:super` still reaches processes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<KeyIssuer>,
    /// The service the key is bound to: its steps are those of actor `service:NAME`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
}

/// Process ids, in id order.
pub type ProcessIds<'a> = Box<dyn Iterator<Item = Result<String>> + 'a>;

/// Scenarios by id.
pub trait ScenarioStore {
    /// Stores a scenario. Storing an id that exists changes nothing (the id is derived from
    /// the content) and returns `false`; a new one returns `true`.
    fn put_scenario(&self, id: &str, json: &Value, created: Timestamp) -> Result<bool>;
    /// The scenario with this id.
    fn scenario(&self, id: &str) -> Result<Option<ScenarioRecord>>;
    /// All scenarios, disabled ones included, in id order.
    fn scenarios(&self) -> Result<Vec<ScenarioRecord>>;
    /// Disables or enables a scenario ([`Error::NotFound`] when it is unknown).
    fn set_scenario_disabled(&self, id: &str, disabled: bool) -> Result<()>;
}

/// Event chains, their views and the actor index.
pub trait ProcessStore {
    /// Commits one applied step (events, view, timer, outbox) in one durable transaction.
    /// Fails with [`Error::Conflict`] — writing nothing — when the first event does not
    /// continue the stored chain, or is an instantiate event for a process that exists.
    fn append(&self, process: &str, batch: AppendBatch) -> Result<()>;
    /// Replaces the events from position `from` (at least 1) on with the batch's, in one
    /// durable transaction with its view, timer and outbox: the switch of a process to
    /// another branch after a fork (only events that are not final are ever replaced). The
    /// batch's first event must name the stored event at `from - 1` as `previous`
    /// ([`Error::Conflict`] otherwise, writing nothing).
    fn replace(&self, process: &str, from: u64, batch: AppendBatch) -> Result<()>;
    /// Group commit: the batches of several steps (of one process or many) in one durable
    /// write transaction, applied in order as if by [`ProcessStore::append`] one after the
    /// other, each checked as `append` checks it. Returns one result per batch, in order: a
    /// batch that is invalid or does not continue its chain fails alone (writing nothing)
    /// while the others are written; when the transaction itself fails, nothing is written
    /// and every other batch fails with [`Error::GroupFailed`].
    fn append_many(&self, batches: Vec<(String, AppendBatch)>) -> Vec<Result<()>>;
    /// The end of the chain (`None` when the process does not exist).
    fn head(&self, process: &str) -> Result<Option<Head>>;
    /// All events of a process, in order ([`Error::NotFound`] for an unknown process).
    fn events(&self, process: &str) -> Result<Vec<Event>>;
    /// The events from position `from` on (position 0 is the instantiate event).
    fn events_from(&self, process: &str, from: u64) -> Result<Vec<Event>>;
    /// The position of the event with this hash in the process chain.
    fn event_position(&self, process: &str, hash: &str) -> Result<Option<u64>>;
    /// The stored process view.
    fn view(&self, process: &str) -> Result<Option<Value>>;
    /// Replaces the view of an existing process (after a rebuild by replay) and reindexes its
    /// actors.
    fn put_view(&self, process: &str, view: &Value) -> Result<()>;
    /// The ids of all processes, in id order.
    fn processes(&self) -> Result<ProcessIds<'_>>;
    /// The ids of the processes where an actor has user id `user` or one of `roles`, in id
    /// order (from the `actors` map of the stored views).
    fn processes_of(&self, user: Option<&str>, roles: &[String]) -> Result<Vec<String>>;
}

/// One pending timeout per process, ordered by due time.
pub trait TimerStore {
    /// Sets (or with `None` clears) the timer of a process. [`ProcessStore::append`] does this
    /// for every step; this is for rebuilds.
    fn set_timer(&self, process: &str, at: Option<Timestamp>) -> Result<()>;
    /// The pending timer of a process.
    fn timer(&self, process: &str) -> Result<Option<Timestamp>>;
    /// The timers due at `now` (at or before it), earliest first.
    fn due_timers(&self, now: Timestamp) -> Result<Vec<(Timestamp, String)>>;
    /// The earliest pending timer, due or not (so a timer loop knows how long to sleep).
    fn next_timer(&self) -> Result<Option<(Timestamp, String)>>;
}

/// Notifications owed to services.
pub trait OutboxStore {
    /// Up to `limit` entries due at `now`, by `next_attempt` (then id).
    fn due_outbox(&self, now: Timestamp, limit: usize) -> Result<Vec<OutboxEntry>>;
    /// One entry.
    fn outbox_entry(&self, id: &str) -> Result<Option<OutboxEntry>>;
    /// All pending entries of a process, by id.
    fn outbox_of(&self, process: &str) -> Result<Vec<OutboxEntry>>;
    /// Removes a delivered entry ([`Error::NotFound`] when it is unknown).
    fn outbox_done(&self, id: &str) -> Result<()>;
    /// Removes delivered entries in one write transaction; unknown ids are skipped.
    fn outbox_done_many(&self, ids: &[String]) -> Result<()>;
    /// Records a failed delivery: one more attempt, next try at `next_attempt`. Returns the
    /// updated entry.
    fn outbox_retry(&self, id: &str, next_attempt: Timestamp) -> Result<OutboxEntry>;
    /// Replaces a stored entry (attempts, next attempt, state, status, last error); a
    /// failed entry leaves the due list, a pending one is due at its `next_attempt`
    /// ([`Error::NotFound`] when it is unknown: it was delivered meanwhile).
    fn outbox_update(&self, entry: &OutboxEntry) -> Result<()>;
}

/// API keys by id, findable by the hash of their token.
pub trait ApiKeyStore {
    /// Stores (or replaces) a key.
    fn put_api_key(&self, key: &ApiKey) -> Result<()>;
    /// The key with this id.
    fn api_key(&self, id: &str) -> Result<Option<ApiKey>>;
    /// The key whose token has this SHA-256 hex hash.
    fn api_key_by_hash(&self, hash: &str) -> Result<Option<ApiKey>>;
    /// All keys, revoked ones included, in id order.
    fn api_keys(&self) -> Result<Vec<ApiKey>>;
    /// Marks a key revoked ([`Error::NotFound`] when it is unknown).
    fn revoke_api_key(&self, id: &str) -> Result<()>;
    /// Records the use of a key.
    fn touch_api_key(&self, id: &str, at: Timestamp) -> Result<()>;
}

/// Rejected attempts of local users: kept by the node for a while, never part of the chain.
pub trait RejectedStore {
    /// Records a rejected attempt, keeping only the latest `keep` of the process.
    fn push_rejected(&self, process: &str, attempt: &Value, keep: usize) -> Result<()>;
    /// The kept rejected attempts of a process, oldest first.
    fn rejected(&self, process: &str) -> Result<Vec<Value>>;
}

/// The whole store of a node.
pub trait Store:
    ScenarioStore
    + ProcessStore
    + TimerStore
    + OutboxStore
    + ApiKeyStore
    + RejectedStore
    + Send
    + Sync
    + 'static
{
}

impl<T> Store for T where
    T: ScenarioStore
        + ProcessStore
        + TimerStore
        + OutboxStore
        + ApiKeyStore
        + RejectedStore
        + Send
        + Sync
        + 'static
{
}
