//! Scenario ids (SPEC 1.4): scenarios are content-addressed.

use serde_json::Value;
use uuid::Uuid;

/// The `$schema` assumed when a normalized scenario has none.
pub const DEFAULT_SCHEMA: &str = "https://schemas.letsflow.io/v1.0/scenario";

/// The id of a normalized scenario: a UUID v5 whose namespace is the UUID v5 of the
/// scenario's `$schema` in the URL namespace, and whose name is the canonical JSON of the
/// scenario (sorted keys, no whitespace, JavaScript number text). Equal content gives an
/// equal id, whatever the key order.
pub fn scenario_id(normalized: &Value) -> Uuid {
    let schema = normalized
        .get("$schema")
        .and_then(Value::as_str)
        .unwrap_or(DEFAULT_SCHEMA);
    let namespace = Uuid::new_v5(&Uuid::NAMESPACE_URL, schema.as_bytes());
    Uuid::new_v5(&namespace, crate::json::canonical(normalized).as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn key_order_does_not_matter() {
        let a: Value = serde_json::from_str(r#"{"$schema": "https://schemas.letsflow.io/v1.0/scenario", "title": "x", "states": {"initial": {"a": 1, "b": [1, 2]}}}"#).unwrap();
        let b: Value = serde_json::from_str(r#"{"states": {"initial": {"b": [1, 2], "a": 1}}, "title": "x", "$schema": "https://schemas.letsflow.io/v1.0/scenario"}"#).unwrap();
        assert_eq!(scenario_id(&a), scenario_id(&b));
    }

    #[test]
    fn content_changes_the_id() {
        let a = json!({"title": "x"});
        let b = json!({"title": "y"});
        assert_ne!(scenario_id(&a), scenario_id(&b));
    }

    #[test]
    fn number_representation_does_not_matter() {
        let a = json!({"after": 864000});
        let b = json!({"after": 864000.0});
        assert_eq!(scenario_id(&a), scenario_id(&b));
    }

    #[test]
    fn the_id_is_a_v5_uuid_in_the_schema_namespace() {
        let value = json!({"$schema": DEFAULT_SCHEMA, "a": 1});
        let namespace = Uuid::new_v5(&Uuid::NAMESPACE_URL, DEFAULT_SCHEMA.as_bytes());
        let expected = Uuid::new_v5(
            &namespace,
            br#"{"$schema":"https://schemas.letsflow.io/v1.0/scenario","a":1}"#,
        );
        assert_eq!(scenario_id(&value), expected);
        assert_eq!(scenario_id(&value).get_version_num(), 5);
        // Without `$schema` the default namespace is used.
        let bare = json!({"a": 1});
        assert_eq!(scenario_id(&bare), Uuid::new_v5(&namespace, br#"{"a":1}"#));
    }
}
