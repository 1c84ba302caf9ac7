//! Database queries as methods on the models; handlers never write SQL.

pub mod activation;
pub mod admin_stats;
pub mod api_token;
pub mod audit;
pub mod auth_failure;
pub mod calc;
pub mod calc_figures;
pub mod email;
pub mod group;
pub mod invitation;
pub mod known_device;
pub mod list_cache;
pub mod list_stamps;
pub mod log;
pub mod log_tail;
pub mod maintenance;
pub mod output;
pub mod paging;
pub mod quota;
pub mod retention;
pub mod session;
pub mod session_cache;
pub mod setup_token;
pub mod tag;
pub mod user;

pub use user::{NewUser, User};
