//! Humane durations (`90s`, `10m`, `1h30m`, `250ms`) as runbooks write them, used by
//! step keys (`timeout`, `retry.delay`) and by action inputs (`sleep.duration`).

use std::fmt;
use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A duration written the humane way in a runbook (`90s`, `10m`, `1h30m`); a bare number
/// of seconds is accepted too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct HumaneDuration(pub Duration);

impl<'de> Deserialize<'de> for HumaneDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Seconds(u64),
            Text(String),
        }
        match Raw::deserialize(deserializer)? {
            Raw::Seconds(s) => duration_from_secs(s)
                .map(HumaneDuration)
                .map_err(serde::de::Error::custom),
            Raw::Text(t) => parse_duration(&t)
                .map(HumaneDuration)
                .map_err(serde::de::Error::custom),
        }
    }
}

impl Serialize for HumaneDuration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&Humane(self.0).to_string())
    }
}

impl JsonSchema for HumaneDuration {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Duration".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": ["string", "integer"],
            "x-runbook-duration": true,
                        "description": "A duration such as `90s`, `10m` or `1h30m` (a bare integer is seconds)."
        })
    }
}

/// The longest duration a runbook or a flag may give: 100 years. Every duration is
/// later added to a wall-clock or virtual time in milliseconds, an `Instant` or a
/// deadline; below this bound none of that arithmetic can overflow, and nothing a
/// runbook does needs longer.
pub const MAX_DURATION: Duration = Duration::from_secs(100 * 365 * 86_400);

/// Why a duration is refused: it is longer than [`MAX_DURATION`].
fn too_long(text: &str) -> String {
    format!("`{text}` is too long: durations are limited to 100 years (36500d)")
}

/// A bare number of seconds as a duration, refused beyond [`MAX_DURATION`].
pub fn duration_from_secs(secs: u64) -> Result<Duration, String> {
    let duration = Duration::from_secs(secs);
    if duration > MAX_DURATION {
        return Err(too_long(&secs.to_string()));
    }
    Ok(duration)
}

/// Parses `1h30m`, `90s`, `250ms`, `2d`; a bare number is seconds. Anything longer than
/// [`MAX_DURATION`] is an error, not a panic or a silently saturated value.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("empty duration".into());
    }
    if text.bytes().all(|b| b.is_ascii_digit()) {
        // A bare number of seconds; one beyond u64 is too long as well.
        return match text.parse::<u64>() {
            Ok(secs) => duration_from_secs(secs).map_err(|_| too_long(text)),
            Err(_) => Err(too_long(text)),
        };
    }
    let mut total_secs = 0.0_f64;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| {
                format!("`{text}` lacks a unit after the last number (use s, m, h, d or ms)")
            })?;
        if digits == 0 {
            return Err(format!(
                "`{text}` is not a duration (examples: 90s, 10m, 1h30m)"
            ));
        }
        let number: f64 = rest[..digits]
            .parse()
            .map_err(|_| format!("`{}` is not a number", &rest[..digits]))?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = rest[..unit_len].trim();
        rest = rest[unit_len..].trim_start();
        let seconds = match unit {
            "ms" => number / 1000.0,
            "s" | "sec" | "secs" | "second" | "seconds" => number,
            "m" | "min" | "mins" | "minute" | "minutes" => number * 60.0,
            "h" | "hr" | "hour" | "hours" => number * 3600.0,
            "d" | "day" | "days" => number * 86400.0,
            _ => {
                return Err(format!(
                    "unknown unit `{unit}` in `{text}` (use ms, s, m, h or d)"
                ));
            }
        };
        // Digits and dots parse to a non-negative number, infinite for hundreds of
        // digits, which the bound refuses like any other too large value.
        total_secs += seconds;
        if total_secs > MAX_DURATION.as_secs_f64() {
            return Err(too_long(text));
        }
    }
    Duration::try_from_secs_f64(total_secs).map_err(|_| too_long(text))
}

/// Displays a duration the way a person would write it: `1h30m`, `90ms`, `2.5s`.
pub struct Humane(pub Duration);

impl fmt::Display for Humane {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.0;
        if d < Duration::from_secs(1) {
            return write!(f, "{}ms", d.as_millis());
        }
        if d < Duration::from_secs(60) {
            let s = d.as_secs_f64();
            return if (s - s.round()).abs() < 0.05 {
                write!(f, "{}s", s.round())
            } else {
                write!(f, "{s:.1}s")
            };
        }
        let secs = d.as_secs();
        let (h, m, s) = (secs / 3600, (secs % 3600) / 60, secs % 60);
        if h > 0 {
            write!(f, "{h}h")?;
        }
        if m > 0 {
            write!(f, "{m}m")?;
        }
        if s > 0 {
            write!(f, "{s}s")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_humane_forms() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("30"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("10 minutes"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("1h 30m"), Ok(Duration::from_secs(5400)));
    }

    #[test]
    fn rejects_nonsense_with_a_reason() {
        assert!(
            parse_duration("10x")
                .expect_err("bad unit")
                .contains("unknown unit `x`")
        );
        assert!(parse_duration("fast").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn refuses_durations_beyond_the_bound_instead_of_overflowing() {
        for text in [
            "99999999999999999999d",
            "99999999999999999999",
            "18446744073709551615",
            "36501d",
            "36500d1s",
            &"9".repeat(400),
            &format!("{}s", "9".repeat(400)),
        ] {
            let err = parse_duration(text).expect_err(text);
            assert!(
                err.contains("too long") || err.contains("not a number"),
                "{text}: {err}"
            );
        }
        assert_eq!(parse_duration("36500d"), Ok(MAX_DURATION));
        let err = serde_json::from_value::<HumaneDuration>(serde_json::json!(u64::MAX))
            .expect_err("u64::MAX seconds");
        assert!(err.to_string().contains("too long"), "{err}");
        assert_eq!(
            serde_json::from_value::<HumaneDuration>(serde_json::json!(90)).ok(),
            Some(HumaneDuration(Duration::from_secs(90)))
        );
    }

    #[test]
    fn displays_like_people_write() {
        assert_eq!(Humane(Duration::from_secs(5400)).to_string(), "1h30m");
        assert_eq!(Humane(Duration::from_millis(120)).to_string(), "120ms");
        assert_eq!(Humane(Duration::from_millis(2500)).to_string(), "2.5s");
        assert_eq!(Humane(Duration::from_secs(3)).to_string(), "3s");
    }
}
