//! The list of /admin/users/: search, filters, sorting, 50 a page.

use actix_web::{HttpRequest, HttpResponse, get, web};
use askama::Template;
use serde::Deserialize;

use crate::actions::accounts::level_name;
use crate::error::AppResult;
use crate::models::User;
use crate::models::group::Group;
use crate::models::paging::{page_number, parse_sort};
use crate::models::user::{USER_SORTS, UserFilter};
use crate::state::AppState;
use crate::web::admin::Superuser;
use crate::web::admin::helpers::Pager;
use crate::web::context::PageCtx;
use crate::web::html;
use crate::web::query::{self, query_string, text, with_sort};

/// The query string of /admin/users/: its filters, sort and page.
#[derive(Deserialize, Default)]
pub struct UsersQuery {
    q: Option<String>,
    active: Option<String>,
    superuser: Option<String>,
    source: Option<String>,
    group: Option<String>,
    sort: Option<String>,
    page: Option<String>,
}

#[derive(Template)]
#[template(path = "admin/users.html")]
struct ListPage {
    page: PageCtx,
    nav: &'static str,
    users: Vec<User>,
    groups: Vec<Group>,
    q: String,
    active: String,
    superuser: String,
    source: String,
    group: String,
    /// The sort as requested, e.g. "-username".
    sort: String,
    /// Query string of the filters, without sort and page.
    filters: String,
    pager: Pager,
}

impl ListPage {
    fn sort_link(&self, key: &str) -> String {
        query::sort_link(&self.filters, &self.sort, key, &[])
    }

    fn sort_mark(&self, key: &str) -> &'static str {
        query::sort_mark(&self.sort, key)
    }

    fn level_name(&self, level: &i32) -> &'static str {
        level_name(*level)
    }
}

/// "yes" -> Some(true), "no" -> Some(false), anything else -> any.
fn yes_no_filter(value: &str) -> Option<bool> {
    match value {
        "yes" => Some(true),
        "no" => Some(false),
        _ => None,
    }
}

#[get("/users/")]
async fn list(
    req: HttpRequest,
    _admin: Superuser,
    query: web::Query<UsersQuery>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let query = query.into_inner();
    let (q, active, superuser, source, group) = (
        text(&query.q),
        text(&query.active),
        text(&query.superuser),
        text(&query.source),
        text(&query.group),
    );
    let (sort_key, desc) = parse_sort(query.sort.as_deref(), USER_SORTS, "username");
    let sort = if desc {
        format!("-{sort_key}")
    } else {
        sort_key.to_string()
    };
    let filter = UserFilter {
        q: q.clone(),
        active: yes_no_filter(&active),
        superuser: yes_no_filter(&superuser),
        source: if matches!(source.as_str(), "local" | "pam") {
            source.clone()
        } else {
            String::new()
        },
        group_id: group.parse().ok(),
        sort: sort_key,
        desc,
    };
    let page_no = page_number(query.page.as_deref());
    let (paged, groups) = state
        .db
        .run(move |conn| Ok((User::list(conn, &filter, page_no)?, Group::all(conn)?)))
        .await?;
    let filters = query_string(&[
        ("q", &q),
        ("active", &active),
        ("superuser", &superuser),
        ("source", &source),
        ("group", &group),
    ]);
    let base = with_sort(&filters, &sort, "username");
    let pager = Pager::new(&paged, &base);
    html(
        200,
        &ListPage {
            page: PageCtx::new(&req),
            nav: "users",
            users: paged.items,
            groups,
            q,
            active,
            superuser,
            source,
            group,
            sort,
            filters,
            pager,
        },
    )
}

pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(list);
}
