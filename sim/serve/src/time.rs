//! Virtual instants as the API's timestamps.
//!
//! The world's clock counts virtual milliseconds from its start, and at full speed it
//! runs hours ahead of the wall clock in a second. Clients compute ages from
//! timestamps against their own wall clock (`kubectl describe`'s "Age", kube-rs'
//! times), so a fixed mapping would put a fast run's objects in the future. Instead
//! each answer places the world's present at the wall clock's present: an instant
//! `t` is shown `now_virtual - t` before the moment of the answer. Ages are then the
//! world's own ("created 5m ago" means five virtual minutes), on every answer.

use std::time::{SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Utc};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

/// Where the world's present is on the wall clock, for one answer.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Instants {
    /// The world's virtual time.
    pub(crate) now_ms: u64,
    /// The wall clock, Unix milliseconds.
    wall_ms: i64,
}

impl Instants {
    /// The world's present, `now_ms`, at this moment of the wall clock.
    pub(crate) fn at(now_ms: u64) -> Instants {
        let wall_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        Instants { now_ms, wall_ms }
    }

    /// The timestamp of virtual instant `t`.
    pub(crate) fn time(&self, t: u64) -> Time {
        let ago = i64::try_from(self.now_ms.saturating_sub(t)).unwrap_or(i64::MAX);
        let ms = self.wall_ms.saturating_sub(ago);
        // Kubernetes timestamps are whole seconds (RFC 3339 without fractions).
        let at = DateTime::<Utc>::from_timestamp(ms.div_euclid(1000), 0).unwrap_or_default();
        Time(at)
    }

    /// The instant `t` in Unix seconds (EKS's timestamps: rest-json's default).
    pub(crate) fn epoch_seconds(&self, t: u64) -> i64 {
        self.time(t).0.timestamp()
    }

    /// The instant `t` as RFC 3339 (EMR on EKS's timestamps, `date-time` in its model).
    pub(crate) fn date_time(&self, t: u64) -> String {
        self.time(t)
            .0
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    }

    /// How long before the present `t` was, as kubectl prints ages (`5m12s`, `3h`).
    pub(crate) fn age(&self, t: u64) -> String {
        human_duration(self.now_ms.saturating_sub(t) / 1000)
    }
}

/// kubectl's `HumanDuration` (k8s.io/apimachinery/pkg/util/duration): seconds below
/// two minutes, then minutes and seconds below ten minutes, then minutes, hours and
/// minutes, days.
pub(crate) fn human_duration(secs: u64) -> String {
    let (minutes, hours) = (secs / 60, secs / 3600);
    if secs < 120 {
        format!("{secs}s")
    } else if minutes < 10 {
        match secs % 60 {
            0 => format!("{minutes}m"),
            s => format!("{minutes}m{s}s"),
        }
    } else if minutes < 180 {
        format!("{minutes}m")
    } else if hours < 8 {
        match minutes % 60 {
            0 => format!("{hours}h"),
            m => format!("{hours}h{m}m"),
        }
    } else if hours < 48 {
        format!("{hours}h")
    } else if hours < 24 * 8 {
        match hours % 24 {
            0 => format!("{}d", hours / 24),
            h => format!("{}d{h}h", hours / 24),
        }
    } else {
        format!("{}d", hours / 24)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_as_kubectl_prints_them() {
        let cases = [
            (5, "5s"),
            (119, "119s"),
            (120, "2m"),
            (312, "5m12s"),
            (600, "10m"),
            (179 * 60, "179m"),
            (3 * 3600, "3h"),
            (3 * 3600 + 120, "3h2m"),
            (30 * 3600, "30h"),
            (50 * 3600, "2d2h"),
            (10 * 86400, "10d"),
        ];
        for (secs, shown) in cases {
            assert_eq!(human_duration(secs), shown, "{secs}s");
        }
    }

    #[test]
    fn the_present_is_the_wall_clocks_and_the_past_is_virtual() {
        let instants = Instants::at(600_000);
        let now = instants.time(600_000).0;
        let created = instants.time(0).0;
        assert_eq!((now - created).num_seconds(), 600);
        assert!((Utc::now() - now).num_seconds().abs() <= 1);
        assert_eq!(instants.age(288_000), "5m12s");
    }
}
