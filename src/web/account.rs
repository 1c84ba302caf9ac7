//! The account page: who you are, and your personal API tokens.

use actix_session::Session;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use actix_web_flash_messages::FlashMessage;
use askama::Template;
use serde::Deserialize;

use crate::actions::tokens;
use crate::error::{AppError, AppResult};
use crate::models::api_token::ApiToken;
use crate::state::AppState;
use crate::web::client;
use crate::web::context::PageCtx;
use crate::web::csrf::CsrfForm;
use crate::web::current_user::Authenticated;
use crate::web::html;
use crate::web::login::EmptyForm;
use crate::web::redirect_to;

#[derive(Template)]
#[template(path = "accounts/account.html")]
struct AccountPage {
    page: PageCtx,
    groups: Vec<String>,
    tokens: Vec<ApiToken>,
    /// The secret of a token just created: shown this once.
    new_secret: Option<String>,
    errors: Vec<String>,
    public_url: String,
    /// Email me when a calculation of mine ends.
    notify_on_finish: bool,
    /// The usage meter, as on the calculation list.
    usage: String,
    usage_near: bool,
}

async fn render(
    req: &HttpRequest,
    state: &AppState,
    user_id: i64,
    new_secret: Option<String>,
    errors: Vec<String>,
    status: u16,
) -> AppResult<HttpResponse> {
    let config = state.config.clone();
    let (groups, tokens, notify_on_finish, meter) = state
        .db
        .run(move |conn| {
            let user = crate::models::User::find(conn, user_id)?.ok_or_else(AppError::not_found)?;
            Ok((
                user.group_names(conn)?,
                ApiToken::list_for_user(conn, user_id)?,
                crate::models::User::notify_on_finish(conn, user_id)?,
                crate::actions::quotas::meter(conn, &config, &user)?,
            ))
        })
        .await?;
    let public_url = format!(
        "{}{}",
        state.config.public_url(),
        state.config.server.path_prefix
    );
    html(
        status,
        &AccountPage {
            page: PageCtx::new(req),
            groups,
            tokens,
            new_secret,
            errors,
            public_url,
            notify_on_finish,
            usage: meter.text(),
            usage_near: meter.near(),
        },
    )
}

/// Where a new token's secret waits, in the session, for the one page that shows it: the
/// form posts, then redirects (so a reload cannot create a second token), and the page
/// takes the secret out as it shows it.
const NEW_SECRET: &str = "new_token";

#[get("/accounts/")]
async fn account(
    req: HttpRequest,
    user: Authenticated,
    session: Session,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let new_secret = session.remove_as::<String>(NEW_SECRET).and_then(Result::ok);
    render(&req, &state, user.0.id, new_secret, Vec::new(), 200).await
}

#[derive(Deserialize)]
pub struct NewTokenForm {
    name: Option<String>,
    scope: Option<String>,
    /// Days of validity; empty = no expiry.
    days: Option<String>,
}

#[post("/accounts/tokens/")]
async fn create_token(
    req: HttpRequest,
    user: Authenticated,
    session: Session,
    form: CsrfForm<NewTokenForm>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let form = form.0;
    let days = match form
        .days
        .as_deref()
        .map(str::trim)
        .filter(|d| !d.is_empty())
    {
        None => None,
        Some(d) => match d.parse::<i64>() {
            Ok(n) => Some(n),
            Err(_) => {
                return render(
                    &req,
                    &state,
                    user.0.id,
                    None,
                    vec![format!("{d:?} is not a number of days.")],
                    400,
                )
                .await;
            }
        },
    };
    let (user_id, name, scope) = (
        user.0.id,
        form.name.unwrap_or_default(),
        form.scope.unwrap_or_else(|| "read".into()),
    );
    let actor = client::actor(&req, &user.0);
    match state
        .db
        .run(move |conn| tokens::create(conn, &actor, user_id, &name, &scope, days))
        .await
    {
        Ok((_, secret)) => {
            session
                .insert(NEW_SECRET, secret)
                .map_err(|e| AppError::Internal(format!("keeping the new token: {e}")))?;
            Ok(redirect_to(&state, "/accounts/#tokens"))
        }
        Err(AppError::BadRequest(message)) => {
            render(&req, &state, user.0.id, None, vec![message], 400).await
        }
        Err(other) => Err(other),
    }
}

#[post("/accounts/tokens/{id}/revoke/")]
async fn revoke_token(
    req: HttpRequest,
    user: Authenticated,
    id: web::Path<i64>,
    _form: CsrfForm<EmptyForm>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let (id, user_id) = (id.into_inner(), user.0.id);
    let actor = client::actor(&req, &user.0);
    let name = state
        .db
        .run(move |conn| tokens::revoke_own(conn, &actor, user_id, id).map(|t| t.name))
        .await?;
    FlashMessage::success(format!(
        "The token {name:?} was revoked; it no longer works."
    ))
    .send();
    Ok(redirect_to(&state, "/accounts/"))
}

#[derive(Deserialize)]
pub struct NotificationsForm {
    notify_on_finish: Option<String>,
}

/// The email notice when a calculation of the user's ends (sent by `mail::messages`).
#[post("/accounts/notifications/")]
async fn notifications(
    user: Authenticated,
    form: CsrfForm<NotificationsForm>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let on = form.0.notify_on_finish.is_some_and(|v| !v.is_empty());
    let user_id = user.0.id;
    state
        .db
        .run(move |conn| crate::models::User::set_notify_on_finish(conn, user_id, on))
        .await?;
    FlashMessage::success(if on {
        "You will get an email when a calculation of yours ends."
    } else {
        "You will no longer get an email when a calculation of yours ends."
    })
    .send();
    Ok(redirect_to(&state, "/accounts/"))
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(notifications)
        .service(account)
        .service(create_token)
        .service(revoke_token);
}
