//! The store logic, written once over a byte-level transactional key–value [`Backend`].
//!
//! Keys are encoded so that byte order is the order the store needs (see `docs/storage.md`):
//! a string that is followed by more key parts is length-prefixed (`u32` big-endian), so a
//! prefix scan over it cannot run into a longer string; positions are `u64` big-endian; times
//! are milliseconds as `i64` with the sign bit flipped, big-endian. Values are JSON.

use super::{
    ApiKey, ApiKeyStore, AppendBatch, Error, Head, OutboxEntry, OutboxState, OutboxStore,
    ProcessIds, ProcessStore, RejectedStore, Result, ScenarioRecord, ScenarioStore, TimerStore,
    STORE_VERSION,
};
use crate::process::{Event, Timestamp};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use std::cell::{Cell, RefCell};
use std::collections::BTreeSet;
use std::fmt::Display;
use std::sync::Arc;

/// The tables of the store. A backend keeps each apart (a redb table, a key prefix in sled).
/// The numbers are the tags of [`Table::tag`] and part of the sled format: a new table gets a
/// new number at the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Table {
    /// `"version"` → the store format version.
    Meta = 0,
    /// scenario id → [`ScenarioRecord`].
    Scenarios = 1,
    /// (process, position) → event.
    Events = 2,
    /// (process, event hash) → position.
    EventIndex = 3,
    /// process → [`Head`]; a process exists when it has a head.
    Heads = 4,
    /// process → view.
    Views = 5,
    /// (actor key, process) → nothing: the actor index.
    Actors = 6,
    /// process → the actor keys it is indexed under.
    ProcessActors = 7,
    /// (due time, process) → nothing.
    Timers = 8,
    /// process → its timer's due time.
    ProcessTimer = 9,
    /// outbox id → [`OutboxEntry`].
    Outbox = 10,
    /// (next attempt, outbox id) → nothing.
    OutboxDue = 11,
    /// api key id → [`ApiKey`].
    ApiKeys = 12,
    /// token hash → api key id.
    ApiKeyHashes = 13,
    /// process → the latest rejected attempts (a JSON list, oldest first).
    Rejected = 14,
}

impl Table {
    /// Every table.
    pub const ALL: [Table; 15] = [
        Table::Meta,
        Table::Scenarios,
        Table::Events,
        Table::EventIndex,
        Table::Heads,
        Table::Views,
        Table::Actors,
        Table::ProcessActors,
        Table::Timers,
        Table::ProcessTimer,
        Table::Outbox,
        Table::OutboxDue,
        Table::ApiKeys,
        Table::ApiKeyHashes,
        Table::Rejected,
    ];

    /// The table's name in a backend.
    pub fn name(self) -> &'static str {
        match self {
            Table::Meta => "meta",
            Table::Scenarios => "scenarios",
            Table::Events => "events",
            Table::EventIndex => "event_index",
            Table::Heads => "heads",
            Table::Views => "views",
            Table::Actors => "actors",
            Table::ProcessActors => "process_actors",
            Table::Timers => "timers",
            Table::ProcessTimer => "process_timer",
            Table::Outbox => "outbox",
            Table::OutboxDue => "outbox_due",
            Table::ApiKeys => "api_keys",
            Table::ApiKeyHashes => "api_key_hashes",
            Table::Rejected => "rejected",
        }
    }

    /// A small number identifying the table (its position in [`Table::ALL`]), used as a key
    /// prefix by backends with one keyspace.
    pub fn tag(self) -> u8 {
        self as u8
    }
}

/// Key–value pairs of a range scan, in key order.
pub type Entries<'a> = Box<dyn Iterator<Item = Result<(Vec<u8>, Vec<u8>)>> + 'a>;

/// The operations of a write transaction.
pub trait WriteTx {
    /// Reads a value, seeing this transaction's own writes.
    fn get(&mut self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>>;
    /// Writes a value.
    fn put(&mut self, table: Table, key: &[u8], value: &[u8]) -> Result<()>;
    /// Removes a value (no error when absent).
    fn delete(&mut self, table: Table, key: &[u8]) -> Result<()>;
}

/// A transactional, ordered key–value store with separate tables.
pub trait Backend: Send + Sync + 'static {
    /// Reads a committed value.
    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>>;
    /// The committed entries with `from <= key < to` (`to = None`: to the end), in key order.
    fn range(&self, table: Table, from: &[u8], to: Option<&[u8]>) -> Result<Entries<'_>>;
    /// Runs `f` in one write transaction. When `f` returns `Ok` the transaction is committed
    /// and durable before `write` returns; when it returns `Err` nothing is changed. `f` may
    /// run more than once (a backend may retry on conflict), so it must have no other effect
    /// than its writes and what it records for its caller.
    fn write(&self, f: &dyn Fn(&mut dyn WriteTx) -> Result<()>) -> Result<()>;
}

/// The store, over any [`Backend`]. See [`super::MemoryStore`], [`super::RedbStore`].
#[derive(Debug)]
pub struct KvStore<B> {
    backend: B,
}

const VERSION_KEY: &[u8] = b"version";

impl<B> KvStore<B> {
    /// A store on a backend that already holds the current version (no check).
    pub(super) fn from_parts(backend: B) -> Self {
        KvStore { backend }
    }
}

impl<B: Backend> KvStore<B> {
    /// Opens a store on a backend: a new store gets [`STORE_VERSION`]; an older store is
    /// migrated; a newer one fails with [`Error::Version`].
    pub fn with_backend(backend: B) -> Result<Self> {
        // What migrations need to read, read before the write transaction (a sled
        // transaction cannot scan); nothing else uses the store while it opens.
        let before = match backend.get(Table::Meta, VERSION_KEY)? {
            Some(bytes) => Some(decode::<u32>(&bytes, "the store format version")?),
            None => None,
        };
        if let Some(found) = before.filter(|v| *v < STORE_VERSION) {
            tracing::info!(from = found, to = STORE_VERSION, "migrating the store");
        }
        let actor_keys = match before {
            Some(version) if version < 2 => all_actor_keys(&backend)?,
            _ => Vec::new(),
        };
        backend.write(&|tx| match tx.get(Table::Meta, VERSION_KEY)? {
            None => put_json(tx, Table::Meta, VERSION_KEY, &STORE_VERSION),
            Some(bytes) => {
                let found: u32 = decode(&bytes, "the store format version")?;
                if found > STORE_VERSION {
                    return Err(Error::Version {
                        found,
                        supported: STORE_VERSION,
                    });
                }
                if found < STORE_VERSION {
                    for from in found..STORE_VERSION {
                        migrate(tx, from, &actor_keys)?;
                    }
                    put_json(tx, Table::Meta, VERSION_KEY, &STORE_VERSION)?;
                }
                Ok(())
            }
        })?;
        Ok(KvStore { backend })
    }

    /// The format version recorded in the store.
    pub fn version(&self) -> Result<u32> {
        match self.backend.get(Table::Meta, VERSION_KEY)? {
            Some(bytes) => decode(&bytes, "the store format version"),
            None => Err(Error::Corrupt("the store format version is missing".into())),
        }
    }

    /// The backend.
    pub fn backend(&self) -> &B {
        &self.backend
    }

    fn get_json<T: DeserializeOwned>(
        &self,
        table: Table,
        key: &[u8],
        what: impl Display,
    ) -> Result<Option<T>> {
        self.backend
            .get(table, key)?
            .map(|bytes| decode(&bytes, what))
            .transpose()
    }

    /// The values of a whole table, decoded.
    fn all_json<T: DeserializeOwned>(&self, table: Table) -> Result<Vec<T>> {
        self.backend
            .range(table, &[], None)?
            .map(|entry| {
                let (key, value) = entry?;
                decode(&value, format_args!("{} '{}'", table.name(), lossy(&key)))
            })
            .collect()
    }
}

/// The actor keys of every stored process view, as [`actor_keys`] gives them now.
fn all_actor_keys<B: Backend>(backend: &B) -> Result<Vec<(String, BTreeSet<String>)>> {
    backend
        .range(Table::Views, &[], None)?
        .map(|entry| {
            let (key, value) = entry?;
            let process = utf8(&key, "a process id")?;
            let view: Value = decode(&value, format_args!("the view of process '{process}'"))?;
            Ok((process, actor_keys(&view)))
        })
        .collect()
}

/// Brings a store of format version `from` to version `from + 1`, inside the transaction that
/// then records the new version. `actor_keys`: what [`all_actor_keys`] read before.
fn migrate(
    tx: &mut dyn WriteTx,
    from: u32,
    actor_keys: &[(String, BTreeSet<String>)],
) -> Result<()> {
    match from {
        // Version 0: stores written before the version key existed. Nothing to change.
        0 => Ok(()),
        // Version 1 indexed the roles of actors that have an id too; version 2 indexes an
        // actor by its id when it has one, else by its roles — as visibility is decided —
        // so that the index alone answers who takes part in a process.
        1 => {
            for (process, keys) in actor_keys {
                reindex_actors(tx, process, keys)?;
            }
            Ok(())
        }
        _ => Err(Error::Version {
            found: from,
            supported: STORE_VERSION,
        }),
    }
}

// --- encoding -------------------------------------------------------------------------------

fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(value).map_err(Error::Encode)
}

/// Decodes a record. Whatever the API accepts nests at most [`crate::json::MAX_DEPTH`]
/// levels, well inside serde_json's recursion limit; a record nested deeper than that limit
/// (written before the API had its depth limit) is read again without it, so that such a
/// process stays readable.
fn decode<T: DeserializeOwned>(bytes: &[u8], what: impl Display) -> Result<T> {
    serde_json::from_slice(bytes).or_else(|e| {
        let deep = e.is_syntax() && e.to_string().starts_with("recursion limit exceeded");
        if !deep {
            return Err(Error::Corrupt(format!("{what}: {e}")));
        }
        let mut de = serde_json::Deserializer::from_slice(bytes);
        de.disable_recursion_limit();
        <T as serde::Deserialize>::deserialize(&mut de)
            .and_then(|value| de.end().map(|()| value))
            .map_err(|e| Error::Corrupt(format!("{what}: {e}")))
    })
}

fn put_json<T: Serialize + ?Sized>(
    tx: &mut dyn WriteTx,
    table: Table,
    key: &[u8],
    value: &T,
) -> Result<()> {
    tx.put(table, key, &encode(value)?)
}

fn get_json<T: DeserializeOwned>(
    tx: &mut dyn WriteTx,
    table: Table,
    key: &[u8],
    what: impl Display,
) -> Result<Option<T>> {
    tx.get(table, key)?
        .map(|bytes| decode(&bytes, what))
        .transpose()
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A string followed by more key parts: `u32` big-endian length, then the bytes.
fn prefixed(s: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(4 + s.len());
    key.extend_from_slice(&(s.len() as u32).to_be_bytes());
    key.extend_from_slice(s.as_bytes());
    key
}

/// A position: `u64` big-endian.
fn position_key(process: &str, position: u64) -> Vec<u8> {
    let mut key = prefixed(process);
    key.extend_from_slice(&position.to_be_bytes());
    key
}

pub(super) fn pair_key(first: &str, second: &str) -> Vec<u8> {
    let mut key = prefixed(first);
    key.extend_from_slice(second.as_bytes());
    key
}

/// Milliseconds with the sign bit flipped, big-endian: byte order is time order.
fn time_bytes(millis: i64) -> [u8; 8] {
    ((millis as u64) ^ (1 << 63)).to_be_bytes()
}

fn time_from(bytes: &[u8]) -> Option<i64> {
    let raw: [u8; 8] = bytes.get(..8)?.try_into().ok()?;
    Some((u64::from_be_bytes(raw) ^ (1 << 63)) as i64)
}

fn time_key(at: Timestamp, id: &str) -> Vec<u8> {
    let mut key = time_bytes(at.millis()).to_vec();
    key.extend_from_slice(id.as_bytes());
    key
}

/// The end (exclusive) of the time keys due at `now`.
fn due_end(now: Timestamp) -> Option<[u8; 8]> {
    now.millis().checked_add(1).map(time_bytes)
}

/// The first key after every key that starts with `prefix` (`None`: no such key).
fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

fn utf8(bytes: &[u8], what: impl Display) -> Result<String> {
    String::from_utf8(bytes.to_vec()).map_err(|_| Error::Corrupt(format!("{what}: not UTF-8")))
}

// --- actor index ----------------------------------------------------------------------------

/// The actor-index keys of a view: `user:{id}` for an actor with a string `id`, `role:{r}` for
/// each role of an actor's `role` (a string or a list of strings).
fn actor_keys(view: &Value) -> BTreeSet<String> {
    let mut keys = BTreeSet::new();
    let Some(Value::Object(actors)) = view.get("actors") else {
        return keys;
    };
    for actor in actors.values() {
        // An actor with an id is that user's alone; only one without an id is played by
        // whoever has one of its roles.
        let id = actor
            .get("id")
            .and_then(Value::as_str)
            .filter(|id| !id.is_empty());
        if let Some(id) = id {
            keys.insert(format!("user:{id}"));
            continue;
        }
        match actor.get("role") {
            Some(Value::String(role)) => {
                keys.insert(format!("role:{role}"));
            }
            Some(Value::Array(roles)) => {
                keys.extend(
                    roles
                        .iter()
                        .filter_map(Value::as_str)
                        .map(|r| format!("role:{r}")),
                );
            }
            _ => {}
        }
    }
    keys
}

fn reindex_actors(tx: &mut dyn WriteTx, process: &str, keys: &BTreeSet<String>) -> Result<()> {
    let what = format_args!("the actor keys of process '{process}'");
    let old: BTreeSet<String> =
        get_json(tx, Table::ProcessActors, process.as_bytes(), what)?.unwrap_or_default();
    if &old == keys {
        return Ok(());
    }
    for key in old.difference(keys) {
        tx.delete(Table::Actors, &pair_key(key, process))?;
    }
    for key in keys.difference(&old) {
        tx.put(Table::Actors, &pair_key(key, process), &[])?;
    }
    put_json(tx, Table::ProcessActors, process.as_bytes(), keys)
}

// --- timers and outbox inside a transaction -------------------------------------------------

fn write_timer(tx: &mut dyn WriteTx, process: &str, at: Option<Timestamp>) -> Result<()> {
    let what = format_args!("the timer of process '{process}'");
    let old: Option<i64> = get_json(tx, Table::ProcessTimer, process.as_bytes(), what)?;
    if let Some(old) = old {
        tx.delete(
            Table::Timers,
            &time_key(Timestamp::from_millis(old), process),
        )?;
    }
    match at {
        Some(at) => {
            tx.put(Table::Timers, &time_key(at, process), &[])?;
            put_json(tx, Table::ProcessTimer, process.as_bytes(), &at.millis())
        }
        None => tx.delete(Table::ProcessTimer, process.as_bytes()),
    }
}

fn write_outbox(tx: &mut dyn WriteTx, entry: &OutboxEntry) -> Result<()> {
    let what = format_args!("outbox entry '{}'", entry.id);
    let old: Option<OutboxEntry> = get_json(tx, Table::Outbox, entry.id.as_bytes(), what)?;
    if let Some(old) = old {
        tx.delete(Table::OutboxDue, &time_key(old.next_attempt, &old.id))?;
    }
    // A failed (parked) entry is listed but never due.
    if entry.state == OutboxState::Pending {
        tx.put(
            Table::OutboxDue,
            &time_key(entry.next_attempt, &entry.id),
            &[],
        )?;
    }
    put_json(tx, Table::Outbox, entry.id.as_bytes(), entry)
}

/// Removes the outbox entries owed because of the event `hash` (ids `{hash}:{n}`, numbered
/// from 0): the event is gone with a replaced branch, so nothing is owed.
fn drop_owed(tx: &mut dyn WriteTx, hash: &str) -> Result<()> {
    for n in 0.. {
        let id = format!("{hash}:{n}");
        let what = format_args!("outbox entry '{id}'");
        let Some(entry) = get_json::<OutboxEntry>(tx, Table::Outbox, id.as_bytes(), what)? else {
            return Ok(());
        };
        tx.delete(Table::OutboxDue, &time_key(entry.next_attempt, &id))?;
        tx.delete(Table::Outbox, id.as_bytes())?;
    }
    Ok(())
}

// --- the append check -----------------------------------------------------------------------

/// Checks that the batch is well formed on its own: at least one event, an instantiate event
/// only first and for this process, each later event naming the one before it, outbox entries
/// of this process.
fn check_batch(process: &str, batch: &AppendBatch) -> Result<()> {
    let invalid = |reason: String| Error::InvalidBatch {
        process: process.to_string(),
        reason,
    };
    let Some(first) = batch.events.first() else {
        return Err(invalid("a batch needs at least one event".into()));
    };
    if let Event::Instantiate(e) = first {
        if e.id != process {
            return Err(invalid(format!(
                "the instantiate event is for process '{}'",
                e.id
            )));
        }
    }
    for (i, pair) in batch.events.windows(2).enumerate() {
        let [before, event] = pair else { continue };
        match event.previous() {
            None => {
                return Err(invalid(format!(
                    "event {} of the batch is an instantiate event",
                    i + 1
                )))
            }
            Some(previous) if previous != before.hash() => {
                return Err(invalid(format!(
                    "event {} of the batch names '{previous}' as previous, not '{}'",
                    i + 1,
                    before.hash()
                )))
            }
            Some(_) => {}
        }
    }
    if let Some(entry) = batch.outbox.iter().find(|o| o.process != process) {
        return Err(invalid(format!(
            "outbox entry '{}' is for process '{}'",
            entry.id, entry.process
        )));
    }
    Ok(())
}

/// Checks that the batch continues the stored chain.
fn check_continues(process: &str, head: Option<&Head>, first: &Event) -> Result<()> {
    let expected = first.previous();
    let found = head.map(|h| h.hash.as_str());
    if expected == found {
        return Ok(());
    }
    Err(Error::Conflict {
        process: process.to_string(),
        expected: expected.map(str::to_string),
        found: found.map(str::to_string),
    })
}

// --- the traits -----------------------------------------------------------------------------

impl<B: Backend> ScenarioStore for KvStore<B> {
    fn put_scenario(&self, id: &str, json: &Value, created: Timestamp) -> Result<bool> {
        let record = encode(&ScenarioRecord {
            id: id.to_string(),
            json: json.clone(),
            disabled: false,
            created,
        })?;
        let added = Cell::new(false);
        self.backend.write(&|tx| {
            added.set(false);
            if tx.get(Table::Scenarios, id.as_bytes())?.is_none() {
                tx.put(Table::Scenarios, id.as_bytes(), &record)?;
                added.set(true);
            }
            Ok(())
        })?;
        Ok(added.get())
    }

    fn scenario(&self, id: &str) -> Result<Option<ScenarioRecord>> {
        self.get_json(
            Table::Scenarios,
            id.as_bytes(),
            format_args!("scenario '{id}'"),
        )
    }

    fn scenarios(&self) -> Result<Vec<ScenarioRecord>> {
        self.all_json(Table::Scenarios)
    }

    fn set_scenario_disabled(&self, id: &str, disabled: bool) -> Result<()> {
        self.backend.write(&|tx| {
            let what = format_args!("scenario '{id}'");
            let mut record: ScenarioRecord = get_json(tx, Table::Scenarios, id.as_bytes(), what)?
                .ok_or_else(|| Error::NotFound {
                kind: "scenario",
                id: id.to_string(),
            })?;
            record.disabled = disabled;
            put_json(tx, Table::Scenarios, id.as_bytes(), &record)
        })
    }
}

/// A batch checked on its own and encoded, ready to be written inside a transaction.
struct Prepared<'a> {
    process: &'a str,
    batch: &'a AppendBatch,
    /// (hash, JSON) of each event.
    events: Vec<(&'a str, Vec<u8>)>,
    view: Vec<u8>,
    actors: BTreeSet<String>,
}

impl<'a> Prepared<'a> {
    /// Checks the batch on its own ([`check_batch`]) and encodes what it writes.
    fn new(process: &'a str, batch: &'a AppendBatch) -> Result<Self> {
        check_batch(process, batch)?;
        let events = batch
            .events
            .iter()
            .map(|e| Ok((e.hash(), encode(e)?)))
            .collect::<Result<Vec<_>>>()?;
        Ok(Prepared {
            process,
            batch,
            events,
            view: encode(&batch.view)?,
            actors: actor_keys(&batch.view),
        })
    }

    /// Checks that the batch continues the chain as stored in `tx` and writes it. On a
    /// [`Error::Conflict`] nothing has been written.
    fn write(&self, tx: &mut dyn WriteTx) -> Result<()> {
        let what = format_args!("the head of process '{}'", self.process);
        let head: Option<Head> = get_json(tx, Table::Heads, self.process.as_bytes(), what)?;
        self.write_after(tx, head)
    }

    /// Removes the stored events from position `from` on and writes the batch after the
    /// ones before (a switch to another branch). Nothing is written when the batch does not
    /// continue the event at `from - 1`.
    fn write_replacing(&self, tx: &mut dyn WriteTx, from: u64) -> Result<()> {
        let process = self.process;
        let what = format_args!("the head of process '{process}'");
        let head: Option<Head> = get_json(tx, Table::Heads, process.as_bytes(), what)?;
        let Some(head) = head.filter(|h| from >= 1 && from <= h.len) else {
            return Err(Error::InvalidBatch {
                process: process.to_string(),
                reason: format!("no stored events to replace from position {from}"),
            });
        };
        let mut kept = None;
        for position in (from - 1)..head.len {
            let key = position_key(process, position);
            let what = format_args!("event {position} of process '{process}'");
            let event: Event = get_json(tx, Table::Events, &key, what)?.ok_or_else(|| {
                Error::Corrupt(format!(
                    "process '{process}': event {position} is missing from the chain"
                ))
            })?;
            if position + 1 == from {
                kept = Some(Head {
                    len: from,
                    hash: event.hash().to_string(),
                });
                continue;
            }
            tx.delete(Table::Events, &key)?;
            tx.delete(Table::EventIndex, &pair_key(process, event.hash()))?;
            drop_owed(tx, event.hash())?;
        }
        self.write_after(tx, kept)
    }

    /// Writes the batch after the chain that ends at `head`.
    fn write_after(&self, tx: &mut dyn WriteTx, head: Option<Head>) -> Result<()> {
        let process = self.process;
        let (Some(first), Some(last)) = (self.batch.events.first(), self.batch.events.last())
        else {
            return Err(Error::InvalidBatch {
                process: process.to_string(),
                reason: "a batch needs at least one event".into(),
            });
        };
        check_continues(process, head.as_ref(), first)?;

        let mut len = head.map_or(0, |h| h.len);
        for (hash, json) in &self.events {
            tx.put(Table::Events, &position_key(process, len), json)?;
            tx.put(
                Table::EventIndex,
                &pair_key(process, hash),
                &len.to_be_bytes(),
            )?;
            len += 1;
        }
        let head = Head {
            len,
            hash: last.hash().to_string(),
        };
        put_json(tx, Table::Heads, process.as_bytes(), &head)?;
        tx.put(Table::Views, process.as_bytes(), &self.view)?;
        reindex_actors(tx, process, &self.actors)?;
        write_timer(tx, process, self.batch.timer)?;
        for entry in &self.batch.outbox {
            write_outbox(tx, entry)?;
        }
        Ok(())
    }
}

impl<B: Backend> ProcessStore for KvStore<B> {
    fn append(&self, process: &str, batch: AppendBatch) -> Result<()> {
        let prepared = Prepared::new(process, &batch)?;
        self.backend.write(&|tx| prepared.write(tx))
    }

    fn replace(&self, process: &str, from: u64, batch: AppendBatch) -> Result<()> {
        let prepared = Prepared::new(process, &batch)?;
        self.backend.write(&|tx| prepared.write_replacing(tx, from))
    }

    fn append_many(&self, batches: Vec<(String, AppendBatch)>) -> Vec<Result<()>> {
        // Each batch is checked on its own first; only the good ones enter the transaction.
        let prepared: Vec<Result<Prepared<'_>>> = batches
            .iter()
            .map(|(process, batch)| Prepared::new(process, batch))
            .collect();
        // The outcome of each batch inside the transaction (refilled if the backend runs
        // the transaction again). A conflict skips that batch only; any other error aborts
        // the whole transaction.
        let outcomes: RefCell<Vec<Option<Error>>> = RefCell::new(Vec::new());
        let written = self.backend.write(&|tx| {
            let mut results = Vec::with_capacity(prepared.len());
            for p in &prepared {
                match p {
                    Ok(p) => match p.write(tx) {
                        Ok(()) => results.push(None),
                        Err(e @ Error::Conflict { .. }) => results.push(Some(e)),
                        Err(e) => return Err(e),
                    },
                    // Its error is reported from `prepared` below.
                    Err(_) => results.push(None),
                }
            }
            *outcomes.borrow_mut() = results;
            Ok(())
        });
        match written {
            Ok(()) => {
                let mut outcomes = outcomes.into_inner().into_iter();
                prepared
                    .into_iter()
                    .map(|p| match (p, outcomes.next().flatten()) {
                        (Err(e), _) | (Ok(_), Some(e)) => Err(e),
                        (Ok(_), None) => Ok(()),
                    })
                    .collect()
            }
            Err(e) => {
                // Nothing was written: every batch fails, the ones that were fine with the
                // cause of the failed transaction.
                let cause = Arc::new(e);
                prepared
                    .into_iter()
                    .map(|p| match p {
                        Err(e) => Err(e),
                        Ok(_) => Err(Error::GroupFailed(cause.clone())),
                    })
                    .collect()
            }
        }
    }

    fn head(&self, process: &str) -> Result<Option<Head>> {
        let what = format_args!("the head of process '{process}'");
        self.get_json(Table::Heads, process.as_bytes(), what)
    }

    fn events(&self, process: &str) -> Result<Vec<Event>> {
        self.events_from(process, 0)
    }

    fn events_from(&self, process: &str, from: u64) -> Result<Vec<Event>> {
        let Some(head) = self.head(process)? else {
            return Err(Error::NotFound {
                kind: "process",
                id: process.to_string(),
            });
        };
        let prefix = prefixed(process);
        let end = prefix_end(&prefix);
        let mut events = Vec::new();
        let mut expected = from;
        for entry in
            self.backend
                .range(Table::Events, &position_key(process, from), end.as_deref())?
        {
            let (key, value) = entry?;
            let position = key
                .get(prefix.len()..)
                .and_then(|p| <[u8; 8]>::try_from(p).ok())
                .map(u64::from_be_bytes);
            if position != Some(expected) {
                return Err(Error::Corrupt(format!(
                    "process '{process}': event {expected} is missing from the chain"
                )));
            }
            events.push(decode(
                &value,
                format_args!("event {expected} of process '{process}'"),
            )?);
            expected += 1;
        }
        if expected < head.len {
            return Err(Error::Corrupt(format!(
                "process '{process}': the head names {} events, {expected} are stored",
                head.len
            )));
        }
        Ok(events)
    }

    fn event_position(&self, process: &str, hash: &str) -> Result<Option<u64>> {
        let Some(bytes) = self
            .backend
            .get(Table::EventIndex, &pair_key(process, hash))?
        else {
            return Ok(None);
        };
        let raw = <[u8; 8]>::try_from(bytes.as_slice()).map_err(|_| {
            Error::Corrupt(format!(
                "the position of event '{hash}' of process '{process}'"
            ))
        })?;
        Ok(Some(u64::from_be_bytes(raw)))
    }

    fn view(&self, process: &str) -> Result<Option<Value>> {
        let what = format_args!("the view of process '{process}'");
        self.get_json(Table::Views, process.as_bytes(), what)
    }

    fn put_view(&self, process: &str, view: &Value) -> Result<()> {
        let json = encode(view)?;
        let actors = actor_keys(view);
        self.backend.write(&|tx| {
            if tx.get(Table::Heads, process.as_bytes())?.is_none() {
                return Err(Error::NotFound {
                    kind: "process",
                    id: process.to_string(),
                });
            }
            tx.put(Table::Views, process.as_bytes(), &json)?;
            reindex_actors(tx, process, &actors)
        })
    }

    fn processes(&self) -> Result<ProcessIds<'_>> {
        let entries = self.backend.range(Table::Heads, &[], None)?;
        Ok(Box::new(entries.map(|entry| {
            let (key, _) = entry?;
            utf8(&key, "a process id")
        })))
    }

    fn processes_of(&self, user: Option<&str>, roles: &[String]) -> Result<Vec<String>> {
        let keys = user
            .map(|u| format!("user:{u}"))
            .into_iter()
            .chain(roles.iter().map(|r| format!("role:{r}")));
        let mut found = BTreeSet::new();
        for key in keys {
            let prefix = prefixed(&key);
            let end = prefix_end(&prefix);
            for entry in self.backend.range(Table::Actors, &prefix, end.as_deref())? {
                let (k, _) = entry?;
                let process = k.get(prefix.len()..).unwrap_or_default();
                found.insert(utf8(process, format_args!("the actor index for '{key}'"))?);
            }
        }
        Ok(found.into_iter().collect())
    }
}

/// The due time and process of a key of the timers table.
fn timer_entry(key: &[u8]) -> Result<(Timestamp, String)> {
    let millis = time_from(key).ok_or_else(|| Error::Corrupt("a timer key is too short".into()))?;
    let process = utf8(key.get(8..).unwrap_or_default(), "a timer's process id")?;
    Ok((Timestamp::from_millis(millis), process))
}

impl<B: Backend> TimerStore for KvStore<B> {
    fn set_timer(&self, process: &str, at: Option<Timestamp>) -> Result<()> {
        self.backend.write(&|tx| write_timer(tx, process, at))
    }

    fn timer(&self, process: &str) -> Result<Option<Timestamp>> {
        let what = format_args!("the timer of process '{process}'");
        let millis: Option<i64> = self.get_json(Table::ProcessTimer, process.as_bytes(), what)?;
        Ok(millis.map(Timestamp::from_millis))
    }

    fn due_timers(&self, now: Timestamp) -> Result<Vec<(Timestamp, String)>> {
        let end = due_end(now);
        self.backend
            .range(Table::Timers, &[], end.as_ref().map(|e| e.as_slice()))?
            .map(|entry| timer_entry(&entry?.0))
            .collect()
    }

    fn next_timer(&self) -> Result<Option<(Timestamp, String)>> {
        self.backend
            .range(Table::Timers, &[], None)?
            .next()
            .map(|entry| timer_entry(&entry?.0))
            .transpose()
    }
}

impl<B: Backend> OutboxStore for KvStore<B> {
    fn due_outbox(&self, now: Timestamp, limit: usize) -> Result<Vec<OutboxEntry>> {
        let end = due_end(now);
        self.backend
            .range(Table::OutboxDue, &[], end.as_ref().map(|e| e.as_slice()))?
            .take(limit)
            .map(|entry| {
                let (key, _) = entry?;
                let id = utf8(key.get(8..).unwrap_or_default(), "an outbox due key")?;
                self.outbox_entry(&id)?.ok_or_else(|| {
                    Error::Corrupt(format!("the outbox due index names missing entry '{id}'"))
                })
            })
            .collect()
    }

    fn outbox_entry(&self, id: &str) -> Result<Option<OutboxEntry>> {
        self.get_json(
            Table::Outbox,
            id.as_bytes(),
            format_args!("outbox entry '{id}'"),
        )
    }

    fn outbox_of(&self, process: &str) -> Result<Vec<OutboxEntry>> {
        // The outbox holds only pending entries, so a scan is cheap enough; ids come in order.
        let entries: Vec<OutboxEntry> = self.all_json(Table::Outbox)?;
        Ok(entries
            .into_iter()
            .filter(|e| e.process == process)
            .collect())
    }

    fn outbox_done(&self, id: &str) -> Result<()> {
        self.backend.write(&|tx| {
            let what = format_args!("outbox entry '{id}'");
            let entry: OutboxEntry =
                get_json(tx, Table::Outbox, id.as_bytes(), what)?.ok_or_else(|| {
                    Error::NotFound {
                        kind: "outbox entry",
                        id: id.to_string(),
                    }
                })?;
            tx.delete(Table::OutboxDue, &time_key(entry.next_attempt, id))?;
            tx.delete(Table::Outbox, id.as_bytes())
        })
    }

    fn outbox_done_many(&self, ids: &[String]) -> Result<()> {
        self.backend.write(&|tx| {
            for id in ids {
                let what = format_args!("outbox entry '{id}'");
                let entry: Option<OutboxEntry> = get_json(tx, Table::Outbox, id.as_bytes(), what)?;
                if let Some(entry) = entry {
                    tx.delete(Table::OutboxDue, &time_key(entry.next_attempt, id))?;
                    tx.delete(Table::Outbox, id.as_bytes())?;
                }
            }
            Ok(())
        })
    }

    fn outbox_update(&self, entry: &OutboxEntry) -> Result<()> {
        self.backend.write(&|tx| {
            let what = format_args!("outbox entry '{}'", entry.id);
            let old: Option<OutboxEntry> = get_json(tx, Table::Outbox, entry.id.as_bytes(), what)?;
            if old.is_none() {
                return Err(Error::NotFound {
                    kind: "outbox entry",
                    id: entry.id.clone(),
                });
            }
            write_outbox(tx, entry)
        })
    }

    fn outbox_retry(&self, id: &str, next_attempt: Timestamp) -> Result<OutboxEntry> {
        let updated = Cell::new(None);
        self.backend.write(&|tx| {
            let what = format_args!("outbox entry '{id}'");
            let mut entry: OutboxEntry = get_json(tx, Table::Outbox, id.as_bytes(), what)?
                .ok_or_else(|| Error::NotFound {
                    kind: "outbox entry",
                    id: id.to_string(),
                })?;
            entry.attempts = entry.attempts.saturating_add(1);
            entry.next_attempt = next_attempt;
            write_outbox(tx, &entry)?;
            updated.set(Some(entry));
            Ok(())
        })?;
        updated.take().ok_or_else(|| Error::NotFound {
            kind: "outbox entry",
            id: id.to_string(),
        })
    }
}

impl<B: Backend> ApiKeyStore for KvStore<B> {
    fn put_api_key(&self, key: &ApiKey) -> Result<()> {
        let json = encode(key)?;
        self.backend.write(&|tx| {
            let what = format_args!("api key '{}'", key.id);
            let old: Option<ApiKey> = get_json(tx, Table::ApiKeys, key.id.as_bytes(), what)?;
            if let Some(old) = old.filter(|old| old.hash != key.hash) {
                tx.delete(Table::ApiKeyHashes, old.hash.as_bytes())?;
            }
            tx.put(Table::ApiKeyHashes, key.hash.as_bytes(), key.id.as_bytes())?;
            tx.put(Table::ApiKeys, key.id.as_bytes(), &json)
        })
    }

    fn api_key(&self, id: &str) -> Result<Option<ApiKey>> {
        self.get_json(
            Table::ApiKeys,
            id.as_bytes(),
            format_args!("api key '{id}'"),
        )
    }

    fn api_key_by_hash(&self, hash: &str) -> Result<Option<ApiKey>> {
        let Some(id) = self.backend.get(Table::ApiKeyHashes, hash.as_bytes())? else {
            return Ok(None);
        };
        let id = utf8(&id, "an api key hash index entry")?;
        let key = self.api_key(&id)?.ok_or_else(|| {
            Error::Corrupt(format!("the api key hash index names missing key '{id}'"))
        })?;
        // The index is only a hint: the key itself must carry the hash.
        Ok(Some(key).filter(|k| k.hash == hash))
    }

    fn api_keys(&self) -> Result<Vec<ApiKey>> {
        self.all_json(Table::ApiKeys)
    }

    fn revoke_api_key(&self, id: &str) -> Result<()> {
        self.update_api_key(id, &|key| key.revoked = true)
    }

    fn touch_api_key(&self, id: &str, at: Timestamp) -> Result<()> {
        self.update_api_key(id, &|key| key.last_used = Some(at))
    }
}

impl<B: Backend> RejectedStore for KvStore<B> {
    fn push_rejected(&self, process: &str, attempt: &Value, keep: usize) -> Result<()> {
        self.backend.write(&|tx| {
            let what = format_args!("rejected attempts of '{process}'");
            let mut list: Vec<Value> =
                get_json(tx, Table::Rejected, process.as_bytes(), what)?.unwrap_or_default();
            list.push(attempt.clone());
            let excess = list.len().saturating_sub(keep.max(1));
            list.drain(..excess);
            put_json(tx, Table::Rejected, process.as_bytes(), &list)
        })
    }

    fn rejected(&self, process: &str) -> Result<Vec<Value>> {
        let what = format_args!("rejected attempts of '{process}'");
        Ok(self
            .get_json(Table::Rejected, process.as_bytes(), what)?
            .unwrap_or_default())
    }
}

impl<B: Backend> KvStore<B> {
    fn update_api_key(&self, id: &str, change: &dyn Fn(&mut ApiKey)) -> Result<()> {
        self.backend.write(&|tx| {
            let what = format_args!("api key '{id}'");
            let mut key: ApiKey =
                get_json(tx, Table::ApiKeys, id.as_bytes(), what)?.ok_or_else(|| {
                    Error::NotFound {
                        kind: "api key",
                        id: id.to_string(),
                    }
                })?;
            change(&mut key);
            put_json(tx, Table::ApiKeys, id.as_bytes(), &key)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_sort_as_the_store_needs() {
        assert!(time_bytes(-5) < time_bytes(0));
        assert!(time_bytes(0) < time_bytes(1));
        assert!(time_bytes(i64::MIN) < time_bytes(i64::MAX));
        assert_eq!(time_from(&time_bytes(-123_456)), Some(-123_456));
        assert!(position_key("p", 9) < position_key("p", 10));
        assert!(position_key("p", u64::MAX) < prefix_end(&prefixed("p")).unwrap_or_default());
        // A longer id sharing the prefix cannot fall in another process's range.
        assert!(position_key("pq", 0) > prefix_end(&prefixed("p")).unwrap_or_default());
        assert_eq!(prefix_end(&[1, 255]), Some(vec![2]));
        assert_eq!(prefix_end(&[255, 255]), None);
    }

    #[test]
    fn actor_keys_come_from_ids_and_roles() {
        let view = serde_json::json!({"actors": {
            "client": {"title": "Client", "id": "u1"},
            "admin": {"title": "Admin", "role": ["admin", "ops"]},
            "clerk": {"title": "Clerk", "role": "clerk", "id": "u2"},
            "other": {"title": "Other"}
        }});
        let keys: Vec<String> = actor_keys(&view).into_iter().collect();
        // clerk has an id: it is u2's, whatever its role
        assert_eq!(keys, ["role:admin", "role:ops", "user:u1", "user:u2"]);
        assert!(actor_keys(&serde_json::json!({})).is_empty());
    }
}
