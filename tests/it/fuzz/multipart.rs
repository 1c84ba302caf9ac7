//! The multipart field parser (`upload::receive`): any body, cut into any chunks. Properties:
//! it answers Ok or a 4xx (never a 500 or a panic), what it keeps stays within the field limits,
//! and nothing is left in the temporary directory once the upload is dropped.

use actix_multipart::Multipart;
use actix_web::ResponseError;
use actix_web::http::header::{CONTENT_TYPE, HeaderMap, HeaderValue};
use actix_web::web::Bytes;
use calcweb::calcs::upload::{self, MAX_FIELD_BYTES, MAX_FIELDS, MAX_FIELDS_BYTES, Upload};
use calcweb::config::CalcsConfig;
use calcweb::error::AppError;

use super::fuzz;

/// The boundary of the bodies in the corpus.
pub const BOUNDARY: &str = "XyZ";

const TOKENS: &[&str] = &[
    "\r\n--XyZ\r\n",
    "\r\n--XyZ--\r\n",
    "Content-Disposition: form-data; name=\"description\"\r\n\r\n",
    "Content-Disposition: form-data; name=\"archive\"; filename=\"job.ini\"\r\n",
    "Content-Disposition: form-data; name=\"archive\"; filename=\"../../x.zip\"\r\n",
    "Content-Disposition: form-data; name=\"archive\"; filename=\"\"\r\n",
    "Content-Type: application/zip\r\n",
    "\r\n\r\n",
    "\r\n",
    "--",
    "; filename*=UTF-8''%e2%82%ac.ini",
    "name=\"\"",
    "\u{0}",
    "é",
    "\u{ff}",
];

/// The limits of these checks: small, so that the inputs reach them.
pub fn limits() -> CalcsConfig {
    CalcsConfig {
        max_upload_size: 256 * 1024,
        max_unpacked_size: 256 * 1024,
        max_files: 8,
        ..CalcsConfig::default()
    }
}

/// `body` received as a multipart body cut into chunks of `chunk` bytes.
pub async fn receive(
    body: &[u8],
    chunk: usize,
    tmp: &std::path::Path,
    limits: &CalcsConfig,
) -> Result<Upload, AppError> {
    let mut headers = HeaderMap::new();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_str(&format!("multipart/form-data; boundary={BOUNDARY}")).unwrap(),
    );
    let chunks: Vec<Result<Bytes, actix_web::error::PayloadError>> = body
        .chunks(chunk.max(1))
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    let multipart = Multipart::new(&headers, futures_util::stream::iter(chunks));
    upload::receive(multipart, tmp, limits, |_| Ok(()))
        .await
        .map_err(AppError::from)
}

/// A refusal must be the client's fault, said in a short message (some keep OpenQuake's
/// wording, without a full stop).
pub fn check_refusal(error: &AppError) -> Result<(), String> {
    let status = error.status_code();
    if !status.is_client_error() {
        return Err(format!("answered {status}: {error}"));
    }
    let text = error.to_string();
    if text.trim().is_empty() || text.chars().count() > 600 {
        return Err(format!("the message is empty or too long: {text:?}"));
    }
    Ok(())
}

/// How the inputs of a target were answered: accepted, or refused with which status.
#[derive(Default)]
pub struct Outcomes(std::cell::RefCell<std::collections::BTreeMap<u16, u64>>);

impl Outcomes {
    pub fn count(&self, refusal: Option<&AppError>) {
        let status = refusal.map_or(200, |e| e.status_code().as_u16());
        *self.0.borrow_mut().entry(status).or_default() += 1;
    }
}

impl std::fmt::Display for Outcomes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let counts: Vec<String> = self
            .0
            .borrow()
            .iter()
            .map(|(status, n)| match status {
                200 => format!("{n} accepted"),
                _ => format!("{n} refused with {status}"),
            })
            .collect();
        write!(f, "{}", counts.join(", "))
    }
}

/// The end of every check: an accepted input passes `accepted` (and is dropped), a refusal is
/// one a user can read; either is counted, and nothing of the upload is left in `tmp`.
pub fn settle<T>(
    outcome: Result<T, AppError>,
    outcomes: &Outcomes,
    tmp: &std::path::Path,
    accepted: impl FnOnce(T) -> Result<(), String>,
) -> Result<(), String> {
    match outcome {
        Ok(value) => {
            accepted(value)?;
            outcomes.count(None);
        }
        Err(error) => {
            check_refusal(&error)?;
            outcomes.count(Some(&error));
        }
    }
    let left = left_in(tmp);
    if !left.is_empty() {
        return Err(format!("left behind: {left:?}"));
    }
    Ok(())
}

/// What a temporary directory holds: nothing once every upload is dropped.
pub fn left_in(tmp: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(tmp)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn check(
    runtime: &actix_web::rt::Runtime,
    outcomes: &Outcomes,
    input: &[u8],
) -> Result<(), String> {
    let root = tempfile::tempdir().unwrap();
    let tmp = root.path().join("tmp");
    let limits = limits();
    let chunk = 1 + input.len() % 4093;
    let outcome = runtime.block_on(receive(input, chunk, &tmp, &limits));
    settle(outcome, outcomes, &tmp, |upload| {
        let fields = &upload.fields;
        if fields.len() > MAX_FIELDS {
            return Err(format!("{} fields kept", fields.len()));
        }
        let mut total = 0;
        for (name, value) in fields {
            if value.len() > MAX_FIELD_BYTES {
                return Err(format!("the field {name:?} kept {} bytes", value.len()));
            }
            total += name.len() + value.len();
        }
        if total > MAX_FIELDS_BYTES {
            return Err(format!("the fields kept {total} bytes"));
        }
        Ok(())
    })
}

#[test]
fn the_multipart_field_parser_survives_fuzzing() {
    let runtime = actix_web::rt::Runtime::new().unwrap();
    let outcomes = Outcomes::default();
    fuzz("multipart", TOKENS, |input| {
        check(&runtime, &outcomes, input)
    });
    println!("fuzz multipart: {outcomes}");
}
