//! JSON Schema: compiled validators with ajv-style error texts, the LetsFlow v1.0 schema
//! documents, and lookup of local schemas (`actions/form-v1`) in a schema folder.
//!
//! ```
//! use letsflow::schema::{errors_text, SchemaRegistry, Validator};
//! use serde_json::json;
//!
//! let schema = json!({"type": "object", "properties": {"email": {"type": "string"}}, "required": ["email"]});
//! let validator = Validator::new(&schema, &SchemaRegistry::new()).unwrap();
//! let errors = validator.validate(&json!({}));
//! assert_eq!(errors_text(&errors), "data must have required property 'email'");
//! ```

mod ajv;
mod error;
mod registry;
mod validator;

pub use error::{errors_text, SchemaError, ValidationError};
pub use registry::SchemaRegistry;
pub use validator::Validator;

pub(crate) use error::escape_segment;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod v1_tests;
