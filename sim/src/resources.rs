//! The parsers for the two notations users write CPU and memory in (Kubernetes
//! quantities in pod templates, JVM memory strings in Spark settings), into
//! [`Resources`], the amount type of the event vocabulary (`runbook_backend::events`).

use crate::error::SimError;

pub use runbook_backend::events::Resources;

/// Parses a JVM/Spark memory string (`spark.executor.memory`, `spark.driver.memory`)
/// into MiB.
///
/// Spark reads these with `JavaUtils.byteStringAs`: the suffixes `k`, `m`, `g`, `t`
/// (optionally followed by `b`, any case) are binary multiples, so `2G` is 2048 MiB, not
/// 2000. A bare number means MiB, as for `spark.executor.memory`.
pub fn parse_spark_memory_mib(value: &str) -> Result<u64, SimError> {
    let invalid = |reason: &str| SimError::InvalidQuantity {
        value: value.to_string(),
        reason: reason.to_string(),
    };
    let lower = value.trim().to_ascii_lowercase();
    let unit_start = lower
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(lower.len());
    let (digits, unit) = lower.split_at(unit_start);
    if digits.is_empty() {
        return Err(invalid("expected a whole number followed by k, m, g or t"));
    }
    let number: u64 = digits
        .parse()
        .map_err(|_| invalid("the number is too large"))?;
    let kib = match unit {
        "k" | "kb" => number,
        "" | "m" | "mb" => number * 1024,
        "g" | "gb" => number * 1024 * 1024,
        "t" | "tb" => number * 1024 * 1024 * 1024,
        _ => return Err(invalid("unknown unit; Spark accepts k, m, g, t (binary)")),
    };
    let mib = kib / 1024;
    if mib == 0 {
        return Err(invalid("memory must be at least 1 MiB"));
    }
    Ok(mib)
}

/// Parses a Kubernetes CPU quantity (`1`, `500m`, `0.5`, `2.25`) into milli-CPUs.
pub fn parse_cpu_quantity(value: &str) -> Result<u64, SimError> {
    let invalid = |reason: &str| SimError::InvalidQuantity {
        value: value.to_string(),
        reason: reason.to_string(),
    };
    let v = value.trim();
    if let Some(millis) = v.strip_suffix('m') {
        return millis
            .parse::<u64>()
            .map_err(|_| invalid("expected whole milli-CPUs before `m`"));
    }
    let (whole, frac) = match v.split_once('.') {
        Some((w, f)) => (w, f),
        None => (v, ""),
    };
    if whole.is_empty() && frac.is_empty() {
        return Err(invalid("empty CPU quantity"));
    }
    if frac.len() > 3 {
        return Err(invalid("Kubernetes CPU precision is 1m (three decimals)"));
    }
    let whole: u64 = if whole.is_empty() {
        0
    } else {
        whole
            .parse()
            .map_err(|_| invalid("expected a number of CPUs"))?
    };
    let mut frac_millis = 0u64;
    for (i, c) in frac.chars().enumerate() {
        let digit = c
            .to_digit(10)
            .ok_or_else(|| invalid("expected a number of CPUs"))?;
        frac_millis += u64::from(digit) * 10u64.pow(2 - i as u32);
    }
    Ok(whole * 1000 + frac_millis)
}

/// Parses a Kubernetes memory quantity (`512Mi`, `2Gi`, `1G`, `200M`, `1048576`) into
/// MiB, rounding up: a request of `1M` (1,000,000 bytes) occupies a whole MiB in this
/// model, which errs on the side of not overcommitting a node.
pub fn parse_memory_quantity_mib(value: &str) -> Result<u64, SimError> {
    let invalid = |reason: &str| SimError::InvalidQuantity {
        value: value.to_string(),
        reason: reason.to_string(),
    };
    let v = value.trim();
    let unit_start = v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len());
    let (digits, unit) = v.split_at(unit_start);
    let number: u128 = digits
        .parse()
        .map_err(|_| invalid("expected a whole number followed by a unit such as Mi or Gi"))?;
    let bytes: u128 = match unit {
        "" => number,
        "k" => number * 1000,
        "M" => number * 1000_u128.pow(2),
        "G" => number * 1000_u128.pow(3),
        "T" => number * 1000_u128.pow(4),
        "Ki" => number * 1024,
        "Mi" => number * 1024_u128.pow(2),
        "Gi" => number * 1024_u128.pow(3),
        "Ti" => number * 1024_u128.pow(4),
        _ => return Err(invalid("unknown unit; use Ki, Mi, Gi, Ti, k, M, G or T")),
    };
    let mib = bytes.div_ceil(1024 * 1024);
    u64::try_from(mib).map_err(|_| invalid("the quantity is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spark_memory_is_binary() {
        assert_eq!(parse_spark_memory_mib("2G").ok(), Some(2048));
        assert_eq!(parse_spark_memory_mib("2g").ok(), Some(2048));
        assert_eq!(parse_spark_memory_mib("512m").ok(), Some(512));
        assert_eq!(parse_spark_memory_mib("4096").ok(), Some(4096));
        assert_eq!(parse_spark_memory_mib("1gb").ok(), Some(1024));
        assert!(parse_spark_memory_mib("2X").is_err());
        assert!(parse_spark_memory_mib("G").is_err());
        assert!(parse_spark_memory_mib("512k").is_err());
    }

    #[test]
    fn cpu_quantities() {
        assert_eq!(parse_cpu_quantity("1").ok(), Some(1000));
        assert_eq!(parse_cpu_quantity("500m").ok(), Some(500));
        assert_eq!(parse_cpu_quantity("0.25").ok(), Some(250));
        assert_eq!(parse_cpu_quantity("2.5").ok(), Some(2500));
        assert!(parse_cpu_quantity("0.0001").is_err());
        assert!(parse_cpu_quantity("abc").is_err());
    }

    #[test]
    fn memory_quantities() {
        assert_eq!(parse_memory_quantity_mib("512Mi").ok(), Some(512));
        assert_eq!(parse_memory_quantity_mib("2Gi").ok(), Some(2048));
        assert_eq!(parse_memory_quantity_mib("1G").ok(), Some(954));
        assert_eq!(parse_memory_quantity_mib("1048576").ok(), Some(1));
        assert!(parse_memory_quantity_mib("12Qi").is_err());
    }
}
