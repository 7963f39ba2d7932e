//! Events: the hash-chained log a process is rebuilt from (SPEC 2.2).
//!
//! The hash of an event is BLAKE3 over the canonical JSON (see [`crate::json::canonical`]) of
//! the event without its `hash`, written as lowercase hex. The instantiate event carries the
//! process id, and every later event names the hash of the one before it, so the chain is
//! bound to its process. `docs/decisions.md` (3) records this encoding; it is a protocol.

use crate::json;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

/// A point in time, written in JSON as ISO-8601 UTC with milliseconds, as JavaScript's
/// `Date.toISOString()` writes it (`2025-01-01T00:00:00.000Z`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub DateTime<Utc>);

impl Timestamp {
    /// The time as milliseconds since the Unix epoch.
    pub fn millis(&self) -> i64 {
        self.0.timestamp_millis()
    }

    /// The time `millis` milliseconds since the Unix epoch (clamped to the valid range).
    pub fn from_millis(millis: i64) -> Self {
        Timestamp(DateTime::from_timestamp_millis(millis).unwrap_or_default())
    }

    /// This time plus a number of seconds (fractions kept to the millisecond).
    pub fn plus_seconds(&self, seconds: f64) -> Self {
        Self::from_millis(
            self.millis()
                .saturating_add((seconds * 1000.0).round() as i64),
        )
    }

    /// Seconds from `earlier` to this time.
    pub fn seconds_since(&self, earlier: &Timestamp) -> f64 {
        (self.millis() - earlier.millis()) as f64 / 1000.0
    }

    /// The JSON text form.
    pub fn to_iso(&self) -> String {
        use chrono::{Datelike, Timelike};
        let (date, time) = (self.0.date_naive(), self.0.time());
        let year = date.year();
        // Years beyond four digits and leap seconds are left to chrono.
        if !(0..=9999).contains(&year) || time.nanosecond() >= 1_000_000_000 {
            return self.0.to_rfc3339_opts(SecondsFormat::Millis, true);
        }
        // `YYYY-MM-DDTHH:MM:SS.mmmZ`, as `to_rfc3339_opts(Millis, true)` writes it.
        let mut out = String::with_capacity(24);
        let mut put = |value: u32, digits: u32, then: char| {
            let mut scale = 10u32.pow(digits - 1);
            while scale > 0 {
                out.push(char::from(b'0' + (value / scale % 10) as u8));
                scale /= 10;
            }
            out.push(then);
        };
        put(year as u32, 4, '-');
        put(date.month(), 2, '-');
        put(date.day(), 2, 'T');
        put(time.hour(), 2, ':');
        put(time.minute(), 2, ':');
        put(time.second(), 2, '.');
        put(time.nanosecond() / 1_000_000, 3, 'Z');
        out
    }

    /// Parses an RFC 3339 / ISO-8601 timestamp.
    pub fn parse(s: &str) -> Option<Self> {
        DateTime::parse_from_rfc3339(s)
            .ok()
            .map(|t| Timestamp(t.with_timezone(&Utc)))
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_iso())
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Timestamp::parse(&s)
            .ok_or_else(|| serde::de::Error::custom(format!("invalid timestamp '{s}'")))
    }
}

/// The encoding version new events get: their hash is BLAKE3 in key-derivation mode with
/// the context [`HASH_CONTEXT`] over the canonical JSON (which then holds `"version":1`),
/// instead of plain BLAKE3 (version 0, events written before versions existed, still
/// verified as they were written). `signer` and `signature` are never hashed.
pub const EVENT_VERSION: u8 = 1;

/// The BLAKE3 key-derivation context of version-1 event hashes (domain separation).
pub const HASH_CONTEXT: &str = "letsflow-node 2026 event hash v1";

fn is_legacy(version: &u8) -> bool {
    *version == 0
}

/// The hasher of events of `version`.
fn hasher(version: u8) -> blake3::Hasher {
    if version == 0 {
        blake3::Hasher::new()
    } else {
        blake3::Hasher::new_derive_key(HASH_CONTEXT)
    }
}

/// The first event of a process.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstantiateEvent {
    /// The process id.
    pub id: String,
    /// When the process was created.
    pub timestamp: Timestamp,
    /// The id of the scenario it runs.
    pub scenario: String,
    /// Actor properties given at the start (e.g. who is the `client`), when any.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub actors: Map<String, Value>,
    /// The encoding version of the hash (see [`EVENT_VERSION`]); 0 for events written
    /// before versions existed.
    #[serde(default, skip_serializing_if = "is_legacy")]
    pub version: u8,
    /// The node that signed the event (its id), when signed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signer: Option<String>,
    /// The signer's ed25519 signature over the hash, when signed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
    /// The event hash.
    pub hash: String,
}

/// An attempt of an actor to perform an action; recorded even when it was rejected.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionEvent {
    /// Hash of the event before this one.
    pub previous: String,
    /// When the action was performed.
    pub timestamp: Timestamp,
    /// The action key.
    pub action: String,
    /// The actor: `{key, id?, …}` as given by the caller, without `roles`.
    pub actor: Map<String, Value>,
    /// The response, when one was given (`null` is a response given: it is hashed).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "given"
    )]
    pub response: Option<Value>,
    /// True when the step was rejected.
    pub skipped: bool,
    /// Why it was rejected.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
    /// The encoding version of the hash (see [`EVENT_VERSION`]); 0 for events written
    /// before versions existed.
    #[serde(default, skip_serializing_if = "is_legacy")]
    pub version: u8,
    /// The node that signed the event (its id), when signed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signer: Option<String>,
    /// The signer's ed25519 signature over the hash, when signed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
    /// The event hash.
    pub hash: String,
}

/// A timeout transition that fired.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimeoutEvent {
    /// Hash of the event before this one.
    pub previous: String,
    /// When the timeout fired.
    pub timestamp: Timestamp,
    /// The encoding version of the hash (see [`EVENT_VERSION`]); 0 for events written
    /// before versions existed.
    #[serde(default, skip_serializing_if = "is_legacy")]
    pub version: u8,
    /// The node that signed the event (its id), when signed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signer: Option<String>,
    /// The signer's ed25519 signature over the hash, when signed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
    /// The event hash.
    pub hash: String,
}

/// A field that is present, whatever its value (`null` included): `Some`.
fn given<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

/// Any event of a process.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Event {
    /// The first event.
    Instantiate(InstantiateEvent),
    /// An action (possibly skipped).
    Action(ActionEvent),
    /// A timeout.
    Timeout(TimeoutEvent),
}

impl Event {
    /// The hash stored in the event.
    pub fn hash(&self) -> &str {
        match self {
            Event::Instantiate(e) => &e.hash,
            Event::Action(e) => &e.hash,
            Event::Timeout(e) => &e.hash,
        }
    }

    /// The hash of the event before it (`None` for the instantiate event).
    pub fn previous(&self) -> Option<&str> {
        match self {
            Event::Instantiate(_) => None,
            Event::Action(e) => Some(&e.previous),
            Event::Timeout(e) => Some(&e.previous),
        }
    }

    /// When it happened.
    pub fn timestamp(&self) -> Timestamp {
        match self {
            Event::Instantiate(e) => e.timestamp,
            Event::Action(e) => e.timestamp,
            Event::Timeout(e) => e.timestamp,
        }
    }

    /// The event as JSON.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// The hash the event should have, computed from its content.
    pub fn compute_hash(&self) -> String {
        self.digest(true).to_hex().to_string()
    }

    /// The seed of `uuid()` while applying this event: BLAKE3 over its canonical JSON
    /// without the outcome (`skipped`, `errors`), so a step and its replay agree.
    pub fn seed(&self) -> [u8; 32] {
        *self.digest(false).as_bytes()
    }

    /// The hash of the canonical JSON (with or without the outcome) by the event's version.
    fn digest(&self, outcome: bool) -> blake3::Hash {
        hasher(self.version())
            .update(self.canonical(outcome).as_bytes())
            .finalize()
    }

    /// The encoding version of the event's hash.
    pub fn version(&self) -> u8 {
        match self {
            Event::Instantiate(e) => e.version,
            Event::Action(e) => e.version,
            Event::Timeout(e) => e.version,
        }
    }

    /// The signer (node id) and signature, when the event is signed.
    pub fn seal(&self) -> (Option<&str>, Option<&str>) {
        let (signer, signature) = match self {
            Event::Instantiate(e) => (&e.signer, &e.signature),
            Event::Action(e) => (&e.signer, &e.signature),
            Event::Timeout(e) => (&e.signer, &e.signature),
        };
        (signer.as_deref(), signature.as_deref())
    }

    /// Sets (or with `None` removes) the signer and signature; the hash does not change.
    pub fn set_seal(&mut self, signer: Option<String>, signature: Option<String>) {
        let (a, b) = match self {
            Event::Instantiate(e) => (&mut e.signer, &mut e.signature),
            Event::Action(e) => (&mut e.signer, &mut e.signature),
            Event::Timeout(e) => (&mut e.signer, &mut e.signature),
        };
        *a = signer;
        *b = signature;
    }

    /// The canonical JSON of the event without `hash` (and without `skipped` and `errors`
    /// unless `outcome`), written field by field in sorted key order. Equal to
    /// `json::canonical` of its JSON form minus those keys (a test checks it), without
    /// building that JSON value first.
    fn canonical(&self, outcome: bool) -> String {
        let mut out = String::with_capacity(256);
        let mut fields = Fields::new(&mut out);
        match self {
            Event::Instantiate(e) => {
                if !e.actors.is_empty() {
                    fields.field("actors", |o| write_map(o, &e.actors));
                }
                fields.field("id", |o| json::write_string(o, &e.id));
                fields.field("scenario", |o| json::write_string(o, &e.scenario));
                fields.field("timestamp", |o| {
                    json::write_string(o, &e.timestamp.to_iso())
                });
                write_version(&mut fields, e.version);
            }
            Event::Action(e) => {
                fields.field("action", |o| json::write_string(o, &e.action));
                fields.field("actor", |o| write_map(o, &e.actor));
                if outcome && !e.errors.is_empty() {
                    fields.field("errors", |o| {
                        o.push('[');
                        for (i, err) in e.errors.iter().enumerate() {
                            if i > 0 {
                                o.push(',');
                            }
                            json::write_string(o, err);
                        }
                        o.push(']');
                    });
                }
                fields.field("previous", |o| json::write_string(o, &e.previous));
                if let Some(response) = &e.response {
                    fields.field("response", |o| json::write_canonical(o, response));
                }
                if outcome {
                    fields.field("skipped", |o| {
                        o.push_str(if e.skipped { "true" } else { "false" })
                    });
                }
                fields.field("timestamp", |o| {
                    json::write_string(o, &e.timestamp.to_iso())
                });
                write_version(&mut fields, e.version);
            }
            Event::Timeout(e) => {
                fields.field("previous", |o| json::write_string(o, &e.previous));
                fields.field("timestamp", |o| {
                    json::write_string(o, &e.timestamp.to_iso())
                });
                write_version(&mut fields, e.version);
            }
        }
        fields.finish();
        out
    }

    /// Recomputes and stores the hash, and returns the seed of `uuid()` (see
    /// [`Self::seed`]), writing the canonical JSON once when the two agree (every event but
    /// an action).
    pub(crate) fn rehash_seeded(&mut self) -> [u8; 32] {
        if let Event::Action(e) = self {
            let pending = e.pending_hash();
            e.hash = pending.hash(e.skipped, &e.errors);
            return pending.seed();
        }
        let hash = self.digest(true);
        let hex = hash.to_hex().to_string();
        match self {
            Event::Instantiate(e) => e.hash = hex,
            Event::Action(e) => e.hash = hex,
            Event::Timeout(e) => e.hash = hex,
        }
        *hash.as_bytes()
    }

    /// True when the stored hash matches the content.
    pub fn hash_is_valid(&self) -> bool {
        self.compute_hash() == self.hash()
    }

    /// Recomputes and stores the hash after the content changed.
    pub fn rehash(&mut self) {
        let hash = self.compute_hash();
        match self {
            Event::Instantiate(e) => e.hash = hash,
            Event::Action(e) => e.hash = hash,
            Event::Timeout(e) => e.hash = hash,
        }
    }
}

impl ActionEvent {
    /// The canonical JSON of the event without its outcome, in pieces, from which both its
    /// seed and, once the outcome is known, its hash follow (see [`Event::seed`] and
    /// [`Event::compute_hash`]): each is the same as from the whole event.
    pub(crate) fn pending_hash(&self) -> PendingHash {
        // Sorted: action, actor, [errors], previous, [response], [skipped], timestamp,
        // [version].
        let mut head = String::with_capacity(64);
        head.push_str("{\"action\":");
        json::write_string(&mut head, &self.action);
        head.push_str(",\"actor\":");
        write_map(&mut head, &self.actor);
        let mut middle = String::with_capacity(128);
        middle.push_str(",\"previous\":");
        json::write_string(&mut middle, &self.previous);
        if let Some(response) = &self.response {
            middle.push_str(",\"response\":");
            json::write_canonical(&mut middle, response);
        }
        let mut tail = String::with_capacity(40);
        tail.push_str(",\"timestamp\":");
        json::write_string(&mut tail, &self.timestamp.to_iso());
        if self.version > 0 {
            tail.push_str(",\"version\":");
            tail.push_str(&self.version.to_string());
        }
        tail.push('}');
        PendingHash {
            head,
            middle,
            tail,
            version: self.version,
        }
    }
}

/// The canonical JSON of an action event without its outcome, in pieces: `head` up to
/// where `errors` goes, `middle` up to where `skipped` goes, `tail` the rest.
pub(crate) struct PendingHash {
    head: String,
    middle: String,
    tail: String,
    version: u8,
}

impl PendingHash {
    /// The seed of `uuid()`: BLAKE3 over the canonical JSON without the outcome.
    pub(crate) fn seed(&self) -> [u8; 32] {
        let mut hasher = hasher(self.version);
        hasher.update(self.head.as_bytes());
        hasher.update(self.middle.as_bytes());
        hasher.update(self.tail.as_bytes());
        *hasher.finalize().as_bytes()
    }

    /// The event hash, given the outcome.
    pub(crate) fn hash(&self, skipped: bool, errors: &[String]) -> String {
        let mut hasher = hasher(self.version);
        hasher.update(self.head.as_bytes());
        if !errors.is_empty() {
            let mut out = String::from(",\"errors\":[");
            for (i, err) in errors.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                json::write_string(&mut out, err);
            }
            out.push(']');
            hasher.update(out.as_bytes());
        }
        hasher.update(self.middle.as_bytes());
        hasher.update(if skipped {
            b",\"skipped\":true"
        } else {
            b",\"skipped\":false"
        });
        hasher.update(self.tail.as_bytes());
        hasher.finalize().to_hex().to_string()
    }
}

/// Writes the fields of a canonical JSON object; the caller gives them in sorted order.
struct Fields<'a> {
    out: &'a mut String,
    first: bool,
}

impl<'a> Fields<'a> {
    fn new(out: &'a mut String) -> Self {
        out.push('{');
        Fields { out, first: true }
    }

    fn field(&mut self, name: &str, write: impl FnOnce(&mut String)) {
        if !self.first {
            self.out.push(',');
        }
        self.first = false;
        json::write_string(self.out, name);
        self.out.push(':');
        write(self.out);
    }

    fn finish(self) {
        self.out.push('}');
    }
}

/// The `version` field, last in sorted order, written from version 1 on.
fn write_version(fields: &mut Fields<'_>, version: u8) {
    if version > 0 {
        fields.field("version", |o| o.push_str(&version.to_string()));
    }
}

fn write_map(out: &mut String, map: &Map<String, Value>) {
    out.push('{');
    for (i, (key, value)) in json::sorted_entries(map).into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        json::write_string(out, key);
        out.push(':');
        json::write_canonical(out, value);
    }
    out.push('}');
}

/// BLAKE3 of the canonical JSON of `value`, as lowercase hex.
pub fn hash_value(value: &Value) -> String {
    blake3::hash(json::canonical(value).as_bytes())
        .to_hex()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ts(s: &str) -> Timestamp {
        Timestamp::parse(s).expect("timestamp")
    }

    #[test]
    fn the_fast_timestamp_form_equals_chrono() {
        for millis in [
            0,
            1,
            999,
            1_735_689_600_000,
            1_735_689_600_123,
            253_402_300_799_999,
            253_402_300_800_000,
            -1,
            -62_167_219_200_000,
            -62_167_219_200_001,
        ] {
            let t = Timestamp::from_millis(millis);
            assert_eq!(t.to_iso(), t.0.to_rfc3339_opts(SecondsFormat::Millis, true));
        }
        // A leap second (nanoseconds beyond a second).
        let leap = chrono::NaiveDate::from_ymd_opt(2016, 12, 31)
            .and_then(|d| d.and_hms_milli_opt(23, 59, 59, 1_500))
            .map(|t| Timestamp(t.and_utc()));
        if let Some(t) = leap {
            assert_eq!(t.to_iso(), t.0.to_rfc3339_opts(SecondsFormat::Millis, true));
        }
    }

    #[test]
    fn timestamps_are_written_like_javascript() {
        let t = ts("2025-01-02T03:04:05Z");
        assert_eq!(t.to_iso(), "2025-01-02T03:04:05.000Z");
        assert_eq!(t.plus_seconds(1.5).to_iso(), "2025-01-02T03:04:06.500Z");
        assert_eq!(t.plus_seconds(60.0).seconds_since(&t), 60.0);
    }

    #[test]
    fn events_round_trip_and_detect_tampering() {
        let mut event = Event::Action(ActionEvent {
            previous: "abc".into(),
            timestamp: ts("2025-01-01T00:00:00Z"),
            action: "complete".into(),
            actor: json!({"key": "actor"})
                .as_object()
                .cloned()
                .unwrap_or_default(),
            response: None,
            skipped: false,
            errors: vec![],
            version: EVENT_VERSION,
            signer: None,
            signature: None,
            hash: String::new(),
        });
        event.rehash();
        assert!(event.hash_is_valid());
        let text = serde_json::to_string(&event).expect("json");
        assert!(!text.contains("response"));
        let back: Event = serde_json::from_str(&text).expect("parse");
        assert_eq!(back, event);

        if let Event::Action(e) = &mut event {
            e.action = "cancel".into();
        }
        assert!(!event.hash_is_valid());
    }

    #[test]
    fn the_fast_canonical_form_equals_the_documented_one() {
        let actor = json!({"key": "a", "id": "u1", "é": [1.5, null]});
        let events = vec![
            Event::Instantiate(InstantiateEvent {
                id: "p".into(),
                timestamp: ts("2025-01-01T00:00:00Z"),
                scenario: "s".into(),
                actors: actor.as_object().cloned().unwrap_or_default(),
                version: EVENT_VERSION,
                signer: None,
                signature: None,
                hash: "h".into(),
            }),
            Event::Action(ActionEvent {
                previous: "x".into(),
                timestamp: ts("2025-01-01T00:00:01.5Z"),
                action: "go".into(),
                actor: actor.as_object().cloned().unwrap_or_default(),
                response: Some(json!({"b": "line\nbreak", "a": 1e21})),
                skipped: true,
                errors: vec!["Action 'go' is not \"allowed\"".into()],
                version: EVENT_VERSION,
                signer: None,
                signature: None,
                hash: "h".into(),
            }),
            Event::Timeout(TimeoutEvent {
                previous: "x".into(),
                timestamp: ts("2025-01-02T00:00:00Z"),
                version: EVENT_VERSION,
                signer: None,
                signature: None,
                hash: "h".into(),
            }),
        ];
        for event in events {
            let without = |keys: &[&str]| {
                let mut value = event.to_json();
                for key in keys {
                    value.as_object_mut().expect("object").remove(*key);
                }
                json::canonical(&value)
            };
            assert_eq!(event.canonical(true), without(&["hash"]));
            assert_eq!(
                event.canonical(false),
                without(&["hash", "skipped", "errors"])
            );
            let documented = blake3::Hasher::new_derive_key(HASH_CONTEXT)
                .update(without(&["hash", "signer", "signature"]).as_bytes())
                .finalize()
                .to_hex()
                .to_string();
            assert_eq!(event.compute_hash(), documented);
            // Seals are not hashed.
            let mut sealed = event.clone();
            sealed.set_seal(Some("n".into()), Some("s".into()));
            assert_eq!(sealed.compute_hash(), event.compute_hash());
            assert_eq!(sealed.canonical(true), event.canonical(true));
        }
    }

    #[test]
    fn a_null_response_survives_the_round_trip() {
        let mut event = Event::Action(ActionEvent {
            previous: "p".into(),
            timestamp: ts("2025-01-01T00:00:00Z"),
            action: "go".into(),
            actor: Map::new(),
            response: Some(Value::Null),
            skipped: false,
            errors: vec![],
            version: EVENT_VERSION,
            signer: None,
            signature: None,
            hash: String::new(),
        });
        event.rehash();
        let back: Event = serde_json::from_str(&event.to_json().to_string()).expect("parse");
        assert_eq!(back, event);
        assert!(back.hash_is_valid());
        let mut none = event.to_json();
        none.as_object_mut().expect("object").remove("response");
        let none: Event = serde_json::from_value(none).expect("parse");
        assert!(matches!(
            none,
            Event::Action(ActionEvent { response: None, .. })
        ));
    }

    #[test]
    fn unversioned_events_keep_their_plain_hash() {
        let legacy: Event = serde_json::from_value(json!({
            "previous": "x", "timestamp": "2025-01-01T00:00:00.000Z", "hash": "h"
        }))
        .expect("legacy timeout");
        assert_eq!(legacy.version(), 0);
        let mut plain = legacy.to_json();
        plain.as_object_mut().expect("object").remove("hash");
        assert!(plain.get("version").is_none());
        assert_eq!(legacy.compute_hash(), hash_value(&plain));
        let mut current = legacy.clone();
        if let Event::Timeout(e) = &mut current {
            e.version = EVENT_VERSION;
        }
        assert_ne!(current.compute_hash(), legacy.compute_hash());
        assert_eq!(current.to_json()["version"], json!(1));
    }

    #[test]
    fn pending_hashes_equal_the_whole_ones() {
        let actor = json!({"key": "a", "id": "u1"});
        for (response, skipped, errors) in [
            (None, false, vec![]),
            (Some(json!({"b": "x", "a": [1, 2.5]})), false, vec![]),
            (
                Some(json!(null)),
                true,
                vec!["one".to_string(), "t\"wo".to_string()],
            ),
        ] {
            let mut event = Event::Action(ActionEvent {
                previous: "prev".into(),
                timestamp: ts("2025-01-01T00:00:01.5Z"),
                action: "go".into(),
                actor: actor.as_object().cloned().unwrap_or_default(),
                response,
                skipped,
                errors,
                version: EVENT_VERSION,
                signer: None,
                signature: None,
                hash: String::new(),
            });
            let seed = event.rehash_seeded();
            assert_eq!(seed, event.seed());
            assert!(event.hash_is_valid());
        }
        let mut event = Event::Timeout(TimeoutEvent {
            previous: "x".into(),
            timestamp: ts("2025-01-02T00:00:00Z"),
            version: EVENT_VERSION,
            signer: None,
            signature: None,
            hash: String::new(),
        });
        assert_eq!(event.rehash_seeded(), event.seed());
        assert!(event.hash_is_valid());
    }

    #[test]
    fn untagged_parsing_picks_the_right_kind() {
        let t: Event = serde_json::from_value(json!({
            "previous": "x", "timestamp": "2025-01-01T00:00:00.000Z", "hash": "h"
        }))
        .expect("timeout");
        assert!(matches!(t, Event::Timeout(_)));
        let i: Event = serde_json::from_value(json!({
            "id": "p", "timestamp": "2025-01-01T00:00:00.000Z", "scenario": "s", "hash": "h"
        }))
        .expect("instantiate");
        assert!(matches!(i, Event::Instantiate(_)));
    }
}
