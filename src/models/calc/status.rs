//! A calculation's status, stored as its lowercase name (OpenQuake's words).

use std::io::Write;

use diesel::backend::Backend;
use diesel::deserialize::{self, FromSql};
use diesel::pg::Pg;
use diesel::serialize::{self, IsNull, Output, ToSql};
use diesel::sql_types::Text;
use diesel::sqlite::Sqlite;

use crate::db::decode::{Multi, MultiValue};

/// Where a calculation is in its life.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Default,
    serde::Serialize,
    diesel::AsExpression,
    diesel::FromSqlRow,
)]
#[diesel(sql_type = Text)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Its row exists; its input is being moved into place.
    #[default]
    Created,
    /// Queued: waiting for a free slot (or, under Slurm, pending there).
    Submitted,
    Executing,
    Complete,
    Failed,
    Aborted,
}

impl Status {
    pub const ALL: [Status; 6] = [
        Status::Created,
        Status::Submitted,
        Status::Executing,
        Status::Complete,
        Status::Failed,
        Status::Aborted,
    ];
    /// Still to finish: abortable, counted as running by the API.
    pub const RUNNING: [Status; 3] = [Status::Created, Status::Submitted, Status::Executing];

    pub const fn as_str(self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::Submitted => "submitted",
            Status::Executing => "executing",
            Status::Complete => "complete",
            Status::Failed => "failed",
            Status::Aborted => "aborted",
        }
    }

    /// The status named `text`, if it is one.
    pub fn parse(text: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// Whether it is one of [`Status::RUNNING`].
    pub fn is_running(self) -> bool {
        Status::RUNNING.contains(&self)
    }

    /// The names of all statuses, for messages: "created, submitted, ...".
    pub fn names() -> String {
        Status::ALL.map(Status::as_str).join(", ")
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl AsRef<str> for Status {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

// The `status` column: text in both databases, read and written as the status's name.

impl ToSql<Text, Sqlite> for Status {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
        out.set_value(self.as_str());
        Ok(IsNull::No)
    }
}

impl ToSql<Text, Pg> for Status {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
        out.write_all(self.as_str().as_bytes())?;
        Ok(IsNull::No)
    }
}

impl ToSql<Text, Multi> for Status {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Multi>) -> serialize::Result {
        out.set_value((Text, self));
        Ok(IsNull::No)
    }
}

/// A name calcweb never writes is an error, not a guess.
fn from_text(text: &str) -> deserialize::Result<Status> {
    Status::parse(text).ok_or_else(|| format!("unknown calculation status {text:?}").into())
}

impl FromSql<Text, Sqlite> for Status {
    fn from_sql(mut value: <Sqlite as Backend>::RawValue<'_>) -> deserialize::Result<Self> {
        from_text(value.read_text())
    }
}

impl FromSql<Text, Pg> for Status {
    fn from_sql(value: <Pg as Backend>::RawValue<'_>) -> deserialize::Result<Self> {
        from_text(std::str::from_utf8(value.as_bytes())?)
    }
}

impl FromSql<Text, Multi> for Status {
    fn from_sql(value: MultiValue<'_>) -> deserialize::Result<Self> {
        value.from_sql::<Status, Text>()
    }
}

/// `calcs.status IN ('a', 'b')` with the values written out, or None if one is not a status.
/// Literal rather than bound: SQLite's planner then knows from its samples how many
/// calculations have each status, and finds the rare ones (running, aborted) through the
/// status index instead of walking every calculation the user may see; bound values all look
/// alike to it.
pub fn sql_in<S: AsRef<str>>(statuses: &[S]) -> Option<String> {
    let quoted = statuses
        .iter()
        .map(|s| Status::parse(s.as_ref()).map(|known| format!("'{known}'")))
        .collect::<Option<Vec<_>>>()?;
    Some(format!("calcs.status IN ({})", quoted.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_written_into_sql_only_when_known() {
        assert_eq!(
            sql_in(&Status::RUNNING).as_deref(),
            Some("calcs.status IN ('created', 'submitted', 'executing')")
        );
        assert_eq!(
            sql_in(&["aborted".to_string()]).as_deref(),
            Some("calcs.status IN ('aborted')")
        );
        assert_eq!(sql_in(&["complete", "x') OR ('1"]), None);
        // PostgreSQL's partial index of running calculations serves only queries that state
        // its condition exactly.
        let running = sql_in(&Status::RUNNING).unwrap();
        let pg = include_str!(
            "../../../migrations/postgres/2026-11-23-000022_calcs_list_indexes/up.sql"
        );
        assert!(pg.contains(&format!("WHERE {};", running.trim_start_matches("calcs."))));
        assert!(Status::RUNNING.iter().all(|s| s.is_running()));
        let others = Status::ALL.iter().filter(|s| !Status::RUNNING.contains(s));
        assert!(others.into_iter().all(|s| !s.is_running()));
    }

    #[test]
    fn names_go_both_ways() {
        for status in Status::ALL {
            assert_eq!(Status::parse(status.as_str()), Some(status));
            assert_eq!(serde_json::to_value(status).unwrap(), status.as_str());
        }
        assert!(from_text("running").is_err());
        assert_eq!(
            Status::names(),
            "created, submitted, executing, complete, failed, aborted"
        );
    }
}
