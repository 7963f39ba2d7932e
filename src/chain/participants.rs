//! Which node acts for which actor of a process. The participant map is part of the
//! process data: an actor's `node` property (set at the start, or later by an update
//! instruction) names its node; an actor without one belongs to the process's creator, the
//! node that signed the instantiate event. The participants of a process are its creator and
//! every node an actor is bound to: they, and only they, hold its events.

use super::identity::NodeId;
use crate::process::{Event, Process};
use serde_json::Value;
use std::collections::BTreeSet;

/// The node that created the process (the signer of its instantiate event); `None` for a
/// process of a node without peers (events written before signing existed).
pub fn creator(process: &Process) -> Option<NodeId> {
    process
        .events()
        .first()
        .and_then(|e| e.seal().0)
        .and_then(|s| s.parse().ok())
}

/// The node bound to `actor`'s `node` property, if any (and if it is a node id).
fn bound_node(actor: &Value) -> Option<NodeId> {
    actor.get("node")?.as_str()?.parse().ok()
}

/// The node that acts for `actor` in `process`: its bound node, else the creator.
pub fn actor_node(process: &Process, actor: &str) -> Option<NodeId> {
    process
        .actors()
        .get(actor)
        .and_then(bound_node)
        .or_else(|| creator(process))
}

/// The creator and every node an actor is bound to.
pub fn participants(process: &Process) -> BTreeSet<NodeId> {
    let mut nodes: BTreeSet<NodeId> = creator(process).into_iter().collect();
    if let Value::Object(actors) = process.actors() {
        nodes.extend(actors.values().filter_map(bound_node));
    }
    nodes
}

/// The actor of an action event (its `key`), if it is one.
pub fn event_actor(event: &Event) -> Option<&str> {
    match event {
        Event::Action(e) => e.actor.get("key").and_then(Value::as_str),
        _ => None,
    }
}
