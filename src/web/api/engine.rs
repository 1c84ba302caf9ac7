//! The endpoints OpenQuake's own clients use (the QGIS plugin, the engine's `WebExtractor`,
//! `oq importcalc`): extract, the datastore, the check of an input archive and the engine's
//! version. Each answers as OpenQuake's `server/views.py` does, under calcweb's permission rules:
//! a calculation the user may not see is a 404, as everywhere else.

use actix_multipart::Multipart;
use actix_web::{HttpRequest, HttpResponse, get, post, web};

use super::calcs::load;
use super::outputs::download;
use crate::actions::calcs::check_may_run;
use crate::calcs::openquake::exports::{self, Failure, Run};
use crate::calcs::upload;
use crate::config::CalculatorConfig;
use crate::error::{AppError, AppResult};
use crate::models::User;
use crate::models::calc::Calc;
use crate::state::AppState;
use crate::web::current_user::Authenticated;

/// What a user below level 2 may extract: OpenQuake 3.26.2's EXTRACTABLE_RESOURCES.
pub const EXTRACTABLE_RESOURCES: &[&str] = &[
    "agg_curves",
    "agg_damages",
    "agg_losses",
    "agg_risk",
    "aggrisk_tags",
    "asset_risk",
    "asset_tags",
    "composite_risk_model",
    "damages-rlzs",
    "damages-stats",
    "disagg_layer",
    "events",
    "exposure_metadata",
    "exposure_by_location",
    "exposure_by_lse?secondary_peril=liquefaction",
    "exposure_by_lse?secondary_peril=landslide",
    "gmf_data",
    "hcurves",
    "hmaps",
    "losses_by_asset",
    "losses_by_location",
    "losses_by_site",
    "mmi_tags",
    "oqparam",
    "realizations",
    "risk_by_event",
    "rupture_info",
    "sitecol",
    "uhs",
];

/// OpenQuake's `can_extract` for users below level 2: the resource is on the list, or starts
/// with one of its names followed by `/` or `.`.
fn extractable(resource: &str) -> bool {
    EXTRACTABLE_RESOURCES.iter().any(|allowed| {
        resource == *allowed
            || resource
                .strip_prefix(allowed)
                .is_some_and(|rest| rest.starts_with('/') || rest.starts_with('.'))
    })
}

fn level_2(user: &User) -> bool {
    user.level >= 2 || user.is_superuser
}

/// Python's `unquote_plus`, which OpenQuake applies to the query string of an extract.
fn unquote_plus(text: &str) -> String {
    percent_encoding::percent_decode_str(&text.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}

/// A calculation the user may see that the engine ran, its calculator and its engine job (404
/// otherwise).
async fn engine_run(
    state: &AppState,
    user: &User,
    id: i64,
) -> AppResult<(Calc, CalculatorConfig, i64)> {
    let (calc, _, _) = load(state, user, id).await?;
    let calculator = state
        .config
        .calculator(&calc.calculator)
        .filter(|c| c.is_openquake())
        .cloned();
    match (calculator, calc.engine_job_id) {
        (Some(calculator), Some(job)) => Ok((calc, calculator, job)),
        _ => Err(AppError::NotFound(format!(
            "Calculation {id} was not run by the OpenQuake engine, so it has no datastore."
        ))),
    }
}

#[get("/v1/calc/{id}/extract/{what:.*}")]
pub(super) async fn extract(
    req: HttpRequest,
    user: Authenticated,
    path: web::Path<(i64, String)>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let (id, what) = path.into_inner();
    let query = req.query_string();
    let full = if query.is_empty() {
        what.clone()
    } else {
        format!("{what}?{}", unquote_plus(query))
    };
    let (calc, calculator, job) = engine_run(&state, &user.0, id).await?;
    if !(level_2(&user.0) || extractable(&what) || extractable(&full)) {
        return Err(AppError::Forbidden(format!(
            "Extracting {what} is for level 2 users; ask an administrator, or extract one of: {}.",
            EXTRACTABLE_RESOURCES.join(", ")
        )));
    }
    let config = state.config.clone();
    let asked = full.clone();
    let npz = web::block(move || {
        let run = Run {
            config: &config,
            calculator: &calculator,
            calc_id: calc.id,
            engine_job_id: job,
        };
        exports::extract(&run, &asked)
    })
    .await
    .map_err(|e| AppError::Internal(e.to_string()))?
    .map_err(|e| match e {
        Failure::Refused(why) => AppError::BadRequest(format!(
            "The engine cannot extract {full} from calculation {id} ({why}); check the name and its parameters."
        )),
        Failure::Broken(why) => AppError::Internal(format!("extract {full} of {id}: {why}")),
    })?;
    let name = format!("{}.npz", what.replace('/', "-"));
    let gone = format!("The extract of calculation {id} is gone from the disk; ask again.");
    download(&req, npz, &name, "application/x-zip", gone).await
}

#[get("/v1/calc/{id}/datastore")]
pub(super) async fn datastore(
    req: HttpRequest,
    user: Authenticated,
    id: web::Path<i64>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let id = id.into_inner();
    let (calc, calculator, job) = engine_run(&state, &user.0, id).await?;
    if !(level_2(&user.0) || calculator.datastore_download) {
        return Err(AppError::Forbidden(format!(
            "Downloading the datastore of calculation {id} is for level 2 users; ask an administrator."
        )));
    }
    let path = crate::calcs::openquake::datastore(&state.config, calc.id, job);
    let name = format!("calc_{job}.hdf5");
    let gone = format!("Calculation {id} has no datastore on the disk.");
    download(&req, path, &name, "application/x-hdf", gone).await
}

/// The engine that checks inputs and says its version: the one named, or the first openquake
/// calculator.
fn engine_calculator<'a>(
    state: &'a AppState,
    name: Option<&str>,
) -> AppResult<&'a CalculatorConfig> {
    let calcs = &state.config.calculators;
    let found = match name {
        Some(name) => calcs.iter().find(|c| c.name == name && c.is_openquake()),
        None => calcs.iter().find(|c| c.is_openquake()),
    };
    found.ok_or_else(|| {
        AppError::NotFound(
            "No OpenQuake engine calculator is configured here, so inputs cannot be checked; ask the administrator to add one.".into(),
        )
    })
}

/// `POST /v1/calc/validate_zip` (multipart `archive`, as `/v1/calc/run`): the engine's check of
/// the input, `{"valid", "error_msg", "error_line"}`; nothing is left behind.
#[post("/v1/calc/validate_zip")]
pub(super) async fn validate_zip(
    user: Authenticated,
    payload: Multipart,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    check_may_run(&user.0)?;
    let received = upload::receive(
        payload,
        &state.config.data_dir.join("tmp"),
        &state.config.calcs,
        |_| Ok(()),
    )
    .await?;
    let name = received
        .fields
        .get("calculator")
        .map(|s| s.trim().to_string());
    let calculator = engine_calculator(&state, name.as_deref().filter(|n| !n.is_empty()))?.clone();
    let job_ini = received.fields.get("job_ini").cloned();
    let config = state.config.clone();
    let answer = web::block(move || {
        let input = upload::prepare(
            received,
            &calculator,
            job_ini.as_deref().filter(|j| !j.trim().is_empty()),
            false,
            &config.calcs,
        )?;
        let ini = input.input_path().join(&input.job_ini);
        // `input` (a temporary directory) is removed when it goes out of scope.
        crate::calcs::openquake::check_input(&config, &calculator, &ini)
            .map_err(|e| AppError::Internal(format!("validate_zip: {e}")))
    })
    .await
    .map_err(|e| AppError::Internal(e.to_string()))??;
    Ok(HttpResponse::Ok().json(answer))
}

/// `GET /v1/engine_version`: the configured engine's `oq --version` as plain text, asked once
/// per process; calcweb's own version when no openquake calculator is configured.
#[get("/v1/engine_version")]
pub(super) async fn engine_version(
    _user: Authenticated,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let version = match state.config.calculators.iter().find(|c| c.is_openquake()) {
        None => crate::VERSION.to_string(),
        Some(calculator) => {
            let calculator = calculator.clone();
            state
                .engine_version
                .get_or_try_init(|| async move {
                    web::block(move || crate::calcs::openquake::version(&calculator))
                        .await
                        .map_err(|e| AppError::Internal(e.to_string()))?
                        .map_err(|why| {
                            AppError::Unavailable(format!(
                                "The OpenQuake engine cannot say its version: {why}."
                            ))
                        })
                })
                .await?
                .clone()
        }
    };
    Ok(HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body(version))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_allow_list_is_read_as_openquake_reads_it() {
        assert!(extractable("hcurves"));
        assert!(extractable("agg_losses/structural"));
        assert!(extractable("composite_risk_model.attrs"));
        assert!(extractable("exposure_by_lse?secondary_peril=landslide"));
        assert!(!extractable("hcurvesx"));
        assert!(!extractable("exposure_by_lse"));
        assert!(!extractable("assetcol"));
    }

    #[test]
    fn the_query_string_is_unquoted_as_python_does() {
        assert_eq!(
            unquote_plus("kind=mean&imt=SA%280.1%29"),
            "kind=mean&imt=SA(0.1)"
        );
        assert_eq!(unquote_plus("taxonomy=%2A+x"), "taxonomy=* x");
        assert_eq!(unquote_plus("bad=%zz%"), "bad=%zz%");
    }
}
