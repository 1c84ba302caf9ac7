//! /admin/groups/: list, create, rename, delete, and members with a searchable picker.

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

use super::Superuser;
use super::helpers::{ConfirmPage, Pager, answer, done, plural, refused};
use crate::error::{AppError, AppResult};
use crate::models::User;
use crate::models::group::{Group, GroupRow};
use crate::models::paging::page_number;
use crate::state::AppState;
use crate::web::context::PageCtx;
use crate::web::csrf::CsrfForm;
use crate::web::html;
use crate::web::login::EmptyForm;
use crate::web::query::{query_string, text};

/// How many users the member picker offers at once.
const PICKER_SIZE: i64 = 20;

/// The query string of /admin/groups/: the search and the page.
#[derive(Deserialize)]
pub struct GroupsQuery {
    q: Option<String>,
    page: Option<String>,
}

#[derive(Template)]
#[template(path = "admin/groups.html")]
struct ListPage {
    page: PageCtx,
    nav: &'static str,
    groups: Vec<GroupRow>,
    q: String,
    pager: Pager,
}

#[get("/groups/")]
async fn list(
    req: HttpRequest,
    _admin: Superuser,
    query: web::Query<GroupsQuery>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let q = text(&query.q);
    let page_no = page_number(query.page.as_deref());
    let search = q.clone();
    let paged = state
        .db
        .run(move |conn| Group::list(conn, &search, page_no))
        .await?;
    let pager = Pager::new(&paged, &query_string(&[("q", &q)]));
    html(
        200,
        &ListPage {
            page: PageCtx::new(&req),
            nav: "groups",
            groups: paged.items,
            q,
            pager,
        },
    )
}

#[derive(Deserialize)]
pub struct NameForm {
    name: Option<String>,
}

#[post("/groups/new/")]
async fn create(
    admin: Superuser,
    form: CsrfForm<NameForm>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let name = form.0.name.unwrap_or_default().trim().to_string();
    let result = admin
        .change(&state, move |conn, actor| {
            crate::actions::groups::create(conn, actor, &name)
        })
        .await;
    match result {
        Ok(group) => Ok(done(
            &state,
            format!("Group {:?} created.", group.name),
            &group_page(group.id),
        )),
        Err(e) => refused(&state, e, "/admin/groups/"),
    }
}

#[derive(Deserialize)]
pub struct DetailQuery {
    /// What the member picker searches for.
    q: Option<String>,
}

#[derive(Template)]
#[template(path = "admin/group.html")]
struct DetailPage {
    page: PageCtx,
    nav: &'static str,
    group: Group,
    members: Vec<User>,
    q: String,
    candidates: Vec<User>,
}

fn group_page(id: i64) -> String {
    format!("/admin/groups/{id}/")
}

async fn load_group(state: &AppState, id: i64) -> AppResult<Group> {
    state
        .db
        .run(move |conn| Group::find(conn, id)?.ok_or_else(AppError::not_found))
        .await
}

#[get("/groups/{id:\\d+}/")]
async fn show(
    req: HttpRequest,
    _admin: Superuser,
    id: web::Path<i64>,
    query: web::Query<DetailQuery>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let id = id.into_inner();
    let q = text(&query.q);
    let search = q.clone();
    let (group, members, candidates) = state
        .db
        .run(move |conn| {
            let group = Group::find(conn, id)?.ok_or_else(AppError::not_found)?;
            let members = Group::members(conn, id)?;
            let candidates = if search.is_empty() {
                Vec::new()
            } else {
                Group::candidates(conn, id, &search, PICKER_SIZE)?
            };
            Ok((group, members, candidates))
        })
        .await?;
    html(
        200,
        &DetailPage {
            page: PageCtx::new(&req),
            nav: "groups",
            group,
            members,
            q,
            candidates,
        },
    )
}

#[post("/groups/{id:\\d+}/rename/")]
async fn rename(
    admin: Superuser,
    id: web::Path<i64>,
    form: CsrfForm<NameForm>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let group = load_group(&state, id.into_inner()).await?;
    let name = form.0.name.unwrap_or_default().trim().to_string();
    let (target, new_name) = (group.clone(), name.clone());
    let result = admin
        .change(&state, move |conn, actor| {
            crate::actions::groups::rename(conn, actor, &target, &new_name)
        })
        .await;
    let message = result.map(|()| format!("Group {:?} renamed to {name:?}.", group.name));
    answer(&state, message, &group_page(group.id))
}

#[derive(Deserialize)]
pub struct MemberForm {
    user_id: Option<String>,
}

/// Adds (`add`) or removes a member and says what happened.
async fn change_member(
    admin: Superuser,
    id: i64,
    form: MemberForm,
    state: web::Data<AppState>,
    add: bool,
) -> AppResult<HttpResponse> {
    let group = load_group(&state, id).await?;
    let back = group_page(id);
    let Some(user_id) = form.user_id.and_then(|u| u.trim().parse::<i64>().ok()) else {
        return refused(
            &state,
            AppError::BadRequest("Choose a user first.".into()),
            &back,
        );
    };
    let target = group.clone();
    let result = admin
        .change(&state, move |conn, actor| {
            let user = User::find(conn, user_id)?.ok_or_else(|| {
                AppError::BadRequest(
                    "That user no longer exists; reload the page and try again.".into(),
                )
            })?;
            let changed = if add {
                crate::actions::groups::add_member(conn, actor, &target, &user)?
            } else {
                crate::actions::groups::remove_member(conn, actor, &target, &user)?
            };
            Ok((user, changed))
        })
        .await;
    let (user, changed) = match result {
        Ok(r) => r,
        Err(e) => return refused(&state, e, &back),
    };
    let (u, g) = (&user.username, &group.name);
    let message = match (add, changed) {
        (true, true) => format!("{u:?} added to {g:?}."),
        (true, false) => format!("{u:?} already was in {g:?}."),
        (false, true) => format!("{u:?} removed from {g:?}."),
        (false, false) => format!("{u:?} was not in {g:?}."),
    };
    Ok(done(&state, message, &back))
}

#[post("/groups/{id:\\d+}/members/add/")]
async fn add_member(
    admin: Superuser,
    id: web::Path<i64>,
    form: CsrfForm<MemberForm>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    change_member(admin, id.into_inner(), form.0, state, true).await
}

#[post("/groups/{id:\\d+}/members/remove/")]
async fn remove_member(
    admin: Superuser,
    id: web::Path<i64>,
    form: CsrfForm<MemberForm>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    change_member(admin, id.into_inner(), form.0, state, false).await
}

#[get("/groups/{id:\\d+}/delete/")]
async fn delete_page(
    req: HttpRequest,
    _admin: Superuser,
    id: web::Path<i64>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let id = id.into_inner();
    let (group, members) = state
        .db
        .run(move |conn| {
            let group = Group::find(conn, id)?.ok_or_else(AppError::not_found)?;
            Ok((group, Group::members(conn, id)?.len()))
        })
        .await?;
    html(
        200,
        &ConfirmPage {
            page: PageCtx::new(&req),
            nav: "groups",
            title: format!("Delete the group {}?", group.name),
            lines: vec![
                format!(
                    "Its {} stop being members; the accounts themselves are kept.",
                    plural(members as i64, "member", "members")
                ),
                "Members no longer see each other's calculations through this group.".into(),
            ],
            action: format!("/admin/groups/{id}/delete/"),
            cancel: group_page(id),
            button: "Delete the group".into(),
        },
    )
}

#[post("/groups/{id:\\d+}/delete/")]
async fn delete(
    admin: Superuser,
    id: web::Path<i64>,
    _form: CsrfForm<EmptyForm>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let group = load_group(&state, id.into_inner()).await?;
    let target = group.clone();
    let members = admin
        .change(&state, move |conn, actor| {
            crate::actions::groups::delete(conn, actor, &target)
        })
        .await?;
    Ok(done(
        &state,
        format!(
            "Group {:?} deleted ({} removed).",
            group.name,
            plural(members as i64, "member", "members")
        ),
        "/admin/groups/",
    ))
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(list)
        .service(create)
        .service(show)
        .service(rename)
        .service(add_member)
        .service(remove_member)
        .service(delete_page)
        .service(delete);
}
