//! The sign-up form (`[registration] mode = "open"`): checks, the rate limit, the inactive
//! account and its activation email, and the "check your email" page.

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;
use time::Duration;

use super::registration_open;
use crate::actions::accounts::{self, NewAccount, Origin};
use crate::error::{AppError, AppResult};
use crate::mail::limit;
use crate::mail::messages;
use crate::models::User;
use crate::models::activation::ActivationToken;
use crate::models::audit::Actor;
use crate::models::email::Email;
use crate::models::user::{UserChanges, check_username};
use crate::state::AppState;
use crate::web::client;
use crate::web::context::PageCtx;
use crate::web::csrf::CsrfForm;
use crate::web::html;
use crate::web::new_password::{MISMATCH, NewPassword};
use crate::web::password_reset::MessagePage;
use crate::web::{redirect_to, site_path};

#[derive(Template)]
#[template(path = "accounts/register.html")]
struct RegisterPage {
    page: PageCtx,
    username: String,
    email: String,
    min_length: usize,
    errors: Vec<String>,
}

#[derive(Deserialize)]
pub struct RegisterForm {
    username: Option<String>,
    email: Option<String>,
    password1: Option<String>,
    password2: Option<String>,
}

#[get("/accounts/register/")]
async fn register_page(req: HttpRequest, state: web::Data<AppState>) -> AppResult<HttpResponse> {
    registration_open(&state)?;
    html(
        200,
        &RegisterPage {
            page: PageCtx::new(&req),
            username: String::new(),
            email: String::new(),
            min_length: state.config.passwords.min_length,
            errors: Vec::new(),
        },
    )
}

/// What a sign-up did, besides the same answer for everyone.
enum SignUp {
    Done,
    Wait(u64),
    UsernameTaken,
}

#[post("/accounts/register/")]
async fn register_submit(
    req: HttpRequest,
    form: CsrfForm<RegisterForm>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    registration_open(&state)?;
    let form = form.0;
    let username = form.username.unwrap_or_default().trim().to_string();
    let email = form.email.unwrap_or_default().trim().to_string();
    let new = NewPassword::new(form.password1, form.password2);
    let mut errors = Vec::new();
    if let Err(e) = check_username(&username) {
        errors.push(e);
    }
    if !crate::mail::is_address(&email) {
        errors.push("Enter an email address like name@example.org.".into());
    }
    errors.extend(new.problems(&state.config, &username, &email, MISMATCH));
    let show = |errors: Vec<String>, username: String, email: String| {
        html(
            400,
            &RegisterPage {
                page: PageCtx::new(&req),
                username,
                email,
                min_length: state.config.passwords.min_length,
                errors,
            },
        )
    };
    if !errors.is_empty() {
        return show(errors, username, email);
    }
    // The cheap checks first, so a flood of sign-ups costs no password hashing.
    let ip = client::ip_string(&req);
    let (st, name, address) = (state.clone(), username.clone(), email.clone());
    let first = state
        .db
        .run(move |conn| {
            if let Some(wait) = limit::client(conn, &st.config, &ip)? {
                return Ok(Some(SignUp::Wait(wait)));
            }
            if User::find_by_username(conn, &name)?.is_some() {
                return Ok(Some(SignUp::UsernameTaken));
            }
            if !limit::to_address(conn, &st.config, &address)? {
                return Ok(Some(SignUp::Done));
            }
            let existing = User::find_by_email(conn, &address)?;
            if !existing.is_empty() {
                // Tell the owner of the address instead of saying so here.
                let names = existing.into_iter().map(|u| u.username).collect();
                let message = messages::already_registered(&st.config, &address, names)?;
                Email::queue(conn, &message)?;
                return Ok(Some(SignUp::Done));
            }
            Ok(None)
        })
        .await?;
    let outcome = match first {
        Some(outcome) => outcome,
        None => create_account(&req, &state, username.clone(), email.clone(), new).await?,
    };
    match outcome {
        SignUp::UsernameTaken => show(
            vec![format!(
                "The username {username:?} is already taken; choose another."
            )],
            username,
            email,
        ),
        SignUp::Wait(wait) => Err(limit::too_many(wait)),
        SignUp::Done => {
            state.wake_mail();
            Ok(redirect_to(&state, "/accounts/register/done/"))
        }
    }
}

/// Creates the inactive account and queues its activation email.
async fn create_account(
    req: &HttpRequest,
    state: &AppState,
    name: String,
    address: String,
    new: NewPassword,
) -> AppResult<SignUp> {
    let hash = new.hash().await?;
    let ip = client::ip_string(req);
    let st = state.clone();
    state
        .db
        .run(move |conn| {
            let valid_for = Duration::days(i64::from(st.config.registration.activation_days));
            let created = conn.write_transaction(|conn| {
                let account = NewAccount {
                    fields: UserChanges {
                        username: name.clone(),
                        email: address.clone(),
                        level: 1,
                        ..Default::default()
                    },
                    password_hash: hash.clone(),
                    origin: Origin::SignUp,
                    ..Default::default()
                };
                let user = accounts::create(conn, &Actor::visitor(ip.clone()), &account)?;
                let token = ActivationToken::create(conn, user.id, valid_for)?;
                let message = messages::activation(&st.config, &address, &name, &token)?;
                Email::queue(conn, &message)?;
                Ok::<_, AppError>(())
            });
            match created {
                Ok(()) => Ok(SignUp::Done),
                // Taken by someone else at the same moment.
                Err(AppError::Conflict(_)) => Ok(SignUp::UsernameTaken),
                Err(e) => Err(e),
            }
        })
        .await
}

#[get("/accounts/register/done/")]
async fn register_done(req: HttpRequest, state: web::Data<AppState>) -> AppResult<HttpResponse> {
    registration_open(&state)?;
    let days = state.config.registration.activation_days;
    let validity = format!(
        "Open the link in it within {days} day{} to activate your account; until then you cannot log in.",
        if days == 1 { "" } else { "s" }
    );
    let page = MessagePage::new(
        &req,
        "Check your email",
        &[
            "We have sent an email to the address you gave.",
            &validity,
            "No email within a few minutes? Check your spam folder, or have it sent again.",
        ],
    )
    .link(
        site_path(&state, "/accounts/activate/resend/"),
        "Send the activation email again",
    );
    html(200, &page)
}

pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(register_page)
        .service(register_submit)
        .service(register_done);
}
