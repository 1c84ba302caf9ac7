//! /admin/users/: the list (search, filters, sorting, pages), creating and editing accounts.
//! The actions on one account (password, deactivate, delete, ...) are in `user_actions`.

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

use super::Superuser;
use super::helpers::{Fields, Pager, done, when_html};
use crate::actions::accounts::{LEVELS, NewAccount, Origin, level_name};
use crate::error::{AppError, AppResult};
use crate::models::User;
use crate::models::group::Group;
use crate::models::paging::{page_number, parse_sort};
use crate::models::session::SessionRow;
use crate::models::user::{OwnedCalcs, USER_SORTS, UserChanges, UserFilter};
use crate::state::AppState;
use crate::web::context::PageCtx;
use crate::web::csrf::CsrfForm;
use crate::web::html;
use crate::web::new_password::{MISMATCH, NewPassword};
use crate::web::query::{self, query_string, text, with_sort};

#[derive(Deserialize, Default)]
pub struct ListQuery {
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
    query: web::Query<ListQuery>,
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

/// What the create and edit forms show and send back.
#[derive(Debug, Clone, Default)]
pub struct UserForm {
    pub username: String,
    pub email: String,
    pub full_name: String,
    pub is_superuser: bool,
    pub level: i32,
    pub group_ids: Vec<i64>,
}

impl UserForm {
    fn of(user: &User, group_ids: Vec<i64>) -> UserForm {
        UserForm {
            username: user.username.clone(),
            email: user.email.clone(),
            full_name: user.full_name.clone(),
            is_superuser: user.is_superuser,
            level: user.level,
            group_ids,
        }
    }

    fn from_fields(fields: &Fields) -> UserForm {
        UserForm {
            username: fields.text("username"),
            email: fields.text("email"),
            full_name: fields.text("full_name"),
            is_superuser: fields.checked("is_superuser"),
            level: fields.text("level").parse().unwrap_or(-1),
            group_ids: fields.ids("groups"),
        }
    }

    fn changes(&self) -> UserChanges {
        UserChanges {
            username: self.username.clone(),
            email: self.email.clone(),
            full_name: self.full_name.clone(),
            is_superuser: self.is_superuser,
            level: self.level,
        }
    }

    fn in_group(&self, id: &i64) -> bool {
        self.group_ids.contains(id)
    }

    /// Problems a person can fix in the form, before the database is asked.
    fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if let Err(e) = crate::models::user::check_username(&self.username) {
            problems.push(e);
        }
        if !self.email.is_empty() && !self.email.contains('@') {
            problems.push("The email address needs an @; correct it or leave it empty.".into());
        }
        if crate::actions::accounts::check_level(self.level).is_err() {
            problems.push("Choose a level: view only, default or may share.".into());
        }
        problems
    }
}

#[derive(Template)]
#[template(path = "admin/user_new.html")]
struct NewPage {
    page: PageCtx,
    nav: &'static str,
    form: UserForm,
    all_groups: Vec<Group>,
    levels: &'static [(i32, &'static str)],
    errors: Vec<String>,
    min_length: usize,
}

#[get("/users/new/")]
async fn new_page(
    req: HttpRequest,
    _admin: Superuser,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let all_groups = state.db.run(Group::all).await?;
    html(
        200,
        &NewPage {
            page: PageCtx::new(&req),
            nav: "users",
            form: UserForm {
                level: 1,
                ..Default::default()
            },
            all_groups,
            levels: &LEVELS,
            errors: Vec::new(),
            min_length: state.config.passwords.min_length,
        },
    )
}

/// A rule the form broke, as (status, message); other errors stay errors.
fn form_problem(error: AppError) -> AppResult<(u16, String)> {
    match error {
        AppError::BadRequest(m) => Ok((400, m)),
        AppError::Conflict(m) => Ok((409, m)),
        other => Err(other),
    }
}

#[post("/users/new/")]
async fn create(
    req: HttpRequest,
    admin: Superuser,
    form: CsrfForm<Vec<(String, String)>>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let fields = Fields(form.0);
    let user_form = UserForm::from_fields(&fields);
    let new_password =
        NewPassword::new(Some(fields.raw("password1")), Some(fields.raw("password2")));
    let mut errors = user_form.problems();
    // The password is optional here: without one the account cannot log in yet.
    if !new_password.matches() {
        errors.push(MISMATCH.into());
    } else if !new_password.is_empty() {
        errors.extend(new_password.rule_problems(
            &state.config,
            &user_form.username,
            &user_form.email,
        ));
    }
    let mut status = 400;
    if errors.is_empty() {
        let hash = if new_password.is_empty() {
            String::new()
        } else {
            new_password.hash().await?
        };
        let account = NewAccount {
            fields: user_form.changes(),
            password_hash: hash,
            group_ids: user_form.group_ids.clone(),
            origin: Origin::Admin,
        };
        let created = admin
            .change(&state, move |conn, actor| {
                crate::actions::groups::find_all(conn, &account.group_ids)?;
                crate::actions::accounts::create(conn, actor, &account)
            })
            .await;
        match created {
            Ok(user) => {
                let how = if user.password_hash.is_empty() {
                    "; it cannot log in until a password is set"
                } else {
                    ""
                };
                let message = format!("User {:?} created{how}.", user.username);
                return Ok(done(&state, message, &format!("/admin/users/{}/", user.id)));
            }
            Err(e) => {
                let (code, message) = form_problem(e)?;
                status = code;
                errors.push(message);
            }
        }
    }
    let all_groups = state.db.run(Group::all).await?;
    html(
        status,
        &NewPage {
            page: PageCtx::new(&req),
            nav: "users",
            form: user_form,
            all_groups,
            levels: &LEVELS,
            errors,
            min_length: state.config.passwords.min_length,
        },
    )
}

#[derive(Template)]
#[template(path = "admin/user.html")]
struct DetailPage {
    page: PageCtx,
    nav: &'static str,
    user: User,
    form: UserForm,
    member_of: Vec<Group>,
    all_groups: Vec<Group>,
    levels: &'static [(i32, &'static str)],
    sessions: i64,
    calcs: OwnedCalcs,
    errors: Vec<String>,
}

impl DetailPage {
    fn created(&self) -> askama::filters::Safe<crate::web::calcs::TimeTag> {
        when_html(&self.user.created_at)
    }

    fn last_login(&self) -> askama::filters::Safe<String> {
        self.user.last_login.as_ref().map_or_else(
            || askama::filters::Safe("never".into()),
            |t| askama::filters::Safe(when_html(t).0.to_string()),
        )
    }
}

/// Loads what the user page shows; `form` replaces the stored values after a failed save.
async fn detail(
    req: &HttpRequest,
    state: &AppState,
    id: i64,
    form: Option<UserForm>,
    errors: Vec<String>,
    status: u16,
) -> AppResult<HttpResponse> {
    let (user, group_ids, all_groups, sessions, calcs) = state
        .db
        .run(move |conn| {
            let user = User::find(conn, id)?.ok_or_else(AppError::not_found)?;
            Ok((
                user,
                User::group_ids(conn, id)?,
                Group::all(conn)?,
                SessionRow::count_for_user(conn, id)?,
                User::owned_calcs(conn, id)?,
            ))
        })
        .await?;
    let member_of = all_groups
        .iter()
        .filter(|g| group_ids.contains(&g.id))
        .cloned()
        .collect();
    let form = form.unwrap_or_else(|| UserForm::of(&user, group_ids));
    html(
        status,
        &DetailPage {
            page: PageCtx::new(req),
            nav: "users",
            user,
            form,
            member_of,
            all_groups,
            levels: &LEVELS,
            sessions,
            calcs,
            errors,
        },
    )
}

#[get("/users/{id:\\d+}/")]
async fn show(
    req: HttpRequest,
    _admin: Superuser,
    id: web::Path<i64>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    detail(&req, &state, id.into_inner(), None, Vec::new(), 200).await
}

#[post("/users/{id:\\d+}/")]
async fn update(
    req: HttpRequest,
    admin: Superuser,
    id: web::Path<i64>,
    form: CsrfForm<Vec<(String, String)>>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let id = id.into_inner();
    let user_form = UserForm::from_fields(&Fields(form.0));
    let errors = user_form.problems();
    if !errors.is_empty() {
        return detail(&req, &state, id, Some(user_form), errors, 400).await;
    }
    let (changes, group_ids) = (user_form.changes(), user_form.group_ids.clone());
    let saved = admin
        .change(&state, move |conn, actor| {
            let user = User::find(conn, id)?.ok_or_else(AppError::not_found)?;
            crate::actions::groups::find_all(conn, &group_ids)?;
            crate::actions::accounts::update(conn, actor, &user, &changes, &group_ids)
        })
        .await;
    match saved {
        Ok(user) => Ok(done(
            &state,
            format!("User {:?} saved.", user.username),
            &format!("/admin/users/{id}/"),
        )),
        Err(e) => {
            let (status, message) = form_problem(e)?;
            detail(&req, &state, id, Some(user_form), vec![message], status).await
        }
    }
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(list)
        .service(new_page)
        .service(create)
        .service(show)
        .service(update)
        .configure(super::user_actions::routes);
}
