//! Errors: a schema that cannot be used ([`SchemaError`]) and an instance that does not
//! match ([`ValidationError`], worded as ajv words it).

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt;
use std::path::PathBuf;

/// A schema could not be loaded or compiled.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    /// A schema folder or file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The folder or file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A `.json` schema file is not valid JSON.
    #[error("invalid JSON in {path}: {source}")]
    Json {
        /// The file.
        path: PathBuf,
        /// The parse error.
        #[source]
        source: serde_json::Error,
    },
    /// A `.yaml`/`.yml` schema file is not valid YAML.
    #[error("invalid YAML in {path}: {message}")]
    Yaml {
        /// The file.
        path: PathBuf,
        /// The loader's message.
        message: String,
    },
    /// A reference names a schema the registry does not hold.
    #[error("schema '{0}' not found")]
    NotFound(String),
    /// A `$ref` in the schema cannot be resolved.
    #[error("cannot resolve a reference in the schema: {0}")]
    Reference(String),
    /// The schema is not a valid JSON Schema (e.g. a bad `pattern` or a wrong keyword type).
    #[error("invalid JSON schema at '{location}': {message}")]
    Invalid {
        /// JSON pointer into the schema.
        location: String,
        /// What is wrong there.
        message: String,
    },
}

/// One reason an instance does not match a schema, in ajv's shape and English wording:
/// `{instancePath: "/contact", keyword: "type", message: "must be string", params: {type: "string"}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ValidationError {
    /// JSON pointer to the failing value: `""` for the root, `/a/0` for an array item.
    pub instance_path: String,
    /// The JSON Schema keyword that failed (`type`, `required`, …), or a LetsFlow check name.
    pub keyword: String,
    /// ajv's message: `must be string`, `must have required property 'email'`.
    pub message: String,
    /// ajv's params: `{missingProperty}`, `{type}`, `{additionalProperty}`, `{limit, comparison}`, …
    pub params: Value,
}

impl ValidationError {
    /// A new error.
    pub fn new(
        instance_path: impl Into<String>,
        keyword: impl Into<String>,
        message: impl Into<String>,
        params: Value,
    ) -> Self {
        ValidationError {
            instance_path: instance_path.into(),
            keyword: keyword.into(),
            message: message.into(),
            params,
        }
    }

    /// ajv's text for the error: `data{instancePath} {message}`, e.g.
    /// `data must have required property 'email'` or `data/contact must be string`.
    pub fn text(&self) -> String {
        format!("data{} {}", self.instance_path, self.message)
    }

    /// The error as a line for people: `path: message`, the path `/` for the document
    /// itself, e.g. `/states/initial: must have required property 'on'`.
    pub fn located(&self) -> String {
        let path = if self.instance_path.is_empty() {
            "/"
        } else {
            self.instance_path.as_str()
        };
        format!("{path}: {}", self.message)
    }
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text())
    }
}

/// ajv's `errorsText`: the texts joined by `", "` (`"No errors"` when there are none).
pub fn errors_text(errors: &[ValidationError]) -> String {
    if errors.is_empty() {
        return "No errors".to_string();
    }
    errors
        .iter()
        .map(ValidationError::text)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Escapes one JSON pointer segment (`~` → `~0`, `/` → `~1`).
pub(crate) fn escape_segment(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

/// Splits a JSON pointer into unescaped segments (`""` → none).
pub(crate) fn pointer_segments(pointer: &str) -> Vec<String> {
    if pointer.is_empty() {
        return Vec::new();
    }
    pointer
        .trim_start_matches('/')
        .split('/')
        .map(|s| s.replace("~1", "/").replace("~0", "~"))
        .collect()
}

/// Joins unescaped segments into a JSON pointer.
pub(crate) fn pointer(segments: &[String]) -> String {
    segments
        .iter()
        .map(|s| format!("/{}", escape_segment(s)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn text_and_errors_text_follow_ajv() {
        let a = ValidationError::new(
            "/address",
            "type",
            "must be string",
            json!({"type": "string"}),
        );
        let b = ValidationError::new(
            "/contact",
            "type",
            "must be string",
            json!({"type": "string"}),
        );
        assert_eq!(a.text(), "data/address must be string");
        assert_eq!(
            errors_text(&[a.clone(), b]),
            "data/address must be string, data/contact must be string"
        );
        assert_eq!(errors_text(&[]), "No errors");
        assert_eq!(a.to_string(), a.text());
        assert_eq!(a.located(), "/address: must be string");
        let root = ValidationError::new(
            "",
            "required",
            "must have required property 'states'",
            json!({}),
        );
        assert_eq!(root.located(), "/: must have required property 'states'");
        let json = serde_json::to_value(&a).unwrap();
        assert_eq!(json["instancePath"], json!("/address"));
    }

    #[test]
    fn pointers_round_trip() {
        let segs = pointer_segments("/a~1b/0/c~0d");
        assert_eq!(segs, vec!["a/b", "0", "c~d"]);
        assert_eq!(pointer(&segs), "/a~1b/0/c~0d");
        assert!(pointer_segments("").is_empty());
    }
}
