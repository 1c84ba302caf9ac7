//! Why a queued calculation waits, in words (issue #19 §6): "3rd in the queue · 2 of 2 slots
//! busy", "waiting: maintenance mode", "your limit of 2 running is reached", "pending on the
//! cluster: Resources". The list shows it under the status of queued rows, the calculation's
//! page beside its status.

use std::collections::HashMap;

use crate::db::DbConn;
use crate::error::AppResult;
use crate::models::User;
use actix_web::web;

use crate::models::calc::{self, Calc, Status, Waiting};
use crate::models::quota::Scope;
use crate::state::AppState;

/// A queued calculation of the page: its id, its owner's id and name.
pub struct Queued<'a> {
    pub id: i64,
    pub owner_id: i64,
    pub owner: &'a str,
}

/// The sentence for each of `queued` that waits, for `viewer`. During maintenance nothing
/// starts, which is all there is to say.
pub fn reasons(
    conn: &mut DbConn,
    state: &AppState,
    viewer: &User,
    queued: &[Queued],
) -> AppResult<HashMap<i64, String>> {
    if queued.is_empty() {
        return Ok(HashMap::new());
    }
    let ids: Vec<i64> = queued.iter().map(|q| q.id).collect();
    let found = calc::waiting(
        conn,
        &state.config.quotas,
        state.config.max_concurrent() as i64,
        &ids,
    )?;
    let maintenance = state
        .maintenance
        .last_known()
        .is_some_and(|m| m.is_active());
    Ok(queued
        .iter()
        .filter_map(|q| {
            let why = found.get(&q.id)?;
            let text = match why {
                Waiting::Cluster(_) => text(why, viewer.id == q.owner_id, q.owner),
                _ if maintenance => "waiting: maintenance mode".to_string(),
                _ => text(why, viewer.id == q.owner_id, q.owner),
            };
            Some((q.id, text))
        })
        .collect())
}

/// Why `calc` waits, if it is queued (the calculation's page).
pub async fn of_one(
    state: &web::Data<AppState>,
    viewer: &User,
    calc: &Calc,
    owner: &str,
) -> AppResult<Option<String>> {
    if calc.status != Status::Submitted {
        return Ok(None);
    }
    let (st, viewer, owner, id, owner_id) = (
        state.clone(),
        viewer.clone(),
        owner.to_string(),
        calc.id,
        calc.user_id,
    );
    let mut found = state
        .db
        .read(move |conn| {
            let queued = Queued {
                id,
                owner_id,
                owner: &owner,
            };
            reasons(conn, &st, &viewer, &[queued])
        })
        .await?;
    Ok(found.remove(&id))
}

/// The words of one reason; `own`: the viewer owns the calculation.
pub fn text(why: &Waiting, own: bool, owner: &str) -> String {
    match why {
        Waiting::Limit { limit, scope } => {
            let whose = match scope {
                Scope::User if own => "your".to_string(),
                Scope::User => format!("{owner}’s"),
                Scope::Group { name, .. } => format!("the group {name}’s"),
            };
            format!("waiting: {whose} limit of {limit} running is reached")
        }
        Waiting::Cluster(Some(reason)) => format!("pending on the cluster: {reason}"),
        Waiting::Cluster(None) => "pending on the cluster".to_string(),
        Waiting::Queue { position, busy } => {
            let place = format!("{} in the queue", ordinal(*position));
            match busy {
                Some((running, slots)) => format!("{place} · {running} of {slots} slots busy"),
                None => place,
            }
        }
    }
}

/// 1st, 2nd, 3rd, 4th, 11th, 12th, 13th, 21st...
fn ordinal(n: i64) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinals() {
        let all: Vec<String> = [1, 2, 3, 4, 11, 12, 13, 21, 102].map(ordinal).to_vec();
        assert_eq!(
            all,
            [
                "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "102nd"
            ]
        );
    }

    #[test]
    fn reasons_read_well() {
        let q = Waiting::Queue {
            position: 3,
            busy: Some((2, 2)),
        };
        assert_eq!(
            text(&q, true, "bob"),
            "3rd in the queue · 2 of 2 slots busy"
        );
        let limit = Waiting::Limit {
            limit: 2,
            scope: Scope::User,
        };
        assert_eq!(
            text(&limit, true, "bob"),
            "waiting: your limit of 2 running is reached"
        );
        assert_eq!(
            text(&limit, false, "bob"),
            "waiting: bob’s limit of 2 running is reached"
        );
        assert_eq!(
            text(&Waiting::Cluster(Some("Resources".into())), true, "bob"),
            "pending on the cluster: Resources"
        );
    }
}
