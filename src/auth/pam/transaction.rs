//! One PAM transaction: the conversation that answers the username and the password and
//! collects what PAM says, and the reason a refusal is logged with.

use std::ffi::{CStr, CString, c_int, c_void};

use nix::libc;
use pam::ffi;
use pam::{PamFlag, PamReturnCode};

use crate::auth::Reason;

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
pub fn account_refusal(run: &PamRun) -> Option<Reason> {
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
