//! Time periods (SPEC 1.3 "Time periods"): `after: 10 days` and the like.

use serde_json::Value;

/// Why a value is not a time period.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PeriodError {
    /// Text that is not `N unit`, or an unknown unit.
    #[error("invalid time period '{0}'; write a number of seconds or `N unit` with unit s, m, h, d or w (e.g. '10 days')")]
    Invalid(String),
    /// A value that is neither a number nor text.
    #[error("invalid time period {0}; write a number of seconds or text like '10 days'")]
    WrongType(String),
}

impl PeriodError {
    /// The offending value as written, for messages that add their own context.
    pub fn value(&self) -> &str {
        match self {
            PeriodError::Invalid(text) | PeriodError::WrongType(text) => text,
        }
    }
}

/// The length of a time period in seconds.
///
/// A number is taken as seconds. Text is `N unit` (spaces optional) with N a whole number
/// and unit one of s/second(s), m/minute(s), h/hour(s), d/day(s), w/week(s), in any case;
/// a bare number is seconds. Anything else is an error.
pub fn parse_period(value: &Value) -> Result<f64, PeriodError> {
    match value {
        Value::Number(n) => Ok(crate::json::as_f64(n)),
        Value::String(text) => parse_text(text).ok_or_else(|| PeriodError::Invalid(text.clone())),
        other => Err(PeriodError::WrongType(other.to_string())),
    }
}

fn parse_text(text: &str) -> Option<f64> {
    let t = text.trim();
    let digits_end = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    if digits_end == 0 {
        return None;
    }
    let count: f64 = t[..digits_end].parse().ok()?;
    let unit = t[digits_end..].trim_start().to_ascii_lowercase();
    if !unit.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return None;
    }
    let factor = match unit.as_str() {
        "" | "s" | "second" | "seconds" => 1.0,
        "m" | "minute" | "minutes" => 60.0,
        "h" | "hour" | "hours" => 3_600.0,
        "d" | "day" | "days" => 86_400.0,
        "w" | "week" | "weeks" => 604_800.0,
        _ => return None,
    };
    Some(count * factor)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn secs(text: &str) -> f64 {
        parse_period(&json!(text)).unwrap()
    }

    #[test]
    fn numbers_are_seconds() {
        assert_eq!(parse_period(&json!(90)).unwrap(), 90.0);
        assert_eq!(parse_period(&json!(1.5)).unwrap(), 1.5);
        assert_eq!(secs("42"), 42.0);
    }

    #[test]
    fn every_unit() {
        for (unit, factor) in [
            ("s", 1.0),
            ("second", 1.0),
            ("seconds", 1.0),
            ("m", 60.0),
            ("minute", 60.0),
            ("minutes", 60.0),
            ("h", 3600.0),
            ("hour", 3600.0),
            ("hours", 3600.0),
            ("d", 86400.0),
            ("day", 86400.0),
            ("days", 86400.0),
            ("w", 604800.0),
            ("week", 604800.0),
            ("weeks", 604800.0),
        ] {
            assert_eq!(secs(&format!("3 {unit}")), 3.0 * factor, "{unit}");
            assert_eq!(secs(&format!("3{unit}")), 3.0 * factor, "{unit}");
        }
    }

    #[test]
    fn case_and_spaces_do_not_matter() {
        assert_eq!(secs("10 Days"), 864000.0);
        assert_eq!(secs("  2 HOURS "), 7200.0);
        assert_eq!(secs("5days"), 432000.0);
    }

    #[test]
    fn invalid_periods() {
        let err = parse_period(&json!("10 dayz")).unwrap_err();
        assert_eq!(err, PeriodError::Invalid("10 dayz".into()));
        assert!(err.to_string().starts_with("invalid time period '10 dayz'"));
        assert_eq!(err.value(), "10 dayz");
        for text in ["", "days", "1.5 days", "-1 day", "10 days ago", "1 d."] {
            assert!(parse_period(&json!(text)).is_err(), "{text}");
        }
        assert!(matches!(
            parse_period(&json!(true)),
            Err(PeriodError::WrongType(_))
        ));
        assert!(parse_period(&json!(null)).is_err());
    }
}
