//! `[auth]` and `[registration]`: how people log in and how accounts come to be.

use serde::{Deserialize, Serialize};

/// Where passwords are checked: calcweb's database or the machine's accounts (PAM).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthBackend {
    Local,
    Pam,
}

impl AuthBackend {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthBackend::Local => "local",
            AuthBackend::Pam => "pam",
        }
    }
}

impl std::fmt::Display for AuthBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How accounts come to be besides administrators making them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RegistrationMode {
    Closed,
    Open,
    Invite,
}

impl RegistrationMode {
    pub fn as_str(self) -> &'static str {
        match self {
            RegistrationMode::Closed => "closed",
            RegistrationMode::Open => "open",
            RegistrationMode::Invite => "invite",
        }
    }
}

impl std::fmt::Display for RegistrationMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// Tried in order: "local" (passwords in calcweb's database) and "pam" (the machine's accounts).
    pub backends: Vec<AuthBackend>,
    /// Password checks running at once; the others queue (0 = one per core). An argon2id
    /// check holds 19 MiB while it runs, so this bounds the memory a burst of logins takes.
    pub checks_at_once: usize,
    pub pam: PamConfig,
    pub throttle: ThrottleConfig,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            backends: vec![AuthBackend::Local],
            checks_at_once: 1,
            pam: PamConfig::default(),
            throttle: ThrottleConfig::default(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PamConfig {
    /// The PAM service, i.e. the file /etc/pam.d/<service>.
    pub service: String,
    /// Make a PAM user's calcweb groups follow their unix groups at every login.
    pub map_unix_groups: bool,
    /// Only these unix groups are mapped (empty: all that match `groups_prefix`).
    pub groups_allow: Vec<String>,
    /// Only unix groups starting with this prefix are mapped ("" = no prefix rule).
    pub groups_prefix: String,
    /// Members of these unix groups become calcweb superusers at login.
    pub superuser_groups: Vec<String>,
}

impl Default for PamConfig {
    fn default() -> Self {
        PamConfig {
            service: "calcweb".into(),
            map_unix_groups: false,
            groups_allow: Vec::new(),
            groups_prefix: String::new(),
            superuser_groups: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ThrottleConfig {
    /// Seconds of the sliding window in which failed logins are counted.
    pub window: u64,
    /// Failed logins from one client IP within the window before it must wait.
    pub max_per_ip: u32,
    /// Failed logins for one username within the window before it must wait (browsers that
    /// logged in as that user before are exempt, so an attacker cannot lock the owner out).
    pub max_per_user: u32,
}

impl Default for ThrottleConfig {
    fn default() -> Self {
        ThrottleConfig {
            window: 300,
            max_per_ip: 10,
            max_per_user: 5,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RegistrationConfig {
    /// closed (only admins create accounts) | open (anyone signs up, activates by email) |
    /// invite (superusers invite addresses into a group).
    pub mode: RegistrationMode,
    /// Days an activation link stays valid.
    pub activation_days: u32,
    /// Days a password reset link stays valid.
    pub reset_days: u32,
    /// Days an invitation stays valid.
    pub invite_days: u32,
}

impl Default for RegistrationConfig {
    fn default() -> Self {
        RegistrationConfig {
            mode: RegistrationMode::Closed,
            activation_days: 7,
            reset_days: 3,
            invite_days: 7,
        }
    }
}
