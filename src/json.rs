//! JSON helpers shared by every layer: JavaScript-compatible number handling and the
//! canonical encoding that scenario ids, `json_serialize()` and event hashes are built on.
//!
//! LetsFlow's reference engine runs on JavaScript, where every number is a double. To give
//! the same observable results we (1) store an integral double as an integer, so `2.0` and
//! `2` are the same value, and (2) write numbers the way JavaScript's `String(n)` does.

use serde_json::{Map, Number, Value};
use std::fmt::Write;

/// How deeply nested (arrays and objects in one another) an input document may be: every
/// input path — request bodies in JSON or YAML, scenario files, later peer messages —
/// refuses deeper documents, so that whatever is accepted stays well inside the decoders'
/// recursion limit (128) once it is wrapped in an event and stored.
pub const MAX_DEPTH: usize = 64;

/// The nesting depth of a value: 0 for a scalar, 1 for `[]` or `{"a": 1}`, 2 for `[[]]`.
/// Iterative, so that it measures values of any depth.
pub fn depth(value: &Value) -> usize {
    let mut deepest = 0;
    let mut stack = vec![(value, 0usize)];
    while let Some((value, at)) = stack.pop() {
        let children: Box<dyn Iterator<Item = &Value>> = match value {
            Value::Array(list) => Box::new(list.iter()),
            Value::Object(map) => Box::new(map.values()),
            _ => continue,
        };
        deepest = deepest.max(at + 1);
        stack.extend(children.map(|child| (child, at + 1)));
    }
    deepest
}

/// The largest integer a JavaScript double holds exactly (2^53 - 1).
const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_991.0;

/// A JSON number from a double, stored as an integer when it is integral and safe.
/// Non-finite numbers have no JSON form and become `null`, as in `JSON.stringify`.
pub fn number(n: f64) -> Value {
    if !n.is_finite() {
        return Value::Null;
    }
    if n.fract() == 0.0 && n.abs() <= MAX_SAFE_INTEGER {
        // `-0.0` becomes `0`, as JavaScript writes it.
        return Value::Number(Number::from(n as i64));
    }
    Number::from_f64(n).map_or(Value::Null, Value::Number)
}

/// The number as a double (integers beyond 2^53 lose precision, as in JavaScript).
pub fn as_f64(n: &Number) -> f64 {
    n.as_f64().unwrap_or(0.0)
}

/// Two JSON values are equal the way JavaScript's deep equality sees them: numbers compare
/// by value (`1 == 1.0`), objects regardless of key order.
pub fn loose_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => as_f64(x) == as_f64(y),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| loose_eq(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| loose_eq(v, w)))
        }
        _ => a == b,
    }
}

/// JavaScript truthiness: `false`, `null`, `0`, `""` are false; arrays and objects, even
/// empty ones, are true. Conditions (`if`) in scenarios are judged this way.
pub fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => as_f64(n) != 0.0,
        Value::String(s) => !s.is_empty(),
        Value::Array(_) | Value::Object(_) => true,
    }
}

/// Writes a number as JavaScript's `String(n)` does: `1`, `1.5`, `1e+21`, `1e-7`.
pub fn write_number(out: &mut String, n: &Number) {
    if let Some(i) = n.as_i64() {
        let _ = write!(out, "{i}");
    } else if let Some(u) = n.as_u64() {
        let _ = write!(out, "{u}");
    } else {
        let f = as_f64(n);
        let mut buf = ryu_js::Buffer::new();
        out.push_str(buf.format(f));
    }
}

/// The number as JavaScript's `String(n)` writes it.
pub fn number_to_string(n: &Number) -> String {
    let mut s = String::new();
    write_number(&mut s, n);
    s
}

/// A value as text the way JavaScript's `String(v)` converts it for templates:
/// strings as they are, numbers as JavaScript writes them, `null` as empty,
/// arrays joined by commas, objects as `[object Object]`.
pub fn to_js_string(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => number_to_string(n),
        Value::String(s) => s.clone(),
        Value::Array(items) => items
            .iter()
            .map(|v| match v {
                Value::Null => String::new(),
                other => to_js_string(other),
            })
            .collect::<Vec<_>>()
            .join(","),
        Value::Object(_) => "[object Object]".to_string(),
    }
}

/// Canonical JSON: object keys sorted (by UTF-16 code units, as JavaScript sorts them),
/// no whitespace, numbers written as JavaScript writes them, strings escaped as
/// `JSON.stringify` escapes them. This encoding is a protocol: ids and hashes depend on it.
pub fn canonical(value: &Value) -> String {
    let mut out = String::new();
    write_canonical(&mut out, value);
    out
}

/// Appends the canonical JSON of `value` to `out`; see [`canonical`].
pub fn write_canonical(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => write_number(out, n),
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (key, item)) in sorted_entries(map).into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(out, key);
                out.push(':');
                write_canonical(out, item);
            }
            out.push('}');
        }
    }
}

/// The entries of an object sorted by key in UTF-16 code unit order (JavaScript's default
/// string order), which differs from Rust's byte order only for characters above U+FFFF.
pub fn sorted_entries(map: &Map<String, Value>) -> Vec<(&String, &Value)> {
    let mut entries: Vec<_> = map.iter().collect();
    entries.sort_by(|a, b| a.0.encode_utf16().cmp(b.0.encode_utf16()));
    entries
}

/// Writes a JSON string literal escaped as `JSON.stringify` does.
pub fn write_string(out: &mut String, s: &str) {
    out.reserve(s.len() + 2);
    out.push('"');
    // Runs of characters that need no escape are copied at once; every character that
    // does is ASCII, so the byte positions are character boundaries.
    let mut start = 0;
    for (i, &b) in s.as_bytes().iter().enumerate() {
        if b != b'"' && b != b'\\' && b >= 0x20 {
            continue;
        }
        out.push_str(&s[start..i]);
        start = i + 1;
        match b {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            0x08 => out.push_str("\\b"),
            0x0c => out.push_str("\\f"),
            c => {
                let _ = write!(out, "\\u{:04x}", c);
            }
        }
    }
    out.push_str(&s[start..]);
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn integral_doubles_become_integers() {
        assert_eq!(number(2.0), json!(2));
        assert_eq!(number(-0.0), json!(0));
        assert_eq!(number(2.5), json!(2.5));
        assert_eq!(number(f64::NAN), Value::Null);
    }

    #[test]
    fn numbers_are_written_as_javascript_writes_them() {
        let text = |v: Value| canonical(&v);
        assert_eq!(text(json!(1.5)), "1.5");
        assert_eq!(text(json!(1e21)), "1e+21");
        assert_eq!(text(json!(0.0000001)), "1e-7");
        assert_eq!(text(json!(100)), "100");
    }

    #[test]
    fn canonical_sorts_keys_and_drops_whitespace() {
        let v = json!({"b": [1, {"d": null, "c": "x\ny"}], "a": true});
        assert_eq!(canonical(&v), r#"{"a":true,"b":[1,{"c":"x\ny","d":null}]}"#);
    }

    #[test]
    fn strings_are_escaped_as_json_stringify_does() {
        let text = |s: &str| {
            let mut out = String::new();
            write_string(&mut out, s);
            out
        };
        let all_ascii: String = (0u8..0x80).map(char::from).collect();
        for s in [
            "",
            "plain é ü 😀",
            "q\"b\\n\nr\rt\tb\u{8}f\u{c}z\u{0}",
            &all_ascii,
        ] {
            // serde_json escapes exactly as JSON.stringify does.
            assert_eq!(text(s), serde_json::to_string(s).expect("json"));
        }
    }

    #[test]
    fn js_string_conversion() {
        assert_eq!(to_js_string(&json!([1, "a", null])), "1,a,");
        assert_eq!(to_js_string(&json!({"a": 1})), "[object Object]");
        assert_eq!(to_js_string(&json!(null)), "");
        assert_eq!(to_js_string(&json!(3.25)), "3.25");
    }

    #[test]
    fn loose_equality_ignores_number_representation_and_key_order() {
        assert!(loose_eq(
            &json!({"a": 1.0, "b": 2}),
            &json!({"b": 2, "a": 1})
        ));
        assert!(!loose_eq(&json!([1]), &json!([1, 2])));
    }
}
