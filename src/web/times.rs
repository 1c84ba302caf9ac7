//! Times as pages and the API write them, formatted straight into the output with plain integer
//! formatting (time's generic formatter cost more than the queries of the list and log
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

impl fmt::Display for Stamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = self.t;
        let (sep, end) = match self.form {
            Form::Iso | Form::IsoMillis => ("T", "Z"),
            Form::Exact => (" ", " UTC"),
            Form::OpenQuake => (", ", " UTC"),
        };
        write!(
            f,
            "{:04}-{:02}-{:02}{sep}{:02}:{:02}:{:02}",
            t.year(),
            t.month() as u8,
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        )?;
        if let Form::IsoMillis = self.form {
            write!(f, ".{:03}", t.millisecond())?;
        }
        f.write_str(end)
    }
}

impl serde::Serialize for Stamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
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
    }
}
