//! Timestamps for people and logs, without a date-time dependency.

/// `2026-11-25T17:40:01.123Z` from Unix milliseconds.
pub fn rfc3339_ms(unix_ms: i64) -> String {
    let (date, secs_of_day, ms) = split(unix_ms);
    format!(
        "{date}T{:02}:{:02}:{:02}.{ms:03}Z",
        secs_of_day / 3600,
        (secs_of_day % 3600) / 60,
        secs_of_day % 60
    )
}

/// `2026-11-25 17:40:01` (UTC) for tables.
pub fn short(unix_ms: i64) -> String {
    let (date, secs_of_day, _) = split(unix_ms);
    format!(
        "{date} {:02}:{:02}:{:02}",
        secs_of_day / 3600,
        (secs_of_day % 3600) / 60,
        secs_of_day % 60
    )
}

/// `20261125-174001` for run ids (sortable).
pub fn compact(unix_ms: i64) -> String {
    let (date, secs_of_day, _) = split(unix_ms);
    format!(
        "{}-{:02}{:02}{:02}",
        date.replace('-', ""),
        secs_of_day / 3600,
        (secs_of_day % 3600) / 60,
        secs_of_day % 60
    )
}

/// Virtual time on the simulator: `t+1m05s`.
pub fn virtual_offset(ms: i64) -> String {
    let secs = ms / 1000;
    let (h, m, s) = (secs / 3600, (secs % 3600) / 60, secs % 60);
    if h > 0 {
        format!("t+{h}h{m:02}m{s:02}s")
    } else {
        format!("t+{m}m{s:02}s")
    }
}

fn split(unix_ms: i64) -> (String, i64, i64) {
    let ms = unix_ms.rem_euclid(1000);
    let secs = unix_ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let secs_of_day = secs.rem_euclid(86_400);
    // Howard Hinnant's days-to-civil algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (format!("{year:04}-{month:02}-{day:02}"), secs_of_day, ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        assert_eq!(rfc3339_ms(0), "1970-01-01T00:00:00.000Z");
        // 2026-11-25T17:40:01.123Z
        assert_eq!(rfc3339_ms(1_795_628_401_123), "2026-11-25T17:40:01.123Z");
        assert_eq!(compact(1_795_628_401_123), "20261125-174001");
        assert_eq!(short(951_782_400_000), "2000-02-29 00:00:00");
        assert_eq!(virtual_offset(65_000), "t+1m05s");
    }
}
