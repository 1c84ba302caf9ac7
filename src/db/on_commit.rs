//! Work that tells of a change, such as an access-log line, done once the change is committed
//! (as Django's `transaction.on_commit`): a refused action whose transaction rolls back must
//! leave no line saying it happened.
//!
//! The queue is per thread: a connection is used by one thread at a time, and a transaction
//! runs on the thread that began it ([`super::DbConn::write_transaction`] is synchronous).

use std::cell::{Cell, RefCell};

type Work = Box<dyn FnOnce()>;

thread_local! {
    static QUEUE: RefCell<Vec<Work>> = const { RefCell::new(Vec::new()) };
    /// How many `write_transaction`s are open on this thread.
    static OPEN: Cell<usize> = const { Cell::new(0) };
}

/// Whether work queued now would be run or dropped by an open `write_transaction`.
pub(super) fn queueing() -> bool {
    OPEN.get() > 0
}

pub(super) fn queue(work: Work) {
    QUEUE.with_borrow_mut(|q| q.push(work));
}

/// The work queued while one `write_transaction` runs. Dropped without [`Scope::committed`]
/// (an error, a panic), it drops that work.
pub(super) struct Scope {
    start: usize,
    outermost: bool,
}

impl Scope {
    pub(super) fn open(outermost: bool) -> Scope {
        OPEN.set(OPEN.get() + 1);
        Scope {
            start: QUEUE.with_borrow(Vec::len),
            outermost,
        }
    }

    /// The transaction committed: the outermost one runs its work; a nested one (a savepoint)
    /// leaves it to the transaction around it, which may still roll back.
    pub(super) fn committed(mut self) {
        let start = std::mem::replace(&mut self.start, usize::MAX);
        if self.outermost {
            let work: Vec<Work> = QUEUE.with_borrow_mut(|q| q.drain(start..).collect());
            // Run once this scope has closed, so work that writes is not queued again.
            drop(self);
            work.into_iter().for_each(|w| w());
        }
    }
}

impl Drop for Scope {
    fn drop(&mut self) {
        OPEN.set(OPEN.get() - 1);
        if self.start != usize::MAX {
            QUEUE.with_borrow_mut(|q| q.truncate(self.start));
        }
    }
}
