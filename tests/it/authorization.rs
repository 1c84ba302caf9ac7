//! The authorization matrix of the JSON API: every route, as every kind of caller, with the
//! status it must answer. A route added to the API gets a row in [`MATRIX`] (one line).
//!
//! Callers: anonymous; `other` (level 1, in another group); `mate` (level 1, in the owner's
//! group); `owner` (level 2, owns the calculations); `root` (superuser); `token` (a read-scope
//! API token of the owner). Every cell runs on fresh fixtures, so a row that removes or
//! changes something does not change what the next cell sees.
//!
//! Placeholders in paths: `{done}` a complete calculation of the owner, carrying the tag
//! `{tag}` as its preferred calculation and the output `{output}`; `{running}` an executing
//! calculation of the owner; `{new}` a tag name nobody has used.

use serde_json::Value;

use crate::support::{Browser, Cast, TestApp};

/// One route: method, path, optional urlencoded body, and the expected status for
/// [anonymous, other, mate, owner, root, token].
pub struct Row {
    method: &'static str,
    path: &'static str,
    body: Option<&'static str>,
    expect: [u16; 6],
}

const fn get(path: &'static str, expect: [u16; 6]) -> Row {
    Row {
        method: "GET",
        path,
        body: None,
        expect,
    }
}

const fn post(path: &'static str, expect: [u16; 6]) -> Row {
    Row {
        method: "POST",
        path,
        body: None,
        expect,
    }
}

const fn post_form(path: &'static str, body: &'static str, expect: [u16; 6]) -> Row {
    Row {
        method: "POST",
        path,
        body: Some(body),
        expect,
    }
}

const CALLERS: [&str; 6] = ["anonymous", "other", "mate", "owner", "root", "token"];

/// Seen by owner, mate and root (404 for a stranger, 403 without a login).
const READ: [u16; 6] = [403, 404, 200, 200, 200, 200];
/// Any logged-in caller.
const ANYONE: [u16; 6] = [403, 200, 200, 200, 200, 200];
/// Changes that need the right to share (owner at level 2, superuser); a token that may only
/// read gets 403.
const SHARER: [u16; 6] = [403, 403, 403, 200, 200, 403];
/// A GET on a path that changes tags.
const GET_REFUSED: [u16; 6] = [403, 405, 405, 405, 405, 405];

#[rustfmt::skip]
pub const MATRIX: &[Row] = &[
    get("/v1/engine_version", ANYONE),
    get("/v1/calc/list", ANYONE),
    get("/v1/calc/list?filter_by_tag={tag}&preferred_only=1", ANYONE),
    // No archive: 400 once allowed to run.
    post("/v1/calc/run", [403, 400, 400, 400, 400, 403]),
    get("/v1/calc/{done}/status", READ),
    get("/v1/calc/{done}", READ),
    get("/v1/calc/{done}/results", READ),
    get("/v1/calc/{done}/result/list", READ),
    get("/v1/calc/result/{output}", READ),
    get("/v1/calc/{done}/log/size", READ),
    get("/v1/calc/{done}/log/0:", READ),
    get("/v1/calc/{done}/traceback", READ),
    // A page's raw log: the login redirect, 404 to whom may not see it, and tokens are for
    // /v1/ only (400).
    get("/engine/{done}/log.txt", [303, 404, 200, 200, 200, 400]),
    // "Run again" (its input is in the fixture): whoever may see it and run its calculator;
    // the POST without the form's CSRF token is refused (the login redirect, 400 to a token).
    get("/engine/{done}/again/", [303, 404, 200, 200, 200, 400]),
    post("/engine/{done}/again/", [303, 403, 403, 403, 403, 400]),
    // A staged upload is its owner's only: anyone else's token, or a stale one, is not found.
    get("/engine/run/choose/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA/", [303, 404, 404, 404, 404, 400]),
    post("/engine/run/choose/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA/", [303, 403, 403, 403, 403, 400]),
    // OpenQuake answers an unknown job with 200 {"error": "Unknown job N"}; a stranger's
    // calculation is an unknown one.
    post("/v1/calc/{running}/abort", [403, 200, 200, 200, 200, 403]),
    // OpenQuake: 403 "Cannot delete calculation N: ID does not exist" / "it belongs to ...".
    post("/v1/calc/{done}/remove", [403, 403, 403, 200, 200, 403]),
    post("/v1/calc/{done}/share", SHARER),
    post("/v1/calc/{done}/unshare", SHARER),
    get("/v1/calc/list_tags", ANYONE),
    get("/v1/usage", ANYONE),
    get("/v1/calc/get_preferred_job_for_tag/{tag}", ANYONE),
    post("/v1/calc/create_tag/{new}", SHARER),
    post("/v1/calc/delete_tag/{tag}", SHARER),
    post("/v1/calc/{done}/add_tag/{new}", SHARER),
    post("/v1/calc/{done}/remove_tag/{tag}", SHARER),
    post("/v1/calc/{done}/set_preferred_job_for_tag/{new}", SHARER),
    post("/v1/calc/unset_preferred_job_for_tag/{tag}", SHARER),
    get("/v1/calc/create_tag/{new}", GET_REFUSED),
    get("/v1/calc/delete_tag/{tag}", GET_REFUSED),
    get("/v1/calc/{done}/add_tag/{new}", GET_REFUSED),
    get("/v1/calc/{done}/remove_tag/{tag}", GET_REFUSED),
    get("/v1/calc/{done}/set_preferred_job_for_tag/{new}", GET_REFUSED),
    get("/v1/calc/unset_preferred_job_for_tag/{tag}", GET_REFUSED),
    // The fixtures are not engine runs: whoever may see one learns there is nothing to
    // extract and no datastore (404); the level rules are in tests/it/openquake/outputs.rs.
    get("/v1/calc/{done}/extract/oqparam", [403, 404, 404, 404, 404, 404]),
    get("/v1/calc/{done}/datastore", [403, 404, 404, 404, 404, 404]),
    // No archive: 400 once allowed to run; a read token may not.
    post("/v1/calc/validate_zip", [403, 400, 400, 400, 400, 403]),
    post_form("/v1/on_same_fs", "filename=%2Fetc%2Fpasswd&checksum=1", [403, 200, 200, 200, 200, 403]),
    // Public; bad credentials are 403 as in OpenQuake; tokens are for /v1/ only.
    post_form("/accounts/ajax_login/", "username=nobody&password=wrong", [403, 403, 403, 403, 403, 400]),
    // Last: it ends the browser's session (the runner logs in again after it).
    post("/accounts/ajax_logout/", [200, 200, 200, 200, 200, 400]),
];

/// What one cell works on, made afresh.
struct Fixtures {
    done: i64,
    running: i64,
    output: i64,
    tag: String,
    new: String,
}

fn fixtures(app: &TestApp, cell: usize) -> Fixtures {
    use calcweb::db::schema::outputs;
    use diesel::prelude::*;
    let owner = app.user("owner").id;
    let done = app.calc_row(owner, "complete").insert();
    let running = app.calc_row(owner, "executing").insert();
    let dir = calcweb::calcs::calc_dir(&app.state.config, done).join("output");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("curves.csv"), "a,b\n1,2\n").unwrap();
    // Its input, for "Run again".
    let input = calcweb::calcs::calc_dir(&app.state.config, done).join("input");
    std::fs::create_dir_all(&input).unwrap();
    std::fs::write(input.join("job.ini"), "[general]\nsteps = 1\n").unwrap();
    diesel::update(calcweb::db::schema::calcs::table.find(done))
        .set(calcweb::db::schema::calcs::job_ini.eq("job.ini"))
        .execute(&mut *app.conn())
        .unwrap();
    let output: i64 = diesel::insert_into(outputs::table)
        .values((
            outputs::calc_id.eq(done),
            outputs::name.eq("curves.csv"),
            outputs::size_bytes.eq(8_i64),
            outputs::content_type.eq("text/csv"),
            outputs::created_at.eq(calcweb::db::now()),
        ))
        .returning(outputs::id)
        .get_result(&mut *app.conn())
        .unwrap();
    let tag = format!("tag-{cell}");
    let root = app.user("root");
    let actor = calcweb::models::audit::Actor::cli();
    calcweb::actions::tags::prefer(&mut app.conn(), &actor, &root, done, &tag).unwrap();
    Fixtures {
        done,
        running,
        output,
        tag,
        new: format!("new-{cell}"),
    }
}

fn fill(path: &str, f: &Fixtures) -> String {
    path.replace("{done}", &f.done.to_string())
        .replace("{running}", &f.running.to_string())
        .replace("{output}", &f.output.to_string())
        .replace("{tag}", &f.tag)
        .replace("{new}", &f.new)
}

async fn send(b: &Browser, token: Option<&str>, row: &Row, path: &str) -> (u16, String) {
    let url = b.url(path);
    let mut req = match row.method {
        "GET" => b.client.get(url),
        "POST" => b.client.post(url),
        other => panic!("method {other} is not in the matrix runner"),
    };
    if let Some(body) = row.body {
        req = req
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
    }
    if let Some(secret) = token {
        req = req.bearer_auth(secret);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.text().await.unwrap_or_default())
}

#[actix_web::test]
async fn every_api_route_answers_each_caller_as_the_matrix_says() {
    let app = TestApp::new().await;
    let cast = Cast::new(&app).await;
    let (_, reader) = calcweb::models::api_token::ApiToken::create(
        &mut app.conn(),
        app.user("owner").id,
        "matrix",
        calcweb::models::api_token::SCOPE_READ,
        None,
    )
    .unwrap();
    let anonymous = app.browser();
    let bearer = app.browser();
    let mut failures = Vec::new();
    let mut cell = 0;
    for row in MATRIX {
        for (i, caller) in CALLERS.iter().enumerate() {
            cell += 1;
            let f = fixtures(&app, cell);
            let path = fill(row.path, &f);
            let (b, token) = match i {
                0 => (&anonymous, None),
                1 => (&cast.other, None),
                2 => (&cast.mate, None),
                3 => (&cast.owner, None),
                4 => (&cast.root, None),
                _ => (&bearer, Some(reader.as_str())),
            };
            let (status, body) = send(b, token, row, &path).await;
            if status != row.expect[i] {
                failures.push(format!(
                    "{} {path} as {caller}: {status}, expected {} ({body:.200})",
                    row.method, row.expect[i]
                ));
            }
            // The API never sends a login redirect, and its errors are JSON.
            if path.starts_with("/v1/") && status >= 400 {
                let json: Result<Value, _> = serde_json::from_str(&body);
                if !json.is_ok_and(|j| j["error"].is_string()) {
                    failures.push(format!(
                        "{} {path} as {caller}: not a JSON error: {body:.200}",
                        row.method
                    ));
                }
            }
            if path.contains("ajax_logout") && i > 0 && i < 5 {
                let res = b.login(caller, crate::support::PASSWORD).await;
                assert_eq!(res.status(), 303, "log {caller} in again");
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
