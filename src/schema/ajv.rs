//! Turning the `jsonschema` crate's errors into ajv's: wording, params and order.
//!
//! ajv (with `allErrors`) walks a schema depth-first and reports errors in the order its
//! generated code runs. Within one schema object that order is fixed by keyword, not by the
//! order of the keys: a type error comes first when the schema has no keywords for that
//! type (otherwise in the place of that type's keyword group); then `$ref`, `const`, `enum`,
//! `not`, `anyOf`, `oneOf`, `allOf`, `if`; then the number keywords, the string keywords,
//! the array keywords and the object keywords (`required` before `additionalProperties`
//! before `properties`, …). `properties` run in the order the schema lists them;
//! `required` in the order of its list; items, additional and pattern properties in data
//! order; a composite keyword's own error (`anyOf`, `oneOf`, `if`) follows the errors of
//! its branches.
//!
//! Each error of the crate carries its evaluation path (the schema path including `$ref`
//! hops). [`Converter`] walks that path through the schema documents, building a sort key
//! from the rank of every keyword passed and the position within it; sorting by these keys
//! gives ajv's order.

use super::error::{pointer, pointer_segments, ValidationError};
use super::registry::SchemaRegistry;
use jsonschema::error::{TypeKind, ValidationErrorKind as Kind};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// One step of a sort key: keyword rank, position within the keyword, a second position
/// (data order inside `patternProperties`), and a name to keep unresolvable paths stable.
type KeyPart = (u32, u64, u64, String);

/// Converted errors with the last part of their sort keys.
type Described = Vec<(KeyPart, ValidationError)>;

/// Position of a composite keyword's own error: after the errors of its branches.
const LAST: u64 = u64::MAX;

/// Rank of a type error that ajv checks before all other keywords.
const TYPE_FIRST: u32 = 0;
const UNKNOWN: u32 = 90;

/// Keywords of ajv's typed rule groups, in group order (number, string, array, object)
/// with the rank of the group's type error.
const GROUPS: [(&str, &[&str], u32); 4] = [
    (
        "number",
        &[
            "maximum",
            "minimum",
            "exclusiveMaximum",
            "exclusiveMinimum",
            "multipleOf",
            "format",
        ],
        39,
    ),
    (
        "string",
        &["maxLength", "minLength", "pattern", "format"],
        49,
    ),
    (
        "array",
        &[
            "maxItems",
            "minItems",
            "uniqueItems",
            "prefixItems",
            "items",
            "contains",
            "minContains",
            "maxContains",
            "unevaluatedItems",
        ],
        59,
    ),
    (
        "object",
        &[
            "maxProperties",
            "minProperties",
            "required",
            "propertyNames",
            "additionalProperties",
            "dependencies",
            "properties",
            "patternProperties",
            "dependentRequired",
            "dependentSchemas",
            "unevaluatedProperties",
        ],
        79,
    ),
];

/// The rank of a keyword in ajv's evaluation order (see the module docs).
fn rank(keyword: &str, instance: Option<&Value>) -> u32 {
    match keyword {
        "$ref" => 10,
        "const" => 11,
        "enum" => 12,
        "not" => 13,
        "anyOf" => 14,
        "oneOf" => 15,
        "allOf" => 16,
        "if" | "then" | "else" => 17,
        "$dynamicRef" | "$recursiveRef" => 18,
        "maximum" => 30,
        "minimum" => 31,
        "exclusiveMaximum" => 32,
        "exclusiveMinimum" => 33,
        "multipleOf" => 34,
        "format" if instance.is_some_and(Value::is_number) => 35,
        "maxLength" => 40,
        "minLength" => 41,
        "pattern" => 42,
        "format" => 43,
        "maxItems" => 50,
        "minItems" => 51,
        "uniqueItems" => 52,
        "prefixItems" => 53,
        "items" | "additionalItems" => 54,
        "contains" | "minContains" | "maxContains" => 55,
        "unevaluatedItems" => 56,
        "maxProperties" => 60,
        "minProperties" => 61,
        "required" => 62,
        "propertyNames" => 63,
        "additionalProperties" => 64,
        "dependencies" => 65,
        "properties" => 66,
        "patternProperties" => 67,
        "dependentRequired" => 68,
        "dependentSchemas" => 69,
        "unevaluatedProperties" => 70,
        _ => UNKNOWN,
    }
}

/// The types a schema allows, as ajv reads them (`nullable: true` adds `null`).
fn schema_types(schema: Option<&Value>) -> Vec<String> {
    let mut types: Vec<String> = match schema.and_then(|s| s.get("type")) {
        Some(Value::String(t)) => vec![t.clone()],
        Some(Value::Array(list)) => list
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    };
    let nullable = schema.and_then(|s| s.get("nullable")) == Some(&Value::Bool(true));
    if nullable && !types.is_empty() && !types.iter().any(|t| t == "null") {
        types.push("null".to_string());
    }
    types
}

/// Where ajv reports a type error: first, unless the schema has a single type whose keyword
/// group it uses (then in that group's place).
fn type_rank(schema: Option<&Value>) -> u32 {
    let types = schema_types(schema);
    if let ([only], Some(obj)) = (types.as_slice(), schema.and_then(Value::as_object)) {
        if let Some((_, keywords, group_rank)) = GROUPS.iter().find(|(t, _, _)| t == only) {
            if keywords.iter().any(|k| obj.contains_key(*k)) {
                return *group_rank;
            }
        }
    }
    TYPE_FIRST
}

/// A value inside `root` at the given (unescaped) path.
fn value_at<'v>(root: &'v Value, segments: &[String]) -> Option<&'v Value> {
    segments.iter().try_fold(root, |v, seg| match v {
        Value::Object(map) => map.get(seg),
        Value::Array(items) => seg.parse::<usize>().ok().and_then(|i| items.get(i)),
        _ => None,
    })
}

/// Position of `key` among the keys of `object` (insertion order), or `LAST - 1`.
fn key_position(object: Option<&Value>, key: &str) -> u64 {
    object
        .and_then(Value::as_object)
        .and_then(|map| map.keys().position(|k| k == key))
        .map_or(LAST - 1, |p| p as u64)
}

/// Whether a reference starts with a URI scheme (`https:`, `schema:`, `urn:`).
fn has_scheme(reference: &str) -> bool {
    match reference.find(':') {
        Some(colon) => {
            let scheme = &reference[..colon];
            scheme.starts_with(|c: char| c.is_ascii_alphabetic())
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        }
        None => false,
    }
}

/// Resolves `reference` against `base` (RFC 3986, without dot-segment removal).
pub(crate) fn join_uri(base: &str, reference: &str) -> String {
    if has_scheme(reference) {
        return reference.to_string();
    }
    let base = base.split('#').next().unwrap_or(base);
    if reference.is_empty() || reference.starts_with('#') {
        return format!("{base}{reference}");
    }
    let scheme_end = base.find(':').map_or(0, |c| c + 1);
    if let Some(rest) = reference.strip_prefix("//") {
        return format!("{}//{rest}", &base[..scheme_end]);
    }
    if reference.starts_with('/') {
        if let Some((scheme, rest)) = base.split_once("://") {
            let authority = rest.split('/').next().unwrap_or("");
            return format!("{scheme}://{authority}{reference}");
        }
        return format!("{}{reference}", &base[..scheme_end]);
    }
    let base = base.split('?').next().unwrap_or(base);
    match base.rfind('/') {
        Some(slash) => format!("{}{reference}", &base[..=slash]),
        None => format!("{}{reference}", &base[..scheme_end]),
    }
}

/// Decodes `%XX` escapes in a URI fragment.
fn percent_decode(text: &str) -> String {
    let hex = |b: u8| (b as char).to_digit(16);
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(hi), Some(lo)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((hi * 16 + lo) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The subschema of `resource` declaring `$anchor` (or `$dynamicAnchor`) `name`.
fn find_anchor<'v>(resource: &'v Value, name: &str) -> Option<&'v Value> {
    match resource {
        Value::Object(map) => {
            let anchored = ["$anchor", "$dynamicAnchor"]
                .iter()
                .any(|k| map.get(*k).and_then(Value::as_str) == Some(name));
            if anchored {
                return Some(resource);
            }
            map.values().find_map(|v| find_anchor(v, name))
        }
        Value::Array(items) => items.iter().find_map(|v| find_anchor(v, name)),
        _ => None,
    }
}

/// The result of walking an evaluation path.
struct Walk<'a> {
    /// Sort key of every step passed.
    key: Vec<KeyPart>,
    /// The schema object holding the final keyword (`None` when it could not be followed).
    schema: Option<&'a Value>,
    /// Instance segments consumed by the steps.
    depth: usize,
    /// For a path ending in a subschema: the schema holding the last step's keyword, that
    /// keyword, and the instance depth and key length before it.
    last_step: Option<(Option<&'a Value>, String, usize, usize)>,
}

/// Converts the crate's errors to ajv's, for one validation.
pub(crate) struct Converter<'a> {
    /// The root schema (as written, before ajv-compatibility rewrites).
    pub(crate) root: &'a Value,
    /// The root's base URI.
    pub(crate) root_base: &'a str,
    /// Where other documents come from.
    pub(crate) registry: &'a SchemaRegistry,
    /// The instance being validated.
    pub(crate) instance: &'a Value,
    /// Values whose errors are left out (see `Validator::validate_except`).
    pub(crate) ignore: Option<&'a dyn Fn(&Value) -> bool>,
}

/// A converted error with its sort key.
pub(crate) type Entry = (Vec<KeyPart>, ValidationError);

impl<'a> Converter<'a> {
    /// All errors of the crate as ajv's, in ajv's order.
    pub(crate) fn convert_all(
        &self,
        errors: &[jsonschema::ValidationError<'_>],
    ) -> Vec<ValidationError> {
        let mut entries = Vec::new();
        let mut wrappers = BTreeMap::new();
        for error in errors {
            if self.keep(error) {
                self.convert(error, None, &mut entries, &mut wrappers);
            }
        }
        for (key, (path, branch)) in wrappers {
            let message = format!("must match \"{branch}\" schema");
            let params = json!({ "failingKeyword": branch });
            entries.push((key, ValidationError::new(path, "if", message, params)));
        }
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        // Only the same error at the same place collapses (`items: false` after
        // `prefixItems` reports the array once); ajv repeats equal errors from other places.
        entries.dedup();
        entries.into_iter().map(|(_, error)| error).collect()
    }

    /// Whether an instance location is (inside) a value to ignore.
    fn ignored(&self, segments: &[String]) -> bool {
        let Some(ignore) = self.ignore else {
            return false;
        };
        let mut value = self.instance;
        if ignore(value) {
            return true;
        }
        for segment in segments {
            match value_at(value, std::slice::from_ref(segment)) {
                Some(v) if ignore(v) => return true,
                Some(v) => value = v,
                None => return false,
            }
        }
        false
    }

    /// Whether an error stays once ignored values are taken out: it is not about an
    /// ignored value, and a composite is not satisfied by a branch whose only errors were.
    fn keep(&self, error: &jsonschema::ValidationError<'_>) -> bool {
        if self.ignored(&pointer_segments(error.instance_path().as_str())) {
            return false;
        }
        match error.kind() {
            Kind::AnyOf { context } | Kind::OneOfNotValid { context } => !context
                .iter()
                .any(|branch| branch.iter().all(|e| !self.keep(e))),
            _ => true,
        }
    }

    fn convert(
        &self,
        error: &jsonschema::ValidationError<'_>,
        property_name: Option<&str>,
        entries: &mut Vec<Entry>,
        wrappers: &mut BTreeMap<Vec<KeyPart>, (String, String)>,
    ) {
        let inst = pointer_segments(error.instance_path().as_str());
        let mut eval = pointer_segments(error.evaluation_path().as_str());
        let path = error.instance_path().as_str().to_string();

        // Composite keywords: the errors of their branches come first.
        match error.kind() {
            Kind::AnyOf { context }
            | Kind::OneOfNotValid { context }
            | Kind::OneOfMultipleValid { context } => {
                for branch in context {
                    for e in branch.iter().filter(|e| self.keep(e)) {
                        self.convert(e, property_name, entries, wrappers);
                    }
                }
            }
            Kind::PropertyNames { error: inner } => {
                let name = inner.instance().as_str().unwrap_or_default().to_string();
                let before = entries.len();
                self.convert(inner, Some(&name), entries, wrappers);
                for (_, e) in &mut entries[before..] {
                    if let Value::Object(params) = &mut e.params {
                        params.insert("propertyName".into(), Value::String(name.clone()));
                    }
                }
                if let Some(at) = eval.iter().rposition(|s| s == "propertyNames") {
                    eval.truncate(at + 1);
                }
                let walk = self.walk(&eval, &inst, false, Some(&name), wrappers);
                let object = value_at(self.instance, &inst);
                let mut key = walk.key;
                key.push((
                    rank("propertyNames", None),
                    key_position(object, &name),
                    1,
                    String::new(),
                ));
                let params = json!({ "propertyName": name });
                entries.push((
                    key,
                    ValidationError::new(
                        path,
                        "propertyNames",
                        "property name must be valid",
                        params,
                    ),
                ));
                return;
            }
            _ => {}
        }

        let ends_at_schema = matches!(error.kind(), Kind::FalseSchema);
        let walk = self.walk(&eval, &inst, ends_at_schema, property_name, wrappers);
        let keyword = if ends_at_schema {
            String::new()
        } else {
            eval.last().cloned().unwrap_or_default()
        };
        if let Some(e) = items_after_prefix(error.kind(), &walk, &inst) {
            entries.push(e);
            return;
        }
        let here = value_at(self.instance, &inst);
        for (part, e) in self.describe(error.kind(), &keyword, &walk, &inst, here, path) {
            let mut key = walk.key.clone();
            key.push(part);
            entries.push((key, e));
        }
    }

    /// Follows an evaluation path through the schema documents.
    fn walk(
        &self,
        eval: &[String],
        inst: &[String],
        ends_at_schema: bool,
        property_name: Option<&str>,
        wrappers: &mut BTreeMap<Vec<KeyPart>, (String, String)>,
    ) -> Walk<'a> {
        let mut walk = Walk {
            key: Vec::new(),
            schema: None,
            depth: 0,
            last_step: None,
        };
        let mut cur: Option<&'a Value> = Some(self.root);
        let mut base = self.root_base.to_string();
        let mut resource: &'a Value = self.root;
        enter(cur, &mut base, &mut resource);

        let mut i = 0;
        while i < eval.len() {
            let kw = eval[i].as_str();
            if i + 1 == eval.len() && !ends_at_schema {
                break;
            }
            let next = eval.get(i + 1).map(String::as_str).unwrap_or_default();
            let holder = cur.and_then(|s| s.get(kw));
            let instance_here = value_at(self.instance, &inst[..walk.depth.min(inst.len())]);
            let inst_seg = inst.get(walk.depth).cloned().unwrap_or_default();
            walk.last_step = None;
            match kw {
                "properties" | "patternProperties" | "dependentSchemas" | "$defs"
                | "definitions" => {
                    let pos = key_position(holder, next);
                    let data_pos = if kw == "patternProperties" {
                        key_position(instance_here, &inst_seg)
                    } else {
                        0
                    };
                    walk.key
                        .push((rank(kw, None), pos, data_pos, next.to_string()));
                    cur = holder.and_then(|h| h.get(next));
                    if matches!(kw, "properties" | "patternProperties") {
                        walk.depth += 1;
                    }
                    i += 2;
                }
                "additionalProperties" | "unevaluatedProperties" => {
                    let pos = key_position(instance_here, &inst_seg);
                    walk.key.push((rank(kw, None), pos, 0, inst_seg));
                    walk.last_step = Some((cur, kw.to_string(), walk.depth, walk.key.len() - 1));
                    cur = holder;
                    walk.depth += 1;
                    i += 1;
                }
                "items" | "additionalItems" | "unevaluatedItems" | "contains" => {
                    let pos = inst_seg.parse::<u64>().unwrap_or(LAST - 1);
                    walk.key.push((rank(kw, None), pos, 0, String::new()));
                    walk.last_step = Some((cur, kw.to_string(), walk.depth, walk.key.len() - 1));
                    cur = holder;
                    walk.depth += 1;
                    i += 1;
                }
                "prefixItems" | "allOf" | "anyOf" | "oneOf" => {
                    let index = next.parse::<usize>().ok();
                    let pos = index.map_or(LAST - 1, |p| p as u64);
                    walk.key.push((rank(kw, None), pos, 0, String::new()));
                    cur = holder
                        .and_then(Value::as_array)
                        .zip(index)
                        .and_then(|(list, idx)| list.get(idx));
                    if kw == "prefixItems" {
                        walk.depth += 1;
                    }
                    i += 2;
                }
                "then" | "else" => {
                    let mut wrapper = walk.key.clone();
                    wrapper.push((rank("if", None), LAST, 0, String::new()));
                    let at = pointer(&inst[..walk.depth.min(inst.len())]);
                    wrappers.entry(wrapper).or_insert((at, kw.to_string()));
                    let branch = u64::from(kw == "else");
                    walk.key.push((rank("if", None), branch, 0, String::new()));
                    cur = holder;
                    i += 1;
                }
                "propertyNames" => {
                    let pos = key_position(instance_here, property_name.unwrap_or_default());
                    walk.key.push((rank(kw, None), pos, 0, String::new()));
                    cur = holder;
                    i += 1;
                }
                "$ref" | "$dynamicRef" | "$recursiveRef" => {
                    walk.key.push((rank(kw, None), 0, 0, String::new()));
                    let reference = match holder {
                        Some(Value::String(r)) => Some(r.as_str()),
                        _ if kw == "$recursiveRef" && cur.is_some() => Some("#"),
                        _ => None,
                    };
                    cur = reference.and_then(|r| self.resolve(r, &mut base, &mut resource));
                    i += 1;
                }
                other => {
                    walk.key.push((rank(other, None), 0, 0, other.to_string()));
                    cur = holder;
                    i += 1;
                }
            }
            enter(cur, &mut base, &mut resource);
        }
        walk.schema = cur;
        walk
    }

    /// Resolves a reference from the current location, updating base URI and resource.
    fn resolve(
        &self,
        reference: &str,
        base: &mut String,
        resource: &mut &'a Value,
    ) -> Option<&'a Value> {
        let target = join_uri(base, reference);
        let (uri, fragment) = target.split_once('#').unwrap_or((target.as_str(), ""));
        let current = base.split('#').next().unwrap_or(base.as_str());
        let doc: &'a Value = if uri == current {
            resource
        } else if uri == self.root_base.split('#').next().unwrap_or(self.root_base) {
            self.root
        } else {
            self.registry.resolve_uri(uri)?.as_ref()
        };
        let fragment = percent_decode(fragment);
        let found = if fragment.is_empty() {
            Some(doc)
        } else if fragment.starts_with('/') {
            doc.pointer(&fragment)
        } else {
            find_anchor(doc, &fragment)
        };
        *base = uri.to_string();
        *resource = doc;
        found
    }

    /// The ajv error(s) for one error of the crate, with the last part of their sort keys.
    fn describe(
        &self,
        kind: &Kind,
        keyword: &str,
        walk: &Walk<'a>,
        inst: &[String],
        here: Option<&Value>,
        path: String,
    ) -> Described {
        let s = walk.schema;
        let from_schema = |k: &str| s.and_then(|s| s.get(k)).cloned();
        let part = |pos: u64| (rank(keyword, here), pos, 0, String::new());
        let one = |keyword: &str, message: String, params: Value| {
            vec![(
                (rank(keyword, here), 0, 0, String::new()),
                ValidationError::new(path.clone(), keyword, message, params),
            )]
        };
        let number = |v: &Value| match v {
            Value::Number(n) => crate::json::number_to_string(n),
            other => other.to_string(),
        };
        match kind {
            Kind::Type { kind } => {
                let types = match from_schema("type") {
                    Some(t @ (Value::String(_) | Value::Array(_))) => t,
                    _ => match kind {
                        TypeKind::Single(t) => Value::String(t.to_string()),
                        TypeKind::Multiple(set) => {
                            Value::Array(set.iter().map(|t| Value::String(t.to_string())).collect())
                        }
                    },
                };
                let text = match &types {
                    Value::Array(list) => list
                        .iter()
                        .map(crate::json::to_js_string)
                        .collect::<Vec<_>>()
                        .join(","),
                    other => crate::json::to_js_string(other),
                };
                vec![(
                    (type_rank(s), 0, 0, String::new()),
                    ValidationError::new(
                        path,
                        "type",
                        format!("must be {text}"),
                        json!({ "type": types }),
                    ),
                )]
            }
            Kind::Required { property } => {
                let name = property
                    .as_str()
                    .map_or_else(|| property.to_string(), str::to_string);
                if keyword == "dependentRequired" {
                    return self.dependent_required(s, here, &name, path);
                }
                let pos = from_schema("required")
                    .and_then(|r| {
                        r.as_array()
                            .and_then(|l| l.iter().position(|p| p.as_str() == Some(&name)))
                    })
                    .map_or(LAST - 1, |p| p as u64);
                vec![(
                    part(pos),
                    ValidationError::new(
                        path,
                        "required",
                        format!("must have required property '{name}'"),
                        json!({ "missingProperty": name }),
                    ),
                )]
            }
            Kind::AdditionalProperties { unexpected }
            | Kind::UnevaluatedProperties { unexpected } => {
                let (param, message) = if matches!(kind, Kind::AdditionalProperties { .. }) {
                    ("additionalProperty", "must NOT have additional properties")
                } else {
                    (
                        "unevaluatedProperty",
                        "must NOT have unevaluated properties",
                    )
                };
                unexpected
                    .iter()
                    .filter(|name| {
                        let mut at = inst.to_vec();
                        at.push((*name).clone());
                        !self.ignored(&at)
                    })
                    .map(|name| {
                        (
                            (
                                rank(keyword, here),
                                key_position(here, name),
                                0,
                                name.clone(),
                            ),
                            ValidationError::new(
                                path.clone(),
                                keyword,
                                message,
                                json!({ param: name }),
                            ),
                        )
                    })
                    .collect()
            }
            Kind::Enum { options } => one(
                "enum",
                "must be equal to one of the allowed values".into(),
                json!({ "allowedValues": from_schema("enum").unwrap_or_else(|| options.as_ref().clone()) }),
            ),
            Kind::Constant { expected_value } => one(
                "const",
                "must be equal to constant".into(),
                json!({ "allowedValue": from_schema("const").unwrap_or_else(|| expected_value.as_ref().clone()) }),
            ),
            Kind::Format { format } => one(
                "format",
                format!("must match format \"{format}\""),
                json!({ "format": format }),
            ),
            Kind::Pattern { pattern } => one(
                "pattern",
                format!("must match pattern \"{pattern}\""),
                json!({ "pattern": pattern }),
            ),
            Kind::BacktrackLimitExceeded { .. } | Kind::RegexEngineFailure { .. } => {
                let pattern = from_schema("pattern").unwrap_or(Value::Null);
                let text = pattern.as_str().unwrap_or_default().to_string();
                one(
                    "pattern",
                    format!("must match pattern \"{text}\""),
                    json!({ "pattern": pattern }),
                )
            }
            Kind::Minimum { limit }
            | Kind::Maximum { limit }
            | Kind::ExclusiveMinimum { limit }
            | Kind::ExclusiveMaximum { limit } => {
                let (kw, comparison) = match kind {
                    Kind::Minimum { .. } => ("minimum", ">="),
                    Kind::Maximum { .. } => ("maximum", "<="),
                    Kind::ExclusiveMinimum { .. } => ("exclusiveMinimum", ">"),
                    _ => ("exclusiveMaximum", "<"),
                };
                one(
                    kw,
                    format!("must be {comparison} {}", number(limit)),
                    json!({ "comparison": comparison, "limit": limit }),
                )
            }
            Kind::MultipleOf { multiple_of } => {
                let value =
                    from_schema("multipleOf").unwrap_or_else(|| crate::json::number(*multiple_of));
                one(
                    "multipleOf",
                    format!("must be multiple of {}", number(&value)),
                    json!({ "multipleOf": value }),
                )
            }
            Kind::MinLength { limit } => {
                limit_message("minLength", "fewer", *limit, "characters", &one)
            }
            Kind::MaxLength { limit } => {
                limit_message("maxLength", "more", *limit, "characters", &one)
            }
            Kind::MinItems { limit } => limit_message("minItems", "fewer", *limit, "items", &one),
            Kind::MaxItems { limit } => limit_message("maxItems", "more", *limit, "items", &one),
            Kind::MinProperties { limit } => {
                limit_message("minProperties", "fewer", *limit, "properties", &one)
            }
            Kind::MaxProperties { limit } => {
                limit_message("maxProperties", "more", *limit, "properties", &one)
            }
            Kind::UniqueItems => {
                let (i, j) = duplicate_items(s, here);
                one(
                    "uniqueItems",
                    format!("must NOT have duplicate items (items ## {j} and {i} are identical)"),
                    json!({ "i": i, "j": j }),
                )
            }
            Kind::Not { .. } => one("not", "must NOT be valid".into(), json!({})),
            Kind::AnyOf { .. } => vec![(
                (rank("anyOf", None), LAST, 0, String::new()),
                ValidationError::new(path, "anyOf", "must match a schema in anyOf", json!({})),
            )],
            Kind::OneOfNotValid { .. } | Kind::OneOfMultipleValid { .. } => {
                let passing = match kind {
                    Kind::OneOfMultipleValid { context } => Value::from(
                        context
                            .iter()
                            .enumerate()
                            .filter(|(_, branch)| branch.is_empty())
                            .map(|(i, _)| i)
                            .take(2)
                            .collect::<Vec<_>>(),
                    ),
                    _ => Value::Null,
                };
                vec![(
                    (rank("oneOf", None), LAST, 0, String::new()),
                    ValidationError::new(
                        path,
                        "oneOf",
                        "must match exactly one schema in oneOf",
                        json!({ "passingSchemas": passing }),
                    ),
                )]
            }
            Kind::Contains => {
                let min = from_schema("minContains").unwrap_or(json!(1));
                let (message, params) = match from_schema("maxContains") {
                    Some(max) => (
                        format!(
                            "must contain at least {} and no more than {} valid item(s)",
                            number(&min),
                            number(&max)
                        ),
                        json!({ "minContains": min, "maxContains": max }),
                    ),
                    None => (
                        format!("must contain at least {} valid item(s)", number(&min)),
                        json!({ "minContains": min }),
                    ),
                };
                vec![(
                    (rank("contains", None), 0, 0, String::new()),
                    ValidationError::new(path, "contains", message, params),
                )]
            }
            Kind::FalseSchema => {
                vec![(
                    (0, 0, 0, String::new()),
                    ValidationError::new(
                        path,
                        "false schema",
                        "boolean schema is false",
                        json!({}),
                    ),
                )]
            }
            Kind::AdditionalItems { limit } => one(
                "additionalItems",
                format!("must NOT have more than {limit} items"),
                json!({ "limit": limit }),
            ),
            Kind::UnevaluatedItems { unexpected } => {
                let total = here.and_then(Value::as_array).map_or(0, Vec::len);
                let limit = total.saturating_sub(unexpected.len());
                one(
                    "unevaluatedItems",
                    format!("must NOT have more than {limit} items"),
                    json!({ "limit": limit }),
                )
            }
            Kind::ContentEncoding { content_encoding } => one(
                "contentEncoding",
                format!("must be encoded as \"{content_encoding}\""),
                json!({ "contentEncoding": content_encoding }),
            ),
            Kind::FromUtf8 { .. } => one(
                "contentEncoding",
                "must be valid UTF-8 after decoding".into(),
                json!({}),
            ),
            Kind::ContentMediaType { content_media_type } => one(
                "contentMediaType",
                format!("must be valid \"{content_media_type}\" content"),
                json!({ "contentMediaType": content_media_type }),
            ),
            Kind::Custom { keyword, message } => one(keyword, message.clone(), json!({})),
            Kind::Referencing(e) => one("$ref", format!("can't resolve reference: {e}"), json!({})),
            Kind::PropertyNames { .. } => Vec::new(),
            #[allow(unreachable_patterns)]
            _ => one(keyword, kind_keyword(kind), json!({})),
        }
    }

    /// `dependentRequired`: ajv words the missing property with the whole dependency list.
    fn dependent_required(
        &self,
        schema: Option<&Value>,
        here: Option<&Value>,
        missing: &str,
        path: String,
    ) -> Described {
        let deps = schema
            .and_then(|s| s.get("dependentRequired"))
            .and_then(Value::as_object);
        let present = |p: &str| {
            here.and_then(Value::as_object)
                .is_some_and(|o| o.contains_key(p))
        };
        let found = deps.and_then(|deps| {
            deps.iter().enumerate().find_map(|(pos, (property, list))| {
                let list = list.as_array()?;
                let at = list.iter().position(|d| d.as_str() == Some(missing))?;
                present(property).then(|| (pos, property.clone(), list.clone(), at))
            })
        });
        let (pos, property, list, at) =
            found.unwrap_or((0, String::new(), vec![json!(missing)], 0));
        let names: Vec<String> = list.iter().map(crate::json::to_js_string).collect();
        let noun = if names.len() == 1 {
            "property"
        } else {
            "properties"
        };
        let joined = names.join(", ");
        vec![(
            (
                rank("dependentRequired", None),
                pos as u64,
                at as u64,
                String::new(),
            ),
            ValidationError::new(
                path,
                "dependentRequired",
                format!("must have {noun} {joined} when property {property} is present"),
                json!({
                    "property": property,
                    "missingProperty": missing,
                    "depsCount": names.len(),
                    "deps": joined,
                }),
            ),
        )]
    }
}

/// `items: false` after `prefixItems` fails once per extra item here; ajv reports the
/// array once: `must NOT have more than N items` (equal entries collapse when sorted).
fn items_after_prefix(kind: &Kind, walk: &Walk<'_>, inst: &[String]) -> Option<Entry> {
    let (Kind::FalseSchema, Some((Some(parent), step, depth, key_len))) = (kind, &walk.last_step)
    else {
        return None;
    };
    let limit = parent.get("prefixItems").and_then(Value::as_array)?.len();
    if step != "items" {
        return None;
    }
    let mut key = walk.key[..(*key_len).min(walk.key.len())].to_vec();
    key.push((rank("items", None), LAST, 0, String::new()));
    let error = ValidationError::new(
        pointer(&inst[..(*depth).min(inst.len())]),
        "items",
        format!("must NOT have more than {limit} items"),
        json!({ "limit": limit }),
    );
    Some((key, error))
}

/// ajv's `must NOT have fewer/more than N …` messages.
fn limit_message(
    keyword: &str,
    comparison: &str,
    limit: u64,
    noun: &str,
    one: &dyn Fn(&str, String, Value) -> Described,
) -> Described {
    one(
        keyword,
        format!("must NOT have {comparison} than {limit} {noun}"),
        json!({ "limit": limit }),
    )
}

/// The keyword name of an error kind, for kinds without a specific ajv message.
fn kind_keyword(kind: &Kind) -> String {
    format!("must be valid ({})", kind.keyword())
}

/// Moves into a schema: a `$id` there changes the base URI and the current resource.
fn enter<'v>(schema: Option<&'v Value>, base: &mut String, resource: &mut &'v Value) {
    if let Some(id) = schema.and_then(|s| s.get("$id")).and_then(Value::as_str) {
        *base = join_uri(base, id.trim_end_matches('#'));
        if let Some(s) = schema {
            *resource = s;
        }
    }
}

/// The indices ajv names in a `uniqueItems` error, found the way ajv searches: from the
/// end; with scalar item types by a map of seen values (so `i` is the earlier item), else
/// comparing each item with all earlier ones (so `j` is the earlier item).
fn duplicate_items(schema: Option<&Value>, array: Option<&Value>) -> (usize, usize) {
    let Some(items) = array.and_then(Value::as_array) else {
        return (0, 0);
    };
    let item_types = schema_types(schema.and_then(|s| s.get("items")));
    let scalar =
        !item_types.is_empty() && !item_types.iter().any(|t| t == "object" || t == "array");
    if scalar {
        let mut seen: BTreeMap<String, usize> = BTreeMap::new();
        for i in (0..items.len()).rev() {
            let item = &items[i];
            if !item_types.iter().any(|t| has_type(item, t)) {
                continue;
            }
            let mut key = match item {
                Value::Null => "null".to_string(),
                other => crate::json::to_js_string(other),
            };
            if item_types.len() > 1 && item.is_string() {
                key.push('_');
            }
            if let Some(&j) = seen.get(&key) {
                return (i, j);
            }
            seen.insert(key, i);
        }
    } else {
        for i in (0..items.len()).rev() {
            for j in (0..i).rev() {
                if crate::json::loose_eq(&items[i], &items[j]) {
                    return (i, j);
                }
            }
        }
    }
    (0, 0)
}

/// Whether a value has a JSON Schema type (integers are integral numbers).
fn has_type(value: &Value, kind: &str) -> bool {
    match kind {
        "null" => value.is_null(),
        "boolean" => value.is_boolean(),
        "string" => value.is_string(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        "number" => value.is_number(),
        "integer" => value.as_number().is_some_and(|n| {
            n.is_i64() || n.is_u64() || n.as_f64().is_some_and(|f| f.fract() == 0.0)
        }),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_join_like_rfc_3986() {
        assert_eq!(
            join_uri("json-schema:///", "actions/x"),
            "json-schema:///actions/x"
        );
        assert_eq!(
            join_uri("https://schemas.letsflow.io/v1.0/scenario", "actor"),
            "https://schemas.letsflow.io/v1.0/actor"
        );
        assert_eq!(
            join_uri("https://schemas.letsflow.io/v1.0/scenario", "#/$defs/x"),
            "https://schemas.letsflow.io/v1.0/scenario#/$defs/x"
        );
        assert_eq!(join_uri("https://a.b/c/d", "/e"), "https://a.b/e");
        assert_eq!(
            join_uri("schema:actions/form-v1", "draft-v1"),
            "schema:actions/draft-v1"
        );
        assert_eq!(join_uri("x:y", "schema:z"), "schema:z");
        assert_eq!(percent_decode("/%24defs/a"), "/$defs/a");
    }

    #[test]
    fn type_errors_go_first_unless_the_type_has_keywords() {
        let s = json!({"type": "object", "properties": {}});
        assert_eq!(type_rank(Some(&s)), 79);
        assert_eq!(type_rank(Some(&json!({"type": "object"}))), TYPE_FIRST);
        assert_eq!(
            type_rank(Some(&json!({"type": "integer", "minimum": 1}))),
            TYPE_FIRST
        );
        assert_eq!(
            type_rank(Some(&json!({"type": ["string", "null"], "minLength": 1}))),
            TYPE_FIRST
        );
        assert_eq!(
            type_rank(Some(
                &json!({"type": "string", "nullable": true, "minLength": 1})
            )),
            TYPE_FIRST
        );
    }

    #[test]
    fn duplicates_are_found_as_ajv_finds_them() {
        let typed = json!({"items": {"type": "integer"}});
        assert_eq!(
            duplicate_items(Some(&typed), Some(&json!([1, 2, 1]))),
            (0, 2)
        );
        assert_eq!(
            duplicate_items(Some(&json!({})), Some(&json!([1, 2, 1]))),
            (2, 0)
        );
        assert_eq!(
            duplicate_items(Some(&json!({})), Some(&json!([{"a": 1}, {"a": 1.0}]))),
            (1, 0)
        );
    }
}
