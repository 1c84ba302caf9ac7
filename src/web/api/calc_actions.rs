//! `POST /v1/calc/<id>/abort`, `remove`, `share`, `unshare`, answered with OpenQuake's
//! sentences and status codes (`server/views.py` calc_abort, calc_remove, share_job and
//! `server/db/actions.py` del_calc, share_job), through the same audited actions as the
//! pages (`web::calcs::actions::Action::run`), whose own sentences the pages keep.
//!
//! Where OpenQuake lets anybody act (a level-2 user shares any calculation; it looks an
//! unknown job up before any permission check), calcweb's rules hold, worded in OpenQuake's
//! shape: a calculation the user may not see is answered as an unknown one.

use actix_web::{HttpRequest, HttpResponse, post, web};
use serde_json::json;

use super::calcs::load;
use crate::error::{AppError, AppResult};
use crate::models::User;
use crate::models::calc::{Access, Calc, Status};
use crate::state::AppState;
use crate::web::calcs::actions::Action;
use crate::web::client;
use crate::web::current_user::Authenticated;

fn success(message: String) -> HttpResponse {
    HttpResponse::Ok().json(json!({ "success": message }))
}

/// OpenQuake's `{"error": ...}` body, with its status code.
fn error(status: u16, message: String) -> HttpResponse {
    let status = actix_web::http::StatusCode::from_u16(status)
        .unwrap_or(actix_web::http::StatusCode::FORBIDDEN);
    HttpResponse::build(status).json(json!({ "error": message }))
}

#[post("/v1/calc/{id}/{action:(abort|remove|share|unshare)}")]
pub(super) async fn act(
    req: HttpRequest,
    user: Authenticated,
    path: web::Path<(i64, String)>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let (id, name) = path.into_inner();
    let action = Action::parse(&name).ok_or_else(AppError::not_found)?;
    let user = user.0;
    let share = match action {
        Action::Share => Some(true),
        Action::Unshare => Some(false),
        _ => None,
    };
    // OpenQuake's share_job answers a user below level 2 with a bare 403 before anything.
    if share.is_some() && user.level < 2 && !user.is_superuser {
        return Err(AppError::Forbidden(
            "Your account may not share calculations; ask an administrator for sharing rights (level 2).".into(),
        ));
    }
    let loaded = match load(&state, &user, id).await {
        Ok((calc, access, owner)) => Some((calc, access, owner)),
        Err(AppError::NotFound(_)) => None,
        Err(e) => return Err(e),
    };
    let actor = client::actor(&req, &user);
    let run = || action.run(&state, &user, &actor, id);
    match (action, loaded) {
        (Action::Abort, None) => Ok(error(200, format!("Unknown job {id}"))),
        (Action::Abort, Some((calc, access, _))) => {
            if !calc.is_running() {
                return Ok(error(200, format!("Job {id} is not running")));
            }
            if !access.abort {
                return Ok(no_abort(&user, id));
            }
            match run().await {
                Ok(_) => Ok(success(format!("Killing job {id}"))),
                Err(AppError::Conflict(_)) => Ok(error(200, format!("Job {id} is not running"))),
                Err(AppError::Forbidden(_)) => Ok(no_abort(&user, id)),
                Err(e) => Err(e),
            }
        }
        (Action::Remove, None) => Ok(error(
            403,
            format!("Cannot delete calculation {id}: ID does not exist"),
        )),
        (Action::Remove, Some((calc, access, owner))) => {
            if let Some(refusal) = why_not_remove(&user, &calc, access, &owner) {
                return Ok(error(403, refusal));
            }
            match run().await {
                Ok(_) => Ok(success(id.to_string())),
                Err(AppError::Conflict(m) | AppError::Forbidden(m)) => {
                    Ok(error(403, format!("Cannot delete calculation {id}: {m}")))
                }
                Err(AppError::NotFound(_)) => Ok(error(
                    403,
                    format!("Cannot delete calculation {id}: ID does not exist"),
                )),
                Err(e) => Err(e),
            }
        }
        (_, None) => Err(AppError::NotFound(format!(
            "There is no calculation {id} that you can see."
        ))),
        (_, Some((calc, access, _))) => {
            let share = share.unwrap_or(true);
            if let Some(refusal) = share_refusal(share, &calc, access) {
                return Ok(refusal);
            }
            let (id, before, after) = (calc.id, oq_status(&calc), new_status(share));
            match run().await {
                Ok(_) => Ok(success(format!(
                    "The status of calculation {id} was changed from \"{before}\" to \"{after}\""
                ))),
                Err(AppError::Conflict(_)) => Ok(error(
                    403,
                    format!(
                        "Can not change the status of calculation {id} from \"{before}\" to \"{after}\""
                    ),
                )),
                Err(e) => Err(e),
            }
        }
    }
}

fn no_abort(user: &User, id: i64) -> HttpResponse {
    error(
        403,
        format!("User {} has no permission to abort job {id}", user.username),
    )
}

/// Why `user` may not remove `calc` now, in OpenQuake's words where it has some.
fn why_not_remove(user: &User, calc: &Calc, access: Access, owner: &str) -> Option<String> {
    let id = calc.id;
    if !access.remove {
        return Some(if calc.user_id == user.id {
            format!(
                "Cannot delete calculation {id}: your account can only view calculations; ask an administrator to let you run them"
            )
        } else {
            format!(
                "Cannot delete calculation {id}: it belongs to {owner} and you are {}",
                user.username
            )
        });
    }
    calc.is_running()
        .then(|| format!("Cannot delete calculation {id}: it is still running; abort it first"))
}

/// The status OpenQuake would show: `shared` for a shared calculation.
fn oq_status(calc: &Calc) -> &'static str {
    if calc.is_shared {
        "shared"
    } else {
        calc.status.as_str()
    }
}

fn new_status(share: bool) -> &'static str {
    if share { "shared" } else { "complete" }
}

/// OpenQuake's answer when the change is not made: nothing to do, or a refusal.
fn share_refusal(share: bool, calc: &Calc, access: Access) -> Option<HttpResponse> {
    let id = calc.id;
    let (before, after) = (oq_status(calc), new_status(share));
    if !access.share {
        return Some(error(
            403,
            format!(
                "Can not change the status of calculation {id}: only its owner (with sharing rights) and superusers may"
            ),
        ));
    }
    if before == after {
        return Some(success(format!("Calculation {id} was already {before}")));
    }
    if before != "shared" && calc.status != Status::Complete {
        return Some(error(
            403,
            if share {
                format!("Can not share calculation {id} from status \"{before}\"")
            } else {
                format!(
                    "Can not force the status of calculation {id} from \"{before}\" to \"complete\""
                )
            },
        ));
    }
    None
}
