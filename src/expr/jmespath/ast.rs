//! The abstract syntax tree the parser builds and the interpreter walks.

use serde_json::Value;

/// A node of a parsed expression. Each node is evaluated against a current value (`@`);
/// `$` is the document the search started on.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node {
    /// `@`, and the implicit right-hand side of a projection.
    Current,
    /// `$`
    Root,
    /// `` `json` ``, `'raw'`, or a bare number.
    Literal(Value),
    /// `foo`, `"foo bar"`: a field of an object, else `null`.
    Field(String),
    /// `[2]`, `[-1]`: an element of an array, else `null`.
    Index(i64),
    /// `[start:stop:step]` of an array (a projection's left-hand side).
    Slice(Slice),
    /// `lhs.rhs`, `lhs[0]`: `rhs` evaluated against the result of `lhs`; `null` stays `null`.
    Subexpr(Box<Node>, Box<Node>),
    /// `lhs | rhs`: like a subexpression, but it ends projections.
    Pipe(Box<Node>, Box<Node>),
    /// `lhs[*]rhs`, `lhs[]rhs`, `lhs[1:]rhs`: `rhs` over the elements of the array `lhs`,
    /// dropping `null` results.
    Projection(Box<Node>, Box<Node>),
    /// `lhs.*rhs`: `rhs` over the values of the object `lhs`, dropping `null` results.
    ValueProjection(Box<Node>, Box<Node>),
    /// `lhs[?condition]rhs`: `rhs` over the elements of `lhs` for which `condition` is truthy.
    FilterProjection {
        /// The array to filter.
        lhs: Box<Node>,
        /// Evaluated against each element.
        condition: Box<Node>,
        /// Evaluated against each element that passes.
        rhs: Box<Node>,
    },
    /// `lhs[]`: the array `lhs` with nested arrays flattened one level.
    Flatten(Box<Node>),
    /// `[a, b]`
    MultiList(Vec<Node>),
    /// `{a: x, b: y}`
    MultiHash(Vec<(String, Node)>),
    /// `a || b`
    Or(Box<Node>, Box<Node>),
    /// `a && b`
    And(Box<Node>, Box<Node>),
    /// `!a`
    Not(Box<Node>),
    /// `a == b`, `a < b`, …
    Compare(Comparator, Box<Node>, Box<Node>),
    /// `a + b`, `a // b`, …
    Arithmetic(ArithmeticOp, Box<Node>, Box<Node>),
    /// `-a`
    Negate(Box<Node>),
    /// `name(args…)`
    Function {
        /// The function's name, looked up in the runtime when called.
        name: String,
        /// The argument expressions.
        args: Vec<Node>,
    },
    /// `&expr`: an expression passed unevaluated to a function.
    ExpRef(Box<Node>),
}

impl Node {
    /// The nodes directly below this one.
    pub(crate) fn children(&self) -> Vec<&Node> {
        match self {
            Node::Current
            | Node::Root
            | Node::Literal(_)
            | Node::Field(_)
            | Node::Index(_)
            | Node::Slice(_) => Vec::new(),
            Node::Flatten(a) | Node::Not(a) | Node::Negate(a) | Node::ExpRef(a) => vec![a],
            Node::Subexpr(a, b)
            | Node::Pipe(a, b)
            | Node::Projection(a, b)
            | Node::ValueProjection(a, b)
            | Node::Or(a, b)
            | Node::And(a, b)
            | Node::Compare(_, a, b)
            | Node::Arithmetic(_, a, b) => vec![a, b],
            Node::FilterProjection {
                lhs,
                condition,
                rhs,
            } => vec![lhs, condition, rhs],
            Node::MultiList(items) => items.iter().collect(),
            Node::MultiHash(entries) => entries.iter().map(|(_, v)| v).collect(),
            Node::Function { args, .. } => args.iter().collect(),
        }
    }

    /// The number of levels of the tree, counted without recursion.
    pub(crate) fn depth(&self) -> usize {
        let mut deepest = 0;
        let mut stack = vec![(self, 1)];
        while let Some((node, depth)) = stack.pop() {
            deepest = deepest.max(depth);
            stack.extend(node.children().into_iter().map(|child| (child, depth + 1)));
        }
        deepest
    }
}

/// The bounds of a slice; `None` takes the default for the step's direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Slice {
    pub(crate) start: Option<i64>,
    pub(crate) stop: Option<i64>,
    pub(crate) step: Option<i64>,
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Comparator {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// An arithmetic operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ArithmeticOp {
    /// `+`: numbers add, strings join.
    Add,
    /// `-`
    Subtract,
    /// `*` or `×`
    Multiply,
    /// `/` or `÷`
    Divide,
    /// `%`: the remainder with the sign of the dividend, as in JavaScript.
    Remainder,
    /// `//`: division rounded down.
    FloorDivide,
}

impl ArithmeticOp {
    /// The operator as written.
    pub(crate) fn symbol(self) -> &'static str {
        match self {
            ArithmeticOp::Add => "+",
            ArithmeticOp::Subtract => "-",
            ArithmeticOp::Multiply => "*",
            ArithmeticOp::Divide => "/",
            ArithmeticOp::Remainder => "%",
            ArithmeticOp::FloorDivide => "//",
        }
    }
}
