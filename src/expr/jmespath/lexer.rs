//! The lexer: splits an expression into tokens that remember their byte offsets.

use super::functions::js_value;
use super::SyntaxError;
use serde_json::Value;

/// What a token is.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum TokenKind {
    /// `foo`, `_a1`.
    Identifier(String),
    /// `"foo bar"` (JSON string escapes resolved).
    QuotedIdentifier(String),
    /// A bare number: `10`, `1.5`, `2e3` (no sign; `-` is its own token).
    Number(f64),
    /// A JSON literal between backticks: `` `{"a": 1}` ``.
    Literal(Value),
    /// A raw string literal: `'text'`.
    RawString(String),
    Dot,
    Star,
    Comma,
    Colon,
    At,
    Dollar,
    LBracket,
    RBracket,
    /// `[?`
    Filter,
    /// `[]`
    Flatten,
    LBrace,
    RBrace,
    LParen,
    RParen,
    /// `&` (expression reference)
    Ampersand,
    And,
    Or,
    Pipe,
    Not,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Plus,
    /// `-` or `−`
    Minus,
    /// `×` (multiplication only; `*` is [`TokenKind::Star`])
    Times,
    /// `/` or `÷`
    Slash,
    /// `//`
    DoubleSlash,
    Percent,
    Eof,
}

/// A token and the byte range of its text.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    pub(crate) kind: TokenKind,
    pub(crate) start: usize,
    pub(crate) end: usize,
}

/// Splits `src` into tokens, ending with [`TokenKind::Eof`].
pub(crate) fn tokenize(src: &str) -> Result<Vec<Token>, SyntaxError> {
    let mut lexer = Lexer {
        src,
        pos: 0,
        tokens: Vec::new(),
    };
    lexer.run()?;
    Ok(lexer.tokens)
}

struct Lexer<'s> {
    src: &'s str,
    pos: usize,
    tokens: Vec<Token>,
}

impl Lexer<'_> {
    fn run(&mut self) -> Result<(), SyntaxError> {
        while let Some(c) = self.peek() {
            let start = self.pos;
            let kind = match c {
                ' ' | '\t' | '\n' | '\r' => {
                    self.pos += 1;
                    continue;
                }
                'a'..='z' | 'A'..='Z' | '_' => {
                    let text = self.take_while(|c| c.is_ascii_alphanumeric() || c == '_');
                    TokenKind::Identifier(text.to_string())
                }
                '0'..='9' => self.number()?,
                '"' => self.quoted_identifier()?,
                '\'' => self.raw_string()?,
                '`' => self.literal()?,
                '[' => {
                    self.pos += 1;
                    match self.peek() {
                        Some('?') => self.single(TokenKind::Filter),
                        Some(']') => self.single(TokenKind::Flatten),
                        _ => TokenKind::LBracket,
                    }
                }
                '&' => self.one_or_two('&', TokenKind::Ampersand, TokenKind::And),
                '|' => self.one_or_two('|', TokenKind::Pipe, TokenKind::Or),
                '!' => self.one_or_two('=', TokenKind::Not, TokenKind::Ne),
                '<' => self.one_or_two('=', TokenKind::Lt, TokenKind::Le),
                '>' => self.one_or_two('=', TokenKind::Gt, TokenKind::Ge),
                '/' => self.one_or_two('/', TokenKind::Slash, TokenKind::DoubleSlash),
                '=' => {
                    self.pos += 1;
                    if self.peek() != Some('=') {
                        return Err(self.error(start, "unexpected '=', did you mean '=='?"));
                    }
                    self.single(TokenKind::Eq)
                }
                _ => {
                    let kind = match c {
                        '.' => TokenKind::Dot,
                        '*' => TokenKind::Star,
                        ',' => TokenKind::Comma,
                        ':' => TokenKind::Colon,
                        '@' => TokenKind::At,
                        '$' => TokenKind::Dollar,
                        ']' => TokenKind::RBracket,
                        '{' => TokenKind::LBrace,
                        '}' => TokenKind::RBrace,
                        '(' => TokenKind::LParen,
                        ')' => TokenKind::RParen,
                        '+' => TokenKind::Plus,
                        '-' | '\u{2212}' => TokenKind::Minus,
                        '%' => TokenKind::Percent,
                        '\u{d7}' => TokenKind::Times,
                        '\u{f7}' => TokenKind::Slash,
                        other => {
                            return Err(
                                self.error(start, format!("unexpected character '{other}'"))
                            );
                        }
                    };
                    self.pos += c.len_utf8();
                    kind
                }
            };
            self.tokens.push(Token {
                kind,
                start,
                end: self.pos,
            });
        }
        self.tokens.push(Token {
            kind: TokenKind::Eof,
            start: self.src.len(),
            end: self.src.len(),
        });
        Ok(())
    }

    fn peek(&self) -> Option<char> {
        self.src[self.pos..].chars().next()
    }

    fn peek_at(&self, ahead: usize) -> Option<char> {
        self.src[self.pos..].chars().nth(ahead)
    }

    fn error(&self, offset: usize, message: impl Into<String>) -> SyntaxError {
        SyntaxError::new(self.src, offset, message)
    }

    /// Consumes one more character and yields `kind`.
    fn single(&mut self, kind: TokenKind) -> TokenKind {
        self.pos += 1;
        kind
    }

    /// `one` for a single character, `two` when it is followed by `next`.
    fn one_or_two(&mut self, next: char, one: TokenKind, two: TokenKind) -> TokenKind {
        self.pos += 1;
        if self.peek() == Some(next) {
            self.pos += 1;
            two
        } else {
            one
        }
    }

    fn take_while(&mut self, keep: impl Fn(char) -> bool) -> &str {
        let start = self.pos;
        while let Some(c) = self.peek().filter(|&c| keep(c)) {
            self.pos += c.len_utf8();
        }
        &self.src[start..self.pos]
    }

    /// `digits ('.' digits)? ([eE] [+-]? digits)?`
    fn number(&mut self) -> Result<TokenKind, SyntaxError> {
        let start = self.pos;
        self.take_while(|c| c.is_ascii_digit());
        if self.peek() == Some('.') && self.peek_at(1).is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
            self.take_while(|c| c.is_ascii_digit());
        }
        if matches!(self.peek(), Some('e' | 'E')) {
            let digits_at = match self.peek_at(1) {
                Some('+' | '-') => 2,
                _ => 1,
            };
            if self.peek_at(digits_at).is_some_and(|c| c.is_ascii_digit()) {
                self.pos += digits_at;
                self.take_while(|c| c.is_ascii_digit());
            }
        }
        let text = &self.src[start..self.pos];
        match text.parse::<f64>() {
            Ok(n) if n.is_finite() => Ok(TokenKind::Number(n)),
            _ => Err(self.error(start, format!("number '{text}' is out of range"))),
        }
    }

    /// Scans from the opening `quote` to the closing one, skipping `\x` pairs; returns the
    /// text between the quotes. The position ends after the closing quote.
    fn delimited(&mut self, quote: char, what: &str) -> Result<&str, SyntaxError> {
        let start = self.pos;
        self.pos += 1;
        let content_start = self.pos;
        loop {
            match self.peek() {
                None => return Err(self.error(start, format!("unterminated {what}"))),
                Some('\\') => {
                    self.pos += 1;
                    if let Some(c) = self.peek() {
                        self.pos += c.len_utf8();
                    }
                }
                Some(c) if c == quote => break,
                Some(c) => self.pos += c.len_utf8(),
            }
        }
        let content = &self.src[content_start..self.pos];
        self.pos += 1;
        Ok(content)
    }

    /// `"…"`: the text is a JSON string.
    fn quoted_identifier(&mut self) -> Result<TokenKind, SyntaxError> {
        let start = self.pos;
        self.delimited('"', "quoted identifier")?;
        let text = &self.src[start..self.pos];
        serde_json::from_str::<String>(text)
            .map(TokenKind::QuotedIdentifier)
            .map_err(|e| self.error(start, format!("invalid quoted identifier: {e}")))
    }

    /// `'…'`: only `\'` is an escape (for `'`); every other backslash is kept.
    fn raw_string(&mut self) -> Result<TokenKind, SyntaxError> {
        let content = self.delimited('\'', "raw string")?;
        Ok(TokenKind::RawString(content.replace("\\'", "'")))
    }

    /// `` `…` ``: JSON text (surrounding whitespace allowed) where `` \` `` is a backtick.
    fn literal(&mut self) -> Result<TokenKind, SyntaxError> {
        let start = self.pos;
        let content = self.delimited('`', "JSON literal")?;
        let mut json = String::with_capacity(content.len());
        let mut chars = content.chars();
        while let Some(c) = chars.next() {
            if c == '\\' {
                match chars.next() {
                    Some('`') => json.push('`'),
                    Some(other) => {
                        json.push('\\');
                        json.push(other);
                    }
                    None => json.push('\\'),
                }
            } else {
                json.push(c);
            }
        }
        match serde_json::from_str::<Value>(json.trim()) {
            Ok(value) => Ok(TokenKind::Literal(js_value(value))),
            Err(e) => Err(self.error(start, format!("invalid JSON literal: {e}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::TokenKind::*;
    use super::*;
    use serde_json::json;

    fn kinds(src: &str) -> Vec<TokenKind> {
        tokenize(src)
            .unwrap()
            .into_iter()
            .map(|t| t.kind)
            .filter(|k| *k != Eof)
            .collect()
    }

    fn error(src: &str) -> String {
        tokenize(src).unwrap_err().message().to_string()
    }

    #[test]
    fn operators_and_brackets() {
        assert_eq!(
            kinds("a[?b]||c&&!d|e[][*].f"),
            vec![
                Identifier("a".into()),
                Filter,
                Identifier("b".into()),
                RBracket,
                Or,
                Identifier("c".into()),
                And,
                Not,
                Identifier("d".into()),
                Pipe,
                Identifier("e".into()),
                Flatten,
                LBracket,
                Star,
                RBracket,
                Dot,
                Identifier("f".into()),
            ]
        );
        assert_eq!(
            kinds("== != < <= > >= & $ @"),
            vec![Eq, Ne, Lt, Le, Gt, Ge, Ampersand, Dollar, At]
        );
        assert_eq!(
            kinds("+ - − * × / ÷ // %"),
            vec![
                Plus,
                Minus,
                Minus,
                Star,
                Times,
                Slash,
                Slash,
                DoubleSlash,
                Percent
            ]
        );
    }

    #[test]
    fn numbers_keep_their_offsets() {
        let tokens = tokenize("a[-12] 1.5e3 2.x").unwrap();
        let spans: Vec<_> = tokens.iter().map(|t| (t.start, t.end)).collect();
        assert_eq!(
            spans,
            vec![
                (0, 1),
                (1, 2),
                (2, 3),
                (3, 5),
                (5, 6),
                (7, 12),
                (13, 14),
                (14, 15),
                (15, 16),
                (16, 16)
            ]
        );
        assert_eq!(tokens[3].kind, Number(12.0));
        assert_eq!(tokens[5].kind, Number(1500.0));
        assert_eq!(tokens[6].kind, Number(2.0));
        assert_eq!(kinds("1e"), vec![Number(1.0), Identifier("e".into())]);
    }

    #[test]
    fn strings_and_literals() {
        assert_eq!(kinds(r#""a\"b""#), vec![QuotedIdentifier("a\"b".into())]);
        assert_eq!(kinds(r"'a\'b'"), vec![RawString("a'b".into())]);
        assert_eq!(kinds(r"'\\'"), vec![RawString(r"\\".into())]);
        assert_eq!(kinds(r"'\z'"), vec![RawString(r"\z".into())]);
        assert_eq!(
            kinds("` {\"a\": [1.0]} `"),
            vec![Literal(json!({"a": [1]}))]
        );
        assert_eq!(kinds(r#"`"a\`b"`"#), vec![Literal(json!("a`b"))]);
        assert_eq!(kinds(r#"`"\\"`"#), vec![Literal(json!("\\"))]);
    }

    #[test]
    fn lexical_errors() {
        assert_eq!(error("a = b"), "unexpected '=', did you mean '=='?");
        assert_eq!(error("a # b"), "unexpected character '#'");
        assert_eq!(error("\"abc"), "unterminated quoted identifier");
        assert_eq!(error("`abc"), "unterminated JSON literal");
        assert!(error("`abc`").starts_with("invalid JSON literal"));
        assert!(error(r#""\u""#).starts_with("invalid quoted identifier"));
        assert_eq!(error("1e999"), "number '1e999' is out of range");
        assert_eq!(tokenize("a # b").unwrap_err().offset(), 2);
    }
}
