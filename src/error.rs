//! The one error type. Handlers return it; `web::errors::render_errors` turns it into an HTML
//! page or a JSON body depending on the route, so handlers never decide the format.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};

/// What people see while the database does not answer.
pub const DB_UNAVAILABLE: &str = "The database is not answering right now; try again in a minute.";

/// What people see when the data directory's disk is full.
pub const DISK_FULL: &str = "The server's disk is full, so what you sent could not be stored; try again later, and tell the administrator if it goes on.";

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// 400: the request is wrong; the message says how to fix it.
    #[error("{0}")]
    BadRequest(String),
    /// A redirect to the login page for pages, 403 on the JSON API (as OpenQuake answers).
    #[error(
        "Please log in to continue: POST your username and password to /accounts/ajax_login/, or send an API token."
    )]
    LoginRequired,
    /// 403 for a bad or expired API token (never a login redirect; `web::errors` answers 403
    /// for every 401 on the JSON API).
    #[error("The API token is not valid or has expired; create a new one on your account page.")]
    TokenRejected,
    /// 403
    #[error("{0}")]
    Forbidden(String),
    /// 404
    #[error("{0}")]
    NotFound(String),
    /// 409
    #[error("{0}")]
    Conflict(String),
    /// 413
    #[error("{0}")]
    TooLarge(String),
    /// 429 with Retry-After.
    #[error("{message}")]
    TooManyRequests { message: String, retry_after: u64 },
    /// 503, e.g. the database is down.
    #[error("{0}")]
    Unavailable(String),
    /// 503 during a maintenance window (a maintenance page for browsers).
    #[error("{0}")]
    Maintenance(String),
    /// 507: the disk is full (any write that fails with ENOSPC or EDQUOT).
    #[error("{0}")]
    StorageFull(String),
    /// 500: the detail is logged, never shown.
    #[error("Something went wrong on our side; it has been logged. Please try again later.")]
    Internal(String),
}

impl AppError {
    pub fn not_found() -> AppError {
        AppError::NotFound(
            "There is nothing at this address; check the link or go back to the start page.".into(),
        )
    }

    pub fn csrf() -> AppError {
        AppError::Forbidden(
            "The form's security token is missing or out of date; reload the page and submit it again.".into(),
        )
    }
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::LoginRequired | AppError::TokenRejected => StatusCode::UNAUTHORIZED,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::Unavailable(_) | AppError::Maintenance(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::StorageFull(_) => StatusCode::INSUFFICIENT_STORAGE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    // The body is filled in by the rendering middleware, which knows the route.
    fn error_response(&self) -> HttpResponse {
        if let AppError::Internal(detail) = self {
            tracing::error!("internal error: {detail}");
        }
        let mut res = HttpResponse::build(self.status_code());
        if let AppError::TooManyRequests { retry_after, .. } = self {
            res.insert_header(("Retry-After", retry_after.to_string()));
        }
        if let AppError::Unavailable(_) = self {
            res.insert_header(("Retry-After", "60"));
        }
        if let AppError::Maintenance(_) = self {
            res.insert_header(("Retry-After", "600"));
        }
        if let AppError::TooLarge(_) = self {
            // What is left of the body is not worth reading (RFC 9110, 413).
            res.force_close();
        }
        res.finish()
    }
}

impl From<diesel::result::Error> for AppError {
    fn from(e: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error};
        match e {
            Error::NotFound => AppError::not_found(),
            // The server went away in the middle (a PostgreSQL restart): 503, as when the pool
            // cannot connect, not a 500.
            Error::DatabaseError(
                DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
                info,
            ) => {
                tracing::error!("database connection lost: {}", info.message());
                crate::db::connection_lost();
                AppError::Unavailable(DB_UNAVAILABLE.into())
            }
            // SQLite's file, or PostgreSQL's data, on a disk that is full.
            Error::DatabaseError(_, info)
                if info.message().contains("database or disk is full")
                    || info.message().contains("No space left on device") =>
            {
                tracing::error!("disk full: {}", info.message());
                AppError::StorageFull(DISK_FULL.into())
            }
            other => AppError::Internal(format!("database: {other}")),
        }
    }
}

impl From<std::io::Error> for AppError {
    fn from(e: std::io::Error) -> Self {
        use std::io::ErrorKind;
        match e.kind() {
            ErrorKind::StorageFull | ErrorKind::QuotaExceeded => {
                tracing::error!("disk full: {e}");
                AppError::StorageFull(DISK_FULL.into())
            }
            _ => AppError::Internal(format!("io: {e}")),
        }
    }
}

impl From<askama::Error> for AppError {
    fn from(e: askama::Error) -> Self {
        AppError::Internal(format!("template: {e}"))
    }
}

pub type AppResult<T> = Result<T, AppError>;

#[cfg(test)]
mod tests {
    use super::*;
    use diesel::result::{DatabaseErrorKind, Error};

    #[test]
    fn a_connection_lost_in_the_middle_is_a_503_not_a_500() {
        for kind in [
            DatabaseErrorKind::ClosedConnection,
            DatabaseErrorKind::UnableToSendCommand,
        ] {
            let e = AppError::from(Error::DatabaseError(
                kind,
                Box::new("server closed the connection unexpectedly".to_string()),
            ));
            assert_eq!(e.status_code(), StatusCode::SERVICE_UNAVAILABLE);
            assert_eq!(e.to_string(), DB_UNAVAILABLE);
        }
        let other = AppError::from(Error::DatabaseError(
            DatabaseErrorKind::Unknown,
            Box::new("syntax error".to_string()),
        ));
        assert_eq!(other.status_code(), StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[test]
    fn a_full_disk_is_a_507_that_says_so() {
        let full = AppError::from(std::io::Error::from_raw_os_error(nix::libc::ENOSPC));
        assert_eq!(full.status_code(), StatusCode::INSUFFICIENT_STORAGE);
        assert_eq!(full.to_string(), DISK_FULL);
        let quota = AppError::from(std::io::Error::from_raw_os_error(nix::libc::EDQUOT));
        assert_eq!(quota.status_code(), StatusCode::INSUFFICIENT_STORAGE);
        let other = AppError::from(std::io::Error::from_raw_os_error(nix::libc::EACCES));
        assert_eq!(other.status_code(), StatusCode::INTERNAL_SERVER_ERROR);
        for message in [
            "database or disk is full",
            "could not extend file \"base/5/1259\": No space left on device",
        ] {
            let db = AppError::from(Error::DatabaseError(
                DatabaseErrorKind::Unknown,
                Box::new(message.to_string()),
            ));
            assert_eq!(
                db.status_code(),
                StatusCode::INSUFFICIENT_STORAGE,
                "{message}"
            );
        }
    }
}
