//! Grains, calendar durations and offsets, all in UTC.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, Duration, Months, NaiveDate, TimeZone, Timelike, Utc};
use serde::Serialize;

/// A time granularity, finest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Grain {
    Millisecond,
    Second,
    Minute,
    Hour,
    Day,
    Week,
    Month,
    Quarter,
    Year,
}

impl Grain {
    pub const ALL: [Grain; 9] = [
        Grain::Millisecond,
        Grain::Second,
        Grain::Minute,
        Grain::Hour,
        Grain::Day,
        Grain::Week,
        Grain::Month,
        Grain::Quarter,
        Grain::Year,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Grain::Millisecond => "millisecond",
            Grain::Second => "second",
            Grain::Minute => "minute",
            Grain::Hour => "hour",
            Grain::Day => "day",
            Grain::Week => "week",
            Grain::Month => "month",
            Grain::Quarter => "quarter",
            Grain::Year => "year",
        }
    }

    /// The start of the period containing `t` (weeks start on Monday, ISO 8601).
    pub fn truncate(self, t: DateTime<Utc>) -> DateTime<Utc> {
        let d = t.date_naive();
        let day = |d: NaiveDate| Utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0).unwrap_or_default());
        let within_day = |unit_ms: i64| {
            let ms = t.timestamp_millis().div_euclid(unit_ms) * unit_ms;
            DateTime::from_timestamp_millis(ms).unwrap_or(t)
        };
        match self {
            Grain::Millisecond => within_day(1),
            Grain::Second => within_day(1_000),
            Grain::Minute => within_day(60_000),
            Grain::Hour => Utc.from_utc_datetime(&d.and_hms_opt(t.hour(), 0, 0).unwrap_or_default()),
            Grain::Day => day(d),
            Grain::Week => day(d - Duration::days(i64::from(d.weekday().num_days_from_monday()))),
            Grain::Month => day(d.with_day(1).unwrap_or(d)),
            Grain::Quarter => {
                let m = (d.month0() / 3) * 3 + 1;
                day(NaiveDate::from_ymd_opt(d.year(), m, 1).unwrap_or(d))
            }
            Grain::Year => day(NaiveDate::from_ymd_opt(d.year(), 1, 1).unwrap_or(d)),
        }
    }

    /// `t` moved by `n` periods of this grain (calendar-aware for months and longer). A
    /// move past the range of times saturates at its first or last instant (validation
    /// bounds durations far below that, see [`CalendarDuration::MAX_YEARS`]).
    pub fn add(self, t: DateTime<Utc>, n: i64) -> DateTime<Utc> {
        let edge = if n >= 0 {
            DateTime::<Utc>::MAX_UTC
        } else {
            DateTime::<Utc>::MIN_UTC
        };
        let months = |m: Option<i64>| {
            let shifted = m.and_then(|m| {
                let k = Months::new(u32::try_from(m.unsigned_abs()).ok()?);
                if m >= 0 {
                    t.checked_add_months(k)
                } else {
                    t.checked_sub_months(k)
                }
            });
            shifted.unwrap_or(edge)
        };
        let by = |d: Option<Duration>| d.and_then(|d| t.checked_add_signed(d)).unwrap_or(edge);
        match self {
            Grain::Millisecond => by(Duration::try_milliseconds(n)),
            Grain::Second => by(Duration::try_seconds(n)),
            Grain::Minute => by(Duration::try_minutes(n)),
            Grain::Hour => by(Duration::try_hours(n)),
            Grain::Day => by(Duration::try_days(n)),
            Grain::Week => by(Duration::try_weeks(n)),
            Grain::Month => months(Some(n)),
            Grain::Quarter => months(n.checked_mul(3)),
            Grain::Year => months(n.checked_mul(12)),
        }
    }

    /// The length of one period in days, roughly (for bounds, not arithmetic).
    fn approx_days(self) -> f64 {
        match self {
            Grain::Millisecond => 1.0 / 86_400_000.0,
            Grain::Second => 1.0 / 86_400.0,
            Grain::Minute => 1.0 / 1_440.0,
            Grain::Hour => 1.0 / 24.0,
            Grain::Day => 1.0,
            Grain::Week => 7.0,
            Grain::Month => 30.44,
            Grain::Quarter => 91.31,
            Grain::Year => 365.25,
        }
    }

    /// The first period start at or after `t`.
    pub fn ceil(self, t: DateTime<Utc>) -> DateTime<Utc> {
        let floor = self.truncate(t);
        if floor == t { t } else { self.add(floor, 1) }
    }
}

impl fmt::Display for Grain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Grain {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim().to_ascii_lowercase();
        let s = s.strip_suffix('s').unwrap_or(&s);
        Grain::ALL.into_iter().find(|g| g.as_str() == s).ok_or_else(|| {
            format!(
                "unknown granularity `{s}`; valid: millisecond, second, minute, hour, day, week, month, quarter, year"
            )
        })
    }
}

/// A calendar duration such as `7 days` or `1 year`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct CalendarDuration {
    pub count: i64,
    pub unit: Grain,
}

impl CalendarDuration {
    /// The longest duration accepted (windows, offsets): ten thousand years, the span of
    /// the times a KPI can have (years 1 to 9999).
    pub const MAX_YEARS: i64 = 10_000;

    pub fn add_to(self, t: DateTime<Utc>) -> DateTime<Utc> {
        self.unit.add(t, self.count)
    }

    pub fn sub_from(self, t: DateTime<Utc>) -> DateTime<Utc> {
        self.unit.add(t, -self.count)
    }
}

impl fmt::Display for CalendarDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = if self.count == 1 { "" } else { "s" };
        write!(f, "{} {}{s}", self.count, self.unit)
    }
}

impl FromStr for CalendarDuration {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut parts = s.split_whitespace();
        let (Some(n), Some(unit), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(format!("`{s}` is not a duration; write `N unit`, e.g. `7 days`"));
        };
        let count: i64 = n.parse().map_err(|_| format!("`{n}` in `{s}` is not a whole number"))?;
        if count <= 0 {
            return Err(format!("the duration `{s}` must be positive"));
        }
        let unit: Grain = unit.parse()?;
        if count as f64 * unit.approx_days() > CalendarDuration::MAX_YEARS as f64 * 365.25 {
            return Err(format!(
                "the duration `{s}` is longer than {} years, the span of all times",
                CalendarDuration::MAX_YEARS
            ));
        }
        Ok(CalendarDuration { count, unit })
    }
}

/// How far a derived KPI's input is shifted back in time.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub enum Offset {
    /// N periods of the query's grain (`1 period` is the previous period).
    Periods(i64),
    Calendar(CalendarDuration),
    /// The start of the enclosing period of this grain (`start of month`: month to date
    /// comparisons), MetricFlow's `offset_to_grain`.
    ToStart(Grain),
    /// N periods of a custom granularity (`1 fiscal_quarter`): each day takes the day at the
    /// same position N periods before (the last day when that period is shorter).
    Custom(i64, String),
}

impl FromStr for Offset {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(g) = s.trim().strip_prefix("start of ") {
            return g.parse().map(Offset::ToStart);
        }
        let mut parts = s.split_whitespace();
        if let (Some(n), Some(u), None) = (parts.next(), parts.next(), parts.next())
            && matches!(u, "period" | "periods")
        {
            let n: i64 = n.parse().map_err(|_| format!("`{n}` in `{s}` is not a whole number"))?;
            if n <= 0 {
                return Err(format!("the offset `{s}` must be positive"));
            }
            // Ten thousand years of the finest grain a KPI is usually read at (days).
            if n > CalendarDuration::MAX_YEARS * 366 {
                return Err(format!(
                    "the offset `{s}` is more than {} periods",
                    CalendarDuration::MAX_YEARS * 366
                ));
            }
            return Ok(Offset::Periods(n));
        }
        let calendar = s.parse().map(Offset::Calendar);
        // `N name`: a custom granularity, when the name is not a grain (checked against the
        // project's custom granularities by validation).
        if calendar.is_err()
            && let (Some(n), Some(u), None) = {
                let mut p = s.split_whitespace();
                (p.next(), p.next(), p.next())
            }
            && let Ok(n) = n.parse::<i64>()
            && n > 0
            && n <= CalendarDuration::MAX_YEARS * 366
            && u.chars().next().is_some_and(|c| c.is_ascii_lowercase())
            && u.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        {
            return Ok(Offset::Custom(n, u.to_owned()));
        }
        calendar.map_err(|e| format!("{e}; or `N periods` for periods of the query grain, or `start of GRAIN`"))
    }
}

impl fmt::Display for Offset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Offset::Periods(1) => f.write_str("1 period"),
            Offset::Periods(n) => write!(f, "{n} periods"),
            Offset::Calendar(d) => d.fmt(f),
            Offset::ToStart(g) => write!(f, "start of {g}"),
            Offset::Custom(n, g) => write!(f, "{n} {g}"),
        }
    }
}

/// A parsed user timestamp: RFC 3339, `YYYY-MM-DD HH:MM:SS`, or a date `YYYY-MM-DD` (UTC).
pub fn parse_instant(s: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    for fmt in ["%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S"] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(s, fmt) {
            return Ok(Utc.from_utc_datetime(&t));
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(Utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0).unwrap_or_default()));
    }
    if let Ok(d) = NaiveDate::parse_from_str(&format!("{s}-01"), "%Y-%m-%d") {
        return Ok(Utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0).unwrap_or_default()));
    }
    Err(format!(
        "`{s}` is not a time; use `YYYY-MM-DD`, `YYYY-MM`, or RFC 3339 such as `2024-01-31T00:00:00Z`"
    ))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        parse_instant(s).unwrap()
    }

    #[test]
    fn truncate_follows_the_calendar() {
        let x = t("2024-05-15T13:45:00Z");
        assert_eq!(Grain::Hour.truncate(x), t("2024-05-15T13:00:00Z"));
        assert_eq!(Grain::Day.truncate(x), t("2024-05-15"));
        assert_eq!(Grain::Week.truncate(x), t("2024-05-13")); // a Monday
        assert_eq!(Grain::Month.truncate(x), t("2024-05-01"));
        assert_eq!(Grain::Quarter.truncate(x), t("2024-04-01"));
        assert_eq!(Grain::Year.truncate(x), t("2024-01-01"));
    }

    #[test]
    fn months_clamp_to_month_end() {
        assert_eq!(Grain::Month.add(t("2024-01-31"), 1), t("2024-02-29"));
        assert_eq!(Grain::Year.add(t("2024-02-29"), -1), t("2023-02-28"));
        assert_eq!(Grain::Month.ceil(t("2024-01-31")), t("2024-02-01"));
        assert_eq!(Grain::Month.ceil(t("2024-02-01")), t("2024-02-01"));
    }

    #[test]
    fn durations_and_offsets_parse() {
        assert_eq!(
            "7 days".parse::<CalendarDuration>().unwrap(),
            CalendarDuration {
                count: 7,
                unit: Grain::Day
            }
        );
        assert_eq!("1 period".parse::<Offset>().unwrap(), Offset::Periods(1));
        assert_eq!(
            "1 year".parse::<Offset>().unwrap(),
            Offset::Calendar(CalendarDuration {
                count: 1,
                unit: Grain::Year
            })
        );
        assert!("-1 day".parse::<CalendarDuration>().unwrap_err().contains("positive"));
        assert!("soon".parse::<Offset>().is_err());
        assert_eq!(parse_instant("2024-03").unwrap(), t("2024-03-01"));
    }
}
