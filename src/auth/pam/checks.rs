//! Set-up checks: `calcweb manage check-pam` and the start-up warnings of `serve`.

use std::path::{Path, PathBuf};

use pam::PamReturnCode;

use super::groups::{mapped_groups, superuser_groups_of, unix_groups};
use super::transaction::{PamRun, Step, account_refusal, run_pam};
use super::{SHADOW_HINT, check_unix_username};
use crate::config::PamConfig;
use crate::db::DbConn;
use crate::models::User;
use crate::models::user::SOURCE_PAM;

/// Where PAM reads service files: the pam_wrapper test directory when that is active, else
/// /etc/pam.d (then the vendor directory /usr/lib/pam.d).
fn service_dirs() -> Vec<PathBuf> {
    if std::env::var("PAM_WRAPPER").as_deref() == Ok("1")
        && let Some(dir) = std::env::var_os("PAM_WRAPPER_SERVICE_DIR")
    {
        return vec![PathBuf::from(dir)];
    }
    vec![PathBuf::from("/etc/pam.d"), PathBuf::from("/usr/lib/pam.d")]
}

/// The service file PAM will read, or the path where it should be.
fn service_file(service: &str) -> Result<PathBuf, PathBuf> {
    let dirs = service_dirs();
    dirs.iter()
        .map(|d| d.join(service))
        .find(|p| p.is_file())
        .ok_or_else(|| dirs[0].join(service))
}

/// Whether the auth or account stack of `file` (following @include, include and substack)
/// uses pam_unix.
fn uses_pam_unix(file: &Path, depth: u32) -> bool {
    let Ok(text) = std::fs::read_to_string(file) else {
        return false;
    };
    let dir = file.parent().unwrap_or(Path::new("/etc/pam.d"));
    text.lines().any(|line| {
        let line = line.split('#').next().unwrap_or("");
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["@include", name, ..] => depth < 8 && uses_pam_unix(&dir.join(name), depth + 1),
            [kind, rest @ ..] if matches!(kind.trim_start_matches('-'), "auth" | "account") => {
                match rest {
                    ["include" | "substack", name, ..] => {
                        depth < 8 && uses_pam_unix(&dir.join(name), depth + 1)
                    }
                    // The control may be [bracketed words], so look at every word.
                    _ => rest
                        .iter()
                        .any(|w| w.rsplit('/').next() == Some("pam_unix.so")),
                }
            }
            _ => false,
        }
    })
}

/// True when /etc/shadow exists and this process may not read it.
fn shadow_unreadable() -> bool {
    matches!(
        std::fs::File::open("/etc/shadow"),
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied
    )
}

/// The name of the user this process runs as.
fn process_user() -> String {
    let uid = nix::unistd::Uid::effective();
    nix::unistd::User::from_uid(uid)
        .ok()
        .flatten()
        .map(|u| u.name)
        .unwrap_or_else(|| format!("uid {uid}"))
}

fn shadow_hint() -> String {
    format!(
        "{SHADOW_HINT} (`usermod -a -G shadow {}`, then restart calcweb)",
        process_user()
    )
}

/// Problems worth a warning when `serve` starts with the PAM backend.
pub fn startup_warnings(cfg: &PamConfig) -> Vec<String> {
    let mut out = Vec::new();
    match service_file(&cfg.service) {
        Err(missing) => out.push(format!(
            "PAM: {} not found: install deploy/pam/calcweb there; until then PAM uses its \"other\" service.",
            missing.display()
        )),
        Ok(file) => {
            if uses_pam_unix(&file, 0) && shadow_unreadable() {
                out.push(format!(
                    "PAM: {}; until then PAM logins fail. `calcweb manage check-pam USER` tests a login.",
                    shadow_hint()
                ));
            }
        }
    }
    out
}

/// What `check-pam` found: `ok` when a PAM login of the user would succeed.
#[derive(Debug)]
pub struct Diagnosis {
    pub ok: bool,
    pub text: String,
}

/// Why a failed run failed, in plain words.
fn explain(run: &PamRun, username: &str, shadow_problem: bool, file: &Path) -> String {
    use PamReturnCode as C;
    let maybe_shadow = matches!(
        run.code,
        C::Auth_Err | C::Authinfo_Unavail | C::Cred_Insufficient | C::User_Unknown | C::Perm_Denied
    );
    match account_refusal(run) {
        Some("pam_account_expired") => {
            return "the account has expired (refused by PAM account management)".into();
        }
        Some("pam_password_expired") => {
            return format!(
                "the password has expired and must be changed on the system first (e.g. `passwd {username}`)"
            );
        }
        Some(_) => {
            return "the password is right, but PAM account management refused the account (expired, locked, or not allowed by e.g. pam_access or pam_nologin)".into();
        }
        None => {}
    }
    if shadow_problem && maybe_shadow {
        return shadow_hint();
    }
    match run.code {
        C::Auth_Err => "authentication failed (wrong password or unknown user)".into(),
        C::User_Unknown => format!("unknown user: PAM does not know {username:?}"),
        C::Acct_Expired => "the account has expired (refused by PAM account management)".into(),
        C::New_Authtok_Reqd | C::AuthTok_Expired => format!(
            "the password has expired and must be changed on the system first (e.g. `passwd {username}`)"
        ),
        C::Perm_Denied => "PAM denied access to the account (e.g. pam_access, pam_time or pam_nologin)".into(),
        C::MaxTries => "too many attempts (PAM_MAXTRIES)".into(),
        C::Authinfo_Unavail | C::Cred_Insufficient => {
            "PAM could not get the account information (a directory such as LDAP/SSSD unreachable, or unreadable files)".into()
        }
        C::Open_Err | C::Symbol_Err | C::Module_Unknown => format!(
            "a PAM module in {} could not be loaded; check the module names there",
            file.display()
        ),
        C::Conv_Err => {
            "PAM asked a question calcweb cannot answer (only the username and the password are supported)".into()
        }
        other => format!(
            "PAM failed with {other} in {}; the system log (journalctl) has details",
            file.display()
        ),
    }
}

/// Checks a PAM login of `username` step by step and says in plain words what fails. With a
/// database connection it also checks that no local calcweb account has that name. Blocks.
pub fn diagnose(
    cfg: &PamConfig,
    username: &str,
    password: &str,
    conn: Option<&mut DbConn>,
) -> Diagnosis {
    let mut lines = Vec::new();
    let fail = |mut lines: Vec<String>, why: String| {
        lines.push(format!("FAILED: {why}."));
        Diagnosis {
            ok: false,
            text: lines.join("\n") + "\n",
        }
    };
    let file = match service_file(&cfg.service) {
        Ok(file) => file,
        Err(missing) => {
            return fail(
                lines,
                format!(
                    "{} not found: install deploy/pam/calcweb there",
                    missing.display()
                ),
            );
        }
    };
    let pam_unix = uses_pam_unix(&file, 0);
    let shadow_problem = pam_unix && shadow_unreadable();
    lines.push(format!(
        "PAM service {:?}: {}{}",
        cfg.service,
        file.display(),
        if pam_unix { " (uses pam_unix)" } else { "" }
    ));
    lines.push(format!("running as: {}", process_user()));
    if let Err(e) = check_unix_username(username) {
        return fail(lines, format!("{e}; calcweb refuses it before asking PAM"));
    }
    if password.is_empty() {
        return fail(
            lines,
            "the password is empty; calcweb never asks PAM about an empty password".into(),
        );
    }
    let mut problems = Vec::new();
    if let Some(conn) = conn {
        match User::find_by_username(conn, username) {
            Ok(Some(user)) if user.login_source != SOURCE_PAM => problems.push(format!(
                "calcweb has a local account named {username:?}; PAM logins under that name are refused so they cannot take it over"
            )),
            Ok(Some(user)) if !user.is_active => problems.push(format!(
                "the calcweb account {username:?} is deactivated; an admin can activate it"
            )),
            Ok(Some(_)) => lines.push(format!("calcweb account: {username:?} (pam)")),
            Ok(None) => lines.push(format!(
                "calcweb account: none yet; the first login creates {username:?}"
            )),
            Err(e) => lines.push(format!("calcweb account: cannot look it up ({e})")),
        }
    }
    let run = run_pam(&cfg.service, username, password);
    lines.push(format!(
        "PAM result: {} (step: {})",
        run.code,
        match run.step {
            Step::Start => "pam_start",
            Step::Authenticate => "pam_authenticate",
            Step::Account => "pam_acct_mgmt",
        }
    ));
    for message in run.messages.iter().filter(|m| !m.is_empty()) {
        lines.push(format!("PAM said: {message}"));
    }
    if run.ok() {
        let unix = unix_groups(username);
        if unix.is_empty() {
            lines.push(format!(
                "unix groups: none (the system's user database has no {username:?})"
            ));
        } else {
            lines.push(format!("unix groups: {}", unix.join(", ")));
        }
        if cfg.map_unix_groups {
            let mapped = mapped_groups(cfg, &unix);
            lines.push(format!(
                "calcweb groups at login (map_unix_groups): {}",
                if mapped.is_empty() {
                    "none (no unix group passes groups_allow/groups_prefix)".to_string()
                } else {
                    mapped.join(", ")
                }
            ));
        } else {
            lines.push("map_unix_groups = false: calcweb groups are not changed at login".into());
        }
        if !cfg.superuser_groups.is_empty() {
            let su = superuser_groups_of(cfg, &unix);
            lines.push(if su.is_empty() {
                format!("superuser: no (not in {})", cfg.superuser_groups.join(", "))
            } else {
                format!(
                    "superuser: yes, member of {} (granted at login)",
                    su.join(", ")
                )
            });
        }
    } else {
        problems.insert(0, explain(&run, username, shadow_problem, &file));
    }
    if problems.is_empty() {
        lines.push(format!("OK: PAM accepts {username:?}."));
        Diagnosis {
            ok: true,
            text: lines.join("\n") + "\n",
        }
    } else {
        let last = problems.pop().unwrap_or_default();
        for p in problems {
            lines.push(format!("FAILED: {p}."));
        }
        fail(lines, last)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pam_unix_is_found_through_includes() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
        write(
            "common-auth",
            "# comment pam_unix.so\nauth [success=1 default=ignore] pam_unix.so nullok\n",
        );
        write(
            "svc",
            "@include common-auth\naccount required pam_permit.so\n",
        );
        write("other", "auth include common-auth\n");
        write("plain", "auth required pam_permit.so # not pam_unix.so\n");
        write("sub", "-auth substack plain\n");
        assert!(uses_pam_unix(&dir.path().join("svc"), 0));
        assert!(uses_pam_unix(&dir.path().join("other"), 0));
        assert!(!uses_pam_unix(&dir.path().join("plain"), 0));
        assert!(!uses_pam_unix(&dir.path().join("sub"), 0));
        assert!(!uses_pam_unix(&dir.path().join("missing"), 0));
    }
}
