//! The schema registry: the built-in LetsFlow v1.0 documents plus local schemas by name.

use super::SchemaError;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

/// The built-in LetsFlow v1.0 schema documents, by `$id`.
const BUILT_INS: [&str; 5] = [
    include_str!("v1.0/scenario.json"),
    include_str!("v1.0/actor.json"),
    include_str!("v1.0/action.json"),
    include_str!("v1.0/fn.json"),
    include_str!("v1.0/schema.json"),
];

/// The parsed built-in documents (parsed once per program; a unit test checks that all of
/// them parse and carry an `$id`).
fn built_ins() -> &'static [(String, Arc<Value>)] {
    static DOCS: OnceLock<Vec<(String, Arc<Value>)>> = OnceLock::new();
    DOCS.get_or_init(|| {
        BUILT_INS
            .iter()
            .filter_map(|text| serde_json::from_str::<Value>(text).ok())
            .filter_map(|doc| {
                let id = doc.get("$id")?.as_str()?.to_string();
                Some((id, Arc::new(doc)))
            })
            .collect()
    })
}

/// JSON schemas by name and by `$id`: the built-in LetsFlow v1.0 documents
/// (`https://schemas.letsflow.io/v1.0/scenario`, `…/actor`, `…/action`, `…/fn`, `…/schema`)
/// plus local schemas such as `actions/form-v1`. Cloning is cheap (documents are shared).
#[derive(Clone, Debug)]
pub struct SchemaRegistry {
    /// Documents by name (built-ins are named by their `$id`).
    schemas: BTreeMap<String, Arc<Value>>,
    /// `$id` → name, for documents that declare an id different from their name.
    ids: BTreeMap<String, String>,
}

impl Default for SchemaRegistry {
    fn default() -> Self {
        Self::new()
    }
}

impl SchemaRegistry {
    /// A registry holding only the built-in LetsFlow v1.0 documents.
    pub fn new() -> Self {
        let mut registry = SchemaRegistry {
            schemas: BTreeMap::new(),
            ids: BTreeMap::new(),
        };
        for (id, doc) in built_ins() {
            registry.schemas.insert(id.clone(), Arc::clone(doc));
        }
        registry
    }

    /// Adds (or replaces) a schema under `name`, e.g. `actions/form-v1`. A string `$id` in
    /// the schema (e.g. `schema:actions/form-v1`) is registered as another way to find it.
    /// The schema is stored as given; see [`SchemaRegistry::load_dir`] for normalization.
    pub fn add(&mut self, name: &str, schema: Value) {
        if let Some(id) = schema.get("$id").and_then(Value::as_str) {
            let id = id.trim_end_matches('#');
            if id != name {
                self.ids.insert(id.to_string(), name.to_string());
            }
        }
        self.schemas.insert(name.to_string(), Arc::new(schema));
    }

    /// Loads every `.yaml`, `.yml` and `.json` file below `dir` (recursively, in path
    /// order), naming each by its path relative to `dir` without the extension
    /// (`actions/form-v1`) and also by its `$id`. YAML files may use the LetsFlow tags and
    /// short forms; they are normalized as schemas. Returns the number of files loaded.
    pub fn load_dir(&mut self, dir: &Path) -> Result<usize, SchemaError> {
        let mut files = Vec::new();
        collect_files(dir, &mut files)?;
        files.sort();
        let mut count = 0;
        for path in files {
            let Some(ext) = path.extension().and_then(|e| e.to_str()) else {
                continue;
            };
            let ext = ext.to_ascii_lowercase();
            if !matches!(ext.as_str(), "json" | "yaml" | "yml") {
                continue;
            }
            let text = std::fs::read_to_string(&path).map_err(|source| SchemaError::Io {
                path: path.clone(),
                source,
            })?;
            let schema = if ext == "json" {
                serde_json::from_str(&text).map_err(|source| SchemaError::Json {
                    path: path.clone(),
                    source,
                })?
            } else {
                let raw =
                    crate::scenario::yaml::from_yaml(&text).map_err(|e| SchemaError::Yaml {
                        path: path.clone(),
                        message: e.to_string(),
                    })?;
                crate::scenario::normalize::normalize_schema(&raw)
            };
            let relative = path.strip_prefix(dir).unwrap_or(&path).with_extension("");
            let name = relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            self.add(&name, schema);
            count += 1;
        }
        Ok(count)
    }

    /// The names of all schemas, built-in ones (named by their `$id`) included, in order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.schemas.keys().map(String::as_str)
    }

    /// A schema by name (`actions/form-v1`), by `$id` (`schema:actions/form-v1`,
    /// `https://schemas.letsflow.io/v1.0/scenario`), or by a `schema:` name.
    pub fn get(&self, name_or_id: &str) -> Option<&Value> {
        self.get_arc(name_or_id).map(|doc| doc.as_ref())
    }

    /// Like [`SchemaRegistry::get`], sharing the document.
    pub(crate) fn get_arc(&self, name_or_id: &str) -> Option<&Arc<Value>> {
        let key = name_or_id.trim_end_matches('#');
        if let Some(doc) = self.schemas.get(key) {
            return Some(doc);
        }
        if let Some(doc) = self.ids.get(key).and_then(|name| self.schemas.get(name)) {
            return Some(doc);
        }
        if let Some(name) = key.strip_prefix("schema:") {
            if let Some(doc) = self.schemas.get(name) {
                return Some(doc);
            }
        }
        for ext in [".json", ".yaml", ".yml"] {
            if let Some(doc) = key.strip_suffix(ext).and_then(|k| self.schemas.get(k)) {
                return Some(doc);
            }
        }
        None
    }

    /// The document a reference URI (without fragment) points at: an exact name or id, a
    /// name under the default base `json-schema:///`, or — for other URIs — the longest
    /// trailing part of the path that names a registered schema
    /// (`https://example.com/schemas/actions/form-v1` → `actions/form-v1`).
    pub(crate) fn resolve_uri(&self, uri: &str) -> Option<&Arc<Value>> {
        let uri = uri.split('#').next().unwrap_or(uri);
        if let Some(doc) = self.get_arc(uri) {
            return Some(doc);
        }
        let path = match uri.split_once("://") {
            Some((_, rest)) => rest.split_once('/').map_or("", |(_, path)| path),
            None => return None,
        };
        let path = path.split('?').next().unwrap_or(path);
        let mut rest = path;
        loop {
            if !rest.is_empty() {
                if let Some(doc) = self.get_arc(rest) {
                    return Some(doc);
                }
            }
            match rest.split_once('/') {
                Some((_, tail)) => rest = tail,
                None => return None,
            }
        }
    }
}

fn collect_files(dir: &Path, files: &mut Vec<PathBuf>) -> Result<(), SchemaError> {
    let io = |source| SchemaError::Io {
        path: dir.to_path_buf(),
        source,
    };
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        if path.is_dir() {
            collect_files(&path, files)?;
        } else {
            files.push(path);
        }
    }
    Ok(())
}

/// Loads references for the `jsonschema` compiler from a [`SchemaRegistry`].
pub(crate) struct RegistryRetriever {
    pub(crate) registry: SchemaRegistry,
}

impl jsonschema::Retrieve for RegistryRetriever {
    fn retrieve(
        &self,
        uri: &jsonschema::Uri<String>,
    ) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        match self.registry.resolve_uri(uri.as_str()) {
            Some(doc) => Ok(super::validator::ajv_compatible(doc)),
            None => Err(Box::new(SchemaError::NotFound(uri.as_str().to_string()))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn built_ins_parse_and_are_found_by_id() {
        assert_eq!(built_ins().len(), BUILT_INS.len());
        let registry = SchemaRegistry::default();
        for name in ["scenario", "actor", "action", "fn", "schema"] {
            let id = format!("https://schemas.letsflow.io/v1.0/{name}");
            let doc = registry.get(&id).unwrap();
            assert_eq!(doc["$id"], json!(id));
            assert_eq!(
                doc["$schema"],
                json!("https://json-schema.org/draft/2020-12/schema")
            );
            assert!(registry.get(&format!("{id}#")).is_some());
        }
        assert!(registry.get("actions/form-v1").is_none());
    }

    #[test]
    fn local_schemas_are_found_by_name_and_id() {
        let mut registry = SchemaRegistry::new();
        registry.add("actions/form-v1", json!({"$id": "schema:actions/form-v1"}));
        registry.add("plain", json!({"type": "string"}));
        assert!(registry.get("actions/form-v1").is_some());
        assert!(registry.get("schema:actions/form-v1").is_some());
        assert!(registry.get("schema:plain").is_some());
        assert!(registry.get("plain.json").is_some());
        assert!(registry.get("other").is_none());
        assert!(registry.resolve_uri("json-schema:///plain").is_some());
        assert!(registry
            .resolve_uri("https://example.com/v1/actions/form-v1")
            .is_some());
        assert!(registry
            .resolve_uri("https://example.com/v1/other")
            .is_none());
    }

    #[test]
    fn load_dir_reads_yaml_and_json_recursively() {
        let dir = std::env::temp_dir().join(format!("letsflow-schema-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("actions")).unwrap();
        std::fs::write(
            dir.join("actions/form-v1.yaml"),
            "$id: schema:actions/form-v1\nproperties:\n  response: !required\n  name: string\n",
        )
        .unwrap();
        std::fs::write(dir.join("plain.json"), r#"{"type": "integer"}"#).unwrap();
        std::fs::write(dir.join("notes.txt"), "ignored").unwrap();

        let mut registry = SchemaRegistry::new();
        assert_eq!(registry.load_dir(&dir).unwrap(), 2);
        let form = registry.get("schema:actions/form-v1").unwrap();
        assert_eq!(form["required"], json!(["response"]));
        assert_eq!(form["properties"]["name"], json!({"type": "string"}));
        assert_eq!(form["type"], json!("object"));
        assert_eq!(registry.get("plain").unwrap(), &json!({"type": "integer"}));

        std::fs::write(dir.join("broken.json"), "{").unwrap();
        assert!(matches!(
            registry.load_dir(&dir),
            Err(SchemaError::Json { .. })
        ));
        assert!(matches!(
            registry.load_dir(&dir.join("missing")),
            Err(SchemaError::Io { .. })
        ));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
