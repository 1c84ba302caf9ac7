//! Maintenance mode at request time: a per-process cache of the database row (so every request
//! does not query it), the banner shown before and during the window, and the gate that sends
//! non-superusers a maintenance page (503 + Retry-After; JSON on the API) once it has begun.

use std::sync::RwLock;
use std::time::{Duration, Instant};

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, web};

use crate::error::AppError;
use crate::models::maintenance::Maintenance;
use crate::state::AppState;
use crate::web::session::CurrentUser;

/// How long a process trusts its copy of the maintenance row.
const FRESH_FOR: Duration = Duration::from_secs(5);

#[derive(Default)]
pub struct MaintenanceCache {
    entry: RwLock<Option<(Instant, Option<Maintenance>)>>,
}

impl MaintenanceCache {
    /// The cached window, if the copy is fresh.
    fn fresh(&self) -> Option<Option<Maintenance>> {
        let guard = self.entry.read().unwrap_or_else(|e| e.into_inner());
        guard
            .as_ref()
            .filter(|(at, _)| at.elapsed() < FRESH_FOR)
            .map(|(_, m)| m.clone())
    }

    /// The last known window, fresh or not (for templates, which cannot wait for the database).
    pub fn last_known(&self) -> Option<Maintenance> {
        self.entry
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .and_then(|(_, m)| m.clone())
    }

    /// Forgets the copy (after this process changed the window).
    pub fn invalidate(&self) {
        *self.entry.write().unwrap_or_else(|e| e.into_inner()) = None;
    }

    pub async fn get(&self, state: &AppState) -> Option<Maintenance> {
        if let Some(known) = self.fresh() {
            return known;
        }
        // If the database does not answer, keep the last known window rather than failing here.
        let current = state
            .db
            .run(Maintenance::current)
            .await
            .unwrap_or_else(|_| self.last_known());
        *self.entry.write().unwrap_or_else(|e| e.into_inner()) =
            Some((Instant::now(), current.clone()));
        current
    }
}

/// "in 2 hours, 14 minutes" / "in 5 minutes" / "in less than a minute".
pub fn until_text(seconds: i64) -> String {
    if seconds < 60 {
        return "in less than a minute".into();
    }
    let (days, hours, minutes) = (
        seconds / 86_400,
        seconds % 86_400 / 3600,
        seconds % 3600 / 60,
    );
    let unit = |n: i64, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    let mut parts = Vec::new();
    if days > 0 {
        parts.push(unit(days, "day"));
    }
    if hours > 0 {
        parts.push(unit(hours, "hour"));
    }
    if minutes > 0 && days == 0 {
        parts.push(unit(minutes, "minute"));
    }
    format!("in {}", parts.join(", "))
}

/// Paths that stay open during maintenance (superusers must still be able to log in).
fn exempt(path: &str) -> bool {
    path.starts_with("/static/")
        || matches!(
            path,
            "/healthz"
                | "/accounts/login/"
                | "/accounts/logout/"
                | "/accounts/ajax_login/"
                | "/favicon.ico"
        )
}

/// Middleware (after the user is known): 503 for non-superusers during the window.
pub async fn gate(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .expect("AppState is registered")
        .clone();
    let path = req
        .path()
        .strip_prefix(state.config.server.path_prefix.as_str())
        .unwrap_or(req.path())
        .to_string();
    if path.starts_with("/static/") || path == "/healthz" {
        return Ok(next.call(req).await?.map_into_left_body());
    }
    // Fetched for every page, so the banner is current even on the login page.
    let window = state.maintenance.get(&state).await;
    if let Some(window) = window.filter(|w| w.is_active())
        && !exempt(&path)
    {
        let superuser = req
            .extensions()
            .get::<CurrentUser>()
            .and_then(|u| u.0.as_ref().map(|u| u.is_superuser))
            .unwrap_or(false);
        if !superuser {
            let message = if window.message.is_empty() {
                "The site is down for maintenance; please come back later.".to_string()
            } else {
                format!("The site is down for maintenance: {}", window.message)
            };
            return Ok(req
                .error_response(AppError::Maintenance(message))
                .map_into_right_body());
        }
    }
    Ok(next.call(req).await?.map_into_left_body())
}

#[cfg(test)]
mod tests {
    use super::until_text;

    #[test]
    fn durations_read_well() {
        assert_eq!(until_text(30), "in less than a minute");
        assert_eq!(until_text(5 * 60), "in 5 minutes");
        assert_eq!(
            until_text(2 * 3600 + 14 * 60 + 10),
            "in 2 hours, 14 minutes"
        );
        assert_eq!(until_text(3600), "in 1 hour");
        assert_eq!(until_text(2 * 86_400 + 3600 + 60), "in 2 days, 1 hour");
    }
}
