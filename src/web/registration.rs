//! New accounts by email: the sign-up form and activation links (`[registration] mode =
//! "open"`), and the page of an invitation link that creates an account in a group.

use actix_session::Session;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use actix_web_flash_messages::FlashMessage;
use askama::Template;
use diesel::Connection;
use serde::Deserialize;
use time::Duration;

use crate::actions::accounts::{self, NewAccount, Origin};
use crate::config::RegistrationMode;
use crate::error::{AppError, AppResult};
use crate::mail::limit::{self, Verdict};
use crate::mail::messages;
use crate::models::User;
use crate::models::activation::{Activation, ActivationToken};
use crate::models::audit::{Actor, AuditEntry, Target};
use crate::models::email::Email;
use crate::models::invitation::{Invitation, Lookup};
use crate::models::user::{UserChanges, check_username};
use crate::state::AppState;
use crate::web::client;
use crate::web::context::PageCtx;
use crate::web::csrf::CsrfForm;
use crate::web::html;
use crate::web::login::start_session;
use crate::web::new_password::{MISMATCH, NewPassword};
use crate::web::password_reset::MessagePage;
use crate::web::{redirect_to, site_path};

fn registration_open(state: &AppState) -> AppResult<()> {
    if state.config.registration.mode == RegistrationMode::Open {
        Ok(())
    } else {
        Err(AppError::NotFound(
            "This site does not take sign-ups; ask an administrator for an account.".into(),
        ))
    }
}

#[derive(Template)]
#[template(path = "accounts/register.html")]
struct RegisterPage {
    page: PageCtx,
    username: String,
    email: String,
    min_length: usize,
    errors: Vec<String>,
}

#[derive(Deserialize)]
pub struct RegisterForm {
    username: Option<String>,
    email: Option<String>,
    password1: Option<String>,
    password2: Option<String>,
}

#[get("/accounts/register/")]
async fn register_page(req: HttpRequest, state: web::Data<AppState>) -> AppResult<HttpResponse> {
    registration_open(&state)?;
    html(
        200,
        &RegisterPage {
            page: PageCtx::new(&req),
            username: String::new(),
            email: String::new(),
            min_length: state.config.passwords.min_length,
            errors: Vec::new(),
        },
    )
}

/// What a sign-up did, besides the same answer for everyone.
enum SignUp {
    Done,
    Wait(u64),
    UsernameTaken,
}

#[post("/accounts/register/")]
async fn register_submit(
    req: HttpRequest,
    form: CsrfForm<RegisterForm>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    registration_open(&state)?;
    let form = form.0;
    let username = form.username.unwrap_or_default().trim().to_string();
    let email = form.email.unwrap_or_default().trim().to_string();
    let new = NewPassword::new(form.password1, form.password2);
    let mut errors = Vec::new();
    if let Err(e) = check_username(&username) {
        errors.push(e);
    }
    if !crate::mail::is_address(&email) {
        errors.push("Enter an email address like name@example.org.".into());
    }
    errors.extend(new.problems(&state.config, &username, &email, MISMATCH));
    let show = |errors: Vec<String>, username: String, email: String| {
        html(
            400,
            &RegisterPage {
                page: PageCtx::new(&req),
                username,
                email,
                min_length: state.config.passwords.min_length,
                errors,
            },
        )
    };
    if !errors.is_empty() {
        return show(errors, username, email);
    }
    // The cheap checks first, so a flood of sign-ups costs no password hashing.
    let ip = client::ip_string(&req);
    let (st, name, address) = (state.clone(), username.clone(), email.clone());
    let first = state
        .db
        .run(move |conn| {
            if let Some(wait) = limit::client(conn, &st.config, &ip)? {
                return Ok(Some(SignUp::Wait(wait)));
            }
            if User::find_by_username(conn, &name)?.is_some() {
                return Ok(Some(SignUp::UsernameTaken));
            }
            if !limit::to_address(conn, &st.config, &address)? {
                return Ok(Some(SignUp::Done));
            }
            let existing = User::find_by_email(conn, &address)?;
            if !existing.is_empty() {
                // Tell the owner of the address instead of saying so here.
                let names = existing.into_iter().map(|u| u.username).collect();
                let message = messages::already_registered(&st.config, &address, names)?;
                Email::queue(conn, &message)?;
                return Ok(Some(SignUp::Done));
            }
            Ok(None)
        })
        .await?;
    let outcome = match first {
        Some(outcome) => outcome,
        None => create_account(&req, &state, username.clone(), email.clone(), new).await?,
    };
    match outcome {
        SignUp::UsernameTaken => show(
            vec![format!(
                "The username {username:?} is already taken; choose another."
            )],
            username,
            email,
        ),
        SignUp::Wait(wait) => Err(limit::too_many(wait)),
        SignUp::Done => {
            state.wake_mail();
            Ok(redirect_to(&state, "/accounts/register/done/"))
        }
    }
}

/// Creates the inactive account and queues its activation email.
async fn create_account(
    req: &HttpRequest,
    state: &AppState,
    name: String,
    address: String,
    new: NewPassword,
) -> AppResult<SignUp> {
    let hash = new.hash().await?;
    let ip = client::ip_string(req);
    let st = state.clone();
    state
        .db
        .run(move |conn| {
            let valid_for = Duration::days(i64::from(st.config.registration.activation_days));
            let created = conn.transaction(|conn| {
                let account = NewAccount {
                    fields: UserChanges {
                        username: name.clone(),
                        email: address.clone(),
                        level: 1,
                        ..Default::default()
                    },
                    password_hash: hash.clone(),
                    origin: Origin::SignUp,
                    ..Default::default()
                };
                let user = accounts::create(conn, &Actor::visitor(ip.clone()), &account)?;
                let token = ActivationToken::create(conn, user.id, valid_for)?;
                let message = messages::activation(&st.config, &address, &name, &token)?;
                Email::queue(conn, &message)?;
                Ok::<_, AppError>(())
            });
            match created {
                Ok(()) => Ok(SignUp::Done),
                // Taken by someone else at the same moment.
                Err(AppError::Conflict(_)) => Ok(SignUp::UsernameTaken),
                Err(e) => Err(e),
            }
        })
        .await
}

#[get("/accounts/register/done/")]
async fn register_done(req: HttpRequest, state: web::Data<AppState>) -> AppResult<HttpResponse> {
    registration_open(&state)?;
    let days = state.config.registration.activation_days;
    let validity = format!(
        "Open the link in it within {days} day{} to activate your account; until then you cannot log in.",
        if days == 1 { "" } else { "s" }
    );
    let page = MessagePage::new(
        &req,
        "Check your email",
        &[
            "We have sent an email to the address you gave.",
            &validity,
            "No email within a few minutes? Check your spam folder, or have it sent again.",
        ],
    )
    .link(
        site_path(&state, "/accounts/activate/resend/"),
        "Send the activation email again",
    );
    html(200, &page)
}

#[derive(Template)]
#[template(path = "accounts/activation_resend.html")]
struct ResendPage {
    page: PageCtx,
    email: String,
    errors: Vec<String>,
}

#[derive(Deserialize)]
pub struct EmailForm {
    email: Option<String>,
}

#[get("/accounts/activate/resend/")]
async fn resend_page(req: HttpRequest, state: web::Data<AppState>) -> AppResult<HttpResponse> {
    registration_open(&state)?;
    html(
        200,
        &ResendPage {
            page: PageCtx::new(&req),
            email: String::new(),
            errors: Vec::new(),
        },
    )
}

#[post("/accounts/activate/resend/")]
async fn resend_submit(
    req: HttpRequest,
    form: CsrfForm<EmailForm>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    registration_open(&state)?;
    let email = form.0.email.unwrap_or_default().trim().to_string();
    if !crate::mail::is_address(&email) {
        return html(
            400,
            &ResendPage {
                page: PageCtx::new(&req),
                email,
                errors: vec!["Enter an email address like name@example.org.".into()],
            },
        );
    }
    let ip = client::ip_string(&req);
    let st = state.clone();
    let verdict = state
        .db
        .run(move |conn| {
            let verdict = limit::check(conn, &st.config, &ip, &email)?;
            if verdict != Verdict::Send {
                return Ok(verdict);
            }
            let valid_for = Duration::days(i64::from(st.config.registration.activation_days));
            for user in User::find_by_email(conn, &email)? {
                // Only sign-ups never activated: not accounts an administrator deactivated.
                if !ActivationToken::awaits_activation(conn, &user)? {
                    continue;
                }
                let token = ActivationToken::create(conn, user.id, valid_for)?;
                let message =
                    messages::activation(&st.config, &user.email, &user.username, &token)?;
                Email::queue(conn, &message)?;
            }
            Ok(verdict)
        })
        .await?;
    if let Verdict::Wait(wait) = verdict {
        return Err(limit::too_many(wait));
    }
    state.wake_mail();
    Ok(redirect_to(&state, "/accounts/register/done/"))
}

#[derive(Template)]
#[template(path = "accounts/activate.html")]
struct ActivatePage {
    page: PageCtx,
    token: String,
    username: String,
}

/// The page for a link that cannot activate anything, saying why.
fn activation_refused(
    req: &HttpRequest,
    state: &AppState,
    what: &Activation,
) -> AppResult<HttpResponse> {
    let login = site_path(state, "/accounts/login/");
    let resend = site_path(state, "/accounts/activate/resend/");
    let page = match what {
        Activation::Used => MessagePage::new(
            req,
            "This link has been used",
            &["The account is active already (an activation link works once): log in."],
        )
        .link(login, "Log in"),
        Activation::Expired => MessagePage::new(
            req,
            "This link has expired",
            &["Activation links work for a limited time. Have a new one sent to your address."],
        )
        .link(resend, "Send the activation email again"),
        Activation::Deactivated => MessagePage::new(
            req,
            "This account has been deactivated",
            &[
                "An administrator deactivated it; an activation link cannot undo that. Ask an administrator.",
            ],
        ),
        _ => MessagePage::new(
            req,
            "This link does not work",
            &["It is not a valid activation link; check that it was copied whole."],
        )
        .link(resend, "Send the activation email again"),
    };
    html(400, &page)
}

async fn lookup_activation(state: &AppState, token: &str) -> AppResult<Activation> {
    let token = token.to_string();
    state
        .db
        .run(move |conn| ActivationToken::lookup(conn, &token))
        .await
}

#[get("/accounts/activate/{token}/")]
async fn activate_page(
    req: HttpRequest,
    token: web::Path<String>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    // A GET only shows a button: mail scanners that open links must not use them up.
    match lookup_activation(&state, &token).await? {
        Activation::Valid(_, user) => html(
            200,
            &ActivatePage {
                page: PageCtx::new(&req),
                token: token.into_inner(),
                username: user.username,
            },
        ),
        other => activation_refused(&req, &state, &other),
    }
}

#[derive(Deserialize)]
pub struct EmptyForm {}

#[post("/accounts/activate/{token}/")]
async fn activate_submit(
    req: HttpRequest,
    token: web::Path<String>,
    _form: CsrfForm<EmptyForm>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let (found, user) = match lookup_activation(&state, &token).await? {
        Activation::Valid(found, user) => (found, user),
        other => return activation_refused(&req, &state, &other),
    };
    let actor = client::actor(&req, &user);
    let target = Target::user(&user);
    let activated = state
        .db
        .run(move |conn| {
            conn.transaction(|conn| {
                if !ActivationToken::activate(conn, &found)? {
                    return Ok(false);
                }
                AuditEntry::record(conn, &actor, "user.activate", &target, "by activation link")?;
                Ok(true)
            })
        })
        .await?;
    if !activated {
        return activation_refused(&req, &state, &Activation::Used);
    }
    FlashMessage::success(format!(
        "Your account {:?} is active; log in.",
        user.username
    ))
    .send();
    Ok(redirect_to(&state, "/accounts/login/"))
}

// ---------------------------------------------------------------------------------------------
// Invitations

#[derive(Template)]
#[template(path = "accounts/invite.html")]
struct InvitePage {
    page: PageCtx,
    token: String,
    email: String,
    inviter: String,
    group: Option<String>,
    username: String,
    full_name: String,
    min_length: usize,
    errors: Vec<String>,
}

#[derive(Deserialize)]
pub struct InviteForm {
    username: Option<String>,
    full_name: Option<String>,
    password1: Option<String>,
    password2: Option<String>,
}

fn invitation_refused(
    req: &HttpRequest,
    state: &AppState,
    what: &Lookup,
) -> AppResult<HttpResponse> {
    let page = match what {
        Lookup::Used => MessagePage::new(
            req,
            "This invitation has been used",
            &["An invitation creates one account, and this one has been created: log in with it."],
        )
        .link(site_path(state, "/accounts/login/"), "Log in"),
        Lookup::Expired => MessagePage::new(
            req,
            "This invitation has expired",
            &["Invitations work for a limited time; ask whoever invited you for a new one."],
        ),
        _ => MessagePage::new(
            req,
            "This invitation does not work",
            &[
                "It is not a valid invitation link (or it was withdrawn); check that it was copied whole, or ask for a new one.",
            ],
        ),
    };
    html(400, &page)
}

async fn lookup_invitation(state: &AppState, token: &str) -> AppResult<Lookup> {
    let token = token.to_string();
    state
        .db
        .run(move |conn| Invitation::lookup(conn, &token))
        .await
}

#[get("/accounts/invite/{token}/")]
async fn invite_page(
    req: HttpRequest,
    token: web::Path<String>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let row = match lookup_invitation(&state, &token).await? {
        Lookup::Valid(row) => row,
        other => return invitation_refused(&req, &state, &other),
    };
    html(
        200,
        &InvitePage {
            page: PageCtx::new(&req),
            token: token.into_inner(),
            email: row.invitation.email,
            inviter: row.invitation.invited_by_name,
            group: row.group,
            username: String::new(),
            full_name: String::new(),
            min_length: state.config.passwords.min_length,
            errors: Vec::new(),
        },
    )
}

#[post("/accounts/invite/{token}/")]
async fn invite_submit(
    req: HttpRequest,
    session: Session,
    token: web::Path<String>,
    form: CsrfForm<InviteForm>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let row = match lookup_invitation(&state, &token).await? {
        Lookup::Valid(row) => row,
        other => return invitation_refused(&req, &state, &other),
    };
    let form = form.0;
    let username = form.username.unwrap_or_default().trim().to_string();
    let full_name = form.full_name.unwrap_or_default().trim().to_string();
    let new = NewPassword::new(form.password1, form.password2);
    let email = row.invitation.email.clone();
    let mut errors = Vec::new();
    if let Err(e) = check_username(&username) {
        errors.push(e);
    }
    if full_name.chars().count() > 150 {
        errors.push("The name is too long (150 characters at most).".into());
    }
    errors.extend(new.problems(&state.config, &username, &email, MISMATCH));
    let show = |errors: Vec<String>| {
        html(
            400,
            &InvitePage {
                page: PageCtx::new(&req),
                token: token.to_string(),
                email: email.clone(),
                inviter: row.invitation.invited_by_name.clone(),
                group: row.group.clone(),
                username: username.clone(),
                full_name: full_name.clone(),
                min_length: state.config.passwords.min_length,
                errors,
            },
        )
    };
    if !errors.is_empty() {
        return show(errors);
    }
    let hash = new.hash().await?;
    let ip = client::ip_string(&req);
    let (invitation, group) = (row.invitation.clone(), row.group.clone());
    let (name, full, address) = (username.clone(), full_name.clone(), email.clone());
    let created = state
        .db
        .run(move |conn| {
            conn.transaction(|conn| {
                let account = NewAccount {
                    fields: UserChanges {
                        username: name,
                        email: address,
                        full_name: full,
                        level: 1,
                        ..Default::default()
                    },
                    password_hash: hash,
                    group_ids: invitation.group_id.into_iter().collect(),
                    origin: Origin::Invitation {
                        from: invitation.invited_by_name.clone(),
                        group,
                    },
                };
                let user = accounts::create(conn, &Actor::visitor(ip), &account)?;
                User::record_login(conn, user.id)?;
                if !Invitation::use_once(conn, invitation.id, user.id)? {
                    // Used by a parallel submission (or withdrawn) meanwhile: undo.
                    return Err(AppError::Conflict("This invitation has been used.".into()));
                }
                Ok(user)
            })
        })
        .await;
    let user = match created {
        Ok(user) => user,
        Err(AppError::Conflict(message)) if message.contains("username") => {
            return show(vec![message]);
        }
        Err(AppError::Conflict(_)) => return invitation_refused(&req, &state, &Lookup::Used),
        Err(e) => return Err(e),
    };
    start_session(&req, &session, &user)?;
    let welcome = match &row.group {
        Some(group) => format!(
            "Welcome, {}! Your account is ready and you are a member of {group}.",
            user.username
        ),
        None => format!("Welcome, {}! Your account is ready.", user.username),
    };
    FlashMessage::success(welcome).send();
    Ok(redirect_to(&state, "/engine/"))
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    // The resend route comes before the token route, which would match it too.
    cfg.service(register_page)
        .service(register_submit)
        .service(register_done)
        .service(resend_page)
        .service(resend_submit)
        .service(activate_page)
        .service(activate_submit)
        .service(invite_page)
        .service(invite_submit);
}
