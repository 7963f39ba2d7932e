//! YAML loading and writing with the LetsFlow custom tags of SPEC 1.1.
//!
//! [`from_yaml`] maps every custom tag to plain JSON (`!ref x` → `{"<ref>": "x"}`, …) and
//! resolves merge keys (`<<: *anchor`, `<<: [*a, *b]`, also when an anchored mapping itself
//! uses `<<`) bottom-up. [`to_yaml`] writes `<ref>`/`<tpl>` objects back as tags.
//!
//! Decisions: an unknown custom tag is an error (it is most likely a typo of a known
//! one); `!const` and `!default` parse text (also quoted) as the JavaScript resolver does
//! (`'10'` → 10, `true`/`false`, `~` → null); `!default` infers `format: date-time` for
//! RFC 3339 date-times; a null mapping key becomes `""`. Text tags on a number see the
//! number as JavaScript writes it (`!ref 1.50` → `"1.5"`).
//!
//! One subtlety keeps scenario ids equal to the reference implementation: in JavaScript a
//! YAML alias is the *same object* as its anchor, and normalization removes the `!required`
//! marker from that shared object the first time it normalizes it, so later copies lose it.
//! To reproduce that, a `!required` node that a document reaches more than once (through an
//! alias or a merge key) carries a node identity as its marker value (a string starting
//! with [`SHARED_REQUIRED_PREFIX`]) instead of `true`. Normalization treats it as `true`
//! the first time and as absent afterwards, and never writes it out.

use super::{LoadError, Position};
use crate::json;
use regex::Regex;
use serde_json::{Map, Value};
use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;
use yaml_serde::value::{Tag, TaggedValue};
use yaml_serde::Value as Yaml;

/// The key that marks a property schema as required (`!required` tag).
pub const REQUIRED_MARKER: &str = "!required";

/// Prefix of the marker value of a `!required` node that is shared through a YAML alias.
pub const SHARED_REQUIRED_PREFIX: &str = "&yaml-node:";

/// The tags this loader understands, for error messages.
const KNOWN_TAGS: &str =
    "!ref, !tpl, !select, !const, !enum, !format, !pattern, !default, !required, !merge, !append";

/// Parses YAML text into plain JSON, mapping the LetsFlow custom tags (SPEC 1.1) and
/// resolving merge keys. Syntax errors carry the line and column; tag errors name the
/// path of the node (`actions.talk.update`).
pub fn from_yaml(text: &str) -> Result<Value, LoadError> {
    let plain = convert_document(text, false)?;
    if text.contains('&') && text.contains(REQUIRED_MARKER) {
        if let Some(shared) = with_shared_markers(text, &plain) {
            return Ok(shared);
        }
    }
    Ok(plain)
}

/// Writes JSON as YAML: `{"<ref>": x}` becomes `!ref x`, `{"<tpl>": x}` becomes `!tpl x`,
/// everything else is plain YAML.
pub fn to_yaml(value: &Value) -> Result<String, LoadError> {
    yaml_serde::to_string(&to_yaml_value(value)).map_err(|err| LoadError::Emit {
        message: err.to_string(),
    })
}

fn to_yaml_value(value: &Value) -> Yaml {
    match value {
        Value::Null => Yaml::Null,
        Value::Bool(b) => Yaml::Bool(*b),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Yaml::Number(i.into())
            } else if let Some(u) = n.as_u64() {
                Yaml::Number(u.into())
            } else {
                Yaml::Number(json::as_f64(n).into())
            }
        }
        Value::String(s) => Yaml::String(s.clone()),
        Value::Array(items) => Yaml::Sequence(items.iter().map(to_yaml_value).collect()),
        Value::Object(map) => {
            if map.len() == 1 {
                for (key, tag) in [("<ref>", "ref"), ("<tpl>", "tpl")] {
                    if let Some(inner) = map.get(key) {
                        return Yaml::Tagged(Box::new(TaggedValue {
                            tag: Tag::new(tag),
                            value: to_yaml_value(inner),
                        }));
                    }
                }
            }
            let mut mapping = yaml_serde::Mapping::new();
            for (key, item) in map {
                let item = if key == REQUIRED_MARKER && is_shared_marker(item) {
                    Yaml::Bool(true)
                } else {
                    to_yaml_value(item)
                };
                mapping.insert(Yaml::String(key.clone()), item);
            }
            Yaml::Mapping(mapping)
        }
    }
}

/// Whether a `!required` marker value is the identity of a shared YAML node.
pub(crate) fn is_shared_marker(value: &Value) -> bool {
    value
        .as_str()
        .is_some_and(|s| s.starts_with(SHARED_REQUIRED_PREFIX))
}

fn convert_document(text: &str, shared: bool) -> Result<Value, LoadError> {
    let doc: Yaml = yaml_serde::from_str(text).map_err(|err| LoadError::Yaml {
        message: yaml_error_message(&err),
        position: err.location().map(|loc| Position {
            line: loc.line(),
            column: loc.column(),
        }),
    })?;
    Converter { shared }.convert(&doc, &mut Vec::new())
}

/// yaml_serde's message without its own trailing ` at line L column C`.
fn yaml_error_message(err: &yaml_serde::Error) -> String {
    let text = err.to_string();
    match (err.location(), text.rfind(" at line ")) {
        (Some(loc), Some(index))
            if text[index..].starts_with(&format!(" at line {}", loc.line())) =>
        {
            text[..index].to_string()
        }
        _ => text,
    }
}

/// Loads the document again with every `!required` tag numbered (`!required.7`), so that
/// the copies an alias makes keep their identity. A first pass numbers every `!required`
/// token; tokens that turn out not to be tags (inside text) are left as they were in a
/// second pass. Gives `None` (use the plain result) when nothing is shared or the
/// numbering changed anything else in the document.
fn with_shared_markers(text: &str, plain: &Value) -> Option<Value> {
    let first = number_required_tags(text, None)?;
    let counts = marker_counts(&convert_document(&first, true).ok()?);
    if counts.values().all(|&count| count < 2) {
        return None;
    }
    let tags: HashSet<usize> = counts
        .keys()
        .filter_map(|id| id.strip_prefix(SHARED_REQUIRED_PREFIX)?.parse().ok())
        .collect();
    let second = number_required_tags(text, Some(&tags))?;
    let mut value = convert_document(&second, true).ok()?;
    let counts = marker_counts(&value);
    settle_markers(&mut value, &|id| counts.get(id).is_some_and(|&c| c > 1));
    let mut check = value.clone();
    settle_markers(&mut check, &|_| false);
    (check == *plain).then_some(value)
}

/// Rewrites `!required` tag tokens as `!required.N`, N counting the tokens from 1; with
/// `only`, just the tokens whose number it holds.
fn number_required_tags(text: &str, only: Option<&HashSet<usize>>) -> Option<String> {
    let mut out = String::with_capacity(text.len() + 64);
    let mut rest = text;
    let mut count = 0usize;
    let mut rewritten = false;
    let mut prev: Option<char> = None;
    while let Some(index) = rest.find(REQUIRED_MARKER) {
        let before = rest[..index].chars().next_back().or(prev);
        let after_index = index + REQUIRED_MARKER.len();
        let after = rest[after_index..].chars().next();
        out.push_str(&rest[..after_index]);
        let starts = before.is_none_or(|c| c.is_whitespace() || "[{,".contains(c));
        let ends = after.is_none_or(|c| c.is_whitespace() || ",]}".contains(c));
        if starts && ends {
            count += 1;
            if only.is_none_or(|only| only.contains(&count)) {
                out.push('.');
                out.push_str(&count.to_string());
                rewritten = true;
            }
        }
        // The text before the next occurrence starts right after this one.
        prev = REQUIRED_MARKER.chars().next_back();
        rest = &rest[after_index..];
    }
    out.push_str(rest);
    rewritten.then_some(out)
}

fn marker_counts(value: &Value) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    count_markers(value, &mut counts);
    counts
}

fn count_markers(value: &Value, counts: &mut HashMap<String, usize>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(id)) = map.get(REQUIRED_MARKER) {
                if id.starts_with(SHARED_REQUIRED_PREFIX) {
                    *counts.entry(id.clone()).or_insert(0) += 1;
                }
            }
            map.values().for_each(|v| count_markers(v, counts));
        }
        Value::Array(items) => items.iter().for_each(|v| count_markers(v, counts)),
        _ => {}
    }
}

/// Replaces each shared marker for which `keep` is false by `true`.
fn settle_markers(value: &mut Value, keep: &dyn Fn(&str) -> bool) {
    match value {
        Value::Object(map) => {
            if let Some(marker) = map.get_mut(REQUIRED_MARKER) {
                if let Value::String(id) = marker {
                    if id.starts_with(SHARED_REQUIRED_PREFIX) && !keep(id) {
                        *marker = Value::Bool(true);
                    }
                }
            }
            map.values_mut().for_each(|v| settle_markers(v, keep));
        }
        Value::Array(items) => items.iter_mut().for_each(|v| settle_markers(v, keep)),
        _ => {}
    }
}

struct Converter {
    /// Whether `!required.N` tags (numbered by [`number_required_tags`]) are expected.
    shared: bool,
}

fn at(path: &[String]) -> String {
    if path.is_empty() {
        "the document root".to_string()
    } else {
        path.join(".")
    }
}

fn content_error(path: &[String], message: impl Into<String>) -> LoadError {
    LoadError::Content {
        at: at(path),
        message: message.into(),
    }
}

impl Converter {
    fn convert(&self, node: &Yaml, path: &mut Vec<String>) -> Result<Value, LoadError> {
        Ok(match node {
            Yaml::Null => Value::Null,
            Yaml::Bool(b) => Value::Bool(*b),
            Yaml::Number(n) => yaml_number(n),
            Yaml::String(s) => Value::String(s.clone()),
            Yaml::Sequence(items) => {
                let mut out = Vec::with_capacity(items.len());
                for (index, item) in items.iter().enumerate() {
                    path.push(index.to_string());
                    out.push(self.convert(item, path)?);
                    path.pop();
                }
                Value::Array(out)
            }
            Yaml::Mapping(mapping) => Value::Object(self.convert_mapping(mapping, path)?),
            Yaml::Tagged(tagged) => self.convert_tagged(tagged, path)?,
        })
    }

    /// A mapping with its merge keys resolved: merged keys take the place of the `<<`
    /// entry, explicit keys win over merged ones (wherever they stand), earlier merge
    /// sources over later ones. Sources are converted first, so chained merges resolve
    /// bottom-up.
    fn convert_mapping(
        &self,
        mapping: &yaml_serde::Mapping,
        path: &mut Vec<String>,
    ) -> Result<Map<String, Value>, LoadError> {
        let mut out = Map::new();
        for (key, item) in mapping {
            if is_merge_key(key) {
                path.push("<<".to_string());
                let sources: Vec<&Yaml> = match item {
                    Yaml::Sequence(items) => items.iter().collect(),
                    other => vec![other],
                };
                for source in sources {
                    let Yaml::Mapping(source) = source else {
                        return Err(content_error(
                            path,
                            "a merge key (<<) needs a mapping or a list of mappings, e.g. `<<: *anchor`",
                        ));
                    };
                    for (k, v) in self.convert_mapping(source, path)? {
                        // An explicit key later in the mapping replaces the value but keeps
                        // this position, as in JavaScript.
                        if !out.contains_key(&k) {
                            out.insert(k, v);
                        }
                    }
                }
                path.pop();
            } else {
                let key = key_string(key, path)?;
                path.push(key.clone());
                let value = self.convert(item, path)?;
                path.pop();
                out.insert(key, value);
            }
        }
        Ok(out)
    }

    fn convert_tagged(
        &self,
        tagged: &TaggedValue,
        path: &mut Vec<String>,
    ) -> Result<Value, LoadError> {
        let tag = tagged.tag.to_string();
        let name = tag.trim_start_matches('!');
        let inner = &tagged.value;
        let text = |path: &[String]| -> Result<String, LoadError> {
            scalar_text(inner).ok_or_else(|| {
                content_error(
                    path,
                    format!("{tag} needs a text value, e.g. `{tag} vars.x`"),
                )
            })
        };
        let mut out = Map::new();
        match name {
            "ref" => {
                out.insert("<ref>".into(), Value::String(text(path)?));
            }
            "tpl" => {
                let value = match inner {
                    Yaml::Mapping(_) => self.convert(inner, path)?,
                    _ => Value::String(text(path)?),
                };
                out.insert("<tpl>".into(), value);
            }
            "select" => {
                if !matches!(inner, Yaml::Mapping(_)) {
                    return Err(content_error(
                        path,
                        "!select needs a mapping with `$` and the options, e.g. `!select {$: !ref x, a: 1, '*': 2}`",
                    ));
                }
                out.insert("<select>".into(), self.convert(inner, path)?);
            }
            "const" => {
                out.insert("const".into(), parse_scalar(self.convert(inner, path)?));
            }
            "enum" => {
                if !matches!(inner, Yaml::Sequence(_)) {
                    return Err(content_error(
                        path,
                        "!enum needs a list, e.g. `!enum [a, b]`",
                    ));
                }
                out.insert("enum".into(), self.convert(inner, path)?);
            }
            "format" | "pattern" => {
                let value = text(path)?;
                out.insert("type".into(), Value::String("string".into()));
                out.insert(name.into(), Value::String(value));
            }
            "default" => {
                let value = parse_scalar(self.convert(inner, path)?);
                out = default_schema(value);
            }
            "merge" | "append" => {
                let value = text(path)?;
                out.insert("mode".into(), Value::String(name.into()));
                out.insert("set".into(), Value::String(value));
            }
            "required" => out = self.required(inner, Value::Bool(true), path)?,
            _ => match name.strip_prefix("required.") {
                Some(id) if self.shared => {
                    let marker = Value::String(format!("{SHARED_REQUIRED_PREFIX}{id}"));
                    out = self.required(inner, marker, path)?;
                }
                _ => {
                    return Err(content_error(
                        path,
                        format!("unknown YAML tag {tag}; LetsFlow knows {KNOWN_TAGS}"),
                    ))
                }
            },
        }
        Ok(Value::Object(out))
    }

    /// `!required` (bare: no type, as the reference loader does — so a local schema can
    /// require a property of any type), `!required TYPE` or `!required {schema}`.
    fn required(
        &self,
        inner: &Yaml,
        marker: Value,
        path: &mut Vec<String>,
    ) -> Result<Map<String, Value>, LoadError> {
        let mut out = match inner {
            Yaml::Mapping(mapping) => self.convert_mapping(mapping, path)?,
            Yaml::Null => Map::new(),
            Yaml::String(s) if s.is_empty() => Map::new(),
            other => {
                let text = scalar_text(other).ok_or_else(|| {
                    content_error(
                        path,
                        "!required needs a type (`!required string`) or a schema mapping",
                    )
                })?;
                let mut map = Map::new();
                map.insert("type".into(), Value::String(text));
                map
            }
        };
        out.insert(REQUIRED_MARKER.into(), marker);
        Ok(out)
    }
}

fn is_merge_key(key: &Yaml) -> bool {
    matches!(key, Yaml::String(s) if s == "<<")
}

/// A mapping key as JavaScript turns it into an object key.
fn key_string(key: &Yaml, path: &[String]) -> Result<String, LoadError> {
    match key {
        Yaml::String(s) => Ok(s.clone()),
        Yaml::Null => Ok(String::new()),
        Yaml::Bool(b) => Ok(b.to_string()),
        Yaml::Number(n) => Ok(json::to_js_string(&yaml_number(n))),
        _ => Err(content_error(
            path,
            "mapping keys must be plain text, numbers or booleans",
        )),
    }
}

/// A YAML number as a JSON number with JavaScript semantics (a double; integral values
/// stored as integers).
fn yaml_number(n: &yaml_serde::Number) -> Value {
    const MAX_SAFE: i64 = 9_007_199_254_740_991;
    if let Some(i) = n.as_i64() {
        if (-MAX_SAFE..=MAX_SAFE).contains(&i) {
            return Value::from(i);
        }
    }
    json::number(n.as_f64().unwrap_or(f64::NAN))
}

/// The text of a scalar YAML node, as the tag's resolver in JavaScript would see it.
fn scalar_text(node: &Yaml) -> Option<String> {
    match node {
        Yaml::String(s) => Some(s.clone()),
        Yaml::Bool(b) => Some(b.to_string()),
        Yaml::Number(n) => Some(json::to_js_string(&yaml_number(n))),
        _ => None,
    }
}

/// Parses the text of a `!const`/`!default` scalar: a number, `true`/`false`, `~` (null),
/// else the text itself. Non-text values are returned unchanged.
fn parse_scalar(value: Value) -> Value {
    let Value::String(s) = &value else {
        return value;
    };
    match s.as_str() {
        "~" => Value::Null,
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        _ => js_number(s).map_or(value, json::number),
    }
}

/// A finite number written the way JavaScript's `Number(text)` accepts it (decimal,
/// exponent, `0x`/`0o`/`0b`), or `None`.
fn js_number(text: &str) -> Option<f64> {
    let t = text.trim();
    if t.is_empty() {
        return None;
    }
    for (prefix, radix) in [
        ("0x", 16),
        ("0X", 16),
        ("0o", 8),
        ("0O", 8),
        ("0b", 2),
        ("0B", 2),
    ] {
        if let Some(digits) = t.strip_prefix(prefix) {
            return u64::from_str_radix(digits, radix).ok().map(|n| n as f64);
        }
    }
    if !t.chars().all(|c| c.is_ascii_digit() || "+-.eE".contains(c)) {
        return None;
    }
    t.parse::<f64>().ok().filter(|n| n.is_finite())
}

/// `{default, type, …}` for a `!default` value, with the type inferred from the value.
fn default_schema(value: Value) -> Map<String, Value> {
    let mut out = Map::new();
    let inferred = infer_schema(&value);
    out.insert("default".into(), value);
    if let Some(schema) = inferred {
        out.extend(schema);
    }
    out
}

static DATE_TIME: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$").ok()
});

/// Whether a text is an RFC 3339 date-time (`2024-05-01T12:00:00Z`).
fn is_date_time(text: &str) -> bool {
    DATE_TIME.as_ref().is_some_and(|re| re.is_match(text))
}

/// The schema a value implies: `type` (and `format: date-time` for date-time text, `items`
/// for a list whose members imply one schema). `None` for null.
fn infer_schema(value: &Value) -> Option<Map<String, Value>> {
    let mut out = Map::new();
    let kind = match value {
        Value::Null => return None,
        Value::Bool(_) => "boolean",
        Value::Number(n) => {
            if n.is_f64() && json::as_f64(n).fract() != 0.0 {
                "number"
            } else {
                "integer"
            }
        }
        Value::String(s) => {
            out.insert("type".into(), Value::String("string".into()));
            if is_date_time(s) {
                out.insert("format".into(), Value::String("date-time".into()));
            }
            return Some(out);
        }
        Value::Object(_) => "object",
        Value::Array(items) => {
            out.insert("type".into(), Value::String("array".into()));
            if let Some(items) = uniform_items(items) {
                out.insert("items".into(), Value::Object(items));
            }
            return Some(out);
        }
    };
    out.insert("type".into(), Value::String(kind.into()));
    Some(out)
}

/// The schema all members of a list imply, when they agree (integers and other numbers
/// together give `number`).
fn uniform_items(items: &[Value]) -> Option<Map<String, Value>> {
    let schemas: Vec<Map<String, Value>> = items.iter().map(infer_schema).collect::<Option<_>>()?;
    let first = schemas.first()?;
    if schemas.iter().all(|s| s == first) {
        return Some(first.clone());
    }
    let numeric = |s: &Map<String, Value>| {
        s.len() == 1
            && matches!(
                s.get("type").and_then(Value::as_str),
                Some("integer" | "number")
            )
    };
    if schemas.iter().all(numeric) {
        let mut out = Map::new();
        out.insert("type".into(), Value::String("number".into()));
        return Some(out);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn load(text: &str) -> Value {
        from_yaml(text).unwrap()
    }

    #[test]
    fn plain_yaml() {
        assert_eq!(
            load("a: 1\nb: [x, 2.5, true, ~]\nc: {d: e}\n"),
            json!({"a": 1, "b": ["x", 2.5, true, null], "c": {"d": "e"}})
        );
        assert_eq!(load(""), Value::Null);
    }

    #[test]
    fn keys_are_kept_in_document_order() {
        let value = load("z: 1\na: 2\nm: 3\n");
        let keys: Vec<_> = value.as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys, ["z", "a", "m"]);
    }

    #[test]
    fn scalar_keys_become_text() {
        assert_eq!(
            load("true: a\nfalse: b\n1: c\n1.5: d\n"),
            json!({"true": "a", "false": "b", "1": "c", "1.5": "d"})
        );
    }

    #[test]
    fn integral_floats_are_integers() {
        assert_eq!(load("a: 1.0\nb: 1e3\n"), json!({"a": 1, "b": 1000}));
        assert!(load("a: 1.0").pointer("/a").unwrap().is_i64());
    }

    #[test]
    fn ref_tag() {
        assert_eq!(
            load("a: !ref actors.client\nb: !ref 'x == `1`'\n"),
            json!({"a": {"<ref>": "actors.client"}, "b": {"<ref>": "x == `1`"}})
        );
    }

    #[test]
    fn tpl_tag_scalar_and_map() {
        assert_eq!(
            load("a: !tpl 'Hi {{ actors.a.name }}'\n"),
            json!({"a": {"<tpl>": "Hi {{ actors.a.name }}"}})
        );
        assert_eq!(
            load("a: !tpl\n  template: '{{> p}}'\n  view: !ref vars\n  partials: {p: x}\n"),
            json!({"a": {"<tpl>": {"template": "{{> p}}", "view": {"<ref>": "vars"}, "partials": {"p": "x"}}}})
        );
        assert_eq!(
            load("a: !tpl |\n  line 1\n  line 2\n"),
            json!({"a": {"<tpl>": "line 1\nline 2\n"}})
        );
    }

    #[test]
    fn select_tag() {
        assert_eq!(
            load("a: !select {$: !ref x, a: 1, '*': 2, true: yes}\n"),
            json!({"a": {"<select>": {"$": {"<ref>": "x"}, "a": 1, "*": 2, "true": "yes"}}})
        );
        let err = from_yaml("a: !select x").unwrap_err().to_string();
        assert!(err.starts_with("at a: !select needs a mapping"), "{err}");
    }

    #[test]
    fn const_tag_parses_scalars() {
        assert_eq!(
            load("a: !const 10\nb: !const '10'\nc: !const true\nd: !const 'false'\ne: !const ~\nf: !const abc\ng: !const 1.5\nh: !const '~'\ni: !const 0x10\nj: !const [1, a]\n"),
            json!({
                "a": {"const": 10}, "b": {"const": 10}, "c": {"const": true},
                "d": {"const": false}, "e": {"const": null}, "f": {"const": "abc"},
                "g": {"const": 1.5}, "h": {"const": null}, "i": {"const": 16},
                "j": {"const": [1, "a"]}
            })
        );
    }

    #[test]
    fn enum_tag() {
        assert_eq!(load("a: !enum [a, b]"), json!({"a": {"enum": ["a", "b"]}}));
        let err = from_yaml("a: !enum a").unwrap_err().to_string();
        assert!(err.contains("!enum needs a list"), "{err}");
    }

    #[test]
    fn format_and_pattern_tags() {
        assert_eq!(
            load("a: !format email\nb: !pattern ^a\n"),
            json!({
                "a": {"type": "string", "format": "email"},
                "b": {"type": "string", "pattern": "^a"}
            })
        );
    }

    #[test]
    fn default_tag_infers_the_type() {
        assert_eq!(
            load(concat!(
                "i: !default 10\n",
                "n: !default 1.5\n",
                "b: !default true\n",
                "s: !default Acme Inc.\n",
                "q: !default '22'\n",
                "d: !default 2024-05-01T12:00:00Z\n",
                "e: !default ~\n",
                "a: !default [a, b]\n",
                "m: !default [1, 2.5]\n",
                "x: !default [1, a]\n",
                "o: !default {k: v}\n",
            )),
            json!({
                "i": {"default": 10, "type": "integer"},
                "n": {"default": 1.5, "type": "number"},
                "b": {"default": true, "type": "boolean"},
                "s": {"default": "Acme Inc.", "type": "string"},
                "q": {"default": 22, "type": "integer"},
                "d": {"default": "2024-05-01T12:00:00Z", "type": "string", "format": "date-time"},
                "e": {"default": null},
                "a": {"default": ["a", "b"], "type": "array", "items": {"type": "string"}},
                "m": {"default": [1, 2.5], "type": "array", "items": {"type": "number"}},
                "x": {"default": [1, "a"], "type": "array"},
                "o": {"default": {"k": "v"}, "type": "object"}
            })
        );
        // The default comes first, as in the reference output.
        let value = load("a: !default 1");
        let keys: Vec<_> = value["a"].as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys, ["default", "type"]);
    }

    #[test]
    fn required_tag_bare_scalar_and_map() {
        assert_eq!(
            load("a: !required\nb: !required number\nc: !required {type: string, title: C}\nd: !required\n  type: array\n  items: string\n"),
            json!({
                "a": {"!required": true},
                "b": {"type": "number", "!required": true},
                "c": {"type": "string", "title": "C", "!required": true},
                "d": {"type": "array", "items": "string", "!required": true}
            })
        );
        let err = from_yaml("a: !required [x]").unwrap_err().to_string();
        assert!(err.contains("!required needs a type"), "{err}");
    }

    #[test]
    fn merge_and_append_tags() {
        assert_eq!(
            load("a: !merge vars.x\nb: !append result\n"),
            json!({
                "a": {"mode": "merge", "set": "vars.x"},
                "b": {"mode": "append", "set": "result"}
            })
        );
    }

    #[test]
    fn unknown_tags_are_errors() {
        let err = from_yaml("actions:\n  a:\n    if: !reff x\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("at actions.a.if: unknown YAML tag !reff"),
            "{err}"
        );
        // A numbered tag is only understood internally.
        assert!(from_yaml("a: !required.1 string").is_err());
    }

    #[test]
    fn text_tags_need_a_value() {
        let err = from_yaml("a: !ref\n").unwrap_err().to_string();
        assert!(err.contains("!ref needs a text value"), "{err}");
    }

    #[test]
    fn merge_keys() {
        let value = load("base: &b {x: 1, y: 2}\nother:\n  <<: *b\n  y: 3\n  z: 4\n");
        assert_eq!(value["other"], json!({"x": 1, "y": 3, "z": 4}));
        let keys: Vec<_> = value["other"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        assert_eq!(keys, ["x", "y", "z"]);
    }

    #[test]
    fn explicit_keys_before_the_merge_win() {
        let value = load("base: &b {x: 1, y: 2}\nother:\n  y: 3\n  <<: *b\n");
        assert_eq!(value["other"], json!({"y": 3, "x": 1}));
    }

    #[test]
    fn chained_merge_keys() {
        let value = load(concat!(
            "a: &a {x: 1, y: 1}\n",
            "b: &b\n  <<: *a\n  y: 2\n  z: 2\n",
            "c:\n  <<: *b\n  w: 3\n",
        ));
        assert_eq!(value["b"], json!({"x": 1, "y": 2, "z": 2}));
        assert_eq!(value["c"], json!({"x": 1, "y": 2, "z": 2, "w": 3}));
        assert!(!value.to_string().contains("<<"));
    }

    #[test]
    fn merge_key_with_a_list_of_anchors() {
        let value = load(concat!(
            "a: &a {x: 1, y: 1}\n",
            "b: &b {y: 2, z: 2}\n",
            "c:\n  <<: [*a, *b]\n  w: 3\n",
        ));
        assert_eq!(value["c"], json!({"x": 1, "y": 1, "z": 2, "w": 3}));
    }

    #[test]
    fn nested_merge_keys_resolve_bottom_up() {
        let value = load(concat!(
            "a: &a {inner: {k: 1}}\n",
            "b: &b\n  <<: *a\n  deep: &d\n    <<: {q: 1}\n    r: 2\n",
            "c:\n  <<: *b\n  e: *d\n",
        ));
        assert_eq!(
            value["c"],
            json!({"inner": {"k": 1}, "deep": {"q": 1, "r": 2}, "e": {"q": 1, "r": 2}})
        );
    }

    #[test]
    fn bad_merge_value() {
        let err = from_yaml("a:\n  <<: 1\n").unwrap_err().to_string();
        assert!(err.starts_with("at a.<<: a merge key"), "{err}");
    }

    #[test]
    fn tags_inside_merged_mappings() {
        let value = load("a: &a {v: !ref x}\nb:\n  <<: *a\n");
        assert_eq!(value["b"], json!({"v": {"<ref>": "x"}}));
    }

    #[test]
    fn shared_required_nodes_carry_an_identity() {
        let value = load(concat!(
            "a: &a\n  properties:\n    r: !required string\n    s: !required number\n",
            "b:\n  <<: *a\n",
            "c:\n  properties:\n    t: !required string\n",
        ));
        let r_a = &value["a"]["properties"]["r"][REQUIRED_MARKER];
        let r_b = &value["b"]["properties"]["r"][REQUIRED_MARKER];
        assert!(is_shared_marker(r_a));
        assert_eq!(r_a, r_b);
        assert_ne!(r_a, &value["a"]["properties"]["s"][REQUIRED_MARKER]);
        // A node that is not shared keeps the plain marker.
        assert_eq!(value["c"]["properties"]["t"][REQUIRED_MARKER], json!(true));
    }

    #[test]
    fn required_in_text_does_not_confuse_the_identity_pass() {
        let value = load(concat!(
            "a: &a {r: !required string, d: 'x !required y', e: x !required}\n",
            "b: *a\n",
        ));
        assert_eq!(value["a"]["d"], json!("x !required y"));
        assert_eq!(value["b"]["e"], json!("x !required"));
        assert_eq!(value["a"]["r"]["type"], json!("string"));
        assert!(is_shared_marker(&value["a"]["r"][REQUIRED_MARKER]));
        assert_eq!(value["a"]["r"], value["b"]["r"]);
    }

    #[test]
    fn numbering_only_touches_tag_tokens() {
        assert_eq!(
            number_required_tags("a: !required\nb: [!required x, y]\nc: '!requiredx'\n", None)
                .unwrap(),
            "a: !required.1\nb: [!required.2 x, y]\nc: '!requiredx'\n"
        );
        let only = HashSet::from([2]);
        assert_eq!(
            number_required_tags("a: !required\nb: !required\n", Some(&only)).unwrap(),
            "a: !required\nb: !required.2\n"
        );
        assert_eq!(number_required_tags("a: '!requiredx'", None), None);
    }

    #[test]
    fn to_yaml_writes_tags() {
        let value = json!({
            "a": {"<ref>": "actors.client"},
            "b": {"<tpl>": "Hi {{ name }}"},
            "c": {"<tpl>": {"template": "x", "view": {"<ref>": "vars"}}},
            "d": {"<select>": {"$": 1, "1": "one"}},
            "e": [1, 2.5, "x", null, true],
        });
        let text = to_yaml(&value).unwrap();
        assert!(text.contains("a: !ref actors.client"), "{text}");
        assert!(
            text.contains("b: !tpl Hi {{ name }}") || text.contains("b: !tpl 'Hi {{ name }}'"),
            "{text}"
        );
        assert!(text.contains("c: !tpl"), "{text}");
        assert!(!text.contains("<ref>"), "{text}");
        assert_eq!(from_yaml(&text).unwrap(), value);
    }

    #[test]
    fn to_yaml_round_trips_multiline_templates() {
        let value = json!({"t": {"<tpl>": "line 1\nline 2\n"}, "r": {"<ref>": "a | b"}});
        let text = to_yaml(&value).unwrap();
        assert_eq!(from_yaml(&text).unwrap(), value);
    }

    #[test]
    fn to_yaml_writes_shared_markers_as_true() {
        let value = json!({"r": {"type": "string", "!required": "&yaml-node:1"}});
        let text = to_yaml(&value).unwrap();
        assert_eq!(
            from_yaml(&text).unwrap(),
            json!({"r": {"type": "string", "!required": true}})
        );
    }

    #[test]
    fn js_numbers() {
        assert_eq!(js_number("10"), Some(10.0));
        assert_eq!(js_number(" 1.5e2 "), Some(150.0));
        assert_eq!(js_number("0x1F"), Some(31.0));
        assert_eq!(js_number("-.5"), Some(-0.5));
        assert_eq!(js_number("inf"), None);
        assert_eq!(js_number("Infinity"), None);
        assert_eq!(js_number("1_000"), None);
        assert_eq!(js_number(""), None);
    }

    #[test]
    fn syntax_errors_have_positions() {
        match from_yaml("a: b\n  c: d\n") {
            Err(LoadError::Yaml {
                position: Some(p),
                message,
            }) => {
                assert_eq!(p.line, 2, "{message}");
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}
