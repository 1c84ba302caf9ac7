//! /engine/<id>/log.txt: a calculation's whole log as plain text, one line per row
//! (`2026-12-07T11:00:00.123Z INFO calc message`), for those who may see the calculation (404
//! otherwise, as its page). Streamed a page of rows at a time, read by keyset: a log of a
//! million lines never sits in memory, and its last page costs what its first does.

use actix_web::http::header::{ContentDisposition, DispositionParam, DispositionType};
use actix_web::{HttpResponse, get, web};
use bytes::Bytes;
use futures_util::stream;

use crate::error::AppResult;
use crate::models::calc::Calc;
use crate::models::log::LogRow;
use crate::state::AppState;
use crate::times::Stamp;
use crate::web::current_user::Authenticated;

/// Rows read and sent at a time (about 200 KB of text).
const PAGE: i64 = 2_000;

/// Where the download stands between two pages.
enum Next {
    /// The first page, read with the permission check.
    Rows(Vec<(i64, LogRow)>),
    /// The rows after this id are still to read.
    After(i64),
    Done,
}

#[get("/engine/{id:\\d+}/log.txt")]
pub async fn log_txt(
    user: Authenticated,
    id: web::Path<i64>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let user = user.0;
    let id = id.into_inner();
    let first = state
        .db
        .read(move |conn| {
            Calc::load_for(conn, &user, id)?;
            LogRow::page_after(conn, id, 0, PAGE)
        })
        .await?;
    let pages = stream::unfold(Next::Rows(first), move |next| {
        let state = state.clone();
        async move {
            let rows = match next {
                Next::Done => return None,
                Next::Rows(rows) => rows,
                Next::After(after) => {
                    match state
                        .db
                        .read(move |conn| LogRow::page_after(conn, id, after, PAGE))
                        .await
                    {
                        Ok(rows) => rows,
                        // The response is under way: all that can be done is to end it short,
                        // which the browser reports as a failed download.
                        Err(e) => {
                            tracing::warn!(calc = id, "cannot read the log for log.txt: {e}");
                            return Some((Err(std::io::Error::other(e.to_string())), Next::Done));
                        }
                    }
                }
            };
            let next = match rows.last() {
                Some((last, _)) if rows.len() as i64 == PAGE => Next::After(*last),
                Some(_) => Next::Done,
                None => return None,
            };
            Some((Ok(text_of(&rows)), next))
        }
    });
    Ok(HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .insert_header(ContentDisposition {
            disposition: DispositionType::Attachment,
            parameters: vec![DispositionParam::Filename(format!("calc_{id}.log.txt"))],
        })
        .streaming(pages))
}

/// Rows as text lines: time, level, who wrote it, message.
fn text_of(rows: &[(i64, LogRow)]) -> Bytes {
    use std::fmt::Write;
    let mut text = String::with_capacity(rows.len() * 100);
    for (_, r) in rows {
        let _ = writeln!(
            text,
            "{} {} {} {}",
            Stamp::iso_millis(r.logged_at),
            r.level,
            r.process,
            r.message
        );
    }
    Bytes::from(text)
}
