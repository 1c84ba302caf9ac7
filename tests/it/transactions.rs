//! Write transactions on both backends: one that reads and then writes must wait for another
//! writer, never fail with "database is locked" (SQLite's deferred transactions did, and the
//! authorization matrix met it on CI when the server wrote between a fixture's read and write).

use std::sync::mpsc;
use std::time::Duration;

use calcweb::db::schema::users;
use diesel::prelude::*;

use crate::support::TestApp;

#[actix_web::test]
async fn a_transaction_that_reads_then_writes_waits_for_a_concurrent_writer() {
    let app = TestApp::new().await.with_user("alice");
    let id = app.user("alice").id;
    let mut conn = app.conn();
    let mut other = app.conn();
    let (done_tx, done_rx) = mpsc::channel();
    let result: QueryResult<()> = std::thread::scope(|scope| {
        conn.write_transaction(|conn| {
            let level: i32 = users::table.find(id).select(users::level).first(conn)?;
            // Another connection writes between our read and our write.
            scope.spawn(move || {
                let written = diesel::update(users::table.find(id))
                    .set(users::full_name.eq("Alice"))
                    .execute(&mut *other);
                done_tx.send(written.map(|_| ())).unwrap();
            });
            // Give it the time to commit if nothing holds it back.
            let early = done_rx.recv_timeout(Duration::from_millis(300)).ok();
            diesel::update(users::table.find(id))
                .set(users::level.eq(level + 1))
                .execute(conn)?;
            if let Some(early) = early {
                early?;
            }
            Ok(())
        })
    });
    result.expect("the transaction's write succeeds");
    if let Ok(other) = done_rx.try_recv() {
        other.expect("the other writer succeeds");
    }
    let (level, name): (i32, String) = users::table
        .find(id)
        .select((users::level, users::full_name))
        .first(&mut *app.conn())
        .unwrap();
    assert_eq!((level, name.as_str()), (2, "Alice"));
}

#[actix_web::test]
async fn write_transactions_nest_as_savepoints() {
    let app = TestApp::new().await.with_user("alice");
    let id = app.user("alice").id;
    let mut conn = app.conn();
    let result: QueryResult<()> = conn.write_transaction(|conn| {
        diesel::update(users::table.find(id))
            .set(users::level.eq(2))
            .execute(conn)?;
        // The inner one fails and rolls back to its savepoint only.
        let inner: QueryResult<()> = conn.write_transaction(|conn| {
            diesel::update(users::table.find(id))
                .set(users::full_name.eq("rolled back"))
                .execute(conn)?;
            Err(diesel::result::Error::RollbackTransaction)
        });
        assert!(inner.is_err());
        conn.write_transaction(|conn| {
            diesel::update(users::table.find(id))
                .set(users::full_name.eq("kept"))
                .execute(conn)
                .map(|_| ())
        })
    });
    result.expect("nested write transactions work");
    let (level, name): (i32, String) = users::table
        .find(id)
        .select((users::level, users::full_name))
        .first(&mut *app.conn())
        .unwrap();
    assert_eq!((level, name.as_str()), (2, "kept"));
}
