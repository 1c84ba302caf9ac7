//! `POST /engine/<id>/tags/`: the tag forms of a calculation's page (add a tag, take one off,
//! make the calculation a tag's preferred one or not), through the same audited actions as the
//! API (`actions::tags`, which checks the rights), back to the page with a flash message. Plain
//! forms with their CSRF field: they work without JavaScript.

use actix_web::{HttpRequest, HttpResponse, post, web};
use actix_web_flash_messages::FlashMessage;
use serde::Deserialize;

use crate::actions::tags;
use crate::error::{AppError, AppResult};
use crate::models::tag::Tag;
use crate::state::AppState;
use crate::web::client;
use crate::web::csrf::CsrfForm;
use crate::web::current_user::Authenticated;
use crate::web::redirect_to;

#[derive(Deserialize)]
pub struct TagForm {
    action: String,
    tag: String,
}

#[post("/engine/{id:\\d+}/tags/")]
pub async fn change_tags(
    req: HttpRequest,
    user: Authenticated,
    id: web::Path<i64>,
    form: CsrfForm<TagForm>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let id = id.into_inner();
    let user = user.0;
    let actor = client::actor(&req, &user);
    let TagForm { action, tag } = form.0;
    let tag = tag.trim().to_string();
    let result = state
        .db
        .run(move |conn| {
            let message = match action.as_str() {
                "add" => {
                    tags::add(conn, &actor, &user, id, &tag)?;
                    format!("Calculation {id} now has the tag {tag}.")
                }
                "remove" => {
                    tags::remove(conn, &actor, &user, id, &tag)?;
                    format!("The tag {tag} was taken off calculation {id}.")
                }
                "prefer" => {
                    tags::prefer(conn, &actor, &user, id, &tag)?;
                    format!("Calculation {id} is now the preferred one of tag {tag}.")
                }
                "unprefer" => {
                    // Only from this calculation's page, for a tag it is preferred for.
                    let preferred = Tag::of_calc(conn, id)?
                        .into_iter()
                        .any(|(t, preferred)| preferred && t == tag);
                    if !preferred {
                        return Err(AppError::Conflict(format!(
                            "Calculation {id} is not the preferred one of tag {tag}."
                        )));
                    }
                    tags::unprefer(conn, &actor, &user, &tag)?;
                    format!("Tag {tag} has no preferred calculation now.")
                }
                other => {
                    return Err(AppError::BadRequest(format!(
                        "{other:?} is not something the tag form does; reload the page and try again."
                    )));
                }
            };
            Ok(message)
        })
        .await;
    match result {
        Ok(message) => FlashMessage::success(message).send(),
        // Said on the page, next to the form: a bad name, a tag it has already, no right.
        Err(AppError::BadRequest(m) | AppError::Conflict(m) | AppError::Forbidden(m)) => {
            FlashMessage::error(m).send()
        }
        Err(other) => return Err(other),
    }
    Ok(redirect_to(&state, &format!("/engine/{id}/#tags")))
}
