//! Logins with the machine's accounts through PAM (`[auth] backends = [..., "pam"]`).
//!
//! One PAM transaction per attempt on the configured service (`/etc/pam.d/<service>`):
//! `pam_authenticate` then `pam_acct_mgmt`, both with `PAM_DISALLOW_NULL_AUTHTOK` so an account
//! without a password never gets in through a `nullok` in the service file. The conversation
//! answers the username and the password and collects what PAM says (for `check-pam`).
//!
//! A PAM user gets a calcweb account at their first successful login (login source "pam", no
//! local password). A local account with the same name is never taken over. With
//! `map_unix_groups`, the user's memberships of calcweb groups whose names pass the
//! allow-list/prefix follow their unix groups at every login (missing groups are created; groups
//! outside the filter are left alone). `superuser_groups` grants superuser at login and never
//! takes it away: removing it is an explicit admin action.
//!
//! Everything here blocks (PAM may sleep seconds after a failure): call it on the blocking pool.

use std::collections::BTreeSet;
use std::ffi::{CStr, CString, c_int, c_void};
use std::path::{Path, PathBuf};

use nix::libc;
use pam::ffi;
use pam::{PamFlag, PamReturnCode};

use crate::auth::Reason;
use crate::config::PamConfig;
use crate::db::DbConn;
use crate::error::{AppError, AppResult};
use crate::models::User;
use crate::models::group::{Group, check_group_name};
use crate::models::user::SOURCE_PAM;

/// What PAM users see instead of the password change form.
pub const SYSTEM_PASSWORD: &str =
    "Your password is your system password; change it on the system (e.g. with passwd).";

/// The hint for the most common PAM set-up problem, in the words operators search for.
pub const SHADOW_HINT: &str =
    "the process cannot read /etc/shadow: add the service user to group shadow";

/// Names a unix system would accept as a login: ASCII letters, digits and `. _ - @` (the latter
/// for directory accounts such as user@domain), not starting with `- . @`, not only digits.
/// Anything else is refused before PAM is asked.
pub fn check_unix_username(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-@".contains(c))
        && !name.starts_with(['-', '.', '@'])
        && !name.chars().all(|c| c.is_ascii_digit());
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{name:?} cannot be a unix user name (1 to 128 ASCII letters, digits and . _ - @, not starting with - . or @, not only digits)"
        ))
    }
}

// ---------------------------------------------------------------------------------------------
// The PAM transaction

/// Answers PAM's prompts with the username and password; keeps its messages.
struct Conv {
    username: CString,
    password: CString,
    messages: Vec<String>,
}

/// Frees the first `n` answers and the array.
unsafe fn free_replies(replies: *mut ffi::pam_response, n: usize) {
    for i in 0..n {
        // SAFETY: `replies` holds at least `n` zero-initialised or filled entries.
        let reply = unsafe { &mut *replies.add(i) };
        if !reply.resp.is_null() {
            // SAFETY: allocated by strdup below.
            unsafe { libc::free(reply.resp.cast()) };
        }
    }
    // SAFETY: allocated by calloc in `converse`.
    unsafe { libc::free(replies.cast()) };
}

/// The conversation function PAM calls. Echo-off prompts get the password, echo-on prompts the
/// username; error and info messages are kept; anything else ends the conversation.
unsafe extern "C" fn converse(
    num_msg: c_int,
    msg: *mut *const ffi::pam_message,
    resp: *mut *mut ffi::pam_response,
    appdata: *mut c_void,
) -> c_int {
    if num_msg <= 0
        || num_msg > ffi::PAM_MAX_NUM_MSG
        || msg.is_null()
        || resp.is_null()
        || appdata.is_null()
    {
        return ffi::PAM_CONV_ERR;
    }
    let n = num_msg as usize;
    // SAFETY: appdata is the `Conv` that `run_pam` handed to pam_start; PAM calls us from the
    // thread that runs the transaction, while `run_pam` waits for it.
    let conv = unsafe { &mut *appdata.cast::<Conv>() };
    // SAFETY: PAM frees the answers (and each string) with free().
    let replies: *mut ffi::pam_response =
        unsafe { libc::calloc(n, std::mem::size_of::<ffi::pam_response>()) }.cast();
    if replies.is_null() {
        return ffi::PAM_BUF_ERR;
    }
    for i in 0..n {
        // SAFETY: Linux-PAM passes an array of `num_msg` pointers to messages.
        let message = unsafe { &**msg.add(i) };
        let answer = match message.msg_style {
            ffi::PAM_PROMPT_ECHO_OFF => Some(conv.password.as_ptr()),
            ffi::PAM_PROMPT_ECHO_ON => Some(conv.username.as_ptr()),
            ffi::PAM_ERROR_MSG | ffi::PAM_TEXT_INFO => {
                if !message.msg.is_null() {
                    // SAFETY: a NUL-terminated string from PAM.
                    let text = unsafe { CStr::from_ptr(message.msg) };
                    conv.messages
                        .push(text.to_string_lossy().trim().to_string());
                }
                None
            }
            _ => {
                // SAFETY: the first i entries are ours.
                unsafe { free_replies(replies, i) };
                return ffi::PAM_CONV_ERR;
            }
        };
        if let Some(answer) = answer {
            // SAFETY: `answer` is a NUL-terminated string owned by `conv`.
            let copy = unsafe { libc::strdup(answer) };
            if copy.is_null() {
                // SAFETY: as above.
                unsafe { free_replies(replies, i) };
                return ffi::PAM_BUF_ERR;
            }
            // SAFETY: i < n entries were allocated.
            unsafe { (*replies.add(i)).resp = copy };
        }
    }
    // SAFETY: `resp` is PAM's out pointer.
    unsafe { *resp = replies };
    ffi::PAM_SUCCESS
}

/// Which call of the transaction gave the final code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Start,
    Authenticate,
    Account,
}

/// How a PAM transaction ended.
#[derive(Debug)]
pub struct PamRun {
    pub code: PamReturnCode,
    pub step: Step,
    /// What PAM's modules said (error and info messages).
    pub messages: Vec<String>,
}

impl PamRun {
    pub fn ok(&self) -> bool {
        self.code == PamReturnCode::Success
    }
}

/// pam_start with the user set, so no module has to ask for it. (`pam::start` of pam 0.8 passes
/// a pointer to a freed string as the user; its `Client` therefore passes none.)
fn start<'a>(
    service: &str,
    user: &CStr,
    conv: &ffi::pam_conv,
) -> Result<&'a mut pam::PamHandle, PamReturnCode> {
    let service = CString::new(service).map_err(|_| PamReturnCode::Buf_Err)?;
    let mut handle: *mut pam::PamHandle = std::ptr::null_mut();
    // SAFETY: valid NUL-terminated strings and conversation; PAM copies all three.
    let code = unsafe { ffi::pam_start(service.as_ptr(), user.as_ptr(), conv, &mut handle) };
    match PamReturnCode::from(code) {
        // SAFETY: PAM returned a handle, which lives until pam_end.
        PamReturnCode::Success if !handle.is_null() => Ok(unsafe { &mut *handle }),
        PamReturnCode::Success => Err(PamReturnCode::System_Err),
        other => Err(other),
    }
}

/// Authentication and account management of `username` with `service`. Blocks.
pub fn run_pam(service: &str, username: &str, password: &str) -> PamRun {
    let failed = |code| PamRun {
        code,
        step: Step::Start,
        messages: Vec::new(),
    };
    let (Ok(user), Ok(pass)) = (CString::new(username), CString::new(password)) else {
        return failed(PamReturnCode::Buf_Err);
    };
    let conv = Box::into_raw(Box::new(Conv {
        username: user.clone(),
        password: pass,
        messages: Vec::new(),
    }));
    let pam_conv = ffi::pam_conv {
        conv: Some(converse),
        appdata_ptr: conv.cast(),
    };
    let (code, step) = match start(service, &user, &pam_conv) {
        Err(code) => (code, Step::Start),
        Ok(handle) => {
            let flags = PamFlag::Disallow_Null_AuthTok;
            let mut code = pam::authenticate(handle, flags);
            let mut step = Step::Authenticate;
            if code == PamReturnCode::Success {
                code = pam::acct_mgmt(handle, flags);
                step = Step::Account;
            }
            pam::end(handle, code);
            (code, step)
        }
    };
    // SAFETY: PAM is done with the conversation (pam_end returned, or pam_start failed).
    let conv = unsafe { Box::from_raw(conv) };
    PamRun {
        code,
        step,
        messages: conv.messages,
    }
}

/// What the account step (pam_acct_mgmt) refused, read from its code and from what PAM said:
/// Debian's common-account turns every refusal into PAM_AUTH_ERR (through pam_deny), so the
/// message of pam_unix is often the only clue. Messages are in English: calcweb never calls
/// setlocale, so PAM's gettext stays in the C locale.
fn account_refusal(run: &PamRun) -> Option<Reason> {
    use PamReturnCode as C;
    if run.step != Step::Account || run.ok() {
        return None;
    }
    let says = |needle: &str| {
        run.messages
            .iter()
            .any(|m| m.to_ascii_lowercase().contains(needle))
    };
    Some(match run.code {
        C::Acct_Expired => "pam_account_expired",
        C::New_Authtok_Reqd | C::AuthTok_Expired => "pam_password_expired",
        _ if says("account has expired") => "pam_account_expired",
        _ if says("password has expired") || says("change your password") => "pam_password_expired",
        C::Auth_Err | C::Perm_Denied => "pam_account_refused",
        _ => return None,
    })
}

/// The access log's reason for a failed run.
pub fn reason(run: &PamRun) -> Reason {
    use PamReturnCode as C;
    if let Some(refusal) = account_refusal(run) {
        return refusal;
    }
    match run.code {
        C::Auth_Err => "pam_auth_failed",
        C::User_Unknown => "pam_user_unknown",
        C::Acct_Expired => "pam_account_expired",
        C::New_Authtok_Reqd | C::AuthTok_Expired => "pam_password_expired",
        C::Perm_Denied => "pam_permission_denied",
        C::MaxTries => "pam_maxtries",
        C::Authinfo_Unavail | C::Cred_Insufficient => "pam_authinfo_unavail",
        _ => "pam_error",
    }
}

// ---------------------------------------------------------------------------------------------
// Unix groups

/// The names of the unix groups of `username` (primary and supplementary), sorted; empty when
/// the system has no such user.
pub fn unix_groups(username: &str) -> Vec<String> {
    let Ok(Some(user)) = nix::unistd::User::from_name(username) else {
        return Vec::new();
    };
    let Ok(name) = CString::new(username) else {
        return Vec::new();
    };
    let gids = nix::unistd::getgrouplist(&name, user.gid).unwrap_or_else(|_| vec![user.gid]);
    let names: BTreeSet<String> = gids
        .into_iter()
        .filter_map(|gid| nix::unistd::Group::from_gid(gid).ok().flatten())
        .map(|g| g.name)
        .collect();
    names.into_iter().collect()
}

/// Whether the calcweb group `name` is one that `map_unix_groups` manages.
fn mapped_name(cfg: &PamConfig, name: &str) -> bool {
    (cfg.groups_allow.is_empty() || cfg.groups_allow.iter().any(|g| g == name))
        && (cfg.groups_prefix.is_empty() || name.starts_with(&cfg.groups_prefix))
        && check_group_name(name).is_ok()
}

/// The calcweb groups that `unix` maps to (same names), sorted.
pub fn mapped_groups(cfg: &PamConfig, unix: &[String]) -> Vec<String> {
    unix.iter()
        .filter(|g| mapped_name(cfg, g))
        .cloned()
        .collect()
}

/// The superuser groups among `unix`.
fn superuser_groups_of(cfg: &PamConfig, unix: &[String]) -> Vec<String> {
    cfg.superuser_groups
        .iter()
        .filter(|g| unix.contains(g))
        .cloned()
        .collect()
}

/// Makes the user's memberships of mapped groups equal to their mapped unix groups.
fn sync_groups(conn: &mut DbConn, cfg: &PamConfig, user_id: i64, unix: &[String]) -> AppResult<()> {
    let wanted = mapped_groups(cfg, unix);
    let current = Group::of_user(conn, user_id)?;
    for group in &current {
        if mapped_name(cfg, &group.name) && !wanted.contains(&group.name) {
            Group::remove_member(conn, group.id, user_id)?;
        }
    }
    for name in &wanted {
        if !current.iter().any(|g| &g.name == name) {
            let (group, _) = Group::find_or_create(conn, name)?;
            Group::add_member(conn, group.id, user_id)?;
        }
    }
    Ok(())
}

/// The first field of the GECOS entry: the person's name, if the system knows it.
fn full_name(username: &str) -> String {
    nix::unistd::User::from_name(username)
        .ok()
        .flatten()
        .map(|u| {
            let gecos = u.gecos.to_string_lossy().into_owned();
            let name = gecos.split(',').next().unwrap_or("").trim();
            name.chars().filter(|c| !c.is_control()).take(150).collect()
        })
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// Login

/// Authenticates `username` with PAM and returns the calcweb user (created on first login).
/// Blocks; the reason of a failure is for the access log only.
pub fn login(
    conn: &mut DbConn,
    cfg: &PamConfig,
    username: &str,
    password: &str,
) -> AppResult<Result<User, Reason>> {
    if check_unix_username(username).is_err() {
        return Ok(Err("pam_bad_username"));
    }
    if password.is_empty() || password.contains('\0') {
        return Ok(Err("pam_auth_failed"));
    }
    let existing = User::find_by_username(conn, username)?;
    if existing
        .as_ref()
        .is_some_and(|u| u.login_source != SOURCE_PAM)
    {
        return Ok(Err("not_a_pam_account"));
    }
    let run = run_pam(&cfg.service, username, password);
    if !run.ok() {
        let why = reason(&run);
        if why == "pam_error" {
            tracing::warn!(
                "PAM service {:?}: {:?} failed with {} for {username:?}; run `calcweb manage check-pam {username}` to see why",
                cfg.service,
                run.step,
                run.code
            );
        }
        return Ok(Err(why));
    }
    let mut user = match existing {
        Some(user) => user,
        None => match User::create_pam(conn, username, &full_name(username)) {
            Ok(user) => user,
            // Created meanwhile by a parallel login (or an admin): only a PAM account will do.
            Err(AppError::Conflict(_)) => match User::find_by_username(conn, username)? {
                Some(user) if user.login_source == SOURCE_PAM => user,
                _ => return Ok(Err("not_a_pam_account")),
            },
            Err(e) => return Err(e),
        },
    };
    if !user.is_active {
        return Ok(Err("inactive"));
    }
    if cfg.map_unix_groups || !cfg.superuser_groups.is_empty() {
        let unix = unix_groups(username);
        if cfg.map_unix_groups {
            sync_groups(conn, cfg, user.id, &unix)?;
        }
        if !user.is_superuser && !superuser_groups_of(cfg, &unix).is_empty() {
            User::set_superuser(conn, user.id, true)?;
            user.is_superuser = true;
        }
    }
    Ok(Ok(user))
}

// ---------------------------------------------------------------------------------------------
// Set-up checks: `calcweb manage check-pam` and the start-up warnings of `serve`

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
    fn unix_usernames() {
        for ok in ["bob", "bob.smith", "b_ob-2", "bob@example.org", "_svc"] {
            assert!(check_unix_username(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "-bob",
            ".bob",
            "@bob",
            "12345",
            "bob smith",
            "bob:x",
            "bøb",
            "bob/..",
            "bob\n",
        ] {
            assert!(check_unix_username(bad).is_err(), "{bad:?}");
        }
        assert!(check_unix_username(&"a".repeat(129)).is_err());
    }

    #[test]
    fn the_filter_decides_which_groups_are_mapped() {
        let unix: Vec<String> = ["bob", "calc_physics", "calc_chem", "sudo"]
            .map(String::from)
            .to_vec();
        let mut cfg = PamConfig::default();
        assert_eq!(mapped_groups(&cfg, &unix), unix);
        cfg.groups_prefix = "calc_".into();
        assert_eq!(mapped_groups(&cfg, &unix), ["calc_physics", "calc_chem"]);
        cfg.groups_allow = vec!["calc_chem".into(), "sudo".into()];
        assert_eq!(mapped_groups(&cfg, &unix), ["calc_chem"]);
        cfg.groups_prefix.clear();
        assert_eq!(mapped_groups(&cfg, &unix), ["calc_chem", "sudo"]);
    }

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
