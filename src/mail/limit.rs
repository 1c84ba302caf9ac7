//! A small rate limit on the forms that send email to an address someone types (password
//! reset, sign-up, re-sending the activation email): per client IP, so one client cannot
//! flood the outbox, and per address, so nobody can bomb someone's mailbox from many IPs.
//! Counted in the database (the `auth_failures` table, under kinds of its own), so every
//! server process shares the counts; the window is `[auth.throttle] window`.

use time::Duration;

use crate::config::Config;
use crate::db::{DbConn, now};
use crate::error::AppResult;
use crate::models::auth_failure;

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

/// Counts one submission by `ip` for `address` and says what to do.
pub fn check(conn: &mut DbConn, config: &Config, ip: &str, address: &str) -> AppResult<Verdict> {
    let window = Duration::seconds(config.auth.throttle.window.max(1) as i64);
    let since = now() - window;
    let (by_ip, first_ip) = auth_failure::recent(conn, BY_IP, ip, since)?;
    if by_ip >= PER_IP {
        let last = first_ip.unwrap_or_else(now);
        let wait = (last + window - now()).whole_seconds().max(1) as u64;
        return Ok(Verdict::Wait(wait));
    }
    auth_failure::record(conn, BY_IP, ip)?;
    let address = address.trim().to_lowercase();
    let (by_address, _) = auth_failure::recent(conn, BY_ADDRESS, &address, since)?;
    if by_address >= PER_ADDRESS {
        return Ok(Verdict::Quiet);
    }
    auth_failure::record(conn, BY_ADDRESS, &address)?;
    Ok(Verdict::Send)
}
