//! Activation links: the page of a link (a button, so mail scanners do not use it up), the
//! activation itself, and having the email sent again.

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use actix_web_flash_messages::FlashMessage;
use askama::Template;
use serde::Deserialize;
use time::Duration;

use super::registration_open;
use crate::actions::accounts;
use crate::error::AppResult;
use crate::mail::messages;
use crate::models::activation::{Activation, ActivationToken};
use crate::state::AppState;
use crate::web::client;
use crate::web::context::PageCtx;
use crate::web::csrf::CsrfForm;
use crate::web::html;
use crate::web::login::EmptyForm;
use crate::web::mail_form;
use crate::web::password_reset::MessagePage;
use crate::web::{redirect_to, site_path};

#[derive(Template)]
#[template(path = "accounts/activation_resend.html")]
struct ResendPage {
    page: PageCtx,
    email: String,
    errors: Vec<String>,
}

#[derive(Deserialize)]
pub struct EmailForm {
    email: Option<String>,
}

#[get("/accounts/activate/resend/")]
async fn resend_page(req: HttpRequest, state: web::Data<AppState>) -> AppResult<HttpResponse> {
    registration_open(&state)?;
    html(
        200,
        &ResendPage {
            page: PageCtx::new(&req),
            email: String::new(),
            errors: Vec::new(),
        },
    )
}

#[post("/accounts/activate/resend/")]
async fn resend_submit(
    req: HttpRequest,
    form: CsrfForm<EmailForm>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    registration_open(&state)?;
    let email = form.0.email.unwrap_or_default().trim().to_string();
    if !crate::mail::is_address(&email) {
        return html(
            400,
            &ResendPage {
                page: PageCtx::new(&req),
                email,
                errors: vec!["Enter an email address like name@example.org.".into()],
            },
        );
    }
    let valid_for = Duration::days(i64::from(state.config.registration.activation_days));
    let done = "/accounts/register/done/";
    mail_form::send(&req, &state, email, done, move |conn, st, user| {
        // Only sign-ups never activated: not accounts an administrator deactivated.
        if !ActivationToken::awaits_activation(conn, user)? {
            return Ok(None);
        }
        let token = ActivationToken::create(conn, user.id, valid_for)?;
        let message = messages::activation(&st.config, &user.email, &user.username, &token)?;
        Ok(Some(message))
    })
    .await
}

#[derive(Template)]
#[template(path = "accounts/activate.html")]
struct ActivatePage {
    page: PageCtx,
    token: String,
    username: String,
}

/// The page for a link that cannot activate anything, saying why.
fn activation_refused(
    req: &HttpRequest,
    state: &AppState,
    what: &Activation,
) -> AppResult<HttpResponse> {
    let login = site_path(state, "/accounts/login/");
    let resend = site_path(state, "/accounts/activate/resend/");
    let page = match what {
        Activation::Used => MessagePage::new(
            req,
            "This link has been used",
            &["The account is active already (an activation link works once): log in."],
        )
        .link(login, "Log in"),
        Activation::Expired => MessagePage::new(
            req,
            "This link has expired",
            &["Activation links work for a limited time. Have a new one sent to your address."],
        )
        .link(resend, "Send the activation email again"),
        Activation::Deactivated => MessagePage::new(
            req,
            "This account has been deactivated",
            &[
                "An administrator deactivated it; an activation link cannot undo that. Ask an administrator.",
            ],
        ),
        _ => MessagePage::new(
            req,
            "This link does not work",
            &["It is not a valid activation link; check that it was copied whole."],
        )
        .link(resend, "Send the activation email again"),
    };
    html(400, &page)
}

async fn lookup_activation(state: &AppState, token: &str) -> AppResult<Activation> {
    let token = token.to_string();
    state
        .db
        .run(move |conn| ActivationToken::lookup(conn, &token))
        .await
}

#[get("/accounts/activate/{token}/")]
async fn activate_page(
    req: HttpRequest,
    token: web::Path<String>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    // A GET only shows a button: mail scanners that open links must not use them up.
    match lookup_activation(&state, &token).await? {
        Activation::Valid(_, user) => html(
            200,
            &ActivatePage {
                page: PageCtx::new(&req),
                token: token.into_inner(),
                username: user.username,
            },
        ),
        other => activation_refused(&req, &state, &other),
    }
}

#[post("/accounts/activate/{token}/")]
async fn activate_submit(
    req: HttpRequest,
    token: web::Path<String>,
    _form: CsrfForm<EmptyForm>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let (found, user) = match lookup_activation(&state, &token).await? {
        Activation::Valid(found, user) => (found, user),
        other => return activation_refused(&req, &state, &other),
    };
    let actor = client::actor(&req, &user);
    let account = (*user).clone();
    let activated = state
        .db
        .run(move |conn| accounts::activate_by_link(conn, &actor, &account, &found))
        .await?;
    if !activated {
        return activation_refused(&req, &state, &Activation::Used);
    }
    FlashMessage::success(format!(
        "Your account {:?} is active; log in.",
        user.username
    ))
    .send();
    Ok(redirect_to(&state, "/accounts/login/"))
}

pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    // The resend route comes before the token route, which would match it too.
    cfg.service(resend_page)
        .service(resend_submit)
        .service(activate_page)
        .service(activate_submit);
}
