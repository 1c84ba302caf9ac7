//! Forgotten passwords: the form that emails a reset link, and the page of the link that sets
//! a new password. The form answers the same whether or not the address has an account, so
//! it cannot be used to find out who has one.

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use actix_web_flash_messages::FlashMessage;
use askama::Template;
use serde::Deserialize;

use crate::auth::reset_token::{self, Invalid};
use crate::auth::throttle;
use crate::error::AppResult;
use crate::mail::messages;
use crate::models::User;
use crate::models::user::{SOURCE_LOCAL, SOURCE_PAM};
use crate::state::AppState;
use crate::web::client;
use crate::web::context::PageCtx;
use crate::web::csrf::CsrfForm;
use crate::web::html;
use crate::web::mail_form;
use crate::web::new_password::{MISMATCH, NewPassword};
use crate::web::{redirect_to, site_path};

/// A page that only says something (and maybe links somewhere).
#[derive(Template)]
#[template(path = "accounts/message.html")]
pub struct MessagePage {
    pub page: PageCtx,
    pub title: String,
    pub paragraphs: Vec<String>,
    pub link: Option<(String, String)>,
}

impl MessagePage {
    pub fn new(req: &HttpRequest, title: &str, paragraphs: &[&str]) -> MessagePage {
        MessagePage {
            page: PageCtx::new(req),
            title: title.into(),
            paragraphs: paragraphs.iter().map(|p| p.to_string()).collect(),
            link: None,
        }
    }

    pub fn link(mut self, href: String, text: &str) -> MessagePage {
        self.link = Some((href, text.into()));
        self
    }
}

#[derive(Template)]
#[template(path = "accounts/password_reset.html")]
struct ResetRequestPage {
    page: PageCtx,
    email: String,
    errors: Vec<String>,
}

#[derive(Template)]
#[template(path = "accounts/password_reset_confirm.html")]
struct ResetConfirmPage {
    page: PageCtx,
    token: String,
    username: String,
    min_length: usize,
    errors: Vec<String>,
}

#[derive(Deserialize)]
pub struct EmailForm {
    email: Option<String>,
}

#[derive(Deserialize)]
pub struct NewPasswordForm {
    new_password1: Option<String>,
    new_password2: Option<String>,
}

#[get("/accounts/password_reset/")]
async fn request_page(req: HttpRequest) -> AppResult<HttpResponse> {
    html(
        200,
        &ResetRequestPage {
            page: PageCtx::new(&req),
            email: String::new(),
            errors: Vec::new(),
        },
    )
}

#[post("/accounts/password_reset/")]
async fn request_submit(
    req: HttpRequest,
    form: CsrfForm<EmailForm>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let email = form.0.email.unwrap_or_default().trim().to_string();
    if !crate::mail::is_address(&email) {
        return html(
            400,
            &ResetRequestPage {
                page: PageCtx::new(&req),
                email,
                errors: vec!["Enter an email address like name@example.org.".into()],
            },
        );
    }
    let done = "/accounts/password_reset/done/";
    mail_form::send(&req, &state, email, done, |_, st, user| {
        // Accounts awaiting activation or deactivated get nothing: a reset must not become a
        // way around either.
        if !user.is_active {
            return Ok(None);
        }
        let token = match user.login_source.as_str() {
            SOURCE_LOCAL => Some(reset_token::make(&st.keys, user)),
            SOURCE_PAM => None,
            _ => return Ok(None),
        };
        let message =
            messages::password_reset(&st.config, &user.email, &user.username, token.as_deref())?;
        Ok(Some(message))
    })
    .await
}

#[get("/accounts/password_reset/done/")]
async fn request_done(req: HttpRequest, state: web::Data<AppState>) -> AppResult<HttpResponse> {
    let days = state.config.registration.reset_days;
    let validity = format!(
        "The link works once and for {days} day{}.",
        if days == 1 { "" } else { "s" }
    );
    let page = MessagePage::new(
        &req,
        "Check your email",
        &[
            "If an account has this email address, we have sent it a link to choose a new password.",
            &validity,
            "No email within a few minutes? Check your spam folder, and that you typed the address your account has.",
        ],
    )
    .link(site_path(&state, "/accounts/login/"), "Back to the login page");
    html(200, &page)
}

/// The user of a link, or the page that says why it does not work.
async fn user_of_link(
    req: &HttpRequest,
    state: &AppState,
    token: &str,
) -> AppResult<Result<User, HttpResponse>> {
    let user = match reset_token::user_id(token) {
        Some(id) => state.db.run(move |conn| User::find(conn, id)).await?,
        None => None,
    };
    let verdict = match &user {
        Some(user) if user.is_active && user.login_source == SOURCE_LOCAL => reset_token::verify(
            &state.keys,
            user,
            token,
            state.config.registration.reset_days,
        ),
        _ => Err(Invalid::UsedOrWrong),
    };
    let again = site_path(state, "/accounts/password_reset/");
    match (verdict, user) {
        (Ok(()), Some(user)) => Ok(Ok(user)),
        (Err(Invalid::Expired), _) => Ok(Err(html(
            400,
            &MessagePage::new(
                req,
                "This link has expired",
                &["Password reset links work for a limited time. Ask for a new one."],
            )
            .link(again, "Ask for a new link"),
        )?)),
        _ => Ok(Err(html(
            400,
            &MessagePage::new(
                req,
                "This link does not work",
                &[
                    "It has been used already (it works once), or the password has changed since, or it was not copied whole. Ask for a new one if you still need it.",
                ],
            )
            .link(again, "Ask for a new link"),
        )?)),
    }
}

#[get("/accounts/reset/{token}/")]
async fn confirm_page(
    req: HttpRequest,
    token: web::Path<String>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let user = match user_of_link(&req, &state, &token).await? {
        Ok(user) => user,
        Err(page) => return Ok(page),
    };
    html(
        200,
        &ResetConfirmPage {
            page: PageCtx::new(&req),
            token: token.into_inner(),
            username: user.username,
            min_length: state.config.passwords.min_length,
            errors: Vec::new(),
        },
    )
}

#[post("/accounts/reset/{token}/")]
async fn confirm_submit(
    req: HttpRequest,
    token: web::Path<String>,
    form: CsrfForm<NewPasswordForm>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let user = match user_of_link(&req, &state, &token).await? {
        Ok(user) => user,
        Err(page) => return Ok(page),
    };
    let form = form.0;
    let new = NewPassword::new(form.new_password1, form.new_password2);
    let errors = new.problems(&state.config, &user.username, &user.email, MISMATCH);
    if !errors.is_empty() {
        return html(
            400,
            &ResetConfirmPage {
                page: PageCtx::new(&req),
                token: token.into_inner(),
                username: user.username,
                min_length: state.config.passwords.min_length,
                errors,
            },
        );
    }
    let hash = new.hash().await?;
    let (keys, days, token) = (
        state.keys.clone(),
        state.config.registration.reset_days,
        token.into_inner(),
    );
    let username = user.username.clone();
    let actor = client::actor(&req, &user);
    let changed = state
        .db
        .run(move |conn| {
            conn.write_transaction(|conn| {
                // Checked again inside the transaction: two submissions of one link set one
                // password, since the first changes the hash the link is signed over.
                let Some(current) = User::find(conn, user.id)? else {
                    return Ok(false);
                };
                if reset_token::verify(&keys, &current, &token, days).is_err() {
                    return Ok(false);
                }
                // Whoever else was logged in as this user is logged out.
                crate::actions::accounts::set_password(conn, &actor, &current, &hash)?;
                throttle::record_success(conn, &user.username)?;
                Ok(true)
            })
        })
        .await?;
    if !changed {
        return html(
            400,
            &MessagePage::new(
                &req,
                "This link does not work",
                &["It has been used already (it works once)."],
            )
            .link(site_path(&state, "/accounts/login/"), "Log in"),
        );
    }
    tracing::info!(user = %username, "password set through a reset link");
    FlashMessage::success("Your password has been set and your other sessions have been logged out; log in with the new password.").send();
    Ok(redirect_to(&state, "/accounts/login/"))
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(request_page)
        .service(request_submit)
        .service(request_done)
        .service(confirm_page)
        .service(confirm_submit);
}
