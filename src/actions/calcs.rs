//! What people do to calculations, for the pages, the JSON API and `calcweb manage` alike:
//! submit (the checks, the input directory, the queue entry), abort, remove, share. Each checks
//! the user's rights itself.

use std::collections::HashMap;
use std::path::Path;

use actix_multipart::Multipart;
use actix_web::web;

use super::quotas;
use crate::calcs::notify::Guard;
use crate::calcs::upload::{self, Words};
use crate::calcs::{calc_dir, dir_size};
use crate::config::CalculatorConfig;
use crate::db::DbConn;
use crate::error::{AppError, AppResult};
use crate::models::User;
use crate::models::audit::{Actor, AuditEntry, Target};
use crate::models::calc::{Access, Calc, NewCalc, Status};
use crate::services::Services;

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
pub async fn submit(
    services: &Services,
    user: &User,
    actor: &Actor,
    payload: Multipart,
) -> AppResult<Calc> {
    check_may_run(user)?;
    let received = upload::receive(
        payload,
        &services.config.data_dir.join("tmp"),
        &services.config.calcs,
        |_| Ok(()),
    )
    .await?;
    queue(services, user, actor, received).await
}

/// Checks the fields of a received upload, prepares the input and queues the calculation.
/// Fields: `calculator`, `job_ini`, `description`, `hazard_job_id`, `notify_to`. The .ini to
/// run is the one named, else job.ini, else the first (as OpenQuake's `calc_run`).
pub async fn queue(
    services: &Services,
    user: &User,
    actor: &Actor,
    received: upload::Upload,
) -> AppResult<Calc> {
    let checked = check_fields(services, user, &received.fields, Words::Api).await?;
    let job_ini = field(&received.fields, "job_ini");
    let (limits, calc_config) = (services.config.calcs.clone(), checked.calculator.clone());
    let continues = checked.parent_id.is_some();
    let input = web::block(move || {
        upload::prepare(
            received,
            &calc_config,
            job_ini.as_deref(),
            continues,
            &limits,
        )
    })
    .await
    .map_err(|e| AppError::Internal(e.to_string()))??;
    create(services, user, actor, checked, input, None).await
}

/// A text field, trimmed; `None` when missing or blank.
pub(super) fn field(fields: &HashMap<String, String>, name: &str) -> Option<String> {
    fields
        .get(name)
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// The fields of a submission, checked: what [`create`] needs besides the input.
pub(super) struct Checked {
    pub calculator: CalculatorConfig,
    pub notify_to: Option<String>,
    pub parent_id: Option<i64>,
    pub description: Option<String>,
}

/// Checks a submission's fields before its input is unpacked: maintenance, the user's quota
/// (the check that counts is the one in [`create`]'s transaction), the calculator and the
/// user's right to it, the notification address and the parent calculation. Refusals name
/// the fields in `words`; with [`Words::Form`] the parent must also be complete.
pub(super) async fn check_fields(
    services: &Services,
    user: &User,
    fields: &HashMap<String, String>,
    words: Words,
) -> AppResult<Checked> {
    check_may_run(user)?;
    if services
        .maintenance
        .get(&services.db)
        .await
        .is_some_and(|m| m.is_active())
    {
        return Err(AppError::Maintenance(
            "New calculations cannot be submitted during maintenance; submit again once it is over.".into(),
        ));
    }
    let config = services.config.clone();
    let (viewer, quota_config) = (user.clone(), config.clone());
    services
        .db
        .run(move |conn| quotas::check(conn, &quota_config, &viewer, 0))
        .await?;
    let calculator = match field(fields, "calculator") {
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
        let groups = services
            .db
            .run(move |conn| viewer.group_names(conn))
            .await?;
        if !groups.iter().any(|g| calculator.allowed_groups.contains(g)) {
            return Err(AppError::Forbidden(format!(
                "The calculator {:?} is reserved for the groups {}; ask an administrator to add you to one.",
                calculator.name,
                calculator.allowed_groups.join(", ")
            )));
        }
    }
    let notify_to = field(fields, "notify_to");
    if let Some(url) = &notify_to {
        Guard::new(&config)
            .check(url)
            .map_err(AppError::BadRequest)?;
    }
    let parent_id = match field(fields, "hazard_job_id") {
        None => None,
        Some(text) => Some(check_parent(services, user, &calculator, &text, words).await?),
    };
    Ok(Checked {
        calculator,
        notify_to,
        parent_id,
        description: field(fields, "description"),
    })
}

/// The parent calculation named by `text`: one the user may see, with an OpenQuake datastore
/// for an OpenQuake calculator, and for the form's words a complete one.
async fn check_parent(
    services: &Services,
    user: &User,
    calculator: &CalculatorConfig,
    text: &str,
    words: Words,
) -> AppResult<i64> {
    let text = text.trim_start_matches('#');
    let id: i64 = text.parse().map_err(|_| {
        AppError::BadRequest(match words {
            Words::Api => format!("hazard_job_id = {text:?} is not a calculation id."),
            Words::Form => format!(
                "Parent calculation: {text:?} is not a calculation number; choose one in the list or type its number."
            ),
        })
    })?;
    let viewer = user.clone();
    let loaded = services
        .db
        .run(move |conn| Calc::load_for(conn, &viewer, id))
        .await;
    let parent = match (loaded, words) {
        (Ok((parent, _)), _) => parent,
        (Err(AppError::NotFound(_)), Words::Form) => {
            return Err(AppError::BadRequest(format!(
                "Parent calculation: there is no calculation {id} that you may see; choose one of yours or one shared with you."
            )));
        }
        (Err(e), _) => return Err(e),
    };
    if words == Words::Form && parent.status != Status::Complete {
        return Err(AppError::BadRequest(format!(
            "Parent calculation: calculation {id} is {}, not complete; choose a calculation that completed.",
            parent.status
        )));
    }
    if calculator.is_openquake() && parent.engine_job_id.is_none() {
        return Err(AppError::BadRequest(format!(
            "Calculation {id} has no OpenQuake datastore to continue from; choose an OpenQuake calculation that completed as {}.",
            words.field("hazard_job_id")
        )));
    }
    Ok(id)
}

/// The engine's check of an OpenQuake calculator's job file, before anything is queued.
pub(super) fn check_job_file(calculator: &CalculatorConfig, job_ini: &Path) -> AppResult<()> {
    if calculator.is_openquake() {
        crate::calcs::openquake::inputs::check_job_ini(job_ini).map_err(AppError::BadRequest)?;
    }
    Ok(())
}

/// Queues a calculation of the prepared `input` (its .ini chosen) with the checked fields:
/// the quota check and the row in one transaction, the input moved in, the audit entry
/// (`calc.submit`, its summary followed by `origin` when given). The path of every new
/// calculation: the API's, the form's, a staged upload's, "Run again".
pub(super) async fn create(
    services: &Services,
    user: &User,
    actor: &Actor,
    checked: Checked,
    input: upload::Input,
    origin: Option<String>,
) -> AppResult<Calc> {
    let config = services.config.clone();
    let Checked {
        calculator,
        notify_to,
        parent_id,
        description,
    } = checked;
    check_job_file(&calculator, &input.input_path().join(&input.job_ini))?;
    let description = description
        .or_else(|| upload::ini_description(&input.input_path().join(&input.job_ini)))
        .unwrap_or_else(|| input.job_ini.clone());
    let new = NewCalc {
        user_id: user.id,
        calculator: calculator.name.clone(),
        description: description.chars().take(500).collect(),
        job_ini: input.job_ini.clone(),
        parent_id,
        notify_to,
    };
    let input_dir = input.input_path();
    let input_size = web::block(move || dir_size(&input_dir) as i64)
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?;
    let (owner, quota_config) = (user.clone(), config.clone());
    // The quota check and the insert in one transaction, under a lock across servers, so two
    // submissions at once cannot both pass.
    let calc = services
        .db
        .run(move |conn| {
            conn.write_transaction(|conn| {
                quotas::lock(conn)?;
                quotas::check(conn, &quota_config, &owner, input_size)?;
                let calc = Calc::create(conn, &new)?;
                Calc::set_size(conn, calc.id, input_size)?;
                Ok::<_, AppError>(Calc {
                    size_bytes: input_size,
                    ..calc
                })
            })
        })
        .await?;
    let target = calc_dir(&config, calc.id);
    let moved = web::block(move || -> std::io::Result<()> {
        let moved = std::fs::create_dir_all(&target)
            .and_then(|()| std::fs::rename(input.input_path(), target.join("input")));
        if moved.is_err() {
            // Nothing half made stays behind (a full disk may leave the directory).
            let _ = std::fs::remove_dir_all(&target);
        }
        moved
    })
    .await
    .map_err(|e| AppError::Internal(e.to_string()))?;
    let id = calc.id;
    if let Err(e) = moved {
        services.db.run(move |conn| Calc::delete(conn, id)).await?;
        return Err(match AppError::from(e) {
            AppError::Internal(e) => {
                AppError::Internal(format!("cannot move the input of calculation {id}: {e}"))
            }
            other => other,
        });
    }
    let actor = actor.clone();
    let mut summary = format!(
        "calculator: {}; description: {}",
        calc.calculator, calc.description
    );
    if let Some(origin) = origin {
        summary.push_str("; ");
        summary.push_str(&origin);
    }
    services
        .db
        .run(move |conn| {
            conn.write_transaction(|conn| {
                Calc::set_status(conn, id, Status::Submitted)?;
                AuditEntry::record(conn, &actor, "calc.submit", &audit_target(id), &summary)
            })
        })
        .await?;
    services.wake_runner();
    Ok(Calc {
        status: Status::Submitted,
        ..calc
    })
}

/// Loads a calculation the user may see, with their rights and the owner's name.
async fn load(services: &Services, user: &User, id: i64) -> AppResult<(Calc, Access, String)> {
    let user = user.clone();
    services
        .db
        .read(move |conn| Calc::load_with_owner(conn, &user, id))
        .await
}

/// The audit target of calculation `id`.
pub(super) fn audit_target(id: i64) -> Target {
    Target {
        kind: "calc",
        id: id.to_string(),
        repr: format!("calculation {id}"),
    }
}

/// Aborts a calculation for `user` (owner, group-mate or superuser), audited as `actor`.
pub async fn abort(services: &Services, user: &User, actor: &Actor, id: i64) -> AppResult<String> {
    let (calc, access, owner) = load(services, user, id).await?;
    if !access.abort {
        return Err(AppError::Forbidden(format!(
            "You may not abort calculation {id}: only its owner, their group-mates and superusers may."
        )));
    }
    if !calc.is_running() {
        return Err(AppError::Conflict(format!(
            "Calculation {id} is not running (it is {}).",
            calc.status
        )));
    }
    let (before, actor) = (calc.status, actor.clone());
    let (now, slurm_job) = services
        .db
        .run(move |conn| {
            conn.write_transaction(|conn| {
                let now = Calc::request_abort(conn, id)?;
                let job = Calc::find(conn, id)?.and_then(|c| c.slurm_job().map(str::to_string));
                let summary = match now {
                    Some(after) if after != before => {
                        format!("owner: {owner}; status: {before} -> {after}")
                    }
                    _ => format!("owner: {owner}; status: {before}; abort requested"),
                };
                AuditEntry::record(conn, &actor, "calc.abort", &audit_target(id), &summary)?;
                Ok((now, job))
            })
        })
        .await?;
    // In Slurm: cancel the job (pending: it never starts; running: Slurm sends SIGTERM and
    // the supervisor records `aborted`). The servers' pollers repeat it if this fails.
    if let Some(job) = slurm_job {
        let executor = services.config.executor.clone();
        let cancelled = web::block(move || crate::calcs::slurm::cancel(&executor, &job)).await;
        if let Ok(Err(e)) = cancelled {
            tracing::warn!(calc = id, "{e}");
        }
    }
    Ok(if now == Some(Status::Aborted) {
        format!("Calculation {id} was aborted.")
    } else {
        format!("Calculation {id} is being aborted.")
    })
}

/// Removes a finished calculation, its rows and its files (owner or superuser).
pub async fn remove(services: &Services, user: &User, actor: &Actor, id: i64) -> AppResult<String> {
    let (calc, access, owner) = load(services, user, id).await?;
    if !access.remove {
        return Err(AppError::Forbidden(format!(
            "You may not remove calculation {id}: only its owner and superusers may."
        )));
    }
    if calc.is_running() {
        return Err(AppError::Conflict(format!(
            "Calculation {id} is still running; abort it first."
        )));
    }
    let summary = format!(
        "owner: {owner}; calculator: {}; status: {}; description: {}; files deleted",
        calc.calculator, calc.status, calc.description
    );
    let actor = actor.clone();
    services
        .db
        .run(move |conn| {
            conn.write_transaction(|conn| {
                Calc::delete(conn, id)?;
                AuditEntry::record(conn, &actor, "calc.remove", &audit_target(id), &summary)
            })
        })
        .await?;
    let config = services.config.clone();
    web::block(move || delete_files(&config, id))
        .await
        .map_err(|e| AppError::Internal(e.to_string()))??;
    Ok(format!("Calculation {id} was removed."))
}

/// Deletes the directory of calculation `id` (input, outputs, datastore), once its rows are
/// gone: what frees its disk. One already gone is fine.
pub fn delete_files(config: &crate::config::Config, id: i64) -> std::io::Result<()> {
    match std::fs::remove_dir_all(calc_dir(config, id)) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Shares or unshares a complete calculation (its owner with sharing rights, or a superuser).
pub async fn set_shared(
    services: &Services,
    user: &User,
    actor: &Actor,
    id: i64,
    shared: bool,
) -> AppResult<String> {
    let (calc, access, owner) = load(services, user, id).await?;
    if !access.share {
        return Err(AppError::Forbidden(format!(
            "You may not share calculation {id}: only its owner (with sharing rights) and superusers may."
        )));
    }
    if shared && calc.status != Status::Complete {
        return Err(AppError::Conflict(format!(
            "Only complete calculations can be shared; {id} is {}.",
            calc.status
        )));
    }
    let action = if shared { "calc.share" } else { "calc.unshare" };
    let actor = actor.clone();
    services
        .db
        .run(move |conn| {
            conn.write_transaction(|conn| {
                Calc::set_shared(conn, id, shared)?;
                let summary = format!("owner: {owner}");
                AuditEntry::record(conn, &actor, action, &audit_target(id), &summary)
            })
        })
        .await?;
    Ok(if shared {
        format!("Calculation {id} is shared.")
    } else {
        format!("Calculation {id} is no longer shared.")
    })
}

/// Gives a calculation to another user (superusers only; its files stay where they are).
pub fn reassign(
    conn: &mut DbConn,
    actor: &Actor,
    id: i64,
    owner: &str,
    heir: &User,
) -> AppResult<()> {
    let summary = format!("owner: {owner} -> {}", heir.username);
    conn.write_transaction(|conn| {
        if !Calc::set_owner(conn, id, heir.id)? {
            return Err(AppError::NotFound(format!("There is no calculation {id}.")));
        }
        AuditEntry::record(conn, actor, "calc.reassign", &audit_target(id), &summary)
    })
}
