//! The LetsFlow JMESPath dialect.
//!
//! [JMESPath](https://jmespath.org/specification.html) is a query language for JSON. Scenarios
//! use it in `<ref>` data functions, `if` conditions and update instructions. This module
//! implements the full standard language — field access, indexes, slices, list/object/filter
//! projections, flattening, multiselect lists and hashes, pipes, `||` `&&` `!`, comparators,
//! literals (`` `json` `` and `'raw'`), `@`, `&expression` references and every built-in
//! function — plus the extensions of the reference LetsFlow dialect:
//!
//! * `$` is the root document, also inside projections, filters and function arguments:
//!   `items[?id == $.selected]`.
//! * Bare number literals where a value is expected: `[?n == 10]`, `a[?x > -1.5]`, `16 + 26`.
//!   `foo[0]` and slices stay index syntax; an element of a multiselect list cannot be a
//!   bare number (`[a, 1]` is a syntax error, as the compliance suite demands: write
//!   `` [a, `1`] ``).
//! * Arithmetic `+ - * / % //` (and the Unicode forms `×` `÷` `−`) and unary minus. From
//!   tightest to loosest binding: projections and `.`/`[]`, unary minus, `* / % //`, `+ -`,
//!   comparators, `&&`, `||`, `|`. `*` is still the wildcard where an operand is expected
//!   (`foo[*]`, `*.bar`, `foo.*`) and a multiplication after a complete operand. `+` also
//!   joins two strings; any other operand type is an `invalid-type` error. `//` divides and
//!   rounds down; `%` is JavaScript's remainder. A result that is not a finite number
//!   (division by zero) becomes `null`, as JavaScript's `JSON.stringify` writes it.
//! * A multiselect list or hash is built even when the current value is `null` (the
//!   JMESPath specification returns `null` there; the reference dialect builds it), so
//!   `to_object([['a', $.x]])` and `[uuid(), uuid()]` do not depend on `@`.
//! * The extra functions listed below, and functions the application registers with
//!   [`Runtime::register`].
//!
//! In a raw string `'…'` only `\'` is an escape (for `'`); any other backslash is kept, so
//! `'\\'` is two backslashes, as the JMESPath compliance suite says (the reference dialect
//! reads it as one).
//!
//! # Functions
//!
//! Standard functions, with JMESPath's signatures: `abs`, `avg`, `ceil`, `contains`,
//! `ends_with`, `floor`, `join`, `keys`, `length`, `map`, `max`, `max_by`, `merge`, `min`,
//! `min_by`, `not_null`, `reverse`, `sort`, `sort_by`, `starts_with`, `sum`, `to_array`,
//! `to_string`, `to_number`, `type`, `values`.
//!
//! Functions of [jmespath-community](https://jmespath.site) (JEP-13, JEP-14 and
//! `group_by`), with its signatures:
//! * `items(object)` — the `[key, value]` pairs of the object, in its key order.
//! * `from_items(pairs)` — an object from `[key, value]` pairs with string keys (a later
//!   pair replaces the value of an earlier one with the same key); any other element is an
//!   `invalid-value` error, a non-array element an `invalid-type` error.
//! * `zip(array, …)` — `[[a[0], b[0], …], [a[1], b[1], …], …]`, as long as the shortest
//!   array.
//! * `group_by(array, &expr)` — an object of the elements grouped by the string the
//!   expression gives for each (groups in order of first appearance); an element for
//!   which it gives `null` is left out, any other value is an `invalid-type` error. The
//!   elements may be of any type, as in the jmespath-community implementation (its
//!   specification names an array of objects).
//! * `lower(string)`, `upper(string)` — the string in lower or upper case (Unicode's
//!   default case mapping: `upper('straße')` is `'STRASSE'`).
//! * `split(string, separator, count?)` — the parts between the occurrences of the
//!   separator; with a count, only the first `count` occurrences split and the last part is
//!   the rest. An empty separator splits into characters (`split('', '')` is `[]`).
//! * `replace(string, old, new, count?)` — the string with every occurrence of `old` (the
//!   first `count` ones) replaced by `new`. An empty `old` matches before every character
//!   and at the end: `replace('ab', '', '-')` is `'-a-b-'`.
//! * `trim(string, chars?)`, `trim_left(string, chars?)`, `trim_right(string, chars?)` —
//!   the string without the leading and/or trailing characters that are in `chars`; without
//!   `chars`, or with `''`, without Unicode whitespace (the `White_Space` property).
//! * `pad_left(string, width, pad?)`, `pad_right(string, width, pad?)` — the string
//!   widened to `width` characters with `pad` (one character, default a space) before or
//!   after it; a string that is already as wide is returned as is. At most 1,000,000
//!   characters are built.
//! * `find_first(string, sub, start?, end?)`, `find_last(string, sub, start?, end?)` —
//!   the index of the first or last occurrence of `sub` that lies wholly within the slice
//!   `string[start:end]` (a negative bound counts from the end, bounds outside the string
//!   are clamped), or `null` when there is none or either string is empty.
//!
//! String lengths, widths and positions count Unicode code points, as `length()` does.
//! `count`, `width`, `start` and `end` must be integers (`2.0` is one), and `count` and
//! `width` not negative; any other number is an `invalid-value` error, as is a `pad` that
//! is not a single character.
//!
//! LetsFlow extensions:
//! * `if(condition, then, else?)` — `then` when `condition` is truthy, else `else` (or
//!   `null`); only the branch taken is evaluated.
//! * `range(end)`, `range(start, end, prefix?)` — the numbers from `start` (default 0) up to
//!   but not including `end`, each as `prefix` + number when a prefix is given. At most
//!   1,000,000 elements.
//! * `to_object(pairs)` — `[[key, value], …]` to an object (keys are strings or numbers).
//! * `json_serialize(value)` — canonical JSON ([`crate::json::canonical`]: sorted keys).
//! * `json_parse(string)` — the value of a JSON text.
//! * `sha256(string)`, `sha512(string)` — the hash of the UTF-8 bytes in lowercase hex.
//! * `uuid(name?, namespace?)` — with a name, the version 5 UUID of the name in the
//!   namespace (a UUID string; default the nil UUID, as the reference dialect does);
//!   without one, the next UUID of the [`Entropy`] (an error without entropy).
//! * `regex_test(regex, string)` — whether the regex matches.
//! * `regex_match(regex, string)` — `[match, group1, …]` of the first match, or `null`;
//!   with the `g` flag, as JavaScript's `String.match`, the array of all matched texts.
//! * `regex_match_all(regex, string)` — `[[match, group1, …], …]` for every match.
//! * `regex_replace(regex, replacement, string)` — the string with the first match (every
//!   match with the `g` flag) replaced; the replacement understands JavaScript's `$1`,
//!   `$<name>`, `$&`, `` $` ``, `$'` and `$$`.
//!
//! A regex is written `/pattern/flags` (flags `i`, `m`, `s`, `g`, `u`; `d` is accepted and
//! ignored) or as a bare pattern. Patterns use the syntax of the `fancy-regex` crate, which
//! has JavaScript's lookaround and backreferences; groups that did not take part in a match
//! are `null`. Character classes such as `\d` and `\w` are Unicode-aware, as in
//! JavaScript's `u` mode.
//!
//! # Numbers, and `uuid()` without a name
//!
//! Numbers behave as in JavaScript: every computed number goes through
//! [`crate::json::number`], so integral results are integers (`sum([1, 2])` is `3`),
//! numbers compare by value (`1 == 1.0`) and `to_string()` writes them as JavaScript does.
//!
//! `uuid()` without a name takes the next UUID from the [`Entropy`] of the [`Env`], so that
//! every node that replays an event computes the same value; without entropy it fails.
//!
//! ```
//! use letsflow::expr::jmespath::{search, Expression, Env, Runtime};
//! use serde_json::json;
//!
//! let data = json!({"items": [{"id": 1, "n": 10}, {"id": 2, "n": 20}], "selected": 2});
//! assert_eq!(search("items[?id == $.selected].n | [0] * 2", &data).unwrap(), json!(40));
//!
//! let expr = Expression::parse("sum(items[*].n) / length(items)").unwrap();
//! let env = Env::new(Runtime::global());
//! assert_eq!(expr.search(&data, &env).unwrap(), json!(15));
//! ```
#![deny(missing_docs)]

mod ast;
mod eval;
mod functions;
mod lexer;
mod parser;

use serde_json::Value;
use std::fmt;

pub use functions::{CustomFunction, Entropy, Runtime};

/// The result type of this module.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why an expression could not be parsed or evaluated. The variants are the error kinds of
/// the JMESPath specification, plus the failures of the LetsFlow extensions.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// The expression is not valid in this dialect: `foo[`, `foo.1`, `a{b: c}`.
    #[error(transparent)]
    Syntax(#[from] SyntaxError),
    /// An operand or function argument has the wrong type: `abs('x')`, `'a' - 1`,
    /// `sort_by(people, name)` (a value where an `&expression` is expected).
    #[error("invalid type: {0}")]
    InvalidType(String),
    /// A function received too few or too many arguments: `abs(1, 2)`, `not_null()`.
    #[error("invalid arity: {function}() takes {expected}, received {received}")]
    InvalidArity {
        /// The function's name.
        function: String,
        /// The number of arguments it takes, in words: `1 argument`, `1 to 3 arguments`.
        expected: String,
        /// The number of arguments it received.
        received: usize,
    },
    /// No function of that name is known to the [`Runtime`]: `nope(@)`.
    #[error("unknown function: {0}()")]
    UnknownFunction(String),
    /// A value is of the right type but unusable: `foo[::0]` (slice step 0),
    /// `json_parse('{')`, `regex_test('/(/', 'x')`, `uuid('x', 'not-a-uuid')`,
    /// `` split('a', ',', `-1`) ``.
    #[error("invalid value: {0}")]
    InvalidValue(String),
    /// `uuid()` without a name was evaluated with an [`Env`] that has no [`Entropy`].
    #[error("uuid() without a name needs an entropy source")]
    MissingEntropy,
    /// A function registered with [`Runtime::register`] returned an error.
    #[error("{function}() failed: {message}")]
    Function {
        /// The function's name.
        function: String,
        /// The message the function returned.
        message: String,
    },
}

impl Error {
    /// The JMESPath error kind: `syntax`, `invalid-type`, `invalid-arity`,
    /// `unknown-function` or `invalid-value` (the names the compliance suite uses);
    /// `missing-entropy` and `function` for the failures of the extensions.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Syntax(_) => "syntax",
            Error::InvalidType(_) => "invalid-type",
            Error::InvalidArity { .. } => "invalid-arity",
            Error::UnknownFunction(_) => "unknown-function",
            Error::InvalidValue(_) => "invalid-value",
            Error::MissingEntropy => "missing-entropy",
            Error::Function { .. } => "function",
        }
    }
}

/// A syntax error with its position. It displays the offending line of the expression with
/// a caret under the fault:
///
/// ```text
/// syntax error at line 1, column 5: expected an identifier, '*', '[' or '{' after '.', found '1'
///   foo.1
///       ^
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    message: String,
    offset: usize,
    line: usize,
    column: usize,
    line_text: String,
    caret_pad: String,
}

impl SyntaxError {
    /// A syntax error at byte `offset` of `source`.
    pub(crate) fn new(source: &str, offset: usize, message: impl Into<String>) -> Self {
        let mut offset = offset.min(source.len());
        while !source.is_char_boundary(offset) {
            offset -= 1;
        }
        let line_start = source[..offset].rfind('\n').map_or(0, |i| i + 1);
        let line_end = source[offset..]
            .find('\n')
            .map_or(source.len(), |i| offset + i);
        let before = &source[line_start..offset];
        let caret_pad = before
            .chars()
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        SyntaxError {
            message: message.into(),
            offset,
            line: source[..line_start].matches('\n').count() + 1,
            column: before.chars().count() + 1,
            line_text: source[line_start..line_end]
                .trim_end_matches('\r')
                .to_string(),
            caret_pad,
        }
    }

    /// What is wrong, without the position.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The byte offset of the fault in the expression.
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// The line of the fault, counted from 1.
    pub fn line(&self) -> usize {
        self.line
    }

    /// The column of the fault in characters, counted from 1.
    pub fn column(&self) -> usize {
        self.column
    }
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "syntax error at line {}, column {}: {}\n  {}\n  {}^",
            self.line, self.column, self.message, self.line_text, self.caret_pad
        )
    }
}

impl std::error::Error for SyntaxError {}

/// A parsed expression, ready to be evaluated any number of times.
#[derive(Debug, Clone)]
pub struct Expression {
    source: String,
    ast: ast::Node,
}

impl Expression {
    /// Parses an expression of the dialect.
    pub fn parse(src: &str) -> Result<Expression> {
        let ast = parser::parse(src)?;
        Ok(Expression {
            source: src.to_string(),
            ast,
        })
    }

    /// The text the expression was parsed from.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Evaluates the expression against `data` (which is also the root `$`), with the
    /// functions of `env.runtime` and the entropy of `env` for `uuid()`.
    pub fn search(&self, data: &Value, env: &Env<'_>) -> Result<Value> {
        eval::evaluate(&self.ast, data, env)
    }
}

impl fmt::Display for Expression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

/// What an evaluation may use besides the data: the function table and, optionally, the
/// deterministic entropy that `uuid()` without a name draws from.
#[derive(Debug, Clone, Copy)]
pub struct Env<'a> {
    /// The functions expressions can call.
    pub runtime: &'a Runtime,
    /// The source of `uuid()` values; `None` makes `uuid()` without a name an error.
    pub entropy: Option<&'a Entropy>,
}

impl<'a> Env<'a> {
    /// An environment with the functions of `runtime` and no entropy.
    pub fn new(runtime: &'a Runtime) -> Self {
        Env {
            runtime,
            entropy: None,
        }
    }

    /// The same environment with `entropy` as the source of `uuid()` values.
    pub fn with_entropy(self, entropy: &'a Entropy) -> Self {
        Env {
            entropy: Some(entropy),
            ..self
        }
    }
}

/// Parses `expr` and evaluates it against `data` with the functions of
/// [`Runtime::global`] and no entropy.
pub fn search(expr: &str, data: &Value) -> Result<Value> {
    Expression::parse(expr)?.search(data, &Env::new(Runtime::global()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn syntax(expr: &str) -> SyntaxError {
        match Expression::parse(expr) {
            Err(Error::Syntax(e)) => e,
            other => panic!("{expr}: expected a syntax error, got {other:?}"),
        }
    }

    #[test]
    fn syntax_errors_show_the_expression_with_a_caret() {
        let e = syntax("foo.1");
        assert_eq!((e.offset(), e.line(), e.column()), (4, 1, 5));
        assert_eq!(
            e.to_string(),
            "syntax error at line 1, column 5: expected an identifier, '*', '[' or '{' \
             after '.', found '1'\n  foo.1\n      ^"
        );
        assert_eq!(
            Error::from(e.clone()).to_string(),
            e.to_string(),
            "the Error shows the same text"
        );

        let e = syntax("a[");
        assert_eq!(
            e.to_string(),
            "syntax error at line 1, column 3: expected an index, a slice or '*' after '[', \
             found end of expression\n  a[\n    ^"
        );
    }

    #[test]
    fn syntax_errors_point_into_the_right_line() {
        let e = syntax("foo |\n\tbar ==");
        assert_eq!((e.offset(), e.line(), e.column()), (13, 2, 8));
        assert_eq!(
            e.to_string(),
            "syntax error at line 2, column 8: expected an expression, found end of \
             expression\n  \tbar ==\n  \t      ^"
        );
        let e = syntax("'unterminated");
        assert_eq!(
            e.to_string(),
            "syntax error at line 1, column 1: unterminated raw string\n  'unterminated\n  ^"
        );
        let e = syntax("\"é\" = 1");
        assert_eq!((e.offset(), e.column()), (5, 5));
    }

    #[test]
    fn error_kinds() {
        let kind = |expr: &str| search(expr, &json!({"a": "x"})).unwrap_err().kind();
        assert_eq!(kind("a["), "syntax");
        assert_eq!(kind("abs(a)"), "invalid-type");
        assert_eq!(kind("abs(`1`, `2`)"), "invalid-arity");
        assert_eq!(kind("nope()"), "unknown-function");
        assert_eq!(kind("[1, 2][::0]"), "syntax");
        assert_eq!(kind("a[::0]"), "invalid-value");
        assert_eq!(kind("uuid()"), "missing-entropy");
        assert_eq!(
            search("uuid()", &json!(null)).unwrap_err().to_string(),
            "uuid() without a name needs an entropy source"
        );
    }

    #[test]
    fn expression_keeps_its_source_and_is_shareable() {
        fn shareable<T: Send + Sync + Clone + fmt::Debug>(_: &T) {}
        let expr = Expression::parse("a.b").unwrap();
        shareable(&expr);
        assert_eq!(expr.source(), "a.b");
        assert_eq!(expr.to_string(), "a.b");
        let env = Env::new(Runtime::global());
        assert_eq!(
            expr.search(&json!({"a": {"b": 1}}), &env).unwrap(),
            json!(1)
        );
    }
}
