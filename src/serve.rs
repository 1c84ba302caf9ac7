//! `calcweb serve`: checks the database, prints a one-line summary (and the first-run link),
//! then serves until SIGTERM/SIGINT, finishing in-flight requests first.

use std::path::PathBuf;
use std::time::Duration;

use actix_web::HttpServer;

use crate::config::{AuthBackend, Config, EmailBackend, RegistrationMode, redact_url_password};
use crate::db::migrations;
use crate::keys::SecretSource;
use crate::models::session::SessionRow;
use crate::models::setup_token;
use crate::state::AppState;

/// A line on standard output. Nobody reading it (`calcweb serve | head -1`) does not stop the
/// server: the error is dropped, where `println!` would panic.
macro_rules! say {
    ($($arg:tt)*) => {{
        let _ = crate::manage::out::try_write(format_args!("{}\n", format_args!($($arg)*)));
    }};
}

/// What the database said at start-up.
enum DbStatus {
    Ready,
    /// Unreachable: the server starts anyway, answers 503, and keeps trying.
    Down(String),
}

fn check_database(state: &AppState) -> Result<DbStatus, String> {
    let mut conn = match state.db.conn() {
        Ok(conn) => conn,
        Err(_) => {
            let err = crate::db::DatabaseUrl::parse(&state.config.database_url())
                .and_then(|u| u.connect().map(|_| ()).map_err(|e| e.to_string()))
                .err()
                .unwrap_or_else(|| "no connection".into());
            return Ok(DbStatus::Down(err));
        }
    };
    let pending = migrations::pending(&mut conn).map_err(|e| e.to_string())?;
    if !pending.is_empty() {
        return Err(format!(
            "The database has {} unapplied migration(s) ({}); run `calcweb manage migrate` first.",
            pending.len(),
            pending.join(", ")
        ));
    }
    Ok(DbStatus::Ready)
}

/// Prints the one-time link that creates the first superuser, when there is none.
fn print_setup_link(state: &AppState) {
    let result = state
        .db
        .conn()
        .and_then(|mut conn| setup_token::link_unless_superuser(&mut conn, &state.config));
    match result {
        Ok(Some(link)) => say!(
            "No superuser yet: open {link} within 24 hours to create one (or run `calcweb manage createsuperuser`)."
        ),
        Ok(None) => {}
        Err(e) => tracing::error!("cannot create the first-run link: {e}"),
    }
}

/// glibc gives threads their own malloc arenas and keeps freed memory in them: the 19 MiB an
/// argon2id check allocates piled up arena after arena (2.5 GB of RSS after seconds of logins on
/// the benchmark). Blocks of 1 MiB and more now come from mmap and go back to the system when
/// freed, and there are at most four arenas.
fn return_big_blocks_to_the_system() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator settings; called before the server's threads start.
    unsafe {
        nix::libc::mallopt(nix::libc::M_MMAP_THRESHOLD, 1 << 20);
        nix::libc::mallopt(nix::libc::M_ARENA_MAX, 4);
    }
}

pub fn run(config: Config, file: Option<PathBuf>) -> Result<(), String> {
    return_big_blocks_to_the_system();
    let log = std::sync::Arc::new(crate::logging::init(&config.server)?);
    let (mut state, secret) = AppState::new(config)?;
    if let SecretSource::Generated(path) = &secret {
        say!(
            "Generated a secret key in {} (mode 0600); keep it private and include it in backups.",
            path.display()
        );
    }
    let config = state.config.clone();
    let db_status = check_database(&state)?;
    sweep_scratch(&config);
    crate::calcs::example::install(&config.data_dir).map_err(|e| {
        format!(
            "Cannot install the example calculator into {}: {e}.",
            config.data_dir.display()
        )
    })?;
    state.runner = Some(crate::calcs::runner::start(
        state.db.clone(),
        config.clone(),
        crate::calcs::runner::Launcher::current(),
    ));
    let mailer = crate::mail::Mailer::from_config(&config)?;
    state.mail = Some(crate::mail::worker::start(
        state.db.clone(),
        mailer,
        state.metrics.clone(),
    ));
    if config.server.public_url.is_none()
        && (config.email.backend == EmailBackend::Smtp
            || config.registration.mode != RegistrationMode::Closed)
    {
        say!(
            "Warning: [server] public_url is not set, so links in emails point to {}; set it to the address people use.",
            config.public_url()
        );
    }
    crate::auth::password::warm_up();
    if config.auth.backends.contains(&AuthBackend::Pam) {
        for warning in crate::auth::pam::startup_warnings(&config.auth.pam) {
            say!("Warning: {warning}");
        }
    }
    let summary = format!(
        "calcweb {} serving on {}{} (bind {}, database: {} {}, data: {}, lockdown: {}, email: {}, workers: {}, config: {})",
        crate::VERSION,
        config.public_url(),
        config.server.path_prefix,
        config.server.bind,
        state.db.backend().name(),
        redact_url_password(&config.database_url()),
        config.data_dir.display(),
        if config.server.lockdown { "on" } else { "off" },
        crate::mail::describe(&config),
        config.workers(),
        file.map(|f| f.display().to_string())
            .unwrap_or_else(|| "built-in defaults".into()),
    );
    let access_log = state.access_log.clone();
    let served =
        actix_web::rt::System::new().block_on(serve(state, summary, db_status, log.clone()));
    // Lines still queued are written before the process ends.
    access_log.finish();
    log.finish();
    served
}

/// Removes the uploads (and engine input checks) a killed server left unfinished in
/// `<data_dir>/tmp`; those another running server is using stay (calcs::scratch).
fn sweep_scratch(config: &Config) {
    let tmp = config.data_dir.join("tmp");
    match crate::calcs::scratch::sweep(&tmp) {
        Ok(0) => {}
        Ok(n) => tracing::info!(
            "removed {n} unfinished upload(s) left in {} by a server that was stopped",
            tmp.display()
        ),
        Err(e) => tracing::warn!("cannot clean {}: {e}", tmp.display()),
    }
    // Uploads that waited for a choice of job file longer than they are kept.
    let staged = crate::actions::resubmit::staged_root(config);
    match crate::calcs::upload::staged::sweep(&staged) {
        Ok(0) => {}
        Ok(n) => tracing::info!("removed {n} expired upload(s) waiting for a job file choice"),
        Err(e) => tracing::warn!("cannot clean {}: {e}", staged.display()),
    }
}

fn wait_for_database(state: AppState) {
    loop {
        std::thread::sleep(Duration::from_secs(5));
        match check_database(&state) {
            Ok(DbStatus::Ready) => {
                tracing::info!("the database answers again");
                print_setup_link(&state);
                return;
            }
            Ok(DbStatus::Down(why)) => tracing::warn!("the database still does not answer: {why}"),
            Err(e) => {
                tracing::error!("{e}");
                return;
            }
        }
    }
}

async fn serve(
    state: AppState,
    summary: String,
    db_status: DbStatus,
    log: std::sync::Arc<crate::logging::LogGuard>,
) -> Result<(), String> {
    let config = state.config.clone();
    let app_state = state.clone();
    // Bind first, so the summary and the setup link are printed only once requests are taken.
    let tls = tls_config(&config)?;
    let server = HttpServer::new(move || crate::web::build_app(app_state.clone()))
        .workers(config.workers())
        .shutdown_timeout(30);
    let bound = match tls {
        Some(tls) => server.bind_rustls_0_23(&config.server.bind, tls),
        None => server.bind(&config.server.bind),
    };
    // Bind first, so the summary and the setup link are printed only once requests are taken.
    let server = bound
        .map_err(|e| {
            format!(
                "Cannot listen on {}: {e}. Is another server using it? Change [server] bind.",
                config.server.bind
            )
        })?
        .run();
    say!("{summary}");
    match db_status {
        DbStatus::Ready => print_setup_link(&state),
        DbStatus::Down(why) => {
            eprintln!(
                "The database does not answer ({why}); requests get 503 until it is back. Retrying every 5 s."
            );
            let state = state.clone();
            std::thread::spawn(move || wait_for_database(state));
        }
    }
    let access_log = state.access_log.clone();
    actix_web::rt::spawn(async move {
        // logrotate moves the log files away and sends SIGHUP: write to new files.
        let Ok(mut hangups) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        else {
            return;
        };
        while hangups.recv().await.is_some() {
            log.reopen();
            access_log.reopen();
            tracing::info!("reopened the log files");
        }
    });
    let purge_state = state.clone();
    actix_web::rt::spawn(async move { purge_sessions_forever(purge_state).await });
    let staged_root = crate::actions::resubmit::staged_root(&state.config);
    actix_web::rt::spawn(async move { sweep_staged_forever(staged_root).await });
    if state.config.retention.is_on() {
        let retention_state = state.clone();
        actix_web::rt::spawn(async move { apply_retention_daily(retention_state).await });
    }
    server
        .await
        .map_err(|e| format!("The server stopped with an error: {e}"))?;
    say!("calcweb stopped.");
    Ok(())
}

/// The TLS settings for direct HTTPS, when [server] tls_cert and tls_key are set.
fn tls_config(config: &Config) -> Result<Option<rustls::ServerConfig>, String> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let (Some(cert), Some(key)) = (&config.server.tls_cert, &config.server.tls_key) else {
        return Ok(None);
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect())
        .map_err(|e| {
            format!(
                "Cannot read the certificate {}: {e}; server.tls_cert must be a PEM file.",
                cert.display()
            )
        })?;
    if certs.is_empty() {
        return Err(format!(
            "{} holds no certificate; server.tls_cert must be a PEM certificate chain.",
            cert.display()
        ));
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| {
        format!(
            "Cannot read the private key {}: {e}; server.tls_key must be a PEM key.",
            key.display()
        )
    })?;
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS set-up failed: {e}"))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| format!("The certificate and key do not work together: {e}."))?;
    Ok(Some(tls))
}

/// Applies the retention policy at start and then once a day ([retention], docs/retention.md);
/// after a failure (the database down), again 5 minutes later. Several servers may each run
/// it: a calculation is announced and removed once.
async fn apply_retention_daily(state: AppState) {
    loop {
        let config = state.config.clone();
        let ran = state
            .db
            .run(move |conn| {
                let actor = crate::models::audit::Actor::server("retention policy");
                crate::actions::retention::run(conn, &config, &actor)
            })
            .await;
        match ran {
            Ok(outcome) => {
                if !outcome.removed.is_empty() || !outcome.warned.is_empty() {
                    tracing::info!(
                        "retention policy: removed {} calculation(s) ({}), told {} owner(s) about {} more",
                        outcome.removed.len(),
                        crate::actions::retention::total_size(&outcome.removed),
                        outcome.emails,
                        outcome.warned.len()
                    );
                }
                for error in &outcome.errors {
                    tracing::warn!("retention policy: cannot remove {error}");
                }
                for left in &outcome.files_left {
                    tracing::warn!("retention policy: removed, but its directory stays: {left}");
                }
                if outcome.emails > 0 {
                    state.wake_mail();
                }
                actix_web::rt::time::sleep(Duration::from_secs(24 * 3600)).await;
            }
            Err(e) => {
                tracing::warn!("cannot apply the retention policy: {e}; trying again in 5 minutes");
                actix_web::rt::time::sleep(Duration::from_secs(300)).await;
            }
        }
    }
}

/// Removes the uploads that waited for a job file choice longer than they are kept, every
/// ten minutes, so that one nobody comes back to does not stay until the next upload.
async fn sweep_staged_forever(root: std::path::PathBuf) {
    let mut tick = actix_web::rt::time::interval(Duration::from_secs(600));
    loop {
        tick.tick().await;
        let swept_root = root.clone();
        match actix_web::web::block(move || crate::calcs::upload::staged::sweep(&swept_root)).await
        {
            Ok(Ok(0)) => {}
            Ok(Ok(n)) => {
                tracing::info!("removed {n} expired upload(s) waiting for a job file choice")
            }
            Ok(Err(e)) => tracing::warn!("cannot clean {}: {e}", root.display()),
            Err(e) => tracing::warn!("cannot clean {}: {e}", root.display()),
        }
    }
}

/// Deletes expired sessions, old failed-login counts and long-unused known browsers every ten
/// minutes.
async fn purge_sessions_forever(state: AppState) {
    let absolute = time::Duration::seconds(state.config.sessions.absolute_lifetime as i64);
    let mut tick = actix_web::rt::time::interval(Duration::from_secs(600));
    loop {
        tick.tick().await;
        match state
            .db
            .run(move |conn| SessionRow::purge_expired(conn, absolute))
            .await
        {
            Ok(0) => {}
            Ok(n) => tracing::info!("purged {n} expired session(s)"),
            Err(e) => tracing::warn!("cannot purge expired sessions: {e}"),
        }
        // Failed-login counts older than the throttle window no longer matter.
        let before =
            crate::db::now() - time::Duration::seconds(state.config.auth.throttle.window as i64);
        if let Err(e) = state
            .db
            .run(move |conn| crate::models::auth_failure::purge_before(conn, before))
            .await
        {
            tracing::warn!("cannot purge old failed-login counts: {e}");
        }
        if let Err(e) = state.db.run(crate::models::known_device::purge_stale).await {
            tracing::warn!("cannot purge browsers unused for a year: {e}");
        }
        // Keep SQLite's table statistics in step as calculations pile up.
        if let Err(e) = state
            .db
            .run(|conn| Ok(crate::db::refresh_sqlite_statistics(conn, false)?))
            .await
        {
            tracing::warn!("cannot refresh the database statistics: {e}");
        }
    }
}
