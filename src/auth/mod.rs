//! Who may do what: passwords, login, sessions and CSRF.

pub mod csrf;
pub mod login;
pub mod pam;
pub mod password;
pub mod password_rules;
pub mod reset_token;
pub mod session_store;
pub mod throttle;
