//! The page of an invitation link: it creates the account, in the inviter's group if there
//! is one, and logs it in.

use actix_session::Session;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use actix_web_flash_messages::FlashMessage;
use askama::Template;
use serde::Deserialize;

use crate::actions::accounts::{self, NewAccount, Origin};
use crate::error::{AppError, AppResult};
use crate::models::User;
use crate::models::audit::Actor;
use crate::models::invitation::{Invitation, Lookup};
use crate::models::user::{UserChanges, check_username};
use crate::state::AppState;
use crate::web::client;
use crate::web::context::PageCtx;
use crate::web::csrf::CsrfForm;
use crate::web::html;
use crate::web::login::start_session;
use crate::web::new_password::{MISMATCH, NewPassword};
use crate::web::password_reset::MessagePage;
use crate::web::{redirect_to, site_path};

#[derive(Template)]
#[template(path = "accounts/invite.html")]
struct InvitePage {
    page: PageCtx,
    token: String,
    email: String,
    inviter: String,
    group: Option<String>,
    username: String,
    full_name: String,
    min_length: usize,
    errors: Vec<String>,
}

#[derive(Deserialize)]
pub struct InviteForm {
    username: Option<String>,
    full_name: Option<String>,
    password1: Option<String>,
    password2: Option<String>,
}

fn invitation_refused(
    req: &HttpRequest,
    state: &AppState,
    what: &Lookup,
) -> AppResult<HttpResponse> {
    let page = match what {
        Lookup::Used => MessagePage::new(
            req,
            "This invitation has been used",
            &["An invitation creates one account, and this one has been created: log in with it."],
        )
        .link(site_path(state, "/accounts/login/"), "Log in"),
        Lookup::Expired => MessagePage::new(
            req,
            "This invitation has expired",
            &["Invitations work for a limited time; ask whoever invited you for a new one."],
        ),
        _ => MessagePage::new(
            req,
            "This invitation does not work",
            &[
                "It is not a valid invitation link (or it was withdrawn); check that it was copied whole, or ask for a new one.",
            ],
        ),
    };
    html(400, &page)
}

async fn lookup_invitation(state: &AppState, token: &str) -> AppResult<Lookup> {
    let token = token.to_string();
    state
        .db
        .run(move |conn| Invitation::lookup(conn, &token))
        .await
}

#[get("/accounts/invite/{token}/")]
async fn invite_page(
    req: HttpRequest,
    token: web::Path<String>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let row = match lookup_invitation(&state, &token).await? {
        Lookup::Valid(row) => row,
        other => return invitation_refused(&req, &state, &other),
    };
    html(
        200,
        &InvitePage {
            page: PageCtx::new(&req),
            token: token.into_inner(),
            email: row.invitation.email,
            inviter: row.invitation.invited_by_name,
            group: row.group,
            username: String::new(),
            full_name: String::new(),
            min_length: state.config.passwords.min_length,
            errors: Vec::new(),
        },
    )
}

#[post("/accounts/invite/{token}/")]
async fn invite_submit(
    req: HttpRequest,
    session: Session,
    token: web::Path<String>,
    form: CsrfForm<InviteForm>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let row = match lookup_invitation(&state, &token).await? {
        Lookup::Valid(row) => row,
        other => return invitation_refused(&req, &state, &other),
    };
    let form = form.0;
    let username = form.username.unwrap_or_default().trim().to_string();
    let full_name = form.full_name.unwrap_or_default().trim().to_string();
    let new = NewPassword::new(form.password1, form.password2);
    let email = row.invitation.email.clone();
    let mut errors = Vec::new();
    if let Err(e) = check_username(&username) {
        errors.push(e);
    }
    if full_name.chars().count() > 150 {
        errors.push("The name is too long (150 characters at most).".into());
    }
    errors.extend(new.problems(&state.config, &username, &email, MISMATCH));
    let show = |errors: Vec<String>| {
        html(
            400,
            &InvitePage {
                page: PageCtx::new(&req),
                token: token.to_string(),
                email: email.clone(),
                inviter: row.invitation.invited_by_name.clone(),
                group: row.group.clone(),
                username: username.clone(),
                full_name: full_name.clone(),
                min_length: state.config.passwords.min_length,
                errors,
            },
        )
    };
    if !errors.is_empty() {
        return show(errors);
    }
    let hash = new.hash().await?;
    let ip = client::ip_string(&req);
    let (invitation, group) = (row.invitation.clone(), row.group.clone());
    let (name, full, address) = (username.clone(), full_name.clone(), email.clone());
    let created = state
        .db
        .run(move |conn| {
            conn.write_transaction(|conn| {
                let account = NewAccount {
                    fields: UserChanges {
                        username: name,
                        email: address,
                        full_name: full,
                        level: 1,
                        ..Default::default()
                    },
                    password_hash: hash,
                    group_ids: invitation.group_id.into_iter().collect(),
                    origin: Origin::Invitation {
                        from: invitation.invited_by_name.clone(),
                        group,
                    },
                };
                let user = accounts::create(conn, &Actor::visitor(ip), &account)?;
                User::record_login(conn, user.id)?;
                if !Invitation::use_once(conn, invitation.id, user.id)? {
                    // Used by a parallel submission (or withdrawn) meanwhile: undo.
                    return Err(AppError::Conflict("This invitation has been used.".into()));
                }
                Ok(user)
            })
        })
        .await;
    let user = match created {
        Ok(user) => user,
        Err(AppError::Conflict(message)) if message.contains("username") => {
            return show(vec![message]);
        }
        Err(AppError::Conflict(_)) => return invitation_refused(&req, &state, &Lookup::Used),
        Err(e) => return Err(e),
    };
    start_session(&req, &session, &user)?;
    let welcome = match &row.group {
        Some(group) => format!(
            "Welcome, {}! Your account is ready and you are a member of {group}.",
            user.username
        ),
        None => format!("Welcome, {}! Your account is ready.", user.username),
    };
    FlashMessage::success(welcome).send();
    Ok(redirect_to(&state, "/engine/"))
}

pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(invite_page).service(invite_submit);
}
