//! Column types read without the generic work diesel does for them, for the rows read in bulk
//! (a log request reads a thousand lines, a list a hundred calculations). Used through
//! `#[diesel(deserialize_as = ...)]`: the fields keep their plain types.
//!
//! [`DbTime`], [`MaybeDbTime`]: timestamps. SQLite stores them as text, and diesel parses it
//! with `time`'s format descriptions, trying up to 18 of them: about a quarter of the CPU time
//! of a 1000-line log request went there. The text diesel writes is always
//! `YYYY-MM-DD HH:MM:SS[.ffffff]`, which a dozen byte comparisons read. PostgreSQL sends binary
//! timestamps; those go through diesel as before.

use diesel::deserialize::{self, FromSql};
use diesel::pg::Pg;
use diesel::sql_types::{Nullable, Timestamp};
use diesel::sqlite::Sqlite;
use time::{Date, Month, PrimitiveDateTime, Time};

use super::DbConn;

/// The backend of [`DbConn`], which hands each value to SQLite's or PostgreSQL's `FromSql`.
pub type Multi = <DbConn as diesel::Connection>::Backend;
pub type MultiValue<'a> = <Multi as diesel::backend::Backend>::RawValue<'a>;

/// A non-null timestamp column.
#[derive(diesel::deserialize::FromSqlRow)]
pub struct DbTime(pub PrimitiveDateTime);

/// A nullable timestamp column.
#[derive(diesel::deserialize::FromSqlRow)]
pub struct MaybeDbTime(pub Option<PrimitiveDateTime>);

impl From<DbTime> for PrimitiveDateTime {
    fn from(s: DbTime) -> Self {
        s.0
    }
}

impl From<MaybeDbTime> for Option<PrimitiveDateTime> {
    fn from(s: MaybeDbTime) -> Self {
        s.0
    }
}

impl FromSql<Timestamp, Sqlite> for DbTime {
    fn from_sql(
        mut value: <Sqlite as diesel::backend::Backend>::RawValue<'_>,
    ) -> deserialize::Result<Self> {
        let text = value.read_text();
        parse(text)
            .map(DbTime)
            .ok_or_else(|| format!("Invalid datetime {text}").into())
    }
}

impl FromSql<Timestamp, Pg> for DbTime {
    fn from_sql(
        value: <Pg as diesel::backend::Backend>::RawValue<'_>,
    ) -> deserialize::Result<Self> {
        <PrimitiveDateTime as FromSql<Timestamp, Pg>>::from_sql(value).map(DbTime)
    }
}

impl FromSql<Timestamp, Multi> for DbTime {
    fn from_sql(value: MultiValue<'_>) -> deserialize::Result<Self> {
        value.from_sql::<DbTime, Timestamp>()
    }
}

impl FromSql<Nullable<Timestamp>, Multi> for MaybeDbTime {
    fn from_sql(value: MultiValue<'_>) -> deserialize::Result<Self> {
        <DbTime as FromSql<Timestamp, Multi>>::from_sql(value).map(|s| MaybeDbTime(Some(s.0)))
    }

    fn from_nullable_sql(value: Option<MultiValue<'_>>) -> deserialize::Result<Self> {
        match value {
            Some(value) => Self::from_sql(value),
            None => Ok(MaybeDbTime(None)),
        }
    }
}

/// `YYYY-MM-DD HH:MM[:SS[.fraction]]`, with `T` allowed for the space and a trailing `Z`;
/// None for anything else (offsets, Julian day numbers: diesel never writes them).
pub fn parse(text: &str) -> Option<PrimitiveDateTime> {
    let b = text.strip_suffix('Z').unwrap_or(text).as_bytes();
    let num = |range: std::ops::Range<usize>| -> Option<u32> {
        let digits = b.get(range)?;
        digits.iter().try_fold(0u32, |n, d| {
            d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
        })
    };
    let at = |i: usize, c: u8| b.get(i) == Some(&c);
    if !(at(4, b'-') && at(7, b'-') && (at(10, b' ') || at(10, b'T')) && at(13, b':')) {
        return None;
    }
    let month = Month::try_from(u8::try_from(num(5..7)?).ok()?).ok()?;
    let date = Date::from_calendar_date(num(0..4)? as i32, month, num(8..10)? as u8).ok()?;
    let (hour, minute) = (num(11..13)? as u8, num(14..16)? as u8);
    let (mut second, mut nanos) = (0u8, 0u32);
    match b.len() {
        16 => {}
        19.. if at(16, b':') => {
            second = num(17..19)? as u8;
            if b.len() > 19 {
                let fraction = b
                    .get(20..)
                    .filter(|f| at(19, b'.') && (1..=9).contains(&f.len()))?;
                nanos = num(20..b.len())? * 10u32.pow(9 - fraction.len() as u32);
            }
        }
        _ => return None,
    }
    let time = Time::from_hms_nano(hour, minute, second, nanos).ok()?;
    Some(PrimitiveDateTime::new(date, time))
}

#[cfg(test)]
mod tests {
    use super::parse;
    use time::macros::datetime;

    #[test]
    fn reads_what_diesel_writes_and_refuses_the_rest() {
        for (text, expected) in [
            (
                "2026-11-22 20:31:33.244959",
                datetime!(2026-11-22 20:31:33.244959),
            ),
            ("2026-11-22 20:31:33", datetime!(2026-11-22 20:31:33)),
            ("2026-01-02T03:04", datetime!(2026-01-02 03:04)),
            ("2026-01-02 03:04:05.1Z", datetime!(2026-01-02 03:04:05.1)),
            (
                "1999-12-31 23:59:59.123456789",
                datetime!(1999-12-31 23:59:59.123456789),
            ),
        ] {
            assert_eq!(parse(text), Some(expected), "{text:?}");
        }
        for bad in [
            "",
            "2026-11-22",
            "2026-13-01 00:00:00",
            "2026-02-30 00:00:00",
            "2026-11-22 24:00:00",
            "2026-11-22 20:31:33.",
            "2026-11-22 20:31:33.1234567890",
            "2026-11-22 20:31:33+01:00",
            "2026-11-22 2a:31:33",
            "2460000.5",
        ] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
    }

    /// Reads back exactly what diesel writes, on a spread of instants.
    #[test]
    fn reads_back_what_diesel_writes() {
        use time::macros::format_description;
        let subsecond =
            format_description!("[year]-[month]-[day] [hour]:[minute]:[second].[subsecond]");
        let whole = format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
        let mut t = datetime!(1970-01-01 00:00:00);
        for i in 0..2000u32 {
            t += time::Duration::seconds(i64::from(i) * 86_413 + 7)
                + time::Duration::microseconds(i64::from(i * 7919 % 1_000_000));
            let text = t.format(&subsecond).unwrap();
            assert_eq!(parse(&text), Some(t), "{text}");
            let t = t.replace_nanosecond(0).unwrap();
            let text = t.format(&whole).unwrap();
            assert_eq!(parse(&text), Some(t), "{text}");
        }
    }
}
