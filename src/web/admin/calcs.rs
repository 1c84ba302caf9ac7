//! /admin/calcs/: every calculation, with the filters of /engine/ (status, running or not,
//! calculator, owner, description), sorting and 50 a page; abort, remove (after confirmation)
//! and reassign to another owner. Abort and remove go through the same functions as the API
//! and /engine/ (a superuser has every right there); each action gets an audit entry.

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

use super::Superuser;
use super::helpers::{ConfirmPage, Fields, Pager, answer, done, refused, when};
use crate::actions::calcs as calc_actions;
use crate::error::{AppError, AppResult};
use crate::models::User;
use crate::models::calc::{Calc, Status};
use crate::models::paging::{PER_PAGE, Paged, page_count, page_number, parse_sort};
use crate::state::AppState;
use crate::web::api::calcs::ListParams;
use crate::web::calcs::actions::{Action, Question};
use crate::web::calcs::{describe, status_label};
use crate::web::context::PageCtx;
use crate::web::csrf::CsrfForm;
use crate::web::html;
use crate::web::login::EmptyForm;
use crate::web::query::{self, query_string, text, with_query, with_sort};

/// The sort keys of the column headers (`-` first = descending); newest first by default.
const SORTS: &[&str] = &[
    "id",
    "user",
    "calculator",
    "description",
    "created",
    "status",
];
const DEFAULT_SORT: &str = "-id";

/// The query keys of the list, kept when an action comes back to it.
const LIST_KEYS: &[&str] = &[
    "status",
    "running",
    "calculator",
    "owner",
    "q",
    "sort",
    "page",
];

#[derive(Deserialize, Default)]
pub struct ListQuery {
    status: Option<String>,
    /// yes = not finished, no = finished.
    running: Option<String>,
    calculator: Option<String>,
    /// Part of the owner's username.
    owner: Option<String>,
    /// Words in the description.
    q: Option<String>,
    sort: Option<String>,
    page: Option<String>,
}

/// One calculation as a row of the list.
pub struct Row {
    pub id: i64,
    pub user_id: i64,
    pub owner: String,
    pub calculator: String,
    pub description: String,
    pub status: String,
    pub label: &'static str,
    pub progress: i32,
    pub running: bool,
    pub created: String,
}

#[derive(Template)]
#[template(path = "admin/calcs.html")]
struct ListPage {
    page: PageCtx,
    nav: &'static str,
    rows: Vec<Row>,
    statuses: [Status; 6],
    calculators: Vec<String>,
    status: String,
    running: String,
    calculator: String,
    owner: String,
    q: String,
    /// The sort as requested, e.g. "-id".
    sort: String,
    /// Query string of the filters, without sort and page.
    filters: String,
    /// `?back=...`: this very list, for the action pages to come back to.
    back: String,
    pager: Pager,
}

impl ListPage {
    fn sort_link(&self, key: &str) -> String {
        query::sort_link(&self.filters, &self.sort, key, &["id", "created"])
    }

    fn sort_mark(&self, key: &str) -> &'static str {
        query::sort_mark(&self.sort, key)
    }

    fn filtered(&self) -> bool {
        !self.filters.is_empty()
    }
}

/// The list's query string rebuilt from `back`, keeping only the list's own keys.
fn list_query(back: &str) -> String {
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(back.as_bytes())
        .filter(|(k, v)| LIST_KEYS.contains(&k.as_ref()) && !v.is_empty())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let refs: Vec<(&str, &str)> = pairs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    query_string(&refs)
}

/// The list (without the prefix), with the filters `back` carries.
fn list_path(back: &str) -> String {
    match list_query(back) {
        q if q.is_empty() => "/admin/calcs/".into(),
        q => format!("/admin/calcs/?{q}"),
    }
}

/// `?back=<list query>` for an action page, or "" when the list had no query.
fn back_param(list_query: &str) -> String {
    if list_query.is_empty() {
        String::new()
    } else {
        format!("?{}", query_string(&[("back", list_query)]))
    }
}

#[get("/calcs/")]
async fn list(
    req: HttpRequest,
    admin: Superuser,
    query: web::Query<ListQuery>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let (status_filter, running, calculator, owner, q) = (
        text(&query.status),
        text(&query.running),
        text(&query.calculator),
        text(&query.owner),
        text(&query.q),
    );
    let running = if matches!(running.as_str(), "yes" | "no") {
        running
    } else {
        String::new()
    };
    let (key, desc) = match parse_sort(query.sort.as_deref(), SORTS, "") {
        ("", _) => ("id", true),
        sorted => sorted,
    };
    let sort = if desc {
        format!("-{key}")
    } else {
        key.to_string()
    };
    // The same filters as /engine/ and /v1/calc/list; a bad status is a 400 that says why.
    let params = ListParams {
        status: Some(status_filter.clone()),
        is_running: Some(
            match running.as_str() {
                "yes" => "true",
                "no" => "false",
                _ => "",
            }
            .to_string(),
        ),
        calculation_mode: Some(calculator.clone()),
        user_name_like: Some(owner.clone()),
        q: Some(q.clone()),
        order_by: Some(key.to_string()),
        order_dir: Some(if desc { "desc" } else { "asc" }.to_string()),
        ..Default::default()
    };
    let mut list_query = params.to_query(PER_PAGE)?;
    let requested = page_number(query.page.as_deref());
    let viewer = admin.0.clone();
    let (total, page_no, rows) = state
        .db
        .run(move |conn| {
            let total = Calc::count(conn, &viewer, &list_query)?;
            let pages = page_count(total, PER_PAGE);
            let page_no = requested.min(pages);
            list_query.offset = (page_no - 1) * PER_PAGE;
            Ok((total, page_no, Calc::list(conn, &viewer, &list_query)?))
        })
        .await?;
    let rows = rows
        .into_iter()
        .map(|r| Row {
            id: r.calc.id,
            user_id: r.calc.user_id,
            label: status_label(r.calc.status),
            running: r.calc.is_running(),
            created: when(&r.calc.created_at),
            progress: r.calc.progress,
            calculator: r.calc.calculator,
            description: r.calc.description,
            status: r.calc.status.to_string(),
            owner: r.owner,
        })
        .collect();
    let filters = query_string(&[
        ("status", &status_filter),
        ("running", &running),
        ("calculator", &calculator),
        ("owner", &owner),
        ("q", &q),
    ]);
    let base = with_sort(&filters, &sort, DEFAULT_SORT);
    let paged: Paged<()> = Paged {
        items: Vec::new(),
        total,
        page: page_no,
        per_page: PER_PAGE,
    };
    let pager = Pager::new(&paged, &base);
    let here = if page_no > 1 {
        with_query(&base, &format!("page={page_no}"))
    } else {
        with_query(&base, "")
    };
    html(
        200,
        &ListPage {
            page: PageCtx::new(&req),
            nav: "calcs",
            rows,
            statuses: Status::ALL,
            calculators: state.config.calculator_names(),
            status: status_filter,
            running,
            calculator,
            owner,
            q,
            sort,
            filters,
            back: back_param(here.trim_start_matches('?')),
            pager,
        },
    )
}

#[derive(Deserialize)]
pub struct BackParam {
    back: Option<String>,
}

impl BackParam {
    fn list_query(&self) -> String {
        list_query(self.back.as_deref().unwrap_or(""))
    }
}

/// The calculation with its owner's name; 404 when there is none.
async fn load(state: &AppState, id: i64) -> AppResult<(Calc, String)> {
    state
        .db
        .run(move |conn| {
            Calc::find_with_owner(conn, id)?
                .ok_or_else(|| AppError::NotFound(format!("There is no calculation {id}.")))
        })
        .await
}

// --- abort, remove -------------------------------------------------------------------------

#[get("/calcs/{id:\\d+}/{action:(abort|remove)}/")]
async fn confirm_page(
    req: HttpRequest,
    _admin: Superuser,
    path: web::Path<(i64, String)>,
    back: web::Query<BackParam>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let (id, action) = parse_action(path.into_inner())?;
    let listed = back.list_query();
    let (calc, owner) = load(&state, id).await?;
    if let Err(e) = action.check_state(&calc) {
        return refused(&state, e, &list_path(&listed));
    }
    let what = describe(&calc, &owner);
    // Aborting asks what /engine/ asks; removing here also says whose files go.
    let Question {
        title,
        lines,
        button,
        ..
    } = match action {
        Action::Remove => Question {
            title: format!("Remove calculation {id}?"),
            lines: vec![
                format!(
                    "This deletes {what}: its log, its outputs and its files (inputs and results) on the server."
                ),
                format!("{owner} loses it too. This cannot be undone."),
            ],
            button: "Remove it and its files",
            danger: true,
        },
        other => other.question(id, &what),
    };
    html(
        200,
        &ConfirmPage {
            page: PageCtx::new(&req),
            nav: "calcs",
            title,
            lines,
            action: format!(
                "/admin/calcs/{id}/{}/{}",
                action.name(),
                back_param(&listed)
            ),
            cancel: list_path(&listed),
            button: button.into(),
        },
    )
}

#[post("/calcs/{id:\\d+}/{action:(abort|remove)}/")]
async fn act(
    admin: Superuser,
    path: web::Path<(i64, String)>,
    back: web::Query<BackParam>,
    _form: CsrfForm<EmptyForm>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let (id, action) = parse_action(path.into_inner())?;
    let to = list_path(&back.list_query());
    load(&state, id).await?; // a calculation that does not exist is a 404 here
    let result = action.run(&state, &admin.0, &admin.actor(), id).await;
    let result = result.map(|message| match action {
        Action::Remove => format!("{message} Its files were deleted."),
        _ => message,
    });
    answer(&state, result, &to)
}

/// The calculation's id and the action of `/admin/calcs/<id>/<action>/`.
fn parse_action((id, name): (i64, String)) -> AppResult<(i64, Action)> {
    Ok((id, Action::parse(&name).ok_or_else(AppError::not_found)?))
}

// --- reassign -------------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "admin/calc_reassign.html")]
struct ReassignPage {
    page: PageCtx,
    nav: &'static str,
    what: String,
    id: i64,
    owner: String,
    username: String,
    errors: Vec<String>,
    action: String,
    cancel: String,
}

#[get("/calcs/{id:\\d+}/reassign/")]
async fn reassign_page(
    req: HttpRequest,
    _admin: Superuser,
    id: web::Path<i64>,
    back: web::Query<BackParam>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let (calc, owner) = load(&state, id.into_inner()).await?;
    reassign_form(
        &req,
        &calc,
        owner,
        &back.list_query(),
        String::new(),
        Vec::new(),
    )
}

/// The form that gives calculation `calc` to another owner, with what was typed and what is
/// wrong with it (400 then).
fn reassign_form(
    req: &HttpRequest,
    calc: &Calc,
    owner: String,
    listed: &str,
    username: String,
    errors: Vec<String>,
) -> AppResult<HttpResponse> {
    let id = calc.id;
    html(
        if errors.is_empty() { 200 } else { 400 },
        &ReassignPage {
            page: PageCtx::new(req),
            nav: "calcs",
            what: describe(calc, &owner),
            id,
            owner,
            username,
            errors,
            action: format!("/admin/calcs/{id}/reassign/{}", back_param(listed)),
            cancel: list_path(listed),
        },
    )
}

#[post("/calcs/{id:\\d+}/reassign/")]
async fn reassign(
    req: HttpRequest,
    admin: Superuser,
    id: web::Path<i64>,
    back: web::Query<BackParam>,
    form: CsrfForm<Vec<(String, String)>>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let id = id.into_inner();
    let listed = back.list_query();
    let username = Fields(form.0).text("username");
    let (calc, owner) = load(&state, id).await?;
    let wanted = username.clone();
    let heir = state
        .db
        .run(move |conn| User::find_by_username(conn, &wanted))
        .await?;
    let problem = match &heir {
        _ if username.is_empty() => Some("Enter the username of the new owner.".to_string()),
        None => Some(format!(
            "There is no user {username:?}; enter the username of an existing account."
        )),
        Some(heir) if heir.id == calc.user_id => Some(format!(
            "Calculation {id} already belongs to {:?}.",
            heir.username
        )),
        Some(_) => None,
    };
    let heir = match (problem, heir) {
        (None, Some(heir)) => heir,
        (problem, _) => {
            let errors = problem.into_iter().collect();
            return reassign_form(&req, &calc, owner, &listed, username, errors);
        }
    };
    let (owner_name, heir_row) = (owner.clone(), heir.clone());
    admin
        .change(&state, move |conn, actor| {
            calc_actions::reassign(conn, actor, id, &owner_name, &heir_row)
        })
        .await?;
    Ok(done(
        &state,
        format!(
            "Calculation {id} now belongs to {:?} (it belonged to {owner:?}).",
            heir.username
        ),
        &list_path(&listed),
    ))
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(list)
        .service(confirm_page)
        .service(act)
        .service(reassign_page)
        .service(reassign);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn back_keeps_only_the_list_keys() {
        assert_eq!(
            list_path("status=complete&page=2&next=//evil.example&sort=-id"),
            "/admin/calcs/?status=complete&page=2&sort=-id"
        );
        assert_eq!(list_path(""), "/admin/calcs/");
        assert_eq!(list_path("x=1"), "/admin/calcs/");
        assert_eq!(back_param("q=a+b&page=2"), "?back=q%3Da%2Bb%26page%3D2");
        assert_eq!(list_query("q=a%2Bb+c&page=2"), "q=a%2Bb+c&page=2");
        assert_eq!(back_param(""), "");
    }
}
