//! Database queries as methods on the models; handlers never write SQL.

pub mod session;
pub mod setup_token;
pub mod user;

pub use user::{NewUser, User};
