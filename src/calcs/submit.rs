//! Creating a calculation from an upload: the checks, the input directory, the queue entry.
//! Shared by the "Run a calculation" form and `POST /v1/calc/run`.

use actix_multipart::Multipart;
use actix_web::web;

use crate::calcs::{calc_dir, upload};
use crate::error::{AppError, AppResult};
use crate::models::User;
use crate::models::calc::{Calc, NewCalc, status};
use crate::state::AppState;

/// Whether `user` may run calculations at all (level 0 is view only).
pub fn check_may_run(user: &User) -> AppResult<()> {
    if user.level < 1 && !user.is_superuser {
        return Err(AppError::Forbidden(
            "Your account can only view calculations; ask an administrator to let you run them."
                .into(),
        ));
    }
    Ok(())
}

/// Receives the upload and queues the calculation (the API's path).
pub async fn submit(state: &AppState, user: &User, payload: Multipart) -> AppResult<Calc> {
    check_may_run(user)?;
    let received = upload::receive(
        payload,
        &state.config.data_dir.join("tmp"),
        &state.config.calcs,
    )
    .await?;
    queue(state, user, received).await
}

/// Checks the fields of a received upload, prepares the input and queues the calculation.
/// Fields: `calculator`, `job_ini`, `description`, `hazard_job_id`, `notify_to`.
pub async fn queue(state: &AppState, user: &User, received: upload::Upload) -> AppResult<Calc> {
    check_may_run(user)?;
    if state
        .maintenance
        .get(&state.db)
        .await
        .is_some_and(|m| m.is_active())
    {
        return Err(AppError::Maintenance(
            "New calculations cannot be submitted during maintenance; submit again once it is over.".into(),
        ));
    }
    let config = state.config.clone();
    let field = |name: &str| {
        received
            .fields
            .get(name)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let calculator = match field("calculator") {
        Some(name) => config.calculator(&name).cloned().ok_or_else(|| {
            let names: Vec<&str> = config.calculators.iter().map(|c| c.name.as_str()).collect();
            AppError::BadRequest(format!(
                "There is no calculator {name:?}; choose one of: {}.",
                names.join(", ")
            ))
        })?,
        None => config.calculators.first().cloned().ok_or_else(|| {
            AppError::Unavailable(
                "No calculators are configured on this server; ask the administrator.".into(),
            )
        })?,
    };
    if !calculator.allowed_groups.is_empty() && !user.is_superuser {
        let viewer = user.clone();
        let groups = state.db.run(move |conn| viewer.group_names(conn)).await?;
        if !groups.iter().any(|g| calculator.allowed_groups.contains(g)) {
            return Err(AppError::Forbidden(format!(
                "The calculator {:?} is reserved for the groups {}; ask an administrator to add you to one.",
                calculator.name,
                calculator.allowed_groups.join(", ")
            )));
        }
    }
    let notify_to = field("notify_to");
    if let Some(url) = &notify_to
        && !url::Url::parse(url).is_ok_and(|u| matches!(u.scheme(), "http" | "https"))
    {
        return Err(AppError::BadRequest(format!(
            "notify_to = {url:?} is not an http(s) URL."
        )));
    }
    let parent_id = match field("hazard_job_id") {
        None => None,
        Some(text) => {
            let id: i64 = text.parse().map_err(|_| {
                AppError::BadRequest(format!("hazard_job_id = {text:?} is not a calculation id."))
            })?;
            let viewer = user.clone();
            state
                .db
                .run(move |conn| Calc::load_for(conn, &viewer, id))
                .await?;
            Some(id)
        }
    };
    let description = field("description");
    let job_ini = field("job_ini");
    let (limits, calc_config) = (config.calcs.clone(), calculator.clone());
    let input =
        web::block(move || upload::prepare(received, &calc_config, job_ini.as_deref(), &limits))
            .await
            .map_err(|e| AppError::Internal(e.to_string()))??;
    let description = description
        .or_else(|| ini_description(&input.input_path().join(&input.job_ini)))
        .unwrap_or_else(|| input.job_ini.clone());
    let new = NewCalc {
        user_id: user.id,
        calculator: calculator.name.clone(),
        description: description.chars().take(500).collect(),
        job_ini: input.job_ini.clone(),
        parent_id,
        notify_to,
    };
    let calc = state.db.run(move |conn| Calc::create(conn, &new)).await?;
    let target = calc_dir(&config, calc.id);
    let moved = web::block(move || -> std::io::Result<()> {
        std::fs::create_dir_all(&target)?;
        std::fs::rename(input.input_path(), target.join("input"))
    })
    .await
    .map_err(|e| AppError::Internal(e.to_string()))?;
    let id = calc.id;
    if let Err(e) = moved {
        state.db.run(move |conn| Calc::delete(conn, id)).await?;
        return Err(AppError::Internal(format!(
            "cannot move the input of calculation {id}: {e}"
        )));
    }
    state
        .db
        .run(move |conn| Calc::set_status(conn, id, status::SUBMITTED))
        .await?;
    if let Some(waker) = &state.runner {
        waker.wake();
    }
    Ok(Calc {
        status: status::SUBMITTED.into(),
        ..calc
    })
}

/// `description = ...` from the [general] section of an .ini, as OpenQuake does.
fn ini_description(path: &std::path::Path) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let mut in_general = false;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_general = line.eq_ignore_ascii_case("[general]");
        } else if in_general
            && let Some((key, value)) = line.split_once('=')
            && key.trim() == "description"
        {
            return Some(value.trim().to_string()).filter(|v| !v.is_empty());
        }
    }
    None
}
