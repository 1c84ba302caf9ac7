//! The one secret key and the keys derived from it, each for one purpose.

use std::path::Path;

use actix_web::cookie::Key;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::config::Config;

/// Keys derived from the one secret, each for one purpose, so no two uses share a key.
pub struct Keys {
    pub session_cookie: Key,
    pub flash_cookie: Key,
    master: Vec<u8>,
}

impl Keys {
    pub fn derive(secret: &[u8]) -> Keys {
        let sub = |purpose: &str| Key::derive_from(&hmac_sha256(secret, purpose.as_bytes()));
        Keys {
            session_cookie: sub("calcweb.session-cookie"),
            flash_cookie: sub("calcweb.flash-cookie"),
            master: secret.to_vec(),
        }
    }

    /// HMAC-SHA256 of `message` under a key derived for `purpose`.
    pub fn sign(&self, purpose: &str, message: &[u8]) -> Vec<u8> {
        hmac_sha256(&hmac_sha256(&self.master, purpose.as_bytes()), message)
    }
}

fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

/// Where the secret key came from, for the one-time notice.
pub enum SecretSource {
    Config,
    File,
    /// Generated now into this file.
    Generated(std::path::PathBuf),
}

/// The secret key: from the config, from `secret_key_file`, from `<data_dir>/secret_key`, or
/// newly generated into `<data_dir>/secret_key` with mode 0600.
pub fn load_secret(config: &Config) -> std::io::Result<(Vec<u8>, SecretSource)> {
    if let Some(key) = &config.secret_key {
        return Ok((key.as_bytes().to_vec(), SecretSource::Config));
    }
    let (path, explicit) = match &config.secret_key_file {
        Some(path) => (path.clone(), true),
        None => (config.data_dir.join("secret_key"), false),
    };
    if path.exists() || explicit {
        let key = std::fs::read_to_string(&path)?.trim().to_string();
        if key.len() < 32 {
            return Err(std::io::Error::other(format!(
                "the secret key in {} is shorter than 32 characters; put a longer one there (e.g. `openssl rand -base64 48`)",
                path.display()
            )));
        }
        return Ok((key.into_bytes(), SecretSource::File));
    }
    let key = crate::tokens::random_token() + &crate::tokens::random_token();
    write_private(&path, &key)?;
    Ok((key.into_bytes(), SecretSource::Generated(path)))
}

/// Creates `path` readable by its owner only.
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(text.as_bytes())?;
    file.write_all(b"\n")
}
