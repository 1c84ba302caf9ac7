//! The /v1 API answers as OpenQuake 3.26.2's server does (`server/views.py`,
//! `server/db/actions.py`): the sentences, bodies and codes of abort, remove, share, unshare
//! and tags, the list's query parameters, `result/list`, `on_same_fs`, and 403 without a login.

use serde_json::{Value, json};

use crate::support::{Browser, Cast, TestApp, location};

async fn post(b: &Browser, path: &str) -> (u16, Value) {
    let res = b.client.post(b.url(path)).send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn get(b: &Browser, path: &str) -> (u16, Value) {
    let res = b.get(path).await;
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// Exactly one `action` line on calculation `id`, by `actor` from the web.
fn audited_by(app: &TestApp, action: &str, id: i64, actor: &str) {
    let repr = format!("calculation {id}");
    let lines: Vec<_> = app
        .audit(action)
        .into_iter()
        .filter(|e| e.object_repr == repr)
        .collect();
    assert_eq!(lines.len(), 1, "{action} on {repr}: {lines:?}");
    assert_eq!(
        (lines[0].actor_name.as_str(), lines[0].source.as_str()),
        (actor, "web")
    );
}

async fn ids(b: &Browser, query: &str) -> Vec<i64> {
    let (status, list) = get(b, &format!("/v1/calc/list{query}")).await;
    assert_eq!(status, 200, "{query}: {list}");
    list.as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_i64().unwrap())
        .collect()
}

#[actix_web::test]
async fn anonymous_api_requests_get_403_never_a_redirect() {
    let app = TestApp::new().await;
    let b = app.browser();
    for path in ["/v1/engine_version", "/v1/calc/list", "/v1/calc/1/status"] {
        let res = b.get(path).await;
        assert_eq!(res.status(), 403, "{path}");
        assert_eq!(location(&res), "", "{path}");
        let body: Value = res.json().await.unwrap();
        assert!(body["error"].as_str().unwrap().contains("log in"), "{body}");
    }
    // Pages still send visitors to the login form.
    assert_eq!(b.get("/engine/").await.status(), 303);
    // A token that is not valid: 403 with a JSON error that says so.
    let res = b
        .client
        .get(b.url("/v1/calc/list"))
        .bearer_auth("cw_not-a-real-token")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let body: Value = res.json().await.unwrap();
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("not valid or has expired"),
        "{body}"
    );
}

#[actix_web::test]
async fn share_abort_and_remove_answer_with_openquakes_sentences() {
    let app = TestApp::new().await;
    let c = Cast::new(&app).await;
    let owner = app.user("owner").id;
    let done = app.calc_row(owner, "complete").insert();
    let failed = app.calc_row(owner, "failed").insert();
    let running = app.calc_row(owner, "executing").insert();

    let share = format!("/v1/calc/{done}/share");
    let unshare = format!("/v1/calc/{done}/unshare");
    let changed = |from: &str, to: &str| json!({ "success": format!("The status of calculation {done} was changed from \"{from}\" to \"{to}\"") });
    assert_eq!(
        post(&c.owner, &share).await,
        (200, changed("complete", "shared"))
    );
    assert_eq!(
        post(&c.owner, &share).await,
        (
            200,
            json!({ "success": format!("Calculation {done} was already shared") })
        )
    );
    assert_eq!(
        post(&c.root, &unshare).await,
        (200, changed("shared", "complete"))
    );
    assert_eq!(
        post(&c.owner, &unshare).await,
        (
            200,
            json!({ "success": format!("Calculation {done} was already complete") })
        )
    );
    assert_eq!(
        post(&c.owner, &format!("/v1/calc/{failed}/share")).await,
        (
            403,
            json!({ "error": format!("Can not share calculation {failed} from status \"failed\"") })
        )
    );
    assert_eq!(
        post(&c.owner, &format!("/v1/calc/{failed}/unshare")).await,
        (
            403,
            json!({ "error": format!("Can not force the status of calculation {failed} from \"failed\" to \"complete\"") })
        )
    );
    // Below level 2: OpenQuake's bare 403 (here with a sentence).
    assert_eq!(post(&c.mate, &share).await.0, 403);
    // The audit lines are still written by the actions.
    audited_by(&app, "calc.share", done, "owner");
    audited_by(&app, "calc.unshare", done, "root");

    assert_eq!(
        post(&c.owner, "/v1/calc/999999/abort").await,
        (200, json!({ "error": "Unknown job 999999" }))
    );
    assert_eq!(
        post(&c.other, &format!("/v1/calc/{running}/abort")).await,
        (200, json!({ "error": format!("Unknown job {running}") })),
        "a calculation the user cannot see is an unknown one"
    );
    assert_eq!(
        post(&c.owner, &format!("/v1/calc/{done}/abort")).await,
        (
            200,
            json!({ "error": format!("Job {done} is not running") })
        )
    );
    app.set_level("mate", 0);
    assert_eq!(
        post(&c.mate, &format!("/v1/calc/{running}/abort")).await,
        (
            403,
            json!({ "error": format!("User mate has no permission to abort job {running}") })
        )
    );
    app.set_level("mate", 1);
    assert_eq!(
        post(&c.mate, &format!("/v1/calc/{running}/abort")).await,
        (200, json!({ "success": format!("Killing job {running}") }))
    );
    audited_by(&app, "calc.abort", running, "mate");

    assert_eq!(
        post(&c.owner, "/v1/calc/999999/remove").await,
        (
            403,
            json!({ "error": "Cannot delete calculation 999999: ID does not exist" })
        )
    );
    assert_eq!(
        post(&c.mate, &format!("/v1/calc/{done}/remove")).await,
        (
            403,
            json!({ "error": format!("Cannot delete calculation {done}: it belongs to owner and you are mate") })
        )
    );
    assert_eq!(
        post(&c.owner, &format!("/v1/calc/{done}/remove")).await,
        (200, json!({ "success": done.to_string() }))
    );
    audited_by(&app, "calc.remove", done, "owner");
}

#[actix_web::test]
async fn tags_answer_as_openquake_and_filter_the_list() {
    let app = TestApp::new().await;
    let c = Cast::new(&app).await;
    let owner = app.user("owner").id;
    let a = app.calc_row(owner, "complete").size(2_000_000).insert();
    let b = app.calc_row(owner, "complete").size(1_000_000).insert();
    let ok = |s: String| (200, json!({ "success": s }));

    // Polled before any tag, so the cache holds this page (it must not be served again).
    assert_eq!(
        ids(&c.owner, "?filter_by_tag=hazard").await,
        Vec::<i64>::new()
    );
    assert_eq!(
        post(&c.owner, "/v1/calc/create_tag/hazard").await,
        ok("Tag hazard was created".into())
    );
    assert_eq!(
        post(&c.owner, "/v1/calc/create_tag/hazard").await,
        ok("Tag hazard already exists".into())
    );
    assert_eq!(
        post(&c.owner, &format!("/v1/calc/{a}/add_tag/hazard")).await,
        ok(format!("The tag hazard was added to job {a}"))
    );
    let (status, body) = post(&c.owner, &format!("/v1/calc/{a}/add_tag/hazard")).await;
    assert_eq!(
        status, 403,
        "a second time, as OpenQuake's database refuses it"
    );
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("already has the tag hazard")
    );
    assert_eq!(ids(&c.owner, "?filter_by_tag=hazard").await, vec![a]);
    assert_eq!(
        post(
            &c.owner,
            &format!("/v1/calc/{b}/set_preferred_job_for_tag/hazard")
        )
        .await,
        ok(format!("Job {b} was set as preferred for tag hazard"))
    );
    assert_eq!(
        post(&c.owner, &format!("/v1/calc/{a}/add_tag/risk")).await,
        ok(format!("The tag risk was added to job {a}"))
    );
    assert_eq!(
        get(&c.mate, "/v1/calc/list_tags").await,
        (200, json!({ "success": "ok", "tags": ["hazard", "risk"] }))
    );
    assert_eq!(
        get(&c.mate, "/v1/calc/get_preferred_job_for_tag/hazard").await,
        (200, json!({ "success": "ok", "job_id": b }))
    );
    assert_eq!(
        get(&c.other, "/v1/calc/get_preferred_job_for_tag/hazard").await,
        (200, json!({ "success": "ok", "job_id": null })),
        "a calculation the user cannot see is not named"
    );
    let mut tagged = ids(&c.owner, "?filter_by_tag=hazard").await;
    tagged.sort();
    assert_eq!(tagged, vec![a, b]);
    assert_eq!(ids(&c.owner, "?preferred_only=1").await, vec![b]);
    assert_eq!(
        ids(&c.owner, "?filter_by_tag=0").await.len(),
        2,
        "0 = no filter"
    );
    let (_, list) = get(&c.owner, "/v1/calc/list").await;
    let tags_of = |id: i64| {
        list.as_array()
            .unwrap()
            .iter()
            .find(|e| e["id"] == id)
            .unwrap()["tags"]
            .clone()
    };
    assert_eq!(tags_of(a), json!("hazard, risk"));
    assert_eq!(tags_of(b), json!("hazard★"));
    let (_, status) = get(&c.mate, &format!("/v1/calc/{a}/status")).await;
    assert_eq!(
        status["tags"],
        json!("hazard, risk"),
        "the status is a list entry"
    );

    // Only the owner (with sharing rights) or a superuser changes a calculation's tags.
    assert_eq!(
        post(&c.mate, &format!("/v1/calc/{a}/add_tag/x")).await.0,
        403
    );
    app.set_level("other", 2);
    assert_eq!(
        post(&c.other, &format!("/v1/calc/{a}/add_tag/x")).await.0,
        404
    );
    assert_eq!(post(&c.other, "/v1/calc/delete_tag/hazard").await.0, 403);
    assert_eq!(
        post(&c.other, "/v1/calc/unset_preferred_job_for_tag/hazard")
            .await
            .0,
        403
    );
    let (status, body) = post(&c.owner, "/v1/calc/create_tag/a%2Fb").await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("contains a slash"),
        "{body}"
    );
    let (status, body) = post(&c.owner, "/v1/calc/create_tag/%20x").await;
    assert_eq!(status, 400, "{body}");

    assert_eq!(
        post(&c.owner, &format!("/v1/calc/{a}/remove_tag/hazard")).await,
        ok(format!("Tag hazard was removed from job {a}"))
    );
    assert_eq!(
        post(&c.owner, &format!("/v1/calc/{a}/remove_tag/nope")).await,
        ok(format!("Tag nope was not associated with job {a}"))
    );
    assert_eq!(
        post(&c.owner, "/v1/calc/unset_preferred_job_for_tag/hazard").await,
        ok("Tag hazard has no preferred job now".into())
    );
    assert_eq!(ids(&c.owner, "?preferred_only=1").await, Vec::<i64>::new());
    assert_eq!(
        post(&c.owner, "/v1/calc/delete_tag/hazard").await,
        ok("Tag hazard was deleted".into())
    );
    assert_eq!(
        post(&c.owner, "/v1/calc/delete_tag/hazard").await,
        ok("Tag hazard does not exist".into())
    );
    assert_eq!(
        ids(&c.owner, "?filter_by_tag=hazard").await,
        Vec::<i64>::new()
    );
    let res = c.owner.get("/v1/calc/create_tag/again").await;
    assert_eq!(res.status(), 405, "GET changes nothing");
    assert_eq!(
        get(&c.owner, "/v1/calc/list_tags").await.1["tags"],
        json!(["risk"])
    );
    for action in [
        "tag.create",
        "calc.tag",
        "calc.prefer",
        "calc.untag",
        "calc.unprefer",
        "tag.delete",
    ] {
        assert!(!app.audit(action).is_empty(), "{action} is audited");
    }
}

#[actix_web::test]
async fn the_list_takes_openquakes_query_parameters() {
    let app = TestApp::new().await;
    let c = Cast::new(&app).await;
    let owner = app.user("owner").id;
    let mate = app.user("mate").id;
    let small = app.calc_row(owner, "complete").size(1).insert();
    let big = app.calc_row(owner, "complete").size(9_000_000).insert();
    let theirs = app.calc_row(mate, "failed").size(5).insert();
    let running = app.calc_row(mate, "executing").insert();
    assert_eq!(
        ids(&c.owner, "?limit=-1").await,
        vec![running, theirs, big, small]
    );
    assert_eq!(ids(&c.owner, "?limit=2&offset=1").await, vec![theirs, big]);
    assert_eq!(ids(&c.owner, "?limit=0").await, Vec::<i64>::new());
    assert_eq!(
        ids(&c.owner, "?order_by=size_mb&order_dir=ASC").await,
        vec![running, small, theirs, big]
    );
    assert_eq!(
        ids(&c.owner, "?order_by=id&order_dir=asc&limit=1").await,
        vec![small]
    );
    assert_eq!(
        ids(&c.owner, "?user_name_like=MATE").await,
        vec![running, theirs]
    );
    assert_eq!(
        ids(&c.owner, "?user_name_like=ma").await,
        Vec::<i64>::new(),
        "a LIKE pattern"
    );
    assert_eq!(
        ids(&c.owner, "?user_name_like=%25at_").await,
        vec![running, theirs]
    );
    assert_eq!(ids(&c.owner, "?is_running=1").await, vec![running]);
    assert_eq!(
        ids(&c.owner, "?is_running=").await,
        vec![theirs, big, small],
        "empty is false"
    );
    assert_eq!(
        ids(&c.owner, "?calculation_mode=example&limit=1").await,
        vec![running]
    );
    assert_eq!(ids(&c.owner, "?start_time=2000-01-01").await.len(), 4);
    assert_eq!(ids(&c.owner, "?start_time=2999-01-01").await.len(), 0);
    for bad in [
        "limit=-2",
        "limit=ten",
        "offset=-1",
        "preferred_only=yes",
        "is_running=maybe",
        "order_by=password",
        "order_dir=up",
        "start_time=yesterday",
    ] {
        let (status, body) = get(&c.owner, &format!("/v1/calc/list?{bad}")).await;
        assert_eq!(status, 400, "{bad}: {body}");
        assert!(body["error"].as_str().unwrap().ends_with('.'), "{body}");
    }
}

#[actix_web::test]
async fn result_list_is_results_and_on_same_fs_reads_nothing() {
    let app = TestApp::new().await;
    let c = Cast::new(&app).await;
    let id = app.calc_row(app.user("owner").id, "complete").insert();
    let (s1, results) = get(&c.mate, &format!("/v1/calc/{id}/results")).await;
    let (s2, alias) = get(&c.mate, &format!("/v1/calc/{id}/result/list")).await;
    assert_eq!((s1, s2), (200, 200));
    assert_eq!(results, alias);
    // The first 32 bytes of /etc/hostname have some checksum; calcweb never looks.
    let res = c
        .owner
        .client
        .post(c.owner.url("/v1/on_same_fs"))
        .form(&[("filename", "/etc/hostname"), ("checksum", "0")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({ "success": false })
    );
    let res = c
        .owner
        .client
        .post(c.owner.url("/v1/on_same_fs"))
        .form(&[("filename", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
}

#[actix_web::test]
async fn tags_are_shown_and_changed_on_the_calculation_page() {
    let app = TestApp::new().await;
    let c = Cast::new(&app).await;
    let owner = app.user("owner").id;
    let id = app.calc_row(owner, "complete").insert();
    let other = app.calc_row(owner, "complete").insert();
    let page = c.owner.page(&format!("/engine/{id}/")).await;
    assert!(page.exists("#tags form input[name=tag]"), "the add form");
    let mate_page = c.mate.page(&format!("/engine/{id}/")).await;
    assert!(
        !mate_page.exists("#tags form"),
        "a group-mate sees no forms"
    );

    let tags = format!("/engine/{id}/tags/");
    let res = c
        .owner
        .post_form(&tags, &[("action", "add"), ("tag", "site-a")])
        .await;
    let page = c.owner.follow(res).await;
    page.flash_with(&format!("Calculation {id} now has the tag site-a."));
    assert_eq!(page.texts("#tags .badge"), vec!["site-a"]);
    let res = c
        .owner
        .post_form(&tags, &[("action", "prefer"), ("tag", "site-a")])
        .await;
    let page = c.owner.follow(res).await;
    assert!(page.texts("#tags .badge")[0].starts_with("site-a ★"));
    let res = c
        .owner
        .post_form(&tags, &[("action", "add"), ("tag", "a/b")])
        .await;
    c.owner.follow(res).await.flash_with("contains a slash");
    let res = c
        .mate
        .post_form(&tags, &[("action", "add"), ("tag", "x")])
        .await;
    c.mate.follow(res).await.flash_with("may not change tags");
    let res = c
        .owner
        .post_form_without_csrf(&tags, &[("action", "add"), ("tag", "x")])
        .await;
    assert_eq!(res.status(), 403, "CSRF");

    // The list filters by tag.
    let list = c.owner.page("/engine/?tag=site-a").await;
    let rows = list.attrs("#calcs tbody tr", "id");
    assert_eq!(rows, vec![format!("calc-{id}")], "not {other}");
    assert!(list.exists("select[name=tag] option[value=site-a][selected]"));

    let res = c
        .owner
        .post_form(&tags, &[("action", "unprefer"), ("tag", "site-a")])
        .await;
    c.owner
        .follow(res)
        .await
        .flash_with("no preferred calculation now");
    let res = c
        .owner
        .post_form(&tags, &[("action", "remove"), ("tag", "site-a")])
        .await;
    let page = c.owner.follow(res).await;
    assert!(page.texts("#tags .badge").is_empty());
}
