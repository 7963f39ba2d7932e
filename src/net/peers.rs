//! What a node knows of its peers: the address book of the configuration, and per peer
//! whether it is connected, when it was last seen, and how many events it sent were
//! refused (and the last reason). `GET /peers` shows it.

use crate::chain::NodeId;
use crate::process::Timestamp;
use serde::Serialize;
use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;

/// A peer as `GET /peers` shows it.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PeerStatus {
    /// The node id (peer id).
    pub id: NodeId,
    /// Its name in the address book, if it has one.
    pub name: Option<String>,
    /// Known addresses (multiaddrs).
    pub addresses: Vec<String>,
    /// Whether a connection is open.
    pub connected: bool,
    /// When a connection was last open or a message arrived.
    pub last_seen: Option<Timestamp>,
    /// Events and requests of this peer that were refused.
    pub refused: Refused,
}

/// The refusals counted against a peer.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Refused {
    /// How many.
    pub count: u64,
    /// The reason of the last one.
    pub last_reason: Option<String>,
}

/// A named node of the address book.
#[derive(Debug, Clone, PartialEq)]
pub struct BookEntry {
    /// The name users write (`node: acme`).
    pub name: String,
    /// The node id.
    pub id: NodeId,
    /// Its addresses (multiaddrs).
    pub addresses: Vec<String>,
}

/// The peer table of a node, shared by the network loop and the API.
#[derive(Debug)]
pub struct Peers {
    me: NodeId,
    name: String,
    book: Vec<BookEntry>,
    table: Mutex<BTreeMap<NodeId, PeerStatus>>,
    listening: Mutex<Vec<String>>,
    /// `(received at, lag)` in ms of the latest events received, at most [`ARRIVALS_KEPT`].
    arrivals: Mutex<VecDeque<(i64, u32)>>,
    /// `(final at, lag)` in ms of the latest events that became final here (same bound).
    finals: Mutex<VecDeque<(i64, u32)>>,
}

/// Arrival lags kept for [`Peers::arrival_stats`].
pub const ARRIVALS_KEPT: usize = 200_000;

/// How late events arrived: from their timestamp (taken by the authoring node when the step
/// request came in) to their commit here.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ArrivalStats {
    /// Events received from peers and committed, among those kept.
    pub received: u64,
    /// Median lag, ms.
    pub p50_ms: u32,
    /// 99th percentile, ms.
    pub p99_ms: u32,
    /// Largest, ms.
    pub max_ms: u32,
}

impl Peers {
    /// The table of node `me` (named `name`) with the address book `book`.
    pub fn new(me: NodeId, name: &str, book: Vec<BookEntry>) -> Self {
        let table = book
            .iter()
            .map(|entry| {
                (
                    entry.id,
                    PeerStatus {
                        id: entry.id,
                        name: Some(entry.name.clone()),
                        addresses: entry.addresses.clone(),
                        connected: false,
                        last_seen: None,
                        refused: Refused::default(),
                    },
                )
            })
            .collect();
        Peers {
            me,
            name: name.to_string(),
            book,
            table: Mutex::new(table),
            listening: Mutex::new(Vec::new()),
            arrivals: Mutex::new(VecDeque::new()),
            finals: Mutex::new(VecDeque::new()),
        }
    }

    /// This node's id.
    pub fn me(&self) -> NodeId {
        self.me
    }

    /// This node's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The addresses this node listens on.
    pub fn listening(&self) -> Vec<String> {
        lock(&self.listening).clone()
    }

    /// Records an address this node listens on.
    pub fn add_listening(&self, address: String) {
        let mut list = lock(&self.listening);
        if !list.contains(&address) {
            list.push(address);
        }
    }

    /// Resolves a node named by its id or by its name in the address book (or `self` /
    /// this node's own name).
    pub fn resolve(&self, text: &str) -> Option<NodeId> {
        if text == self.name || text == "self" {
            return Some(self.me);
        }
        if let Some(entry) = self.book.iter().find(|e| e.name == text) {
            return Some(entry.id);
        }
        text.parse().ok().filter(NodeId::is_key)
    }

    /// The address book.
    pub fn book(&self) -> &[BookEntry] {
        &self.book
    }

    /// Every known peer, by id.
    pub fn list(&self) -> Vec<PeerStatus> {
        lock(&self.table).values().cloned().collect()
    }

    /// One peer.
    pub fn get(&self, id: &NodeId) -> Option<PeerStatus> {
        lock(&self.table).get(id).cloned()
    }

    fn with(&self, id: NodeId, f: impl FnOnce(&mut PeerStatus)) {
        let mut table = lock(&self.table);
        let status = table.entry(id).or_insert_with(|| PeerStatus {
            id,
            name: None,
            addresses: Vec::new(),
            connected: false,
            last_seen: None,
            refused: Refused::default(),
        });
        f(status);
    }

    /// A connection to `id` opened (`true`) or the last one closed.
    pub fn set_connected(&self, id: NodeId, connected: bool, now: Timestamp) {
        self.with(id, |s| {
            s.connected = connected;
            s.last_seen = Some(now);
        });
    }

    /// A message of `id` arrived.
    pub fn seen(&self, id: NodeId, now: Timestamp) {
        self.with(id, |s| s.last_seen = Some(now));
    }

    /// An address of `id` was learned.
    pub fn add_address(&self, id: NodeId, address: String) {
        self.with(id, |s| {
            if !s.addresses.contains(&address) && s.addresses.len() < 16 {
                s.addresses.push(address);
            }
        });
    }

    /// An event received from a peer was committed at `now` (ms), `lag_ms` after its
    /// timestamp.
    pub fn record_arrival(&self, now: i64, lag_ms: u32) {
        record(&self.arrivals, now, lag_ms);
    }

    /// An event became final here at `now` (ms), `lag_ms` after its timestamp.
    pub fn record_final(&self, now: i64, lag_ms: u32) {
        record(&self.finals, now, lag_ms);
    }

    /// The lags of the events received at or after `since` (ms since the epoch).
    pub fn arrival_stats(&self, since: i64) -> ArrivalStats {
        stats(&self.arrivals, since)
    }

    /// From timestamp to final here, of the events that became final at or after `since`.
    pub fn final_stats(&self, since: i64) -> ArrivalStats {
        stats(&self.finals, since)
    }

    /// Something `id` sent was refused for `reason`.
    pub fn refused(&self, id: NodeId, reason: &str) {
        tracing::warn!(peer = %id, %reason, "refused from peer");
        self.with(id, |s| {
            s.refused.count += 1;
            s.refused.last_reason = Some(reason.to_string());
        });
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn record(lags: &Mutex<VecDeque<(i64, u32)>>, now: i64, lag_ms: u32) {
    let mut lags = lock(lags);
    if lags.len() >= ARRIVALS_KEPT {
        lags.pop_front();
    }
    lags.push_back((now, lag_ms));
}

fn stats(kept: &Mutex<VecDeque<(i64, u32)>>, since: i64) -> ArrivalStats {
    let mut lags: Vec<u32> = lock(kept)
        .iter()
        .filter(|(at, _)| *at >= since)
        .map(|(_, lag)| *lag)
        .collect();
    lags.sort_unstable();
    let at = |q: f64| {
        let rank = ((lags.len() as f64) * q).ceil() as usize;
        lags.get(rank.clamp(1, lags.len().max(1)) - 1)
            .copied()
            .unwrap_or(0)
    };
    ArrivalStats {
        received: lags.len() as u64,
        p50_ms: at(0.5),
        p99_ms: at(0.99),
        max_ms: lags.last().copied().unwrap_or(0),
    }
}
