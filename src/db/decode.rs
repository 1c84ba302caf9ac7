//! Column types read without the generic work diesel does for them, for the rows read in bulk
//! (a log request reads a thousand lines, a list a hundred calculations).
//!
//! - [`Stamp`], [`MaybeStamp`]: timestamps. SQLite stores them as text, and diesel parses it
//!   with `time`'s format descriptions, trying up to 18 of them: about a quarter of the CPU time
//!   of a 1000-line log request went there. The text diesel writes is always
//!   `YYYY-MM-DD HH:MM:SS[.ffffff]`, which a dozen byte comparisons read. PostgreSQL sends
//!   binary timestamps; those go through diesel as before.
//! - [`Word`]: short texts from a known set (log levels, process names), borrowed from a static
//!   list instead of allocated for every row.
//!
//! Used through `#[diesel(deserialize_as = ...)]`: the fields keep their plain types.

use diesel::deserialize::{self, FromSql};
use diesel::pg::Pg;
use std::borrow::Cow;

use diesel::sql_types::{Nullable, Text, Timestamp};
use diesel::sqlite::Sqlite;
use time::{Date, Month, PrimitiveDateTime, Time};

use super::DbConn;

type Multi = <DbConn as diesel::Connection>::Backend;
type MultiValue<'a> = <Multi as diesel::backend::Backend>::RawValue<'a>;

/// A non-null timestamp column.
#[derive(diesel::deserialize::FromSqlRow)]
pub struct Stamp(pub PrimitiveDateTime);

/// A nullable timestamp column.
#[derive(diesel::deserialize::FromSqlRow)]
pub struct MaybeStamp(pub Option<PrimitiveDateTime>);

impl From<Stamp> for PrimitiveDateTime {
    fn from(s: Stamp) -> Self {
        s.0
    }
}

impl From<MaybeStamp> for Option<PrimitiveDateTime> {
    fn from(s: MaybeStamp) -> Self {
        s.0
    }
}

impl FromSql<Timestamp, Sqlite> for Stamp {
    fn from_sql(
        mut value: <Sqlite as diesel::backend::Backend>::RawValue<'_>,
    ) -> deserialize::Result<Self> {
        let text = value.read_text();
        parse(text)
            .map(Stamp)
            .ok_or_else(|| format!("Invalid datetime {text}").into())
    }
}

impl FromSql<Timestamp, Pg> for Stamp {
    fn from_sql(
        value: <Pg as diesel::backend::Backend>::RawValue<'_>,
    ) -> deserialize::Result<Self> {
        <PrimitiveDateTime as FromSql<Timestamp, Pg>>::from_sql(value).map(Stamp)
    }
}

impl FromSql<Timestamp, Multi> for Stamp {
    fn from_sql(value: MultiValue<'_>) -> deserialize::Result<Self> {
        value.from_sql::<Stamp, Timestamp>()
    }
}

impl FromSql<Nullable<Timestamp>, Multi> for MaybeStamp {
    fn from_sql(value: MultiValue<'_>) -> deserialize::Result<Self> {
        <Stamp as FromSql<Timestamp, Multi>>::from_sql(value).map(|s| MaybeStamp(Some(s.0)))
    }

    fn from_nullable_sql(value: Option<MultiValue<'_>>) -> deserialize::Result<Self> {
        match value {
            Some(value) => Self::from_sql(value),
            None => Ok(MaybeStamp(None)),
        }
    }
}

/// A text column whose values mostly come from [`Word::KNOWN`].
#[derive(diesel::deserialize::FromSqlRow)]
pub struct Word(pub Cow<'static, str>);

impl Word {
    /// Log levels and the process names calcweb writes.
    const KNOWN: &'static [&'static str] = &[
        "INFO", "WARNING", "ERROR", "DEBUG", "CRITICAL", "calc", "calcweb", "slurm",
    ];

    fn of(text: &str) -> Word {
        Word(match Self::KNOWN.iter().find(|k| **k == text) {
            Some(known) => Cow::Borrowed(*known),
            None => Cow::Owned(text.to_owned()),
        })
    }
}

impl From<Word> for Cow<'static, str> {
    fn from(w: Word) -> Self {
        w.0
    }
}

impl FromSql<Text, Sqlite> for Word {
    fn from_sql(
        mut value: <Sqlite as diesel::backend::Backend>::RawValue<'_>,
    ) -> deserialize::Result<Self> {
        Ok(Word::of(value.read_text()))
    }
}

impl FromSql<Text, Pg> for Word {
    fn from_sql(
        value: <Pg as diesel::backend::Backend>::RawValue<'_>,
    ) -> deserialize::Result<Self> {
        Ok(Word::of(std::str::from_utf8(value.as_bytes())?))
    }
}

impl FromSql<Text, Multi> for Word {
    fn from_sql(value: MultiValue<'_>) -> deserialize::Result<Self> {
        value.from_sql::<Word, Text>()
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
    use super::{Word, parse};
    use std::borrow::Cow;

    #[test]
    fn known_words_are_borrowed_and_others_kept() {
        assert!(matches!(Word::of("INFO").0, Cow::Borrowed("INFO")));
        assert!(matches!(Word::of("calc").0, Cow::Borrowed("calc")));
        assert!(matches!(Word::of("worker-3").0, Cow::Owned(ref w) if w == "worker-3"));
        assert!(matches!(Word::of("info").0, Cow::Owned(ref w) if w == "info"));
    }
    use time::macros::datetime;

    #[test]
    fn reads_what_diesel_writes_and_refuses_the_rest() {
        assert_eq!(
            parse("2026-11-22 20:31:33.244959"),
            Some(datetime!(2026-11-22 20:31:33.244959))
        );
        assert_eq!(
            parse("2026-11-22 20:31:33"),
            Some(datetime!(2026-11-22 20:31:33))
        );
        assert_eq!(parse("2026-01-02T03:04"), Some(datetime!(2026-01-02 03:04)));
        assert_eq!(
            parse("2026-01-02 03:04:05.1Z"),
            Some(datetime!(2026-01-02 03:04:05.1))
        );
        assert_eq!(
            parse("1999-12-31 23:59:59.123456789"),
            Some(datetime!(1999-12-31 23:59:59.123456789))
        );
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
