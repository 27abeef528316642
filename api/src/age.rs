//! Ages as `kubectl get` prints them (`5s`, `3m20s`, `2d3h`), and the timestamps they come from.
//!
//! Mirrors apimachinery's `pkg/util/duration` (`HumanDuration`): precise when an object is young,
//! coarser as it ages. The server computes the AGE cells of its Tables (kubectl prints them as
//! they come), so this runs in the API server. Timestamps are RFC 3339 in UTC
//! (`2026-11-23T12:00:00Z`), as Kubernetes writes them.

/// Seconds since the Unix epoch, now.
pub fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

/// The age of something `seconds` old, as kubectl shows it.
///
/// Examples: 59 s → `59s`; 119 s → `119s`; 125 s → `2m5s`; 10 min → `10m`; 3 h 20 min →
/// `3h20m`; 30 h → `30h`; 50 h → `2d2h`; 20 days → `20d`; 800 days → `2y70d`; 10 years → `10y`.
pub fn human(seconds: i64) -> String {
    // Two seconds of clock skew between machines still reads as "now".
    if seconds < -1 {
        return "<invalid>".into();
    }
    if seconds < 0 {
        return "0s".into();
    }
    if seconds < 120 {
        return format!("{seconds}s");
    }
    let minutes = seconds / 60;
    if minutes < 10 {
        let s = seconds % 60;
        return if s == 0 { format!("{minutes}m") } else { format!("{minutes}m{s}s") };
    }
    if minutes < 180 {
        return format!("{minutes}m");
    }
    let hours = minutes / 60;
    if hours < 8 {
        let m = minutes % 60;
        return if m == 0 { format!("{hours}h") } else { format!("{hours}h{m}m") };
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    let days = hours / 24;
    if hours < 24 * 8 {
        let h = hours % 24;
        return if h == 0 { format!("{days}d") } else { format!("{days}d{h}h") };
    }
    if days < 365 * 2 {
        return format!("{days}d");
    }
    let years = days / 365;
    if days < 365 * 8 {
        let d = days % 365;
        return if d == 0 { format!("{years}y") } else { format!("{years}y{d}d") };
    }
    format!("{years}y")
}

/// Seconds since the Unix epoch of an RFC 3339 UTC timestamp (`2026-11-23T12:00:00Z`, fractions
/// of a second allowed and dropped). `None` if it is not one.
pub fn parse_timestamp(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    if !text.ends_with('Z') {
        return None;
    }
    let num = |range: std::ops::Range<usize>| text.get(range)?.parse::<i64>().ok();
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    Some(days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second)
}

/// Formats seconds since the epoch as an RFC 3339 UTC timestamp.
pub fn format_timestamp(seconds: i64) -> String {
    let (days, rest) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    let (year, month, day) = civil_from_days(days);
    if !(0..=9999).contains(&year) {
        return format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", rest / 3600, rest % 3600 / 60, rest % 60);
    }
    // Every write stamps one or two: written digit by digit rather than through `format!`.
    let mut text = String::with_capacity(20);
    let fields = [(year, 4, '-'), (month, 2, '-'), (day, 2, 'T'), (rest / 3600, 2, ':'), (rest % 3600 / 60, 2, ':')];
    for (value, width, then) in fields.into_iter().chain([(rest % 60, 2, 'Z')]) {
        for place in (0..width).rev() {
            text.push(char::from(b'0' + (value / 10i64.pow(place) % 10) as u8));
        }
        text.push(then);
    }
    text
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + if month <= 2 { 1 } else { 0 };
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_like_kubectl() {
        let minute = 60;
        let hour = 3600;
        let day = 86_400;
        let cases = [
            (-5, "<invalid>"),
            (-1, "0s"),
            (0, "0s"),
            (59, "59s"),
            (119, "119s"),
            (125, "2m5s"),
            (5 * minute, "5m"),
            (10 * minute, "10m"),
            (179 * minute, "179m"),
            (3 * hour + 20 * minute, "3h20m"),
            (8 * hour, "8h"),
            (30 * hour, "30h"),
            (50 * hour, "2d2h"),
            (7 * day, "7d"),
            (20 * day, "20d"),
            (800 * day, "2y70d"),
            (3650 * day, "10y"),
        ];
        for (seconds, want) in cases {
            assert_eq!(human(seconds), want, "{seconds} s");
        }
    }

    #[test]
    fn timestamps_round_trip() {
        let cases = [
            ("1970-01-01T00:00:00Z", 0),
            ("2000-02-29T12:30:15Z", 951_827_415),
            ("2026-11-23T12:00:00Z", 1_795_435_200),
        ];
        for (text, seconds) in cases {
            assert_eq!(parse_timestamp(text), Some(seconds), "{text}");
            assert_eq!(format_timestamp(seconds), text);
        }
        for seconds in (-62_135_596_800i64..253_402_300_800).step_by(9_999_991) {
            assert_eq!(parse_timestamp(&format_timestamp(seconds)), Some(seconds), "{seconds}");
        }
        assert_eq!(parse_timestamp("2026-11-23T12:00:00.123456Z"), Some(1_795_435_200));
        for bad in ["", "2026-11-23", "2026-13-01T00:00:00Z", "2026-11-23T12:00:00+01:00", "yesterday"] {
            assert_eq!(parse_timestamp(bad), None, "{bad}");
        }
    }
}
