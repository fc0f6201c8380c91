//! The values of an EventBridge Scheduler cron expression's fields, checked before a
//! template is written, so a schedule that CloudFormation would refuse at deploy time
//! (minute 60, month 13, `MON-FUN`) is refused here with the field that is wrong.
//!
//! Each field is a list (`,`) of `*`, a value, a range `a-b`, or either with a step
//! (`*/5`, `0/15`, `8-17/2`); `?` stands alone in day-of-month or day-of-week; `L` and
//! `W` (`L`, `15W`, `LW`) belong to day-of-month, `L` and `#` (`5L`, `2#1`) to
//! day-of-week (EventBridge Scheduler's "cron expressions" reference).

/// One of the six fields: its name and the values it takes.
struct Field {
    name: &'static str,
    min: u32,
    max: u32,
    /// Names that stand for values (`JAN` = 1, `SUN` = 1).
    names: &'static [&'static str],
}

const FIELDS: [Field; 6] = [
    Field {
        name: "minutes",
        min: 0,
        max: 59,
        names: &[],
    },
    Field {
        name: "hours",
        min: 0,
        max: 23,
        names: &[],
    },
    Field {
        name: "day-of-month",
        min: 1,
        max: 31,
        names: &[],
    },
    Field {
        name: "month",
        min: 1,
        max: 12,
        names: &[
            "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
        ],
    },
    Field {
        name: "day-of-week",
        min: 1,
        max: 7,
        names: &["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"],
    },
    Field {
        name: "year",
        min: 1970,
        max: 2199,
        names: &[],
    },
];

/// A field whose value is out of its range or not a value at all.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field} {value:?} is not {expected}")]
pub(crate) struct BadCronValue {
    field: &'static str,
    value: String,
    /// What the field takes, in words.
    expected: String,
}

/// The first field whose value is out of its range or not a value at all (`fields`
/// are the six, in order).
pub(super) fn check(fields: &[&str]) -> Result<(), BadCronValue> {
    for (field, text) in FIELDS.iter().zip(fields) {
        let ok = *text == "?" && matches!(field.name, "day-of-month" | "day-of-week")
            || text.split(',').all(|part| part_ok(field, part));
        if !ok {
            return Err(BadCronValue {
                field: field.name,
                value: (*text).to_string(),
                expected: expected(field),
            });
        }
    }
    Ok(())
}

fn expected(field: &Field) -> String {
    let names = field
        .names
        .first()
        .map(|first| format!(" or {first}-{}", field.names[field.names.len() - 1]))
        .unwrap_or_default();
    format!(
        "a list of values {}-{}{names}, ranges, `*` and steps",
        field.min, field.max
    )
}

fn part_ok(field: &Field, part: &str) -> bool {
    let (base, step) = match part.split_once('/') {
        Some((base, step)) => (base, Some(step)),
        None => (part, None),
    };
    if let Some(step) = step
        && !step
            .parse::<u32>()
            .is_ok_and(|n| n >= 1 && n <= field.max.max(1))
    {
        return false;
    }
    if base == "*" {
        return true;
    }
    match field.name {
        "day-of-month" if step.is_none() && (base == "L" || base == "LW") => return true,
        "day-of-month" if step.is_none() && base.ends_with('W') => {
            return value(field, &base[..base.len() - 1]).is_some();
        }
        "day-of-week" if step.is_none() && base.ends_with('L') && base.len() > 1 => {
            return value(field, &base[..base.len() - 1]).is_some();
        }
        "day-of-week" if step.is_none() && base.contains('#') => {
            let (day, nth) = base.split_once('#').unwrap_or_default();
            return value(field, day).is_some()
                && nth.parse::<u32>().is_ok_and(|n| (1..=5).contains(&n));
        }
        _ => {}
    }
    match base.split_once('-') {
        Some((from, to)) => value(field, from).is_some() && value(field, to).is_some(),
        None => value(field, base).is_some(),
    }
}

/// A value of the field, by number or by name.
fn value(field: &Field, text: &str) -> Option<u32> {
    if let Ok(n) = text.parse::<u32>() {
        return (field.min..=field.max).contains(&n).then_some(n);
    }
    let upper = text.to_ascii_uppercase();
    field
        .names
        .iter()
        .position(|name| *name == upper)
        .map(|i| field.min + i as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checked(expression: &str) -> Result<(), String> {
        check(&expression.split_whitespace().collect::<Vec<_>>()).map_err(|e| e.to_string())
    }

    #[test]
    fn each_field_takes_its_own_values() {
        for good in [
            "15 2 * * ? *",
            "0 18 ? * MON-FRI *",
            "0/5 8-17 ? * 2#1 2026",
            "0 12 L * ? *",
            "0 12 15W JAN,JUL ? 2026-2030",
            "*/10 * ? * 6L *",
        ] {
            assert_eq!(checked(good), Ok(()), "{good}");
        }
        assert_eq!(
            checked("60 2 * * ? *"),
            Err("minutes \"60\" is not a list of values 0-59, ranges, `*` and steps".into())
        );
        assert!(
            checked("0 24 * * ? *")
                .expect_err("refused")
                .starts_with("hours \"24\"")
        );
        assert!(
            checked("0 2 32 * ? *")
                .expect_err("refused")
                .starts_with("day-of-month")
        );
        assert!(
            checked("0 2 ? 13 MON *")
                .expect_err("refused")
                .contains("values 1-12 or JAN-DEC")
        );
        assert!(
            checked("0 2 ? * MON-FUN *")
                .expect_err("refused")
                .starts_with("day-of-week")
        );
        assert!(
            checked("0 2 ? * 2#6 *")
                .expect_err("refused")
                .starts_with("day-of-week")
        );
        assert!(
            checked("0 2 * * ? 1969")
                .expect_err("refused")
                .starts_with("year")
        );
        assert!(
            checked("0/0 2 * * ? *")
                .expect_err("refused")
                .starts_with("minutes")
        );
        assert!(
            checked("0 ? * * ? *")
                .expect_err("refused")
                .starts_with("hours")
        );
    }
}
