//! A small rate limit on the forms that send email to an address someone types (password
//! reset, sign-up, re-sending the activation email): per client IP, so one client cannot
//! flood the outbox, and per address, so nobody can bomb someone's mailbox from many IPs.
//! Counted in the database (the `auth_failures` table, under kinds of its own), so every
//! server process shares the counts; the window is `[auth.throttle] window`.

use time::Duration;

use crate::config::Config;
use crate::db::{DbConn, now};
use crate::error::{AppError, AppResult};
use crate::models::User;
use crate::models::auth_failure;
use crate::models::email::{Email, Outgoing};

const BY_IP: &str = "mail_ip";
const BY_ADDRESS: &str = "mail_to";
/// Mail forms one client IP may submit within the window.
pub const PER_IP: i64 = 10;
/// Emails one address may be sent from these forms within the window.
pub const PER_ADDRESS: i64 = 3;

/// What the limit says about one submission.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Go ahead and send.
    Send,
    /// Answer as usual but send nothing: the address has had enough mail for now.
    Quiet,
    /// The client must wait this many seconds (429).
    Wait(u64),
}

/// The answer to a client that sent too many mail forms: 429, wait `wait` seconds.
pub fn too_many(wait: u64) -> AppError {
    AppError::TooManyRequests {
        message: format!("Too many requests from your address; wait {wait} seconds and try again."),
        retry_after: wait,
    }
}

/// Counts one submission by `ip` for `address` and says what to do.
pub fn check(conn: &mut DbConn, config: &Config, ip: &str, address: &str) -> AppResult<Verdict> {
    if let Some(wait) = client(conn, config, ip)? {
        return Ok(Verdict::Wait(wait));
    }
    Ok(if to_address(conn, config, address)? {
        Verdict::Send
    } else {
        Verdict::Quiet
    })
}

/// A mail form sent by `ip` for `address`: counted, and when the limit lets it, the message
/// `message_for` writes to each account with that address is queued (None: none for that
/// one). 429 when the client must wait; when the address has had enough mail, nothing is
/// queued and the form answers as usual.
pub fn mail_accounts<F>(
    conn: &mut DbConn,
    config: &Config,
    ip: &str,
    address: &str,
    mut message_for: F,
) -> AppResult<()>
where
    F: FnMut(&mut DbConn, &User) -> AppResult<Option<Outgoing>>,
{
    match check(conn, config, ip, address)? {
        Verdict::Wait(wait) => Err(too_many(wait)),
        Verdict::Quiet => Ok(()),
        Verdict::Send => {
            for user in User::find_by_email(conn, address)? {
                if let Some(message) = message_for(conn, &user)? {
                    Email::queue(conn, &message)?;
                }
            }
            Ok(())
        }
    }
}

fn window(config: &Config) -> Duration {
    Duration::seconds(config.auth.throttle.window.max(1) as i64)
}

/// Counts a submission by `ip`; Some(seconds to wait) when it is over the limit.
pub fn client(conn: &mut DbConn, config: &Config, ip: &str) -> AppResult<Option<u64>> {
    let window = window(config);
    let (count, last) = auth_failure::recent(conn, BY_IP, ip, now() - window)?;
    if count >= PER_IP {
        let last = last.unwrap_or_else(now);
        return Ok(Some((last + window - now()).whole_seconds().max(1) as u64));
    }
    auth_failure::record(conn, BY_IP, ip)?;
    Ok(None)
}

/// Counts an email to `address`; false when it has had enough for now.
pub fn to_address(conn: &mut DbConn, config: &Config, address: &str) -> AppResult<bool> {
    let address = address.trim().to_lowercase();
    let (count, _) = auth_failure::recent(conn, BY_ADDRESS, &address, now() - window(config))?;
    if count >= PER_ADDRESS {
        return Ok(false);
    }
    auth_failure::record(conn, BY_ADDRESS, &address)?;
    Ok(true)
}
