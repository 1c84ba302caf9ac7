//! Times as pages and the API write them, formatted digit by digit straight into the output
//! (time's generic formatter cost more than the queries of the list and log
//! endpoints, and a list has dozens of times).

use std::fmt;

use time::PrimitiveDateTime;

/// A UTC time in one of the forms calcweb writes.
#[derive(Debug, Clone, Copy)]
pub struct Stamp {
    t: PrimitiveDateTime,
    form: Form,
}

#[derive(Debug, Clone, Copy)]
enum Form {
    /// `2026-11-22T09:05:07Z`
    Iso,
    /// `2026-11-22T09:05:07.067Z` (milliseconds cut, not rounded)
    IsoMillis,
    /// `2026-11-22 09:05:07 UTC`
    Exact,
    /// `2026-11-22, 09:05:07 UTC`, OpenQuake's form
    OpenQuake,
}

impl Stamp {
    pub fn iso(t: PrimitiveDateTime) -> Stamp {
        Stamp { t, form: Form::Iso }
    }

    pub fn iso_millis(t: PrimitiveDateTime) -> Stamp {
        Stamp {
            t,
            form: Form::IsoMillis,
        }
    }

    pub fn exact(t: PrimitiveDateTime) -> Stamp {
        Stamp {
            t,
            form: Form::Exact,
        }
    }

    pub fn openquake(t: PrimitiveDateTime) -> Stamp {
        Stamp {
            t,
            form: Form::OpenQuake,
        }
    }
}

impl Stamp {
    /// The text, written digit by digit into `buf` (a log response writes a thousand times;
    /// `write!` with padded integers was a tenth of its CPU time).
    fn text<'b>(&self, buf: &'b mut [u8; 32]) -> &'b str {
        let t = self.t;
        let (sep, end): (&[u8], &[u8]) = match self.form {
            Form::Iso | Form::IsoMillis => (b"T", b"Z"),
            Form::Exact => (b" ", b" UTC"),
            Form::OpenQuake => (b", ", b" UTC"),
        };
        let mut n = 0;
        let mut put = |bytes: &[u8]| {
            buf[n..n + bytes.len()].copy_from_slice(bytes);
            n += bytes.len();
        };
        // Years outside 0..=9999 cannot be stored by either database; clamp rather than panic.
        let year = t.year().clamp(0, 9999) as u32;
        put(&digits::<4>(year));
        put(b"-");
        put(&digits::<2>(t.month() as u32));
        put(b"-");
        put(&digits::<2>(t.day().into()));
        put(sep);
        put(&digits::<2>(t.hour().into()));
        put(b":");
        put(&digits::<2>(t.minute().into()));
        put(b":");
        put(&digits::<2>(t.second().into()));
        if let Form::IsoMillis = self.form {
            put(b".");
            put(&digits::<3>(t.millisecond().into()));
        }
        put(end);
        std::str::from_utf8(&buf[..n]).unwrap_or_default()
    }
}

/// `value` as exactly `N` decimal digits, zero-padded (the caller keeps it below 10^N).
fn digits<const N: usize>(mut value: u32) -> [u8; N] {
    let mut out = [b'0'; N];
    for d in out.iter_mut().rev() {
        *d = b'0' + (value % 10) as u8;
        value /= 10;
    }
    out
}

impl fmt::Display for Stamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.text(&mut [0; 32]))
    }
}

impl serde::Serialize for Stamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.text(&mut [0; 32]))
    }
}

/// A stored UTC time as pages show it: `2026-11-22 10:15 UTC`.
pub fn when(t: &PrimitiveDateTime) -> String {
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02} UTC",
        t.year(),
        t.month() as u8,
        t.day(),
        t.hour(),
        t.minute()
    )
}

/// "in 2 hours, 14 minutes" / "in 5 minutes" / "in less than a minute".
pub fn until_text(seconds: i64) -> String {
    if seconds < 60 {
        return "in less than a minute".into();
    }
    let (days, hours, minutes) = (
        seconds / 86_400,
        seconds % 86_400 / 3600,
        seconds % 3600 / 60,
    );
    let unit = |n: i64, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    let mut parts = Vec::new();
    if days > 0 {
        parts.push(unit(days, "day"));
    }
    if hours > 0 {
        parts.push(unit(hours, "hour"));
    }
    if minutes > 0 && days == 0 {
        parts.push(unit(minutes, "minute"));
    }
    format!("in {}", parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn every_form() {
        let t = datetime!(2026-01-02 03:04:05.067891);
        assert_eq!(Stamp::iso(t).to_string(), "2026-01-02T03:04:05Z");
        assert_eq!(Stamp::iso_millis(t).to_string(), "2026-01-02T03:04:05.067Z");
        assert_eq!(Stamp::exact(t).to_string(), "2026-01-02 03:04:05 UTC");
        assert_eq!(Stamp::openquake(t).to_string(), "2026-01-02, 03:04:05 UTC");
        assert_eq!(
            serde_json::to_string(&Stamp::iso_millis(t)).unwrap(),
            r#""2026-01-02T03:04:05.067Z""#
        );
        let t = datetime!(0999-12-31 23:59:59.999999);
        assert_eq!(Stamp::iso_millis(t).to_string(), "0999-12-31T23:59:59.999Z");
        assert_eq!(Stamp::openquake(t).to_string(), "0999-12-31, 23:59:59 UTC");
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(until_text(30), "in less than a minute");
        assert_eq!(until_text(5 * 60), "in 5 minutes");
        assert_eq!(
            until_text(2 * 3600 + 14 * 60 + 10),
            "in 2 hours, 14 minutes"
        );
        assert_eq!(until_text(3600), "in 1 hour");
        assert_eq!(until_text(2 * 86_400 + 3600 + 60), "in 2 days, 1 hour");
    }
}
