//! Logins with the machine's accounts through PAM (`[auth] backends = [..., "pam"]`).
//!
//! One PAM transaction per attempt on the configured service (`/etc/pam.d/<service>`):
//! `pam_authenticate` then `pam_acct_mgmt`, both with `PAM_DISALLOW_NULL_AUTHTOK` so an account
//! without a password never gets in through a `nullok` in the service file ([`transaction`]).
//! The account a PAM user gets at their first login, and the groups that follow their unix
//! groups ([`groups`]), are made by `actions::login`. [`checks`] explains set-up problems.
//!
//! Everything here blocks (PAM may sleep seconds after a failure): call it on the blocking pool.

pub mod checks;
pub mod groups;
pub mod transaction;

pub use checks::{Diagnosis, diagnose, startup_warnings};
pub use groups::{mapped_groups, unix_groups};
pub use transaction::{PamRun, reason, run_pam};

/// What PAM users see instead of the password change form.
pub const SYSTEM_PASSWORD: &str =
    "Your password is your system password; change it on the system (e.g. with passwd).";

/// The hint for the most common PAM set-up problem, in the words operators search for.
pub const SHADOW_HINT: &str =
    "the process cannot read /etc/shadow: add the service user to group shadow";

/// Names a unix system would accept as a login: ASCII letters, digits and `. _ - @` (the latter
/// for directory accounts such as user@domain), not starting with `- . @`, not only digits.
/// Anything else is refused before PAM is asked.
pub fn check_unix_username(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-@".contains(c))
        && !name.starts_with(['-', '.', '@'])
        && !name.chars().all(|c| c.is_ascii_digit());
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{name:?} cannot be a unix user name (1 to 128 ASCII letters, digits and . _ - @, not starting with - . or @, not only digits)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_usernames() {
        for ok in ["bob", "bob.smith", "b_ob-2", "bob@example.org", "_svc"] {
            assert!(check_unix_username(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "-bob",
            ".bob",
            "@bob",
            "12345",
            "bob smith",
            "bob:x",
            "bøb",
            "bob/..",
            "bob\n",
        ] {
            assert!(check_unix_username(bad).is_err(), "{bad:?}");
        }
        assert!(check_unix_username(&"a".repeat(129)).is_err());
    }
}
