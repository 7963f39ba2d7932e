//! The interpreter: evaluates a [`Node`] tree against a `serde_json::Value`.
//!
//! Results are `Cow`s: selecting part of the input borrows it, and only values the
//! expression builds (projections, literals taken apart, function results) are owned, so a
//! path like `a.b.c` into a large document copies nothing until the final result.

use super::ast::{ArithmeticOp, Comparator, Node, Slice};
use super::functions::{Arg, Body, Function};
use super::{Env, Error, Result};
use crate::json;
use serde_json::{Map, Value};
use std::borrow::Cow;

static NULL: Value = Value::Null;

/// Evaluates `node` with `data` as both the current value and the root `$`.
pub(crate) fn evaluate(node: &Node, data: &Value, env: &Env<'_>) -> Result<Value> {
    let interpreter = Interpreter { root: data, env };
    Ok(interpreter.eval(node, data)?.into_owned())
}

/// JMESPath truthiness: `null`, `false`, `""`, `[]` and `{}` are false; everything else,
/// including `0`, is true.
pub(crate) fn is_truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(_) => true,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

/// The JMESPath name of a value's type, with an article, for error messages.
pub(crate) fn type_phrase(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Walks the tree; holds what stays the same for a whole search.
pub(crate) struct Interpreter<'e> {
    root: &'e Value,
    pub(crate) env: &'e Env<'e>,
}

impl<'e> Interpreter<'e> {
    /// Evaluates `node` with `value` as the current value `@`.
    ///
    /// Each kind of node is evaluated by a method of its own: the interpreter recurses once
    /// per level of the tree, and a small dispatching frame per level keeps the deepest
    /// accepted expressions well within a 2 MiB thread stack, even in debug builds.
    pub(crate) fn eval<'v>(&self, node: &'v Node, value: &'v Value) -> Result<Cow<'v, Value>>
    where
        'e: 'v,
    {
        match node {
            Node::Current => Ok(Cow::Borrowed(value)),
            Node::Root => Ok(Cow::Borrowed(self.root)),
            Node::Literal(literal) => Ok(Cow::Borrowed(literal)),
            Node::Field(name) => Ok(field(value, name)),
            Node::Index(index) => Ok(element(value, *index)),
            Node::Slice(slice) => slice_of(slice, value),
            Node::Subexpr(lhs, rhs) => self.subexpr(lhs, rhs, value),
            Node::Pipe(lhs, rhs) => self.pipe(lhs, rhs, value),
            Node::Projection(lhs, rhs) => self.list_projection(lhs, rhs, value),
            Node::ValueProjection(lhs, rhs) => self.value_projection(lhs, rhs, value),
            Node::FilterProjection {
                lhs,
                condition,
                rhs,
            } => self.filter_projection(lhs, condition, rhs, value),
            Node::Flatten(inner) => self.flatten(inner, value),
            Node::MultiList(items) => self.multi_list(items, value),
            Node::MultiHash(entries) => self.multi_hash(entries, value),
            Node::Or(lhs, rhs) => self.or(lhs, rhs, value),
            Node::And(lhs, rhs) => self.and(lhs, rhs, value),
            Node::Not(inner) => self.not(inner, value),
            Node::Compare(op, lhs, rhs) => self.compare(*op, lhs, rhs, value),
            Node::Arithmetic(op, lhs, rhs) => self.arithmetic(*op, lhs, rhs, value),
            Node::Negate(inner) => self.negate(inner, value),
            Node::Function { name, args } => self.call(name, args, value),
            Node::ExpRef(_) => Err(Error::InvalidType(
                "an expression reference (&…) can only be a function argument".to_string(),
            )),
        }
    }

    fn subexpr<'v>(&self, lhs: &'v Node, rhs: &'v Node, value: &'v Value) -> Result<Cow<'v, Value>>
    where
        'e: 'v,
    {
        let left = self.eval(lhs, value)?;
        if left.is_null() {
            Ok(Cow::Borrowed(&NULL))
        } else {
            self.eval_on(rhs, left)
        }
    }

    fn pipe<'v>(&self, lhs: &'v Node, rhs: &'v Node, value: &'v Value) -> Result<Cow<'v, Value>>
    where
        'e: 'v,
    {
        let left = self.eval(lhs, value)?;
        self.eval_on(rhs, left)
    }

    fn list_projection<'v>(
        &self,
        lhs: &'v Node,
        rhs: &'v Node,
        value: &'v Value,
    ) -> Result<Cow<'v, Value>>
    where
        'e: 'v,
    {
        let base = self.eval(lhs, value)?;
        match base.as_ref() {
            Value::Array(items) => Ok(Cow::Owned(self.project(rhs, items.iter())?)),
            _ => Ok(Cow::Borrowed(&NULL)),
        }
    }

    fn value_projection<'v>(
        &self,
        lhs: &'v Node,
        rhs: &'v Node,
        value: &'v Value,
    ) -> Result<Cow<'v, Value>>
    where
        'e: 'v,
    {
        let base = self.eval(lhs, value)?;
        match base.as_ref() {
            Value::Object(map) => Ok(Cow::Owned(self.project(rhs, map.values())?)),
            _ => Ok(Cow::Borrowed(&NULL)),
        }
    }

    fn filter_projection<'v>(
        &self,
        lhs: &'v Node,
        condition: &'v Node,
        rhs: &'v Node,
        value: &'v Value,
    ) -> Result<Cow<'v, Value>>
    where
        'e: 'v,
    {
        let base = self.eval(lhs, value)?;
        let Value::Array(items) = base.as_ref() else {
            return Ok(Cow::Borrowed(&NULL));
        };
        let mut out = Vec::new();
        for item in items {
            if is_truthy(self.eval(condition, item)?.as_ref()) {
                let result = self.eval(rhs, item)?;
                if !result.is_null() {
                    out.push(result.into_owned());
                }
            }
        }
        Ok(Cow::Owned(Value::Array(out)))
    }

    fn flatten<'v>(&self, inner: &'v Node, value: &'v Value) -> Result<Cow<'v, Value>>
    where
        'e: 'v,
    {
        let base = self.eval(inner, value)?;
        let Value::Array(items) = base.as_ref() else {
            return Ok(Cow::Borrowed(&NULL));
        };
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            match item {
                Value::Array(nested) => out.extend(nested.iter().cloned()),
                other => out.push(other.clone()),
            }
        }
        Ok(Cow::Owned(Value::Array(out)))
    }

    fn multi_list<'v>(&self, items: &'v [Node], value: &'v Value) -> Result<Cow<'v, Value>>
    where
        'e: 'v,
    {
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            out.push(self.eval(item, value)?.into_owned());
        }
        Ok(Cow::Owned(Value::Array(out)))
    }

    fn multi_hash<'v>(
        &self,
        entries: &'v [(String, Node)],
        value: &'v Value,
    ) -> Result<Cow<'v, Value>>
    where
        'e: 'v,
    {
        let mut out = Map::new();
        for (key, item) in entries {
            out.insert(key.clone(), self.eval(item, value)?.into_owned());
        }
        Ok(Cow::Owned(Value::Object(out)))
    }

    fn or<'v>(&self, lhs: &'v Node, rhs: &'v Node, value: &'v Value) -> Result<Cow<'v, Value>>
    where
        'e: 'v,
    {
        let left = self.eval(lhs, value)?;
        if is_truthy(&left) {
            Ok(left)
        } else {
            self.eval(rhs, value)
        }
    }

    fn and<'v>(&self, lhs: &'v Node, rhs: &'v Node, value: &'v Value) -> Result<Cow<'v, Value>>
    where
        'e: 'v,
    {
        let left = self.eval(lhs, value)?;
        if is_truthy(&left) {
            self.eval(rhs, value)
        } else {
            Ok(left)
        }
    }

    fn not<'v>(&self, inner: &'v Node, value: &'v Value) -> Result<Cow<'v, Value>>
    where
        'e: 'v,
    {
        let operand = self.eval(inner, value)?;
        Ok(Cow::Owned(Value::Bool(!is_truthy(&operand))))
    }

    fn compare<'v>(
        &self,
        op: Comparator,
        lhs: &'v Node,
        rhs: &'v Node,
        value: &'v Value,
    ) -> Result<Cow<'v, Value>>
    where
        'e: 'v,
    {
        let left = self.eval(lhs, value)?;
        let right = self.eval(rhs, value)?;
        Ok(Cow::Owned(compare(op, &left, &right)))
    }

    fn arithmetic<'v>(
        &self,
        op: ArithmeticOp,
        lhs: &'v Node,
        rhs: &'v Node,
        value: &'v Value,
    ) -> Result<Cow<'v, Value>>
    where
        'e: 'v,
    {
        let left = self.eval(lhs, value)?;
        let right = self.eval(rhs, value)?;
        Ok(Cow::Owned(arithmetic(op, &left, &right)?))
    }

    fn negate<'v>(&self, inner: &'v Node, value: &'v Value) -> Result<Cow<'v, Value>>
    where
        'e: 'v,
    {
        match self.eval(inner, value)?.as_ref() {
            Value::Number(n) => Ok(Cow::Owned(json::number(-json::as_f64(n)))),
            other => Err(Error::InvalidType(format!(
                "unary '-' expects a number, received {}",
                type_phrase(other)
            ))),
        }
    }

    /// Evaluates `node` against a value that may be borrowed or owned.
    fn eval_on<'v>(&self, node: &'v Node, input: Cow<'v, Value>) -> Result<Cow<'v, Value>>
    where
        'e: 'v,
    {
        match input {
            Cow::Borrowed(value) => self.eval(node, value),
            Cow::Owned(value) => Ok(Cow::Owned(self.eval(node, &value)?.into_owned())),
        }
    }

    /// `rhs` over each of `items`, without the `null` results.
    fn project<'v>(&self, rhs: &'v Node, items: impl Iterator<Item = &'v Value>) -> Result<Value>
    where
        'e: 'v,
    {
        let mut out = Vec::new();
        for item in items {
            let result = self.eval(rhs, item)?;
            if !result.is_null() {
                out.push(result.into_owned());
            }
        }
        Ok(Value::Array(out))
    }

    /// Evaluates an expression reference's expression against `value`.
    pub(crate) fn eval_ref(&self, node: &Node, value: &Value) -> Result<Value> {
        Ok(self.eval(node, value)?.into_owned())
    }

    /// Calls the function `name` of the runtime.
    fn call<'v>(&self, name: &str, args: &'v [Node], value: &'v Value) -> Result<Cow<'v, Value>>
    where
        'e: 'v,
    {
        let function = self
            .env
            .runtime
            .get(name)
            .ok_or_else(|| Error::UnknownFunction(name.to_string()))?;
        match function {
            Function::Builtin(builtin) => {
                builtin.check_arity(args.len())?;
                if let Body::If = builtin.body {
                    return self.call_if(args, value);
                }
                let mut evaluated = Vec::with_capacity(args.len());
                for arg in args {
                    evaluated.push(match arg {
                        Node::ExpRef(inner) => Arg::ExpRef(inner),
                        other => Arg::Value(self.eval(other, value)?),
                    });
                }
                builtin.check_types(&evaluated)?;
                match builtin.body {
                    Body::Values(run) => Ok(Cow::Owned(run(self, &evaluated)?)),
                    Body::If => Ok(Cow::Borrowed(&NULL)),
                }
            }
            Function::Custom(custom) => {
                let mut values = Vec::with_capacity(args.len());
                for arg in args {
                    if let Node::ExpRef(_) = arg {
                        return Err(Error::InvalidType(format!(
                            "{name}() takes values, not expression references (&…)"
                        )));
                    }
                    values.push(self.eval(arg, value)?.into_owned());
                }
                custom(&values, self.env)
                    .map(Cow::Owned)
                    .map_err(|message| Error::Function {
                        function: name.to_string(),
                        message,
                    })
            }
        }
    }

    /// `if(condition, then, else?)` evaluates only the branch it takes.
    fn call_if<'v>(&self, args: &'v [Node], value: &'v Value) -> Result<Cow<'v, Value>>
    where
        'e: 'v,
    {
        if let Some(position) = args.iter().position(|a| matches!(a, Node::ExpRef(_))) {
            return Err(Error::InvalidType(format!(
                "if() expects argument {} to be a value, received an expression (&…)",
                position + 1
            )));
        }
        let (Some(condition), Some(then)) = (args.first(), args.get(1)) else {
            return Ok(Cow::Borrowed(&NULL));
        };
        if is_truthy(self.eval(condition, value)?.as_ref()) {
            self.eval(then, value)
        } else if let Some(otherwise) = args.get(2) {
            self.eval(otherwise, value)
        } else {
            Ok(Cow::Borrowed(&NULL))
        }
    }
}

/// `name` of an object, else `null`.
fn field<'v>(value: &'v Value, name: &str) -> Cow<'v, Value> {
    match value {
        Value::Object(map) => map.get(name).map_or(Cow::Borrowed(&NULL), Cow::Borrowed),
        _ => Cow::Borrowed(&NULL),
    }
}

/// The element at `index` of an array (negative: from the end), else `null`.
fn element(value: &Value, index: i64) -> Cow<'_, Value> {
    let Value::Array(items) = value else {
        return Cow::Borrowed(&NULL);
    };
    let len = items.len() as i64;
    let at = if index < 0 { len + index } else { index };
    usize::try_from(at)
        .ok()
        .and_then(|at| items.get(at))
        .map_or(Cow::Borrowed(&NULL), Cow::Borrowed)
}

/// The slice of an array, else `null`; a step of 0 is an error whatever the value.
fn slice_of<'v>(slice: &Slice, value: &'v Value) -> Result<Cow<'v, Value>> {
    let (start, stop, step) = slice_bounds(slice, value)?;
    Ok(match value {
        Value::Array(items) => Cow::Owned(Value::Array(
            slice_indexes(start, stop, step)
                .filter_map(|i| items.get(i).cloned())
                .collect(),
        )),
        _ => Cow::Borrowed(&NULL),
    })
}

/// `==` and `!=` compare any values (numbers by value); the ordering comparators compare
/// numbers and give `null` for anything else.
fn compare(op: Comparator, left: &Value, right: &Value) -> Value {
    match op {
        Comparator::Eq => Value::Bool(json::loose_eq(left, right)),
        Comparator::Ne => Value::Bool(!json::loose_eq(left, right)),
        _ => match (left, right) {
            (Value::Number(a), Value::Number(b)) => {
                let (a, b) = (json::as_f64(a), json::as_f64(b));
                Value::Bool(match op {
                    Comparator::Lt => a < b,
                    Comparator::Le => a <= b,
                    Comparator::Gt => a > b,
                    _ => a >= b,
                })
            }
            _ => Value::Null,
        },
    }
}

/// Numbers in, a number out (as JavaScript computes it); `+` also joins two strings.
fn arithmetic(op: ArithmeticOp, left: &Value, right: &Value) -> Result<Value> {
    match (left, right) {
        (Value::Number(a), Value::Number(b)) => {
            let (a, b) = (json::as_f64(a), json::as_f64(b));
            Ok(json::number(match op {
                ArithmeticOp::Add => a + b,
                ArithmeticOp::Subtract => a - b,
                ArithmeticOp::Multiply => a * b,
                ArithmeticOp::Divide => a / b,
                ArithmeticOp::Remainder => a % b,
                ArithmeticOp::FloorDivide => (a / b).floor(),
            }))
        }
        (Value::String(a), Value::String(b)) if op == ArithmeticOp::Add => {
            Ok(Value::String(format!("{a}{b}")))
        }
        _ => Err(Error::InvalidType(format!(
            "'{}' expects {}, received {} and {}",
            op.symbol(),
            if op == ArithmeticOp::Add {
                "two numbers or two strings"
            } else {
                "numbers"
            },
            type_phrase(left),
            type_phrase(right)
        ))),
    }
}

/// The start, stop and step of `slice` over `value` (its length, when it is an array),
/// with negative and missing bounds resolved as the JMESPath specification says.
fn slice_bounds(slice: &Slice, value: &Value) -> Result<(i64, i64, i64)> {
    let step = slice.step.unwrap_or(1);
    if step == 0 {
        return Err(Error::InvalidValue("a slice step cannot be 0".to_string()));
    }
    let len = match value {
        Value::Array(items) => items.len() as i64,
        _ => 0,
    };
    let cap = |bound: i64| {
        if bound < 0 {
            let from_end = bound.saturating_add(len);
            if from_end >= 0 {
                from_end
            } else if step < 0 {
                -1
            } else {
                0
            }
        } else if bound >= len {
            if step < 0 {
                len - 1
            } else {
                len
            }
        } else {
            bound
        }
    };
    let start = slice.start.map_or(if step < 0 { len - 1 } else { 0 }, cap);
    let stop = slice.stop.map_or(if step < 0 { -1 } else { len }, cap);
    Ok((start, stop, step))
}

/// The indexes from `start` towards `stop` (exclusive) by `step`.
fn slice_indexes(start: i64, stop: i64, step: i64) -> impl Iterator<Item = usize> {
    let mut next = Some(start);
    std::iter::from_fn(move || {
        let current = next?;
        let more = if step > 0 {
            current < stop
        } else {
            current > stop
        };
        if !more {
            return None;
        }
        next = current.checked_add(step);
        usize::try_from(current).ok()
    })
}

#[cfg(test)]
mod tests {
    use super::super::{search, Entropy, Expression, Runtime};
    use super::*;
    use serde_json::json;

    fn eval(expr: &str, data: Value) -> Value {
        search(expr, &data).unwrap_or_else(|e| panic!("{expr}: {e}"))
    }

    fn error(expr: &str, data: Value) -> Error {
        match search(expr, &data) {
            Err(e) => e,
            Ok(v) => panic!("{expr}: expected an error, got {v}"),
        }
    }

    #[test]
    fn root_is_reachable_everywhere() {
        let data =
            json!({"items": [{"id": 1, "n": "a"}, {"id": 2, "n": "b"}], "selected": 2, "k": "v"});
        assert_eq!(
            eval("items[?id == $.selected].n", data.clone()),
            json!(["b"])
        );
        assert_eq!(
            eval("items[*].[n, $.k]", data.clone()),
            json!([["a", "v"], ["b", "v"]])
        );
        assert_eq!(eval("items[0] | $.k", data.clone()), json!("v"));
        assert_eq!(
            eval("map(&{n: n, root: $.k}, items)", data.clone()),
            json!([{"n": "a", "root": "v"}, {"n": "b", "root": "v"}])
        );
        assert_eq!(eval("$", json!(3)), json!(3));
        assert_eq!(
            eval("items[*].length($.items)", data.clone()),
            json!([2, 2])
        );
        assert_eq!(eval("[$.items[0].id, $.items[1].id]", data), json!([1, 2]));
    }

    #[test]
    fn bare_numbers_are_literals() {
        let data = json!([{"n": 1}, {"n": 10}, {"n": -2.5}, {"n": 1.0}]);
        assert_eq!(eval("[?n == 10]", data.clone()), json!([{"n": 10}]));
        assert_eq!(
            eval("[?n == 1]", data.clone()),
            json!([{"n": 1}, {"n": 1.0}])
        );
        assert_eq!(eval("[?n > -1.5].n", data.clone()), json!([1, 10, 1.0]));
        assert_eq!(eval("[?n < -2].n", data.clone()), json!([-2.5]));
        assert_eq!(
            eval("[1]", data.clone()),
            json!({"n": 10}),
            "still an index"
        );
        assert_eq!(eval("[-1:].n", data.clone()), json!([1.0]), "still a slice");
        assert_eq!(
            eval("{a: 1, b: 2.5e2}", json!({})),
            json!({"a": 1, "b": 250})
        );
        assert_eq!(eval("not_null(a, 7)", json!({})), json!(7));
        assert_eq!(eval("`1.0`", json!({})), json!(1));
    }

    #[test]
    fn arithmetic_operators() {
        let data = json!({"a": 7, "b": 2, "f": 0.5, "s": "x", "t": "y"});
        assert_eq!(eval("a + b", data.clone()), json!(9));
        assert_eq!(eval("a - b", data.clone()), json!(5));
        assert_eq!(eval("a * b", data.clone()), json!(14));
        assert_eq!(eval("a × b", data.clone()), json!(14));
        assert_eq!(eval("a / b", data.clone()), json!(3.5));
        assert_eq!(eval("a ÷ b", data.clone()), json!(3.5));
        assert_eq!(eval("a % b", data.clone()), json!(1));
        assert_eq!(
            eval("-a % b", data.clone()),
            json!(-1),
            "sign of the dividend"
        );
        assert_eq!(eval("a // b", data.clone()), json!(3));
        assert_eq!(eval("-a // b", data.clone()), json!(-4), "rounds down");
        assert_eq!(eval("f * 4", data.clone()), json!(2));
        assert!(
            eval("f * 4", data.clone()).is_i64(),
            "integral results are integers"
        );
        assert_eq!(eval("0.1 + 0.2", data.clone()), json!(0.30000000000000004));
        assert_eq!(eval("a - -b", data.clone()), json!(9));
        assert_eq!(eval("a−b", data.clone()), json!(5));
        assert_eq!(eval("-a", data.clone()), json!(-7));
        assert_eq!(eval("s + t", data.clone()), json!("xy"));
        assert_eq!(
            eval("a / 0", data.clone()),
            Value::Null,
            "non-finite becomes null"
        );
        assert_eq!(eval("a % 0", data.clone()), Value::Null);
    }

    #[test]
    fn arithmetic_precedence() {
        let data = json!({"a": 2, "b": 3, "c": 4, "items": [1, 2, 3]});
        assert_eq!(eval("a + b * c", data.clone()), json!(14));
        assert_eq!(eval("(a + b) * c", data.clone()), json!(20));
        assert_eq!(eval("a * b + c", data.clone()), json!(10));
        assert_eq!(
            eval("c - b - a", data.clone()),
            json!(-1),
            "left associative"
        );
        assert_eq!(eval("c / a / a", data.clone()), json!(1));
        assert_eq!(eval("a + b > c", data.clone()), json!(true));
        assert_eq!(eval("a * b == 6 && c - a == 2", data.clone()), json!(true));
        assert_eq!(
            eval("a + b | @ * 2", data.clone()),
            json!(10),
            "pipe binds loosest"
        );
        assert_eq!(eval("-a * b", data.clone()), json!(-6));
        assert_eq!(
            eval("-b // a", data.clone()),
            json!(-2),
            "unary minus binds tighter than //"
        );
        assert_eq!(eval("items[*] | [0] + [2]", data.clone()), json!(4));
        assert_eq!(eval("sum(items) * 2", data.clone()), json!(12));
        assert_eq!(eval("items[?@ * 2 > 3]", data.clone()), json!([2, 3]));
        assert_eq!(eval("items[*].[@ * 10]", data), json!([[10], [20], [30]]));
    }

    #[test]
    fn arithmetic_type_errors() {
        let data = json!({"a": 1, "s": "x", "l": [1]});
        assert_eq!(
            error("a + s", data.clone()),
            Error::InvalidType(
                "'+' expects two numbers or two strings, received a number and a string".into()
            )
        );
        assert_eq!(
            error("s - s", data.clone()).to_string(),
            "invalid type: '-' expects numbers, received a string and a string"
        );
        assert_eq!(error("missing * 2", data.clone()).kind(), "invalid-type");
        assert_eq!(error("l[*] * 2", data.clone()).kind(), "invalid-type");
        assert_eq!(error("a // `true`", data.clone()).kind(), "invalid-type");
        assert_eq!(error("l % 2", data.clone()).kind(), "invalid-type");
        assert_eq!(
            error("-s", data).to_string(),
            "invalid type: unary '-' expects a number, received a string"
        );
    }

    #[test]
    fn standard_forms() {
        let data = json!({
            "people": [{"name": "a", "age": 30}, {"name": "b", "age": 20}, {"name": "c"}],
            "nested": [[1, 2], [3, [4]], 5],
            "obj": {"x": {"v": 1}, "y": {"v": 2}, "z": {}},
        });
        assert_eq!(eval("people[*].age", data.clone()), json!([30, 20]));
        assert_eq!(eval("people[?age > `25`].name", data.clone()), json!(["a"]));
        assert_eq!(eval("nested[]", data.clone()), json!([1, 2, 3, [4], 5]));
        assert_eq!(eval("obj.*.v", data.clone()), json!([1, 2]));
        assert_eq!(eval("people[1:].name", data.clone()), json!(["b", "c"]));
        assert_eq!(eval("people[::-2].name", data.clone()), json!(["c", "a"]));
        assert_eq!(
            eval("people[0].{n: name, a: age}", data.clone()),
            json!({"n": "a", "a": 30})
        );
        assert_eq!(
            eval("missing.[a, b]", data.clone()),
            Value::Null,
            "a.b is null when a is"
        );
        assert_eq!(
            eval("missing | [a, {b: b}]", data.clone()),
            json!([null, {"b": null}])
        );
        assert_eq!(
            eval("[`1`, $.obj.x.v]", Value::Null),
            json!([1, null]),
            "built on null too"
        );
        assert_eq!(eval("people[0].name || 'x'", data.clone()), json!("a"));
        assert_eq!(eval("missing || 'x'", data.clone()), json!("x"));
        assert_eq!(eval("people && 'yes'", data.clone()), json!("yes"));
        assert_eq!(eval("!people", data.clone()), json!(false));
        assert_eq!(eval("people[0].age < 'x'", data.clone()), Value::Null);
        assert_eq!(
            eval("sort_by(people[:2], &age)[0].name", data.clone()),
            json!("b")
        );
        assert_eq!(eval("people[*].age | [0]", data), json!(30));
    }

    #[test]
    fn if_evaluates_only_the_branch_it_takes() {
        let data = json!({"yes": true, "no": false, "n": 3});
        assert_eq!(eval("if(yes, 'a', 'b')", data.clone()), json!("a"));
        assert_eq!(eval("if(no, 'a', 'b')", data.clone()), json!("b"));
        assert_eq!(eval("if(no, 'a')", data.clone()), Value::Null);
        assert_eq!(
            eval("if(n > 2, 'big', 'small')", data.clone()),
            json!("big")
        );
        assert_eq!(eval("if('', 'a', 'b')", json!({})), json!("b"));
        assert_eq!(eval("if(`[]`, 'a', 'b')", json!({})), json!("b"));
        assert_eq!(
            eval("if(`0`, 'a', 'b')", json!({})),
            json!("a"),
            "0 is truthy"
        );
        assert_eq!(eval("if(yes, 'ok', `1` - 'x')", data.clone()), json!("ok"));
        assert_eq!(error("if(yes)", data.clone()).kind(), "invalid-arity");
        assert_eq!(
            error("if(yes, 1, 2, 3)", data.clone()).kind(),
            "invalid-arity"
        );
        assert_eq!(error("if(&yes, 1)", data).kind(), "invalid-type");
    }

    #[test]
    fn slices_and_indexes_at_the_edges() {
        let data = json!([0, 1, 2, 3]);
        assert_eq!(eval("[-5]", data.clone()), Value::Null);
        assert_eq!(eval("[4]", data.clone()), Value::Null);
        assert_eq!(eval("[-9223372036854775808]", data.clone()), Value::Null);
        assert_eq!(eval("[::9223372036854775807]", data.clone()), json!([0]));
        assert_eq!(
            eval("[9223372036854775807::-9223372036854775808]", data.clone()),
            json!([3])
        );
        assert_eq!(
            eval("[-9223372036854775808:]", data.clone()),
            json!([0, 1, 2, 3])
        );
        assert_eq!(error("[::0]", data).kind(), "invalid-value");
    }

    #[test]
    fn custom_functions_are_called_with_values_and_env() {
        let mut runtime = Runtime::new();
        runtime.register(
            "divide",
            Box::new(|args, _env| match args {
                [Value::Number(a), Value::Number(b)] if json::as_f64(b) != 0.0 => {
                    Ok(json::number(json::as_f64(a) / json::as_f64(b)))
                }
                [_, _] => Err("expects two numbers, the second not 0".to_string()),
                _ => Err(format!("takes 2 arguments, received {}", args.len())),
            }),
        );
        runtime.register(
            "has_entropy",
            Box::new(|_, env| Ok(Value::Bool(env.entropy.is_some()))),
        );
        runtime.register("sum", Box::new(|_, _| Ok(json!("replaced"))));
        let env = Env::new(&runtime);
        let run = |expr: &str, env: &Env<'_>| {
            Expression::parse(expr)
                .unwrap()
                .search(&json!({"a": 60, "b": 10}), env)
        };
        assert_eq!(run("divide(a, b)", &env).unwrap(), json!(6));
        assert_eq!(run("divide(a, b) + 1", &env).unwrap(), json!(7));
        assert_eq!(
            run("sum(@)", &env).unwrap(),
            json!("replaced"),
            "a name can be replaced"
        );
        assert_eq!(
            run("divide(a, `0`)", &env).unwrap_err(),
            Error::Function {
                function: "divide".into(),
                message: "expects two numbers, the second not 0".into()
            }
        );
        assert_eq!(
            run("divide(a)", &env).unwrap_err().to_string(),
            "divide() failed: takes 2 arguments, received 1"
        );
        assert_eq!(
            run("divide(&a, b)", &env).unwrap_err().kind(),
            "invalid-type"
        );
        assert_eq!(run("has_entropy()", &env).unwrap(), json!(false));
        let entropy = Entropy::new([1; 32]);
        assert_eq!(
            run("has_entropy()", &env.with_entropy(&entropy)).unwrap(),
            json!(true)
        );
        assert_eq!(
            run("divide(a, b)", &Env::new(Runtime::global())).unwrap_err(),
            Error::UnknownFunction("divide".into()),
            "the global runtime is not affected"
        );
    }

    #[test]
    fn the_deepest_accepted_expressions_evaluate() {
        let mut data = json!(1);
        for _ in 0..120 {
            data = json!({"a": data});
        }
        let path = vec!["a"; 120].join(".");
        assert_eq!(eval(&path, data.clone()), json!(1));
        let nested = format!("{}@{}", "[".repeat(120), "]".repeat(120));
        let mut expected = json!(1);
        for _ in 0..120 {
            expected = json!([expected]);
        }
        assert_eq!(eval(&nested, json!(1)), expected);
        let sums = format!("{}0{}", "abs(".repeat(120), ")".repeat(120));
        assert_eq!(eval(&sums, json!(null)), json!(0));
    }

    #[test]
    fn expression_references_only_as_arguments() {
        assert_eq!(error("&a", json!({})).kind(), "invalid-type");
        assert_eq!(error("[&a]", json!({})).kind(), "invalid-type");
    }
}
