//! Password hashing: argon2id for new hashes; Django's pbkdf2_sha256 accepted for imported
//! accounts and upgraded at the next login.

use std::sync::LazyLock;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine;
use subtle::ConstantTimeEq;

/// OWASP's recommended argon2id settings: 19 MiB, 2 passes, 1 lane.
const MEMORY_KIB: u32 = 19 * 1024;
const PASSES: u32 = 2;
const LANES: u32 = 1;

fn hasher() -> Argon2<'static> {
    let params = Params::new(MEMORY_KIB, PASSES, LANES, None).expect("valid argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// A hash checked against when the user does not exist, so both cases cost the same time.
static DUMMY_HASH: LazyLock<String> =
    LazyLock::new(|| hash("not a real password, only for timing"));

pub fn hash(password: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    hasher()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2 hashing with valid parameters cannot fail")
        .to_string()
}

/// What a successful check found out about the stored hash.
#[derive(Debug, PartialEq, Eq)]
pub enum Verified {
    Yes,
    /// The password is right but the hash is old (Django pbkdf2, or weaker argon2 settings).
    YesRehash,
    No,
}

pub fn verify(password: &str, stored: &str) -> Verified {
    if stored.starts_with("pbkdf2_sha256$") {
        return if verify_django_pbkdf2(password, stored) {
            Verified::YesRehash
        } else {
            Verified::No
        };
    }
    let Ok(parsed) = PasswordHash::new(stored) else {
        // '' (no password set) or garbage: spend the same time, then refuse.
        burn_time(password);
        return Verified::No;
    };
    if hasher()
        .verify_password(password.as_bytes(), &parsed)
        .is_err()
    {
        return Verified::No;
    }
    let current = parsed.algorithm.as_str() == "argon2id"
        && parsed.params.get_decimal("m") == Some(MEMORY_KIB)
        && parsed.params.get_decimal("t") == Some(PASSES)
        && parsed.params.get_decimal("p") == Some(LANES);
    if current {
        Verified::Yes
    } else {
        Verified::YesRehash
    }
}

/// Costs what a real check costs; used for unknown users and accounts without a password.
pub fn burn_time(password: &str) {
    if let Ok(parsed) = PasswordHash::new(&DUMMY_HASH) {
        let _ = hasher().verify_password(password.as_bytes(), &parsed);
    }
}

/// Computes the dummy hash now rather than on the first failed login.
pub fn warm_up() {
    LazyLock::force(&DUMMY_HASH);
}

/// `pbkdf2_sha256$<iterations>$<salt>$<base64 hash>` as written by Django.
fn verify_django_pbkdf2(password: &str, stored: &str) -> bool {
    let parts: Vec<&str> = stored.split('$').collect();
    let [_, iterations, salt, expected] = parts.as_slice() else {
        return false;
    };
    let Ok(iterations) = iterations.parse::<u32>() else {
        return false;
    };
    if iterations == 0 || iterations > 10_000_000 {
        return false;
    }
    let Ok(expected) = base64::engine::general_purpose::STANDARD.decode(expected) else {
        return false;
    };
    let mut out = vec![0u8; expected.len().clamp(1, 64)];
    pbkdf2::pbkdf2_hmac::<sha2::Sha256>(password.as_bytes(), salt.as_bytes(), iterations, &mut out);
    out.ct_eq(&expected).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argon2id_round_trip() {
        let h = hash("correct horse battery");
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert_eq!(verify("correct horse battery", &h), Verified::Yes);
        assert_eq!(verify("wrong", &h), Verified::No);
    }

    #[test]
    fn django_pbkdf2_is_accepted_and_flagged_for_rehash() {
        // Made by Django 5.2: PBKDF2PasswordHasher().encode("hunter2-hunter2", "saltsaltsalt", iterations=1000)
        let stored = "pbkdf2_sha256$1000$saltsaltsalt$ZPBz9jIlCDiU2fHPuSdmqTHtaSxX25LfFtyC8W00Hxs=";
        assert_eq!(verify("hunter2-hunter2", stored), Verified::YesRehash);
        assert_eq!(verify("hunter3-hunter3", stored), Verified::No);
    }

    #[test]
    fn empty_or_broken_hashes_never_verify() {
        assert_eq!(verify("", ""), Verified::No);
        assert_eq!(verify("x", "pbkdf2_sha256$x$y"), Verified::No);
        assert_eq!(verify("x", "$argon2id$garbage"), Verified::No);
    }
}
