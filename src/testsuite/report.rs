//! The outcome of a test run and its three output formats: `pretty` (for people), `json`
//! (for programs) and `junit` (JUnit XML, for CI servers). docs/testsuite.md describes them.

use serde_json::{json, Value};
use std::fmt::Write;
use std::time::Duration;

/// The status of a step or a scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// It ran and everything held.
    Passed,
    /// It failed (or, for a scenario, one of its steps did).
    Failed,
    /// It did not run because an earlier step of its scenario failed.
    Skipped,
}

impl Status {
    /// `passed`, `failed` or `skipped`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Passed => "passed",
            Status::Failed => "failed",
            Status::Skipped => "skipped",
        }
    }
}

/// A whole run: one report per feature file.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// The feature files in the order they ran.
    pub features: Vec<FeatureReport>,
}

/// One feature file.
#[derive(Debug, Clone)]
pub struct FeatureReport {
    /// The path of the file, as found.
    pub file: String,
    /// The feature's name (empty when the file could not be parsed).
    pub name: String,
    /// Why the file could not be read or parsed; then it has no scenarios.
    pub error: Option<String>,
    /// Its scenarios, with Scenario Outlines expanded (one per example row).
    pub scenarios: Vec<ScenarioReport>,
}

/// One (expanded) Gherkin scenario.
#[derive(Debug, Clone)]
pub struct ScenarioReport {
    /// The scenario's name; may be empty.
    pub name: String,
    /// The line of the scenario (of the example row, for an outline).
    pub line: usize,
    /// Passed when every step passed.
    pub status: Status,
    /// Background steps first, then the scenario's own.
    pub steps: Vec<StepReport>,
    /// How long the scenario took.
    pub duration: Duration,
}

/// One step of a scenario.
#[derive(Debug, Clone)]
pub struct StepReport {
    /// `Given`, `When`, `Then`, `And`, `But` or `*`.
    pub keyword: String,
    /// The step text after the keyword.
    pub text: String,
    /// Its line in the feature file.
    pub line: usize,
    /// The outcome.
    pub status: Status,
    /// Why it failed.
    pub error: Option<String>,
}

/// Counts of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Summary {
    /// Scenarios run.
    pub scenarios: usize,
    /// Scenarios that passed.
    pub scenarios_passed: usize,
    /// Scenarios that failed.
    pub scenarios_failed: usize,
    /// Steps in all scenarios.
    pub steps: usize,
    /// Steps that passed.
    pub steps_passed: usize,
    /// Steps that failed.
    pub steps_failed: usize,
    /// Steps not run because an earlier step failed.
    pub steps_skipped: usize,
    /// Feature files that could not be read or parsed.
    pub errors: usize,
}

impl ScenarioReport {
    /// The name to show: the scenario's name, or where it is when it has none.
    pub fn title(&self) -> String {
        if self.name.trim().is_empty() {
            format!("(line {})", self.line)
        } else {
            self.name.clone()
        }
    }
}

impl Report {
    /// The counts.
    pub fn summary(&self) -> Summary {
        let mut s = Summary::default();
        for feature in &self.features {
            s.errors += usize::from(feature.error.is_some());
            for scenario in &feature.scenarios {
                s.scenarios += 1;
                match scenario.status {
                    Status::Passed => s.scenarios_passed += 1,
                    _ => s.scenarios_failed += 1,
                }
                for step in &scenario.steps {
                    s.steps += 1;
                    match step.status {
                        Status::Passed => s.steps_passed += 1,
                        Status::Failed => s.steps_failed += 1,
                        Status::Skipped => s.steps_skipped += 1,
                    }
                }
            }
        }
        s
    }

    /// True when every scenario passed and every feature file could be parsed.
    pub fn passed(&self) -> bool {
        let s = self.summary();
        s.scenarios_failed == 0 && s.errors == 0
    }

    /// The report for people: one line per scenario; a failing scenario lists its steps,
    /// with the failure under the failing step; then the summary lines.
    pub fn pretty(&self) -> String {
        let mut out = String::new();
        for feature in &self.features {
            if feature.name.is_empty() {
                let _ = writeln!(out, "Feature file {}", feature.file);
            } else {
                let _ = writeln!(out, "Feature: {}  # {}", feature.name, feature.file);
            }
            if let Some(error) = &feature.error {
                let _ = writeln!(out, "  ✗ {}", indent(error, "    "));
            }
            for scenario in &feature.scenarios {
                let mark = if scenario.status == Status::Passed {
                    "✓"
                } else {
                    "✗"
                };
                let _ = writeln!(
                    out,
                    "  {mark} Scenario: {}  # {}:{}",
                    scenario.title(),
                    feature.file,
                    scenario.line
                );
                if scenario.status == Status::Passed {
                    continue;
                }
                for step in &scenario.steps {
                    let mark = match step.status {
                        Status::Passed => "✓",
                        Status::Failed => "✗",
                        Status::Skipped => "-",
                    };
                    let _ = writeln!(out, "      {mark} {} {}", step.keyword, step.text);
                    if let Some(error) = &step.error {
                        let _ = writeln!(out, "        at {}:{}", feature.file, step.line);
                        let _ = writeln!(out, "        {}", indent(error, "        "));
                    }
                }
            }
            out.push('\n');
        }
        out.push_str(&self.summary_lines());
        out
    }

    /// `N scenarios (N passed, N failed)` and `N steps (N passed, N failed, N skipped)`,
    /// plus a line for feature files that could not be parsed, if any.
    pub fn summary_lines(&self) -> String {
        let s = self.summary();
        let mut out = format!(
            "{} scenarios ({} passed, {} failed)\n{} steps ({} passed, {} failed, {} skipped)\n",
            s.scenarios,
            s.scenarios_passed,
            s.scenarios_failed,
            s.steps,
            s.steps_passed,
            s.steps_failed,
            s.steps_skipped
        );
        if s.errors > 0 {
            let _ = writeln!(out, "{} feature file(s) could not be parsed", s.errors);
        }
        out
    }

    /// The report as JSON (shape in docs/testsuite.md).
    pub fn json(&self) -> Value {
        let s = self.summary();
        let features: Vec<Value> = self
            .features
            .iter()
            .map(|f| {
                let scenarios: Vec<Value> = f
                    .scenarios
                    .iter()
                    .map(|sc| {
                        let steps: Vec<Value> = sc
                            .steps
                            .iter()
                            .map(|st| {
                                let mut step = json!({
                                    "keyword": st.keyword,
                                    "text": st.text,
                                    "line": st.line,
                                    "status": st.status.as_str(),
                                });
                                if let Some(e) = &st.error {
                                    step["error"] = json!(e);
                                }
                                step
                            })
                            .collect();
                        json!({
                            "name": sc.name,
                            "line": sc.line,
                            "status": sc.status.as_str(),
                            "steps": steps,
                        })
                    })
                    .collect();
                let mut feature = json!({
                    "file": f.file,
                    "name": f.name,
                    "scenarios": scenarios,
                });
                if let Some(e) = &f.error {
                    feature["error"] = json!(e);
                }
                feature
            })
            .collect();
        json!({
            "features": features,
            "summary": {
                "scenarios": {
                    "total": s.scenarios,
                    "passed": s.scenarios_passed,
                    "failed": s.scenarios_failed,
                },
                "steps": {
                    "total": s.steps,
                    "passed": s.steps_passed,
                    "failed": s.steps_failed,
                    "skipped": s.steps_skipped,
                },
                "errors": s.errors,
            },
        })
    }

    /// The report as JUnit XML: a `testsuite` per feature file and a `testcase` per
    /// scenario, with a `failure` for a failed scenario (and an `error` test case for a
    /// feature file that could not be parsed).
    pub fn junit(&self) -> String {
        let s = self.summary();
        let total: Duration = self
            .features
            .iter()
            .flat_map(|f| &f.scenarios)
            .map(|sc| sc.duration)
            .sum();
        let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        let _ = writeln!(
            out,
            "<testsuites name=\"letsflow test\" tests=\"{}\" failures=\"{}\" errors=\"{}\" time=\"{}\">",
            s.scenarios + s.errors,
            s.scenarios_failed,
            s.errors,
            seconds(total)
        );
        for f in &self.features {
            let suite = if f.name.is_empty() { &f.file } else { &f.name };
            let failures = f
                .scenarios
                .iter()
                .filter(|sc| sc.status != Status::Passed)
                .count();
            let time: Duration = f.scenarios.iter().map(|sc| sc.duration).sum();
            let errors = usize::from(f.error.is_some());
            let _ = writeln!(
                out,
                "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"0\" time=\"{}\" file=\"{}\">",
                xml(suite),
                f.scenarios.len() + errors,
                seconds(time),
                xml(&f.file)
            );
            if let Some(error) = &f.error {
                let _ = writeln!(
                    out,
                    "    <testcase name=\"{}\" classname=\"{}\" file=\"{}\" time=\"0\">",
                    xml(&f.file),
                    xml(suite),
                    xml(&f.file)
                );
                let _ = writeln!(
                    out,
                    "      <error message=\"{}\" type=\"FeatureError\">{}</error>",
                    xml(first_line(error)),
                    xml_text(error)
                );
                out.push_str("    </testcase>\n");
            }
            for sc in &f.scenarios {
                let _ = write!(
                    out,
                    "    <testcase name=\"{}\" classname=\"{}\" file=\"{}\" line=\"{}\" time=\"{}\"",
                    xml(&sc.title()),
                    xml(suite),
                    xml(&f.file),
                    sc.line,
                    seconds(sc.duration)
                );
                let failed = sc.steps.iter().find(|st| st.status == Status::Failed);
                match failed {
                    Some(step) if sc.status != Status::Passed => {
                        let error = step.error.as_deref().unwrap_or_default();
                        let text = format!(
                            "{} {}\nat {}:{}\n{error}",
                            step.keyword, step.text, f.file, step.line
                        );
                        out.push_str(">\n");
                        let _ = writeln!(
                            out,
                            "      <failure message=\"{}\" type=\"StepFailed\">{}</failure>",
                            xml(first_line(error)),
                            xml_text(&text)
                        );
                        out.push_str("    </testcase>\n");
                    }
                    _ => out.push_str("/>\n"),
                }
            }
            out.push_str("  </testsuite>\n");
        }
        out.push_str("</testsuites>\n");
        out
    }
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or_default()
}

/// Continues a multi-line text under an indented first line.
fn indent(text: &str, prefix: &str) -> String {
    text.lines()
        .collect::<Vec<_>>()
        .join(&format!("\n{prefix}"))
}

fn seconds(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64())
}

/// Escapes text for an XML element, keeping line breaks as they are.
fn xml_text(text: &str) -> String {
    xml(text).replace("&#10;", "\n")
}

/// Escapes text for an XML attribute (or element); drops characters XML 1.0 cannot hold.
fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            '\t' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(text: &str, status: Status, error: Option<&str>) -> StepReport {
        StepReport {
            keyword: "Then".into(),
            text: text.into(),
            line: 9,
            status,
            error: error.map(String::from),
        }
    }

    fn report() -> Report {
        Report {
            features: vec![FeatureReport {
                file: "features/a.feature".into(),
                name: "A & B".into(),
                error: None,
                scenarios: vec![
                    ScenarioReport {
                        name: "works".into(),
                        line: 3,
                        status: Status::Passed,
                        steps: vec![step("ok", Status::Passed, None)],
                        duration: Duration::from_millis(2),
                    },
                    ScenarioReport {
                        name: String::new(),
                        line: 7,
                        status: Status::Failed,
                        steps: vec![
                            step(
                                "the process is in \"x\"",
                                Status::Failed,
                                Some("Wrong\n  expected: \"x\""),
                            ),
                            step("nothing is skipped", Status::Skipped, None),
                        ],
                        duration: Duration::from_millis(1),
                    },
                ],
            }],
        }
    }

    #[test]
    fn summary_counts_scenarios_and_steps() {
        let r = report();
        assert_eq!(
            r.summary_lines(),
            "2 scenarios (1 passed, 1 failed)\n3 steps (1 passed, 1 failed, 1 skipped)\n"
        );
        assert!(!r.passed());
    }

    #[test]
    fn pretty_lists_the_steps_of_failing_scenarios() {
        let text = report().pretty();
        assert!(text.contains("  ✓ Scenario: works  # features/a.feature:3\n"));
        assert!(text.contains(
            "  ✗ Scenario: (line 7)  # features/a.feature:7\n      ✗ Then the process is in \"x\"\n        at features/a.feature:9\n        Wrong\n          expected: \"x\"\n      - Then nothing is skipped\n"
        ));
    }

    #[test]
    fn json_has_the_documented_shape() {
        let v = report().json();
        assert_eq!(
            v["features"][0]["scenarios"][1]["steps"][0]["status"],
            "failed"
        );
        assert_eq!(
            v["features"][0]["scenarios"][1]["steps"][1].get("error"),
            None
        );
        assert_eq!(v["summary"]["steps"]["skipped"], 1);
    }

    #[test]
    fn junit_escapes_and_reports_failures() {
        let x = report().junit();
        assert!(x.contains("<testsuite name=\"A &amp; B\" tests=\"2\" failures=\"1\""));
        assert!(x.contains("<failure message=\"Wrong\" type=\"StepFailed\">Then the process is in &quot;x&quot;\nat features/a.feature:9\nWrong"));
        assert_eq!(xml("a\u{1}b<"), "ab&lt;");
    }
}
