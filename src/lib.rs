//! calcweb: run calculations on a server, watch them and share the results with your group.

pub mod access_log;
pub mod actions;
pub mod assets;
pub mod auth;
pub mod calcs;
pub mod config;
pub mod db;
pub mod error;
pub mod keys;
pub mod logging;
pub mod mail;
pub mod manage;
pub mod metrics;
pub mod models;
pub mod serve;
pub mod services;
pub mod state;
pub mod times;
pub mod tokens;
pub mod web;

pub use config::Config;
pub use state::AppState;
pub use web::build_app;

/// The version shown in `--version` and the server summary.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
