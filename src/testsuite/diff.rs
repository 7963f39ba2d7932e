//! The differences between an expected and an actual JSON value, one line per JSON path,
//! so that a failing step says exactly where a structure differs.

use crate::json::loose_eq;
use serde_json::Value;

/// One line per differing path (`$.to.email: expected "a", got "b"`). Numbers compare by
/// value and objects regardless of key order; empty when the values are equal.
pub fn diff(expected: &Value, actual: &Value) -> Vec<String> {
    let mut out = Vec::new();
    diff_at("$", expected, actual, &mut out);
    out
}

fn diff_at(path: &str, expected: &Value, actual: &Value, out: &mut Vec<String>) {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for (k, ev) in e {
                let at = child(path, k);
                match a.get(k) {
                    Some(av) => diff_at(&at, ev, av, out),
                    None => out.push(format!("{at}: missing, expected {}", show(ev))),
                }
            }
            for (k, av) in a.iter().filter(|(k, _)| !e.contains_key(*k)) {
                out.push(format!(
                    "{}: not expected, got {}",
                    child(path, k),
                    show(av)
                ));
            }
        }
        (Value::Array(e), Value::Array(a)) => {
            if e.len() != a.len() {
                out.push(format!(
                    "{path}: expected {} item(s), got {}",
                    e.len(),
                    a.len()
                ));
            }
            for (i, (ev, av)) in e.iter().zip(a).enumerate() {
                diff_at(&format!("{path}[{i}]"), ev, av, out);
            }
            for (i, ev) in e.iter().enumerate().skip(a.len()) {
                out.push(format!("{path}[{i}]: missing, expected {}", show(ev)));
            }
            for (i, av) in a.iter().enumerate().skip(e.len()) {
                out.push(format!("{path}[{i}]: not expected, got {}", show(av)));
            }
        }
        _ if loose_eq(expected, actual) => {}
        _ => out.push(format!(
            "{path}: expected {}, got {}",
            show(expected),
            show(actual)
        )),
    }
}

/// `$.key`, or `$["odd key"]` when the key is not a plain name.
fn child(path: &str, key: &str) -> String {
    let plain = !key.is_empty()
        && !key.starts_with(|c: char| c.is_ascii_digit())
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if plain {
        format!("{path}.{key}")
    } else {
        format!("{path}[{}]", show(&Value::String(key.to_string())))
    }
}

fn show(value: &Value) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn equal_values_have_no_differences() {
        assert!(diff(
            &json!({"a": [1, 2.0], "b": "x"}),
            &json!({"b": "x", "a": [1.0, 2]})
        )
        .is_empty());
    }

    #[test]
    fn differences_name_their_paths() {
        let expected =
            json!({"to": {"name": "Alice", "email": "a@x"}, "list": [1, 2], "odd key": 1});
        let actual = json!({"to": {"name": "Bob"}, "list": [1, 2, 3], "odd key": 1, "extra": true});
        assert_eq!(
            diff(&expected, &actual),
            vec![
                r#"$.to.name: expected "Alice", got "Bob""#,
                r#"$.to.email: missing, expected "a@x""#,
                "$.list: expected 2 item(s), got 3",
                "$.list[2]: not expected, got 3",
                "$.extra: not expected, got true",
            ]
        );
        assert_eq!(
            diff(&json!({"a b": 1}), &json!({"a b": 2})),
            vec![r#"$["a b"]: expected 1, got 2"#]
        );
        assert_eq!(
            diff(&json!([1]), &json!(null)),
            vec!["$: expected [1], got null"]
        );
    }
}
