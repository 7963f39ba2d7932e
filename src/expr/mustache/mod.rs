//! Mustache templates, rendered without HTML escaping.
//!
//! LetsFlow renders `<tpl>` data functions and notification texts with Mustache over
//! JSON data. The templates follow the [Mustache spec] — interpolation, sections,
//! inverted sections, comments, partials, set delimiters, dotted names, the implicit
//! iterator `{{.}}` and the standalone-line rules — with the differences that the
//! reference engine (on mustache.js) shows:
//!
//! - **No HTML escaping.** `{{x}}`, `{{{x}}}` and `{{& x}}` all write the value as it is.
//! - **Values are written as JavaScript's `String(v)`** writes them: `1`, `1.5`, `null` as
//!   nothing, lists joined by commas, objects as `[object Object]`.
//! - **Falsy values** for sections are `false`, `null`, a missing name, the empty list,
//!   the empty string and `0`. A section over `true` renders in the current context;
//!   over a list, once per item; over anything else truthy, with that value on top of
//!   the context stack.
//! - **JavaScript properties**: `{{list.length}}`, `{{list.0}}` and `{{text.length}}`.
//! - **No lambdas**: the data is JSON.
//!
//! Partials are template sources in a JSON object; a missing partial (or one that is not
//! a string) renders as nothing. Partials may recurse up to [`MAX_PARTIAL_DEPTH`] levels,
//! and sections and partials together nest up to [`MAX_NESTING`] levels, which keeps
//! rendering's recursion within a small thread stack.
//!
//! ```
//! use letsflow::expr::mustache::{render, Template};
//! use serde_json::{json, Map};
//!
//! let view = json!({"name": "<Ann>", "items": [{"n": 1}, {"n": 2.5}]});
//! let text = render("{{name}}:{{#items}} {{n}}{{/items}}", &view, &Map::new()).unwrap();
//! assert_eq!(text, "<Ann>: 1 2.5");
//!
//! let template = Template::parse("{{#a}}\n  {{>line}}\n{{/a}}\n").unwrap();
//! let partials = json!({"line": "- {{.}}\n"});
//! let text = template
//!     .render(&json!({"a": ["x", "y"]}), partials.as_object().unwrap())
//!     .unwrap();
//! assert_eq!(text, "  - x\n  - y\n");
//! ```
//!
//! [Mustache spec]: https://github.com/mustache/spec

mod ast;
mod error;
mod parser;
mod render;

use serde_json::{Map, Value};

pub use error::{Error, Location};
pub use render::{MAX_NESTING, MAX_PARTIAL_DEPTH};

/// A parsed template, ready to render any number of times.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    nodes: Vec<ast::Node>,
}

impl Template {
    /// Parses a template's source.
    ///
    /// Fails, with the line and column of the fault, on a tag without its closing
    /// delimiter, a section that is not closed or closed by another name, a closing tag
    /// without a section, a tag without a name, an invalid set-delimiter tag, or sections
    /// nested deeper than [`MAX_NESTING`].
    pub fn parse(src: &str) -> Result<Template, Error> {
        Ok(Template {
            nodes: parser::parse(src)?,
        })
    }

    /// Renders the template with `view` as the context and `partials` mapping names to
    /// template sources.
    ///
    /// Fails when a partial used does not parse ([`Error::Partial`]), partials nest
    /// deeper than [`MAX_PARTIAL_DEPTH`] ([`Error::PartialDepth`]), or sections and
    /// partials together deeper than [`MAX_NESTING`] ([`Error::NestingTooDeep`]).
    pub fn render(&self, view: &Value, partials: &Map<String, Value>) -> Result<String, Error> {
        render::Renderer::new(partials).render(&self.nodes, view)
    }
}

/// Parses `src` and renders it: [`Template::parse`] then [`Template::render`].
pub fn render(src: &str, view: &Value, partials: &Map<String, Value>) -> Result<String, Error> {
    Template::parse(src)?.render(view, partials)
}

#[cfg(test)]
mod tests;
