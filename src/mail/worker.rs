//! The mail worker of one server: a thread that sends what is due in the outbox. Every server
//! runs one; a message is claimed atomically before it is sent, so several servers on one
//! database never send it twice. Transient failures (connection problems, timeouts, 4xx
//! replies, a refused login) are retried with a growing delay, up to [`MAX_ATTEMPTS`];
//! permanent ones (5xx replies, a bad address) and the last attempt mark the message failed,
//! with the reason, for /admin/emails/.

use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, sync_channel};
use std::time::{Duration, Instant};

use crate::db::{Db, now};
use crate::error::AppResult;
use crate::mail::{Mailer, Outgoing};
use crate::metrics::{EmailResult, Metrics};
use crate::models::email::Email;

/// Attempts before a message that keeps failing for a passing reason is given up.
pub const MAX_ATTEMPTS: i32 = 10;
/// The wait after the first failed attempt; it doubles each time, up to [`MAX_DELAY`]
/// (1, 2, 4, ... 60 minutes: about 5 hours over all attempts).
const FIRST_DELAY: i64 = 60;
const MAX_DELAY: i64 = 3600;
/// How often the outbox is looked at without a wake-up (messages queued by calculation
/// supervisors, other servers, or commands wake nobody here).
const TICK: Duration = Duration::from_secs(2);
/// A claimed message not reported within this time is queued again (its sender died).
const LEASE: time::Duration = time::Duration::minutes(15);
const HOUSEKEEPING_EVERY: Duration = Duration::from_secs(600);
/// Sent messages are listed on /admin/emails/ this long.
const KEEP_SENT: time::Duration = time::Duration::days(30);

/// Wakes the worker at once (after a message is queued) instead of at its next tick.
#[derive(Clone)]
pub struct Waker(SyncSender<()>);

impl Waker {
    pub fn wake(&self) {
        let _ = self.0.try_send(());
    }
}

/// The delay before attempt `attempts + 1`, in seconds.
pub fn retry_delay(attempts: i32) -> i64 {
    let doublings = (attempts.max(1) - 1).min(16) as u32;
    (FIRST_DELAY << doublings).min(MAX_DELAY)
}

/// Starts the worker thread; returns its waker.
pub fn start(db: Db, mailer: Mailer, metrics: Option<Arc<Metrics>>) -> Waker {
    let (tx, rx) = sync_channel(1);
    std::thread::Builder::new()
        .name("mail-worker".into())
        .spawn(move || run(db, mailer, metrics, rx))
        .expect("spawn the mail worker thread");
    Waker(tx)
}

fn run(db: Db, mailer: Mailer, metrics: Option<Arc<Metrics>>, wake: Receiver<()>) {
    let mut last_housekeeping: Option<Instant> = None;
    loop {
        if last_housekeeping.is_none_or(|t| t.elapsed() >= HOUSEKEEPING_EVERY) {
            if let Err(e) = housekeeping(&db) {
                tracing::warn!("mail outbox housekeeping failed: {e}");
            }
            last_housekeeping = Some(Instant::now());
        }
        loop {
            match send_next(&db, &mailer, metrics.as_deref()) {
                Ok(true) => continue,
                Ok(false) => break,
                Err(e) => {
                    tracing::warn!("the mail outbox cannot be read: {e}");
                    break;
                }
            }
        }
        match wake.recv_timeout(TICK) {
            Ok(()) | Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
    }
}

fn housekeeping(db: &Db) -> AppResult<()> {
    let mut conn = db.conn()?;
    let requeued = Email::requeue_lapsed(&mut conn)?;
    if requeued > 0 {
        tracing::warn!("{requeued} email(s) whose sender stopped are queued again");
    }
    Email::purge_sent(&mut conn, KEEP_SENT)?;
    Ok(())
}

/// Claims and sends one due message; false when none is due.
pub fn send_next(db: &Db, mailer: &Mailer, metrics: Option<&Metrics>) -> AppResult<bool> {
    let count = |result| {
        if let Some(m) = metrics {
            m.email(result);
        }
    };
    let mut conn = db.conn()?;
    for id in Email::due(&mut conn, 20)? {
        if !Email::claim(&mut conn, id, now() + LEASE)? {
            continue; // another server took it
        }
        let Some(email) = Email::find(&mut conn, id)? else {
            continue;
        };
        // The database connection goes back to the pool while the mail server is talked to.
        drop(conn);
        let result = mailer.send(&Outgoing {
            kind: "",
            to: email.to_addr.clone(),
            subject: email.subject.clone(),
            text: email.text_body.clone(),
            html: email.html_body.clone(),
        });
        let mut conn = db.conn()?;
        match result {
            Ok(()) => {
                Email::mark_sent(&mut conn, id)?;
                count(EmailResult::Sent);
                tracing::info!(email = id, kind = %email.kind, "email sent to {}", email.to_addr);
            }
            Err(e) if e.transient && email.attempts < MAX_ATTEMPTS => {
                let delay = retry_delay(email.attempts);
                Email::mark_retry(
                    &mut conn,
                    id,
                    &e.message,
                    now() + time::Duration::seconds(delay),
                )?;
                count(EmailResult::Retried);
                tracing::warn!(
                    email = id,
                    "email to {} not sent (attempt {} of {MAX_ATTEMPTS}; next in {delay} s): {}",
                    email.to_addr,
                    email.attempts,
                    e.message
                );
            }
            Err(e) => {
                let message = if e.transient {
                    format!("{} (gave up after {} attempts)", e.message, email.attempts)
                } else {
                    e.message
                };
                Email::mark_failed(&mut conn, id, &message)?;
                count(EmailResult::Failed);
                tracing::error!(email = id, "email to {} failed: {message}", email.to_addr);
            }
        }
        return Ok(true);
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::retry_delay;

    #[test]
    fn the_delay_doubles_up_to_an_hour() {
        assert_eq!(retry_delay(1), 60);
        assert_eq!(retry_delay(2), 120);
        assert_eq!(retry_delay(4), 480);
        assert_eq!(retry_delay(7), 3600);
        assert_eq!(retry_delay(30), 3600);
    }
}
