//! Every change of state a person causes audits itself (`actions`), whichever way it comes in:
//! here the calculation actions through the JSON API and the pages. Accounts, maintenance and
//! the admin actions are checked where they are tested (setup.rs, pam.rs, deployment.rs,
//! admin*.rs).

use crate::calcs::{start, wait_for};
use crate::support::TestApp;

/// bob's entries for `action`, asserting each is his, from the web and from loopback.
fn by_bob(app: &TestApp, action: &str) -> Vec<String> {
    let bob = app.user("bob");
    app.audit(action)
        .into_iter()
        .map(|e| {
            assert_eq!(
                (
                    e.actor_name.as_str(),
                    e.actor_id,
                    e.source.as_str(),
                    e.ip.as_str()
                ),
                ("bob", Some(bob.id), "web", "127.0.0.1"),
                "{e:?}"
            );
            format!("{} | {}", e.object_repr, e.summary)
        })
        .collect()
}

#[actix_web::test]
async fn calculation_actions_audit_themselves_from_the_api_and_the_pages() {
    let app = TestApp::new().await;
    let bob = app.logged_in_new_user("bob").await;
    app.set_level("bob", 2);
    let carol = app.logged_in_new_user("carol").await;

    let done = start(&bob, 1, 0.0, "").await;
    wait_for(&bob, done, "complete").await;
    let long = start(&bob, 50, 1.0, "").await;
    assert_eq!(
        by_bob(&app, "calc.submit"),
        [
            format!("calculation {long} | calculator: example; description: test job"),
            format!("calculation {done} | calculator: example; description: test job"),
        ]
    );

    // Refused actions leave no line: carol may not touch bob's calculations.
    for action in ["share", "abort", "remove"] {
        let res = carol
            .client
            .post(carol.url(&format!("/v1/calc/{long}/{action}")))
            .send()
            .await
            .unwrap();
        // OpenQuake answers an abort of an unknown job with 200 {"error": "Unknown job N"}.
        let status = res.status();
        let body: serde_json::Value = res.json().await.unwrap();
        assert!(
            status.is_client_error() || (action == "abort" && body["error"].is_string()),
            "{action}: {status} {body}"
        );
    }
    for action in ["calc.share", "calc.abort", "calc.remove"] {
        assert!(app.audit(action).is_empty(), "{action}");
    }

    // Through the API.
    let post = |path: String| {
        let client = bob.client.clone();
        let url = bob.url(&path);
        async move { client.post(url).send().await.unwrap() }
    };
    assert_eq!(post(format!("/v1/calc/{done}/share")).await.status(), 200);
    assert_eq!(post(format!("/v1/calc/{done}/unshare")).await.status(), 200);
    assert_eq!(post(format!("/v1/calc/{long}/abort")).await.status(), 200);
    wait_for(&bob, long, "aborted").await;
    assert_eq!(
        by_bob(&app, "calc.share"),
        [format!("calculation {done} | owner: bob")]
    );
    assert_eq!(
        by_bob(&app, "calc.unshare"),
        [format!("calculation {done} | owner: bob")]
    );
    let aborted = by_bob(&app, "calc.abort");
    assert_eq!(aborted.len(), 1, "{aborted:?}");
    assert!(
        aborted[0].starts_with(&format!("calculation {long} | owner: bob; status: ")),
        "{aborted:?}"
    );

    // Through the pages (a form with its CSRF token).
    let res = bob.post_form(&format!("/engine/{done}/remove/"), &[]).await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        by_bob(&app, "calc.remove"),
        [format!(
            "calculation {done} | owner: bob; calculator: example; status: complete; description: test job; files deleted"
        )]
    );
}

/// The `admin.*` lines of the access log, once every line logged so far is written.
fn admin_lines(app: &TestApp) -> Vec<String> {
    app.state.access_log.sync();
    std::fs::read_to_string(app.state.access_log.path())
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains(" admin."))
        .map(str::to_string)
        .collect()
}

/// The access log tells of actions that happened: a refused one (rolled back) writes no line,
/// a done one exactly one, written once its transaction has committed.
#[actix_web::test]
async fn refused_actions_leave_no_access_log_line() {
    let app = TestApp::new().await.with_superuser("root").with_user("bob");
    let browser = app.logged_in("root").await;
    let root = app.user("root");
    let deactivate = format!("/admin/users/{}/deactivate/", root.id);
    let delete = format!("/admin/users/{}/delete/", root.id);
    for (path, fields) in [(&deactivate, vec![]), (&delete, vec![("calcs", "refuse")])] {
        let page = browser.follow(browser.post_form(path, &fields).await).await;
        page.flash_with("is the last active superuser");
    }
    assert!(app.user("root").is_active);
    assert_eq!(admin_lines(&app), Vec::<String>::new());

    let bob = app.user("bob");
    let res = browser
        .post_form(&format!("/admin/users/{}/deactivate/", bob.id), &[])
        .await;
    assert_eq!(res.status(), 303);
    let lines = admin_lines(&app);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].ends_with("INFO admin.user.deactivate ip=127.0.0.1 user=\"root\" object=\"bob\""),
        "{lines:?}"
    );
}

/// An action inside a larger transaction (or savepoint) that rolls back logs nothing; in one
/// that commits, it logs at the commit; outside any transaction, at once.
#[actix_web::test]
async fn an_action_in_a_rolled_back_transaction_logs_nothing() {
    use calcweb::actions::accounts;
    use calcweb::error::AppError;
    use calcweb::models::audit::Actor;

    let app = TestApp::new().await.with_user("bob");
    let bob = app.user("bob");
    let actor = Actor::cli().logging_to(app.state.access_log.clone());
    let mut conn = app.conn();
    let failed: Result<(), AppError> = conn.write_transaction(|conn| {
        accounts::deactivate(conn, &actor, &bob)?;
        Err(AppError::Conflict("changed my mind".into()))
    });
    assert!(
        matches!(&failed, Err(AppError::Conflict(m)) if m == "changed my mind"),
        "{failed:?}"
    );
    assert!(app.user("bob").is_active);
    assert_eq!(admin_lines(&app), Vec::<String>::new());

    // A savepoint that rolls back drops its lines, though the transaction around it commits.
    let outer: Result<(), AppError> = conn.write_transaction(|conn| {
        let inner: Result<(), AppError> = conn.write_transaction(|conn| {
            accounts::deactivate(conn, &actor, &bob)?;
            Err(AppError::Conflict("not this one".into()))
        });
        assert!(inner.is_err());
        Ok(())
    });
    outer.unwrap();
    assert!(app.user("bob").is_active);
    assert_eq!(admin_lines(&app), Vec::<String>::new());

    let done: Result<(), AppError> = conn.write_transaction(|conn| {
        accounts::deactivate(conn, &actor, &bob)?;
        // Not yet: the outer transaction has not committed.
        assert_eq!(admin_lines(&app), Vec::<String>::new());
        Ok(())
    });
    done.unwrap();
    assert_eq!(admin_lines(&app).len(), 1);
    accounts::activate(&mut conn, &actor, &bob).unwrap();
    let lines = admin_lines(&app);
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines[1].contains("admin.user.activate"), "{lines:?}");
}
