//! Who may do what: passwords, login, sessions and CSRF.

pub mod pam;
pub mod password;
pub mod password_rules;
pub mod reset_token;
pub mod session_store;
pub mod session_sync;
pub mod throttle;

/// Why a login failed: for the access log only.
pub type Reason = &'static str;
