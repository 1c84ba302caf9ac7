//! The rules a new password must follow, each failure a sentence the user can act on.

use std::collections::HashSet;
use std::sync::LazyLock;

/// Django's list of 20,000 common passwords (BSD licence), lowercased.
static COMMON: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    include_str!("common-passwords.txt")
        .lines()
        .map(str::trim)
        .collect()
});

/// Returns the problems with `password`, empty when it is acceptable.
pub fn check(password: &str, min_length: usize, username: &str, email: &str) -> Vec<String> {
    let mut problems = Vec::new();
    if password.chars().count() < min_length {
        problems.push(format!(
            "The password must be at least {min_length} characters long."
        ));
    }
    if !password.is_empty() && password.chars().all(|c| c.is_ascii_digit()) {
        problems.push("The password cannot be only digits.".to_string());
    }
    let lower = password.to_lowercase();
    if COMMON.contains(lower.trim()) {
        problems
            .push("This password is too common; choose one that is harder to guess.".to_string());
    }
    let email_local = email.split('@').next().unwrap_or("");
    for (what, attribute) in [
        ("username", username),
        ("email address", email),
        ("email address", email_local),
    ] {
        if too_similar(&lower, &attribute.to_lowercase()) {
            problems.push(format!("The password is too similar to your {what}."));
            break;
        }
    }
    problems
}

/// Like Django's UserAttributeSimilarityValidator: containment or a similarity ratio of 0.7 or more.
fn too_similar(password: &str, attribute: &str) -> bool {
    if attribute.chars().count() < 3 || password.is_empty() {
        return false;
    }
    if password.contains(attribute) || attribute.contains(password) {
        return true;
    }
    strsim::normalized_levenshtein(password, attribute) >= 0.7
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn rules() {
        assert!(
            check(
                "a-long-unusual-passphrase",
                10,
                "alice",
                "alice@example.org"
            )
            .is_empty()
        );
        assert_eq!(check("short", 10, "bob", "").len(), 1);
        assert!(check("12345678901234", 10, "bob", "")[0].contains("only digits"));
        assert!(
            check("password123", 10, "bob", "")
                .iter()
                .any(|p| p.contains("too common"))
        );
        assert!(
            check("alice-the-great", 10, "alice", "")
                .iter()
                .any(|p| p.contains("username"))
        );
        assert!(
            check("zorro.mail.x", 10, "x", "zorro.mail@example.org")
                .iter()
                .any(|p| p.contains("email"))
        );
    }
}
