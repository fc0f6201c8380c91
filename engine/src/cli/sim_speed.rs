//! `--sim-speed N`: how many virtual seconds pass per wall second on `sim`.

/// A `--sim-speed` that is not a positive, finite number (clap prints it and exits 2).
#[derive(Debug, PartialEq, thiserror::Error)]
#[error(
    "`{0}` is not allowed: expected a positive, finite number of virtual seconds per wall second \
     such as 60 or 0.5 (leave the flag out to run the simulation instantly)"
)]
pub(super) struct InvalidSimSpeed(String);

/// Parses `--sim-speed`. Zero, negative, NaN and infinite values used to mean
/// "instant" without a word; instant is what leaving the flag out gives, so anything
/// but a positive, finite number is a usage error (exit 2) that says so.
pub(super) fn parse_sim_speed(text: &str) -> Result<f64, InvalidSimSpeed> {
    match text.trim().parse::<f64>() {
        Ok(speed) if speed.is_finite() && speed > 0.0 => Ok(speed),
        Ok(_) | Err(_) => Err(InvalidSimSpeed(text.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positive_finite_speeds_are_accepted() {
        assert_eq!(parse_sim_speed("60"), Ok(60.0));
        assert_eq!(parse_sim_speed("0.5"), Ok(0.5));
        assert_eq!(parse_sim_speed("1e-9"), Ok(1e-9));
    }

    #[test]
    fn zero_negative_nan_and_infinite_speeds_are_refused() {
        for text in [
            "0", "-0", "-1", "NaN", "nan", "inf", "-inf", "1e400", "fast", "",
        ] {
            let err = parse_sim_speed(text).expect_err(text).to_string();
            assert!(err.contains("positive, finite number"), "{text}: {err}");
        }
    }
}
