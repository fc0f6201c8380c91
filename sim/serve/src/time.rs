//! Virtual instants as the API's timestamps.
//!
//! The world's clock counts virtual milliseconds from its start, and at full speed it
//! runs hours ahead of the wall clock in a second. Clients compute ages from
//! timestamps against their own wall clock (`kubectl describe`'s "Age", kube-rs'
//! times), so a fixed mapping would put a fast run's objects in the future. Instead
//! each answer places the world's present at the wall clock's present: an instant
//! `t` is shown `now_virtual - t` before the moment of the answer. Ages are then the
//! world's own ("created 5m ago" means five virtual minutes), on every answer.
//!
//! A world paced against the wall clock (`--sim-speed`) has a better answer: each
//! virtual instant has its own wall moment, the one the world reached it at
//! ([`Pace::wall_ms_of`]). Those timestamps are the same on every answer and keep
//! the order of the world's instants, which a client comparing two timestamps read
//! at different moments (did the high job finish first?) relies on.

use std::time::{SystemTime, UNIX_EPOCH};

use chrono::{DateTime, SecondsFormat, Utc};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use runbook_backend::Pace;
use runbook_backend_sim::SimTarget;

/// Where the world's instants are on the wall clock, for one answer.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Instants {
    /// The world's virtual time.
    pub(crate) now_ms: u64,
    /// The wall clock at this answer, Unix milliseconds.
    wall_ms: i64,
    /// The world's pace against the wall clock, when it has one.
    pace: Option<Pace>,
}

impl Instants {
    /// The instants of `target`'s world, whose present is `now_ms` (read under the
    /// same look at the world as what the answer shows).
    pub(crate) fn of(target: &SimTarget, now_ms: u64) -> Instants {
        Instants {
            pace: target.pace(),
            ..Instants::at(now_ms)
        }
    }

    /// The world's present, `now_ms`, at this moment of the wall clock (a world that
    /// runs at its own speed).
    pub(crate) fn at(now_ms: u64) -> Instants {
        Instants {
            now_ms,
            wall_ms: wall_now_ms(),
            pace: None,
        }
    }

    /// The wall moment of virtual instant `t`, Unix milliseconds; never after the
    /// answer's moment.
    fn wall_ms(&self, t: u64) -> i64 {
        let ms = match self.pace {
            Some(pace) => pace.wall_ms_of(t),
            None => {
                let ago = i64::try_from(self.now_ms.saturating_sub(t)).unwrap_or(i64::MAX);
                self.wall_ms.saturating_sub(ago)
            }
        };
        ms.min(self.wall_ms)
    }

    fn instant(&self, t: u64) -> DateTime<Utc> {
        DateTime::<Utc>::from_timestamp_millis(self.wall_ms(t)).unwrap_or_default()
    }

    /// The Kubernetes timestamp of virtual instant `t`: whole seconds, as RFC 3339
    /// without fractions (how the API server sends them).
    pub(crate) fn time(&self, t: u64) -> Time {
        let ms = self.wall_ms(t);
        Time(DateTime::<Utc>::from_timestamp(ms.div_euclid(1000), 0).unwrap_or_default())
    }

    /// The instant `t` as RFC 3339 in whole seconds (kubectl's CREATED AT column).
    pub(crate) fn date(&self, t: u64) -> String {
        self.time(t).0.to_rfc3339_opts(SecondsFormat::Secs, true)
    }

    /// The instant `t` in Unix seconds with milliseconds (EKS's timestamps:
    /// rest-json's default, a number).
    pub(crate) fn epoch_seconds(&self, t: u64) -> f64 {
        self.wall_ms(t) as f64 / 1000.0
    }

    /// The instant `t` as RFC 3339 with milliseconds (EMR on EKS's timestamps,
    /// `date-time` in its model).
    pub(crate) fn date_time(&self, t: u64) -> String {
        self.instant(t).to_rfc3339_opts(SecondsFormat::Millis, true)
    }

    /// How long before the present `t` was, as kubectl prints ages (`5m12s`, `3h`).
    pub(crate) fn age(&self, t: u64) -> String {
        human_duration(self.now_ms.saturating_sub(t) / 1000)
    }
}

fn wall_now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
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

    #[test]
    fn a_paced_worlds_instants_are_the_wall_moments_it_reached_them() {
        let start = wall_now_ms() - 10_000;
        let pace = Pace {
            virtual_ms: 1_000,
            wall_ms: start,
            speed: 50.0,
        };
        let earlier = Instants {
            pace: Some(pace),
            ..Instants::at(400_000)
        };
        let later = Instants {
            pace: Some(pace),
            ..Instants::at(500_000)
        };
        // The same instant reads the same on two answers, to the millisecond.
        assert_eq!(earlier.date_time(201_000), later.date_time(201_000));
        assert_eq!(
            earlier.epoch_seconds(201_000),
            (start + 4_000) as f64 / 1000.0
        );
        // Instants 100 virtual ms apart stay apart and in order.
        assert!(later.date_time(201_100) > later.date_time(201_000));
        // Ahead of the pace, an instant is shown no later than the answer.
        let far = (Utc::now() - later.instant(100_000_000)).num_milliseconds();
        assert!((0..1_000).contains(&far), "{far}");
    }
}
