//! What every request handler shares: configuration, database pool, keys, embedded assets.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use actix_web::cookie::Key;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::assets::Assets;
use crate::config::Config;
use crate::db::Db;

#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub db: Db,
    pub keys: Arc<Keys>,
    pub assets: Arc<Assets>,
    /// Precomputed from the config for the per-request host and origin checks.
    pub allowed_hosts: Arc<Vec<String>>,
    pub public_origin: String,
    pub trusted_proxies: Arc<Vec<ipnet::IpNet>>,
    pub access_log: Arc<crate::access_log::AccessLog>,
    pub maintenance: Arc<crate::web::maintenance::MaintenanceCache>,
    /// Pages and totals of calculation lists, read again only when a list changed.
    pub lists: Arc<crate::models::list_cache::ListCache>,
    /// Wakes the calculation runner after a submission (None when no runner runs here).
    pub runner: Option<crate::calcs::runner::Waker>,
    /// Wakes the mail worker after a message is queued (None when no worker runs here).
    pub mail: Option<crate::mail::worker::Waker>,
    /// Turns for password checks ([auth] checks_at_once).
    pub login_checks: Arc<tokio::sync::Semaphore>,
}

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
    let key = crate::auth::tokens::random_token() + &crate::auth::tokens::random_token();
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

impl AppState {
    /// Builds the state for `config`: loads or creates the secret key, builds the pool (without
    /// connecting) and indexes the embedded static files.
    pub fn new(config: Config) -> Result<(AppState, SecretSource), String> {
        let (secret, source) = load_secret(&config)
            .map_err(|e| format!("Cannot read or create the secret key: {e}."))?;
        let pool_size = match config.database.pool_size {
            0 => (config.workers() as u32 * 2).max(4),
            n => n,
        };
        let db = Db::new(
            &config.database_url(),
            pool_size,
            config.workers(),
            Duration::from_secs(config.database.connect_timeout.max(1)),
        )?;
        let public_origin = url::Url::parse(&config.public_url())
            .map(|u| u.origin().ascii_serialization().to_ascii_lowercase())
            .unwrap_or_default();
        let trusted = crate::web::client::parse_trusted(&config.trusted_proxies())?;
        let access_log =
            crate::access_log::AccessLog::open(&config.access_log_dir()).map_err(|e| {
                format!(
                    "Cannot open the access log in {}: {e}; check [server] access_log_dir.",
                    config.access_log_dir().display()
                )
            })?;
        let state = AppState {
            login_checks: Arc::new(tokio::sync::Semaphore::new(config.login_checks())),
            trusted_proxies: Arc::new(trusted),
            access_log: Arc::new(access_log),
            allowed_hosts: Arc::new(config.allowed_hosts()),
            public_origin,
            runner: None,
            mail: None,
            maintenance: Arc::default(),
            lists: Arc::new(crate::models::list_cache::ListCache::new(
                config.calcs.list_cache_rows,
            )),
            config: Arc::new(config),
            db,
            keys: Arc::new(Keys::derive(&secret)),
            assets: Arc::new(Assets::load()),
        };
        Ok((state, source))
    }
}
