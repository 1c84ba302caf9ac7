//! Logging in over HTTP and the known-device cookie around [`crate::actions::login::attempt`]:
//! a browser that logged in as a user before is spared that user's lockout.

use actix_web::HttpRequest;
use actix_web::cookie::Cookie;
use base64::Engine;

use crate::error::AppResult;
use crate::models::User;
use crate::state::AppState;
use crate::web::{client, cookies};

/// A browser remembers at most this many users it logged in as.
const DEVICE_MAX: usize = 5;

/// One login attempt by the client of `req`; see [`crate::actions::login::attempt`].
pub async fn attempt(
    state: &AppState,
    req: &HttpRequest,
    username: &str,
    password_text: &str,
    realm: &'static str,
) -> AppResult<Option<User>> {
    let ip = client::ip_string(req);
    let known_device = is_known_device(state, req, username);
    crate::actions::login::attempt(state, &ip, known_device, username, password_text, realm).await
}

/// The tag that proves a browser logged in as `username` before.
fn device_tag(state: &AppState, username: &str) -> String {
    let mac = state.keys.sign(
        "calcweb.known-device",
        username.trim().to_lowercase().as_bytes(),
    );
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&mac[..12])
}

fn is_known_device(state: &AppState, req: &HttpRequest, username: &str) -> bool {
    let tag = device_tag(state, username);
    cookies::value(req, &state.config, cookies::DEVICE)
        .is_some_and(|c| c.split('.').any(|t| t == tag))
}

/// The known-device cookie after a successful login as `username` (set it on the response).
pub fn device_cookie(state: &AppState, req: &HttpRequest, username: &str) -> Cookie<'static> {
    let tag = device_tag(state, username);
    let mut tags: Vec<String> = cookies::value(req, &state.config, cookies::DEVICE)
        .map(|c| {
            c.split('.')
                .filter(|t| !t.is_empty() && *t != tag)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    tags.push(tag);
    let keep = tags.len().saturating_sub(DEVICE_MAX);
    let mut cookie = cookies::build(&state.config, cookies::DEVICE, tags[keep..].join("."));
    cookie.set_max_age(actix_web::cookie::time::Duration::days(365));
    cookie
}
