//! Scenarios: loading (YAML with custom tags, JSON), normalization, validation and ids.
//!
//! Everything downstream of the loaders sees plain JSON (`serde_json::Value`): the YAML
//! custom tags of SPEC 1.1 are mapped to JSON objects by [`yaml::from_yaml`].

pub mod id;
pub mod locate;
pub mod normalize;
pub mod period;
pub mod validate;
pub mod warnings;
pub mod yaml;

use serde_json::Value;
use std::fmt;
use std::path::{Path, PathBuf};

pub use id::scenario_id;
pub use normalize::{key_title, normalize, normalize_schema, NormalizeError};
pub use period::{parse_period, PeriodError};
pub use yaml::{from_yaml, to_yaml};

/// The text format of a scenario document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// YAML, with the LetsFlow custom tags (`!ref`, `!tpl`, …) and merge keys.
    Yaml,
    /// Plain JSON.
    Json,
}

impl Format {
    /// The format that a file name's extension stands for: `.yaml`/`.yml` or `.json`
    /// (case-insensitive); `None` for any other extension.
    pub fn from_path(path: &Path) -> Option<Format> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "yaml" | "yml" => Some(Format::Yaml),
            "json" => Some(Format::Json),
            _ => None,
        }
    }
}

/// A position in a text document, 1-based as editors show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// Line number, starting at 1.
    pub line: usize,
    /// Column number, starting at 1.
    pub column: usize,
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}, column {}", self.line, self.column)
    }
}

/// Formats an optional position as ` at line L, column C` (or nothing).
struct At(Option<Position>);

impl fmt::Display for At {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(position) => write!(f, " at {position}"),
            None => Ok(()),
        }
    }
}

/// Why a scenario document could not be read, parsed or written.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file name has no extension that tells the format.
    #[error("{}: unknown scenario format; use the extension .yaml, .yml or .json", path.display())]
    UnknownFormat {
        /// The file.
        path: PathBuf,
    },
    /// The text is not valid YAML.
    #[error("invalid YAML{}: {message}", At(*position))]
    Yaml {
        /// What the YAML parser reported.
        message: String,
        /// Where, when the parser knows.
        position: Option<Position>,
    },
    /// The text is not valid JSON.
    #[error("invalid JSON{}: {message}", At(*position))]
    Json {
        /// What the JSON parser reported.
        message: String,
        /// Where, when the parser knows.
        position: Option<Position>,
    },
    /// A YAML custom tag, merge key or mapping key cannot be turned into JSON.
    #[error("at {at}: {message}")]
    Content {
        /// The path of the offending node, e.g. `actions.talk.update`.
        at: String,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// A value could not be written as YAML.
    #[error("cannot write YAML: {message}")]
    Emit {
        /// What the YAML writer reported.
        message: String,
    },
    /// The document nests arrays and objects deeper than [`crate::json::MAX_DEPTH`].
    #[error("the document nests deeper than {limit} levels")]
    TooDeep {
        /// The deepest nesting accepted.
        limit: usize,
    },
    /// A problem in a named file.
    #[error("{}: {source}", path.display())]
    InFile {
        /// The file.
        path: PathBuf,
        /// The problem.
        #[source]
        source: Box<LoadError>,
    },
}

/// Parses a scenario document (or any YAML/JSON document of the project, like a local
/// schema) into plain JSON. A document nested deeper than [`crate::json::MAX_DEPTH`] is
/// refused ([`LoadError::TooDeep`]).
pub fn parse(text: &str, format: Format) -> Result<Value, LoadError> {
    let value = parse_any_depth(text, format)?;
    if crate::json::depth(&value) > crate::json::MAX_DEPTH {
        return Err(LoadError::TooDeep {
            limit: crate::json::MAX_DEPTH,
        });
    }
    Ok(value)
}

fn parse_any_depth(text: &str, format: Format) -> Result<Value, LoadError> {
    match format {
        Format::Yaml => from_yaml(text),
        Format::Json => serde_json::from_str(text).map_err(|err| LoadError::Json {
            message: json_error_message(&err),
            position: (err.line() > 0).then(|| Position {
                line: err.line(),
                column: err.column(),
            }),
        }),
    }
}

/// serde_json's message without its trailing ` at line L column C` (we print our own).
fn json_error_message(err: &serde_json::Error) -> String {
    let text = err.to_string();
    match text.rfind(" at line ") {
        Some(index) if err.line() > 0 => text[..index].to_string(),
        _ => text,
    }
}

/// Reads and parses a scenario file; the format follows from the extension (`.yaml`,
/// `.yml` or `.json`). Errors name the file and, for syntax errors, the line and column.
pub fn load_file(path: &Path) -> Result<Value, LoadError> {
    let format = Format::from_path(path).ok_or_else(|| LoadError::UnknownFormat {
        path: path.to_path_buf(),
    })?;
    let text = std::fs::read_to_string(path).map_err(|source| LoadError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse(&text, format).map_err(|err| LoadError::InFile {
        path: path.to_path_buf(),
        source: Box::new(err),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn format_from_extension() {
        assert_eq!(Format::from_path(Path::new("a/b.yaml")), Some(Format::Yaml));
        assert_eq!(Format::from_path(Path::new("b.YML")), Some(Format::Yaml));
        assert_eq!(Format::from_path(Path::new("b.json")), Some(Format::Json));
        assert_eq!(Format::from_path(Path::new("b.txt")), None);
        assert_eq!(Format::from_path(Path::new("b")), None);
    }

    #[test]
    fn parses_json_and_yaml_alike() {
        let a = parse(r#"{"a": [1, "x"], "b": {"<ref>": "c"}}"#, Format::Json).unwrap();
        let b = parse("a: [1, x]\nb: !ref c\n", Format::Yaml).unwrap();
        assert_eq!(a, b);
        assert_eq!(a, json!({"a": [1, "x"], "b": {"<ref>": "c"}}));
    }

    #[test]
    fn json_errors_have_a_position() {
        let err = parse("{\n  \"a\": ,\n}", Format::Json).unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("invalid JSON at line 2, column"), "{text}");
        assert!(!text.contains("at line 2 column"), "{text}");
    }

    #[test]
    fn yaml_errors_have_a_position() {
        let err = parse("a: [1\nb: 2\n", Format::Yaml).unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("invalid YAML at line 2, column"), "{text}");
    }

    #[test]
    fn load_file_names_the_file() {
        let dir = std::env::temp_dir().join(format!("letsflow-load-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let bad = dir.join("bad.yaml");
        std::fs::write(&bad, "states: [\n").unwrap();
        let text = load_file(&bad).unwrap_err().to_string();
        assert!(text.contains("bad.yaml: invalid YAML at line"), "{text}");

        let good = dir.join("good.json");
        std::fs::write(&good, r#"{"states": {}}"#).unwrap();
        assert_eq!(load_file(&good).unwrap(), json!({"states": {}}));

        let other = dir.join("x.txt");
        std::fs::write(&other, "").unwrap();
        let text = load_file(&other).unwrap_err().to_string();
        assert!(text.contains("unknown scenario format"), "{text}");

        let missing = dir.join("missing.yaml");
        let text = load_file(&missing).unwrap_err().to_string();
        assert!(text.starts_with("cannot read"), "{text}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
