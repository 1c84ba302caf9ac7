//! /admin/calcs/: every calculation, with the filters of /engine/ (status, running or not,
//! calculator, owner, description), sorting and 50 a page; abort, remove (after confirmation)
//! and reassign to another owner. Abort and remove go through the same functions as the API
//! and /engine/ (a superuser has every right there); each action gets an audit entry.

mod abort_remove;
mod list;
mod reassign;

use actix_web::web;
use serde::Deserialize;

use crate::error::{AppError, AppResult};
use crate::models::calc::Calc;
use crate::state::AppState;
use crate::web::query::query_string;

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

pub fn routes(cfg: &mut web::ServiceConfig) {
    list::routes(cfg);
    abort_remove::routes(cfg);
    reassign::routes(cfg);
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
