//! scenario::yaml
//!
//! TEMPORARY stand-in, replaced at merge by the real YAML loader: parses YAML into plain
//! JSON, mapping the LetsFlow custom tags (SPEC 1.1) well enough for the schema module and
//! its tests.

use serde_json::{Map, Value};
use yaml_serde::value::TaggedValue;

/// Why a YAML document could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The text is not valid YAML.
    #[error("invalid YAML: {0}")]
    Yaml(#[from] yaml_serde::Error),
    /// A mapping key is not a string, number or boolean.
    #[error("unsupported YAML mapping key: {0}")]
    Key(String),
    /// A number has no JSON representation (NaN or infinity).
    #[error("unsupported YAML number: {0}")]
    Number(String),
}

/// Parses YAML text into JSON, turning the LetsFlow custom tags into plain JSON.
pub fn from_yaml(text: &str) -> Result<Value, LoadError> {
    let mut doc: yaml_serde::Value = yaml_serde::from_str(text)?;
    doc.apply_merge()?;
    convert(doc)
}

fn convert(value: yaml_serde::Value) -> Result<Value, LoadError> {
    use yaml_serde::Value as Y;
    Ok(match value {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => number(&n)?,
        Y::String(s) => Value::String(s),
        Y::Sequence(items) => {
            Value::Array(items.into_iter().map(convert).collect::<Result<_, _>>()?)
        }
        Y::Mapping(mapping) => {
            let mut map = Map::new();
            for (key, item) in mapping {
                let key = match key {
                    Y::String(s) => s,
                    Y::Bool(b) => b.to_string(),
                    Y::Number(n) => n.to_string(),
                    Y::Null => "null".to_string(),
                    other => return Err(LoadError::Key(format!("{other:?}"))),
                };
                map.insert(key, convert(item)?);
            }
            Value::Object(map)
        }
        Y::Tagged(tagged) => tag(*tagged)?,
    })
}

fn number(n: &yaml_serde::Number) -> Result<Value, LoadError> {
    if let Some(i) = n.as_i64() {
        Ok(Value::from(i))
    } else if let Some(u) = n.as_u64() {
        Ok(Value::from(u))
    } else {
        let f = n.as_f64().unwrap_or(f64::NAN);
        match crate::json::number(f) {
            Value::Null => Err(LoadError::Number(n.to_string())),
            v => Ok(v),
        }
    }
}

fn single(key: &str, value: Value) -> Value {
    let mut map = Map::new();
    map.insert(key.to_string(), value);
    Value::Object(map)
}

/// A scalar tag's text parsed as a plain value: number, boolean, `~` as null, else string.
fn scalar(value: Value) -> Value {
    match value {
        Value::String(s) => match s.trim() {
            "~" | "null" => Value::Null,
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            t => t
                .parse::<f64>()
                .ok()
                .map(crate::json::number)
                .filter(|v| !v.is_null())
                .unwrap_or(Value::String(s)),
        },
        other => other,
    }
}

fn tag(tagged: TaggedValue) -> Result<Value, LoadError> {
    let name = tagged.tag.to_string();
    let value = convert(tagged.value)?;
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => crate::json::to_js_string(other),
    };
    Ok(match name.as_str() {
        "!ref" => single("<ref>", Value::String(text(&value))),
        "!tpl" => match value {
            Value::Object(_) => single("<tpl>", value),
            other => single("<tpl>", Value::String(text(&other))),
        },
        "!select" => single("<select>", value),
        "!const" => single("const", scalar(value)),
        "!enum" => single("enum", value),
        "!format" => serde_json::json!({"type": "string", "format": text(&value)}),
        "!pattern" => serde_json::json!({"type": "string", "pattern": text(&value)}),
        "!default" => {
            let value = scalar(value);
            let kind = match &value {
                Value::Bool(_) => Some("boolean"),
                Value::Number(n) if n.is_i64() || n.is_u64() => Some("integer"),
                Value::Number(_) => Some("number"),
                Value::String(_) => Some("string"),
                Value::Array(_) => Some("array"),
                Value::Object(_) => Some("object"),
                Value::Null => None,
            };
            let mut map = Map::new();
            map.insert("default".into(), value);
            if let Some(kind) = kind {
                map.insert("type".into(), Value::String(kind.into()));
            }
            Value::Object(map)
        }
        "!required" => match value {
            Value::Object(mut map) => {
                map.insert("!required".into(), Value::Bool(true));
                Value::Object(map)
            }
            Value::Null => single("!required", Value::Bool(true)),
            Value::String(s) if s.is_empty() => single("!required", Value::Bool(true)),
            other => serde_json::json!({"type": text(&other), "!required": true}),
        },
        "!merge" => serde_json::json!({"mode": "merge", "set": text(&value)}),
        "!append" => serde_json::json!({"mode": "append", "set": text(&value)}),
        _ => value,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn maps_the_tags_the_schema_tests_need() {
        let v = from_yaml(
            "a: !ref x.y\nb: !required string\nc: !required\nd: !required {type: integer}\n\
             e: !format email\nf: !default 10\ng: !tpl 'Hi {{ a }}'\n",
        )
        .unwrap();
        assert_eq!(v["a"], json!({"<ref>": "x.y"}));
        assert_eq!(v["b"], json!({"type": "string", "!required": true}));
        assert_eq!(v["c"], json!({"!required": true}));
        assert_eq!(v["d"], json!({"type": "integer", "!required": true}));
        assert_eq!(v["e"], json!({"type": "string", "format": "email"}));
        assert_eq!(v["f"], json!({"default": 10, "type": "integer"}));
        assert_eq!(v["g"], json!({"<tpl>": "Hi {{ a }}"}));
    }

    #[test]
    fn resolves_merge_keys_and_rejects_bad_yaml() {
        let v = from_yaml("a: &x {p: 1}\nb:\n  <<: *x\n  q: 2\n").unwrap();
        assert_eq!(v["b"], json!({"q": 2, "p": 1}));
        assert!(from_yaml("a: [").is_err());
    }
}
