//! The ajv wording and order of every error kind.

use super::*;
use serde_json::{json, Value};

fn validator(schema: Value) -> Validator {
    Validator::new(&schema, &SchemaRegistry::new()).unwrap()
}

/// errors_text of validating `instance` against `schema`.
fn text(schema: Value, instance: Value) -> String {
    errors_text(&validator(schema).validate(&instance))
}

/// The single error of validating `instance` against `schema`.
fn single(schema: Value, instance: Value) -> ValidationError {
    let errors = validator(schema).validate(&instance);
    assert_eq!(errors.len(), 1, "{errors:?}");
    errors.into_iter().next().unwrap()
}

#[test]
fn golden_messages() {
    assert_eq!(
        text(json!({"type": "object"}), json!("x")),
        "data must be object"
    );
    assert_eq!(
        text(json!({"type": "string"}), json!(1)),
        "data must be string"
    );
    let actor = json!({
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "organization": {"type": "string"}
        },
        "required": ["name", "organization"]
    });
    assert_eq!(
        text(actor, json!({"name": "Joe"})),
        "data must have required property 'organization'"
    );
    let customer = json!({
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "company": {"type": "string"},
            "address": {"type": "string"},
            "contact": {"type": "string"},
            "email": {"type": "string"}
        }
    });
    // Schema order, not data order.
    assert_eq!(
        text(customer, json!({"contact": 2, "address": 1})),
        "data/address must be string, data/contact must be string"
    );
}

#[test]
fn type_errors() {
    let e = single(json!({"type": "string"}), json!(1));
    assert_eq!(
        (e.keyword.as_str(), e.params.clone()),
        ("type", json!({"type": "string"}))
    );
    let e = single(json!({"type": ["string", "number"]}), json!(true));
    assert_eq!(e.text(), "data must be string,number");
    assert_eq!(e.params, json!({"type": ["string", "number"]}));
    assert_eq!(
        text(json!({"type": "integer"}), json!(1.5)),
        "data must be integer"
    );
    assert!(validator(json!({"type": "integer"})).is_valid(&json!(2.0)));
}

#[test]
fn object_errors_in_ajv_order() {
    let schema = json!({
        "type": "object",
        "properties": {"a": {"type": "string"}, "b": {"type": "string"}},
        "required": ["c", "a"],
        "additionalProperties": false
    });
    let errors = validator(schema).validate(&json!({"y": 1, "b": 1, "x": 2}));
    assert_eq!(
        errors_text(&errors),
        "data must have required property 'c', data must have required property 'a', \
         data must NOT have additional properties, data must NOT have additional properties, \
         data/b must be string"
    );
    assert_eq!(errors[0].params, json!({"missingProperty": "c"}));
    assert_eq!(errors[2].keyword, "additionalProperties");
    assert_eq!(errors[2].params, json!({"additionalProperty": "y"}));
    assert_eq!(errors[3].params, json!({"additionalProperty": "x"}));
}

#[test]
fn enum_const_format_pattern() {
    let e = single(json!({"enum": ["a", "b"]}), json!("c"));
    assert_eq!(e.text(), "data must be equal to one of the allowed values");
    assert_eq!(e.params, json!({"allowedValues": ["a", "b"]}));
    let e = single(json!({"const": 10}), json!(1));
    assert_eq!(e.text(), "data must be equal to constant");
    assert_eq!(e.params, json!({"allowedValue": 10}));
    let e = single(json!({"type": "string", "format": "email"}), json!("nope"));
    assert_eq!(e.text(), "data must match format \"email\"");
    assert_eq!(
        (e.keyword.as_str(), e.params.clone()),
        ("format", json!({"format": "email"}))
    );
    let e = single(json!({"type": "string", "pattern": "^a"}), json!("b"));
    assert_eq!(e.text(), "data must match pattern \"^a\"");
    assert_eq!(e.params, json!({"pattern": "^a"}));
    // Unknown formats are not checked.
    assert!(validator(json!({"format": "no-such-format"})).is_valid(&json!("x")));
}

#[test]
fn number_limits() {
    let e = single(json!({"minimum": 1}), json!(0));
    assert_eq!(e.text(), "data must be >= 1");
    assert_eq!(e.params, json!({"comparison": ">=", "limit": 1}));
    assert_eq!(
        text(json!({"maximum": 10}), json!(11)),
        "data must be <= 10"
    );
    assert_eq!(
        text(json!({"exclusiveMinimum": 0}), json!(0)),
        "data must be > 0"
    );
    assert_eq!(
        text(json!({"exclusiveMaximum": 2.5}), json!(3)),
        "data must be < 2.5"
    );
    let e = single(json!({"multipleOf": 2}), json!(3));
    assert_eq!(e.text(), "data must be multiple of 2");
    assert_eq!(e.params, json!({"multipleOf": 2}));
    // Number keywords come in ajv's order: maximum, minimum, …, multipleOf.
    assert_eq!(
        text(
            json!({"multipleOf": 2, "minimum": 10, "maximum": 0}),
            json!(3)
        ),
        "data must be <= 0, data must be >= 10, data must be multiple of 2"
    );
}

#[test]
fn length_item_and_property_limits() {
    let e = single(json!({"maxLength": 3}), json!("abcd"));
    assert_eq!(e.text(), "data must NOT have more than 3 characters");
    assert_eq!(e.params, json!({"limit": 3}));
    assert_eq!(
        text(json!({"minLength": 2}), json!("é")),
        "data must NOT have fewer than 2 characters"
    );
    assert_eq!(
        text(json!({"minItems": 1}), json!([])),
        "data must NOT have fewer than 1 items"
    );
    assert_eq!(
        text(json!({"maxItems": 1}), json!([1, 2])),
        "data must NOT have more than 1 items"
    );
    assert_eq!(
        text(json!({"minProperties": 2}), json!({"a": 1})),
        "data must NOT have fewer than 2 properties"
    );
    assert_eq!(
        text(json!({"maxProperties": 1}), json!({"a": 1, "b": 2})),
        "data must NOT have more than 1 properties"
    );
}

#[test]
fn unique_items_names_the_duplicates_like_ajv() {
    let typed = json!({"type": "array", "items": {"type": "integer"}, "uniqueItems": true});
    let e = single(typed, json!([1, 1]));
    assert_eq!(
        e.text(),
        "data must NOT have duplicate items (items ## 1 and 0 are identical)"
    );
    assert_eq!(e.params, json!({"i": 0, "j": 1}));
    assert_eq!(
        text(json!({"uniqueItems": true}), json!([{"a": 1}, 2, {"a": 1}])),
        "data must NOT have duplicate items (items ## 0 and 2 are identical)"
    );
}

#[test]
fn composite_errors_follow_their_branches() {
    assert_eq!(
        text(
            json!({"anyOf": [{"type": "string"}, {"type": "number"}]}),
            json!(true)
        ),
        "data must be string, data must be number, data must match a schema in anyOf"
    );
    let e = single(
        json!({"oneOf": [{"type": "integer"}, {"type": "number"}]}),
        json!(1),
    );
    assert_eq!(e.text(), "data must match exactly one schema in oneOf");
    assert_eq!(e.params, json!({"passingSchemas": [0, 1]}));
    let errors =
        validator(json!({"oneOf": [{"type": "string"}, {"minimum": 5}]})).validate(&json!(1));
    assert_eq!(
        errors_text(&errors),
        "data must be string, data must be >= 5, data must match exactly one schema in oneOf"
    );
    assert_eq!(errors[2].params, json!({"passingSchemas": null}));
    let e = single(json!({"not": {"type": "string"}}), json!("x"));
    assert_eq!(
        (e.text().as_str(), e.keyword.as_str()),
        ("data must NOT be valid", "not")
    );
    assert_eq!(
        text(
            json!({"allOf": [{"required": ["a"]}, {"required": ["b"]}]}),
            json!({})
        ),
        "data must have required property 'a', data must have required property 'b'"
    );
}

#[test]
fn if_then_else() {
    let schema = json!({
        "if": {"properties": {"kind": {"const": "a"}}},
        "then": {"required": ["x"]},
        "else": {"required": ["y"]}
    });
    let errors = validator(schema.clone()).validate(&json!({"kind": "a"}));
    assert_eq!(
        errors_text(&errors),
        "data must have required property 'x', data must match \"then\" schema"
    );
    assert_eq!(errors[1].keyword, "if");
    assert_eq!(errors[1].params, json!({"failingKeyword": "then"}));
    assert_eq!(
        text(schema, json!({"kind": "b"})),
        "data must have required property 'y', data must match \"else\" schema"
    );
    let nested = json!({"properties": {"p": {"if": {"type": "string"}, "then": {"minLength": 2}}}});
    assert_eq!(
        text(nested, json!({"p": "a"})),
        "data/p must NOT have fewer than 2 characters, data/p must match \"then\" schema"
    );
}

#[test]
fn contains_false_schema_and_items() {
    let e = single(
        json!({"type": "array", "contains": {"type": "string"}}),
        json!([1]),
    );
    assert_eq!(e.text(), "data must contain at least 1 valid item(s)");
    assert_eq!(e.params, json!({"minContains": 1}));
    assert_eq!(
        text(
            json!({"contains": {"type": "string"}, "maxContains": 1}),
            json!(["a", "b"])
        ),
        "data must contain at least 1 and no more than 1 valid item(s)"
    );
    let e = single(json!({"properties": {"by": false}}), json!({"by": 1}));
    assert_eq!(e.text(), "data/by boolean schema is false");
    assert_eq!(e.keyword, "false schema");
    let e = single(
        json!({"prefixItems": [{"type": "string"}], "items": false}),
        json!(["a", 1, 2]),
    );
    assert_eq!(e.text(), "data must NOT have more than 1 items");
    assert_eq!(e.params, json!({"limit": 1}));
    assert_eq!(
        text(
            json!({"type": "array", "items": {"type": "string"}}),
            json!([1, "a", 2])
        ),
        "data/0 must be string, data/2 must be string"
    );
}

#[test]
fn dependent_required_property_names_and_unevaluated() {
    let e = single(
        json!({"dependentRequired": {"name": ["version"]}}),
        json!({"name": "x"}),
    );
    assert_eq!(
        e.text(),
        "data must have property version when property name is present"
    );
    assert_eq!(
        e.params,
        json!({"property": "name", "missingProperty": "version", "depsCount": 1, "deps": "version"})
    );
    assert_eq!(
        text(
            json!({"dependentRequired": {"a": ["b", "c"]}}),
            json!({"a": 1})
        ),
        "data must have properties b, c when property a is present, \
         data must have properties b, c when property a is present"
    );
    let errors =
        validator(json!({"propertyNames": {"pattern": "^a"}})).validate(&json!({"ab": 1, "b": 2}));
    assert_eq!(
        errors_text(&errors),
        "data must match pattern \"^a\", data property name must be valid"
    );
    assert_eq!(errors[1].params, json!({"propertyName": "b"}));
    let e = single(
        json!({"properties": {"a": true}, "unevaluatedProperties": false}),
        json!({"a": 1, "b": 2}),
    );
    assert_eq!(e.text(), "data must NOT have unevaluated properties");
    assert_eq!(e.params, json!({"unevaluatedProperty": "b"}));
}

#[test]
fn type_error_position_depends_on_the_schema() {
    // No object keywords: the type error comes first.
    assert_eq!(
        text(json!({"type": "object", "enum": [1]}), json!("s")),
        "data must be object, data must be equal to one of the allowed values"
    );
    // With object keywords: in the place of the object keywords, after `enum`.
    assert_eq!(
        text(
            json!({"type": "object", "properties": {"a": {}}, "enum": [1]}),
            json!("s")
        ),
        "data must be equal to one of the allowed values, data must be object"
    );
}

#[test]
fn pattern_properties_and_additional_properties_run_in_data_order() {
    let schema = json!({
        "patternProperties": {"^b": {"type": "string"}, "^a": {"type": "string"}},
        "additionalProperties": {"type": "number"}
    });
    assert_eq!(
        text(
            schema,
            json!({"a2": 1, "z": "x", "b1": 1, "a1": 1, "y": "x"})
        ),
        "data/z must be number, data/y must be number, data/b1 must be string, \
         data/a2 must be string, data/a1 must be string"
    );
}

#[test]
fn references_resolve_through_the_registry_and_keep_schema_order() {
    let mut registry = SchemaRegistry::new();
    registry.add("defs/name", json!({"type": "string", "minLength": 2}));
    registry.add(
        "defs/person",
        json!({"$id": "schema:defs/person", "type": "object", "properties": {"z": {"$ref": "#/$defs/s"}, "a": {"$ref": "schema:defs/name"}}, "$defs": {"s": {"type": "string"}}}),
    );
    let schema = json!({"properties": {
        "n": {"$ref": "defs/name"},
        "m": {"$ref": "schema:defs/name"},
        "p": {"$ref": "schema:defs/person"}
    }});
    let v = Validator::new(&schema, &registry).unwrap();
    assert_eq!(
        errors_text(&v.validate(&json!({"p": {"a": "x", "z": 1}, "m": "b", "n": "a"}))),
        "data/n must NOT have fewer than 2 characters, data/m must NOT have fewer than 2 characters, \
         data/p/z must be string, data/p/a must NOT have fewer than 2 characters"
    );
    let local = json!({"$defs": {"p": {"type": "object", "properties": {"z": {"type": "string"}, "a": {"type": "string"}}}}, "$ref": "#/$defs/p"});
    assert_eq!(
        text(local, json!({"a": 1, "z": 1})),
        "data/z must be string, data/a must be string"
    );
}

#[test]
fn relative_references_resolve_from_schema_ids() {
    let mut registry = SchemaRegistry::new();
    registry.add(
        "actions/a",
        json!({"$id": "schema:actions/a", "properties": {"x": {"$ref": "b"}, "y": {"$ref": "schema:actions/b"}}}),
    );
    registry.add(
        "actions/b",
        json!({"$id": "schema:actions/b", "type": "string"}),
    );
    let v = Validator::new(registry.get("actions/a").unwrap(), &registry).unwrap();
    assert_eq!(
        errors_text(&v.validate(&json!({"y": 1, "x": 1}))),
        "data/x must be string, data/y must be string"
    );
    let by_ref = Validator::new(&json!({"$ref": "schema:actions/a"}), &registry).unwrap();
    assert_eq!(
        errors_text(&by_ref.validate(&json!({"x": 2}))),
        "data/x must be string"
    );
}

#[test]
fn compile_errors() {
    let registry = SchemaRegistry::new();
    assert!(matches!(
        Validator::new(&json!({"$ref": "actions/missing"}), &registry),
        Err(SchemaError::Reference(_))
    ));
    assert!(matches!(
        Validator::new(&json!({"type": 12}), &registry),
        Err(SchemaError::Invalid { .. })
    ));
}

#[test]
fn nullable_is_understood_like_ajv() {
    let v = validator(json!({"type": "object", "nullable": true}));
    assert!(v.is_valid(&json!(null)));
    assert_eq!(errors_text(&v.validate(&json!(1))), "data must be object");
}

#[test]
fn ignored_values_count_as_valid() {
    let schema = json!({
        "type": "object",
        "properties": {
            "to": {"oneOf": [{"type": "string", "format": "email"}, {"type": "object", "required": ["email"], "additionalProperties": false}]},
            "n": {"type": "string"}
        },
        "required": ["to"]
    });
    let is_fn = |v: &Value| {
        v.as_object()
            .is_some_and(|o| o.len() == 1 && o.contains_key("<ref>"))
    };
    let v = validator(schema);
    assert!(v
        .validate_except(&json!({"to": {"<ref>": "x"}, "n": {"<ref>": "y"}}), &is_fn)
        .is_empty());
    assert!(!v.validate(&json!({"to": {"<ref>": "x"}})).is_empty());
    assert_eq!(
        errors_text(&v.validate_except(&json!({"to": {"<ref>": "x"}, "n": 1}), &is_fn)),
        "data/n must be string"
    );
}

#[test]
fn validators_are_send_and_sync() {
    fn check<T: Send + Sync + Clone>() {}
    check::<Validator>();
    check::<SchemaRegistry>();
}
