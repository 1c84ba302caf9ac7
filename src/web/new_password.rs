//! A new password typed twice on a form (sign-up, invitation, reset link, password change,
//! first-run setup, /admin): the problems the form shows, and hashing it off the worker.

use actix_web::web;

use crate::auth::{password, password_rules};
use crate::config::Config;
use crate::error::{AppError, AppResult};

/// What a form says when the two passwords differ.
pub const MISMATCH: &str = "The two passwords do not match.";

/// The two fields of a new password, as sent (passwords keep their spaces).
pub struct NewPassword {
    first: String,
    second: String,
}

impl NewPassword {
    pub fn new(first: Option<String>, second: Option<String>) -> NewPassword {
        NewPassword {
            first: first.unwrap_or_default(),
            second: second.unwrap_or_default(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.first.is_empty()
    }

    pub fn matches(&self) -> bool {
        self.first == self.second
    }

    /// What is wrong with it as the password of `username` (`email`): `mismatch` when the two
    /// differ, then whatever the password rules say.
    pub fn problems(
        &self,
        config: &Config,
        username: &str,
        email: &str,
        mismatch: &str,
    ) -> Vec<String> {
        let mut problems = Vec::new();
        if !self.matches() {
            problems.push(mismatch.to_string());
        }
        problems.extend(self.rule_problems(config, username, email));
        problems
    }

    /// What the password rules say of it.
    pub fn rule_problems(&self, config: &Config, username: &str, email: &str) -> Vec<String> {
        password_rules::check(&self.first, config.passwords.min_length, username, email)
    }

    /// The hash to store, computed on the blocking pool.
    pub async fn hash(self) -> AppResult<String> {
        web::block(move || password::hash(&self.first))
            .await
            .map_err(|e| AppError::Internal(e.to_string()))
    }
}
