//! The function table: the JMESPath built-ins, the LetsFlow extensions, and the functions
//! an application registers.
//!
//! The signatures and behaviour of each function are listed in the documentation of the
//! parent module.

use super::ast::Node;
use super::eval::{type_phrase, Interpreter};
use super::{Env, Error, Result};
use crate::json;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256, Sha512};
use std::borrow::Cow;
use std::cell::Cell;
use std::cmp::Ordering;
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, OnceLock};
use uuid::Uuid;

/// A function an application adds to a [`Runtime`]. It receives the evaluated arguments
/// (expression references are refused before the call) and the environment of the search;
/// an `Err` message becomes [`Error::Function`].
pub type CustomFunction = Box<dyn Fn(&[Value], &Env<'_>) -> Result<Value, String> + Send + Sync>;

/// The largest array `range()` builds.
const MAX_RANGE: f64 = 1_000_000.0;

/// The longest string `pad_left()` and `pad_right()` build, in characters.
const MAX_PAD_WIDTH: usize = 1_000_000;

/// How many compiled regexes a [`Runtime`] keeps (it starts over when full).
const REGEX_CACHE_SIZE: usize = 256;

/// The functions expressions can call.
pub struct Runtime {
    functions: HashMap<String, Function>,
    /// Compiled regexes by their `/pattern/flags` text, so that a regex in a filter is not
    /// compiled again for every element.
    regexes: Mutex<HashMap<String, Arc<JsRegex>>>,
}

/// An entry of the function table.
pub(crate) enum Function {
    Builtin(&'static Builtin),
    Custom(CustomFunction),
}

impl Runtime {
    /// A runtime with every standard JMESPath function and the LetsFlow extensions.
    pub fn new() -> Self {
        let functions = BUILTINS
            .iter()
            .map(|builtin| (builtin.name.to_string(), Function::Builtin(builtin)))
            .collect();
        Runtime {
            functions,
            regexes: Mutex::new(HashMap::new()),
        }
    }

    /// The shared runtime with the default functions, built on first use.
    pub fn global() -> &'static Runtime {
        static GLOBAL: OnceLock<Runtime> = OnceLock::new();
        GLOBAL.get_or_init(Runtime::new)
    }

    /// Adds a function under `name`, replacing a function of that name (built-ins too).
    pub fn register(&mut self, name: &str, f: CustomFunction) {
        self.functions.insert(name.to_string(), Function::Custom(f));
    }

    /// The function called `name`.
    pub(crate) fn get(&self, name: &str) -> Option<&Function> {
        self.functions.get(name)
    }

    /// The compiled form of the regex `spec` for `function`, from the cache when it is there.
    fn regex(&self, spec: &str, function: &str) -> Result<Arc<JsRegex>> {
        // A poisoned lock only means another thread panicked mid-insert; compile uncached.
        if let Ok(cache) = self.regexes.lock() {
            if let Some(regex) = cache.get(spec) {
                return Ok(Arc::clone(regex));
            }
        }
        let regex = Arc::new(JsRegex::compile(spec, function)?);
        if let Ok(mut cache) = self.regexes.lock() {
            if cache.len() >= REGEX_CACHE_SIZE {
                cache.clear();
            }
            cache.insert(spec.to_string(), Arc::clone(&regex));
        }
        Ok(regex)
    }
}

impl Default for Runtime {
    fn default() -> Self {
        Runtime::new()
    }
}

impl fmt::Debug for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut names: Vec<_> = self.functions.keys().collect();
        names.sort();
        f.debug_struct("Runtime")
            .field("functions", &names)
            .finish()
    }
}

/// A deterministic source of version 4 UUIDs for `uuid()` without a name. The engine seeds
/// it with the hash of the event being applied, so that every node replaying the event
/// draws the same UUIDs.
///
/// The k-th call (counting from 0) returns the first 16 bytes of
/// `blake3(seed ‖ k as u64 little-endian)` with the version and variant bits of a v4 UUID.
#[derive(Debug, Clone)]
pub struct Entropy {
    seed: [u8; 32],
    counter: Cell<u64>,
}

impl Entropy {
    /// Entropy that starts from `seed`.
    pub fn new(seed: [u8; 32]) -> Self {
        Entropy {
            seed,
            counter: Cell::new(0),
        }
    }

    /// The next UUID of the sequence.
    pub fn next_uuid(&self) -> Uuid {
        let k = self.counter.get();
        self.counter.set(k.wrapping_add(1));
        let mut hasher = blake3::Hasher::new();
        hasher.update(&self.seed);
        hasher.update(&k.to_le_bytes());
        let hash = hasher.finalize();
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&hash.as_bytes()[..16]);
        uuid::Builder::from_random_bytes(bytes).into_uuid()
    }
}

/// A function argument: a value, or an `&expression` left unevaluated.
pub(crate) enum Arg<'a> {
    Value(Cow<'a, Value>),
    ExpRef(&'a Node),
}

/// The argument types of the signatures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ty {
    Any,
    Number,
    String,
    Array,
    Object,
    ExpRef,
    ArrayOfNumbers,
    ArrayOfStrings,
    ArrayOfArrays,
}

impl Ty {
    fn phrase(self) -> &'static str {
        match self {
            Ty::Any => "any value",
            Ty::Number => "a number",
            Ty::String => "a string",
            Ty::Array => "an array",
            Ty::Object => "an object",
            Ty::ExpRef => "an expression (&…)",
            Ty::ArrayOfNumbers => "an array of numbers",
            Ty::ArrayOfStrings => "an array of strings",
            Ty::ArrayOfArrays => "an array of arrays",
        }
    }

    /// For the typed array types, the test an element must pass.
    fn element(self) -> Option<fn(&Value) -> bool> {
        match self {
            Ty::ArrayOfNumbers => Some(Value::is_number),
            Ty::ArrayOfStrings => Some(Value::is_string),
            Ty::ArrayOfArrays => Some(Value::is_array),
            _ => None,
        }
    }

    fn accepts(self, arg: &Arg<'_>) -> bool {
        let value = match arg {
            Arg::ExpRef(_) => return self == Ty::ExpRef,
            Arg::Value(value) => value.as_ref(),
        };
        match (self, value) {
            (Ty::Any, _)
            | (Ty::Number, Value::Number(_))
            | (Ty::String, Value::String(_))
            | (Ty::Array, Value::Array(_))
            | (Ty::Object, Value::Object(_)) => true,
            (_, Value::Array(items)) => self.element().is_some_and(|fits| items.iter().all(fits)),
            _ => false,
        }
    }
}

/// A parameter: the types it accepts, and whether it may be left out or repeated.
struct Param {
    types: &'static [Ty],
    optional: bool,
    variadic: bool,
}

const fn req(types: &'static [Ty]) -> Param {
    Param {
        types,
        optional: false,
        variadic: false,
    }
}

const fn opt(types: &'static [Ty]) -> Param {
    Param {
        types,
        optional: true,
        variadic: false,
    }
}

/// One or more arguments (must be the last parameter).
const fn many(types: &'static [Ty]) -> Param {
    Param {
        types,
        optional: false,
        variadic: true,
    }
}

/// How a built-in runs.
pub(crate) enum Body {
    /// On its evaluated arguments.
    Values(fn(&Interpreter<'_>, &[Arg<'_>]) -> Result<Value>),
    /// `if()`, which the interpreter evaluates lazily.
    If,
}

/// A built-in function.
pub(crate) struct Builtin {
    name: &'static str,
    params: &'static [Param],
    pub(crate) body: Body,
}

impl Builtin {
    /// Fails unless `count` arguments fit the signature.
    pub(crate) fn check_arity(&self, count: usize) -> Result<()> {
        let min = self.params.iter().filter(|p| !p.optional).count();
        let variadic = self.params.last().is_some_and(|p| p.variadic);
        let max = self.params.len();
        if count >= min && (variadic || count <= max) {
            return Ok(());
        }
        let plural = |n: usize| if n == 1 { "argument" } else { "arguments" };
        let expected = if variadic {
            format!("at least {min} {}", plural(min))
        } else if min == max {
            format!("{min} {}", plural(min))
        } else {
            format!("{min} to {max} arguments")
        };
        Err(Error::InvalidArity {
            function: self.name.to_string(),
            expected,
            received: count,
        })
    }

    /// Fails unless every argument has a type its parameter accepts.
    pub(crate) fn check_types(&self, args: &[Arg<'_>]) -> Result<()> {
        for (i, arg) in args.iter().enumerate() {
            let Some(param) = self.params.get(i).or_else(|| self.params.last()) else {
                continue;
            };
            if param.types.iter().any(|ty| ty.accepts(arg)) {
                continue;
            }
            let expected: Vec<_> = param.types.iter().map(|ty| ty.phrase()).collect();
            let received = match arg {
                Arg::ExpRef(_) => "an expression (&…)".to_string(),
                Arg::Value(value) => received_phrase(param.types, value),
            };
            return Err(Error::InvalidType(format!(
                "{}() expects argument {} to be {}, received {received}",
                self.name,
                i + 1,
                expected.join(" or ")
            )));
        }
        Ok(())
    }
}

/// How a type error describes `value`, received where one of `types` was expected. For a
/// typed array it names the first element that does not fit: one of no accepted element
/// type, or else (a mix such as `[1, 'a']`) the first one of another type than the first.
fn received_phrase(types: &[Ty], value: &Value) -> String {
    let Value::Array(items) = value else {
        return type_phrase(value).to_string();
    };
    let tests: Vec<fn(&Value) -> bool> = types.iter().filter_map(|ty| ty.element()).collect();
    if tests.is_empty() {
        return "an array".to_string();
    }
    let misfit = items
        .iter()
        .find(|item| !tests.iter().any(|fits| fits(item)))
        .or_else(|| {
            let first = items.first().map(type_phrase);
            items.iter().find(|item| Some(type_phrase(item)) != first)
        });
    match misfit {
        Some(item) => format!("an array with {}", type_phrase(item)),
        None => "an array".to_string(),
    }
}

macro_rules! builtin {
    ($name:literal, [$($param:expr),*], $body:expr) => {
        Builtin { name: $name, params: &[$($param),*], body: Body::Values($body) }
    };
}

use Ty::{Any, ExpRef as Expr};

static BUILTINS: &[Builtin] = &[
    builtin!("abs", [req(&[Ty::Number])], |_, a| math(a, f64::abs)),
    builtin!("avg", [req(&[Ty::ArrayOfNumbers])], avg),
    builtin!("ceil", [req(&[Ty::Number])], |_, a| math(a, f64::ceil)),
    builtin!(
        "contains",
        [req(&[Ty::Array, Ty::String]), req(&[Any])],
        contains
    ),
    builtin!(
        "ends_with",
        [req(&[Ty::String]), req(&[Ty::String])],
        |_, a| { Ok(Value::Bool(string(a, 0).ends_with(string(a, 1)))) }
    ),
    builtin!("floor", [req(&[Ty::Number])], |_, a| math(a, f64::floor)),
    builtin!(
        "join",
        [req(&[Ty::String]), req(&[Ty::ArrayOfStrings])],
        join
    ),
    builtin!("keys", [req(&[Ty::Object])], |_, a| {
        Ok(Value::Array(
            object(a, 0).keys().cloned().map(Value::String).collect(),
        ))
    }),
    builtin!(
        "length",
        [req(&[Ty::String, Ty::Array, Ty::Object])],
        length
    ),
    builtin!("map", [req(&[Expr]), req(&[Ty::Array])], map),
    builtin!(
        "max",
        [req(&[Ty::ArrayOfNumbers, Ty::ArrayOfStrings])],
        |_, a| { Ok(extreme(array(a, 0), Ordering::Greater)) }
    ),
    builtin!("max_by", [req(&[Ty::Array]), req(&[Expr])], |i, a| {
        extreme_by(i, a, "max_by", Ordering::Greater)
    }),
    builtin!("merge", [many(&[Ty::Object])], merge),
    builtin!(
        "min",
        [req(&[Ty::ArrayOfNumbers, Ty::ArrayOfStrings])],
        |_, a| { Ok(extreme(array(a, 0), Ordering::Less)) }
    ),
    builtin!("min_by", [req(&[Ty::Array]), req(&[Expr])], |i, a| {
        extreme_by(i, a, "min_by", Ordering::Less)
    }),
    builtin!("not_null", [many(&[Any])], |_, a| {
        Ok(values(a)
            .find(|v| !v.is_null())
            .cloned()
            .unwrap_or(Value::Null))
    }),
    builtin!("reverse", [req(&[Ty::String, Ty::Array])], reverse),
    builtin!(
        "sort",
        [req(&[Ty::ArrayOfNumbers, Ty::ArrayOfStrings])],
        |_, a| {
            let mut items = array(a, 0).to_vec();
            items.sort_by(compare_keys);
            Ok(Value::Array(items))
        }
    ),
    builtin!("sort_by", [req(&[Ty::Array]), req(&[Expr])], sort_by),
    builtin!(
        "starts_with",
        [req(&[Ty::String]), req(&[Ty::String])],
        |_, a| { Ok(Value::Bool(string(a, 0).starts_with(string(a, 1)))) }
    ),
    builtin!("sum", [req(&[Ty::ArrayOfNumbers])], |_, a| {
        Ok(json::number(array(a, 0).iter().map(number).sum()))
    }),
    builtin!("to_array", [req(&[Any])], |_, a| {
        Ok(match value(a, 0) {
            Value::Array(items) => Value::Array(items.clone()),
            other => Value::Array(vec![other.clone()]),
        })
    }),
    builtin!("to_string", [req(&[Any])], |_, a| {
        Ok(match value(a, 0) {
            Value::String(s) => Value::String(s.clone()),
            other => Value::String(to_json(other)),
        })
    }),
    builtin!("to_number", [req(&[Any])], |_, a| Ok(to_number(value(
        a, 0
    )))),
    builtin!("type", [req(&[Any])], |_, a| {
        Ok(Value::String(type_name(value(a, 0)).to_string()))
    }),
    builtin!("values", [req(&[Ty::Object])], |_, a| {
        Ok(Value::Array(object(a, 0).values().cloned().collect()))
    }),
    // jmespath-community functions (JEP-13, JEP-14, group_by)
    builtin!(
        "find_first",
        [
            req(&[Ty::String]),
            req(&[Ty::String]),
            opt(&[Ty::Number]),
            opt(&[Ty::Number])
        ],
        |_, a| find(a, "find_first", false)
    ),
    builtin!(
        "find_last",
        [
            req(&[Ty::String]),
            req(&[Ty::String]),
            opt(&[Ty::Number]),
            opt(&[Ty::Number])
        ],
        |_, a| find(a, "find_last", true)
    ),
    builtin!("from_items", [req(&[Ty::ArrayOfArrays])], from_items),
    builtin!("group_by", [req(&[Ty::Array]), req(&[Expr])], group_by),
    builtin!("items", [req(&[Ty::Object])], |_, a| {
        Ok(Value::Array(
            object(a, 0)
                .iter()
                .map(|(key, item)| Value::Array(vec![Value::String(key.clone()), item.clone()]))
                .collect(),
        ))
    }),
    builtin!("lower", [req(&[Ty::String])], |_, a| {
        Ok(Value::String(string(a, 0).to_lowercase()))
    }),
    builtin!(
        "pad_left",
        [req(&[Ty::String]), req(&[Ty::Number]), opt(&[Ty::String])],
        |_, a| pad(a, "pad_left", true)
    ),
    builtin!(
        "pad_right",
        [req(&[Ty::String]), req(&[Ty::Number]), opt(&[Ty::String])],
        |_, a| pad(a, "pad_right", false)
    ),
    builtin!(
        "replace",
        [
            req(&[Ty::String]),
            req(&[Ty::String]),
            req(&[Ty::String]),
            opt(&[Ty::Number])
        ],
        replace
    ),
    builtin!(
        "split",
        [req(&[Ty::String]), req(&[Ty::String]), opt(&[Ty::Number])],
        split
    ),
    builtin!("trim", [req(&[Ty::String]), opt(&[Ty::String])], |_, a| {
        Ok(trim(a, true, true))
    }),
    builtin!(
        "trim_left",
        [req(&[Ty::String]), opt(&[Ty::String])],
        |_, a| { Ok(trim(a, true, false)) }
    ),
    builtin!(
        "trim_right",
        [req(&[Ty::String]), opt(&[Ty::String])],
        |_, a| { Ok(trim(a, false, true)) }
    ),
    builtin!("upper", [req(&[Ty::String])], |_, a| {
        Ok(Value::String(string(a, 0).to_uppercase()))
    }),
    builtin!("zip", [many(&[Ty::Array])], zip),
    // LetsFlow extensions
    Builtin {
        name: "if",
        params: &[req(&[Any]), req(&[Any]), opt(&[Any])],
        body: Body::If,
    },
    builtin!(
        "range",
        [req(&[Ty::Number]), opt(&[Ty::Number]), opt(&[Ty::String])],
        range
    ),
    builtin!("to_object", [req(&[Ty::Array])], to_object),
    builtin!("json_serialize", [req(&[Any])], |_, a| {
        Ok(Value::String(json::canonical(value(a, 0))))
    }),
    builtin!("json_parse", [req(&[Ty::String])], |_, a| {
        serde_json::from_str::<Value>(string(a, 0))
            .map(js_value)
            .map_err(|e| Error::InvalidValue(format!("json_parse() received invalid JSON: {e}")))
    }),
    builtin!("sha256", [req(&[Ty::String])], |_, a| {
        Ok(Value::String(hex::encode(Sha256::digest(string(a, 0)))))
    }),
    builtin!("sha512", [req(&[Ty::String])], |_, a| {
        Ok(Value::String(hex::encode(Sha512::digest(string(a, 0)))))
    }),
    builtin!("uuid", [opt(&[Ty::String]), opt(&[Ty::String])], uuid),
    builtin!(
        "regex_test",
        [req(&[Ty::String]), req(&[Ty::String])],
        |_, a| {
            let re = JsRegex::compile(string(a, 0), "regex_test")?;
            re.regex
                .is_match(string(a, 1))
                .map(Value::Bool)
                .map_err(|e| re.failed(e))
        }
    ),
    builtin!(
        "regex_match",
        [req(&[Ty::String]), req(&[Ty::String])],
        regex_match
    ),
    builtin!(
        "regex_match_all",
        [req(&[Ty::String]), req(&[Ty::String])],
        |_, a| {
            let re = JsRegex::compile(string(a, 0), "regex_match_all")?;
            let text = string(a, 1);
            let mut all = Vec::new();
            for captures in re.regex.captures_iter(text) {
                all.push(captures_array(&captures.map_err(|e| re.failed(e))?));
            }
            Ok(Value::Array(all))
        }
    ),
    builtin!(
        "regex_replace",
        [req(&[Ty::String]), req(&[Ty::String]), req(&[Ty::String])],
        regex_replace
    ),
];

// Argument accessors. The signature check has run, so the types are known; a mismatch
// still cannot panic and yields an empty value.

static NULL: Value = Value::Null;
static EMPTY_MAP: OnceLock<Map<String, Value>> = OnceLock::new();

fn value<'a>(args: &'a [Arg<'_>], i: usize) -> &'a Value {
    match args.get(i) {
        Some(Arg::Value(value)) => value.as_ref(),
        _ => &NULL,
    }
}

fn values<'a>(args: &'a [Arg<'_>]) -> impl Iterator<Item = &'a Value> {
    args.iter().filter_map(|arg| match arg {
        Arg::Value(value) => Some(value.as_ref()),
        Arg::ExpRef(_) => None,
    })
}

fn string<'a>(args: &'a [Arg<'_>], i: usize) -> &'a str {
    value(args, i).as_str().unwrap_or_default()
}

fn array<'a>(args: &'a [Arg<'_>], i: usize) -> &'a [Value] {
    value(args, i).as_array().map_or(&[], Vec::as_slice)
}

fn object<'a>(args: &'a [Arg<'_>], i: usize) -> &'a Map<String, Value> {
    value(args, i)
        .as_object()
        .unwrap_or_else(|| EMPTY_MAP.get_or_init(Map::new))
}

fn expref<'a>(args: &'a [Arg<'_>], i: usize) -> Result<&'a Node> {
    match args.get(i) {
        Some(Arg::ExpRef(node)) => Ok(node),
        _ => Err(Error::InvalidType(format!(
            "argument {} must be an expression (&…)",
            i + 1
        ))),
    }
}

fn number(value: &Value) -> f64 {
    match value {
        Value::Number(n) => json::as_f64(n),
        _ => 0.0,
    }
}

// Standard functions

fn math(args: &[Arg<'_>], f: fn(f64) -> f64) -> Result<Value> {
    Ok(json::number(f(number(value(args, 0)))))
}

fn avg(_: &Interpreter<'_>, args: &[Arg<'_>]) -> Result<Value> {
    let items = array(args, 0);
    if items.is_empty() {
        return Ok(Value::Null);
    }
    let total: f64 = items.iter().map(number).sum();
    Ok(json::number(total / items.len() as f64))
}

fn contains(_: &Interpreter<'_>, args: &[Arg<'_>]) -> Result<Value> {
    let search = value(args, 1);
    Ok(Value::Bool(match value(args, 0) {
        Value::Array(items) => items.iter().any(|item| json::loose_eq(item, search)),
        Value::String(text) => search.as_str().is_some_and(|s| text.contains(s)),
        _ => false,
    }))
}

fn join(_: &Interpreter<'_>, args: &[Arg<'_>]) -> Result<Value> {
    let parts: Vec<&str> = array(args, 1).iter().filter_map(Value::as_str).collect();
    Ok(Value::String(parts.join(string(args, 0))))
}

fn length(_: &Interpreter<'_>, args: &[Arg<'_>]) -> Result<Value> {
    let count = match value(args, 0) {
        Value::String(s) => s.chars().count(),
        Value::Array(items) => items.len(),
        Value::Object(map) => map.len(),
        _ => 0,
    };
    Ok(Value::from(count))
}

fn map(interpreter: &Interpreter<'_>, args: &[Arg<'_>]) -> Result<Value> {
    let node = expref(args, 0)?;
    let mut out = Vec::new();
    for item in array(args, 1) {
        out.push(interpreter.eval_ref(node, item)?);
    }
    Ok(Value::Array(out))
}

/// Orders two numbers by value or two strings as JavaScript does (by UTF-16 code units).
fn compare_keys(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => json::as_f64(x)
            .partial_cmp(&json::as_f64(y))
            .unwrap_or(Ordering::Equal),
        (Value::String(x), Value::String(y)) => x.encode_utf16().cmp(y.encode_utf16()),
        _ => Ordering::Equal,
    }
}

/// The first of the greatest (`Greater`) or least (`Less`) items; `null` when empty.
fn extreme(items: &[Value], wanted: Ordering) -> Value {
    let mut best: Option<&Value> = None;
    for item in items {
        if best.is_none_or(|b| compare_keys(item, b) == wanted) {
            best = Some(item);
        }
    }
    best.cloned().unwrap_or(Value::Null)
}

/// The keys `&expr` gives for `items`: all numbers or all strings.
fn sort_keys(
    interpreter: &Interpreter<'_>,
    items: &[Value],
    node: &Node,
    function: &str,
) -> Result<Vec<Value>> {
    let mut keys = Vec::with_capacity(items.len());
    for item in items {
        let key = interpreter.eval_ref(node, item)?;
        let fits = match keys.first() {
            None => key.is_number() || key.is_string(),
            Some(Value::Number(_)) => key.is_number(),
            Some(_) => key.is_string(),
        };
        if !fits {
            return Err(Error::InvalidType(format!(
                "{function}() expects the expression to give only numbers or only strings, \
                 received {}",
                type_phrase(&key)
            )));
        }
        keys.push(key);
    }
    Ok(keys)
}

fn extreme_by(
    interpreter: &Interpreter<'_>,
    args: &[Arg<'_>],
    function: &str,
    wanted: Ordering,
) -> Result<Value> {
    let items = array(args, 0);
    let keys = sort_keys(interpreter, items, expref(args, 1)?, function)?;
    let mut best: Option<usize> = None;
    for (i, key) in keys.iter().enumerate() {
        if best.is_none_or(|b| compare_keys(key, &keys[b]) == wanted) {
            best = Some(i);
        }
    }
    Ok(best
        .and_then(|i| items.get(i))
        .cloned()
        .unwrap_or(Value::Null))
}

fn sort_by(interpreter: &Interpreter<'_>, args: &[Arg<'_>]) -> Result<Value> {
    let items = array(args, 0);
    let keys = sort_keys(interpreter, items, expref(args, 1)?, "sort_by")?;
    let mut order: Vec<(&Value, &Value)> = keys.iter().zip(items).collect();
    order.sort_by(|a, b| compare_keys(a.0, b.0));
    Ok(Value::Array(
        order.into_iter().map(|(_, item)| item.clone()).collect(),
    ))
}

fn merge(_: &Interpreter<'_>, args: &[Arg<'_>]) -> Result<Value> {
    let mut out = Map::new();
    for value in values(args) {
        if let Value::Object(map) = value {
            for (key, item) in map {
                out.insert(key.clone(), item.clone());
            }
        }
    }
    Ok(Value::Object(out))
}

fn reverse(_: &Interpreter<'_>, args: &[Arg<'_>]) -> Result<Value> {
    Ok(match value(args, 0) {
        Value::String(s) => Value::String(s.chars().rev().collect()),
        Value::Array(items) => Value::Array(items.iter().rev().cloned().collect()),
        _ => Value::Null,
    })
}

/// The JMESPath type name of a value.
fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// A number as is; a string holding a decimal number as that number; else `null`.
fn to_number(value: &Value) -> Value {
    match value {
        Value::Number(_) => value.clone(),
        Value::String(s) => {
            let text = s.trim();
            let numeric = !text.is_empty()
                && text
                    .bytes()
                    .all(|b| b.is_ascii_digit() || matches!(b, b'+' | b'-' | b'.' | b'e' | b'E'));
            match text.parse::<f64>() {
                Ok(n) if numeric && n.is_finite() => json::number(n),
                _ => Value::Null,
            }
        }
        _ => Value::Null,
    }
}

/// Compact JSON as JavaScript's `JSON.stringify` writes it (object keys in their order).
fn to_json(value: &Value) -> String {
    fn write(out: &mut String, value: &Value) {
        match value {
            Value::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write(out, item);
                }
                out.push(']');
            }
            Value::Object(map) => {
                out.push('{');
                for (i, (key, item)) in map.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    json::write_string(out, key);
                    out.push(':');
                    write(out, item);
                }
                out.push('}');
            }
            scalar => json::write_canonical(out, scalar),
        }
    }
    let mut out = String::new();
    write(&mut out, value);
    out
}

/// A value with its numbers as JavaScript holds them: integral numbers as integers, and
/// integers beyond 2^53 rounded to doubles.
pub(crate) fn js_value(value: Value) -> Value {
    match value {
        Value::Number(n) => {
            let safe = n.as_i64().is_some_and(|i| i.unsigned_abs() < 1 << 53);
            if safe {
                Value::Number(n)
            } else {
                json::number(json::as_f64(&n))
            }
        }
        Value::Array(items) => Value::Array(items.into_iter().map(js_value).collect()),
        Value::Object(map) => {
            Value::Object(map.into_iter().map(|(k, v)| (k, js_value(v))).collect())
        }
        other => other,
    }
}

// jmespath-community functions

fn from_items(_: &Interpreter<'_>, args: &[Arg<'_>]) -> Result<Value> {
    let mut out = Map::new();
    for (i, pair) in array(args, 0).iter().enumerate() {
        let Some([Value::String(key), item]) = pair.as_array().map(Vec::as_slice) else {
            return Err(Error::InvalidValue(format!(
                "from_items() expects [key, value] pairs with a string key, element {} is {}",
                i + 1,
                to_json(pair)
            )));
        };
        out.insert(key.clone(), item.clone());
    }
    Ok(Value::Object(out))
}

/// The elements by the string the expression gives for them; `null` leaves one out.
fn group_by(interpreter: &Interpreter<'_>, args: &[Arg<'_>]) -> Result<Value> {
    let node = expref(args, 1)?;
    let mut groups = Map::new();
    for item in array(args, 0) {
        match interpreter.eval_ref(node, item)? {
            Value::String(key) => {
                let group = groups
                    .entry(key)
                    .or_insert_with(|| Value::Array(Vec::new()));
                if let Value::Array(members) = group {
                    members.push(item.clone());
                }
            }
            Value::Null => {}
            other => {
                return Err(Error::InvalidType(format!(
                    "group_by() expects the expression to give a string or null, received {}",
                    type_phrase(&other)
                )))
            }
        }
    }
    Ok(Value::Object(groups))
}

/// Argument `i` of `function` when it is given: a number without a fraction, else an
/// `invalid-value` error that calls it `name`.
fn integer(args: &[Arg<'_>], i: usize, function: &str, name: &str) -> Result<Option<f64>> {
    let arg = value(args, i);
    let Value::Number(n) = arg else {
        return Ok(None);
    };
    let n = json::as_f64(n);
    if n.is_finite() && n.fract() == 0.0 {
        Ok(Some(n))
    } else {
        Err(Error::InvalidValue(format!(
            "{function}() expects {name} to be an integer, received {}",
            to_json(arg)
        )))
    }
}

/// Argument `i` of `function` when it is given: an integer of at least 0, else an
/// `invalid-value` error that calls it `name`. Beyond `usize::MAX` it saturates.
fn count(args: &[Arg<'_>], i: usize, function: &str, name: &str) -> Result<Option<usize>> {
    match integer(args, i, function, name)? {
        Some(n) if n < 0.0 => Err(Error::InvalidValue(format!(
            "{function}() expects {name} to be a non-negative integer, received {}",
            to_json(value(args, i))
        ))),
        other => Ok(other.map(|n| n as usize)),
    }
}

/// A slice bound `index` for a sequence of `len`: from the end when negative, then kept
/// within `0..=len`.
fn slice_bound(index: f64, len: usize) -> usize {
    let len_f = len as f64;
    let index = if index < 0.0 { index + len_f } else { index };
    index.clamp(0.0, len_f) as usize
}

/// `find_first()` and (`last`) `find_last()`: the code point index of the first or last
/// occurrence of the substring that lies wholly within `subject[start:end]`.
fn find(args: &[Arg<'_>], function: &str, last: bool) -> Result<Value> {
    let subject = string(args, 0);
    let sub = string(args, 1);
    let start = integer(args, 2, function, "start")?;
    let end = integer(args, 3, function, "end")?;
    if subject.is_empty() || sub.is_empty() {
        return Ok(Value::Null);
    }
    let len = subject.chars().count();
    let start = start.map_or(0, |n| slice_bound(n, len));
    let end = end.map_or(len, |n| slice_bound(n, len));
    if start >= end {
        return Ok(Value::Null);
    }
    let byte = |index: usize| {
        subject
            .char_indices()
            .nth(index)
            .map_or(subject.len(), |(at, _)| at)
    };
    let window = &subject[byte(start)..byte(end)];
    let found = if last {
        window.rfind(sub)
    } else {
        window.find(sub)
    };
    Ok(found.map_or(Value::Null, |at| {
        Value::from(start + window[..at].chars().count())
    }))
}

/// `pad_left()` and `pad_right()`: the subject widened to `width` characters with the pad
/// character (a space by default) before (`left`) or after it.
fn pad(args: &[Arg<'_>], function: &str, left: bool) -> Result<Value> {
    let subject = string(args, 0);
    let width = count(args, 1, function, "width")?.unwrap_or(0);
    let fill = match value(args, 2) {
        Value::String(pad) => {
            let mut chars = pad.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) => c,
                _ => {
                    return Err(Error::InvalidValue(format!(
                        "{function}() expects pad to be a single character, received {}",
                        to_json(value(args, 2))
                    )))
                }
            }
        }
        _ => ' ',
    };
    let len = subject.chars().count();
    if width <= len {
        return Ok(Value::String(subject.to_string()));
    }
    if width > MAX_PAD_WIDTH {
        return Err(Error::InvalidValue(format!(
            "{function}() would build {width} characters, more than the limit of {MAX_PAD_WIDTH}"
        )));
    }
    let padding: String = std::iter::repeat_n(fill, width - len).collect();
    Ok(Value::String(if left {
        padding + subject
    } else {
        format!("{subject}{padding}")
    }))
}

fn replace(_: &Interpreter<'_>, args: &[Arg<'_>]) -> Result<Value> {
    let (subject, old, new) = (string(args, 0), string(args, 1), string(args, 2));
    Ok(Value::String(match count(args, 3, "replace", "count")? {
        Some(n) => subject.replacen(old, new, n),
        None => subject.replace(old, new),
    }))
}

fn split(_: &Interpreter<'_>, args: &[Arg<'_>]) -> Result<Value> {
    let (subject, search) = (string(args, 0), string(args, 1));
    let limit = count(args, 2, "split", "count")?;
    let parts: Vec<&str> = if search.is_empty() {
        // Every character on its own, up to `limit` of them, then the rest in one piece.
        let mut parts = Vec::new();
        let mut rest = subject;
        while limit.is_none_or(|n| parts.len() < n) {
            let mut chars = rest.chars();
            if chars.next().is_none() {
                break;
            }
            let tail = chars.as_str();
            parts.push(&rest[..rest.len() - tail.len()]);
            rest = tail;
        }
        if !rest.is_empty() {
            parts.push(rest);
        }
        parts
    } else {
        match limit {
            Some(n) => subject.splitn(n.saturating_add(1), search).collect(),
            None => subject.split(search).collect(),
        }
    };
    Ok(Value::Array(
        parts
            .into_iter()
            .map(|part| Value::String(part.to_string()))
            .collect(),
    ))
}

/// `trim()`, `trim_left()` and `trim_right()`: the subject without the leading (`start`)
/// and/or trailing (`end`) characters of the set; without one (or with `''`), whitespace.
fn trim(args: &[Arg<'_>], start: bool, end: bool) -> Value {
    let set = string(args, 1);
    let strip = |c: char| {
        if set.is_empty() {
            c.is_whitespace()
        } else {
            set.contains(c)
        }
    };
    let mut text = string(args, 0);
    if start {
        text = text.trim_start_matches(strip);
    }
    if end {
        text = text.trim_end_matches(strip);
    }
    Value::String(text.to_string())
}

fn zip(_: &Interpreter<'_>, args: &[Arg<'_>]) -> Result<Value> {
    let arrays: Vec<&[Value]> = values(args)
        .map(|v| v.as_array().map_or(&[][..], Vec::as_slice))
        .collect();
    let len = arrays.iter().map(|a| a.len()).min().unwrap_or(0);
    Ok(Value::Array(
        (0..len)
            .map(|i| Value::Array(arrays.iter().map(|a| a[i].clone()).collect()))
            .collect(),
    ))
}

// LetsFlow extensions

fn range(_: &Interpreter<'_>, args: &[Arg<'_>]) -> Result<Value> {
    let (start, end) = match args.len() {
        1 => (0.0, number(value(args, 0))),
        _ => (number(value(args, 0)), number(value(args, 1))),
    };
    let prefix = value(args, 2).as_str();
    let count = (end - start).ceil().max(0.0);
    if count > MAX_RANGE {
        return Err(Error::InvalidValue(format!(
            "range() would build {count} elements, more than the limit of {MAX_RANGE}"
        )));
    }
    // Count the steps rather than add 1 until `end`: near 2^53 and beyond, `n + 1.0 == n`.
    let count = count as u64;
    let mut out = Vec::with_capacity(usize::try_from(count).unwrap_or_default());
    for i in 0..count {
        let item = json::number(start + i as f64);
        out.push(match (prefix, &item) {
            (Some(prefix), Value::Number(num)) => {
                Value::String(format!("{prefix}{}", json::number_to_string(num)))
            }
            _ => item,
        });
    }
    Ok(Value::Array(out))
}

fn to_object(_: &Interpreter<'_>, args: &[Arg<'_>]) -> Result<Value> {
    let mut out = Map::new();
    for (i, pair) in array(args, 0).iter().enumerate() {
        let key = match pair.as_array().map(Vec::as_slice) {
            Some([Value::String(key), item]) => (key.clone(), item),
            Some([Value::Number(key), item]) => (json::number_to_string(key), item),
            _ => {
                return Err(Error::InvalidValue(format!(
                    "to_object() expects [key, value] pairs with a string or number key, \
                     element {} is {}",
                    i + 1,
                    to_json(pair)
                )))
            }
        };
        out.insert(key.0, key.1.clone());
    }
    Ok(Value::Object(out))
}

fn uuid(interpreter: &Interpreter<'_>, args: &[Arg<'_>]) -> Result<Value> {
    let Some(name) = value(args, 0).as_str() else {
        let entropy = interpreter.env.entropy.ok_or(Error::MissingEntropy)?;
        return Ok(Value::String(entropy.next_uuid().to_string()));
    };
    let namespace = match value(args, 1).as_str() {
        None => Uuid::nil(),
        Some(text) => Uuid::parse_str(text).map_err(|e| {
            Error::InvalidValue(format!("uuid() namespace '{text}' is not a UUID: {e}"))
        })?,
    };
    Ok(Value::String(
        Uuid::new_v5(&namespace, name.as_bytes()).to_string(),
    ))
}

/// A compiled `/pattern/flags` regex.
struct JsRegex {
    regex: fancy_regex::Regex,
    global: bool,
    source: String,
}

impl JsRegex {
    fn compile(spec: &str, function: &str) -> Result<JsRegex> {
        let (pattern, flags) = split_regex(spec);
        let mut builder = fancy_regex::RegexBuilder::new(pattern);
        let mut global = false;
        for flag in flags.chars() {
            match flag {
                'i' => {
                    builder.case_insensitive(true);
                }
                'm' => {
                    builder.multi_line(true);
                }
                's' => {
                    builder.dot_matches_new_line(true);
                }
                'g' => global = true,
                'u' | 'd' => {}
                other => {
                    return Err(Error::InvalidValue(format!(
                        "{function}() does not support the regex flag '{other}' in {spec}"
                    )))
                }
            }
        }
        let regex = builder.build().map_err(|e| {
            Error::InvalidValue(format!(
                "{function}() received an invalid regex {spec}: {e}"
            ))
        })?;
        Ok(JsRegex {
            regex,
            global,
            source: spec.to_string(),
        })
    }

    /// The error for a match that could not complete (the backtracking limit).
    fn failed(&self, e: fancy_regex::Error) -> Error {
        Error::InvalidValue(format!("regex {} failed: {e}", self.source))
    }
}

/// `/pattern/flags` into pattern and flags; anything else is a bare pattern.
fn split_regex(spec: &str) -> (&str, &str) {
    if let Some(rest) = spec.strip_prefix('/') {
        if let Some(end) = rest.rfind('/') {
            let flags = &rest[end + 1..];
            if flags.chars().all(|c| c.is_ascii_alphabetic()) {
                return (&rest[..end], flags);
            }
        }
    }
    (spec, "")
}

/// `[match, group1, …]` with `null` for groups that did not take part.
fn captures_array(captures: &fancy_regex::Captures<'_, str>) -> Value {
    Value::Array(
        (0..captures.len())
            .map(|i| {
                captures
                    .get(i)
                    .map_or(Value::Null, |m| Value::String(m.as_str().to_string()))
            })
            .collect(),
    )
}

fn regex_match(interpreter: &Interpreter<'_>, args: &[Arg<'_>]) -> Result<Value> {
    let re = interpreter
        .env
        .runtime
        .regex(string(args, 0), "regex_match")?;
    let text = string(args, 1);
    if re.global {
        let mut all = Vec::new();
        for found in re.regex.find_iter(text) {
            let found = found.map_err(|e| re.failed(e))?;
            all.push(Value::String(found.as_str().to_string()));
        }
        return Ok(if all.is_empty() {
            Value::Null
        } else {
            Value::Array(all)
        });
    }
    let captures = re.regex.captures(text).map_err(|e| re.failed(e))?;
    Ok(captures.map_or(Value::Null, |c| captures_array(&c)))
}

fn regex_replace(interpreter: &Interpreter<'_>, args: &[Arg<'_>]) -> Result<Value> {
    let re = interpreter
        .env
        .runtime
        .regex(string(args, 0), "regex_replace")?;
    let replacement = string(args, 1);
    let text = string(args, 2);
    let names: Vec<Option<&str>> = re.regex.capture_names().collect();
    let has_names = names.iter().any(Option::is_some);
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for captures in re.regex.captures_iter(text) {
        let captures = captures.map_err(|e| re.failed(e))?;
        let Some(whole) = captures.get(0) else {
            continue;
        };
        out.push_str(&text[last..whole.start()]);
        expand_replacement(replacement, &captures, text, has_names, &mut out);
        last = whole.end();
        if !re.global {
            break;
        }
    }
    out.push_str(&text[last..]);
    Ok(Value::String(out))
}

/// Appends `replacement` with JavaScript's `$` patterns resolved against `captures`.
fn expand_replacement(
    replacement: &str,
    captures: &fancy_regex::Captures<'_, str>,
    text: &str,
    has_names: bool,
    out: &mut String,
) {
    let group_text = |i: usize| captures.get(i).map_or("", |m| m.as_str());
    let groups = captures.len().saturating_sub(1);
    let whole = captures.get(0);
    let mut rest = replacement;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let mut chars = after.chars();
        let consumed = match chars.next() {
            Some('$') => {
                out.push('$');
                1
            }
            Some('&') => {
                out.push_str(group_text(0));
                1
            }
            Some('`') => {
                out.push_str(&text[..whole.map_or(0, |m| m.start())]);
                1
            }
            Some('\'') => {
                out.push_str(&text[whole.map_or(text.len(), |m| m.end())..]);
                1
            }
            Some(d1) if d1.is_ascii_digit() => {
                let one = d1.to_digit(10).unwrap_or(0) as usize;
                let two = chars
                    .next()
                    .filter(char::is_ascii_digit)
                    .and_then(|d2| d2.to_digit(10))
                    .map(|d2| one * 10 + d2 as usize);
                match two {
                    Some(n) if n >= 1 && n <= groups => {
                        out.push_str(group_text(n));
                        2
                    }
                    _ if one >= 1 && one <= groups => {
                        out.push_str(group_text(one));
                        1
                    }
                    _ => {
                        out.push('$');
                        0
                    }
                }
            }
            Some('<') if has_names => match after.find('>') {
                Some(close) => {
                    let name = &after[1..close];
                    out.push_str(captures.name(name).map_or("", |m| m.as_str()));
                    close + 1
                }
                None => {
                    out.push('$');
                    0
                }
            },
            _ => {
                out.push('$');
                0
            }
        };
        rest = &after[consumed..];
    }
    out.push_str(rest);
}

#[cfg(test)]
mod tests {
    use super::super::{search, Expression};
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
    fn standard_functions_compute_numbers_as_javascript() {
        assert_eq!(eval("sum(@)", json!([1, 2])), json!(3));
        assert!(eval("sum(@)", json!([1.5, 1.5])).is_i64());
        assert_eq!(eval("avg(@)", json!([2, 4])), json!(3));
        assert!(eval("avg(@)", json!([2, 4])).is_i64());
        assert_eq!(eval("avg(@)", json!([])), Value::Null);
        assert_eq!(eval("to_string(@)", json!(1.5)), json!("1.5"));
        assert_eq!(eval("to_string(@)", json!(1e21)), json!("1e+21"));
        assert_eq!(
            eval("to_string(@)", json!({"b": 1, "a": [true, null]})),
            json!(r#"{"b":1,"a":[true,null]}"#)
        );
        assert_eq!(eval("to_number('1e3')", json!(null)), json!(1000));
        assert_eq!(eval("to_number(' 2.5 ')", json!(null)), json!(2.5));
        assert_eq!(eval("to_number('0x10')", json!(null)), Value::Null);
        assert_eq!(eval("to_number('inf')", json!(null)), Value::Null);
        assert_eq!(eval("to_number('')", json!(null)), Value::Null);
        assert_eq!(eval("length('✓ok')", json!(null)), json!(3));
        assert_eq!(eval("ceil(`1.2`)", json!(null)), json!(2));
        assert_eq!(eval("keys(@)", json!({"b": 1, "a": 2})), json!(["b", "a"]));
        assert_eq!(eval("values(@)", json!({"b": 1, "a": 2})), json!([1, 2]));
        assert_eq!(
            eval("merge(@, `{\"b\": 3, \"c\": 4}`)", json!({"b": 1, "a": 2})),
            json!({"b": 3, "a": 2, "c": 4})
        );
        assert_eq!(eval("contains(@, `1.0`)", json!([1, 2])), json!(true));
        assert_eq!(
            eval("sort(@)", json!(["b", "a", "\u{ff5e}", "\u{1f600}"])),
            json!(["a", "b", "\u{1f600}", "\u{ff5e}"])
        );
        assert_eq!(
            eval(
                "max_by(@, &a).b",
                json!([{"a": 1, "b": 1}, {"a": 2, "b": 2}, {"a": 2, "b": 3}])
            ),
            json!(2)
        );
        assert_eq!(eval("min(@)", json!([])), Value::Null);
        assert_eq!(eval("type(@)", json!(1.5)), json!("number"));
    }

    #[test]
    fn signature_errors() {
        assert_eq!(
            error("abs('x')", json!(null)),
            Error::InvalidType("abs() expects argument 1 to be a number, received a string".into())
        );
        assert_eq!(
            error("max(@)", json!([1, "a"])).to_string(),
            "invalid type: max() expects argument 1 to be an array of numbers or an array of \
             strings, received an array with a string"
        );
        assert_eq!(
            error("sort_by(@, a)", json!([])).to_string(),
            "invalid type: sort_by() expects argument 2 to be an expression (&…), received null"
        );
        assert_eq!(
            error("not_null()", json!(null)).to_string(),
            "invalid arity: not_null() takes at least 1 argument, received 0"
        );
        assert_eq!(
            error("range()", json!(null)).to_string(),
            "invalid arity: range() takes 1 to 3 arguments, received 0"
        );
        assert_eq!(
            error("abs(`1`, `2`)", json!(null)).to_string(),
            "invalid arity: abs() takes 1 argument, received 2"
        );
        assert_eq!(
            error("sort_by(@, &a)", json!([{"a": 1}, {"a": "x"}])).to_string(),
            "invalid type: sort_by() expects the expression to give only numbers or only \
             strings, received a string"
        );
        assert_eq!(
            error("nope()", json!(null)),
            Error::UnknownFunction("nope".into())
        );
    }

    #[test]
    fn typed_array_errors_name_the_misfit_element() {
        assert_eq!(
            error("from_items(@)", json!([["a", 1], "b"])).to_string(),
            "invalid type: from_items() expects argument 1 to be an array of arrays, received \
             an array with a string"
        );
        assert_eq!(
            error("sum(@)", json!([1, [2]])).to_string(),
            "invalid type: sum() expects argument 1 to be an array of numbers, received an \
             array with an array"
        );
        assert_eq!(
            error("keys(@)", json!(["a"])).to_string(),
            "invalid type: keys() expects argument 1 to be an object, received an array"
        );
    }

    #[test]
    fn items_and_from_items() {
        assert_eq!(
            eval("items(@)", json!({"b": 1, "a": [2]})),
            json!([["b", 1], ["a", [2]]])
        );
        assert_eq!(eval("items(@)", json!({})), json!([]));
        assert_eq!(
            eval(
                "sort_by(items(@), &[1])",
                json!({"z": "last", "b": "second"})
            ),
            json!([["z", "last"], ["b", "second"]])
        );
        assert_eq!(
            error("items(@)", json!("x")),
            Error::InvalidType(
                "items() expects argument 1 to be an object, received a string".into()
            )
        );

        assert_eq!(
            eval("from_items(@)", json!([["one", 1], ["two", 2], ["one", 3]])),
            json!({"one": 3, "two": 2})
        );
        assert_eq!(
            eval("keys(from_items(@))", json!([["b", 1], ["a", 2], ["b", 3]])),
            json!(["b", "a"]),
            "a repeated key keeps its first place"
        );
        assert_eq!(
            eval("from_items(items(@))", json!({"x": [null], "y": {"z": 1}})),
            json!({"x": [null], "y": {"z": 1}})
        );
        assert_eq!(eval("from_items(`[]`)", json!(null)), json!({}));
        assert_eq!(
            error("from_items(@)", json!([["a", 1], ["b"]])),
            Error::InvalidValue(
                "from_items() expects [key, value] pairs with a string key, element 2 is [\"b\"]"
                    .into()
            )
        );
        assert_eq!(
            error("from_items(@)", json!([[1, "a"]])).kind(),
            "invalid-value"
        );
        assert_eq!(
            error("from_items(@)", json!([["a", 1, 2]])).kind(),
            "invalid-value"
        );
        assert_eq!(error("from_items(@)", json!({})).kind(), "invalid-type");
    }

    #[test]
    fn zip_pairs_elements_up_to_the_shortest_array() {
        assert_eq!(
            eval("zip(`[\"a\", \"b\"]`, `[1, 2]`)", json!(null)),
            json!([["a", 1], ["b", 2]])
        );
        assert_eq!(
            eval(
                "zip(a, b, c)",
                json!({"a": [1, 2, 3], "b": ["x", "y"], "c": [true, null, 0]})
            ),
            json!([[1, "x", true], [2, "y", null]])
        );
        assert_eq!(eval("zip(@)", json!([1, 2])), json!([[1], [2]]));
        assert_eq!(eval("zip(`[]`, `[1]`)", json!(null)), json!([]));
        assert_eq!(
            error("zip()", json!(null)),
            Error::InvalidArity {
                function: "zip".into(),
                expected: "at least 1 argument".into(),
                received: 0
            }
        );
        assert_eq!(
            error("zip(`[1]`, 'x')", json!(null)).to_string(),
            "invalid type: zip() expects argument 2 to be an array, received a string"
        );
    }

    #[test]
    fn group_by_groups_by_string_keys() {
        let people = json!([
            {"name": "a", "n": 1},
            {"name": "b", "n": 2},
            {"name": "a", "n": 3},
            {"n": 4}
        ]);
        assert_eq!(
            eval("group_by(@, &name)", people.clone()),
            json!({
                "a": [{"name": "a", "n": 1}, {"name": "a", "n": 3}],
                "b": [{"name": "b", "n": 2}]
            }),
            "null keys are left out"
        );
        assert_eq!(
            eval("group_by(@, &name).a[*].n", people.clone()),
            json!([1, 3])
        );
        assert_eq!(
            eval("group_by(@, &@)", json!(["x", "y", "x"])),
            json!({"x": ["x", "x"], "y": ["y"]})
        );
        assert_eq!(eval("group_by(`[]`, &a)", json!(null)), json!({}));
        assert_eq!(
            error("group_by(@, &n)", people.clone()),
            Error::InvalidType(
                "group_by() expects the expression to give a string or null, received a number"
                    .into()
            )
        );
        assert_eq!(
            error("group_by(@, name)", people).to_string(),
            "invalid type: group_by() expects argument 2 to be an expression (&…), received null"
        );
        assert_eq!(
            error("group_by(`{}`, &a)", json!(null)).kind(),
            "invalid-type"
        );
    }

    #[test]
    fn find_first_and_find_last_count_code_points() {
        let subject = json!("subject string");
        let find = |expr: &str| eval(expr, subject.clone());
        assert_eq!(find("find_first(@, 'string')"), json!(8));
        assert_eq!(find("find_first(@, 'string', `0`, `14`)"), json!(8));
        assert_eq!(find("find_first(@, 'string', `-99`, `100`)"), json!(8));
        assert_eq!(find("find_first(@, 'string', `-6`)"), json!(8));
        assert_eq!(find("find_first(@, 'string', `0`, `13`)"), Value::Null);
        assert_eq!(find("find_first(@, 'string', `8`, `-1`)"), Value::Null);
        assert_eq!(find("find_first(@, 'string', `9`)"), Value::Null);
        assert_eq!(find("find_first(@, 's')"), json!(0));
        assert_eq!(find("find_first(@, 's', `1`)"), json!(8));
        assert_eq!(find("find_first(@, 's', `5`, `2`)"), Value::Null);
        assert_eq!(find("find_first(@, '')"), Value::Null);
        assert_eq!(eval("find_first('', '')", json!(null)), Value::Null);
        assert_eq!(find("find_last(@, 's')"), json!(8));
        assert_eq!(find("find_last(@, 'string', `8`)"), json!(8));
        assert_eq!(find("find_last(@, 'string', `8`, `9`)"), Value::Null);
        assert_eq!(find("find_last(@, 's', `-6`)"), json!(8));
        assert_eq!(find("find_last(@, 's', `0`, `7`)"), json!(0));
        assert_eq!(find("find_last(@, '')"), Value::Null);
        assert_eq!(
            eval("find_first(@, 'b')", json!("😀é-b")),
            json!(3),
            "an index in characters, not bytes or UTF-16 units"
        );
        assert_eq!(eval("find_last(@, 'é', `1`, `3`)", json!("éaéb")), json!(2));
        assert_eq!(eval("find_first(@, 'a', `1.0`)", json!("aa")), json!(1));
        assert_eq!(
            error("find_first(@, 's', `1.5`)", subject.clone()),
            Error::InvalidValue("find_first() expects start to be an integer, received 1.5".into())
        );
        assert_eq!(
            error("find_last(@, 's', `0`, `2.5`)", subject.clone()).kind(),
            "invalid-value"
        );
        assert_eq!(
            error("find_first(@, 's', '1')", subject.clone()).to_string(),
            "invalid type: find_first() expects argument 3 to be a number, received a string"
        );
        assert_eq!(
            error("find_first(@, 's', `0`, `1`, `2`)", subject.clone()).to_string(),
            "invalid arity: find_first() takes 2 to 4 arguments, received 5"
        );
        assert_eq!(error("find_last(`1`, 's')", subject).kind(), "invalid-type");
    }

    #[test]
    fn lower_and_upper_use_unicode_case_mapping() {
        assert_eq!(eval("lower('STRING')", json!(null)), json!("string"));
        assert_eq!(eval("lower(@)", json!("ÀÉ ΣΑΣ")), json!("àé σας"));
        assert_eq!(eval("upper('string')", json!(null)), json!("STRING"));
        assert_eq!(eval("upper(@)", json!("straße")), json!("STRASSE"));
        assert_eq!(
            error("lower(`1`)", json!(null)),
            Error::InvalidType(
                "lower() expects argument 1 to be a string, received a number".into()
            )
        );
        assert_eq!(error("upper(@)", json!(["a"])).kind(), "invalid-type");
    }

    #[test]
    fn pad_left_and_pad_right() {
        assert_eq!(eval("pad_left(@, `0`)", json!("string")), json!("string"));
        assert_eq!(eval("pad_left(@, `5`)", json!("string")), json!("string"));
        assert_eq!(
            eval("pad_left(@, `10`)", json!("string")),
            json!("    string")
        );
        assert_eq!(
            eval("pad_left(@, `10`, '-')", json!("string")),
            json!("----string")
        );
        assert_eq!(
            eval("pad_right(@, `10`)", json!("string")),
            json!("string    ")
        );
        assert_eq!(
            eval("pad_right(@, `10`, '-')", json!("string")),
            json!("string----")
        );
        assert_eq!(
            eval("pad_left(@, `4`, '😀')", json!("ié")),
            json!("😀😀ié"),
            "widths count characters"
        );
        assert_eq!(eval("pad_right('', `2`, '*')", json!(null)), json!("**"));
        assert_eq!(
            error("pad_left('a', `3`, '--')", json!(null)),
            Error::InvalidValue(
                "pad_left() expects pad to be a single character, received \"--\"".into()
            )
        );
        assert_eq!(
            error("pad_right('a', `3`, '')", json!(null)).kind(),
            "invalid-value"
        );
        assert_eq!(
            error("pad_left('a', `1.4`)", json!(null)).to_string(),
            "invalid value: pad_left() expects width to be an integer, received 1.4"
        );
        assert_eq!(
            error("pad_right('a', `-1`)", json!(null)).to_string(),
            "invalid value: pad_right() expects width to be a non-negative integer, received -1"
        );
        assert_eq!(
            error("pad_left('a', `1e7`)", json!(null)).to_string(),
            "invalid value: pad_left() would build 10000000 characters, more than the limit of \
             1000000"
        );
        assert_eq!(
            error("pad_left('a', '1')", json!(null)).kind(),
            "invalid-type"
        );
        assert_eq!(error("pad_right('a')", json!(null)).kind(), "invalid-arity");
    }

    #[test]
    fn replace_replaces_all_or_count_occurrences() {
        let text = json!("aabaaabaaaab");
        assert_eq!(eval("replace(@, 'aa', '-', `0`)", text.clone()), text);
        assert_eq!(
            eval("replace(@, 'aa', '-', `1`)", text.clone()),
            json!("-baaabaaaab")
        );
        assert_eq!(
            eval("replace(@, 'aa', '-', `2`)", text.clone()),
            json!("-b-abaaaab")
        );
        assert_eq!(
            eval("replace(@, 'aa', '-', `3`)", text.clone()),
            json!("-b-ab-aab")
        );
        assert_eq!(
            eval("replace(@, 'aa', '-')", text.clone()),
            json!("-b-ab--b")
        );
        assert_eq!(
            eval("replace(@, 'aa', '-', `99`)", text.clone()),
            json!("-b-ab--b")
        );
        assert_eq!(eval("replace(@, 'x', '-')", text.clone()), text);
        assert_eq!(
            eval("replace('ab', '', '-')", json!(null)),
            json!("-a-b-"),
            "an empty search matches between characters"
        );
        assert_eq!(
            eval("replace('ab', '', '-', `2`)", json!(null)),
            json!("-a-b")
        );
        assert_eq!(
            eval("replace('😀a😀', '😀', 'b')", json!(null)),
            json!("bab")
        );
        assert_eq!(
            error("replace(@, 'aa', '-', `0.5`)", text.clone()),
            Error::InvalidValue("replace() expects count to be an integer, received 0.5".into())
        );
        assert_eq!(
            error("replace(@, 'aa', '-', `-1`)", text.clone()).kind(),
            "invalid-value"
        );
        assert_eq!(error("replace(@, 'aa', `1`)", text).kind(), "invalid-type");
    }

    #[test]
    fn split_breaks_on_a_separator() {
        let text = json!("avg|-|min|-|max|-|mean");
        assert_eq!(
            eval("split(@, '|-|')", text.clone()),
            json!(["avg", "min", "max", "mean"])
        );
        assert_eq!(
            eval("split(@, '|-|', `2`)", text.clone()),
            json!(["avg", "min", "max|-|mean"])
        );
        assert_eq!(
            eval("split(@, '|-|', `0`)", text.clone()),
            json!([text.clone()])
        );
        assert_eq!(
            eval("split(@, '|-|', `9`)", text.clone()),
            json!(["avg", "min", "max", "mean"])
        );
        assert_eq!(
            eval("split(@, '-')", text.clone()),
            json!(["avg|", "|min|", "|max|", "|mean"])
        );
        assert_eq!(eval("split('/', '/')", json!(null)), json!(["", ""]));
        assert_eq!(eval("split('', '/')", json!(null)), json!([""]));
        assert_eq!(eval("split('', '')", json!(null)), json!([]));
        assert_eq!(eval("split('', '', `0`)", json!(null)), json!([]));
        assert_eq!(
            eval("split('a😀c', '')", json!(null)),
            json!(["a", "😀", "c"])
        );
        assert_eq!(
            eval("split('all chars', '', `3`)", json!(null)),
            json!(["a", "l", "l", " chars"])
        );
        assert_eq!(eval("split('ab', '', `2`)", json!(null)), json!(["a", "b"]));
        assert_eq!(eval("split('ab', '', `0`)", json!(null)), json!(["ab"]));
        assert_eq!(
            error("split('/', '/', `3.7`)", json!(null)),
            Error::InvalidValue("split() expects count to be an integer, received 3.7".into())
        );
        assert_eq!(
            error("split('/', '/', `-1`)", json!(null)).to_string(),
            "invalid value: split() expects count to be a non-negative integer, received -1"
        );
        assert_eq!(error("split('/', `1`)", json!(null)).kind(), "invalid-type");
    }

    #[test]
    fn trim_removes_whitespace_or_a_set_of_characters() {
        let text = json!("   subject string   ");
        assert_eq!(eval("trim(@)", text.clone()), json!("subject string"));
        assert_eq!(eval("trim(@, '')", text.clone()), json!("subject string"));
        assert_eq!(eval("trim(@, 's')", text.clone()), text);
        assert_eq!(eval("trim(@, 'su ')", text.clone()), json!("bject string"));
        assert_eq!(eval("trim(@, 'gsu ')", text.clone()), json!("bject strin"));
        assert_eq!(
            eval("trim_left(@)", text.clone()),
            json!("subject string   ")
        );
        assert_eq!(
            eval("trim_left(@, 'gsu ')", text.clone()),
            json!("bject string   ")
        );
        assert_eq!(
            eval("trim_right(@)", text.clone()),
            json!("   subject string")
        );
        assert_eq!(
            eval("trim_right(@, 'gsu ')", text.clone()),
            json!("   subject strin")
        );
        assert_eq!(
            eval(
                "trim(@)",
                json!("\t\n\u{b}\u{c}\r \u{85}\u{a0}\u{1680}\u{2000}\u{200a}\u{2028}\u{2029}\u{202f}\u{205f}\u{3000}x\u{3000}")
            ),
            json!("x"),
            "Unicode White_Space"
        );
        assert_eq!(
            eval("trim(@)", json!("\u{200b}x")),
            json!("\u{200b}x"),
            "not White_Space"
        );
        assert_eq!(eval("trim(@, '😀')", json!("😀a😀😀")), json!("a"));
        assert_eq!(
            error("trim(@, `1`)", text.clone()),
            Error::InvalidType(
                "trim() expects argument 2 to be a string, received a number".into()
            )
        );
        assert_eq!(error("trim_left(`1`)", json!(null)).kind(), "invalid-type");
        assert_eq!(error("trim_right()", json!(null)).kind(), "invalid-arity");
    }

    #[test]
    fn range_builds_numbers_or_prefixed_strings() {
        assert_eq!(eval("range(3)", json!(null)), json!([0, 1, 2]));
        assert_eq!(eval("range(1, 4)", json!(null)), json!([1, 2, 3]));
        assert_eq!(
            eval("range(1, 4, 'p')", json!(null)),
            json!(["p1", "p2", "p3"])
        );
        assert_eq!(eval("range(`0.5`, 2)", json!(null)), json!([0.5, 1.5]));
        assert_eq!(eval("range(4, 1)", json!(null)), json!([]));
        assert_eq!(eval("range(-2, 0)", json!(null)), json!([-2, -1]));
        assert_eq!(error("range('a')", json!(null)).kind(), "invalid-type");
        assert_eq!(
            error("range(1, 2, `3`)", json!(null)).kind(),
            "invalid-type"
        );
        assert_eq!(error("range(`1e7`)", json!(null)).kind(), "invalid-value");
        assert_eq!(
            eval("range(`9007199254740992`, `9007199254740994`)", json!(null)),
            json!([9007199254740992.0, 9007199254740993.0]),
            "ends where n + 1 == n"
        );
    }

    #[test]
    fn to_object_builds_objects_from_pairs() {
        assert_eq!(
            eval("to_object(@)", json!([["a", 1], ["b", [2]], [3, "c"]])),
            json!({"a": 1, "b": [2], "3": "c"})
        );
        assert_eq!(eval("to_object(`[]`)", json!(null)), json!({}));
        assert_eq!(
            eval(
                "to_object([['key1', 'value1'], ['key2', 'value2']])",
                json!(null)
            ),
            json!({"key1": "value1", "key2": "value2"})
        );
        assert_eq!(
            error("to_object(@)", json!([["a"]])).to_string(),
            "invalid value: to_object() expects [key, value] pairs with a string or number \
             key, element 1 is [\"a\"]"
        );
        assert_eq!(
            error("to_object(@)", json!([[true, 1]])).kind(),
            "invalid-value"
        );
        assert_eq!(error("to_object(@)", json!({})).kind(), "invalid-type");
    }

    #[test]
    fn json_serialize_and_parse() {
        assert_eq!(
            eval("json_serialize(@)", json!({"b": 1.0, "a": [1.5, "x"]})),
            json!(r#"{"a":[1.5,"x"],"b":1}"#)
        );
        assert_eq!(
            eval("json_parse(@)", json!(r#"{"a": [1.0, 2]}"#)),
            json!({"a": [1, 2]})
        );
        assert!(eval("json_parse(@).a[0]", json!(r#"{"a": [1.0]}"#)).is_i64());
        assert_eq!(
            eval("json_parse(json_serialize(@))", json!({"x": [null]})),
            json!({"x": [null]})
        );
        assert_eq!(
            error("json_parse('{')", json!(null)).kind(),
            "invalid-value"
        );
        assert_eq!(error("json_parse(`1`)", json!(null)).kind(), "invalid-type");
    }

    #[test]
    fn hashes_are_lowercase_hex() {
        assert_eq!(
            eval("sha256('hello')", json!(null)),
            json!("2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824")
        );
        assert_eq!(
            eval("sha512('hello')", json!(null)),
            json!("9b71d224bd62f3785d96d46ad3ea3d73319bfbc2890caadae2dff72519673ca72323c3d99ba5c11d7c7acc6e14b8c5da0c4663475c2e5c3adef46f73bcdec043")
        );
        assert_eq!(error("sha256(`1`)", json!(null)).kind(), "invalid-type");
        assert_eq!(error("sha512(@)", json!(null)).kind(), "invalid-type");
    }

    #[test]
    fn uuid_v5_with_a_name() {
        assert_eq!(
            eval("uuid('example')", json!(null)),
            json!("feb54431-301b-52bb-a6dd-e1e93e81bb9e")
        );
        assert_eq!(
            eval(
                "uuid('example', '6ba7b810-9dad-11d1-80b4-00c04fd430c8')",
                json!(null)
            ),
            json!("7cb48787-6d91-5b9f-bc60-f30298ea5736")
        );
        assert_eq!(
            error("uuid('x', 'nope')", json!(null)).kind(),
            "invalid-value"
        );
        assert_eq!(error("uuid(`1`)", json!(null)).kind(), "invalid-type");
        assert_eq!(error("uuid()", json!(null)), Error::MissingEntropy);
    }

    #[test]
    fn entropy_is_deterministic() {
        let draw = |seed: [u8; 32]| {
            let entropy = Entropy::new(seed);
            (0..3).map(|_| entropy.next_uuid()).collect::<Vec<_>>()
        };
        let a = draw([7; 32]);
        assert_eq!(a, draw([7; 32]), "same seed, same uuids");
        assert_ne!(a, draw([8; 32]), "different seed, different uuids");
        assert_ne!(a[0], a[1], "each call gives a new uuid");
        for id in &a {
            assert_eq!(id.get_version_num(), 4);
            assert_eq!(id.get_variant(), uuid::Variant::RFC4122);
        }
        // The k-th uuid is blake3(seed ‖ k as u64 LE), first 16 bytes, with v4 bits.
        let mut input = [7u8; 40];
        input[32..].copy_from_slice(&1u64.to_le_bytes());
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&blake3::hash(&input).as_bytes()[..16]);
        bytes[6] = (bytes[6] & 0x0f) | 0x40;
        bytes[8] = (bytes[8] & 0x3f) | 0x80;
        assert_eq!(a[1], Uuid::from_bytes(bytes));

        let runtime = Runtime::new();
        let expr = Expression::parse("[uuid(), uuid()]").unwrap();
        let run = |seed| {
            let entropy = Entropy::new(seed);
            expr.search(&json!(null), &Env::new(&runtime).with_entropy(&entropy))
                .unwrap()
        };
        assert_eq!(run([1; 32]), run([1; 32]));
        assert_ne!(run([1; 32]), run([2; 32]));
        let first = run([1; 32]);
        assert_eq!(
            first[0],
            json!(Entropy::new([1; 32]).next_uuid().to_string())
        );
    }

    #[test]
    fn regex_test_and_flags() {
        assert_eq!(
            eval("regex_test('/^hello/', @)", json!("hello world")),
            json!(true)
        );
        assert_eq!(
            eval("regex_test('/^hello/', @)", json!("HELLO world")),
            json!(false)
        );
        assert_eq!(
            eval("regex_test('/^hello/i', @)", json!("HELLO world")),
            json!(true)
        );
        assert_eq!(
            eval("regex_test('^w', @)", json!("world")),
            json!(true),
            "bare pattern"
        );
        assert_eq!(eval("regex_test('/^b/m', @)", json!("a\nb")), json!(true));
        assert_eq!(eval("regex_test('/a.b/s', @)", json!("a\nb")), json!(true));
        assert_eq!(eval("regex_test('/a.b/', @)", json!("a\nb")), json!(false));
        assert_eq!(
            eval("regex_test('/a(?=b)/', @)", json!("ab")),
            json!(true),
            "lookahead"
        );
        assert_eq!(
            eval("regex_test('/(?<!x)b/', @)", json!("xb")),
            json!(false),
            "lookbehind"
        );
        assert_eq!(
            eval("regex_test('/a\\/b/', @)", json!("a/b")),
            json!(true),
            "escaped slash"
        );
        assert_eq!(
            error("regex_test('/(/', 'x')", json!(null)).kind(),
            "invalid-value"
        );
        assert_eq!(
            error("regex_test('/a/y', 'x')", json!(null)).to_string(),
            "invalid value: regex_test() does not support the regex flag 'y' in /a/y"
        );
        assert_eq!(
            error("regex_test(`1`, 'x')", json!(null)).kind(),
            "invalid-type"
        );
    }

    #[test]
    fn regex_match_and_match_all() {
        assert_eq!(
            eval(r"regex_match('/^hello (\w+)/', @)", json!("hello world")),
            json!(["hello world", "world"])
        );
        assert_eq!(
            eval(r"regex_match('/\w+/g', @)", json!("hello world")),
            json!(["hello", "world"])
        );
        assert_eq!(eval("regex_match('/x/', @)", json!("hello")), Value::Null);
        assert_eq!(eval("regex_match('/x/g', @)", json!("hello")), Value::Null);
        assert_eq!(
            eval("regex_match('/(a)|(b)/', @)", json!("b")),
            json!(["b", null, "b"])
        );
        assert_eq!(
            eval(
                r"regex_match_all('/(\w+)=(\d+)/g', @)",
                json!("foo=24 bar=99")
            ),
            json!([["foo=24", "foo", "24"], ["bar=99", "bar", "99"]])
        );
        assert_eq!(
            eval(
                r"regex_match_all('/(\w+)=(\d+)/g', @) | map(&[[1], [2]], @) | to_object(@)",
                json!("foo=24 bar=99")
            ),
            json!({"foo": "24", "bar": "99"})
        );
        assert_eq!(eval("regex_match_all('/x/', @)", json!("abc")), json!([]));
        assert_eq!(
            error("regex_match_all('[', 'x')", json!(null)).kind(),
            "invalid-value"
        );
    }

    #[test]
    fn regex_replace_uses_javascript_replacements() {
        let replace = |re: &str, with: &str, text: &str| {
            let data = json!({"re": re, "with": with, "text": text});
            eval("regex_replace(re, with, text)", data)
        };
        assert_eq!(
            replace(r"/w\w+d/", "planet", "hello world"),
            json!("hello planet")
        );
        assert_eq!(
            replace("/[aeoiu]/g", "*", "hello world"),
            json!("h*ll* w*rld")
        );
        assert_eq!(
            replace("/[aeoiu]/", "*", "hello world"),
            json!("h*llo world"),
            "first only"
        );
        assert_eq!(
            replace(r"/(\w+) (\w+)/", "$2 $1", "hello world"),
            json!("world hello")
        );
        assert_eq!(replace("/o/g", "[$&]", "foo"), json!("f[o][o]"));
        assert_eq!(replace("/b/", "$`|$'", "abc"), json!("aa|cc"));
        assert_eq!(replace("/b/", "$$1", "abc"), json!("a$1c"));
        assert_eq!(
            replace("/(b)/", "$2$0$", "abc"),
            json!("a$2$0$c"),
            "no such group"
        );
        assert_eq!(replace("/(?<x>b)/", "<$<x>>", "abc"), json!("a<b>c"));
        assert_eq!(
            replace("/(b)/", "$<x>", "abc"),
            json!("a$<x>c"),
            "no named groups"
        );
        assert_eq!(replace("/x*/g", "-", "abc"), json!("-a-b-c-"));
        assert_eq!(
            replace(
                "/(a)(b)(c)(d)(e)(f)(g)(h)(i)(j)(k)/",
                "$11-$10-$1",
                "abcdefghijk"
            ),
            json!("k-j-a")
        );
        assert_eq!(replace("/(a)/", "$10", "a"), json!("a0"), "$1 then 0");
        assert_eq!(
            error("regex_replace('/a/', `1`, 'a')", json!(null)).kind(),
            "invalid-type"
        );
    }
}
