//! Ages as kubectl prints them (`k8s.io/apimachinery/pkg/util/duration.HumanDuration`).

use jiff::Timestamp;

/// The age of something created at `created`, seen at `now`: `45s`, `3m20s`, `2h`, `5d`, `2y30d`.
pub fn human_age(created: Timestamp, now: Timestamp) -> String {
    let seconds = now.as_second().saturating_sub(created.as_second());
    if seconds < 0 {
        return "0s".to_owned();
    }
    let (minutes, hours, days) = (seconds / 60, seconds / 3600, seconds / 86400);
    let years = days / 365;
    match () {
        _ if seconds < 60 * 2 => format!("{seconds}s"),
        _ if minutes < 10 => with_rest(minutes, "m", seconds % 60, "s"),
        _ if minutes < 60 * 3 => format!("{minutes}m"),
        _ if hours < 8 => with_rest(hours, "h", minutes % 60, "m"),
        _ if hours < 48 => format!("{hours}h"),
        _ if hours < 24 * 8 => with_rest(days, "d", hours % 24, "h"),
        _ if hours < 24 * 365 * 2 => format!("{days}d"),
        _ if hours < 24 * 365 * 8 => with_rest(years, "y", days % 365, "d"),
        _ => format!("{years}y"),
    }
}

fn with_rest(big: i64, big_unit: &str, small: i64, small_unit: &str) -> String {
    if small == 0 {
        format!("{big}{big_unit}")
    } else {
        format!("{big}{big_unit}{small}{small_unit}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_kubectl() {
        let now: Timestamp = "2026-11-26T12:00:00Z".parse().unwrap();
        for (ago, expect) in [
            (0, "0s"),
            (119, "119s"),
            (120, "2m"),
            (200, "3m20s"),
            (600, "10m"),
            (3 * 3600 - 1, "179m"),
            (3 * 3600 + 60, "3h1m"),
            (8 * 3600, "8h"),
            (47 * 3600, "47h"),
            (48 * 3600 + 3600, "2d1h"),
            (8 * 86400, "8d"),
            (729 * 86400, "729d"),
            (731 * 86400, "2y1d"),
            (9 * 365 * 86400, "9y"),
            (-5, "0s"),
        ] {
            let created = Timestamp::from_second(now.as_second() - ago).unwrap();
            assert_eq!(human_age(created, now), expect, "{ago}s ago");
        }
    }
}
