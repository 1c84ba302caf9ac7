//! A calculation's status.

pub const CREATED: &str = "created";
pub const SUBMITTED: &str = "submitted";
pub const EXECUTING: &str = "executing";
pub const COMPLETE: &str = "complete";
pub const FAILED: &str = "failed";
pub const ABORTED: &str = "aborted";
pub const ALL: &[&str] = &[CREATED, SUBMITTED, EXECUTING, COMPLETE, FAILED, ABORTED];
/// Still to finish: abortable, counted as running by the API.
pub const RUNNING: &[&str] = &[CREATED, SUBMITTED, EXECUTING];

/// `calcs.status IN ('a', 'b')` with the values written out, or None if one is not a
/// status. Literal rather than bound: SQLite's planner then knows from its samples how
/// many calculations have each status, and finds the rare ones (running, aborted) through
/// the status index instead of walking every calculation the user may see; bound values
/// all look alike to it.
pub fn sql_in<S: AsRef<str>>(statuses: &[S]) -> Option<String> {
    let quoted = statuses
        .iter()
        .map(|s| {
            let known = ALL.iter().find(|k| **k == s.as_ref())?;
            Some(format!("'{known}'"))
        })
        .collect::<Option<Vec<_>>>()?;
    Some(format!("calcs.status IN ({})", quoted.join(", ")))
}

/// Whether `status` is one of [`RUNNING`].
pub fn is_running(status: &str) -> bool {
    RUNNING.contains(&status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_written_into_sql_only_when_known() {
        assert_eq!(
            sql_in(RUNNING).as_deref(),
            Some("calcs.status IN ('created', 'submitted', 'executing')")
        );
        assert_eq!(
            sql_in(&["aborted".to_string()]).as_deref(),
            Some("calcs.status IN ('aborted')")
        );
        assert_eq!(sql_in(&["complete", "x') OR ('1"]), None);
        // PostgreSQL's partial index of running calculations serves only queries that state
        // its condition exactly.
        let running = sql_in(RUNNING).unwrap();
        let pg = include_str!(
            "../../../migrations/postgres/2026-11-23-000022_calcs_list_indexes/up.sql"
        );
        assert!(pg.contains(&format!("WHERE {};", running.trim_start_matches("calcs."))));
        assert!(RUNNING.iter().all(|s| is_running(s)));
        let others = ALL.iter().filter(|s| !RUNNING.contains(s));
        assert!(others.into_iter().all(|s| !is_running(s)));
    }
}
