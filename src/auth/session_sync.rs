//! Keeps the session cache (`models::session_cache`) in step with the database, in two
//! background threads per server:
//!
//! - on PostgreSQL, the listener: a connection of its own doing `LISTEN calcweb_sessions`,
//!   which applies each notification to the cache. While it is down the cache is empty and
//!   unused; it reconnects with a growing pause (1 s to 10 s), then the cache is used again.
//!   It also listens on `calcweb_lists`, for the list counters (`models::list_stamps`),
//!   which follow the same rule: trusted only while it is connected.
//! - the writer of `last_seen`: sessions seen are written every [`WRITE_EVERY`] in one
//!   statement, instead of by the request that saw them.
//!
//! The listener speaks to libpq directly (the library diesel uses, so the same URLs, TLS
//! settings and service files work): diesel offers no way to wait on the connection's socket,
//! and a notification must be applied as soon as it arrives, not at the next poll. The
//! pure-Rust `postgres` crate was weighed and not taken: it refuses URLs libpq accepts
//! (`sslmode=verify-full`, `sslrootcert`, `service`, `keepalives_count`), ignores `PGPASSWORD`
//! and `~/.pgpass`, and without TLS would listen in clear where libpq uses TLS, while with a
//! verifying TLS connector it fails on the self-signed certificate of a default Debian server.

use std::ffi::{CStr, CString};
use std::os::fd::BorrowedFd;
use std::ptr::NonNull;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use crate::db::{DatabaseUrl, Db};
use crate::models::list_cache::ListCache;
use crate::models::list_stamps::CHANNEL as LISTS_CHANNEL;
use crate::models::session::SessionRow;
use crate::models::session_cache::{CHANNEL, Change, SessionCache};

/// How often the `last_seen` of the sessions seen is written.
pub const WRITE_EVERY: Duration = Duration::from_secs(2);

/// The `application_name` of the listener's connection (with the process id), which
/// `pg_stat_activity` shows.
pub const LISTENER_NAME: &str = "calcweb-sessions";

/// Pauses between attempts to connect the listener.
const FIRST_PAUSE: Duration = Duration::from_secs(1);
const LONGEST_PAUSE: Duration = Duration::from_secs(10);

/// How long the listener waits for a notification before checking the connection itself (a
/// connection closed cleanly shows as readable at once; this catches the rest).
const CHECK_EVERY: Duration = Duration::from_secs(5);

/// Starts the background work for `cache` once; it ends when the cache is dropped.
pub fn start(cache: &Arc<SessionCache>, lists: &Arc<ListCache>, db: &Db, idle: time::Duration) {
    cache.started.call_once(|| {
        let (weak, writer_db) = (Arc::downgrade(cache), db.clone());
        spawn("session-last-seen", move || {
            write_forever(weak, writer_db, idle)
        });
        if let DatabaseUrl::Postgres(url) = db.url() {
            let targets = Targets {
                sessions: Arc::downgrade(cache),
                lists: Arc::downgrade(lists),
            };
            let url = url.clone();
            spawn("session-listener", move || listen_forever(targets, &url));
        }
    });
}

fn spawn(name: &str, work: impl FnOnce() + Send + 'static) {
    if let Err(e) = std::thread::Builder::new().name(name.into()).spawn(work) {
        // Without the thread the cache stays unused (no listener) or last_seen is not written;
        // say so rather than fail the server.
        tracing::error!("cannot start the {name} thread: {e}");
    }
}

fn write_forever(cache: Weak<SessionCache>, db: Db, idle: time::Duration) {
    loop {
        std::thread::sleep(WRITE_EVERY);
        let Some(cache) = cache.upgrade() else { return };
        let ids = cache.take_touches();
        drop(cache);
        if ids.is_empty() {
            continue;
        }
        let written = db
            .conn()
            .and_then(|mut conn| SessionRow::touch_all(&mut conn, &ids, idle));
        if let Err(e) = written {
            // They are written again at their next request; meanwhile the sessions may time
            // out up to WRITE_EVERY early, no later.
            tracing::warn!(
                "cannot record when {} session(s) were last seen: {e}",
                ids.len()
            );
        }
    }
}

/// What the listener keeps in step; it stops when the session cache goes (the server).
struct Targets {
    sessions: Weak<SessionCache>,
    lists: Weak<ListCache>,
}

impl Targets {
    fn set_listening(&self, listening: bool) {
        if let Some(lists) = self.lists.upgrade() {
            lists.stamps.set_listening(listening);
        }
        if let Some(sessions) = self.sessions.upgrade() {
            sessions.set_listening(listening);
        }
    }

    fn apply(&self, sessions: &SessionCache, (channel, payload): &(String, String)) {
        if channel == LISTS_CHANNEL {
            if let Some(lists) = self.lists.upgrade() {
                lists.stamps.notified(payload);
            }
        } else {
            sessions.invalidate(&Change::parse(payload));
        }
    }
}

fn listen_forever(targets: Targets, url: &str) {
    let cache = &targets.sessions;
    let conninfo = match listener_conninfo(url) {
        Ok(conninfo) => conninfo,
        Err(e) => {
            tracing::error!("the session cache stays off: {e}");
            return;
        }
    };
    let mut pause = FIRST_PAUSE;
    let mut said_down = false;
    loop {
        if cache.strong_count() == 0 {
            return;
        }
        match Listener::connect(&conninfo) {
            Ok(mut listener) => {
                if cache.strong_count() == 0 {
                    return;
                }
                targets.set_listening(true);
                tracing::info!("session cache on: listening on {CHANNEL} and {LISTS_CHANNEL}");
                pause = FIRST_PAUSE;
                said_down = false;
                let why = listener.relay(&targets);
                if cache.strong_count() == 0 {
                    return;
                }
                targets.set_listening(false);
                tracing::warn!(
                    "session cache off: lost the {CHANNEL} listener ({why}); every request reads its session from the database until it reconnects"
                );
            }
            Err(e) if !said_down => {
                said_down = true;
                tracing::warn!(
                    "session cache off: cannot listen on {CHANNEL} ({e}); retrying, sessions are read from the database meanwhile"
                );
            }
            Err(_) => {}
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(LONGEST_PAUSE);
    }
}

/// The database URL with the listener's name and TCP keepalives, so a connection to a
/// vanished server is noticed in seconds rather than minutes.
fn listener_conninfo(url: &str) -> Result<CString, String> {
    let mut url = url::Url::parse(url).map_err(|e| format!("the database URL is invalid: {e}"))?;
    let name = format!("{LISTENER_NAME}-{}", std::process::id());
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| k != "application_name")
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query.extend_pairs(&kept);
    query.append_pair("application_name", &name);
    for (key, value) in [
        ("connect_timeout", "5"),
        ("keepalives_idle", "10"),
        ("keepalives_interval", "2"),
        ("keepalives_count", "3"),
    ] {
        if !kept.iter().any(|(k, _)| k == key) {
            query.append_pair(key, value);
        }
    }
    url.set_query(Some(&query.finish()));
    CString::new(url.as_str()).map_err(|_| "the database URL holds a NUL byte".to_string())
}

/// A libpq connection that has run `LISTEN`; used by one thread only.
struct Listener {
    conn: NonNull<pq_sys::PGconn>,
}

impl Drop for Listener {
    fn drop(&mut self) {
        // SAFETY: the connection came from PQconnectdb and is finished once, here.
        unsafe { pq_sys::PQfinish(self.conn.as_ptr()) };
    }
}

impl Listener {
    fn connect(conninfo: &CStr) -> Result<Listener, String> {
        // SAFETY: conninfo is a valid C string; PQconnectdb returns a connection (possibly a
        // failed one) or null when out of memory.
        let conn = NonNull::new(unsafe { pq_sys::PQconnectdb(conninfo.as_ptr()) })
            .ok_or("out of memory")?;
        let listener = Listener { conn };
        // SAFETY: a connection object from PQconnectdb.
        if unsafe { pq_sys::PQstatus(conn.as_ptr()) } != pq_sys::ConnStatusType::CONNECTION_OK {
            return Err(listener.error());
        }
        listener.exec(&format!("LISTEN {CHANNEL}; LISTEN {LISTS_CHANNEL}"))?;
        Ok(listener)
    }

    fn error(&self) -> String {
        // SAFETY: PQerrorMessage returns a C string owned by the connection.
        let text = unsafe { CStr::from_ptr(pq_sys::PQerrorMessage(self.conn.as_ptr())) };
        text.to_string_lossy().trim().to_string()
    }

    fn exec(&self, sql: &str) -> Result<(), String> {
        let sql = CString::new(sql).map_err(|e| e.to_string())?;
        // SAFETY: valid connection and C string; the result is cleared below.
        let result = unsafe { pq_sys::PQexec(self.conn.as_ptr(), sql.as_ptr()) };
        // SAFETY: PQresultStatus accepts null (out of memory) and reports a fatal error.
        let status = unsafe { pq_sys::PQresultStatus(result) };
        // SAFETY: PQclear accepts null.
        unsafe { pq_sys::PQclear(result) };
        use pq_sys::ExecStatusType::{PGRES_COMMAND_OK, PGRES_TUPLES_OK};
        match status {
            PGRES_COMMAND_OK | PGRES_TUPLES_OK => Ok(()),
            _ => Err(self.error()),
        }
    }

    /// Applies notifications to `cache` as they arrive; returns why the connection ended.
    fn relay(&mut self, targets: &Targets) -> String {
        use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
        // SAFETY: a connected connection.
        let socket = unsafe { pq_sys::PQsocket(self.conn.as_ptr()) };
        if socket < 0 {
            return "no socket".into();
        }
        let timeout = PollTimeout::try_from(CHECK_EVERY).unwrap_or(PollTimeout::MAX);
        let mut last_heard = Instant::now();
        loop {
            // SAFETY: the socket stays open while `self` lives (this loop).
            let fd = unsafe { BorrowedFd::borrow_raw(socket) };
            let ready = match poll(&mut [PollFd::new(fd, PollFlags::POLLIN)], timeout) {
                Ok(n) => n > 0,
                Err(nix::errno::Errno::EINTR) => false,
                Err(e) => return format!("poll: {e}"),
            };
            let Some(cache) = targets.sessions.upgrade() else {
                return "server stopped".into();
            };
            if ready {
                // SAFETY: valid connection.
                if unsafe { pq_sys::PQconsumeInput(self.conn.as_ptr()) } == 0 {
                    return self.error();
                }
                for notification in self.notifications() {
                    targets.apply(&cache, &notification);
                }
                last_heard = Instant::now();
            } else if last_heard.elapsed() >= CHECK_EVERY {
                if let Err(e) = self.exec("SELECT 1") {
                    return e;
                }
                // A notification that came with the answer is queued now.
                for notification in self.notifications() {
                    targets.apply(&cache, &notification);
                }
                last_heard = Instant::now();
            }
            // SAFETY: valid connection.
            if unsafe { pq_sys::PQstatus(self.conn.as_ptr()) }
                != pq_sys::ConnStatusType::CONNECTION_OK
            {
                return self.error();
            }
        }
    }

    /// The channels and payloads of the notifications received so far.
    fn notifications(&self) -> Vec<(String, String)> {
        let mut payloads = Vec::new();
        loop {
            // SAFETY: valid connection; each notification is freed with PQfreemem.
            let Some(notify) = NonNull::new(unsafe { pq_sys::PQnotifies(self.conn.as_ptr()) })
            else {
                return payloads;
            };
            // SAFETY: `relname` and `extra` are the channel and the payload, C strings inside
            // the notification.
            let (channel, payload) = unsafe {
                (
                    CStr::from_ptr(notify.as_ref().relname),
                    CStr::from_ptr(notify.as_ref().extra),
                )
            };
            payloads.push((
                channel.to_string_lossy().into_owned(),
                payload.to_string_lossy().into_owned(),
            ));
            // SAFETY: frees the notification PQnotifies returned, once.
            unsafe { pq_sys::PQfreemem(notify.as_ptr().cast()) };
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_listener_names_itself_and_keeps_what_the_url_sets() {
        let info = super::listener_conninfo("postgres://u@h/db?sslmode=disable&keepalives_idle=30")
            .unwrap();
        let info = info.to_str().unwrap();
        assert!(info.contains("sslmode=disable"));
        assert!(info.contains("keepalives_idle=30") && !info.contains("keepalives_idle=10"));
        assert!(info.contains(&format!(
            "application_name=calcweb-sessions-{}",
            std::process::id()
        )));
    }

    /// The listener must accept every URL the pool (diesel, over libpq) accepts.
    #[test]
    fn the_listener_passes_on_libpq_settings() {
        let url = "postgres://u@h/db?sslmode=verify-full&sslrootcert=%2Fetc%2Fpg%2Froot.crt\
                   &service=calcweb&keepalives_count=5";
        let info = super::listener_conninfo(url).unwrap();
        let info = info.to_str().unwrap();
        for kept in [
            "sslmode=verify-full",
            "sslrootcert=%2Fetc%2Fpg%2Froot.crt",
            "service=calcweb",
            "keepalives_count=5",
        ] {
            assert!(info.contains(kept), "{kept} missing from {info}");
        }
        assert!(!info.contains("keepalives_count=3"), "{info}");
    }
}
