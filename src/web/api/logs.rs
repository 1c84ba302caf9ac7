//! The log of a calculation: its size, a slice of its rows, and the traceback of a failure.

use actix_web::{HttpResponse, get, web};

use super::calcs::{on_visible, visible_json};
use crate::error::{AppError, AppResult};
use crate::models::log::{LogRow, MAX_SLICE};
use crate::state::AppState;
use crate::times::Stamp;
use crate::web::current_user::Authenticated;

/// `start:stop`, either side may be empty.
fn parse_slice(slice: &str) -> AppResult<(i64, Option<i64>)> {
    let bad = || {
        AppError::BadRequest(format!(
            "The log slice {slice:?} must look like 0:100, 10: or :50."
        ))
    };
    let (start, stop) = slice.split_once(':').ok_or_else(bad)?;
    let start = if start.is_empty() {
        0
    } else {
        start.parse::<i64>().map_err(|_| bad())?
    };
    let stop = if stop.is_empty() {
        None
    } else {
        Some(stop.parse::<i64>().map_err(|_| bad())?)
    };
    if start < 0 || stop.is_some_and(|s| s < 0) {
        return Err(bad());
    }
    Ok((start, stop))
}

#[get("/v1/calc/{id}/log/size")]
pub(super) async fn log_size(
    user: Authenticated,
    id: web::Path<i64>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    visible_json(&state, &user.0, *id, |conn, calc| {
        LogRow::count(conn, calc.id)
    })
    .await
}

#[get("/v1/calc/{id}/log/{slice}")]
pub(super) async fn log(
    user: Authenticated,
    path: web::Path<(i64, String)>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let (id, slice) = path.into_inner();
    let (start, stop) = parse_slice(&slice)?;
    // Rows are written into the body as they come from the database: a thousand lines never
    // sit in memory twice, and each row's text is freed before the next is read.
    let body = on_visible(&state, &user.0, id, move |conn, calc| {
        let expected = stop.map_or(MAX_SLICE, |stop| stop - start).clamp(0, 2_000);
        let mut out = Vec::with_capacity(expected as usize * 128 + 2);
        out.push(b'[');
        LogRow::each(conn, calc.id, start, stop, |r| {
            if out.len() > 1 {
                out.push(b',');
            }
            let line = (
                Stamp::iso_millis(r.logged_at),
                &r.level,
                &r.process,
                &r.message,
            );
            serde_json::to_writer(&mut out, &line)
                .map_err(|e| AppError::Internal(format!("cannot write a log line: {e}")))
        })?;
        out.push(b']');
        Ok(out)
    })
    .await?;
    Ok(super::json_body(body))
}

#[get("/v1/calc/{id}/traceback")]
pub(super) async fn traceback(
    user: Authenticated,
    id: web::Path<i64>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    visible_json(&state, &user.0, *id, |conn, calc| {
        LogRow::traceback(conn, calc.id)
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::parse_slice;

    #[test]
    fn log_slices() {
        assert_eq!(parse_slice("0:10").unwrap(), (0, Some(10)));
        assert_eq!(parse_slice("5:").unwrap(), (5, None));
        assert_eq!(parse_slice(":7").unwrap(), (0, Some(7)));
        assert!(parse_slice("x:1").is_err());
        assert!(parse_slice("10").is_err());
    }
}
