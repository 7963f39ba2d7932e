//! scenario::normalize
//!
//! TEMPORARY stand-in, replaced at merge by the real normalizer: only the part of schema
//! normalization (SPEC 1.3) that the schema module needs for local schema files.

use serde_json::{Map, Value};

/// Normalizes a JSON schema written in the LetsFlow short forms: `!required` markers move
/// to `required`, string sub-schemas expand to `{type}` (or `{$ref}` for URIs), and a missing
/// `type` becomes `object` when the schema describes properties (`array` with `items`).
pub fn normalize_schema(schema: &Value) -> Value {
    match schema {
        Value::String(s) => expand(s),
        Value::Object(map) if map.contains_key("$ref") => schema.clone(),
        Value::Object(map) => Value::Object(normalize_object(map)),
        other => other.clone(),
    }
}

fn expand(s: &str) -> Value {
    let key = if s.starts_with("http:") || s.starts_with("https:") || s.starts_with('#') {
        "$ref"
    } else {
        "type"
    };
    let mut map = Map::new();
    map.insert(key.to_string(), Value::String(s.to_string()));
    Value::Object(map)
}

fn normalize_object(map: &Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::new();
    let mut required: Vec<Value> = Vec::new();
    for (key, value) in map {
        if key == "!required" {
            continue;
        }
        let value = match key.as_str() {
            "properties" => match value {
                Value::Object(props) => {
                    let mut normalized = Map::new();
                    for (name, sub) in props {
                        if sub.get("!required") == Some(&Value::Bool(true)) {
                            required.push(Value::String(name.clone()));
                        }
                        normalized.insert(name.clone(), normalize_schema(sub));
                    }
                    Value::Object(normalized)
                }
                other => other.clone(),
            },
            "patternProperties" | "$defs" | "definitions" => match value {
                Value::Object(subs) => Value::Object(
                    subs.iter()
                        .map(|(k, v)| (k.clone(), normalize_schema(v)))
                        .collect(),
                ),
                other => other.clone(),
            },
            "items" | "additionalProperties" => normalize_schema(value),
            "allOf" | "anyOf" | "oneOf" => match value {
                Value::Array(items) => Value::Array(items.iter().map(normalize_schema).collect()),
                other => other.clone(),
            },
            _ => value.clone(),
        };
        out.insert(key.clone(), value);
    }
    if !required.is_empty() {
        let mut list = match out.remove("required") {
            Some(Value::Array(list)) => list,
            _ => Vec::new(),
        };
        for name in required {
            if !list.contains(&name) {
                list.push(name);
            }
        }
        out.insert("required".to_string(), Value::Array(list));
    }
    if !out.contains_key("type") {
        if ["properties", "patternProperties", "additionalProperties"]
            .iter()
            .any(|k| out.contains_key(*k))
        {
            out.insert("type".to_string(), Value::String("object".to_string()));
        } else if out.contains_key("items") {
            out.insert("type".to_string(), Value::String("array".to_string()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn moves_required_markers_and_expands_short_forms() {
        let schema = json!({
            "properties": {
                "a": {"type": "string", "!required": true},
                "b": "number",
                "c": {"items": "string"}
            }
        });
        assert_eq!(
            normalize_schema(&schema),
            json!({
                "properties": {
                    "a": {"type": "string"},
                    "b": {"type": "number"},
                    "c": {"items": {"type": "string"}, "type": "array"}
                },
                "required": ["a"],
                "type": "object"
            })
        );
        assert_eq!(normalize_schema(&json!("#/x")), json!({"$ref": "#/x"}));
    }
}
