//! /admin/invites/: invite an email address into a group, see the invitations and what became
//! of them, withdraw an unused one.

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

use super::Superuser;
use super::helpers::{Pager, ShowsTimes, done, refused, revoke_row};
use crate::error::{AppError, AppResult};
use crate::models::group::Group;
use crate::models::invitation::{Invitation, InvitationRow};
use crate::models::paging::page_number;
use crate::state::AppState;
use crate::web::context::PageCtx;
use crate::web::csrf::CsrfForm;
use crate::web::html;
use crate::web::login::EmptyForm;

/// The query string of /admin/invites/: the page.
#[derive(Deserialize)]
pub struct InvitesQuery {
    page: Option<String>,
}

#[derive(Template)]
#[template(path = "admin/invites.html")]
struct ListPage {
    page: PageCtx,
    nav: &'static str,
    invitations: Vec<InvitationRow>,
    groups: Vec<Group>,
    pager: Pager,
    invite_days: u32,
    /// Why invitations are off, if they are.
    closed: Option<String>,
}

impl ShowsTimes for ListPage {}

#[get("/invites/")]
async fn list(
    req: HttpRequest,
    _admin: Superuser,
    query: web::Query<InvitesQuery>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let page_no = page_number(query.page.as_deref());
    let (paged, groups) = state
        .db
        .run(move |conn| Ok((Invitation::list(conn, page_no)?, Group::all(conn)?)))
        .await?;
    let pager = Pager::new(&paged, "");
    html(
        200,
        &ListPage {
            page: PageCtx::new(&req),
            nav: "invites",
            invitations: paged.items,
            groups,
            pager,
            invite_days: state.config.registration.invite_days,
            closed: crate::actions::invites::check_allowed(&state.config)
                .err()
                .map(|e| e.to_string()),
        },
    )
}

#[derive(Deserialize)]
pub struct InviteForm {
    email: Option<String>,
    group: Option<String>,
}

#[post("/invites/")]
async fn create(
    admin: Superuser,
    form: CsrfForm<InviteForm>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let email = form.0.email.unwrap_or_default().trim().to_string();
    let group_id = form
        .0
        .group
        .as_deref()
        .map(str::trim)
        .filter(|g| !g.is_empty())
        .map(|g| {
            g.parse::<i64>()
                .map_err(|_| AppError::BadRequest("Choose a group from the list.".into()))
        })
        .transpose()?;
    let config = state.config.clone();
    let address = email.clone();
    let result = admin
        .change(&state, move |conn, actor| {
            let group = match group_id {
                Some(id) => Some(Group::find(conn, id)?.ok_or_else(|| {
                    AppError::BadRequest("That group no longer exists; choose another.".into())
                })?),
                None => None,
            };
            crate::actions::invites::invite(conn, &config, actor, &address, group.as_ref())
                .map(|_| group.map(|g| g.name))
        })
        .await;
    match result {
        Ok(group) => {
            state.wake_mail();
            let into = group.map(|g| format!(" into {g}")).unwrap_or_default();
            Ok(done(
                &state,
                format!("{email} is invited{into}; the email is on its way (see Emails)."),
                "/admin/invites/",
            ))
        }
        Err(e) => refused(&state, e, "/admin/invites/"),
    }
}

#[post("/invites/{id:\\d+}/revoke/")]
async fn revoke(
    admin: Superuser,
    invitation: web::Path<i64>,
    _form: CsrfForm<EmptyForm>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let said = (
        "The invitation is withdrawn; its link no longer works.",
        "That invitation was used already or is gone.",
    );
    let revoke = crate::actions::invites::revoke;
    revoke_row(&admin, &state, *invitation, revoke, "/admin/invites/", said).await
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(list).service(create).service(revoke);
}
