//! The first-run page, reached through the one-time link `serve` prints while no superuser
//! exists: it creates the first superuser and logs them in.

use actix_session::Session;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use actix_web_flash_messages::FlashMessage;
use askama::Template;
use serde::Deserialize;

use crate::actions::accounts::{self, NewAccount, Origin};
use crate::error::{AppError, AppResult};
use crate::models::audit::Actor;
use crate::models::user::UserChanges;
use crate::models::{User, setup_token};
use crate::state::AppState;
use crate::web::client;
use crate::web::context::PageCtx;
use crate::web::csrf::CsrfForm;
use crate::web::html;
use crate::web::login::start_session;
use crate::web::new_password::{MISMATCH, NewPassword};
use crate::web::redirect_to;

#[derive(Template)]
#[template(path = "accounts/setup.html")]
struct SetupPage {
    page: PageCtx,
    token: String,
    username: String,
    email: String,
    errors: Vec<String>,
}

#[derive(Deserialize)]
pub struct SetupForm {
    username: Option<String>,
    email: Option<String>,
    password1: Option<String>,
    password2: Option<String>,
}

fn invalid_link() -> AppError {
    AppError::NotFound(
        "This setup link is not valid: it was used already, has expired, or a superuser exists. Restart `calcweb serve` for a new one, or use `calcweb manage createsuperuser`.".into(),
    )
}

async fn check_token(state: &AppState, token: &str) -> AppResult<()> {
    let token = token.to_string();
    let ok = state
        .db
        .run(move |conn| {
            Ok(User::count_active_superusers(conn)? == 0 && setup_token::is_valid(conn, &token)?)
        })
        .await?;
    if ok { Ok(()) } else { Err(invalid_link()) }
}

#[get("/setup/{token}/")]
async fn setup_page(
    req: HttpRequest,
    token: web::Path<String>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    check_token(&state, &token).await?;
    let page = SetupPage {
        page: PageCtx::new(&req),
        token: token.into_inner(),
        username: String::new(),
        email: String::new(),
        errors: vec![],
    };
    html(200, &page)
}

#[post("/setup/{token}/")]
async fn setup_submit(
    req: HttpRequest,
    session: Session,
    token: web::Path<String>,
    form: CsrfForm<SetupForm>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    check_token(&state, &token).await?;
    let form = form.0;
    let username = form.username.unwrap_or_default().trim().to_string();
    let email = form.email.unwrap_or_default().trim().to_string();
    let new = NewPassword::new(form.password1, form.password2);
    let mut errors = Vec::new();
    if let Err(e) = crate::models::user::check_username(&username) {
        errors.push(e);
    }
    errors.extend(new.problems(&state.config, &username, &email, MISMATCH));
    if errors.is_empty() {
        let hash = new.hash().await?;
        let account = NewAccount {
            fields: UserChanges {
                username: username.clone(),
                email: email.clone(),
                is_superuser: true,
                level: 2,
                ..Default::default()
            },
            password_hash: hash,
            origin: Origin::Superuser,
            ..Default::default()
        };
        let actor = Actor::visitor(client::ip_string(&req)).logging_to(state.access_log.clone());
        let created = state
            .db
            .run(move |conn| {
                conn.write_transaction(|conn| {
                    let user = accounts::create(conn, &actor, &account)?;
                    setup_token::delete_all(conn)?;
                    Ok(user)
                })
            })
            .await;
        match created {
            Ok(user) => {
                start_session(&req, &session, &user)?;
                FlashMessage::success(format!(
                    "Welcome, {}: your superuser account is ready.",
                    user.username
                ))
                .send();
                return Ok(redirect_to(&state, "/engine/"));
            }
            Err(AppError::Conflict(message) | AppError::BadRequest(message)) => {
                errors.push(message)
            }
            Err(other) => return Err(other),
        }
    }
    html(
        400,
        &SetupPage {
            page: PageCtx::new(&req),
            token: token.into_inner(),
            username,
            email,
            errors,
        },
    )
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(setup_page).service(setup_submit);
}
