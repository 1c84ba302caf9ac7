//! The run form's ways to a new calculation besides the API's: a submission that asks which
//! .ini to run instead of guessing (the upload is staged meanwhile, `calcs::upload::staged`),
//! the choice that runs a staged upload, and "Run again" with a copy of an earlier
//! calculation's input. All go through [`calcs::check_fields`] and [`calcs::create`], so they
//! are checked, counted in quotas and audited as every submission is.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use actix_web::web;

use super::calcs::{self, check_fields, create, field};
use crate::calcs::scratch::Scratch;
use crate::calcs::upload::{self, Input, Words, staged};
use crate::calcs::{calc_dir, dir_size};
use crate::config::Config;
use crate::error::{AppError, AppResult};
use crate::models::User;
use crate::models::audit::Actor;
use crate::models::calc::{Calc, ListQuery, Status};
use crate::services::Services;

/// What a form submission led to.
pub enum Submitted {
    Queued(Box<Calc>),
    /// The input has several .ini files and none was chosen, or not the one named: the
    /// upload is staged under this token until its owner chooses.
    Choose(String),
}

/// Where staged uploads are kept.
pub fn staged_root(config: &Config) -> PathBuf {
    config.data_dir.join("staged")
}

fn tmp_root(config: &Config) -> PathBuf {
    config.data_dir.join("tmp")
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> AppResult<T> + Send + 'static,
) -> AppResult<T> {
    web::block(f)
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?
}

/// The run form's submission: checked as the API's, but when the .ini to run is not clear
/// (several and none named, or the one named missing) the unpacked upload is staged and the
/// user asked.
pub async fn queue_form(
    services: &Services,
    user: &User,
    actor: &Actor,
    received: upload::Upload,
) -> AppResult<Submitted> {
    let checked = check_fields(services, user, &received.fields, Words::Form).await?;
    let fields = received.fields.clone();
    let named = field(&fields, "job_ini");
    let (limits, pattern) = (
        services.config.calcs.clone(),
        checked.calculator.job_ini.clone(),
    );
    let (mut input, inis) = blocking(move || {
        let input = upload::unpack(received, &limits, Words::Form)?;
        let inis = upload::ini_files(&input.input_path(), &pattern)?;
        Ok((input, inis))
    })
    .await?;
    if inis.is_empty() {
        return Err(AppError::BadRequest(
            "Input files: there is no .ini file among them; add the job file (such as job.ini) and choose the files again."
                .into(),
        ));
    }
    let chosen = match &named {
        Some(name) => inis
            .iter()
            .find(|f| *f == name || f.rsplit('/').next() == Some(name.as_str()))
            .cloned(),
        None if inis.len() == 1 => inis.first().cloned(),
        None => None,
    };
    if let Some(job_ini) = chosen {
        input.job_ini = job_ini;
        let calc = create(services, user, actor, checked, input, None).await?;
        return Ok(Submitted::Queued(Box::new(calc)));
    }
    let (root, user_id) = (staged_root(&services.config), user.id);
    let token = blocking(move || {
        let choices = inis
            .iter()
            .map(|f| {
                let description = upload::ini_description(&input.input_path().join(f));
                (f.clone(), description.unwrap_or_default())
            })
            .collect();
        let meta = staged::Meta {
            user_id,
            created: staged::now(),
            fields,
            choices,
            missing: named,
        };
        staged::stage(&root, input, &meta)
    })
    .await?;
    Ok(Submitted::Choose(token))
}

/// The staged upload `token` of `user`, for the page that asks.
pub async fn staged(services: &Services, user: &User, token: &str) -> AppResult<staged::Meta> {
    let (root, user_id, token) = (staged_root(&services.config), user.id, token.to_string());
    blocking(move || staged::load(&root, user_id, &token)).await
}

/// Runs the staged upload `token` with the .ini `job_ini`, one of those it offered.
pub async fn choose(
    services: &Services,
    user: &User,
    actor: &Actor,
    token: &str,
    job_ini: &str,
) -> AppResult<Calc> {
    let meta = staged(services, user, token).await?;
    if !meta.choices.iter().any(|(name, _)| name == job_ini) {
        return Err(AppError::BadRequest(
            "Job file: choose one of the .ini files listed.".into(),
        ));
    }
    // The fields again: the parent or the quota may have changed meanwhile.
    let checked = check_fields(services, user, &meta.fields, Words::Form).await?;
    let (root, tmp) = (staged_root(&services.config), tmp_root(&services.config));
    // The engine's check while the upload is still kept: a job file it refuses can be
    // changed for another.
    let input_dir = staged::input_path(&root, token)?;
    let path = input_dir.join(job_ini);
    let calculator = checked.calculator.clone();
    blocking(move || calcs::check_job_file(&calculator, &path)).await?;
    // The disk quota with the input's size while the upload is still kept: refused, the user
    // can free room and choose again (the check in `create` stays, in its transaction).
    let size = blocking(move || Ok(dir_size(&input_dir))).await?;
    let (config, owner) = (services.config.clone(), user.clone());
    let size = i64::try_from(size).unwrap_or(i64::MAX);
    services
        .db
        .run(move |conn| super::quotas::check(conn, &config, &owner, size))
        .await?;
    let (user_id, token, job_ini) = (user.id, token.to_string(), job_ini.to_string());
    let input = blocking(move || staged::take(&root, &tmp, user_id, &token, &job_ini)).await?;
    create(services, user, actor, checked, input, None).await
}

/// Forgets the staged upload `token` of `user`.
pub async fn discard(services: &Services, user: &User, token: &str) -> AppResult<()> {
    let (root, user_id, token) = (staged_root(&services.config), user.id, token.to_string());
    blocking(move || staged::discard(&root, user_id, &token)).await
}

/// The complete calculations `user` may see, newest first, at most `limit`: the choices of
/// the "Parent calculation" field, `(id, description)`.
pub async fn parent_choices(
    services: &Services,
    user: &User,
    limit: i64,
) -> AppResult<Vec<(i64, String)>> {
    let (viewer, q) = (
        user.clone(),
        ListQuery {
            statuses: vec![Status::Complete.as_str().to_string()],
            include_shared: true,
            descending: true,
            limit,
            ..ListQuery::default()
        },
    );
    let rows = services
        .db
        .read(move |conn| Calc::list(conn, &viewer, &q))
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.calc.id, r.calc.description))
        .collect())
}

/// The input of calculation `id` as "Run again" offers it: the calculation (which `user` may
/// see), and the .ini files of its input, preferred first; a clear refusal when its input is
/// gone.
pub async fn again_of(services: &Services, user: &User, id: i64) -> AppResult<(Calc, Vec<String>)> {
    calcs::check_may_run(user)?;
    let viewer = user.clone();
    let (calc, _) = services
        .db
        .read(move |conn| Calc::load_for(conn, &viewer, id))
        .await?;
    let pattern = services
        .config
        .calculator(&calc.calculator)
        .map(|c| c.job_ini.clone())
        .ok_or_else(|| {
            AppError::Conflict(format!(
                "Calculation {id} ran with the calculator {:?}, which this server no longer has; run its files with another from the run form.",
                calc.calculator
            ))
        })?;
    let input = calc_dir(&services.config, id).join("input");
    let job_ini = calc.job_ini.clone();
    let inis = blocking(move || {
        if !input.join(&job_ini).is_file() {
            return Err(inputs_gone(id));
        }
        upload::ini_files(&input, &pattern)
    })
    .await?;
    Ok((calc, inis))
}

fn inputs_gone(id: i64) -> AppError {
    AppError::Conflict(format!(
        "The input files of calculation {id} are no longer kept on this server; run it again from the files with the run form."
    ))
}

/// "Run again": a new calculation from a copy of calculation `id`'s input, with the form's
/// `description`, `job_ini` (one of its .ini files) and `hazard_job_id`; the calculator is
/// the same. Checked, counted and audited as any submission (`calc.submit`, "again from
/// calculation N").
pub async fn run_again(
    services: &Services,
    user: &User,
    actor: &Actor,
    id: i64,
    form: &HashMap<String, String>,
) -> AppResult<Calc> {
    let (calc, inis) = again_of(services, user, id).await?;
    let job_ini = field(form, "job_ini").unwrap_or_else(|| calc.job_ini.clone());
    if !inis.contains(&job_ini) {
        return Err(AppError::BadRequest(format!(
            "Job file: calculation {id}'s input has no {job_ini:?}; choose one of its .ini files."
        )));
    }
    let mut fields = form.clone();
    fields.insert("calculator".into(), calc.calculator.clone());
    fields.remove("notify_to");
    let checked = check_fields(services, user, &fields, Words::Form).await?;
    let (from, tmp, limits) = (
        calc_dir(&services.config, id).join("input"),
        tmp_root(&services.config),
        services.config.calcs.clone(),
    );
    let input = blocking(move || {
        if dir_size(&from) > limits.max_unpacked_size {
            return Err(AppError::TooLarge(format!(
                "The input of calculation {id} is larger than calcs.max_unpacked_size now allows; ask the administrator."
            )));
        }
        let dir = Scratch::new(&tmp, "upload-")?;
        let to = dir.path().join("input");
        copy_dir(&from, &to).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => inputs_gone(id),
            _ => e.into(),
        })?;
        Ok(Input { dir, job_ini })
    })
    .await?;
    create(
        services,
        user,
        actor,
        checked,
        input,
        Some(format!("again from calculation {id}")),
    )
    .await
}

/// Copies the files and folders under `from` to `to` (links are not followed: an input has
/// none, the unpacking refuses them).
fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        let target = to.join(entry.file_name());
        if kind.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else if kind.is_file() {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}
