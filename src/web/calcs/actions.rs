//! Abort, remove, share, unshare, pin and unpin from the pages: `GET /engine/<id>/<action>/` asks for
//! confirmation (works without JavaScript), `POST` does it through the same functions as the
//! API (which check the permissions again) and comes back with a flash message. [`Action`]
//! serves the API and /admin/calcs/ too.

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use actix_web_flash_messages::FlashMessage;
use askama::Template;
use serde::Deserialize;

use super::describe;
use crate::actions::calcs as calc_actions;
use crate::actions::retention;
use crate::error::{AppError, AppResult};
use crate::models::User;
use crate::models::audit::Actor;
use crate::models::calc::{Access, Calc, Status};
use crate::state::AppState;
use crate::web::client;
use crate::web::context::PageCtx;
use crate::web::csrf::CsrfForm;
use crate::web::current_user::Authenticated;
use crate::web::html;
use crate::web::login::safe_next;
use crate::web::redirect;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Abort,
    Remove,
    Share,
    Unshare,
    /// Keep it against the retention policy (superusers).
    Pin,
    Unpin,
}

impl Action {
    pub fn parse(name: &str) -> Option<Action> {
        Some(match name {
            "abort" => Action::Abort,
            "remove" => Action::Remove,
            "share" => Action::Share,
            "unshare" => Action::Unshare,
            "pin" => Action::Pin,
            "unpin" => Action::Unpin,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Action::Abort => "abort",
            Action::Remove => "remove",
            Action::Share => "share",
            Action::Unshare => "unshare",
            Action::Pin => "pin",
            Action::Unpin => "unpin",
        }
    }

    /// Whether `access` lets the user do it at all.
    pub fn allowed(self, access: Access) -> bool {
        match self {
            Action::Abort => access.abort,
            Action::Remove => access.remove,
            Action::Share | Action::Unshare => access.share,
            Action::Pin | Action::Unpin => access.pin,
        }
    }

    /// Whether the user may do it at all (403 otherwise), with the sentence that says who may.
    fn check_allowed(self, access: Access, id: i64) -> AppResult<()> {
        if self.allowed(access) {
            return Ok(());
        }
        let who = match self {
            Action::Abort => "only its owner, their group-mates and superusers may abort it",
            Action::Remove => "only its owner and superusers may remove it",
            Action::Share | Action::Unshare => {
                "only its owner (with sharing rights) and superusers may change its sharing"
            }
            Action::Pin | Action::Unpin => {
                "only superusers may pin calculations against the retention policy; ask one"
            }
        };
        Err(AppError::Forbidden(format!(
            "You may not {} calculation {id}: {who}.",
            self.name()
        )))
    }

    /// Why it makes no sense in the calculation's current state, in a few words ("not
    /// running"); None when it does.
    pub fn state_refusal(self, calc: &Calc) -> Option<&'static str> {
        match self {
            Action::Abort if !calc.is_running() => Some("not running"),
            Action::Remove if calc.is_running() => Some("still running"),
            Action::Share if calc.status != Status::Complete => Some("not complete"),
            Action::Share if calc.is_shared => Some("already shared"),
            Action::Unshare if !calc.is_shared => Some("not shared"),
            Action::Pin if calc.is_pinned => Some("already pinned"),
            Action::Unpin if !calc.is_pinned => Some("not pinned"),
            _ => None,
        }
    }

    /// Whether it makes sense in the calculation's current state (409 otherwise).
    pub fn check_state(self, calc: &Calc) -> AppResult<()> {
        let Some(why) = self.state_refusal(calc) else {
            return Ok(());
        };
        let id = calc.id;
        Err(AppError::Conflict(match self {
            Action::Abort => format!(
                "Calculation {id} is not running (it is {}), so there is nothing to abort.",
                calc.status
            ),
            Action::Remove => format!("Calculation {id} is still running; abort it first."),
            Action::Share if calc.status != Status::Complete => format!(
                "Only complete calculations can be shared; {id} is {}.",
                calc.status
            ),
            _ => format!("Calculation {id} is {why}."),
        }))
    }

    /// What its confirmation page asks about `what` (calculation `id`).
    pub fn question(self, id: i64, what: &str) -> Question {
        let (title, lines, button, danger) = match self {
            Action::Abort => (
                format!("Abort calculation {id}?"),
                vec![
                    format!("This stops {what}."),
                    "Its process is stopped at once; what it computed so far is not kept as outputs, and it cannot be resumed.".into(),
                ],
                "Abort it",
                true,
            ),
            Action::Remove => (
                format!("Remove calculation {id}?"),
                vec![
                    format!("This deletes {what}: its log, its outputs and its input files."),
                    "This cannot be undone.".into(),
                ],
                "Remove it",
                true,
            ),
            Action::Share => (
                format!("Share calculation {id}?"),
                vec![
                    format!("Every user of this site will be able to see {what}, its log and its outputs."),
                    "You can stop sharing it at any time.".into(),
                ],
                "Share it",
                false,
            ),
            Action::Unshare => (
                format!("Stop sharing calculation {id}?"),
                vec![format!(
                    "Only the owner, their group-mates and superusers will see {what} again."
                )],
                "Stop sharing",
                false,
            ),
            Action::Pin => (
                format!("Pin calculation {id}?"),
                vec![
                    format!("The retention policy will keep {what}, whatever its age."),
                    "You can unpin it at any time.".into(),
                ],
                "Pin it",
                false,
            ),
            Action::Unpin => (
                format!("Unpin calculation {id}?"),
                vec![format!(
                    "The retention policy will apply to {what} again: once it is old enough, its owner is told, and it is removed some days later."
                )],
                "Unpin it",
                false,
            ),
        };
        Question {
            title,
            lines,
            button,
            danger,
        }
    }

    /// Does it, as `actor`, through `actions::calcs` (which checks the user's rights again);
    /// the sentence that says what happened.
    pub async fn run(
        self,
        state: &AppState,
        user: &User,
        actor: &Actor,
        id: i64,
    ) -> AppResult<String> {
        match self {
            Action::Abort => calc_actions::abort(state, user, actor, id).await,
            Action::Remove => calc_actions::remove(state, user, actor, id).await,
            Action::Share => calc_actions::set_shared(state, user, actor, id, true).await,
            Action::Unshare => calc_actions::set_shared(state, user, actor, id, false).await,
            Action::Pin | Action::Unpin => {
                let (user, actor, pinned) = (user.clone(), actor.clone(), self == Action::Pin);
                state
                    .db
                    .run(move |conn| retention::set_pinned(conn, &user, &actor, id, pinned))
                    .await
            }
        }
    }
}

/// What a confirmation page asks: its title, what will happen, the button, and whether the
/// button is dangerous (red).
pub struct Question {
    pub title: String,
    pub lines: Vec<String>,
    pub button: &'static str,
    pub danger: bool,
}

#[derive(Template)]
#[template(path = "calcs/confirm.html")]
struct ConfirmPage {
    page: PageCtx,
    title: String,
    lines: Vec<String>,
    button: &'static str,
    danger: bool,
    action: String,
    next: String,
    cancel: String,
}

#[derive(Deserialize)]
pub struct NextParam {
    next: Option<String>,
}

fn parse_action(name: &str) -> AppResult<Action> {
    Action::parse(name).ok_or_else(AppError::not_found)
}

/// Where to go afterwards: the `next` the page came from, else the calculation's page (the
/// list once it is removed).
fn destination(state: &AppState, next: Option<&str>, id: i64, removed: bool) -> String {
    let prefix = &state.config.server.path_prefix;
    let detail = format!("{prefix}/engine/{id}/");
    let next = next.map(str::trim).filter(|n| !n.is_empty());
    let to = match next {
        Some(n) => safe_next(Some(n), prefix),
        None if removed => format!("{prefix}/engine/"),
        None => detail.clone(),
    };
    if removed && to.starts_with(&detail) {
        format!("{prefix}/engine/")
    } else {
        to
    }
}

#[get("/engine/{id:\\d+}/{action:(abort|remove|share|unshare|pin|unpin)}/")]
pub async fn confirm(
    req: HttpRequest,
    user: Authenticated,
    path: web::Path<(i64, String)>,
    params: web::Query<NextParam>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let (id, name) = path.into_inner();
    let action = parse_action(&name)?;
    let user = user.0;
    let (calc, access, owner) = state
        .db
        .run(move |conn| Calc::load_with_owner(conn, &user, id))
        .await?;
    action.check_allowed(access, id)?;
    action.check_state(&calc)?;
    let Question {
        title,
        lines,
        button,
        danger,
    } = action.question(id, &describe(&calc, &owner));
    let next = params
        .next
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(|n| safe_next(Some(n), &state.config.server.path_prefix))
        .unwrap_or_default();
    let cancel = if next.is_empty() {
        format!("{}/engine/{id}/", state.config.server.path_prefix)
    } else {
        next.clone()
    };
    html(
        200,
        &ConfirmPage {
            page: PageCtx::new(&req),
            title,
            lines,
            button,
            danger,
            action: format!("/engine/{id}/{}/", action.name()),
            next,
            cancel,
        },
    )
}

#[derive(Deserialize)]
pub struct ActionForm {
    next: Option<String>,
}

#[post("/engine/{id:\\d+}/{action:(abort|remove|share|unshare|pin|unpin)}/")]
pub async fn act(
    req: HttpRequest,
    user: Authenticated,
    path: web::Path<(i64, String)>,
    form: CsrfForm<ActionForm>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let (id, name) = path.into_inner();
    let action = parse_action(&name)?;
    let user = user.0;
    let actor = client::actor(&req, &user);
    let result = action.run(&state, &user, &actor, id).await;
    let next = form.0.next;
    match result {
        Ok(message) => {
            FlashMessage::success(message).send();
            Ok(redirect(&destination(
                &state,
                next.as_deref(),
                id,
                action == Action::Remove,
            )))
        }
        // The state changed meanwhile (it finished, someone removed it...): say so on the page.
        Err(AppError::Conflict(message)) | Err(AppError::BadRequest(message)) => {
            FlashMessage::error(message).send();
            Ok(redirect(&destination(&state, next.as_deref(), id, false)))
        }
        Err(other) => Err(other),
    }
}
