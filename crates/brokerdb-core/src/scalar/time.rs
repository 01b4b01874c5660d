//! Instants: UTC, millisecond precision, rendered `YYYY-MM-DDTHH:MM:SS.mmmZ`.
//!
//! Every instant that leaves brokerdb has exactly three fractional digits and a `Z`, whatever
//! offset it came in with, and is truncated to milliseconds before it is stored, so a value read
//! back compares equal to the one written (keyset cursors and idempotency comparisons depend on
//! that; the schema's `now()` defaults are truncated the same way).

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, TimeDelta, Timelike, Utc};
use tokio_postgres::types::{FromSql, IsNull, ToSql, Type, private::BytesMut, to_sql_checked};

use crate::scalar::validation::ValidationError;

type SqlError = Box<dyn std::error::Error + Sync + Send>;

/// A UTC instant truncated to milliseconds, within years 0000..=9999 so that it always renders
/// in the fixed `YYYY-MM-DDTHH:MM:SS.mmmZ` form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Timestamp(DateTime<Utc>);

fn out_of_range() -> ValidationError {
    ValidationError::new("datetime", "must be between years 0000 and 9999 (UTC)")
}

impl Timestamp {
    /// The Datetime rule: `YYYY-MM-DDTHH:MM[:SS[.fraction]]` then `Z` or `±HH:MM`, a valid
    /// calendar date, upper-case `T`/`Z`; nothing else (no trimming). Errors name the field
    /// `datetime`; rename it with [`ValidationError::with_field`].
    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        let utc = parse_datetime(s).ok_or_else(|| {
            ValidationError::new(
                "datetime",
                "must be YYYY-MM-DDTHH:MM[:SS[.fff]] with Z or ±HH:MM",
            )
        })?;
        Self::from_datetime(utc)
    }

    /// `dt` truncated to milliseconds; fails outside years 0000..=9999.
    pub fn from_datetime(dt: DateTime<Utc>) -> Result<Self, ValidationError> {
        Self::from_unix_millis(dt.timestamp_millis())
    }

    /// The instant `ms` milliseconds after the Unix epoch; fails outside years 0000..=9999.
    pub fn from_unix_millis(ms: i64) -> Result<Self, ValidationError> {
        match DateTime::from_timestamp_millis(ms) {
            Some(dt) if (0..=9999).contains(&dt.year()) => Ok(Self(dt)),
            _ => Err(out_of_range()),
        }
    }

    /// `t` truncated (towards the past) to milliseconds; fails outside years 0000..=9999.
    pub fn from_system_time(t: SystemTime) -> Result<Self, ValidationError> {
        let ms = match t.duration_since(UNIX_EPOCH) {
            Ok(d) => i128::try_from(d.as_millis()).unwrap_or(i128::MAX),
            Err(e) => {
                let d = e.duration();
                let partial = i128::from(d.as_nanos() % 1_000_000 != 0);
                -i128::try_from(d.as_millis()).unwrap_or(i128::MAX) - partial
            }
        };
        Self::from_unix_millis(i64::try_from(ms).map_err(|_| out_of_range())?)
    }

    /// The current instant, truncated to milliseconds.
    pub fn now() -> Self {
        let now = Utc::now();
        // Cannot fail: a `DateTime`'s own millisecond count is always representable.
        Self(DateTime::from_timestamp_millis(now.timestamp_millis()).unwrap_or(now))
    }

    /// The instant as a chrono value.
    pub fn as_datetime(&self) -> DateTime<Utc> {
        self.0
    }

    /// Milliseconds since the Unix epoch.
    pub fn unix_millis(&self) -> i64 {
        self.0.timestamp_millis()
    }

    /// The instant `d` later, or `None` past year 9999.
    pub fn checked_add(&self, d: std::time::Duration) -> Option<Self> {
        let later = self.0.checked_add_signed(TimeDelta::from_std(d).ok()?)?;
        Self::from_datetime(later).ok()
    }
}

fn digits(b: &[u8], from: usize, len: usize) -> Option<u32> {
    let d = b.get(from..from + len)?;
    d.iter()
        .all(u8::is_ascii_digit)
        .then(|| d.iter().fold(0, |n, c| n * 10 + u32::from(c - b'0')))
}

fn parse_datetime(s: &str) -> Option<DateTime<Utc>> {
    let b = s.as_bytes();
    let at = |i: usize, c: u8| b.get(i) == Some(&c);
    if !(at(4, b'-') && at(7, b'-') && at(10, b'T') && at(13, b':')) {
        return None;
    }
    let (year, month, day) = (digits(b, 0, 4)?, digits(b, 5, 2)?, digits(b, 8, 2)?);
    let (hour, minute) = (digits(b, 11, 2)?, digits(b, 14, 2)?);
    let (mut i, mut second, mut millis) = (16, 0, 0);
    if at(i, b':') {
        second = digits(b, 17, 2)?;
        i = 19;
        if at(i, b'.') {
            let fraction = &b[i + 1..];
            let len = fraction.iter().take_while(|c| c.is_ascii_digit()).count();
            if len == 0 {
                return None;
            }
            // Truncate any fraction to milliseconds: ".5" is 500 ms, ".123456" is 123 ms.
            let padded = fraction[..len].iter().chain(&[b'0'; 3]).take(3);
            millis = padded.fold(0, |n, c| n * 10 + u32::from(c - b'0'));
            i += 1 + len;
        }
    }
    let offset_minutes: i64 = match &b[i..] {
        [b'Z'] => 0,
        [sign @ (b'+' | b'-'), _, _, b':', _, _] => {
            let (oh, om) = (digits(b, i + 1, 2)?, digits(b, i + 4, 2)?);
            if oh > 23 || om > 59 {
                return None;
            }
            let minutes = i64::from(oh * 60 + om);
            if *sign == b'-' { -minutes } else { minutes }
        }
        _ => return None,
    };
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let date = NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, month, day)?;
    let local = date.and_time(NaiveTime::from_hms_milli_opt(hour, minute, second, millis)?);
    Some(
        local
            .checked_sub_signed(TimeDelta::minutes(offset_minutes))?
            .and_utc(),
    )
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = &self.0;
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
            t.year(),
            t.month(),
            t.day(),
            t.hour(),
            t.minute(),
            t.second(),
            t.timestamp_subsec_millis()
        )
    }
}

impl std::str::FromStr for Timestamp {
    type Err = ValidationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl serde::Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl ToSql for Timestamp {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, SqlError> {
        self.0.to_sql(ty, out)
    }
    fn accepts(ty: &Type) -> bool {
        <DateTime<Utc> as ToSql>::accepts(ty)
    }
    to_sql_checked!();
}

impl<'a> FromSql<'a> for Timestamp {
    /// Reads a `TIMESTAMPTZ`, truncating PostgreSQL's microseconds to milliseconds.
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Self, SqlError> {
        Ok(Self::from_datetime(DateTime::<Utc>::from_sql(ty, raw)?)?)
    }
    fn accepts(ty: &Type) -> bool {
        <DateTime<Utc> as FromSql>::accepts(ty)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::time::Duration;

    fn render(s: &str) -> Option<String> {
        Timestamp::parse(s).ok().map(|t| t.to_string())
    }

    #[test]
    fn offsets_are_converted_to_utc_and_rendered_with_millis() {
        assert_eq!(
            render("2026-02-13T01:00:00+01:00").as_deref(),
            Some("2026-02-13T00:00:00.000Z")
        );
        assert_eq!(
            render("2026-02-12T19:00-05:00").as_deref(),
            Some("2026-02-13T00:00:00.000Z")
        );
        assert_eq!(
            render("2026-01-01T10:30Z").as_deref(),
            Some("2026-01-01T10:30:00.000Z")
        );
        assert_eq!(
            render("2026-01-01T00:00:00.5Z").as_deref(),
            Some("2026-01-01T00:00:00.500Z")
        );
        assert_eq!(
            render("2026-01-01T00:00:00.123987654321Z").as_deref(),
            Some("2026-01-01T00:00:00.123Z")
        );
        assert_eq!(
            render("2026-01-01T00:30:00-00:45").as_deref(),
            Some("2026-01-01T01:15:00.000Z")
        );
        assert_eq!(
            render("2024-02-29T23:59:59.999+23:59").as_deref(),
            Some("2024-02-29T00:00:59.999Z")
        );
        assert_eq!(
            render("0000-01-01T00:00Z").as_deref(),
            Some("0000-01-01T00:00:00.000Z")
        );
        assert_eq!(
            render("9999-12-31T23:59:59.999Z").as_deref(),
            Some("9999-12-31T23:59:59.999Z")
        );
    }

    #[test]
    fn anything_but_the_strict_form_is_rejected() {
        for bad in [
            "2026-02-13T00:00:00+0000",
            "2026-02-13T00:00:00z",
            "2026-02-13t00:00:00Z",
            "2026-02-13 00:00:00Z",
            "2026-02-13T00:00:00",
            "2026-02-13",
            "2026-02-30T00:00Z",
            "2023-02-29T00:00Z",
            "2026-13-01T00:00Z",
            "2026-00-10T00:00Z",
            "2026-01-00T00:00Z",
            "2026-01-01T24:00Z",
            "2026-01-01T23:60Z",
            "2026-01-01T23:59:60Z",
            "2026-01-01T00:00:00.Z",
            "2026-01-01T00:00:00,5Z",
            "2026-01-01T00:00.5Z",
            "2026-01-01T00:00:00+24:00",
            "2026-01-01T00:00:00+01:60",
            "2026-01-01T00:00:00+01",
            "2026-01-01T00:00:00Z ",
            " 2026-01-01T00:00:00Z",
            "+02026-01-01T00:00Z",
            "2026-1-01T00:00Z",
            "2026-01-01T0:00Z",
            "2026-01-01T00:00:0Z",
            "0000-01-01T00:00+00:01",
            "9999-12-31T23:59-00:01",
            "",
            "2026-01-01T00:00:00ZZ",
            "２026-01-01T00:00Z",
        ] {
            assert_eq!(render(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn system_time_is_truncated_to_millis() -> Result<(), ValidationError> {
        let t = Timestamp::from_system_time(UNIX_EPOCH + Duration::from_nanos(1_234_567_891))?;
        assert_eq!(t.to_string(), "1970-01-01T00:00:01.234Z");
        let before = Timestamp::from_system_time(UNIX_EPOCH - Duration::from_micros(1_500_500))?;
        assert_eq!(before.to_string(), "1969-12-31T23:59:58.499Z");
        assert_eq!(
            Timestamp::now().as_datetime().timestamp_subsec_nanos() % 1_000_000,
            0
        );
        Ok(())
    }

    #[test]
    fn equal_instants_compare_equal_whatever_the_offset() -> Result<(), ValidationError> {
        let a = Timestamp::parse("2026-02-13T00:00:00.000Z")?;
        assert_eq!(a, Timestamp::parse("2026-02-13T01:00+01:00")?);
        assert!(a < Timestamp::parse("2026-02-13T00:00:00.001Z")?);
        assert_eq!(
            a.checked_add(Duration::from_millis(1500))
                .map(|t| t.to_string())
                .as_deref(),
            Some("2026-02-13T00:00:01.500Z")
        );
        Ok(())
    }

    #[test]
    fn serde_uses_the_rendered_string() -> Result<(), serde_json::Error> {
        let t: Timestamp = serde_json::from_str("\"2026-02-13T01:00:00+01:00\"")?;
        assert_eq!(serde_json::to_string(&t)?, "\"2026-02-13T00:00:00.000Z\"");
        assert!(serde_json::from_str::<Timestamp>("\"2026-02-13T00:00:00+0000\"").is_err());
        Ok(())
    }

    #[test]
    fn timestamptz_is_read_truncated_to_millis() {
        // Binary TIMESTAMPTZ: microseconds since 2000-01-01T00:00:00Z.
        let t = Timestamp::from_sql(&Type::TIMESTAMPTZ, &1_999i64.to_be_bytes()).ok();
        assert_eq!(
            t.map(|t| t.to_string()).as_deref(),
            Some("2000-01-01T00:00:00.001Z")
        );
        assert!(<Timestamp as FromSql>::accepts(&Type::TIMESTAMPTZ));
        assert!(!<Timestamp as ToSql>::accepts(&Type::TEXT));
    }

    proptest! {
        #[test]
        fn display_then_parse_round_trips(ms in -62_167_219_200_000i64..253_402_300_800_000) {
            let t = Timestamp::from_unix_millis(ms);
            prop_assert!(t.is_ok());
            let t = t.map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(Timestamp::parse(&t.to_string()), Ok(t));
            prop_assert_eq!(t.unix_millis(), ms);
        }
    }
}
