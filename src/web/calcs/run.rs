//! /engine/run/: the "Run a calculation" form. The multipart POST goes through the same
//! upload and queue code as `POST /v1/calc/run`; refusals show the form again with the
//! message, the right status and what the user typed. When the .ini to run is not clear the
//! upload is kept and the user asked ([`super::choose`]).

use std::cell::RefCell;
use std::collections::HashMap;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use actix_multipart::Multipart;
use actix_web::http::ConnectionType;
use actix_web::http::header::HeaderMap;
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use actix_web_flash_messages::FlashMessage;
use askama::Template;
use futures_util::{Stream, StreamExt};

use crate::actions::calcs as calc_actions;
use crate::actions::resubmit::{self, Submitted};
use crate::calcs::upload;
use crate::config::CalculatorConfig;
use crate::error::{AppError, AppResult};
use crate::models::User;
use crate::state::AppState;
use crate::web::client;
use crate::web::context::PageCtx;
use crate::web::csrf;
use crate::web::current_user::Authenticated;
use crate::web::html;
use crate::web::redirect_to;

pub struct Choice {
    pub name: String,
    pub description: String,
}

#[derive(Template)]
#[template(path = "calcs/run.html")]
struct RunPage {
    page: PageCtx,
    calculators: Vec<Choice>,
    /// What the user typed or chose.
    calculator: String,
    description: String,
    job_ini: String,
    parent: ParentField,
    error: Option<String>,
    max_upload: String,
}

/// How many complete calculations the "Parent calculation" field offers.
pub const PARENT_CHOICES: i64 = 50;

/// The "Parent calculation" field: a choice among the recent complete calculations the user
/// may see, or a number typed (`hazard_job_number`, which wins).
pub struct ParentField {
    pub choices: Vec<(i64, String)>,
    /// The id chosen in the list, or typed when it is not in the list.
    pub chosen: String,
    pub number: String,
}

impl ParentField {
    pub async fn new(state: &AppState, user: &User, value: &str) -> AppResult<ParentField> {
        let choices = match calc_actions::check_may_run(user) {
            Ok(()) => resubmit::parent_choices(state, user, PARENT_CHOICES).await?,
            Err(_) => Vec::new(),
        };
        let value = value.trim().trim_start_matches('#').to_string();
        let listed = choices.iter().any(|(id, _)| id.to_string() == value);
        Ok(ParentField {
            number: if listed { String::new() } else { value.clone() },
            chosen: if listed { value } else { String::new() },
            choices,
        })
    }
}

/// The form's two parent fields as one `hazard_job_id`: the number typed, else the choice.
pub fn merge_parent(fields: &mut HashMap<String, String>) {
    let typed = fields
        .remove("hazard_job_number")
        .map(|n| n.trim().to_string())
        .filter(|n| !n.is_empty());
    if let Some(number) = typed {
        fields.insert("hazard_job_id".into(), number);
    }
}

/// The calculators `user` may run: those open to everyone, those of the user's groups, all
/// for superusers.
pub async fn runnable(state: &AppState, user: &User) -> AppResult<Vec<CalculatorConfig>> {
    let all = state.config.calculators.clone();
    if user.is_superuser || all.iter().all(|c| c.allowed_groups.is_empty()) {
        return Ok(all);
    }
    let viewer = user.clone();
    let groups = state.db.run(move |conn| viewer.group_names(conn)).await?;
    Ok(all
        .into_iter()
        .filter(|c| {
            c.allowed_groups.is_empty() || c.allowed_groups.iter().any(|g| groups.contains(g))
        })
        .collect())
}

async fn render(
    req: &HttpRequest,
    state: &AppState,
    user: &User,
    status: u16,
    fields: &HashMap<String, String>,
    error: Option<String>,
) -> AppResult<HttpResponse> {
    let calculators = runnable(state, user)
        .await?
        .into_iter()
        .map(|c| Choice {
            name: c.name,
            description: c.description,
        })
        .collect();
    let field = |name: &str| fields.get(name).cloned().unwrap_or_default();
    let parent = ParentField::new(state, user, &field("hazard_job_id")).await?;
    html(
        status,
        &RunPage {
            page: PageCtx::new(req),
            calculators,
            calculator: field("calculator"),
            description: field("description"),
            job_ini: field("job_ini"),
            parent,
            error,
            max_upload: upload::human_size(state.config.calcs.max_upload_size),
        },
    )
}

#[get("/engine/run/")]
pub async fn run_form(
    req: HttpRequest,
    user: Authenticated,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    calc_actions::check_may_run(&user.0)?;
    render(&req, &state, &user.0, 200, &HashMap::new(), None).await
}

/// The statuses a refusal is shown with; others (500, ...) become the error page.
pub fn form_status(e: &AppError) -> Option<u16> {
    Some(match e {
        AppError::BadRequest(_) => 400,
        AppError::Forbidden(_) => 403,
        AppError::NotFound(_) => 404,
        AppError::Conflict(_) => 409,
        AppError::TooLarge(_) => 413,
        AppError::Unavailable(_) => 503,
        AppError::StorageFull(_) => 507,
        _ => return None,
    })
}

#[post("/engine/run/")]
pub async fn run_submit(
    req: HttpRequest,
    user: Authenticated,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let user = user.0;
    calc_actions::check_may_run(&user)?;
    let tee = Tee::new(payload);
    let multipart = Multipart::new(req.headers(), tee.clone());
    let limits = &state.config.calcs;
    // The form sends its token first: a request without the right one is refused before any
    // of its files is read.
    let token_first = |fields: &HashMap<String, String>| {
        csrf::verify(
            &req,
            fields.get(csrf::FIELD).map(String::as_str).unwrap_or(""),
        )
    };
    let tmp = state.config.data_dir.join("tmp");
    let received = match upload::receive(multipart, &tmp, limits, token_first).await {
        Ok(received) => received,
        Err(refused) => {
            let Some(status) = form_status(&refused.error) else {
                return Err(refused.error);
            };
            // What the user typed came before the files: recover it from the start of the
            // body.
            let mut fields = tee.recover_fields(req.headers()).await;
            merge_parent(&mut fields);
            let message = Some(refused.error.to_string());
            let mut page = render(&req, &state, &user, status, &fields, message).await?;
            if refused.close {
                // A flood or a forged form: answered at once, the rest of it left unread.
                page.head_mut().set_connection_type(ConnectionType::Close);
            } else {
                // A browser may still be sending: read the rest so that it sees the answer.
                tee.drain(limits.max_upload_size.saturating_mul(2)).await;
            }
            return Ok(page);
        }
    };
    let mut received = received;
    merge_parent(&mut received.fields);
    let fields = received.fields.clone();
    csrf::verify(
        &req,
        fields.get(csrf::FIELD).map(String::as_str).unwrap_or(""),
    )?;
    // Checked: the token is not kept with an upload waiting for its job file (meta.json).
    received.fields.remove(csrf::FIELD);
    let actor = client::actor(&req, &user);
    match resubmit::queue_form(&state, &user, &actor, received).await {
        Ok(Submitted::Choose(token)) => {
            Ok(redirect_to(&state, &format!("/engine/run/choose/{token}/")))
        }
        Ok(Submitted::Queued(calc)) => Ok(to_submitted(&state, calc.id, None)),
        Err(e) => match form_status(&e) {
            Some(status) => render(&req, &state, &user, status, &fields, Some(e.to_string())).await,
            None => Err(e),
        },
    }
}

/// The answer to a form that queued calculation `id` (from the input of calculation `from`,
/// for "Run again"): its page, with a message that says so.
pub fn to_submitted(state: &AppState, id: i64, from: Option<i64>) -> HttpResponse {
    let input = from
        .map(|from| format!(" with the input of calculation {from}"))
        .unwrap_or_default();
    FlashMessage::success(format!(
        "Calculation {id} was submitted{input}; it starts as soon as a worker is free."
    ))
    .send();
    redirect_to(state, &format!("/engine/{id}/"))
}

/// How much of the start of the body is kept to recover the text fields after a refusal.
const KEPT_PREFIX: usize = 64 * 1024;

/// The request body as a stream that keeps a copy of its first bytes.
#[derive(Clone)]
struct Tee {
    inner: Rc<RefCell<web::Payload>>,
    prefix: Rc<RefCell<Vec<u8>>>,
}

impl Tee {
    fn new(payload: web::Payload) -> Tee {
        Tee {
            inner: Rc::new(RefCell::new(payload)),
            prefix: Rc::new(RefCell::new(Vec::new())),
        }
    }

    /// The complete text fields found in the kept start of the body.
    async fn recover_fields(&self, headers: &HeaderMap) -> HashMap<String, String> {
        let prefix = Bytes::from(self.prefix.borrow().clone());
        let stream = futures_util::stream::once(async move { Ok(prefix) });
        let mut multipart = Multipart::new(headers, stream);
        let mut fields = HashMap::new();
        while let Some(Ok(mut field)) = multipart.next().await {
            let is_file = field
                .content_disposition()
                .and_then(|cd| cd.get_filename())
                .is_some();
            let name = field.name().unwrap_or_default().to_string();
            let mut value = Vec::new();
            let mut complete = true;
            while let Some(chunk) = field.next().await {
                match chunk {
                    Ok(chunk) if !is_file && value.len() + chunk.len() <= KEPT_PREFIX => {
                        value.extend_from_slice(&chunk)
                    }
                    Ok(_) => {}
                    Err(_) => {
                        complete = false;
                        break;
                    }
                }
            }
            if !complete {
                break;
            }
            if !is_file && let Ok(text) = String::from_utf8(value) {
                fields.insert(name, text);
            }
        }
        fields
    }

    /// Reads and drops what is left of the body, up to `limit` bytes.
    async fn drain(&self, limit: u64) {
        let mut read: u64 = 0;
        while read < limit {
            let inner = self.inner.clone();
            let next =
                futures_util::future::poll_fn(move |cx| inner.borrow_mut().poll_next_unpin(cx))
                    .await;
            match next {
                Some(Ok(chunk)) => read += chunk.len() as u64,
                _ => break,
            }
        }
    }
}

impl Stream for Tee {
    type Item = Result<Bytes, actix_web::error::PayloadError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let polled = self.inner.borrow_mut().poll_next_unpin(cx);
        if let Poll::Ready(Some(Ok(chunk))) = &polled {
            let mut prefix = self.prefix.borrow_mut();
            let room = KEPT_PREFIX.saturating_sub(prefix.len());
            prefix.extend_from_slice(&chunk[..room.min(chunk.len())]);
        }
        polled
    }
}
