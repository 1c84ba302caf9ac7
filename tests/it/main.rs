//! Integration tests: one binary, run once on SQLite and once on PostgreSQL by scripts/test.

mod accounts;
mod cli;
mod example_config;
mod security;
mod setup;
mod support;
