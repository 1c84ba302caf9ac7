//! /engine/: the calculations the user may see, 25 a page, with filters, sorting and per-row
//! actions (the rows are in `row`).

use actix_web::{HttpRequest, HttpResponse, get, web};
use askama::Template;
use serde::Deserialize;

use super::row::Row;
use super::waiting::{Queued, reasons};
use crate::actions::calcs as calc_actions;
use crate::error::AppResult;
use crate::models::calc::{ListQuery, OrderBy, Status};
use crate::models::paging::{page_count, page_number};
use crate::state::AppState;
use crate::web::context::PageCtx;
use crate::web::current_user::Authenticated;
use crate::web::html;
use crate::web::query::{self, query_string, text, with_query, with_sort};

pub const PER_PAGE: i64 = 25;

/// The sort keys of the column headers, and what they order by.
const SORTS: &[(&str, OrderBy)] = &[
    ("id", OrderBy::Id),
    ("user", OrderBy::Owner),
    ("calculator", OrderBy::Calculator),
    ("description", OrderBy::Description),
    ("started", OrderBy::StartTime),
    ("status", OrderBy::Status),
];

/// The status filters above the list: (value, label, the statuses they count).
pub const STATUS_FILTERS: &[(&str, &str, &[Status])] = &[
    ("", "All", &Status::ALL),
    ("running", "Not finished", &Status::RUNNING),
    ("submitted", "Queued", &[Status::Submitted]),
    ("executing", "Running", &[Status::Executing]),
    ("complete", "Complete", &[Status::Complete]),
    ("failed", "Failed", &[Status::Failed]),
    ("aborted", "Aborted", &[Status::Aborted]),
];

/// A link of the status filters or of "Everyone's" / "Mine": it applies at once.
pub struct FilterLink {
    pub label: &'static str,
    /// How many calculations it shows (None: not counted).
    pub count: Option<i64>,
    pub href: String,
    pub current: bool,
}

#[derive(Deserialize, Default)]
pub struct ListParams {
    page: Option<String>,
    sort: Option<String>,
    status: Option<String>,
    calculator: Option<String>,
    owner: Option<String>,
    q: Option<String>,
    tag: Option<String>,
    /// "1": only the viewer's own calculations.
    mine: Option<String>,
}

/// A link of the page navigation; `number` None is a gap ("…").
pub struct PageLink {
    pub number: Option<i64>,
    pub href: String,
    pub current: bool,
}

#[derive(Template)]
#[template(path = "calcs/list.html")]
struct ListPage {
    page: PageCtx,
    rows: Vec<Row>,
    total: i64,
    page_no: i64,
    pages: i64,
    links: Vec<PageLink>,
    prev: Option<String>,
    next: Option<String>,
    /// The filters as typed, for the form.
    status: String,
    calculator: String,
    owner: String,
    q: String,
    tag: String,
    calculators: Vec<String>,
    /// The status filters with their counts, and "Everyone's" / "Mine".
    status_links: Vec<FilterLink>,
    whose_links: Vec<FilterLink>,
    mine: bool,
    /// This page's path and query, where the bulk actions come back to.
    here: String,
    /// Whether a row has a checkbox (the bulk actions are shown).
    selectable: bool,
    /// Every tag, for the tag filter.
    tag_names: Vec<String>,
    /// The sort as requested, e.g. "-id".
    sort: String,
    /// Query string of the filters (without sort and page).
    filters: String,
    /// `?next=...` back to this very page, for the action links.
    back: String,
    may_run: bool,
    /// The usage meter: "2 of 4 running · 1 queued · 12.3 GiB of 50.0 GiB".
    usage: String,
    /// At 80 % of a limit or more.
    usage_near: bool,
}

impl ListPage {
    fn filtered(&self) -> bool {
        !self.filters.is_empty()
    }

    fn sort_link(&self, key: &str) -> String {
        query::sort_link(&self.filters, &self.sort, key, &["id", "started"])
    }

    fn aria_sort(&self, key: &str) -> &'static str {
        query::sort_state(&self.sort, key)
    }

    fn sort_mark(&self, key: &str) -> &'static str {
        query::sort_mark(&self.sort, key)
    }
}

/// `?next=<this page>` for links to pages that come back here.
pub fn back_to(req: &HttpRequest) -> String {
    format!("?{}", query_string(&[("next", &here(req))]))
}

/// This page's path and query.
fn here(req: &HttpRequest) -> String {
    match req.query_string() {
        "" => req.path().to_string(),
        q => format!("{}?{q}", req.path()),
    }
}

/// The sort key (`-` prefix = descending) and what it means; unknown keys give newest first.
fn parse_sort(raw: Option<&str>) -> (String, OrderBy, bool) {
    let raw = raw.unwrap_or("").trim();
    let (desc, key) = match raw.strip_prefix('-') {
        Some(key) => (true, key),
        None => (false, raw),
    };
    match SORTS.iter().find(|(k, _)| *k == key) {
        Some((_, by)) => (raw.to_string(), *by, desc),
        None => ("-id".into(), OrderBy::Id, true),
    }
}

/// Page numbers to show: the first, the last and two either side of the current one.
fn page_links(current: i64, pages: i64, link: impl Fn(i64) -> String) -> Vec<PageLink> {
    let mut out = Vec::new();
    let mut last_shown = 0;
    for n in 1..=pages {
        if n == 1 || n == pages || (n - current).abs() <= 2 {
            if n - last_shown > 1 {
                out.push(PageLink {
                    number: None,
                    href: String::new(),
                    current: false,
                });
            }
            out.push(PageLink {
                number: Some(n),
                href: link(n),
                current: n == current,
            });
            last_shown = n;
        }
    }
    out
}

#[get("/engine/")]
pub async fn list_page(
    req: HttpRequest,
    user: Authenticated,
    params: web::Query<ListParams>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let user = user.0;
    let (sort, order_by, descending) = parse_sort(params.sort.as_deref());
    let mine = text(&params.mine) == "1";
    let (status_filter, calculator, owner, q, tag) = (
        text(&params.status),
        text(&params.calculator),
        text(&params.owner),
        text(&params.q),
        text(&params.tag),
    );
    let mut query = ListQuery {
        include_shared: true,
        order_by,
        descending,
        limit: PER_PAGE,
        calculator: Some(calculator.clone()).filter(|c| !c.is_empty()),
        owner_like: Some(owner.clone()).filter(|o| !o.is_empty()),
        text: Some(q.clone()).filter(|t| !t.is_empty()),
        tag: Some(tag.clone()).filter(|t| !t.is_empty()),
        owner_id: mine.then_some(user.id),
        ..Default::default()
    };
    // Unknown statuses are ignored rather than refused: this is a page, not the API.
    let status_filter = if status_filter == "running" {
        query.is_running = Some(true);
        status_filter
    } else if Status::parse(&status_filter).is_some() {
        query.statuses = vec![status_filter.clone()];
        status_filter
    } else {
        String::new()
    };
    let requested_page = page_number(params.page.as_deref());
    let viewer = user.clone();
    let lists = state.lists.clone();
    let config = state.config.clone();
    let waiting_state = state.clone();
    let (counts, total, page_no, page, tag_names, meter, failures, waiting) = state
        .db
        .read(move |conn| {
            let stamp = lists.stamp(conn)?;
            // One grouped query gives the status filters' counts and the total.
            let counts = lists.status_counts(conn, stamp, &viewer, &query)?;
            let total = counts.matching(&query);
            let pages = page_count(total, PER_PAGE);
            let page_no = requested_page.min(pages);
            let page = ListQuery {
                offset: (page_no - 1) * PER_PAGE,
                ..query.clone()
            };
            let tag_names = lists.tag_names(conn, stamp)?;
            let page = lists.page(conn, stamp, &viewer, &page)?;
            let usage = lists.usage(conn, stamp, viewer.id)?;
            let limits = lists.limits(conn, stamp, &config.quotas, &viewer)?;
            let meter =
                crate::actions::quotas::meter_with(conn, &config, &viewer, usage, limits.to_vec())?;
            let failures = page.failures(conn)?;
            let queued: Vec<Queued> = page
                .rows
                .iter()
                .filter(|r| r.calc.status == Status::Submitted)
                .map(|r| Queued {
                    id: r.calc.id,
                    owner_id: r.calc.user_id,
                    owner: &r.owner,
                })
                .collect();
            let waiting = reasons(conn, &waiting_state, &viewer, &queued)?;
            Ok((
                counts, total, page_no, page, tag_names, meter, failures, waiting,
            ))
        })
        .await?;
    let mut waiting = waiting;
    let rows: Vec<Row> = page
        .rows
        .iter()
        .map(|r| {
            let access = r.access(&user, &page.mates);
            Row {
                failure: failures.get(&r.calc.id).cloned(),
                waiting: waiting.remove(&r.calc.id),
                ..Row::new(r.calc.clone(), r.owner.clone(), access)
            }
        })
        .collect();
    let pages = page_count(total, PER_PAGE);
    let filters_with = |status: &str, mine: bool| {
        query_string(&[
            ("status", status),
            ("mine", if mine { "1" } else { "" }),
            ("calculator", &calculator),
            ("owner", &owner),
            ("q", &q),
            ("tag", &tag),
        ])
    };
    let filters = filters_with(&status_filter, mine);
    let list_link = |query: String| {
        let query = with_sort(&query, &sort, "-id");
        if query.is_empty() {
            state.config.server.path_prefix.clone() + "/engine/"
        } else {
            format!("{}/engine/?{query}", state.config.server.path_prefix)
        }
    };
    let status_links = STATUS_FILTERS
        .iter()
        .map(|(value, label, statuses)| FilterLink {
            label,
            count: Some(counts.of(statuses)),
            href: list_link(filters_with(value, mine)),
            current: status_filter == *value,
        })
        .collect();
    let whose_links = [("Everyone’s", false), ("Mine", true)]
        .into_iter()
        .map(|(label, only_mine)| FilterLink {
            label,
            count: None,
            href: list_link(filters_with(&status_filter, only_mine)),
            current: mine == only_mine,
        })
        .collect();
    let selectable = rows.iter().any(Row::selectable);
    let base = with_sort(&filters, &sort, "-id");
    let link = |n: i64| {
        if n == 1 {
            with_query(&base, "")
        } else {
            with_query(&base, &format!("page={n}"))
        }
    };
    html(
        200,
        &ListPage {
            page: PageCtx::new(&req),
            links: page_links(page_no, pages, link),
            prev: (page_no > 1).then(|| link(page_no - 1)),
            next: (page_no < pages).then(|| link(page_no + 1)),
            rows,
            total,
            page_no,
            pages,
            status: status_filter,
            status_links,
            whose_links,
            mine,
            here: here(&req),
            selectable,
            calculator,
            owner,
            q,
            tag,
            tag_names: tag_names.to_vec(),
            calculators: state.config.calculator_names(),
            sort,
            filters,
            back: back_to(&req),
            may_run: calc_actions::check_may_run(&user).is_ok(),
            usage: meter.text(),
            usage_near: meter.near(),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts_are_whitelisted() {
        assert_eq!(parse_sort(None).0, "-id");
        assert_eq!(parse_sort(Some("user")).1, OrderBy::Owner);
        let (key, by, desc) = parse_sort(Some("-started"));
        assert_eq!(
            (key.as_str(), by, desc),
            ("-started", OrderBy::StartTime, true)
        );
        assert_eq!(parse_sort(Some("password")).0, "-id");
    }

    #[test]
    fn page_links_have_gaps() {
        let numbers = |current, pages| {
            page_links(current, pages, |n| n.to_string())
                .iter()
                .map(|l| l.number.map_or("…".to_string(), |n| n.to_string()))
                .collect::<Vec<_>>()
                .join(" ")
        };
        assert_eq!(numbers(1, 1), "1");
        assert_eq!(numbers(1, 10), "1 2 3 … 10");
        assert_eq!(numbers(6, 10), "1 … 4 5 6 7 8 … 10");
        assert_eq!(numbers(10, 10), "1 … 8 9 10");
    }
}
