//! Password reset links: `<user id>.<unix time>.<HMAC>`, the HMAC (under a key derived for
//! this purpose from the secret) covering the user id, the password hash, the last login, the
//! email address and the time. Nothing is stored: the link stops working once the password
//! changes (so it works once), once the user logs in, when the email changes, and after
//! `reset_days`.

use base64::Engine;
use time::OffsetDateTime;

use crate::keys::Keys;
use crate::models::User;
use crate::tokens::constant_time_eq;

const PURPOSE: &str = "calcweb.password-reset";

/// Why a link does not work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Invalid {
    /// Malformed, forged, or used already (the password or the last login changed since).
    UsedOrWrong,
    Expired,
}

fn mac(keys: &Keys, user: &User, issued: i64) -> String {
    let message = format!(
        "{}|{}|{}|{}|{issued}",
        user.id,
        user.password_hash,
        user.last_login.map(|t| t.to_string()).unwrap_or_default(),
        user.email.trim().to_lowercase(),
    );
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(keys.sign(PURPOSE, message.as_bytes()))
}

/// A link token for `user`, issued now.
pub fn make(keys: &Keys, user: &User) -> String {
    make_at(keys, user, OffsetDateTime::now_utc().unix_timestamp())
}

/// A link token for `user` issued at the unix time `issued` (tests make old links with it).
pub fn make_at(keys: &Keys, user: &User, issued: i64) -> String {
    format!("{}.{issued}.{}", user.id, mac(keys, user, issued))
}

/// The user id a token claims to be for (check it with [`verify`] once the user is loaded).
pub fn user_id(token: &str) -> Option<i64> {
    token.split('.').next()?.parse().ok()
}

/// Checks a token against the user's current state.
pub fn verify(keys: &Keys, user: &User, token: &str, valid_days: u32) -> Result<(), Invalid> {
    verify_at(
        keys,
        user,
        token,
        valid_days,
        OffsetDateTime::now_utc().unix_timestamp(),
    )
}

fn verify_at(
    keys: &Keys,
    user: &User,
    token: &str,
    valid_days: u32,
    now: i64,
) -> Result<(), Invalid> {
    let mut parts = token.split('.');
    let (Some(id), Some(issued), Some(given), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Invalid::UsedOrWrong);
    };
    let (Ok(id), Ok(issued)) = (id.parse::<i64>(), issued.parse::<i64>()) else {
        return Err(Invalid::UsedOrWrong);
    };
    if id != user.id || !constant_time_eq(&mac(keys, user, issued), given) {
        return Err(Invalid::UsedOrWrong);
    }
    // A minute of clock difference between servers is fine; a time far ahead is not ours.
    if issued > now + 60 {
        return Err(Invalid::UsedOrWrong);
    }
    if now - issued > i64::from(valid_days) * 86_400 {
        return Err(Invalid::Expired);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user() -> User {
        User {
            id: 7,
            username: "alice".into(),
            email: "alice@example.org".into(),
            full_name: String::new(),
            password_hash: "$argon2id$v=19$old".into(),
            login_source: "local".into(),
            is_active: true,
            is_superuser: false,
            level: 1,
            created_at: crate::db::now(),
            last_login: None,
        }
    }

    #[test]
    fn a_link_works_until_the_password_or_login_changes_or_time_runs_out() {
        let keys = Keys::derive(b"a-secret-for-the-tests-0123456789abcdef");
        let mut alice = user();
        let t0 = 1_800_000_000;
        let token = make_at(&keys, &alice, t0);
        assert_eq!(user_id(&token), Some(7));
        assert_eq!(verify_at(&keys, &alice, &token, 3, t0 + 10), Ok(()));
        assert_eq!(
            verify_at(&keys, &alice, &token, 3, t0 + 3 * 86_400 + 1),
            Err(Invalid::Expired)
        );
        // Another secret, a tampered time, another user: refused.
        let other = Keys::derive(b"another-secret-for-the-tests-0123456789");
        assert_eq!(
            verify_at(&other, &alice, &token, 3, t0),
            Err(Invalid::UsedOrWrong)
        );
        let tampered = token.replacen(&t0.to_string(), &(t0 + 86_400).to_string(), 1);
        assert_eq!(
            verify_at(&keys, &alice, &tampered, 3, t0 + 86_400),
            Err(Invalid::UsedOrWrong)
        );
        let mut bob = user();
        bob.id = 8;
        assert_eq!(
            verify_at(&keys, &bob, &token, 3, t0),
            Err(Invalid::UsedOrWrong)
        );
        // Using the link changes the password hash: the same link no longer works.
        alice.password_hash = "$argon2id$v=19$new".into();
        assert_eq!(
            verify_at(&keys, &alice, &token, 3, t0 + 10),
            Err(Invalid::UsedOrWrong)
        );
        let mut carol = user();
        let token = make_at(&keys, &carol, t0);
        carol.last_login = Some(crate::db::now());
        assert_eq!(
            verify_at(&keys, &carol, &token, 3, t0 + 10),
            Err(Invalid::UsedOrWrong)
        );
        assert_eq!(
            verify_at(&keys, &carol, "7.x.y", 3, t0),
            Err(Invalid::UsedOrWrong)
        );
    }
}
