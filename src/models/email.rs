//! The outbox: every email calcweb sends is first a row here. Requests and calculation
//! supervisors only insert (never wait for a mail server); the mail worker of each running
//! server claims due rows atomically (queued -> sending), sends them, and records the outcome:
//! sent, queued again for a later attempt, or failed with the reason.

use diesel::prelude::*;
use time::{Duration, PrimitiveDateTime};

use crate::db::schema::emails;
use crate::db::{DbConn, MultiBackend, now};
use crate::error::AppResult;
use crate::models::paging::{PER_PAGE, Paged, offset};

pub mod status {
    pub const QUEUED: &str = "queued";
    pub const SENDING: &str = "sending";
    pub const SENT: &str = "sent";
    pub const FAILED: &str = "failed";
    pub const ALL: &[&str] = &[QUEUED, SENDING, SENT, FAILED];
}

/// What an email is for (shown on /admin/emails/).
pub mod kind {
    pub const RESET: &str = "reset";
    pub const ACTIVATION: &str = "activation";
    /// "You already have an account": a sign-up with an address that has one.
    pub const REGISTERED: &str = "registered";
    pub const INVITATION: &str = "invitation";
    pub const CALC_FINISHED: &str = "calc_finished";
    /// "These calculations of yours will be removed": the retention policy's notice.
    pub const RETENTION: &str = "retention";
    pub const TEST: &str = "test";
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = emails)]
pub struct Email {
    pub id: i64,
    pub kind: String,
    pub to_addr: String,
    pub subject: String,
    pub text_body: String,
    pub html_body: String,
    pub status: String,
    pub attempts: i32,
    pub last_error: String,
    pub created_at: PrimitiveDateTime,
    pub sent_at: Option<PrimitiveDateTime>,
    pub next_attempt_at: PrimitiveDateTime,
}

/// A message ready to go: one recipient, a subject, a text and an HTML version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    pub kind: &'static str,
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// Counts by status, for the admin page.
#[derive(Debug, Clone, Copy, Default)]
pub struct EmailCounts {
    pub queued: i64,
    pub sending: i64,
    pub sent: i64,
    pub failed: i64,
}

impl Email {
    /// Puts a message into the outbox, due now; returns its id.
    pub fn queue(conn: &mut DbConn, message: &Outgoing) -> AppResult<i64> {
        let at = now();
        let insert = diesel::insert_into(emails::table)
            .values((
                emails::kind.eq(message.kind),
                emails::to_addr.eq(&message.to),
                emails::subject.eq(&message.subject),
                emails::text_body.eq(&message.text),
                emails::html_body.eq(&message.html),
                emails::status.eq(status::QUEUED),
                emails::attempts.eq(0),
                emails::last_error.eq(""),
                emails::created_at.eq(at),
                emails::next_attempt_at.eq(at),
            ))
            .returning(emails::id);
        // RETURNING goes through each backend's own connection (see Calc::create).
        let id: i64 = match conn {
            DbConn::Sqlite(c) => insert.get_result(c)?,
            DbConn::Pg(c) => insert.get_result(c)?,
        };
        Ok(id)
    }

    pub fn find(conn: &mut DbConn, id: i64) -> AppResult<Option<Email>> {
        Ok(emails::table
            .find(id)
            .select(Email::as_select())
            .first(conn)
            .optional()?)
    }

    /// Ids of queued messages that are due, oldest first.
    pub fn due(conn: &mut DbConn, limit: i64) -> AppResult<Vec<i64>> {
        Ok(emails::table
            .filter(emails::status.eq(status::QUEUED))
            .filter(emails::next_attempt_at.le(now()))
            .order(emails::id)
            .limit(limit)
            .select(emails::id)
            .load(conn)?)
    }

    /// Claims a queued message for sending: true for exactly one caller, however many servers
    /// try at once. The claim lapses at `lease_until` (see [`Email::requeue_lapsed`]).
    pub fn claim(conn: &mut DbConn, id: i64, lease_until: PrimitiveDateTime) -> AppResult<bool> {
        let n = diesel::update(
            emails::table
                .find(id)
                .filter(emails::status.eq(status::QUEUED)),
        )
        .set((
            emails::status.eq(status::SENDING),
            emails::attempts.eq(emails::attempts + 1),
            emails::next_attempt_at.eq(lease_until),
        ))
        .execute(conn)?;
        Ok(n == 1)
    }

    /// Sent: the bodies are emptied, since they may hold one-time links.
    pub fn mark_sent(conn: &mut DbConn, id: i64) -> AppResult<()> {
        diesel::update(emails::table.find(id))
            .set((
                emails::status.eq(status::SENT),
                emails::sent_at.eq(Some(now())),
                emails::last_error.eq(""),
                emails::text_body.eq(""),
                emails::html_body.eq(""),
            ))
            .execute(conn)?;
        Ok(())
    }

    /// A transient failure: try again at `at`.
    pub fn mark_retry(
        conn: &mut DbConn,
        id: i64,
        error: &str,
        at: PrimitiveDateTime,
    ) -> AppResult<()> {
        diesel::update(emails::table.find(id))
            .set((
                emails::status.eq(status::QUEUED),
                emails::last_error.eq(error),
                emails::next_attempt_at.eq(at),
            ))
            .execute(conn)?;
        Ok(())
    }

    pub fn mark_failed(conn: &mut DbConn, id: i64, error: &str) -> AppResult<()> {
        diesel::update(emails::table.find(id))
            .set((
                emails::status.eq(status::FAILED),
                emails::last_error.eq(error),
            ))
            .execute(conn)?;
        Ok(())
    }

    /// A failed message goes back into the queue, due now, with a fresh count of attempts.
    /// Returns false when it was not failed (or not there).
    pub fn retry(conn: &mut DbConn, id: i64) -> AppResult<bool> {
        let n = diesel::update(
            emails::table
                .find(id)
                .filter(emails::status.eq(status::FAILED)),
        )
        .set((
            emails::status.eq(status::QUEUED),
            emails::attempts.eq(0),
            emails::next_attempt_at.eq(now()),
        ))
        .execute(conn)?;
        Ok(n == 1)
    }

    /// Messages whose sender died while sending (the claim lapsed) are queued again.
    pub fn requeue_lapsed(conn: &mut DbConn) -> AppResult<usize> {
        Ok(diesel::update(
            emails::table
                .filter(emails::status.eq(status::SENDING))
                .filter(emails::next_attempt_at.lt(now())),
        )
        .set((
            emails::status.eq(status::QUEUED),
            emails::last_error.eq("the server sending it stopped; trying again"),
        ))
        .execute(conn)?)
    }

    /// Forgets sent messages older than `age`.
    pub fn purge_sent(conn: &mut DbConn, age: Duration) -> AppResult<usize> {
        Ok(diesel::delete(
            emails::table
                .filter(emails::status.eq(status::SENT))
                .filter(emails::created_at.lt(now() - age)),
        )
        .execute(conn)?)
    }

    /// The admin list: failed first, then queued and sending, then sent; newest first within.
    /// `status_filter` "" = all.
    pub fn list(conn: &mut DbConn, status_filter: &str, page: i64) -> AppResult<Paged<Email>> {
        let filtered = || {
            let mut query = emails::table.into_boxed::<MultiBackend>();
            if !status_filter.is_empty() {
                query = query.filter(emails::status.eq(status_filter.to_string()));
            }
            query
        };
        let total = filtered().count().get_result(conn)?;
        // One query per group of statuses, in the order the page shows them (a CASE in
        // ORDER BY would do it in one, but not through the multi-backend query builder).
        let mut items = Vec::new();
        let mut skip = offset(page);
        let mut want = PER_PAGE;
        for group in [
            &[status::FAILED][..],
            &[status::QUEUED, status::SENDING][..],
            &[status::SENT][..],
        ] {
            if want == 0 {
                break;
            }
            let in_group = filtered()
                .filter(emails::status.eq_any(group.iter().map(|s| s.to_string())))
                .count()
                .get_result::<i64>(conn)?;
            if skip >= in_group {
                skip -= in_group;
                continue;
            }
            let rows: Vec<Email> = filtered()
                .filter(emails::status.eq_any(group.iter().map(|s| s.to_string())))
                .order((emails::created_at.desc(), emails::id.desc()))
                .offset(skip)
                .limit(want)
                .select(Email::as_select())
                .load(conn)?;
            skip = 0;
            want -= rows.len() as i64;
            items.extend(rows);
        }
        Ok(Paged::new(items, total, page))
    }

    pub fn counts(conn: &mut DbConn) -> AppResult<EmailCounts> {
        let rows: Vec<(String, i64)> = emails::table
            .group_by(emails::status)
            .select((emails::status, diesel::dsl::count_star()))
            .load(conn)?;
        let mut counts = EmailCounts::default();
        for (s, n) in rows {
            match s.as_str() {
                status::QUEUED => counts.queued = n,
                status::SENDING => counts.sending = n,
                status::SENT => counts.sent = n,
                status::FAILED => counts.failed = n,
                _ => {}
            }
        }
        Ok(counts)
    }
}
