//! What every request handler shares: the actions' services, embedded assets and the
//! precomputed host, origin and proxy checks.

use std::sync::Arc;
use std::time::Duration;

use crate::assets::Assets;
use crate::config::Config;
use crate::db::Db;
use crate::keys::{Keys, SecretSource, load_secret};
use crate::services::Services;

/// The actions' services plus what only pages need; derefs to [`Services`], so handlers read
/// `state.db` and `state.config` directly.
#[derive(Clone)]
pub struct AppState {
    pub services: Services,
    pub assets: Arc<Assets>,
    /// Precomputed from the config for the per-request host and origin checks.
    pub allowed_hosts: Arc<Vec<String>>,
    pub public_origin: String,
    pub trusted_proxies: Arc<Vec<ipnet::IpNet>>,
    /// `/v1/engine_version`'s answer, asked of the engine once (it takes seconds).
    pub engine_version: Arc<tokio::sync::OnceCell<String>>,
}

impl std::ops::Deref for AppState {
    type Target = Services;
    fn deref(&self) -> &Services {
        &self.services
    }
}

impl std::ops::DerefMut for AppState {
    fn deref_mut(&mut self) -> &mut Services {
        &mut self.services
    }
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
        let trusted = crate::config::parse_trusted(&config.trusted_proxies())?;
        let access_log =
            crate::access_log::AccessLog::open(&config.access_log_dir()).map_err(|e| {
                format!(
                    "Cannot open the access log in {}: {e}; check [server] access_log_dir.",
                    config.access_log_dir().display()
                )
            })?;
        let metrics = match config.metrics.enabled {
            true => Some(Arc::new(crate::metrics::Metrics::new(
                &config.metrics,
                db.wait_histogram(),
            )?)),
            false => None,
        };
        let state = AppState {
            trusted_proxies: Arc::new(trusted),
            allowed_hosts: Arc::new(config.allowed_hosts()),
            public_origin,
            engine_version: Arc::default(),
            assets: Arc::new(Assets::load()),
            services: Services {
                login_checks: Arc::new(tokio::sync::Semaphore::new(config.login_checks())),
                access_log: Arc::new(access_log),
                runner: None,
                metrics,
                mail: None,
                maintenance: Arc::default(),
                lists: Arc::new(crate::models::list_cache::ListCache::new(
                    config.calcs.list_cache_rows,
                    db.work_done(),
                )),
                sessions: crate::models::session_cache::SessionCache::new(),
                config: Arc::new(config),
                db,
                keys: Arc::new(Keys::derive(&secret)),
            },
        };
        Ok((state, source))
    }
}
