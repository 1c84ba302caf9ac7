//! /admin/usage/: usage per user and per group, sortable, with who is near a limit; and the
//! quota forms of a user (/admin/users/<id>/quotas/) and a group (/admin/groups/<id>/quotas/).

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

use super::Superuser;
use super::helpers::{Fields, done};
use crate::actions::quotas::{self, GroupUsage, Meter, UserUsage, parse_setting, show_setting};
use crate::error::{AppError, AppResult};
use crate::models::User;
use crate::models::group::Group;
use crate::models::quota::{self as model, Quota, Settings};
use crate::state::AppState;
use crate::web::context::PageCtx;
use crate::web::csrf::CsrfForm;
use crate::web::html;
use crate::web::query;

/// The columns the usage page sorts by.
const SORTS: &[&str] = &["name", "running", "queued", "disk", "near"];

#[derive(Deserialize)]
pub struct UsageQuery {
    sort: Option<String>,
}

#[derive(Template)]
#[template(path = "admin/usage.html")]
struct UsagePage {
    page: PageCtx,
    nav: &'static str,
    users: Vec<UserUsage>,
    groups: Vec<GroupUsage>,
    /// e.g. "-disk".
    sort: String,
}

impl UsagePage {
    fn sort_link(&self, key: &str) -> String {
        query::sort_link("", &self.sort, key, &["running", "queued", "disk", "near"])
    }

    fn sort_mark(&self, key: &str) -> &'static str {
        query::sort_mark(&self.sort, key)
    }

    fn aria_sort(&self, key: &str) -> &'static str {
        query::sort_state(&self.sort, key)
    }

    fn cell(&self, meter: &Meter, quota: &Quota) -> String {
        meter.figure(*quota)
    }
}

/// Orders rows by `key` (then by name), descending when asked.
fn sort_rows<T>(
    rows: &mut [T],
    key: &str,
    desc: bool,
    name: fn(&T) -> &str,
    meter: fn(&T) -> &Meter,
) {
    rows.sort_by(|a, b| {
        let (ma, mb) = (meter(a), meter(b));
        let by = match key {
            "running" => ma.usage.running.cmp(&mb.usage.running),
            "queued" => ma.usage.queued.cmp(&mb.usage.queued),
            "disk" => ma.usage.disk_bytes.cmp(&mb.usage.disk_bytes),
            "near" => ma.near().cmp(&mb.near()),
            _ => std::cmp::Ordering::Equal,
        };
        let by = if desc { by.reverse() } else { by };
        by.then_with(|| name(a).cmp(name(b)))
    });
    if key == "name" && desc {
        rows.reverse();
    }
}

#[get("/usage/")]
async fn usage(
    req: HttpRequest,
    _admin: Superuser,
    params: web::Query<UsageQuery>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let (key, desc) = crate::models::paging::parse_sort(params.sort.as_deref(), SORTS, "name");
    let config = state.config.clone();
    let (mut users, mut groups) = state
        .db
        .read(move |conn| quotas::overview(conn, &config))
        .await?;
    sort_rows(&mut users, key, desc, |u| &u.username, |u| &u.meter);
    sort_rows(&mut groups, key, desc, |g| &g.name, |g| &g.meter);
    let sort = if desc {
        format!("-{key}")
    } else {
        key.to_string()
    };
    html(
        200,
        &UsagePage {
            page: PageCtx::new(&req),
            nav: "usage",
            users,
            groups,
            sort,
        },
    )
}

/// What a quota form edits.
enum Subject {
    User(User),
    Group(Group),
}

#[derive(Template)]
#[template(path = "admin/quotas.html")]
struct QuotaPage {
    page: PageCtx,
    nav: &'static str,
    /// "user alice" / "group physics".
    title: String,
    action: String,
    back: String,
    /// (field name, label, value as typed or stored, what applies when it is empty).
    rows: Vec<(String, String, String, String)>,
    errors: Vec<String>,
}

fn labels(quota: Quota) -> &'static str {
    match quota {
        Quota::Running => "Calculations running at once",
        Quota::Queued => "Calculations queued",
        Quota::Disk => "Disk (e.g. 50G)",
    }
}

async fn load(state: &AppState, subject: &str, id: i64) -> AppResult<Subject> {
    let group = subject == "groups";
    state
        .db
        .run(move |conn| {
            if group {
                Ok(Subject::Group(
                    Group::find(conn, id)?.ok_or_else(AppError::not_found)?,
                ))
            } else {
                Ok(Subject::User(
                    User::find(conn, id)?.ok_or_else(AppError::not_found)?,
                ))
            }
        })
        .await
}

async fn render(
    req: &HttpRequest,
    state: &AppState,
    subject: &Subject,
    typed: Option<&Fields>,
    errors: Vec<String>,
    status: u16,
) -> AppResult<HttpResponse> {
    let (path, title, id, group) = match subject {
        Subject::User(u) => ("users", format!("user {}", u.username), u.id, false),
        Subject::Group(g) => ("groups", format!("group {}", g.name), g.id, true),
    };
    let stored = state
        .db
        .run(move |conn| {
            if group {
                model::group_settings(conn, id)
            } else {
                model::user_settings(conn, id)
            }
        })
        .await?;
    let defaults = Settings::defaults(&state.config.quotas);
    let rows = Quota::ALL
        .into_iter()
        .map(|q| {
            let name = format!("max_{}", q.name());
            let value = match typed {
                Some(fields) => fields.text(&name),
                None => show_setting(q, stored.get(q)),
            };
            let otherwise = if group {
                "the group has no limit of its own".to_string()
            } else {
                match show_setting(q, defaults.get(q)) {
                    d if d.is_empty() || d == "none" => {
                        "the user's groups decide, else no limit".into()
                    }
                    d => format!("the user's groups decide, else the default: {d}"),
                }
            };
            (name, labels(q).to_string(), value, otherwise)
        })
        .collect();
    html(
        status,
        &QuotaPage {
            page: PageCtx::new(req),
            nav: if group { "groups" } else { "users" },
            title,
            action: format!("/admin/{path}/{id}/quotas/"),
            back: format!("/admin/{path}/{id}/"),
            rows,
            errors,
        },
    )
}

#[get("/{subject:users|groups}/{id:\\d+}/quotas/")]
async fn form(
    req: HttpRequest,
    _admin: Superuser,
    path: web::Path<(String, i64)>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let (subject, id) = path.into_inner();
    let subject = load(&state, &subject, id).await?;
    render(&req, &state, &subject, None, Vec::new(), 200).await
}

#[post("/{subject:users|groups}/{id:\\d+}/quotas/")]
async fn save(
    req: HttpRequest,
    admin: Superuser,
    path: web::Path<(String, i64)>,
    CsrfForm(fields): CsrfForm<Fields>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let (subject, id) = path.into_inner();
    let subject = load(&state, &subject, id).await?;
    let mut settings = Settings::default();
    let mut errors = Vec::new();
    for q in Quota::ALL {
        match parse_setting(q, &fields.text(&format!("max_{}", q.name()))) {
            Ok(v) => match q {
                Quota::Running => settings.max_running = v,
                Quota::Queued => settings.max_queued = v,
                Quota::Disk => settings.max_disk = v,
            },
            Err(e) => errors.push(e),
        }
    }
    if !errors.is_empty() {
        return render(&req, &state, &subject, Some(&fields), errors, 400).await;
    }
    let (message, to) = match &subject {
        Subject::User(u) => (
            format!("The quotas of {} were saved.", u.username),
            format!("/admin/users/{}/", u.id),
        ),
        Subject::Group(g) => (
            format!("The quotas of the group {} were saved.", g.name),
            format!("/admin/groups/{}/", g.id),
        ),
    };
    admin
        .change(&state, move |conn, actor| match &subject {
            Subject::User(u) => quotas::set_for_user(conn, actor, u, &settings),
            Subject::Group(g) => quotas::set_for_group(conn, actor, g, &settings),
        })
        .await?;
    Ok(done(&state, message, &to))
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(usage).service(form).service(save);
}
