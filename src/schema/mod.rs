//! JSON Schema: compiled validators with ajv-style error texts, the LetsFlow v1.0 schema
//! documents, and lookup of local schemas (`actions/form-v1`) in a schema folder.
// TEMP stand-in (replaced at merge).
#![allow(missing_docs, dead_code, unused_variables)]
use serde_json::Value;
#[derive(Debug, thiserror::Error)]
#[error("schema stand-in")]
pub struct SchemaError;
#[derive(Debug, Clone, Default)]
pub struct SchemaRegistry;
impl SchemaRegistry {
    pub fn new() -> Self {
        SchemaRegistry
    }
    pub fn add(&mut self, name: &str, schema: Value) {}
    pub fn load_dir(&mut self, dir: &std::path::Path) -> Result<usize, SchemaError> {
        Ok(0)
    }
    pub fn get(&self, name_or_id: &str) -> Option<&Value> {
        None
    }
}
pub struct Validator;
impl Validator {
    pub fn new(schema: &Value, registry: &SchemaRegistry) -> Result<Validator, SchemaError> {
        Ok(Validator)
    }
    pub fn is_valid(&self, instance: &Value) -> bool {
        true
    }
    pub fn validate(&self, instance: &Value) -> Vec<ValidationError> {
        vec![]
    }
}
#[derive(Debug, Clone)]
pub struct ValidationError {
    pub instance_path: String,
    pub keyword: String,
    pub message: String,
    pub params: Value,
}
impl ValidationError {
    pub fn text(&self) -> String {
        format!("data{} {}", self.instance_path, self.message)
    }
}
pub fn errors_text(errors: &[ValidationError]) -> String {
    errors
        .iter()
        .map(|e| e.text())
        .collect::<Vec<_>>()
        .join(", ")
}
