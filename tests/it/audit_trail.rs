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
