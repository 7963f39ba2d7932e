//! Data functions: `{"<ref>": EXPR}`, `{"<tpl>": TEMPLATE}` and `{"<select>": {...}}`
//! embedded anywhere in a scenario, evaluated against the process data (SPEC 1.2).
//!
//! Parsing is the expensive part, so a [`FnCache`] collects and parses every data function
//! of a scenario once; evaluation looks expressions up there and only parses what it has
//! not seen (for example a doc string in a test suite).

use super::jmespath::{self, Entropy, Env, Expression, Runtime};
use super::mustache::{self, Template};
use crate::json;
use serde_json::{Map, Value};
use std::collections::HashMap;

/// A data function that could not be evaluated.
#[derive(Debug, thiserror::Error)]
pub enum FnError {
    /// A `<ref>` expression that does not parse, e.g. `actors.`.
    #[error("invalid expression '{expr}': {source}")]
    Parse {
        /// The expression text.
        expr: String,
        /// What the parser reported.
        source: Box<jmespath::Error>,
    },
    /// A `<ref>` expression that fails on this data, e.g. `abs('a')`. The text is the
    /// reference engine's.
    #[error("Failed to evaluate JMESPath expression: {expr}. {source}")]
    Eval {
        /// The expression text.
        expr: String,
        /// What the interpreter reported.
        source: Box<jmespath::Error>,
    },
    /// A `<tpl>` template that does not parse or render, e.g. `{{#a}}` without `{{/a}}`.
    #[error("template failed: {source}")]
    Template {
        /// What the renderer reported.
        source: Box<mustache::Error>,
    },
}

/// Parsed expressions and templates of one scenario, keyed by their source text.
#[derive(Debug, Default, Clone)]
pub struct FnCache {
    refs: HashMap<String, Expression>,
    templates: HashMap<String, Template>,
    mentions_scenario: bool,
}

impl FnCache {
    /// Collects and parses every data function found in `value`. Ones that fail to parse
    /// are left out; evaluating them reports the error where it is used.
    pub fn collect(value: &Value) -> Self {
        let mut cache = FnCache::default();
        cache.add(value);
        cache
    }

    /// Adds the data functions found in `value`.
    pub fn add(&mut self, value: &Value) {
        match value {
            Value::Array(items) => items.iter().for_each(|v| self.add(v)),
            Value::Object(map) => {
                if !self.mentions_scenario
                    && ["<ref>", "<tpl>", "<select>"]
                        .iter()
                        .any(|k| map.contains_key(*k))
                {
                    self.mentions_scenario = value.to_string().contains("scenario");
                }
                if let Some(Value::String(src)) = map.get("<ref>") {
                    if let Ok(expr) = Expression::parse(src) {
                        self.refs.insert(src.clone(), expr);
                    }
                }
                if let Some(Value::String(src)) = map.get("<tpl>") {
                    if let Ok(tpl) = Template::parse(src) {
                        self.templates.insert(src.clone(), tpl);
                    }
                }
                map.values().for_each(|v| self.add(v));
            }
            _ => {}
        }
    }
}

impl FnCache {
    /// Whether some data function mentions `scenario`, so that the process data must
    /// include the scenario (a large copy, left out when nothing reads it).
    pub fn mentions_scenario(&self) -> bool {
        self.mentions_scenario
    }
}

/// Evaluates data functions with a function runtime, a cache of parsed expressions and,
/// during a step, the entropy that makes `uuid()` deterministic.
#[derive(Clone, Copy)]
pub struct Evaluator<'a> {
    runtime: &'a Runtime,
    cache: Option<&'a FnCache>,
    entropy: Option<&'a Entropy>,
}

impl<'a> Evaluator<'a> {
    /// An evaluator with the standard function runtime and no cache.
    pub fn new() -> Self {
        Evaluator {
            runtime: Runtime::global(),
            cache: None,
            entropy: None,
        }
    }

    /// Uses another function runtime (with application functions registered).
    pub fn with_runtime(self, runtime: &'a Runtime) -> Self {
        Evaluator { runtime, ..self }
    }

    /// Looks parsed expressions up in `cache` first.
    pub fn with_cache(self, cache: &'a FnCache) -> Self {
        Evaluator {
            cache: Some(cache),
            ..self
        }
    }

    /// Seeds `uuid()` without a name.
    pub fn with_entropy(self, entropy: &'a Entropy) -> Self {
        Evaluator {
            entropy: Some(entropy),
            ..self
        }
    }

    /// Evaluates every data function in `subject` against `data`; other values are copied.
    pub fn apply(&self, subject: &Value, data: &Value) -> Result<Value, FnError> {
        match subject {
            Value::Array(items) => items
                .iter()
                .map(|item| self.apply(item, data))
                .collect::<Result<_, _>>()
                .map(Value::Array),
            Value::Object(map) => {
                if let Some(expr) = map.get("<ref>") {
                    return match expr {
                        Value::String(src) => self.reference(src, data),
                        _ => Ok(Value::Null),
                    };
                }
                if let Some(tpl) = map.get("<tpl>") {
                    return self.template(tpl, data);
                }
                if let Some(Value::Object(options)) = map.get("<select>") {
                    return self.select(options, data);
                }
                map.iter()
                    .map(|(k, v)| Ok((k.clone(), self.apply(v, data)?)))
                    .collect::<Result<Map<_, _>, _>>()
                    .map(Value::Object)
            }
            other => Ok(other.clone()),
        }
    }

    /// Evaluates a JMESPath expression against `data`.
    pub fn reference(&self, src: &str, data: &Value) -> Result<Value, FnError> {
        let env = Env {
            runtime: self.runtime,
            entropy: self.entropy,
        };
        let eval = |expr: &Expression| {
            expr.search(data, &env).map_err(|source| FnError::Eval {
                expr: src.to_string(),
                source: Box::new(source),
            })
        };
        match self.cache.and_then(|c| c.refs.get(src)) {
            Some(expr) => eval(expr),
            None => {
                let expr = Expression::parse(src).map_err(|source| FnError::Parse {
                    expr: src.to_string(),
                    source: Box::new(source),
                })?;
                eval(&expr)
            }
        }
    }

    fn template(&self, tpl: &Value, data: &Value) -> Result<Value, FnError> {
        let empty = Map::new();
        match tpl {
            Value::String(src) => self.render(src, data, &empty).map(Value::String),
            Value::Object(spec) if spec.contains_key("template") => {
                let template = self.apply(&spec["template"], data)?;
                let view = match spec.get("view") {
                    Some(view) => self.apply(view, data)?,
                    None => Value::Null,
                };
                let view = if view.is_null() { data } else { &view };
                let partials = match spec.get("partials") {
                    Some(p) => self.apply(p, data)?,
                    None => Value::Null,
                };
                let partials = partials.as_object().unwrap_or(&empty);
                let src = match &template {
                    Value::String(s) => s.clone(),
                    other => json::to_js_string(other),
                };
                self.render(&src, view, partials).map(Value::String)
            }
            _ => Ok(Value::Null),
        }
    }

    fn render(
        &self,
        src: &str,
        view: &Value,
        partials: &Map<String, Value>,
    ) -> Result<String, FnError> {
        let rendered = match self.cache.and_then(|c| c.templates.get(src)) {
            Some(tpl) => tpl.render(view, partials),
            None => Template::parse(src).and_then(|t| t.render(view, partials)),
        };
        rendered.map_err(|e| FnError::Template {
            source: Box::new(e),
        })
    }

    fn select(&self, options: &Map<String, Value>, data: &Value) -> Result<Value, FnError> {
        let subject = match options.get("$") {
            Some(v) => self.apply(v, data)?,
            None => Value::Null,
        };
        let key = match &subject {
            Value::String(s) => s.clone(),
            Value::Bool(_) | Value::Number(_) | Value::Null => json::to_js_string(&subject),
            other => json::canonical(other),
        };
        let key = if subject.is_null() {
            "null".into()
        } else {
            key
        };
        match options
            .get(&key)
            .filter(|_| key != "$")
            .or_else(|| options.get("*"))
        {
            Some(chosen) => self.apply(chosen, data),
            None => Ok(Value::Null),
        }
    }
}

/// A value prepared for repeated evaluation (see [`Evaluator::evaluate`]): the parts
/// without data functions are found once and then copied as they are, instead of being
/// walked and rebuilt every time. Evaluating it gives exactly what [`Evaluator::apply`]
/// gives for the value it was prepared from.
#[derive(Debug, Clone)]
pub enum Prepared {
    /// No data function inside: evaluates to a copy of the value.
    Static(Value),
    /// A data function (`<ref>`, `<tpl>`, `<select>`), evaluated by [`Evaluator::apply`].
    Fn(Value),
    /// An object with data functions in some fields: `template` holds the fields in order,
    /// the static ones as they are and `null` for the computed ones, which `fields` lists
    /// by position.
    Object {
        /// The object with `null` in place of every computed field.
        template: Map<String, Value>,
        /// The computed fields: position in `template`, and the prepared value.
        fields: Vec<(usize, Prepared)>,
    },
    /// An array with data functions in some items.
    Array(Vec<Prepared>),
}

impl Prepared {
    /// Prepares `value`.
    pub fn new(value: &Value) -> Self {
        match value {
            Value::Object(map) => {
                if map.contains_key("<ref>")
                    || map.contains_key("<tpl>")
                    || matches!(map.get("<select>"), Some(Value::Object(_)))
                {
                    return Prepared::Fn(value.clone());
                }
                let mut template = Map::new();
                let mut fields = Vec::new();
                for (i, (key, item)) in map.iter().enumerate() {
                    match Prepared::new(item) {
                        Prepared::Static(item) => {
                            template.insert(key.clone(), item);
                        }
                        computed => {
                            template.insert(key.clone(), Value::Null);
                            fields.push((i, computed));
                        }
                    }
                }
                if fields.is_empty() {
                    Prepared::Static(Value::Object(template))
                } else {
                    Prepared::Object { template, fields }
                }
            }
            Value::Array(items) => {
                let items: Vec<Prepared> = items.iter().map(Prepared::new).collect();
                if items.iter().all(|i| matches!(i, Prepared::Static(_))) {
                    Prepared::Static(Value::Array(
                        items
                            .into_iter()
                            .map(|i| match i {
                                Prepared::Static(v) => v,
                                _ => Value::Null,
                            })
                            .collect(),
                    ))
                } else {
                    Prepared::Array(items)
                }
            }
            other => Prepared::Static(other.clone()),
        }
    }

    /// The value when it holds no data function.
    pub fn as_static(&self) -> Option<&Value> {
        match self {
            Prepared::Static(v) => Some(v),
            _ => None,
        }
    }
}

impl Evaluator<'_> {
    /// Evaluates a prepared value against `data`: the same as [`Self::apply`] on the value
    /// it was prepared from (data functions evaluated in the same order).
    pub fn evaluate(&self, subject: &Prepared, data: &Value) -> Result<Value, FnError> {
        match subject {
            Prepared::Static(v) => Ok(v.clone()),
            Prepared::Fn(v) => self.apply(v, data),
            Prepared::Object { .. } => self.evaluate_object(subject, data).map(Value::Object),
            Prepared::Array(items) => items
                .iter()
                .map(|item| self.evaluate(item, data))
                .collect::<Result<_, _>>()
                .map(Value::Array),
        }
    }

    /// Like [`Self::evaluate`] for a prepared object; anything else that does not evaluate
    /// to an object gives an empty one.
    pub fn evaluate_object(
        &self,
        subject: &Prepared,
        data: &Value,
    ) -> Result<Map<String, Value>, FnError> {
        match subject {
            Prepared::Object { template, fields } => {
                let mut out = template.clone();
                let mut slots = out.values_mut().enumerate();
                for (at, field) in fields {
                    for (i, slot) in slots.by_ref() {
                        if i == *at {
                            *slot = self.evaluate(field, data)?;
                            break;
                        }
                    }
                }
                Ok(out)
            }
            Prepared::Static(Value::Object(map)) => Ok(map.clone()),
            other => match self.evaluate(other, data)? {
                Value::Object(map) => Ok(map),
                _ => Ok(Map::new()),
            },
        }
    }
}

impl Default for Evaluator<'_> {
    fn default() -> Self {
        Self::new()
    }
}

/// True when `value` holds a data function anywhere, so that evaluating it can be skipped.
pub fn has_fn(value: &Value) -> bool {
    match value {
        Value::Array(items) => items.iter().any(has_fn),
        Value::Object(map) => {
            map.contains_key("<ref>")
                || map.contains_key("<tpl>")
                || map.contains_key("<select>")
                || map.values().any(has_fn)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn prepared_values_evaluate_as_apply_does() {
        let data = json!({"a": {"b": 2}, "s": "x", "list": [1, 2]});
        let subjects = [
            json!(null),
            json!("text"),
            json!({"x": 1, "y": [1, {"z": true}]}),
            json!({"<ref>": "a.b"}),
            json!({"<ref>": 3}),
            json!({"k": {"<ref>": "a"}, "static": {"deep": [1, 2]}, "t": {"<tpl>": "v={{s}}"}}),
            json!([1, {"<ref>": "list[1]"}, "c", [{"<ref>": "s"}]]),
            json!({"<select>": {"$": {"<ref>": "s"}, "x": {"<ref>": "a.b"}, "*": 0}}),
            json!({"<select>": "not an object", "other": {"<ref>": "s"}}),
            json!({"first": {"<ref>": "a.b"}, "mid": 1, "last": {"<tpl>": "{{s}}"}}),
        ];
        let eval = Evaluator::new();
        for subject in &subjects {
            let prepared = Prepared::new(subject);
            assert_eq!(
                prepared.as_static().is_some(),
                !has_fn(subject),
                "{subject}"
            );
            let expected = eval.apply(subject, &data).expect("apply");
            let actual = eval.evaluate(&prepared, &data).expect("evaluate");
            // The same value with the keys in the same order.
            assert_eq!(actual.to_string(), expected.to_string(), "{subject}");
            if let Value::Object(expected) = expected {
                let object = eval.evaluate_object(&prepared, &data).expect("object");
                assert_eq!(
                    Value::Object(object).to_string(),
                    Value::Object(expected).to_string()
                );
            }
        }
        let failing = Prepared::new(&json!({"ok": 1, "bad": {"<ref>": "abs('a')"}}));
        assert!(eval.evaluate(&failing, &data).is_err());
    }
}
