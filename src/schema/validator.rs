//! Compiled validators.

use super::ajv::{join_uri, Converter};
use super::registry::{RegistryRetriever, SchemaRegistry};
use super::{SchemaError, ValidationError};
use serde_json::{Map, Value};
use std::fmt;
use std::sync::Arc;

/// The base URI `jsonschema` gives a schema without `$id`.
const DEFAULT_BASE: &str = "json-schema:///";

/// A JSON schema compiled once (draft 2020-12, formats checked), reporting errors the way
/// ajv reports them with `allErrors`. `$ref`s to registry names (`actions/form-v1`) and ids
/// (`schema:actions/form-v1`, `https://schemas.letsflow.io/v1.0/fn`) are resolved through
/// the registry. Cheap to clone; `Send + Sync`.
#[derive(Clone)]
pub struct Validator {
    compiled: Arc<jsonschema::Validator>,
    /// The schema as written, for wording and ordering errors.
    root: Arc<Value>,
    root_base: String,
    registry: SchemaRegistry,
}

impl fmt::Debug for Validator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Validator")
            .field("schema", &self.root)
            .finish_non_exhaustive()
    }
}

impl Validator {
    /// Compiles `schema`. References are loaded from `registry` (a snapshot of it is kept).
    pub fn new(schema: &Value, registry: &SchemaRegistry) -> Result<Validator, SchemaError> {
        let prepared = ajv_compatible(schema);
        let compiled = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .should_validate_formats(true)
            .with_retriever(RegistryRetriever {
                registry: registry.clone(),
            })
            .build(&prepared)
            .map_err(|e| match e.kind() {
                jsonschema::error::ValidationErrorKind::Referencing(r) => {
                    SchemaError::Reference(r.to_string())
                }
                _ => SchemaError::Invalid {
                    location: e.instance_path().as_str().to_string(),
                    message: e.to_string(),
                },
            })?;
        let root_base = match schema.get("$id").and_then(Value::as_str) {
            Some(id) => join_uri(DEFAULT_BASE, id.trim_end_matches('#')),
            None => DEFAULT_BASE.to_string(),
        };
        Ok(Validator {
            compiled: Arc::new(compiled),
            root: Arc::new(schema.clone()),
            root_base,
            registry: registry.clone(),
        })
    }

    /// The schema this validator was compiled from.
    pub fn schema(&self) -> &Value {
        &self.root
    }

    /// Whether `instance` matches the schema.
    pub fn is_valid(&self, instance: &Value) -> bool {
        self.compiled.is_valid(instance)
    }

    /// Every reason `instance` does not match, worded and ordered as ajv (`allErrors: true`)
    /// reports them. Empty when it matches.
    pub fn validate(&self, instance: &Value) -> Vec<ValidationError> {
        self.errors(instance, None)
    }

    /// Like [`Validator::validate`], but values for which `ignore` holds count as valid
    /// whatever they are: errors at or inside them are left out, and so are `anyOf`/`oneOf`
    /// failures that such a value alone causes. Used to check scenario objects whose
    /// values may be data functions (`{"<ref>": …}`), which only get a value at run time.
    pub fn validate_except(
        &self,
        instance: &Value,
        ignore: &dyn Fn(&Value) -> bool,
    ) -> Vec<ValidationError> {
        self.errors(instance, Some(ignore))
    }

    fn errors(
        &self,
        instance: &Value,
        ignore: Option<&dyn Fn(&Value) -> bool>,
    ) -> Vec<ValidationError> {
        let errors: Vec<_> = self.compiled.iter_errors(instance).collect();
        if errors.is_empty() {
            return Vec::new();
        }
        Converter {
            root: &self.root,
            root_base: &self.root_base,
            registry: &self.registry,
            instance,
            ignore,
        }
        .convert_all(&errors)
    }
}

/// Rewrites what ajv accepts but the `jsonschema` crate does not:
/// - `nullable: true` (an OpenAPI keyword ajv supports) adds `null` to `type`;
/// - a `schema:NAME` id becomes `json-schema:///NAME`, so that relative references in the
///   document (`$ref: draft-v1`) resolve as ajv resolves them (to `schema:actions/draft-v1`
///   from `schema:actions/form-v1`); the crate refuses relative references against an id
///   without `//`. Both forms name the same registry entry.
pub(crate) fn ajv_compatible(schema: &Value) -> Value {
    match schema {
        Value::Object(map) => {
            let mut out = Map::with_capacity(map.len());
            for (key, value) in map {
                let value = match (key.as_str(), value) {
                    ("const" | "enum" | "default" | "examples", _) => value.clone(),
                    ("$id", Value::String(id)) => match id.strip_prefix("schema:") {
                        Some(name) if !name.starts_with('/') => {
                            Value::String(format!("{DEFAULT_BASE}{name}"))
                        }
                        _ => value.clone(),
                    },
                    _ => ajv_compatible(value),
                };
                out.insert(key.clone(), value);
            }
            if out.get("nullable") == Some(&Value::Bool(true)) {
                match out.get_mut("type") {
                    Some(Value::String(t)) if t != "null" => {
                        let t = Value::String(std::mem::take(t));
                        out.insert("type".into(), Value::Array(vec![t, "null".into()]));
                    }
                    Some(Value::Array(list)) if !list.iter().any(|t| t == "null") => {
                        list.push("null".into());
                    }
                    _ => {}
                }
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(ajv_compatible).collect()),
        other => other.clone(),
    }
}
