//! The list's bulk actions (issue #19 §4): rows selected on /engine/, then Abort, Remove,
//! Share or Unshare. `GET /engine/bulk/?action=…&id=…` lists them and what will happen (no
//! JavaScript needed); `POST` (with the CSRF token) does it row by row through
//! [`Action::run`], the path of the single actions, which checks each row's permission and
//! writes its audit line, and comes back to the list with one line saying what was done and
//! what was refused.

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use actix_web_flash_messages::FlashMessage;
use askama::Template;
use serde::Deserialize;

use super::actions::Action;
use super::describe;
use crate::error::{AppError, AppResult};
use crate::models::User;
use crate::models::calc::{Access, Calc};
use crate::state::AppState;
use crate::web::client;
use crate::web::context::PageCtx;
use crate::web::csrf::CsrfForm;
use crate::web::current_user::Authenticated;
use crate::web::html;
use crate::web::login::safe_next;
use crate::web::redirect;

/// Calculations one bulk action takes at most.
pub const MAX_IDS: usize = 500;

/// The ids as sent (`id=1&id=2` from the list, `1,2` from the confirmation form): each once,
/// in their order; at most [`MAX_IDS`].
fn parse_ids<'a>(values: impl Iterator<Item = &'a str>) -> AppResult<Vec<i64>> {
    let mut ids: Vec<i64> = Vec::new();
    for value in values.flat_map(|v| v.split(',')).map(str::trim) {
        if value.is_empty() {
            continue;
        }
        let id: i64 = value.parse().map_err(|_| {
            AppError::BadRequest(format!(
                "{value:?} is not a calculation id; select the calculations on the list again."
            ))
        })?;
        if !ids.contains(&id) {
            ids.push(id);
        }
        if ids.len() > MAX_IDS {
            return Err(AppError::BadRequest(format!(
                "Select at most {MAX_IDS} calculations for one action; act on the others in a second go."
            )));
        }
    }
    Ok(ids)
}

fn parse_action(name: &str) -> AppResult<Action> {
    Action::parse(name).ok_or_else(|| {
        AppError::BadRequest(
            "Choose what to do with the selected calculations: Abort, Remove, Share, Unshare, Pin or Unpin."
                .into(),
        )
    })
}

/// Why `action` cannot be done to a calculation, in a few words; None: it can.
fn refusal(action: Action, user: &User, calc: &Calc, access: Access) -> Option<&'static str> {
    if !action.allowed(access) {
        return Some(if calc.user_id == user.id {
            "your account may not"
        } else {
            "not yours"
        });
    }
    action.state_refusal(calc)
}

/// One selected calculation on the confirmation page.
struct Item {
    id: i64,
    /// "calculation 5, “Hazard run” (example, by bob)"; empty when the user may not see it.
    what: String,
    refusal: Option<&'static str>,
}

/// Each of `ids` as the user may see it, with the reason it would be refused.
async fn items(
    state: &AppState,
    user: &User,
    action: Action,
    ids: Vec<i64>,
) -> AppResult<Vec<Item>> {
    let user = user.clone();
    state
        .db
        .run(move |conn| {
            let mut out = Vec::with_capacity(ids.len());
            for id in ids {
                out.push(match Calc::load_with_owner(conn, &user, id) {
                    Ok((calc, access, owner)) => Item {
                        id,
                        what: describe(&calc, &owner),
                        refusal: refusal(action, &user, &calc, access),
                    },
                    Err(AppError::NotFound(_)) => Item {
                        id,
                        what: String::new(),
                        refusal: Some("not found"),
                    },
                    Err(other) => return Err(other),
                });
            }
            Ok(out)
        })
        .await
}

/// What the confirmation says will happen, and its button.
fn consequence(action: Action) -> (&'static str, &'static str, &'static str) {
    match action {
        Action::Abort => (
            "Abort",
            "This stops them at once; what they computed so far is not kept as outputs, and they cannot be resumed.",
            "abort",
        ),
        Action::Remove => (
            "Remove",
            "This deletes them: their logs, their outputs and their input files. This cannot be undone.",
            "remove",
        ),
        Action::Share => (
            "Share",
            "Every user of this site will be able to see them, their logs and their outputs.",
            "share",
        ),
        Action::Unshare => (
            "Stop sharing",
            "Only their owners, the owners' group-mates and superusers will see them again.",
            "unshare",
        ),
        Action::Pin => (
            "Pin",
            "The retention policy will keep them until they are unpinned.",
            "pin",
        ),
        Action::Unpin => (
            "Unpin",
            "The retention policy may remove them again, after a notice to their owners.",
            "unpin",
        ),
    }
}

#[derive(Template)]
#[template(path = "calcs/bulk_confirm.html")]
struct ConfirmPage {
    page: PageCtx,
    title: String,
    line: &'static str,
    button: String,
    danger: bool,
    action: &'static str,
    items: Vec<Item>,
    /// The ids selected, for the form.
    ids: String,
    doable: usize,
    next: String,
}

/// Where to come back to: the list the rows were selected on.
fn back(state: &AppState, next: Option<&str>) -> String {
    safe_next(next, &state.config.server.path_prefix)
}

#[get("/engine/bulk/")]
pub async fn confirm(
    req: HttpRequest,
    user: Authenticated,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let user = user.0;
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(req.query_string().as_bytes())
        .into_owned()
        .collect();
    let value = |key: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    let next = back(&state, value("next"));
    let action = parse_action(value("action").unwrap_or(""))?;
    let ids = parse_ids(
        pairs
            .iter()
            .filter(|(k, _)| k == "id")
            .map(|(_, v)| v.as_str()),
    )?;
    if ids.is_empty() {
        FlashMessage::error(
            "Select calculations first: tick the box of each row, then choose what to do.",
        )
        .send();
        return Ok(redirect(&next));
    }
    let items = items(&state, &user, action, ids).await?;
    let doable = items.iter().filter(|i| i.refusal.is_none()).count();
    let (verb, line, name) = consequence(action);
    // All of them go on: each is checked again when it is done, and the result line names
    // the refused ones too.
    let ids = items
        .iter()
        .map(|i| i.id.to_string())
        .collect::<Vec<_>>()
        .join(",");
    html(
        200,
        &ConfirmPage {
            page: PageCtx::new(&req),
            title: match doable {
                0 => format!("{verb}: none of these can be done"),
                1 => format!("{verb} 1 calculation?"),
                n => format!("{verb} {n} calculations?"),
            },
            line,
            button: format!("{verb} {doable}"),
            danger: matches!(action, Action::Abort | Action::Remove),
            action: name,
            items,
            ids,
            doable,
            next,
        },
    )
}

#[derive(Deserialize)]
pub struct BulkForm {
    action: String,
    ids: String,
    next: Option<String>,
}

/// The past tense of an action, for the result line.
fn done_verb(action: Action) -> &'static str {
    match action {
        Action::Abort => "Aborted",
        Action::Remove => "Removed",
        Action::Share => "Shared",
        Action::Unshare => "Unshared",
        Action::Pin => "Pinned",
        Action::Unpin => "Unpinned",
    }
}

/// Refusals listed by id at most; the others are counted.
const LISTED: usize = 20;

/// "Removed 2; refused 3: calc 7 (not yours), calc 8 (still running), calc 9 (not found)."
pub fn result_line(action: Action, done: usize, refused: &[(i64, &str)]) -> String {
    let mut line = format!("{} {done}", done_verb(action));
    if !refused.is_empty() {
        let listed: Vec<String> = refused
            .iter()
            .take(LISTED)
            .map(|(id, why)| format!("calc {id} ({why})"))
            .collect();
        line.push_str(&format!(
            "; refused {}: {}",
            refused.len(),
            listed.join(", ")
        ));
        if refused.len() > LISTED {
            line.push_str(&format!(" and {} more", refused.len() - LISTED));
        }
    }
    line.push('.');
    line
}

#[post("/engine/bulk/")]
pub async fn act(
    req: HttpRequest,
    user: Authenticated,
    form: CsrfForm<BulkForm>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let user = user.0;
    let form = form.0;
    let action = parse_action(&form.action)?;
    let ids = parse_ids(std::iter::once(form.ids.as_str()))?;
    let next = back(&state, form.next.as_deref());
    let actor = client::actor(&req, &user);
    let mut done = 0;
    let mut refused: Vec<(i64, &str)> = Vec::new();
    // Each row is checked again now (it may have changed since the confirmation), then done
    // through the single action, which checks the user's rights once more and audits it.
    for item in items(&state, &user, action, ids).await? {
        if let Some(why) = item.refusal {
            refused.push((item.id, why));
            continue;
        }
        match action.run(&state, &user, &actor, item.id).await {
            Ok(_) => done += 1,
            Err(AppError::NotFound(_)) => refused.push((item.id, "not found")),
            Err(AppError::Forbidden(_)) => refused.push((item.id, "not allowed")),
            Err(AppError::Conflict(_)) => refused.push((item.id, "changed meanwhile")),
            Err(other) => return Err(other),
        }
    }
    let line = result_line(action, done, &refused);
    if done == 0 && !refused.is_empty() {
        FlashMessage::error(line).send();
    } else {
        FlashMessage::success(line).send();
    }
    Ok(redirect(&next))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_bounded_and_unique() {
        assert_eq!(
            parse_ids(["3", "1,3", " 2 "].into_iter()).unwrap(),
            vec![3, 1, 2]
        );
        assert!(parse_ids(["x"].into_iter()).is_err());
        let many: Vec<String> = (1..=MAX_IDS as i64 + 1).map(|i| i.to_string()).collect();
        assert!(parse_ids(many.iter().map(String::as_str)).is_err());
        assert!(parse_ids(many[..MAX_IDS].iter().map(String::as_str)).is_ok());
    }

    #[test]
    fn the_result_line_says_what_was_refused() {
        assert_eq!(result_line(Action::Remove, 2, &[]), "Removed 2.");
        assert_eq!(
            result_line(Action::Abort, 1, &[(7, "not yours"), (9, "not found")]),
            "Aborted 1; refused 2: calc 7 (not yours), calc 9 (not found)."
        );
    }
}
