//! Database queries as methods on the models; handlers never write SQL.

pub mod admin_stats;
pub mod api_token;
pub mod audit;
pub mod auth_failure;
pub mod calc;
pub mod group;
pub mod log;
pub mod output;
pub mod paging;
pub mod session;
pub mod setup_token;
pub mod user;

pub use user::{NewUser, User};
