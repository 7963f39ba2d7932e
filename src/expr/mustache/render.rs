//! Rendering nodes against a JSON view: the context stack, truthiness and partials.

use std::borrow::Cow;
use std::collections::HashMap;
use std::rc::Rc;

use serde_json::{Map, Value};

use super::ast::{Name, Node};
use super::error::Error;
use super::parser;
use crate::json::to_js_string;

/// How deeply partials may include each other (a recursive partial stops here).
pub const MAX_PARTIAL_DEPTH: usize = 100;

/// How many section bodies and partials may enclose each other while rendering. Rendering
/// recurses once per level, so this keeps it well within a 2 MiB thread stack.
pub const MAX_NESTING: usize = 200;

/// The context stack: the view at the bottom, each entered section's value above it.
/// Values are borrowed from the view, except the few computed ones (`list.length`).
type Stack<'v> = Vec<Cow<'v, Value>>;

/// The state of one render call: the partials and those already parsed.
pub(crate) struct Renderer<'p> {
    partials: &'p Map<String, Value>,
    /// Parsed partials by name, then by indentation.
    parsed: HashMap<String, HashMap<String, Rc<[Node]>>>,
    /// How many partials enclose the nodes being rendered.
    partial_depth: usize,
    /// How many section bodies and partials enclose the nodes being rendered.
    nesting: usize,
}

impl<'p> Renderer<'p> {
    /// A renderer that takes partials from `partials` (values that are not strings are
    /// ignored, like missing partials).
    pub(crate) fn new(partials: &'p Map<String, Value>) -> Self {
        Renderer {
            partials,
            parsed: HashMap::new(),
            partial_depth: 0,
            nesting: 0,
        }
    }

    /// Renders `nodes` with `view` as the whole context.
    pub(crate) fn render(&mut self, nodes: &[Node], view: &Value) -> Result<String, Error> {
        let mut out = String::new();
        let mut stack = vec![Cow::Borrowed(view)];
        self.nodes(nodes, &mut stack, &mut out)?;
        Ok(out)
    }

    /// Renders `nodes` in the context `stack`, appending to `out`.
    fn nodes<'v>(
        &mut self,
        nodes: &[Node],
        stack: &mut Stack<'v>,
        out: &mut String,
    ) -> Result<(), Error> {
        for node in nodes {
            match node {
                Node::Text(text) => out.push_str(text),
                Node::Variable(name) => {
                    if let Some(value) = lookup(stack, name) {
                        out.push_str(&to_js_string(&value));
                    }
                }
                Node::Section {
                    name,
                    inverted: false,
                    children,
                } => self.section(name, children, stack, out)?,
                Node::Section {
                    name,
                    inverted: true,
                    children,
                } => {
                    if !lookup(stack, name).is_some_and(|value| is_truthy(&value)) {
                        self.body(children, stack, out)?;
                    }
                }
                Node::Partial { name, indent } => self.partial(name, indent, stack, out)?,
            }
        }
        Ok(())
    }

    /// `{{#name}}`: once per item of a list, once with an object or other truthy value
    /// on top of the stack (`true` leaves the stack as it is), never when falsy.
    fn section<'v>(
        &mut self,
        name: &Name,
        children: &[Node],
        stack: &mut Stack<'v>,
        out: &mut String,
    ) -> Result<(), Error> {
        let Some(value) = lookup(stack, name) else {
            return Ok(());
        };
        if !is_truthy(&value) {
            return Ok(());
        }
        match value {
            Cow::Borrowed(Value::Array(items)) => {
                for item in items {
                    self.nested(Cow::Borrowed(item), children, stack, out)?;
                }
                Ok(())
            }
            Cow::Owned(Value::Array(items)) => {
                for item in items {
                    self.nested(Cow::Owned(item), children, stack, out)?;
                }
                Ok(())
            }
            Cow::Borrowed(Value::Bool(true)) | Cow::Owned(Value::Bool(true)) => {
                self.body(children, stack, out)
            }
            other => self.nested(other, children, stack, out),
        }
    }

    /// Renders `children` with `value` pushed on the stack.
    fn nested<'v>(
        &mut self,
        value: Cow<'v, Value>,
        children: &[Node],
        stack: &mut Stack<'v>,
        out: &mut String,
    ) -> Result<(), Error> {
        stack.push(value);
        let result = self.body(children, stack, out);
        stack.pop();
        result
    }

    /// Renders a section body or a partial, one level deeper.
    fn body<'v>(
        &mut self,
        nodes: &[Node],
        stack: &mut Stack<'v>,
        out: &mut String,
    ) -> Result<(), Error> {
        if self.nesting >= MAX_NESTING {
            return Err(Error::NestingTooDeep { limit: MAX_NESTING });
        }
        self.nesting += 1;
        let result = self.nodes(nodes, stack, out);
        self.nesting -= 1;
        result
    }

    /// `{{> name}}`: the partial's source, indented when the tag is standalone, parsed
    /// and rendered in the current context; nothing when there is no such partial.
    fn partial<'v>(
        &mut self,
        name: &str,
        indent: &str,
        stack: &mut Stack<'v>,
        out: &mut String,
    ) -> Result<(), Error> {
        let Some(Value::String(source)) = self.partials.get(name) else {
            return Ok(());
        };
        if self.partial_depth >= MAX_PARTIAL_DEPTH {
            return Err(Error::PartialDepth {
                name: name.to_owned(),
                limit: MAX_PARTIAL_DEPTH,
            });
        }
        let cached = self
            .parsed
            .get(name)
            .and_then(|by_indent| by_indent.get(indent))
            .cloned();
        let nodes = match cached {
            Some(nodes) => nodes,
            None => {
                let nodes: Rc<[Node]> = parser::parse(&indent_lines(source, indent))
                    .map_err(|error| Error::Partial {
                        name: name.to_owned(),
                        error: Box::new(error),
                    })?
                    .into();
                self.parsed
                    .entry(name.to_owned())
                    .or_default()
                    .insert(indent.to_owned(), Rc::clone(&nodes));
                nodes
            }
        };
        self.partial_depth += 1;
        let result = self.body(&nodes, stack, out);
        self.partial_depth -= 1;
        result
    }
}

/// `source` with `indent` before every line (none after a final line break).
fn indent_lines<'s>(source: &'s str, indent: &str) -> Cow<'s, str> {
    if indent.is_empty() {
        return Cow::Borrowed(source);
    }
    let mut indented = String::with_capacity(source.len() + indent.len());
    for line in source.split_inclusive('\n') {
        indented.push_str(indent);
        indented.push_str(line);
    }
    Cow::Owned(indented)
}

/// Finds a name: `.` is the top of the stack; the first part of a dotted name is looked
/// up from the top of the stack down, the following parts only inside what it found.
fn lookup<'v>(stack: &[Cow<'v, Value>], name: &Name) -> Option<Cow<'v, Value>> {
    let parts = match name {
        Name::Implicit => return stack.last().map(reborrow),
        Name::Path(parts) => parts,
    };
    let (first, rest) = parts.split_first()?;
    let mut value = stack
        .iter()
        .rev()
        .find_map(|context| property(reborrow(context), first))?;
    for part in rest {
        value = property(value, part)?;
    }
    Some(value)
}

/// Another handle on a stack entry: the same borrow, or a copy of a computed value.
fn reborrow<'v>(value: &Cow<'v, Value>) -> Cow<'v, Value> {
    match value {
        Cow::Borrowed(value) => Cow::Borrowed(*value),
        Cow::Owned(value) => Cow::Owned(value.clone()),
    }
}

/// A property of a value, as JavaScript sees it: an object's key (even when its value is
/// `null`), a list's index or `length`, a string's `length` (in UTF-16 units).
fn property<'v>(value: Cow<'v, Value>, key: &str) -> Option<Cow<'v, Value>> {
    match value {
        Cow::Borrowed(value) => property_of(value, key),
        Cow::Owned(value) => property_of(&value, key).map(|found| Cow::Owned(found.into_owned())),
    }
}

/// [`property`] of a borrowed value: what it finds is borrowed too, but for `length`.
fn property_of<'v>(value: &'v Value, key: &str) -> Option<Cow<'v, Value>> {
    match value {
        Value::Object(map) => map.get(key).map(Cow::Borrowed),
        Value::Array(items) if key == "length" => Some(Cow::Owned(Value::from(items.len()))),
        Value::Array(items) => array_index(key)
            .and_then(|i| items.get(i))
            .map(Cow::Borrowed),
        Value::String(s) if key == "length" => {
            Some(Cow::Owned(Value::from(s.encode_utf16().count())))
        }
        _ => None,
    }
}

/// The key as a JavaScript array index: `0` or digits without a leading zero.
fn array_index(key: &str) -> Option<usize> {
    let canonical = !key.is_empty()
        && key.bytes().all(|b| b.is_ascii_digit())
        && (key == "0" || !key.starts_with('0'));
    if canonical {
        key.parse().ok()
    } else {
        None
    }
}

/// Whether a section renders, as in mustache.js: `false`, `null`, `0`, `""` and the
/// empty list are falsy; everything else (objects, even empty ones) is truthy.
fn is_truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => crate::json::as_f64(n) != 0.0,
        Value::String(s) => !s.is_empty(),
        Value::Array(items) => !items.is_empty(),
        Value::Object(_) => true,
    }
}
