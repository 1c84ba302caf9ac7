//! When a pooled PostgreSQL connection is tested before use.
//!
//! Testing every checkout (`SELECT 1`) cost each request a round trip to the server, as much
//! as a lookup by key. A connection only dies with its server (a restart, an outage) or the
//! network, and then the pool shows it: a connection fails to open, or a statement fails with
//! the connection lost. So connections are tested only for [`TEST_FOR`] after such a sign,
//! which clears every dead one from the pool without a user seeing it; in between they are
//! used as they are, and the one request that meets a dead connection first gets the 503 the
//! outage would have given it (a read is run again on a tested connection instead).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How long checkouts are tested after a sign of trouble.
pub const TEST_FOR: Duration = Duration::from_secs(30);

/// Connections found lost in this process, by whatever used them (a request, the runner, the
/// email worker): each pool tests its checkouts after a new one.
static LOST: AtomicU64 = AtomicU64::new(0);

/// A statement failed because its connection was lost (`error.rs` says so for every database
/// error that converts to the outage's 503).
pub fn connection_lost() {
    LOST.fetch_add(1, Ordering::Relaxed);
}

/// Shared by the pool's manager (which asks) and [`super::Db`] (which reports trouble).
#[derive(Debug)]
pub struct CheckoutTests {
    start: Instant,
    /// Until when, in milliseconds since `start`, checkouts are tested.
    until_ms: AtomicU64,
    /// [`LOST`] when last looked at.
    lost_seen: AtomicU64,
}

impl CheckoutTests {
    /// Tests the checkouts of the first [`TEST_FOR`] too: a server starting beside a database
    /// that restarts must not keep a connection from before.
    pub fn new() -> CheckoutTests {
        let tests = CheckoutTests {
            start: Instant::now(),
            until_ms: AtomicU64::new(0),
            lost_seen: AtomicU64::new(LOST.load(Ordering::Relaxed)),
        };
        tests.trouble_seen();
        tests
    }

    /// A connection failed to open or was lost: test checkouts for a while.
    pub fn trouble_seen(&self) {
        let until = (self.start.elapsed() + TEST_FOR).as_millis() as u64;
        self.until_ms.fetch_max(until, Ordering::Relaxed);
    }

    /// Whether a connection taken from the pool now must be tested first.
    pub fn needed(&self) -> bool {
        let lost = LOST.load(Ordering::Relaxed);
        if lost != self.lost_seen.load(Ordering::Relaxed) {
            self.lost_seen.store(lost, Ordering::Relaxed);
            self.trouble_seen();
        }
        (self.start.elapsed().as_millis() as u64) < self.until_ms.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkouts_are_tested_only_after_trouble() {
        let tests = CheckoutTests {
            start: Instant::now(),
            until_ms: AtomicU64::new(0),
            lost_seen: AtomicU64::new(LOST.load(Ordering::Relaxed)),
        };
        assert!(!tests.needed(), "no trouble seen, no test");
        tests.trouble_seen();
        assert!(tests.needed());
        tests.until_ms.store(0, Ordering::Relaxed);
        assert!(!tests.needed(), "tested only for a while");
        assert!(CheckoutTests::new().needed(), "a new pool tests at first");
        connection_lost();
        assert!(tests.needed(), "a connection lost anywhere in the process");
    }
}
