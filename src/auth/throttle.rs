//! Throttling of failed logins, per client IP and per username, in a sliding window with a
//! back-off that doubles with every failure past the limit (capped at the window). Counts
//! live in the database, so several server processes share them.
//!
//! A browser that has logged in as a user before (its device cookie's value is known with the
//! user: `models::known_device`) is not subject to the per-username limit: an attacker
//! hammering a username from elsewhere cannot lock its owner out. The per-IP limit uses the client IP resolved
//! through trusted proxies, so one attacker behind a proxy does not lock out everyone else.

use time::Duration;

use crate::config::ThrottleConfig;
use crate::db::{DbConn, now};
use crate::error::AppResult;
use crate::models::auth_failure::{self, BY_IP, BY_USER};

const FIRST_WAIT_SECS: i64 = 5;

/// Seconds to wait before `key` may try again, if it is locked.
fn locked_for(
    conn: &mut DbConn,
    kind: &str,
    key: &str,
    limit: u32,
    window: Duration,
) -> AppResult<Option<u64>> {
    let (count, last) = auth_failure::recent(conn, kind, key, now() - window)?;
    let Some(last) = last else { return Ok(None) };
    if count < limit as i64 {
        return Ok(None);
    }
    let excess = (count - limit as i64).min(20) as u32;
    let wait = Duration::seconds(FIRST_WAIT_SECS.saturating_mul(1 << excess)).min(window);
    let until = last + wait;
    let left = until - now();
    Ok((left > Duration::ZERO).then(|| left.whole_seconds().max(0) as u64 + 1))
}

/// The username as counted: case-insensitive, so `Bob` and `bob` share a counter.
fn user_key(username: &str) -> String {
    username.trim().to_lowercase()
}

/// Seconds the client must wait before trying, or None when it may try now.
pub fn check(
    conn: &mut DbConn,
    cfg: &ThrottleConfig,
    ip: &str,
    username: Option<&str>,
    known_device: bool,
) -> AppResult<Option<u64>> {
    let window = Duration::seconds(cfg.window as i64);
    let by_ip = locked_for(conn, BY_IP, ip, cfg.max_per_ip, window)?;
    let by_user = match username {
        Some(name) if !known_device => {
            locked_for(conn, BY_USER, &user_key(name), cfg.max_per_user, window)?
        }
        _ => None,
    };
    Ok(by_ip.max(by_user))
}

/// Counts a failed attempt (including attempts refused while locked: they extend the wait).
pub fn record_failure(conn: &mut DbConn, ip: &str, username: Option<&str>) -> AppResult<()> {
    auth_failure::record(conn, BY_IP, ip)?;
    if let Some(name) = username.filter(|n| !n.trim().is_empty()) {
        auth_failure::record(conn, BY_USER, &user_key(name))?;
    }
    Ok(())
}

/// A successful login clears the username's count (the IP's stays).
pub fn record_success(conn: &mut DbConn, username: &str) -> AppResult<()> {
    auth_failure::clear(conn, BY_USER, &user_key(username))
}
