//! Every change of state a person can cause, once: the pages, the JSON API and `calcweb manage`
//! call these. Each checks its rules and permissions, changes the database and records its
//! audit entry in one transaction, so every way in behaves the same.

pub mod accounts;
pub mod calcs;
pub mod emails;
pub mod groups;
pub mod invites;
pub mod login;
pub mod maintenance;
pub mod quotas;
pub mod resubmit;
pub mod retention;
pub mod sessions;
pub mod tags;
pub mod tokens;

use std::fmt::Display;

/// Builds an audit summary: "field: before -> after; ...", only for fields that changed.
#[derive(Debug, Default)]
pub struct Changes(Vec<String>);

impl Changes {
    pub fn field(&mut self, name: &str, before: impl Display, after: impl Display) {
        let (before, after) = (before.to_string(), after.to_string());
        if before != after {
            self.0
                .push(format!("{name}: {} -> {}", show(&before), show(&after)));
        }
    }

    pub fn note(&mut self, text: impl Into<String>) {
        self.0.push(text.into());
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn summary(&self) -> String {
        self.0.join("; ")
    }
}

/// Empty values are shown as (none) so "a -> " does not look truncated.
pub fn show(value: &str) -> &str {
    if value.is_empty() { "(none)" } else { value }
}

pub fn yes_no(flag: bool) -> &'static str {
    if flag { "yes" } else { "no" }
}

#[cfg(test)]
mod tests {
    use super::Changes;

    #[test]
    fn only_changes_are_listed() {
        let mut c = Changes::default();
        c.field("email", "a@x", "a@x");
        c.field("email", "a@x", "b@x");
        c.field("name", "", "Bob");
        assert_eq!(c.summary(), "email: a@x -> b@x; name: (none) -> Bob");
    }
}
