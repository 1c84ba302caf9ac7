//! Who may see and do what with a calculation, through the API (SPEC §2, issue #3 §4).

use serde_json::Value;

use crate::calcs::{job_ini, run, start, wait_for, zip_of};
use crate::support::{Browser, Cast, TestApp};

async fn ids_in_list(b: &Browser) -> Vec<i64> {
    let list: Vec<Value> = b.get("/v1/calc/list").await.json().await.unwrap();
    list.iter().map(|c| c["id"].as_i64().unwrap()).collect()
}

async fn post(b: &Browser, path: &str) -> u16 {
    b.client
        .post(b.url(path))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[actix_web::test]
async fn visibility_follows_ownership_groups_and_sharing() {
    let app = TestApp::new().await;
    let c = Cast::new(&app).await;
    let id = start(&c.owner, 2, 0.0, "").await;
    wait_for(&c.owner, id, "complete").await;
    let results: Vec<Value> = c
        .owner
        .get(&format!("/v1/calc/{id}/results"))
        .await
        .json()
        .await
        .unwrap();
    let download = format!("/v1/calc/result/{}", results[0]["id"]);
    let reads = [
        format!("/v1/calc/{id}/status"),
        format!("/v1/calc/{id}"),
        format!("/v1/calc/{id}/log/0:"),
        format!("/v1/calc/{id}/log/size"),
        format!("/v1/calc/{id}/traceback"),
        format!("/v1/calc/{id}/results"),
        download,
    ];
    for (who, b, sees) in [
        ("owner", &c.owner, true),
        ("mate", &c.mate, true),
        ("other", &c.other, false),
        ("root", &c.root, true),
    ] {
        assert_eq!(ids_in_list(b).await.contains(&id), sees, "{who} list");
        for path in &reads {
            let code = b.get(path).await.status().as_u16();
            assert_eq!(code, if sees { 200 } else { 404 }, "{who} GET {path}");
        }
    }
    // Sharing makes it visible to everyone, read-only.
    assert_eq!(
        post(&c.mate, &format!("/v1/calc/{id}/share")).await,
        403,
        "a group-mate cannot share"
    );
    assert_eq!(post(&c.owner, &format!("/v1/calc/{id}/share")).await, 200);
    assert!(ids_in_list(&c.other).await.contains(&id));
    for path in &reads {
        assert_eq!(
            c.other.get(path).await.status(),
            200,
            "other GET {path} once shared"
        );
    }
    assert_eq!(post(&c.other, &format!("/v1/calc/{id}/remove")).await, 403);
    assert_eq!(post(&c.other, &format!("/v1/calc/{id}/unshare")).await, 403);
    let hidden: Vec<Value> = c
        .other
        .get("/v1/calc/list?include_shared=false")
        .await
        .json()
        .await
        .unwrap();
    assert!(hidden.is_empty());
    assert_eq!(post(&c.root, &format!("/v1/calc/{id}/unshare")).await, 200);
    assert!(!ids_in_list(&c.other).await.contains(&id));
}

#[actix_web::test]
async fn remove_is_for_the_owner_and_superusers() {
    let app = TestApp::new().await;
    let c = Cast::new(&app).await;
    let first = start(&c.owner, 1, 0.0, "").await;
    let second = start(&c.owner, 1, 0.0, "").await;
    wait_for(&c.owner, first, "complete").await;
    wait_for(&c.owner, second, "complete").await;
    assert_eq!(
        post(&c.mate, &format!("/v1/calc/{first}/remove")).await,
        403
    );
    assert_eq!(
        post(&c.other, &format!("/v1/calc/{first}/remove")).await,
        403,
        "OpenQuake: Cannot delete calculation N: ID does not exist"
    );
    assert_eq!(
        post(&c.owner, &format!("/v1/calc/{first}/remove")).await,
        200
    );
    assert_eq!(
        post(&c.root, &format!("/v1/calc/{second}/remove")).await,
        200
    );
    assert!(ids_in_list(&c.owner).await.is_empty());
    let dir = app.state.config.calcs_dir().join(first.to_string());
    assert!(!dir.exists(), "the files are gone too");
}

#[actix_web::test]
async fn abort_is_for_the_owner_group_mates_and_superusers() {
    let app = TestApp::with_config(|c| c.calcs.kill_grace = 1).await;
    let c = Cast::new(&app).await;
    let id = start(&c.owner, 1000, 0.05, "").await;
    wait_for(&c.owner, id, "executing").await;
    // The list tells a group-mate they may abort it.
    let listed: Vec<serde_json::Value> = c.mate.get("/v1/calc/list").await.json().await.unwrap();
    let entry = listed.iter().find(|e| e["id"] == id).expect("listed");
    assert_eq!(entry["abortable"], true, "{entry}");
    // OpenQuake answers an unknown job with 200 {"error": "Unknown job N"}.
    assert_eq!(post(&c.other, &format!("/v1/calc/{id}/abort")).await, 200);
    app.set_level("mate", 0);
    assert_eq!(
        post(&c.mate, &format!("/v1/calc/{id}/abort")).await,
        403,
        "level 0 views only"
    );
    app.set_level("mate", 1);
    assert_eq!(
        post(&c.owner, &format!("/v1/calc/{id}/remove")).await,
        403,
        "running: abort first (a 403 error, as OpenQuake words its refusals)"
    );
    assert_eq!(post(&c.mate, &format!("/v1/calc/{id}/abort")).await, 200);
    wait_for(&c.owner, id, "aborted").await;
}

#[actix_web::test]
async fn who_may_run_and_share() {
    let app = TestApp::with_config(|c| {
        let mut reserved = calcweb::config::CalculatorConfig::example();
        reserved.name = "reserved".into();
        reserved.allowed_groups = vec!["elsewhere".into()];
        c.calculators.push(reserved);
    })
    .await;
    let c = Cast::new(&app).await;
    let archive = || zip_of(&[("job.ini", &job_ini(1, 0.0, ""))]);
    let res = run(
        &c.owner,
        archive(),
        "job.zip",
        &[("calculator", "reserved")],
    )
    .await;
    assert_eq!(res.status(), 403);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("reserved for the groups elsewhere")
    );
    assert_eq!(
        run(
            &c.other,
            archive(),
            "job.zip",
            &[("calculator", "reserved")]
        )
        .await
        .status(),
        200
    );
    assert_eq!(
        run(&c.root, archive(), "job.zip", &[("calculator", "reserved")])
            .await
            .status(),
        200
    );
    let res = run(&c.owner, archive(), "job.zip", &[("calculator", "nope")]).await;
    assert_eq!(res.status(), 400);
    app.set_level("mate", 0);
    assert_eq!(
        run(&c.mate, archive(), "job.zip", &[]).await.status(),
        403,
        "level 0 cannot run"
    );
    // Level 1 owners cannot share; level 2 can.
    let id = start(&c.owner, 1, 0.0, "").await;
    wait_for(&c.owner, id, "complete").await;
    app.set_level("owner", 1);
    assert_eq!(post(&c.owner, &format!("/v1/calc/{id}/share")).await, 403);
    app.set_level("owner", 2);
    assert_eq!(post(&c.owner, &format!("/v1/calc/{id}/share")).await, 200);
}

#[actix_web::test]
async fn hazard_job_id_must_be_a_visible_calculation() {
    let app = TestApp::new().await;
    let c = Cast::new(&app).await;
    let parent = start(&c.owner, 1, 0.0, "").await;
    wait_for(&c.owner, parent, "complete").await;
    let archive = || zip_of(&[("job.ini", &job_ini(1, 0.0, ""))]);
    let parent_text = parent.to_string();
    let res = run(
        &c.other,
        archive(),
        "job.zip",
        &[("hazard_job_id", &parent_text)],
    )
    .await;
    assert_eq!(res.status(), 404);
    let res = run(
        &c.mate,
        archive(),
        "job.zip",
        &[("hazard_job_id", &parent_text)],
    )
    .await;
    assert_eq!(res.status(), 200);
    let child = res.json::<Value>().await.unwrap()["job_id"]
        .as_i64()
        .unwrap();
    let status = wait_for(&c.mate, child, "complete").await;
    assert_eq!(status["parent_id"], parent);
}
