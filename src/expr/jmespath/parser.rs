//! A Pratt parser from tokens to the [`Node`] tree.
//!
//! Each token has a left binding power ([`lbp`]); an expression parsed at binding power
//! `rbp` takes infix operators while they bind tighter than `rbp`. From loosest to tightest:
//! `|` 1, `||` 2, `&&` 3, comparators 5, `+ -` 6, `* × / ÷ // %` 7, flatten `[]` 9, `[?` 21,
//! `.` 40, `[` 55. A projection takes the tokens of binding power 10 and above as its
//! right-hand side, so every operator below 10 ends a projection. Prefix operators: unary
//! minus parses its operand at 8 (tighter than `*`), `!` at 45 (as the JMESPath reference
//! implementations do, so `!a.b` is `(!a).b`), `&` at 0.
//!
//! A token means different things by position: after a complete operand `*` multiplies and
//! `-` subtracts; where an operand is expected `*` is the wildcard projection and `-` negates.
//! A number right after `[` is an index or slice, elsewhere it is a number literal.

use super::ast::{ArithmeticOp, Comparator, Node, Slice};
use super::lexer::{tokenize, Token, TokenKind};
use super::SyntaxError;
use crate::json;
use serde_json::Value;

/// Nesting deeper than this (in the parser or the tree) is refused, which keeps both the
/// parser and the interpreter far from the end of the stack.
const MAX_DEPTH: usize = 128;

/// Tokens of at least this binding power continue a projection.
const PROJECTION_STOP: u8 = 10;

/// Operand binding powers of the prefix operators.
const BP_NOT: u8 = 45;
const BP_NEGATE: u8 = 8;
const BP_STAR: u8 = 20;
const BP_FILTER: u8 = 21;
const BP_FLATTEN: u8 = 9;
const BP_DOT: u8 = 40;

type Result<T> = std::result::Result<T, SyntaxError>;

/// Parses a whole expression.
pub(crate) fn parse(src: &str) -> Result<Node> {
    let tokens = tokenize(src)?;
    let mut parser = Parser {
        src,
        eof: Token {
            kind: TokenKind::Eof,
            start: src.len(),
            end: src.len(),
        },
        tokens,
        pos: 0,
        depth: 0,
    };
    let node = parser.expression(0)?;
    let next = parser.peek();
    if next.kind != TokenKind::Eof {
        return Err(parser.error_at(
            next,
            format!(
                "unexpected {} after a complete expression",
                parser.describe(next)
            ),
        ));
    }
    if node.depth() > MAX_DEPTH {
        return Err(SyntaxError::new(
            src,
            0,
            format!("expression is nested too deeply (more than {MAX_DEPTH} levels)"),
        ));
    }
    Ok(node)
}

/// The left binding power of a token: how tightly it takes the operand before it.
fn lbp(kind: &TokenKind) -> u8 {
    use TokenKind::*;
    match kind {
        Pipe => 1,
        Or => 2,
        And => 3,
        Eq | Ne | Lt | Le | Gt | Ge => 5,
        Plus | Minus => 6,
        Star | Times | Slash | DoubleSlash | Percent => 7,
        Flatten => 9,
        Filter => BP_FILTER,
        Dot => BP_DOT,
        LBracket => 55,
        _ => 0,
    }
}

/// The contents of `[…]` after an expression: an index or a slice.
enum Bracket {
    Index(i64),
    Slice(Slice),
}

struct Parser<'s> {
    src: &'s str,
    tokens: Vec<Token>,
    eof: Token,
    pos: usize,
    depth: usize,
}

impl Parser<'_> {
    fn peek(&self) -> &Token {
        self.peek_at(0)
    }

    fn peek_at(&self, ahead: usize) -> &Token {
        self.tokens.get(self.pos + ahead).unwrap_or(&self.eof)
    }

    fn advance(&mut self) -> Token {
        let token = self.peek().clone();
        if self.pos < self.tokens.len() {
            self.pos += 1;
        }
        token
    }

    /// The token as an error message names it: `'foo'` or `end of expression`.
    fn describe(&self, token: &Token) -> String {
        if token.kind == TokenKind::Eof {
            return "end of expression".to_string();
        }
        let text = self.src.get(token.start..token.end).unwrap_or_default();
        if text.chars().count() > 30 {
            let short: String = text.chars().take(27).collect();
            format!("'{short}...'")
        } else {
            format!("'{text}'")
        }
    }

    fn error_at(&self, token: &Token, message: impl Into<String>) -> SyntaxError {
        SyntaxError::new(self.src, token.start, message)
    }

    /// An error at the next token: `expected {what}, found {next}`.
    fn expected(&self, what: &str) -> SyntaxError {
        let next = self.peek();
        self.error_at(
            next,
            format!("expected {what}, found {}", self.describe(next)),
        )
    }

    /// Consumes the next token if it is `kind`, else fails with `expected {what}`.
    fn expect(&mut self, kind: TokenKind, what: &str) -> Result<()> {
        if self.peek().kind == kind {
            self.advance();
            Ok(())
        } else {
            Err(self.expected(what))
        }
    }

    fn expression(&mut self, rbp: u8) -> Result<Node> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error_at(
                self.peek(),
                format!("expression is nested too deeply (more than {MAX_DEPTH} levels)"),
            ));
        }
        let token = self.advance();
        let mut left = self.nud(token)?;
        while rbp < lbp(&self.peek().kind) {
            let token = self.advance();
            left = self.led(token, left)?;
        }
        self.depth -= 1;
        Ok(left)
    }

    /// A token where an operand is expected. (Each case with sub-expressions has a method
    /// of its own, which keeps the frame of this recursive function small.)
    fn nud(&mut self, token: Token) -> Result<Node> {
        use TokenKind::*;
        match token.kind {
            Identifier(name) => self.identifier(name),
            QuotedIdentifier(ref name) => {
                if self.peek().kind == LParen {
                    return Err(self.error_at(&token, "a function name cannot be quoted"));
                }
                Ok(Node::Field(name.clone()))
            }
            Number(n) => Ok(Node::Literal(json::number(n))),
            Literal(value) => Ok(Node::Literal(value)),
            RawString(text) => Ok(Node::Literal(Value::String(text))),
            At => Ok(Node::Current),
            Dollar => Ok(Node::Root),
            Star => self.wildcard(),
            Filter => self.filter(Node::Current),
            Flatten => self.flatten(Node::Current),
            LBrace => self.multi_hash(),
            LBracket => self.bracket_operand(),
            Ampersand => Ok(Node::ExpRef(Box::new(self.expression(0)?))),
            Not => Ok(Node::Not(Box::new(self.expression(BP_NOT)?))),
            Minus => self.negation(),
            LParen => self.parenthesized(),
            _ => Err(self.error_at(
                &token,
                format!("expected an expression, found {}", self.describe(&token)),
            )),
        }
    }

    /// A field, or the function call `name(…)`.
    fn identifier(&mut self, name: String) -> Result<Node> {
        if self.peek().kind == TokenKind::LParen {
            self.advance();
            self.function(name)
        } else {
            Ok(Node::Field(name))
        }
    }

    /// `*…` where an operand is expected: the values of the current object.
    fn wildcard(&mut self) -> Result<Node> {
        let rhs = self.projection_rhs(BP_STAR)?;
        Ok(Node::ValueProjection(
            Box::new(Node::Current),
            Box::new(rhs),
        ))
    }

    /// `-operand`; a negated number literal is folded into the literal.
    fn negation(&mut self) -> Result<Node> {
        Ok(match self.expression(BP_NEGATE)? {
            Node::Literal(Value::Number(n)) => Node::Literal(json::number(-json::as_f64(&n))),
            operand => Node::Negate(Box::new(operand)),
        })
    }

    /// `(expression)`
    fn parenthesized(&mut self) -> Result<Node> {
        let inner = self.expression(0)?;
        self.expect(TokenKind::RParen, "')' to close '('")?;
        Ok(inner)
    }

    /// `[` where an operand is expected: an index or slice of the current value, `[*]…`,
    /// or a multiselect list.
    fn bracket_operand(&mut self) -> Result<Node> {
        if self.index_follows() {
            let bracket = self.bracket()?;
            self.apply_bracket(Node::Current, bracket)
        } else if self.peek().kind == TokenKind::Star && self.peek_at(1).kind == TokenKind::RBracket
        {
            self.advance();
            self.advance();
            let rhs = self.projection_rhs(BP_STAR)?;
            Ok(Node::Projection(Box::new(Node::Current), Box::new(rhs)))
        } else {
            self.multi_list()
        }
    }

    /// `left[]…`
    fn flatten(&mut self, left: Node) -> Result<Node> {
        let rhs = self.projection_rhs(BP_FLATTEN)?;
        Ok(Node::Projection(
            Box::new(Node::Flatten(Box::new(left))),
            Box::new(rhs),
        ))
    }

    /// A token after a complete operand `left`.
    fn led(&mut self, token: Token, left: Node) -> Result<Node> {
        use TokenKind::*;
        let left = Box::new(left);
        match token.kind {
            Dot => self.dot(left),
            Pipe => Ok(Node::Pipe(left, Box::new(self.expression(1)?))),
            Or => Ok(Node::Or(left, Box::new(self.expression(2)?))),
            And => Ok(Node::And(left, Box::new(self.expression(3)?))),
            Eq => self.comparison(Comparator::Eq, left),
            Ne => self.comparison(Comparator::Ne, left),
            Lt => self.comparison(Comparator::Lt, left),
            Le => self.comparison(Comparator::Le, left),
            Gt => self.comparison(Comparator::Gt, left),
            Ge => self.comparison(Comparator::Ge, left),
            Plus => self.binary(ArithmeticOp::Add, 6, left),
            Minus => self.binary(ArithmeticOp::Subtract, 6, left),
            Star | Times => self.binary(ArithmeticOp::Multiply, 7, left),
            Slash => self.binary(ArithmeticOp::Divide, 7, left),
            DoubleSlash => self.binary(ArithmeticOp::FloorDivide, 7, left),
            Percent => self.binary(ArithmeticOp::Remainder, 7, left),
            LBracket => self.bracket_after(*left),
            Filter => self.filter(*left),
            Flatten => self.flatten(*left),
            _ => Err(self.error_at(&token, format!("unexpected {}", self.describe(&token)))),
        }
    }

    /// `left.…`: a subexpression, or the value projection `left.*…`.
    fn dot(&mut self, left: Box<Node>) -> Result<Node> {
        if self.peek().kind == TokenKind::Star {
            self.advance();
            Ok(Node::ValueProjection(
                left,
                Box::new(self.projection_rhs(BP_DOT)?),
            ))
        } else {
            Ok(Node::Subexpr(left, Box::new(self.dot_rhs(BP_DOT)?)))
        }
    }

    fn comparison(&mut self, op: Comparator, left: Box<Node>) -> Result<Node> {
        Ok(Node::Compare(op, left, Box::new(self.expression(5)?)))
    }

    fn binary(&mut self, op: ArithmeticOp, bp: u8, left: Box<Node>) -> Result<Node> {
        Ok(Node::Arithmetic(op, left, Box::new(self.expression(bp)?)))
    }

    /// `[` after an operand: an index, a slice or `[*]`.
    fn bracket_after(&mut self, left: Node) -> Result<Node> {
        let next = self.peek();
        if matches!(
            next.kind,
            TokenKind::Number(_) | TokenKind::Minus | TokenKind::Colon
        ) {
            let bracket = self.bracket()?;
            self.apply_bracket(left, bracket)
        } else if next.kind == TokenKind::Star && self.peek_at(1).kind == TokenKind::RBracket {
            self.advance();
            self.advance();
            let rhs = self.projection_rhs(BP_STAR)?;
            Ok(Node::Projection(Box::new(left), Box::new(rhs)))
        } else {
            Err(self.expected("an index, a slice or '*' after '['"))
        }
    }

    /// After `[` where an operand is expected: does an index or slice follow (rather than a
    /// multiselect list)? `[0]`, `[-1]`, `[1:]`, `[:2]`.
    fn index_follows(&self) -> bool {
        use TokenKind::*;
        let ends_index = |t: &Token| matches!(t.kind, RBracket | Colon);
        match self.peek().kind {
            Colon => true,
            Number(_) => ends_index(self.peek_at(1)),
            Minus => matches!(self.peek_at(1).kind, Number(_)) && ends_index(self.peek_at(2)),
            _ => false,
        }
    }

    /// The rest of `[index]` or `[start:stop:step]` after the `[`.
    fn bracket(&mut self) -> Result<Bracket> {
        let mut parts: [Option<i64>; 3] = [None; 3];
        let mut colons = 0;
        loop {
            match self.peek().kind {
                TokenKind::RBracket => {
                    self.advance();
                    break;
                }
                TokenKind::Colon => {
                    if colons == 2 {
                        return Err(self.error_at(self.peek(), "too many ':' in a slice"));
                    }
                    colons += 1;
                    self.advance();
                }
                TokenKind::Number(_) | TokenKind::Minus if parts[colons].is_none() => {
                    parts[colons] = Some(self.integer()?);
                }
                _ if colons == 0 => return Err(self.expected("']' after the index")),
                _ => return Err(self.expected("a number, ':' or ']' in a slice")),
            }
        }
        if colons == 0 {
            match parts[0] {
                Some(index) => Ok(Bracket::Index(index)),
                None => Err(self.expected("an index")),
            }
        } else {
            let [start, stop, step] = parts;
            Ok(Bracket::Slice(Slice { start, stop, step }))
        }
    }

    /// An integer as written in an index or slice: digits, optionally right after `-`.
    fn integer(&mut self) -> Result<i64> {
        let first = self.advance();
        let (negative, number) = if first.kind == TokenKind::Minus {
            let number = self.peek().clone();
            if !matches!(number.kind, TokenKind::Number(_)) || number.start != first.end {
                return Err(self.error_at(&first, "expected a number right after '-'"));
            }
            self.advance();
            (true, number)
        } else {
            (false, first)
        };
        let digits = self.src.get(number.start..number.end).unwrap_or_default();
        if !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(self.error_at(
                &number,
                format!(
                    "an index must be an integer, found {}",
                    self.describe(&number)
                ),
            ));
        }
        let text = if negative {
            format!("-{digits}")
        } else {
            digits.to_string()
        };
        text.parse::<i64>()
            .map_err(|_| self.error_at(&number, format!("index {text} is out of range")))
    }

    /// `left[index]` or the projection `left[slice]…`.
    fn apply_bracket(&mut self, left: Node, bracket: Bracket) -> Result<Node> {
        Ok(match bracket {
            Bracket::Index(index) => match left {
                Node::Current => Node::Index(index),
                left => Node::Subexpr(Box::new(left), Box::new(Node::Index(index))),
            },
            Bracket::Slice(slice) => {
                let sliced = match left {
                    Node::Current => Node::Slice(slice),
                    left => Node::Subexpr(Box::new(left), Box::new(Node::Slice(slice))),
                };
                let rhs = self.projection_rhs(BP_STAR)?;
                Node::Projection(Box::new(sliced), Box::new(rhs))
            }
        })
    }

    /// The rest of `left[?condition]…` after the `[?`.
    fn filter(&mut self, left: Node) -> Result<Node> {
        let condition = self.expression(0)?;
        self.expect(TokenKind::RBracket, "']' to close the filter")?;
        let rhs = self.projection_rhs(BP_FILTER)?;
        Ok(Node::FilterProjection {
            lhs: Box::new(left),
            condition: Box::new(condition),
            rhs: Box::new(rhs),
        })
    }

    /// What a projection applies to each element: everything up to a token of binding
    /// power below [`PROJECTION_STOP`].
    fn projection_rhs(&mut self, rbp: u8) -> Result<Node> {
        let next = self.peek();
        if lbp(&next.kind) < PROJECTION_STOP {
            return Ok(Node::Current);
        }
        match next.kind {
            TokenKind::LBracket | TokenKind::Filter => self.expression(rbp),
            TokenKind::Dot => {
                self.advance();
                self.dot_rhs(rbp)
            }
            _ => Err(self.expected("'.', '[' or '[?' after a projection")),
        }
    }

    /// What may follow a `.`: an identifier, a function call, `*`, `[…]` or `{…}`.
    fn dot_rhs(&mut self, rbp: u8) -> Result<Node> {
        match self.peek().kind {
            TokenKind::Identifier(_) | TokenKind::QuotedIdentifier(_) | TokenKind::Star => {
                self.expression(rbp)
            }
            TokenKind::LBracket => {
                self.advance();
                self.multi_list()
            }
            TokenKind::LBrace => {
                self.advance();
                self.multi_hash()
            }
            _ => Err(self.expected("an identifier, '*', '[' or '{' after '.'")),
        }
    }

    /// The rest of `[a, b, …]` after the `[`.
    fn multi_list(&mut self) -> Result<Node> {
        let mut items = Vec::new();
        loop {
            let first = self.peek().clone();
            let bare_number = match first.kind {
                TokenKind::Number(_) => true,
                TokenKind::Minus => matches!(self.peek_at(1).kind, TokenKind::Number(_)),
                _ => false,
            };
            let item = self.expression(0)?;
            if bare_number && matches!(item, Node::Literal(_)) {
                return Err(self.error_at(
                    &first,
                    "a bare number cannot be a list element, as '[1]' is an index; \
                     write it as a JSON literal: `1`",
                ));
            }
            items.push(item);
            match self.peek().kind {
                TokenKind::Comma => {
                    self.advance();
                }
                TokenKind::RBracket => {
                    self.advance();
                    return Ok(Node::MultiList(items));
                }
                _ => return Err(self.expected("',' or ']'")),
            }
        }
    }

    /// The rest of `{key: value, …}` after the `{`.
    fn multi_hash(&mut self) -> Result<Node> {
        let mut entries = Vec::new();
        loop {
            let key = match &self.peek().kind {
                TokenKind::Identifier(key) | TokenKind::QuotedIdentifier(key) => key.clone(),
                _ => return Err(self.expected("a key (an identifier or a quoted identifier)")),
            };
            self.advance();
            self.expect(TokenKind::Colon, "':' after the key")?;
            let value = self.expression(0)?;
            entries.push((key, value));
            match self.peek().kind {
                TokenKind::Comma => {
                    self.advance();
                }
                TokenKind::RBrace => {
                    self.advance();
                    return Ok(Node::MultiHash(entries));
                }
                _ => return Err(self.expected("',' or '}'")),
            }
        }
    }

    /// The arguments of `name(…)` after the `(`.
    fn function(&mut self, name: String) -> Result<Node> {
        let mut args = Vec::new();
        if self.peek().kind == TokenKind::RParen {
            self.advance();
            return Ok(Node::Function { name, args });
        }
        loop {
            args.push(self.expression(0)?);
            match self.peek().kind {
                TokenKind::Comma => {
                    self.advance();
                }
                TokenKind::RParen => {
                    self.advance();
                    return Ok(Node::Function { name, args });
                }
                _ => return Err(self.expected("',' or ')' in the arguments")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn field(name: &str) -> Box<Node> {
        Box::new(Node::Field(name.into()))
    }

    fn num(n: i64) -> Box<Node> {
        Box::new(Node::Literal(json!(n)))
    }

    fn arith(op: ArithmeticOp, a: Box<Node>, b: Box<Node>) -> Box<Node> {
        Box::new(Node::Arithmetic(op, a, b))
    }

    fn message(src: &str) -> String {
        parse(src).unwrap_err().message().to_string()
    }

    #[test]
    fn arithmetic_precedence_and_associativity() {
        use ArithmeticOp::*;
        assert_eq!(
            parse("a + b * c").unwrap(),
            *arith(Add, field("a"), arith(Multiply, field("b"), field("c")))
        );
        assert_eq!(
            parse("a - b - c").unwrap(),
            *arith(
                Subtract,
                arith(Subtract, field("a"), field("b")),
                field("c")
            )
        );
        assert_eq!(
            parse("a // b % c").unwrap(),
            *arith(
                Remainder,
                arith(FloorDivide, field("a"), field("b")),
                field("c")
            )
        );
        assert_eq!(
            parse("a × b ÷ c").unwrap(),
            *arith(Divide, arith(Multiply, field("a"), field("b")), field("c"))
        );
        assert_eq!(
            parse("(a + b) * c").unwrap(),
            *arith(Multiply, arith(Add, field("a"), field("b")), field("c"))
        );
        assert_eq!(
            parse("a + 1 > b - 2").unwrap(),
            Node::Compare(
                Comparator::Gt,
                arith(Add, field("a"), num(1)),
                arith(Subtract, field("b"), num(2))
            )
        );
        assert_eq!(
            parse("a == b && c || d | e").unwrap(),
            Node::Pipe(
                Box::new(Node::Or(
                    Box::new(Node::And(
                        Box::new(Node::Compare(Comparator::Eq, field("a"), field("b"))),
                        field("c")
                    )),
                    field("d")
                )),
                field("e")
            )
        );
    }

    #[test]
    fn minus_negates_or_subtracts_by_position() {
        use ArithmeticOp::*;
        assert_eq!(parse("-1.5").unwrap(), Node::Literal(json!(-1.5)));
        assert_eq!(parse("a-1").unwrap(), *arith(Subtract, field("a"), num(1)));
        assert_eq!(
            parse("a - -1").unwrap(),
            *arith(Subtract, field("a"), num(-1))
        );
        assert_eq!(
            parse("-a * b").unwrap(),
            *arith(Multiply, Box::new(Node::Negate(field("a"))), field("b"))
        );
        assert_eq!(
            parse("-a.b").unwrap(),
            Node::Negate(Box::new(Node::Subexpr(field("a"), field("b"))))
        );
        assert_eq!(
            parse("a[-1]").unwrap(),
            Node::Subexpr(field("a"), Box::new(Node::Index(-1)))
        );
        assert_eq!(parse("[-2]").unwrap(), Node::Index(-2));
    }

    #[test]
    fn star_is_a_wildcard_or_a_multiplication_by_position() {
        assert_eq!(
            parse("a * b").unwrap(),
            *arith(ArithmeticOp::Multiply, field("a"), field("b"))
        );
        assert_eq!(
            parse("*.a").unwrap(),
            Node::ValueProjection(Box::new(Node::Current), field("a"))
        );
        assert_eq!(
            parse("a[*] * 2").unwrap(),
            *arith(
                ArithmeticOp::Multiply,
                Box::new(Node::Projection(field("a"), Box::new(Node::Current))),
                num(2)
            )
        );
        assert_eq!(
            parse("a.* * 2").unwrap(),
            *arith(
                ArithmeticOp::Multiply,
                Box::new(Node::ValueProjection(field("a"), Box::new(Node::Current))),
                num(2)
            )
        );
    }

    #[test]
    fn projections_end_at_operators() {
        assert_eq!(
            parse("a[*].b + 1").unwrap(),
            *arith(
                ArithmeticOp::Add,
                Box::new(Node::Projection(field("a"), field("b"))),
                num(1)
            )
        );
        assert_eq!(
            parse("a[?b > 1].c").unwrap(),
            Node::FilterProjection {
                lhs: field("a"),
                condition: Box::new(Node::Compare(Comparator::Gt, field("b"), num(1))),
                rhs: field("c"),
            }
        );
    }

    #[test]
    fn bare_numbers_and_indexes() {
        assert_eq!(parse("10").unwrap(), Node::Literal(json!(10)));
        assert_eq!(
            parse("{a: 1}").unwrap(),
            Node::MultiHash(vec![("a".into(), Node::Literal(json!(1)))])
        );
        assert_eq!(
            parse("[a, 1 + 2]").unwrap(),
            Node::MultiList(vec![
                Node::Field("a".into()),
                *arith(ArithmeticOp::Add, num(1), num(2))
            ])
        );
        assert_eq!(
            parse("[1 + 2]").unwrap(),
            Node::MultiList(vec![*arith(ArithmeticOp::Add, num(1), num(2))])
        );
        assert_eq!(
            parse("[::-1]").unwrap(),
            Node::Projection(
                Box::new(Node::Slice(Slice {
                    start: None,
                    stop: None,
                    step: Some(-1)
                })),
                Box::new(Node::Current)
            )
        );
        let list_error = "a bare number cannot be a list element, as '[1]' is an index; \
                          write it as a JSON literal: `1`";
        assert_eq!(message("foo.[abc, 1]"), list_error);
        assert_eq!(message("[a, -1]"), list_error);
        assert_eq!(message("[0, 1]"), list_error);
        assert_eq!(
            message("a[1.5]"),
            "an index must be an integer, found '1.5'"
        );
        assert_eq!(message("a[- 1]"), "expected a number right after '-'");
        assert_eq!(
            message("a[99999999999999999999]"),
            "index 99999999999999999999 is out of range"
        );
    }

    #[test]
    fn syntax_errors() {
        assert_eq!(
            message("foo.1"),
            "expected an identifier, '*', '[' or '{' after '.', found '1'"
        );
        assert_eq!(message("a]"), "unexpected ']' after a complete expression");
        assert_eq!(
            message("a{b: c}"),
            "unexpected '{' after a complete expression"
        );
        assert_eq!(message("\"f\"(a)"), "a function name cannot be quoted");
        assert_eq!(
            message("f(a b)"),
            "expected ',' or ')' in the arguments, found 'b'"
        );
        assert_eq!(message("a[1:2:3:4]"), "too many ':' in a slice");
        assert_eq!(message("a[1 2]"), "expected ']' after the index, found '2'");
        assert_eq!(message("{a b}"), "expected ':' after the key, found 'b'");
        assert_eq!(
            message("{1: b}"),
            "expected a key (an identifier or a quoted identifier), found '1'"
        );
        assert_eq!(
            message("(a"),
            "expected ')' to close '(', found end of expression"
        );
        assert_eq!(
            message("a[?b"),
            "expected ']' to close the filter, found end of expression"
        );
        assert_eq!(
            message("a[b]"),
            "expected an index, a slice or '*' after '[', found 'b'"
        );
        assert_eq!(
            message("`\"a long literal that goes on and on\"` ]"),
            "unexpected ']' after a complete expression"
        );
        assert_eq!(
            message("a | `\"a long literal that goes on and on\"`("),
            "unexpected '(' after a complete expression"
        );
    }

    #[test]
    fn nesting_is_limited() {
        let deep = format!("{}a{}", "(".repeat(200), ")".repeat(200));
        assert!(message(&deep).starts_with("expression is nested too deeply"));
        let long = vec!["a"; 300].join(".");
        assert!(message(&long).starts_with("expression is nested too deeply"));
        let ok = vec!["a"; 100].join(".");
        assert!(parse(&ok).is_ok());
    }
}
