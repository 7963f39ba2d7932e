//! JSON Schema: compiled validators with ajv-style error texts, the LetsFlow v1.0 schema
//! documents, and lookup of local schemas (`actions/form-v1`) in a schema folder.
