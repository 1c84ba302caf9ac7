//! The list of /admin/calcs/: every calculation, with the filters of /engine/, sorting and
//! 50 a page.

use actix_web::{HttpRequest, HttpResponse, get, web};
use askama::Template;
use serde::Deserialize;

use super::back_param;
use crate::error::AppResult;
use crate::models::calc::{Calc, Status};
use crate::models::paging::{PER_PAGE, Paged, page_count, page_number, parse_sort};
use crate::state::AppState;
use crate::web::admin::Superuser;
use crate::web::admin::helpers::{Pager, when};
use crate::web::api::calc_list::ListParams;
use crate::web::calcs::status_label;
use crate::web::context::PageCtx;
use crate::web::html;
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

/// The query string of /admin/calcs/: its filters, sort and page.
#[derive(Deserialize, Default)]
pub struct CalcsQuery {
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

#[get("/calcs/")]
async fn list(
    req: HttpRequest,
    admin: Superuser,
    query: web::Query<CalcsQuery>,
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
        is_running: match running.as_str() {
            "yes" => Some("true".to_string()),
            "no" => Some("false".to_string()),
            _ => None,
        },
        calculation_mode: Some(calculator.clone()),
        q: Some(q.clone()),
        order_by: Some(key.to_string()),
        order_dir: Some(if desc { "desc" } else { "asc" }.to_string()),
        ..Default::default()
    };
    let mut list_query = params.to_query(PER_PAGE)?;
    // Part of a username here, where the API's user_name_like is OpenQuake's LIKE pattern.
    list_query.owner_like = Some(owner.clone()).filter(|o| !o.is_empty());
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

pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(list);
}
