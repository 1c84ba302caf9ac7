//! Integration tests: one binary, run once on SQLite and once on PostgreSQL by scripts/test.

mod accounts;
mod calcs;
mod cli;
mod example_config;
mod security;
mod setup;
mod support;
