//! What every page template gets: the user, the CSRF token, flash messages and URL helpers.

use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use actix_web_flash_messages::storage::FlashMessageStore;
use actix_web_flash_messages::{IncomingFlashMessages, Level};

use crate::assets::Assets;
use crate::models::User;
use crate::state::AppState;
use crate::web::csrf;
use crate::web::current_user::CurrentUser;

pub struct Message {
    pub level: &'static str,
    pub text: String,
}

pub struct PageCtx {
    pub user: Option<User>,
    pub csrf_token: String,
    pub messages: Vec<Message>,
    pub lockdown: bool,
    /// The maintenance banner, when a window is scheduled or on.
    pub maintenance: Option<Banner>,
    prefix: String,
    assets: Arc<Assets>,
}

/// What the maintenance banner says.
pub struct Banner {
    /// RFC 3339 start time, for the countdown script.
    pub starts_iso: String,
    /// "2026-11-22 16:15 UTC"
    pub starts_text: String,
    /// "in 2 hours, 14 minutes"
    pub until: String,
    pub active: bool,
    pub message: String,
}

impl Banner {
    fn of(window: &crate::models::maintenance::Maintenance) -> Banner {
        let start = window.starts_at.assume_utc();
        let left = (window.starts_at - crate::db::now()).whole_seconds();
        let text = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
        Banner {
            starts_iso: start
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
            starts_text: start.format(&text).unwrap_or_default(),
            until: crate::times::until_text(left),
            active: left <= 0,
            message: window.message.clone(),
        }
    }
}

impl PageCtx {
    /// The server's time as the page is written (`<html data-now>`): static/js/times.js
    /// counts from it, so a browser whose clock is off still shows true ages.
    pub fn now_iso(&self) -> String {
        crate::times::Stamp::iso(crate::db::now()).to_string()
    }

    pub fn new(req: &HttpRequest) -> PageCtx {
        let state = req
            .app_data::<web::Data<AppState>>()
            .expect("AppState is registered");
        let user = req
            .extensions()
            .get::<CurrentUser>()
            .and_then(|u| u.0.clone());
        // Errors raised before the flash middleware ran (bad Host, cross-origin) have none.
        let has_flash = req.extensions().contains::<Arc<dyn FlashMessageStore>>();
        let incoming = if has_flash {
            IncomingFlashMessages::from_request(req, &mut Payload::None)
                .into_inner()
                .ok()
        } else {
            None
        };
        let messages = incoming
            .iter()
            .flat_map(|m| m.iter())
            .map(|m| Message {
                level: match m.level() {
                    Level::Error => "error",
                    Level::Warning => "warning",
                    Level::Success => "success",
                    _ => "info",
                },
                text: m.content().to_string(),
            })
            .collect();
        PageCtx {
            user,
            csrf_token: csrf::token(req),
            messages,
            lockdown: state.config.server.lockdown,
            maintenance: state.maintenance.last_known().as_ref().map(Banner::of),
            prefix: state.config.server.path_prefix.clone(),
            assets: state.assets.clone(),
        }
    }

    /// For a page rendered after the request is gone (an inner middleware failed): nobody
    /// logged in, no form token, no messages.
    pub fn bare(state: &AppState) -> PageCtx {
        PageCtx {
            user: None,
            csrf_token: String::new(),
            messages: Vec::new(),
            lockdown: state.config.server.lockdown,
            maintenance: state.maintenance.last_known().as_ref().map(Banner::of),
            prefix: state.config.server.path_prefix.clone(),
            assets: state.assets.clone(),
        }
    }

    /// A site path with the configured prefix, e.g. url("/engine/"), or in a template
    /// url("/admin/users/" ~ user.id ~ "/") for a path made of parts.
    pub fn url(&self, path: impl std::fmt::Display) -> String {
        format!("{}{path}", self.prefix)
    }

    /// The cache-busting URL of an embedded static file.
    pub fn static_url(&self, name: &str) -> String {
        format!("{}/static/{}", self.prefix, self.assets.hashed(name))
    }
}
