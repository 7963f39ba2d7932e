//! The step grammar of SPEC 5: the text of a Gherkin step (plus its doc string or data
//! table) becomes a [`Step`].
//!
//! Every step also exists for a named process. The process phrase is taken out before the
//! step is matched: `… in the "P" process`, `… of the "P" process` and `… for the "P" process`
//! anywhere in the step (outside a quoted string), and `the "P" process …` at its start
//! (which then reads `the process …`). Without one, a step is about the `main` process —
//! except `N minutes pass`, which is about every process.

use regex::{Captures, Regex};
use serde_json::{Number, Value};
use std::sync::LazyLock;

/// The name of the process a step is about when it names none.
pub const MAIN_PROCESS: &str = "main";

/// A value that comes with a step.
#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    /// A scalar written in the step text: `true`, `false`, `null`, `"text"` or a number.
    Scalar(Value),
    /// A doc string below the step.
    DocString(DocString),
    /// A data table below the step (rows of cells).
    Table(Vec<Vec<String>>),
}

/// A doc string: its content type (`yaml` in `"""yaml`, else empty) and its text, with
/// the indentation the lines share removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocString {
    /// The content type after the opening delimiter, e.g. `yaml`; empty when none.
    pub content_type: String,
    /// The text between the delimiters.
    pub text: String,
}

impl DocString {
    /// Builds a doc string from what the Gherkin parser returns: the first line holds the
    /// content type, the last (whitespace-only) line is the closing delimiter's indentation.
    pub fn from_raw(raw: &str) -> DocString {
        let (first, rest) = raw.split_once('\n').unwrap_or((raw, ""));
        let mut lines: Vec<&str> = rest.split('\n').collect();
        while lines.last().is_some_and(|l| l.trim().is_empty()) {
            lines.pop();
        }
        let indent = lines
            .iter()
            .filter(|l| !l.trim().is_empty())
            .map(|l| l.len() - l.trim_start().len())
            .min()
            .unwrap_or(0);
        let text = lines
            .iter()
            .map(|l| l.get(indent..).unwrap_or_else(|| l.trim_start()))
            .collect::<Vec<_>>()
            .join("\n");
        DocString {
            content_type: first.trim().to_string(),
            text,
        }
    }
}

/// One step of SPEC 5. `process` is the name of the process the step is about.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// `the process is created from the "S" scenario`.
    CreateProcess {
        /// The process name.
        process: String,
        /// The scenario name (a file `NAME.yaml|yml|json` in the scenario folder).
        scenario: String,
    },
    /// `"NAME" is the actor` / `"NAME" is the "KEY" actor` [`with:` properties].
    Actor {
        /// The process name.
        process: String,
        /// The name the actor goes by in later steps.
        name: String,
        /// The actor key in the scenario (`actor` when not given).
        key: String,
        /// Properties the actor performs with (e.g. `id`, `roles`).
        properties: Option<Arg>,
    },
    /// `"NAME" does "ACTION"` [`with SCALAR` | `with:`].
    Does {
        /// The process name.
        process: String,
        /// The actor name given in an actor step (or `service:X`).
        actor: String,
        /// The action key.
        action: String,
        /// The response, when one is given.
        response: Option<Arg>,
    },
    /// `the "X" service does "ACTION"` [`with SCALAR` | `with:`].
    ServiceDoes {
        /// The process name.
        process: String,
        /// The service name (without `service:`).
        service: String,
        /// The action key.
        action: String,
        /// The response, when one is given.
        response: Option<Arg>,
    },
    /// `N minutes pass` [`for the "P" process`].
    TimePasses {
        /// The process name; `None` for every process.
        process: Option<String>,
        /// The time passed since the current state was entered, in seconds.
        seconds: f64,
    },
    /// `the process is in "STATE"`.
    IsIn {
        /// The process name.
        process: String,
        /// The state key.
        state: String,
    },
    /// `the process ended` [`in "STATE"`] [`with:` result].
    Ended {
        /// The process name.
        process: String,
        /// The end state (`x` matches `(x)`).
        state: Option<String>,
        /// The expected result.
        result: Option<Arg>,
    },
    /// `the process has not ended` [`in "STATE"`].
    NotEnded {
        /// The process name.
        process: String,
        /// The end state it must not be in.
        state: Option<String>,
    },
    /// `the state PROPERTY is "…"` / `is:`.
    StateProperty {
        /// The process name.
        process: String,
        /// A dotted path in `current`, e.g. `description`.
        property: String,
        /// The expected value.
        expected: Arg,
    },
    /// `actor "KEY" has instructions "…"` / `has instructions:`.
    Instructions {
        /// The process name.
        process: String,
        /// The actor key.
        actor: String,
        /// The expected instructions (a Mustache template).
        expected: Arg,
    },
    /// `the process has actor "KEY"`.
    HasActor {
        /// The process name.
        process: String,
        /// The actor key.
        actor: String,
    },
    /// `actor "KEY" has "PROP" is SCALAR` / `is:`.
    ActorProperty {
        /// The process name.
        process: String,
        /// The actor key.
        actor: String,
        /// A dotted path in the actor.
        property: String,
        /// The expected value.
        expected: Arg,
    },
    /// `variable "V" is SCALAR` / `is:`.
    Variable {
        /// The process name.
        process: String,
        /// A dotted path in `vars`.
        name: String,
        /// The expected value.
        expected: Arg,
    },
    /// `the result is SCALAR` / `is:`.
    Result {
        /// The process name.
        process: String,
        /// The expected value.
        expected: Arg,
    },
    /// `the process has tag "T"` / `the process doesn't have tag "T"`.
    Tag {
        /// The process name.
        process: String,
        /// The tag.
        tag: String,
        /// True for `has`, false for `doesn't have`.
        present: bool,
    },
    /// `service "X" is notified` [`with:` message].
    Notified {
        /// The process name.
        process: String,
        /// The service name (without `service:`).
        service: String,
        /// The expected message.
        message: Option<Arg>,
    },
    /// `service "X" is not notified`.
    NotNotified {
        /// The process name.
        process: String,
        /// The service name (without `service:`).
        service: String,
    },
    /// `the last event is skipped` [`with "ERROR"` | `with:` list].
    LastSkipped {
        /// The process name.
        process: String,
        /// Errors the event must have (among others).
        errors: Option<Arg>,
    },
    /// `the last event is not skipped`.
    LastNotSkipped {
        /// The process name.
        process: String,
    },
    /// `nothing is skipped`.
    NothingSkipped {
        /// The process name.
        process: String,
    },
    /// `the last event is a timeout`.
    LastTimeout {
        /// The process name.
        process: String,
    },
}

/// Why a step's text could not be turned into a [`Step`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// No step form matches. `suggestion` is the closest known form.
    #[error("Undefined step. The closest known step is: {suggestion}")]
    Undefined {
        /// The known step form nearest to the text.
        suggestion: String,
    },
    /// The step ends with `:` but has no doc string or data table below it.
    #[error("The step ends with ':' but has no doc string or data table below it")]
    MissingBlock,
    /// The step has a doc string or data table it does not use.
    #[error("The step has a doc string or data table, but does not end with ':'")]
    UnexpectedBlock,
    /// The step names a process twice, e.g. `the "a" process … in the "b" process`.
    #[error("The step names more than one process")]
    TwoProcesses,
    /// A duration that is not a number.
    #[error("Invalid duration '{0}'")]
    Duration(String),
}

/// A quoted string, with `\"` and `\\` escapes.
const Q: &str = r#""((?:[^"\\]|\\.)*)""#;
/// A quoted string that ends the step: everything up to the last quote, so the text may
/// hold quotes of its own (`is "Pick up "Dune" today"`).
const TAIL: &str = r#"(".*")"#;
/// A scalar that ends the step: true, false, null, a quoted string or a number.
const SCALAR: &str = r#"(true|false|null|".*"|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)"#;

/// What a form's builder gets: the captures, the process and the block.
struct Ctx<'a> {
    caps: Captures<'a>,
    process: Option<String>,
    block: Option<Arg>,
}

impl Ctx<'_> {
    /// The process the step is about (`main` when it names none).
    fn process(&self) -> String {
        self.process
            .clone()
            .unwrap_or_else(|| MAIN_PROCESS.to_string())
    }

    /// The unescaped text of a quoted capture.
    fn quoted(&self, name: &str) -> String {
        self.caps
            .name(name)
            .map(|m| unescape(m.as_str()))
            .unwrap_or_default()
    }

    fn opt_quoted(&self, name: &str) -> Option<String> {
        self.caps.name(name).map(|m| unescape(m.as_str()))
    }

    /// The value of a step that either ends with `:` (then the block) or has a scalar.
    fn value(&mut self) -> Result<Option<Arg>, ParseError> {
        if self.caps.name("colon").is_some() {
            return self.block.take().map(Some).ok_or(ParseError::MissingBlock);
        }
        Ok(self
            .caps
            .name("scalar")
            .map(|m| Arg::Scalar(scalar(m.as_str()))))
    }

    /// Like [`Ctx::value`], for a step where the value is required.
    fn expected(&mut self) -> Result<Arg, ParseError> {
        Ok(self.value()?.unwrap_or(Arg::Scalar(Value::Null)))
    }
}

type Build = fn(&mut Ctx<'_>) -> Result<Step, ParseError>;

/// A step form: how it is written (for people) and how it is matched.
struct Form {
    usages: &'static [&'static str],
    re: Option<Regex>,
    build: Build,
}

/// The known step forms, as written in docs/testsuite.md.
pub fn usages() -> impl Iterator<Item = &'static str> {
    FORMS.iter().flat_map(|f| f.usages.iter().copied())
}

fn form(usages: &'static [&'static str], pattern: &str, build: Build) -> Form {
    // The patterns are constants of this file; a unit test checks that every one compiles.
    let re = Regex::new(&format!("^{pattern}$")).ok();
    Form { usages, re, build }
}

/// Names a capture group around a quoted string.
fn q(name: &str) -> String {
    format!(r#""(?P<{name}>(?:[^"\\]|\\.)*)""#)
}

static FORMS: LazyLock<Vec<Form>> = LazyLock::new(|| {
    let with_value = format!(r"(?:(?P<colon>:)| (?P<scalar>{SCALAR}))");
    let opt_with = format!(r"(?: with(?:(?P<colon>:)| (?P<scalar>{SCALAR})))?");
    vec![
        form(
            &[
                r#"the process is created from the "SCENARIO" scenario"#,
                r#"the "PROCESS" process is created from the "SCENARIO" scenario"#,
            ],
            &format!(
                r"the process is created from the {} scenario",
                q("scenario")
            ),
            |c| {
                Ok(Step::CreateProcess {
                    process: c.process(),
                    scenario: c.quoted("scenario"),
                })
            },
        ),
        form(
            &[
                r#""NAME" is the actor"#,
                r#""NAME" is the actor with:"#,
                r#""NAME" is the "KEY" actor"#,
                r#""NAME" is the "KEY" actor with:"#,
            ],
            &format!(
                r"{} is the (?:{} )?actor(?: with(?P<colon>:))?",
                q("name"),
                q("key")
            ),
            |c| {
                Ok(Step::Actor {
                    process: c.process(),
                    name: c.quoted("name"),
                    key: c.opt_quoted("key").unwrap_or_else(|| "actor".into()),
                    properties: c.value()?,
                })
            },
        ),
        form(
            &[
                r#""NAME" does "ACTION""#,
                r#""NAME" does "ACTION" with SCALAR"#,
                r#""NAME" does "ACTION" with:"#,
            ],
            &format!(r"{} does {}{opt_with}", q("name"), q("action")),
            |c| {
                Ok(Step::Does {
                    process: c.process(),
                    actor: c.quoted("name"),
                    action: c.quoted("action"),
                    response: c.value()?,
                })
            },
        ),
        form(
            &[
                r#"the "SERVICE" service does "ACTION""#,
                r#"the "SERVICE" service does "ACTION" with SCALAR"#,
                r#"the "SERVICE" service does "ACTION" with:"#,
            ],
            &format!(
                r"the {} service does {}{opt_with}",
                q("service"),
                q("action")
            ),
            |c| {
                Ok(Step::ServiceDoes {
                    process: c.process(),
                    service: strip_service(&c.quoted("service")),
                    action: c.quoted("action"),
                    response: c.value()?,
                })
            },
        ),
        form(
            &[
                "N seconds|minutes|hours|days|weeks pass",
                r#"N seconds|minutes|hours|days|weeks pass for the "PROCESS" process"#,
            ],
            r"(?P<n>\d+(?:\.\d+)?|an?|one) (?P<unit>second|minute|hour|day|week)s? pass(?:es)?",
            |c| {
                let n = c.caps.name("n").map(|m| m.as_str()).unwrap_or_default();
                let n: f64 = match n {
                    "a" | "an" | "one" => 1.0,
                    n => n.parse().map_err(|_| ParseError::Duration(n.into()))?,
                };
                let unit = match c.caps.name("unit").map(|m| m.as_str()) {
                    Some("minute") => 60.0,
                    Some("hour") => 3600.0,
                    Some("day") => 86_400.0,
                    Some("week") => 604_800.0,
                    _ => 1.0,
                };
                Ok(Step::TimePasses {
                    process: c.process.clone(),
                    seconds: n * unit,
                })
            },
        ),
        form(
            &[r#"the process is in "STATE""#],
            &format!(r"the process is in {}", q("state")),
            |c| {
                Ok(Step::IsIn {
                    process: c.process(),
                    state: c.quoted("state"),
                })
            },
        ),
        form(
            &[
                "the process ended",
                r#"the process ended in "STATE""#,
                "the process ended with:",
                r#"the process ended in "STATE" with:"#,
            ],
            &format!(
                r"the process (?:has )?ended(?: in {})?(?: with(?P<colon>:))?",
                q("state")
            ),
            |c| {
                Ok(Step::Ended {
                    process: c.process(),
                    state: c.opt_quoted("state"),
                    result: c.value()?,
                })
            },
        ),
        form(
            &[
                "the process has not ended",
                r#"the process has not ended in "STATE""#,
            ],
            &format!(
                r"the process (?:has not|hasn't|did not|didn't) end(?:ed)?(?: in {})?",
                q("state")
            ),
            |c| {
                Ok(Step::NotEnded {
                    process: c.process(),
                    state: c.opt_quoted("state"),
                })
            },
        ),
        form(
            &[r#"the state PROPERTY is "…""#, "the state PROPERTY is:"],
            &format!(r"the state (?P<prop>[A-Za-z0-9_.$\-]+) (?:is|are){with_value}"),
            |c| {
                Ok(Step::StateProperty {
                    process: c.process(),
                    property: c
                        .caps
                        .name("prop")
                        .map(|m| m.as_str().to_string())
                        .unwrap_or_default(),
                    expected: c.expected()?,
                })
            },
        ),
        form(
            &[
                r#"actor "KEY" has instructions "…""#,
                "actor \"KEY\" has instructions:",
            ],
            &format!(
                r"actor {} has (?:the )?instructions?(?:(?P<colon>:)| (?P<scalar>{}))",
                q("actor"),
                TAIL
            ),
            |c| {
                Ok(Step::Instructions {
                    process: c.process(),
                    actor: c.quoted("actor"),
                    expected: c.expected()?,
                })
            },
        ),
        form(
            &[r#"the process has actor "KEY""#],
            &format!(r"the process has (?:an )?actor {}", q("actor")),
            |c| {
                Ok(Step::HasActor {
                    process: c.process(),
                    actor: c.quoted("actor"),
                })
            },
        ),
        form(
            &[
                r#"actor "KEY" has "PROP" is SCALAR"#,
                r#"actor "KEY" has "PROP" is:"#,
            ],
            &format!(
                r"actor {} has {} (?:is|are){with_value}",
                q("actor"),
                q("prop")
            ),
            |c| {
                Ok(Step::ActorProperty {
                    process: c.process(),
                    actor: c.quoted("actor"),
                    property: c.quoted("prop"),
                    expected: c.expected()?,
                })
            },
        ),
        form(
            &[r#"variable "V" is SCALAR"#, r#"variable "V" is:"#],
            &format!(r"variable {} (?:is|are){with_value}", q("var")),
            |c| {
                Ok(Step::Variable {
                    process: c.process(),
                    name: c.quoted("var"),
                    expected: c.expected()?,
                })
            },
        ),
        form(
            &["the result is SCALAR", "the result is:"],
            &format!(r"the (?:process )?result is{with_value}"),
            |c| {
                Ok(Step::Result {
                    process: c.process(),
                    expected: c.expected()?,
                })
            },
        ),
        form(
            &[r#"the process has tag "T""#],
            &format!(r"the process has (?:the )?tag {}", q("tag")),
            |c| {
                Ok(Step::Tag {
                    process: c.process(),
                    tag: c.quoted("tag"),
                    present: true,
                })
            },
        ),
        form(
            &[r#"the process doesn't have tag "T""#],
            &format!(
                r"the process (?:doesn't|does not) have (?:the )?tag {}",
                q("tag")
            ),
            |c| {
                Ok(Step::Tag {
                    process: c.process(),
                    tag: c.quoted("tag"),
                    present: false,
                })
            },
        ),
        form(
            &[
                r#"service "X" is notified"#,
                r#"service "X" is notified with:"#,
            ],
            &format!(
                r"service {} is notified(?: with(?P<colon>:))?",
                q("service")
            ),
            |c| {
                Ok(Step::Notified {
                    process: c.process(),
                    service: strip_service(&c.quoted("service")),
                    message: c.value()?,
                })
            },
        ),
        form(
            &[r#"service "X" is not notified"#],
            &format!(r"service {} is not notified", q("service")),
            |c| {
                Ok(Step::NotNotified {
                    process: c.process(),
                    service: strip_service(&c.quoted("service")),
                })
            },
        ),
        form(
            &[
                "the last event is skipped",
                r#"the last event is skipped with "ERROR""#,
                "the last event is skipped with:",
            ],
            &format!(
                r"the last event is skipped(?: with(?:(?P<colon>:)| (?P<scalar>{})))?",
                TAIL
            ),
            |c| {
                Ok(Step::LastSkipped {
                    process: c.process(),
                    errors: c.value()?,
                })
            },
        ),
        form(
            &["the last event is not skipped"],
            r"the last event is not skipped",
            |c| {
                Ok(Step::LastNotSkipped {
                    process: c.process(),
                })
            },
        ),
        form(&["nothing is skipped"], r"nothing is skipped", |c| {
            Ok(Step::NothingSkipped {
                process: c.process(),
            })
        }),
        form(
            &["the last event is a timeout"],
            r"the last event is a timeout",
            |c| {
                Ok(Step::LastTimeout {
                    process: c.process(),
                })
            },
        ),
    ]
});

impl Step {
    /// Parses a step's text, with the doc string or data table below it (if any).
    pub fn parse(text: &str, block: Option<Arg>) -> Result<Step, ParseError> {
        let (rest, process) = take_process(text.trim())?;
        for form in FORMS.iter() {
            let Some(caps) = form.re.as_ref().and_then(|re| re.captures(&rest)) else {
                continue;
            };
            let has_colon = caps.name("colon").is_some();
            if block.is_some() && !has_colon {
                return Err(ParseError::UnexpectedBlock);
            }
            let mut ctx = Ctx {
                caps,
                process,
                block,
            };
            return (form.build)(&mut ctx);
        }
        Err(ParseError::Undefined {
            suggestion: suggest(&rest).to_string(),
        })
    }

    /// The name of the process the step is about; `None` for every process.
    pub fn process(&self) -> Option<&str> {
        match self {
            Step::TimePasses { process, .. } => process.as_deref(),
            Step::CreateProcess { process, .. }
            | Step::Actor { process, .. }
            | Step::Does { process, .. }
            | Step::ServiceDoes { process, .. }
            | Step::IsIn { process, .. }
            | Step::Ended { process, .. }
            | Step::NotEnded { process, .. }
            | Step::StateProperty { process, .. }
            | Step::Instructions { process, .. }
            | Step::HasActor { process, .. }
            | Step::ActorProperty { process, .. }
            | Step::Variable { process, .. }
            | Step::Result { process, .. }
            | Step::Tag { process, .. }
            | Step::Notified { process, .. }
            | Step::NotNotified { process, .. }
            | Step::LastSkipped { process, .. }
            | Step::LastNotSkipped { process }
            | Step::NothingSkipped { process }
            | Step::LastTimeout { process } => Some(process),
        }
    }
}

static PROCESS_SUFFIX: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(&format!(r" (?:in|of|for) the {} process\b", q("p"))).ok());
static PROCESS_PREFIX: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(&format!(r"^the {} process\b", q("p"))).ok());

/// Takes the process phrase out of a step: returns the text without it, and the name.
fn take_process(text: &str) -> Result<(String, Option<String>), ParseError> {
    let mut process = None;
    let mut rest = text.to_string();
    if let Some(caps) = PROCESS_PREFIX.as_ref().and_then(|re| re.captures(text)) {
        process = caps.name("p").map(|m| unescape(m.as_str()));
        let end = caps.get(0).map_or(0, |m| m.end());
        rest = format!("the process{}", &text[end..]);
    }
    // The phrase counts only outside quoted strings: before it, an even number of quotes.
    let found = PROCESS_SUFFIX.as_ref().and_then(|re| {
        re.captures_iter(&rest)
            .find(|c| c.get(0).is_some_and(|m| outside_quotes(&rest, m.start())))
    });
    if let Some(caps) = found {
        if process.is_some() {
            return Err(ParseError::TwoProcesses);
        }
        process = caps.name("p").map(|m| unescape(m.as_str()));
        let range = caps.get(0).map_or(0..0, |m| m.range());
        rest = format!("{}{}", &rest[..range.start], &rest[range.end..]);
    }
    Ok((rest, process))
}

/// True when byte offset `at` of `text` is not inside a quoted string.
fn outside_quotes(text: &str, at: usize) -> bool {
    let mut inside = false;
    let mut escaped = false;
    for c in text[..at].chars() {
        match c {
            _ if escaped => escaped = false,
            '\\' if inside => escaped = true,
            '"' => inside = !inside,
            _ => {}
        }
    }
    !inside
}

/// `service:email` → `email`.
fn strip_service(name: &str) -> String {
    name.strip_prefix("service:").unwrap_or(name).to_string()
}

/// Removes the `\` of `\"` and `\\`.
fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.extend(chars.next()),
            c => out.push(c),
        }
    }
    out
}

/// A scalar of the step text as JSON.
pub fn scalar(s: &str) -> Value {
    match s {
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        "null" => Value::Null,
        _ if s.starts_with('"') && s.ends_with('"') && s.len() >= 2 => {
            Value::String(unescape(&s[1..s.len() - 1]))
        }
        _ => match s.parse::<i64>() {
            Ok(i) => Value::Number(Number::from(i)),
            Err(_) => s
                .parse::<f64>()
                .map(crate::json::number)
                .unwrap_or_else(|_| Value::String(s.to_string())),
        },
    }
}

/// The known step form closest to `text` (by edit distance, with every quoted string and
/// number written alike).
fn suggest(text: &str) -> &'static str {
    let shape = shape(text);
    usages()
        .min_by_key(|usage| levenshtein(&shape, &shape_of_usage(usage)))
        .unwrap_or_default()
}

static QUOTED: LazyLock<Option<Regex>> = LazyLock::new(|| Regex::new(Q).ok());
static NUMBER: LazyLock<Option<Regex>> = LazyLock::new(|| Regex::new(r"\b\d+(?:\.\d+)?\b").ok());

/// The text with every quoted string as `""` and every number as `0`, in lower case.
fn shape(text: &str) -> String {
    let mut text = text.to_string();
    if let Some(re) = QUOTED.as_ref() {
        text = re.replace_all(&text, "\"\"").into_owned();
    }
    if let Some(re) = NUMBER.as_ref() {
        text = re.replace_all(&text, "0").into_owned();
    }
    text.to_lowercase()
}

fn shape_of_usage(usage: &str) -> String {
    let usage = usage
        .replace("SCALAR", "\"\"")
        .replace("seconds|minutes|hours|days|weeks", "minutes")
        .replace("N ", "0 ");
    shape(&usage)
}

/// The edit distance between two strings, by characters.
pub(crate) fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(ca != *cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(text: &str) -> Step {
        Step::parse(text, None).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    fn doc(text: &str) -> Option<Arg> {
        Some(Arg::DocString(DocString {
            content_type: "yaml".into(),
            text: text.into(),
        }))
    }

    fn main() -> String {
        MAIN_PROCESS.to_string()
    }

    #[test]
    fn every_form_compiles_and_is_reachable_from_its_usage() {
        assert!(FORMS.len() > 20);
        assert!(FORMS.iter().all(|f| f.re.is_some()));
        assert!(PROCESS_PREFIX.is_some() && PROCESS_SUFFIX.is_some());
        assert!(QUOTED.is_some() && NUMBER.is_some());
        for usage in usages() {
            let text = usage
                .replace("SCALAR", "42")
                .replace("seconds|minutes|hours|days|weeks", "minutes")
                .replace("N ", "3 ")
                .replace('…', "x")
                .replace("PROPERTY", "title");
            let block = text.ends_with(':').then(|| doc("a: 1")).flatten();
            assert!(Step::parse(&text, block).is_ok(), "{usage}");
        }
    }

    #[test]
    fn given_steps() {
        assert_eq!(
            parse(r#"the process is created from the "basics" scenario"#),
            Step::CreateProcess {
                process: main(),
                scenario: "basics".into()
            }
        );
        assert_eq!(
            parse(r#"the "deal" process is created from the "quote" scenario"#),
            Step::CreateProcess {
                process: "deal".into(),
                scenario: "quote".into()
            }
        );
        assert_eq!(
            parse(r#""Joe" is the actor"#),
            Step::Actor {
                process: main(),
                name: "Joe".into(),
                key: "actor".into(),
                properties: None
            }
        );
        assert_eq!(
            parse(r#""Eve" is the "recipient" actor in the "chat" process"#),
            Step::Actor {
                process: "chat".into(),
                name: "Eve".into(),
                key: "recipient".into(),
                properties: None
            }
        );
        let props = Some(Arg::Table(vec![vec!["id".into(), "u1".into()]]));
        assert_eq!(
            Step::parse(r#""Eve" is the "client" actor with:"#, props.clone()),
            Ok(Step::Actor {
                process: main(),
                name: "Eve".into(),
                key: "client".into(),
                properties: props
            })
        );
    }

    #[test]
    fn when_steps() {
        assert_eq!(
            parse(r#""Bob" does "talk" with "How are you?""#),
            Step::Does {
                process: main(),
                actor: "Bob".into(),
                action: "talk".into(),
                response: Some(Arg::Scalar(json!("How are you?")))
            }
        );
        assert_eq!(
            parse(r#""Bob" does "bid" in the "auction" process with 12.5"#),
            Step::Does {
                process: "auction".into(),
                actor: "Bob".into(),
                action: "bid".into(),
                response: Some(Arg::Scalar(json!(12.5)))
            }
        );
        assert_eq!(
            Step::parse(r#"the "default" service does "start" with:"#, doc("a: ~")),
            Ok(Step::ServiceDoes {
                process: main(),
                service: "default".into(),
                action: "start".into(),
                response: doc("a: ~")
            })
        );
        assert_eq!(
            parse("10 days pass"),
            Step::TimePasses {
                process: None,
                seconds: 864_000.0
            }
        );
        assert_eq!(
            parse(r#"1 minute passes for the "b" process"#),
            Step::TimePasses {
                process: Some("b".into()),
                seconds: 60.0
            }
        );
        assert_eq!(
            parse("an hour passes"),
            Step::TimePasses {
                process: None,
                seconds: 3600.0
            }
        );
    }

    #[test]
    fn then_steps() {
        assert_eq!(
            parse(r#"the "b" process ended in "success""#),
            Step::Ended {
                process: "b".into(),
                state: Some("success".into()),
                result: None
            }
        );
        assert_eq!(
            parse(r#"the process has not ended in "done""#),
            Step::NotEnded {
                process: main(),
                state: Some("done".into())
            }
        );
        assert_eq!(
            parse(r#"actor "person_1" has "is_present" is false"#),
            Step::ActorProperty {
                process: main(),
                actor: "person_1".into(),
                property: "is_present".into(),
                expected: Arg::Scalar(json!(false))
            }
        );
        assert_eq!(
            parse(r#"actor "customer" in the "q" process has instructions "Hi""#),
            Step::Instructions {
                process: "q".into(),
                actor: "customer".into(),
                expected: Arg::Scalar(json!("Hi"))
            }
        );
        assert_eq!(
            parse(r#"the state description of the "q" process is "done""#),
            Step::StateProperty {
                process: "q".into(),
                property: "description".into(),
                expected: Arg::Scalar(json!("done"))
            }
        );
        assert_eq!(
            parse(r#"the "q" process result is 3"#),
            Step::Result {
                process: "q".into(),
                expected: Arg::Scalar(json!(3))
            }
        );
        assert_eq!(
            parse(r#"the process doesn't have tag "x""#),
            Step::Tag {
                process: main(),
                tag: "x".into(),
                present: false
            }
        );
        assert_eq!(
            parse(r#"service "service:email" is not notified"#),
            Step::NotNotified {
                process: main(),
                service: "email".into()
            }
        );
        assert_eq!(
            parse(r#"the last event of the "q" process is skipped with "Nope \"x\"""#),
            Step::LastSkipped {
                process: "q".into(),
                errors: Some(Arg::Scalar(json!("Nope \"x\"")))
            }
        );
        assert_eq!(
            parse(r#"nothing is skipped in the "q" process"#),
            Step::NothingSkipped {
                process: "q".into()
            }
        );
    }

    #[test]
    fn process_phrase_inside_quotes_is_part_of_the_value() {
        assert_eq!(
            parse(
                r#""Bob" does "talk" with "meet in the "x" process""#
                    .replace(r#""x""#, r#"\"x\""#)
                    .as_str()
            ),
            Step::Does {
                process: main(),
                actor: "Bob".into(),
                action: "talk".into(),
                response: Some(Arg::Scalar(json!("meet in the \"x\" process")))
            }
        );
        assert_eq!(
            Step::parse(r#"the "a" process is in "s" in the "b" process"#, None),
            Err(ParseError::TwoProcesses)
        );
    }

    #[test]
    fn a_quoted_value_at_the_end_may_hold_quotes() {
        assert_eq!(
            parse(r#"the state description is "Pick up "Dune" at shelf "B3"""#),
            Step::StateProperty {
                process: main(),
                property: "description".into(),
                expected: Arg::Scalar(json!(r#"Pick up "Dune" at shelf "B3""#))
            }
        );
        assert_eq!(
            parse(r#"actor "a" has instructions "Say "hi"" in the "p" process"#),
            Step::Instructions {
                process: "p".into(),
                actor: "a".into(),
                expected: Arg::Scalar(json!(r#"Say "hi""#))
            }
        );
    }

    #[test]
    fn blocks_must_match_the_colon() {
        assert_eq!(
            Step::parse("the result is:", None),
            Err(ParseError::MissingBlock)
        );
        assert_eq!(
            Step::parse("nothing is skipped", doc("x")),
            Err(ParseError::UnexpectedBlock)
        );
    }

    #[test]
    fn undefined_steps_name_the_closest_form() {
        let err = |t: &str| Step::parse(t, None).err().map(|e| e.to_string());
        assert_eq!(
            err(r#""Bob" makes "talk""#).as_deref(),
            Some(r#"Undefined step. The closest known step is: "NAME" does "ACTION""#)
        );
        assert_eq!(
            err(r#"the proces is in state "done""#).as_deref(),
            Some(r#"Undefined step. The closest known step is: the process is in "STATE""#)
        );
        assert_eq!(
            err("the last event was skiped").as_deref(),
            Some("Undefined step. The closest known step is: the last event is skipped")
        );
    }

    #[test]
    fn scalars() {
        assert_eq!(scalar("true"), json!(true));
        assert_eq!(scalar("null"), json!(null));
        assert_eq!(scalar("-3"), json!(-3));
        assert_eq!(scalar("2.50"), json!(2.5));
        assert_eq!(scalar(r#""a \"b\"""#), json!("a \"b\""));
    }

    #[test]
    fn doc_strings_lose_their_shared_indentation_and_keep_the_content_type() {
        let d = DocString::from_raw("yaml\n      - a\n      - b:\n          c\n      ");
        assert_eq!(d.content_type, "yaml");
        assert_eq!(d.text, "- a\n- b:\n    c");
        let d = DocString::from_raw("\nLine one\n\n  Line two\n");
        assert_eq!(d.content_type, "");
        assert_eq!(d.text, "Line one\n\n  Line two");
    }

    #[test]
    fn edit_distance() {
        assert_eq!(levenshtein("kitten", "sitting"), 3);
        assert_eq!(levenshtein("", "abc"), 3);
        assert_eq!(levenshtein("same", "same"), 0);
    }
}
