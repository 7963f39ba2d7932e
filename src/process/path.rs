//! Dotted paths into the process document (`vars.quote.amount`), as update instructions
//! use them: reading yields `None` for anything missing; writing creates the objects on the
//! way, replacing values that are not objects.

use serde_json::{Map, Value};

/// The value at `path`, if there is one.
pub(crate) fn get<'a>(root: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(root, |node, part| match node {
        Value::Object(map) => map.get(part),
        Value::Array(items) => part.parse::<usize>().ok().and_then(|i| items.get(i)),
        _ => None,
    })
}

/// Writes `value` at `path`.
pub(crate) fn set(root: &mut Value, path: &str, value: Value) {
    let (part, rest) = match path.split_once('.') {
        Some((part, rest)) => (part, Some(rest)),
        None => (path, None),
    };
    let slot = match root {
        Value::Array(items) if part.parse::<usize>().is_ok() => {
            let i = part.parse::<usize>().unwrap_or_default();
            if i >= items.len() {
                items.resize(i + 1, Value::Null);
            }
            &mut items[i]
        }
        node => {
            if !node.is_object() {
                *node = Value::Object(Map::new());
            }
            // Indexing an object by a missing key inserts `null`.
            &mut node[part]
        }
    };
    match rest {
        Some(rest) => set(slot, rest, value),
        None => *slot = value,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn get_and_set_follow_dotted_paths() {
        let mut doc = json!({"vars": {"a": {"b": 1}}, "list": [1, 2]});
        assert_eq!(get(&doc, "vars.a.b"), Some(&json!(1)));
        assert_eq!(get(&doc, "vars.x.b"), None);
        assert_eq!(get(&doc, "list.1"), Some(&json!(2)));
        set(&mut doc, "vars.x.y", json!("new"));
        set(&mut doc, "vars.a.b.c", json!(true));
        set(&mut doc, "list.0", json!(9));
        assert_eq!(
            doc,
            json!({"vars": {"a": {"b": {"c": true}}, "x": {"y": "new"}}, "list": [9, 2]})
        );
    }
}
