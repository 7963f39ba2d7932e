//! Warnings: what keeps a scenario valid (the reference accepts it) but is most likely a
//! mistake. Each comes as a [`ValidationError`] with the pointer of the offending key:
//!
//! - `unknownKey`: a key that LetsFlow does not know in an action, a state, a transition,
//!   an update instruction, a notify entry or at the top, with the closest known key
//!   (`actr: employee` is kept and ignored, so the action is open to every actor). Objects
//!   with a `schema` key are left alone: that schema says which keys they have.
//! - `undefinedAction`: a transition `on` an action that `actions` does not define, when
//!   the scenario defines actions (without any, every action is implicit by design).
//! - `unreachableState`: a state that no `goto` of another state names.
//! - `noWayOut`: a state that is not an end state but that no transition leaves.

use crate::schema::{escape_segment, ValidationError};
use serde_json::{json, Map, Value};

const TOP: &[&str] = &[
    "$schema",
    "id",
    "name",
    "version",
    "title",
    "description",
    "tags",
    "actors",
    "actions",
    "states",
    "vars",
    "result",
];
const ACTION: &[&str] = &[
    "$schema",
    "schema",
    "title",
    "description",
    "actor",
    "if",
    "response",
    "update",
];
const STATE: &[&str] = &[
    "schema",
    "title",
    "description",
    "instructions",
    "notify",
    "on",
    "by",
    "after",
    "goto",
    "log",
    "transitions",
];
const END_STATE: &[&str] = &[
    "schema",
    "title",
    "description",
    "instructions",
    "notify",
    "tag",
];
const TRANSITION: &[&str] = &["on", "by", "after", "if", "goto", "log"];
const UPDATE: &[&str] = &["set", "value", "stub", "mode", "if"];
const NOTIFY: &[&str] = &["service", "if", "after", "trigger", "message"];

/// The warnings for a scenario as loaded (before normalization), in document order.
pub fn warnings(scenario: &Value) -> Vec<ValidationError> {
    let mut out = Vec::new();
    let Some(top) = scenario.as_object() else {
        return out;
    };
    unknown_keys(&mut out, "", top, TOP);
    let actions = top.get("actions").and_then(Value::as_object);
    for (key, action) in actions.into_iter().flatten() {
        let Some(action) = action.as_object() else {
            continue;
        };
        let at = pointer("", &["actions", key]);
        unknown_keys(&mut out, &at, action, ACTION);
        match action.get("update") {
            Some(Value::Object(update)) => {
                unknown_keys(&mut out, &pointer(&at, &["update"]), update, UPDATE)
            }
            Some(Value::Array(list)) => {
                for (i, update) in list.iter().enumerate() {
                    if let Some(update) = update.as_object() {
                        let at = pointer(&at, &["update", &i.to_string()]);
                        unknown_keys(&mut out, &at, update, UPDATE);
                    }
                }
            }
            _ => {}
        }
    }

    let empty = Map::new();
    let states = top
        .get("states")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let wildcard = states.get("*").and_then(Value::as_object);
    let mut reached: Vec<&str> = vec!["initial"];
    for (key, state) in states {
        let Some(state) = state.as_object() else {
            continue;
        };
        let at = pointer("", &["states", key]);
        let end = is_end_state(state);
        unknown_keys(&mut out, &at, state, if end { END_STATE } else { STATE });
        notify_keys(&mut out, &at, state);
        for (tr_at, tr) in transitions(&at, state) {
            if tr_at != at {
                unknown_keys(&mut out, &tr_at, tr, TRANSITION);
            }
            // A state that only it itself goes to is not reached either.
            if let Some(goto) = tr.get("goto").and_then(Value::as_str).filter(|g| g != key) {
                reached.push(goto);
            }
            if let (Some(actions), Some(Value::String(on))) = (actions, tr.get("on")) {
                // `STATE.ACTION` is how a normalized scenario holds an implicit action.
                let defined =
                    actions.contains_key(on) || actions.contains_key(&format!("{key}.{on}"));
                if !actions.is_empty() && !defined {
                    let known: Vec<&str> = actions.keys().map(String::as_str).collect();
                    let hint = closest(on, &known)
                        .map(|c| format!(" (did you mean '{c}'?)"))
                        .unwrap_or_default();
                    out.push(ValidationError::new(
                        pointer(&tr_at, &["on"]),
                        "undefinedAction",
                        format!(
                            "action '{on}' is not defined in actions{hint}; \
                             an implicit action '{key}.{on}' is created"
                        ),
                        json!({"action": on, "allowedValues": known}),
                    ));
                }
            }
        }
    }
    for (key, state) in states {
        let Some(state) = state.as_object() else {
            continue;
        };
        let at = pointer("", &["states", key]);
        if key != "*" && !reached.contains(&key.as_str()) {
            out.push(ValidationError::new(
                at.clone(),
                "unreachableState",
                format!("state '{key}' is not reached: no transition goes to it"),
                json!({"state": key}),
            ));
        }
        if key != "*" && !is_end_state(state) && !has_way_out(key, state, wildcard) {
            out.push(ValidationError::new(
                at,
                "noWayOut",
                format!("state '{key}' is not an end state, but no transition leaves it"),
                json!({"state": key}),
            ));
        }
    }
    out
}

/// A state is an end state when it has none of `transitions`, `on`, `after`, `goto`.
fn is_end_state(state: &Map<String, Value>) -> bool {
    !["transitions", "on", "after", "goto"]
        .iter()
        .any(|k| state.contains_key(*k))
}

/// The transitions of a state with their pointers: the state itself for the short form.
fn transitions<'s>(
    at: &str,
    state: &'s Map<String, Value>,
) -> Vec<(String, &'s Map<String, Value>)> {
    match state.get("transitions") {
        Some(Value::Array(list)) => list
            .iter()
            .enumerate()
            .filter_map(|(i, tr)| {
                Some((
                    pointer(at, &["transitions", &i.to_string()]),
                    tr.as_object()?,
                ))
            })
            .collect(),
        _ if state.contains_key("on") || state.contains_key("after") => {
            vec![(at.to_string(), state)]
        }
        _ => Vec::new(),
    }
}

/// Whether some transition of the state (or of the wildcard state) goes elsewhere.
fn has_way_out(
    key: &str,
    state: &Map<String, Value>,
    wildcard: Option<&Map<String, Value>>,
) -> bool {
    let leaves = |s: &Map<String, Value>| {
        transitions("", s).iter().any(|(_, tr)| {
            tr.get("goto")
                .and_then(Value::as_str)
                .is_some_and(|g| g != key)
        })
    };
    leaves(state) || wildcard.is_some_and(leaves)
}

fn notify_keys(out: &mut Vec<ValidationError>, at: &str, state: &Map<String, Value>) {
    match state.get("notify") {
        Some(Value::Object(entry)) => unknown_keys(out, &pointer(at, &["notify"]), entry, NOTIFY),
        Some(Value::Array(list)) => {
            for (i, entry) in list.iter().enumerate() {
                if let Some(entry) = entry.as_object() {
                    unknown_keys(
                        out,
                        &pointer(at, &["notify", &i.to_string()]),
                        entry,
                        NOTIFY,
                    );
                }
            }
        }
        _ => {}
    }
}

/// A warning for each key of `object` that is not in `known`, unless a `schema` key
/// says which keys the object has.
fn unknown_keys(
    out: &mut Vec<ValidationError>,
    at: &str,
    object: &Map<String, Value>,
    known: &[&str],
) {
    if object.contains_key("schema") {
        return;
    }
    for key in object.keys() {
        if known.contains(&key.as_str()) {
            continue;
        }
        let hint = closest(key, known);
        let message = match hint {
            Some(c) => format!("unknown key '{key}' is ignored (did you mean '{c}'?)"),
            None => format!("unknown key '{key}' is ignored"),
        };
        out.push(ValidationError::new(
            pointer(at, &[key]),
            "unknownKey",
            message,
            json!({"key": key, "closest": hint}),
        ));
    }
}

/// The known word closest to `word` by edit distance, when it is close enough to be the
/// one meant (at most a third of the word's letters differ).
fn closest<'k>(word: &str, known: &[&'k str]) -> Option<&'k str> {
    let limit = (word.chars().count() / 3).max(1);
    known
        .iter()
        .map(|k| (edit_distance(word, k), *k))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// Edit distance by characters, a swap of two neighbours counting as one edit (optimal
/// string alignment), so that `titel` is one edit from `title`.
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

fn pointer(base: &str, keys: &[&str]) -> String {
    let mut out = base.to_string();
    for key in keys {
        out.push('/');
        out.push_str(&escape_segment(key));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::yaml::from_yaml;

    fn lines(text: &str) -> Vec<String> {
        warnings(&from_yaml(text).unwrap())
            .iter()
            .map(ValidationError::located)
            .collect()
    }

    #[test]
    fn typos_are_warned_with_the_closest_key() {
        let text = "\
name: typo
version: '1'
titel: T
actions:
  submit:
    actr: employee
    update:
      - set: vars.x
        vlaue: 1
  finish: {}
states:
  initial:
    instrucions: {employee: hi}
    transitions:
      - on: submit
        goot: x
        goto: review
  review:
    on: finsh
    goto: (done)
    notify: {service: mail, triger: x}
  custom:
    schema: states/form
    anything: 1
";
        assert_eq!(
            lines(text),
            [
                "/titel: unknown key 'titel' is ignored (did you mean 'title'?)",
                "/actions/submit/actr: unknown key 'actr' is ignored (did you mean 'actor'?)",
                "/actions/submit/update/0/vlaue: unknown key 'vlaue' is ignored (did you mean 'value'?)",
                "/states/initial/instrucions: unknown key 'instrucions' is ignored (did you mean 'instructions'?)",
                "/states/initial/transitions/0/goot: unknown key 'goot' is ignored (did you mean 'goto'?)",
                "/states/review/notify/triger: unknown key 'triger' is ignored (did you mean 'trigger'?)",
                "/states/review/on: action 'finsh' is not defined in actions (did you mean 'finish'?); an implicit action 'review.finsh' is created",
                "/states/custom: state 'custom' is not reached: no transition goes to it",
            ]
        );
        let unknown = &warnings(&from_yaml(text).unwrap())[1];
        assert_eq!(unknown.keyword, "unknownKey");
        assert_eq!(unknown.params, json!({"key": "actr", "closest": "actor"}));
        assert_eq!(closest("zzzz", TOP), None);
    }

    #[test]
    fn dead_ends_and_unreached_states() {
        let text = "\
states:
  '*':
    transitions:
      - on: cancel
        goto: (cancelled)
  initial:
    on: go
    goto: stuck
  stuck:
    transitions:
      - on: wait
        goto: ~
      - after: 5
        goto: stuck
  loop:
    on: again
    goto: loop
  (done): {}
";
        assert_eq!(
            lines(text),
            [
                "/states/loop: state 'loop' is not reached: no transition goes to it",
                "/states/(done): state '(done)' is not reached: no transition goes to it",
            ],
            "the wildcard state's transitions are a way out of every state"
        );
        let text =
            "states:\n  initial:\n    on: go\n    goto: stuck\n  stuck:\n    transitions: []\n";
        assert_eq!(
            lines(text),
            ["/states/stuck: state 'stuck' is not an end state, but no transition leaves it"]
        );
        // Without `actions`, implicit actions are the design, not a typo; a normalized
        // scenario holds them as `STATE.ACTION`.
        assert!(lines("states:\n  initial:\n    on: go\n    goto: (done)\n").is_empty());
        let normalized = "actions:\n  initial.go: {}\nstates:\n  initial:\n    transitions:\n      - on: go\n        goto: (done)\n  (done): {}\n";
        assert!(lines(normalized).is_empty(), "{:?}", lines(normalized));
    }
}
