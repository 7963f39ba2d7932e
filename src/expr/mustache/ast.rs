//! The parsed form of a template: text and tags, with sections nested.

/// One piece of a parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Node {
    /// Literal text, copied to the output as it is.
    Text(String),
    /// `{{name}}`, `{{{name}}}` or `{{& name}}`: the value as text, never escaped.
    Variable(Name),
    /// `{{#name}}…{{/name}}` (or `{{^name}}…{{/name}}` when `inverted`).
    Section {
        /// The value the section tests.
        name: Name,
        /// `{{^name}}`: render the body only when the value is falsy.
        inverted: bool,
        /// The body between the opening and the closing tag.
        children: Vec<Node>,
    },
    /// `{{> name}}`: the partial of that name, rendered in the current context.
    Partial {
        /// The partial's name, a key of the partials map.
        name: String,
        /// The whitespace before a standalone partial tag, put before every line of the
        /// partial; empty when the tag is not standalone.
        indent: String,
    },
}

/// The name in a tag: `.` for the top of the context stack, or a dotted path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Name {
    /// `{{.}}`: the current context itself.
    Implicit,
    /// `{{a.b.c}}`: `a` is looked up through the context stack, the rest in `a` only.
    Path(Vec<String>),
}

impl Name {
    /// The name of a tag, from its text without the surrounding whitespace.
    pub(crate) fn parse(text: &str) -> Name {
        if text == "." {
            Name::Implicit
        } else {
            Name::Path(text.split('.').map(str::to_owned).collect())
        }
    }
}
