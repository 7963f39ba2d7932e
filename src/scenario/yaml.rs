//! scenario::yaml
// TEMP stand-in (replaced at merge): parses plain YAML, without the custom tags.
#![allow(missing_docs)]
pub fn from_yaml(src: &str) -> Result<serde_json::Value, super::LoadError> {
    yaml_serde::from_str(src).map_err(|_| super::LoadError)
}
