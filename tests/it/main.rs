//! Integration tests: one binary, run once on SQLite and once on PostgreSQL by scripts/test.

mod access_log_rotation;
mod accounts;
mod admin;
mod admin_cli;
mod admin_more;
mod auth;
mod bench_seed;
mod browser;
mod calc_pages;
mod calc_permissions;
mod calc_restart;
mod calcs;
mod cli;
mod deploy_files;
mod deployment;
mod email;
mod email_cli;
mod example_config;
mod nginx;
mod pam;
mod performance;
mod security;
mod setup;
mod slurm;
mod smtp;
mod support;
