//! Integration tests: one binary, run once on SQLite and once on PostgreSQL by scripts/test.

mod accounts;
mod admin;
mod admin_cli;
mod calc_pages;
mod calc_permissions;
mod calc_restart;
mod calcs;
mod cli;
mod example_config;
mod security;
mod setup;
mod support;
