//! What the forms that email the accounts of a typed address share (password reset, the
//! activation email again): once the address checks out, the rate limit, one message per
//! account, the mail worker woken, and the page that says to check your email.

use actix_web::{HttpRequest, HttpResponse, web};

use crate::db::DbConn;
use crate::error::AppResult;
use crate::mail::limit;
use crate::models::User;
use crate::models::email::Outgoing;
use crate::state::AppState;
use crate::web::{client, redirect_to};

/// Queues what `message_for` writes to each account with the address `email` (None: nothing
/// for that one), within the rate limit of the mail forms (429 when the client must wait),
/// then goes to the page `done`.
pub async fn send<F>(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    email: String,
    done: &str,
    mut message_for: F,
) -> AppResult<HttpResponse>
where
    F: FnMut(&mut DbConn, &AppState, &User) -> AppResult<Option<Outgoing>> + Send + 'static,
{
    let ip = client::ip_string(req);
    let st = state.clone();
    state
        .db
        .run(move |conn| {
            limit::mail_accounts(conn, &st.config, &ip, &email, |conn, user| {
                message_for(conn, &st, user)
            })
        })
        .await?;
    state.wake_mail();
    Ok(redirect_to(state, done))
}
