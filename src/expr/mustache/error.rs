//! Errors of parsing and rendering a template, with the place in the source.

use std::fmt;

/// A place in a template's source: 1-based line and column (columns count characters),
/// with the text of that line so that the message can point at the fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The line, from 1.
    pub line: usize,
    /// The column in characters, from 1.
    pub column: usize,
    /// The text of the line, without its line break.
    pub source_line: String,
}

impl Location {
    /// The location of the byte `offset` in `src` (an offset inside a character or past
    /// the end is moved back to the nearest character boundary).
    pub(crate) fn of(src: &str, offset: usize) -> Location {
        let mut offset = offset.min(src.len());
        while !src.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &src[..offset];
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let line_end = src[offset..].find('\n').map_or(src.len(), |i| offset + i);
        let source_line = src[line_start..line_end].trim_end_matches('\r').to_owned();
        Location {
            line: before.matches('\n').count() + 1,
            column: src[line_start..offset].chars().count() + 1,
            source_line,
        }
    }

    /// The source line and, below it, a caret under the column.
    fn caret(&self) -> String {
        let pad: String = self
            .source_line
            .chars()
            .take(self.column.saturating_sub(1))
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        format!("\n  {}\n  {pad}^", self.source_line)
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}, column {}", self.line, self.column)
    }
}

/// Why a template could not be parsed or rendered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A tag without its closing delimiter, e.g. `Hello {{name` or `{{{name}}`.
    #[error("unclosed tag at {at}: no closing `{close}`{}", .at.caret())]
    UnclosedTag {
        /// Where the tag opens.
        at: Location,
        /// The delimiter that was expected.
        close: String,
    },
    /// A section that is never closed, e.g. `{{#items}}…` without `{{/items}}`.
    #[error("unclosed section `{name}` opened at {at}{}", .at.caret())]
    UnclosedSection {
        /// The section's name.
        name: String,
        /// Where the section opens.
        at: Location,
    },
    /// A closing tag for another section than the open one, e.g. `{{#a}}{{/b}}`.
    #[error("mismatched closing tag `{found}` at {at}: section `{expected}` is open{}", .at.caret())]
    MismatchedClose {
        /// The name of the open section.
        expected: String,
        /// The name in the closing tag.
        found: String,
        /// Where the closing tag is.
        at: Location,
    },
    /// A closing tag without any open section, e.g. `text{{/a}}`.
    #[error("closing tag `{name}` at {at} has no open section{}", .at.caret())]
    UnopenedSection {
        /// The name in the closing tag.
        name: String,
        /// Where the closing tag is.
        at: Location,
    },
    /// A tag without a name, e.g. `{{}}` or `{{# }}`.
    #[error("tag without a name at {at}{}", .at.caret())]
    EmptyName {
        /// Where the tag is.
        at: Location,
    },
    /// A set-delimiter tag that does not give two delimiters, e.g. `{{=<% =}}` or
    /// `{{=<% %>}}`.
    #[error("invalid set-delimiter tag at {at}: expected `=OPEN CLOSE=` with two delimiters without whitespace or `=`{}", .at.caret())]
    InvalidDelimiters {
        /// Where the tag is.
        at: Location,
    },
    /// Sections nested deeper than [`MAX_NESTING`](super::MAX_NESTING) in one template,
    /// e.g. 201 times `{{#a}}`.
    #[error("sections nested deeper than {limit} at {at}{}", .at.caret())]
    TooDeep {
        /// The nesting limit.
        limit: usize,
        /// Where the section that goes past the limit opens.
        at: Location,
    },
    /// Partials included within each other deeper than
    /// [`MAX_PARTIAL_DEPTH`](super::MAX_PARTIAL_DEPTH), e.g. a partial `p` with the
    /// source `{{>p}}`.
    #[error("partial `{name}` nested deeper than {limit} partials")]
    PartialDepth {
        /// The partial that would go past the limit.
        name: String,
        /// The limit.
        limit: usize,
    },
    /// Section bodies and partials nested deeper than [`MAX_NESTING`](super::MAX_NESTING)
    /// while rendering, e.g. a partial `p` with the source
    /// `{{#a}}{{#a}}{{#a}}{{>p}}{{/a}}{{/a}}{{/a}}` and the view `{"a": true}`.
    #[error("sections and partials nested deeper than {limit} while rendering")]
    NestingTooDeep {
        /// The limit.
        limit: usize,
    },
    /// A partial whose source does not parse, e.g. a partial `p` with the source `{{#a}}`.
    #[error("in partial `{name}`: {error}")]
    Partial {
        /// The partial's name.
        name: String,
        /// What is wrong with its source (locations are in the partial's source, after
        /// the indentation of a standalone partial tag).
        error: Box<Error>,
    },
}
