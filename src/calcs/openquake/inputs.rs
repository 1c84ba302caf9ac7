//! What a job.ini may not ask of an engine run on a shared server: another run's datastore
//! (`hazard_calculation_id`: the parent is chosen with calcweb's `hazard_job_id`, whose
//! visibility is checked), or files outside what was uploaded (absolute paths, `..`).

use std::path::Path;

/// Refuses a job.ini that reaches outside its own upload, saying which setting and what to do.
pub fn check_job_ini(path: &Path) -> Result<(), String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("{} cannot be read: {e}", file_name(path)))?;
    check_text(&file_name(path), &text)
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn check_text(name: &str, text: &str) -> Result<(), String> {
    let mut key = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with(['#', ';', '[']) {
            continue;
        }
        // An indented line continues the value above.
        let value = if line.starts_with([' ', '\t']) && !key.is_empty() {
            trimmed
        } else {
            let Some((k, v)) = trimmed.split_once(['=', ':']) else {
                continue;
            };
            key = k.trim().to_ascii_lowercase();
            v.trim()
        };
        if key == "hazard_calculation_id" {
            return Err(format!(
                "{name} sets hazard_calculation_id; leave it out and choose the parent calculation as hazard_job_id (its number in calcweb)."
            ));
        }
        // Not files read: where the engine writes exports is set by calcweb (run_argv).
        if key == "description" || key == "export_dir" {
            continue;
        }
        let outside = value.split([' ', ',', '\t', '"', '\'']).find(|token| {
            token.starts_with(['/', '~']) || token.split(['/', '\\']).any(|segment| segment == "..")
        });
        if let Some(token) = outside {
            return Err(format!(
                "{name}: {key} = {token} names a file outside the upload; upload the file and name it relative to {name}."
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check_text;

    #[test]
    fn inputs_stay_inside_the_upload() {
        let ok = "[general]\ndescription = a/../b /x\nexport_dir = /tmp\n[site]\nsites = 0.0 0.0, 1 1\n\
                  source_model_logic_tree_file = models/lt.xml\n";
        assert_eq!(check_text("job.ini", ok), Ok(()));
        let abs = "[exposure]\nexposure_file = /srv/calcweb/calcs/7/input/exposure.xml\n";
        let err = check_text("job.ini", abs).unwrap_err();
        assert!(
            err.contains("exposure_file = /srv/calcweb/calcs/7/input/exposure.xml"),
            "{err}"
        );
        let up = "[x]\ngsim_logic_tree_file =\n    ../other/gsim.xml\n";
        assert!(
            check_text("job.ini", up)
                .unwrap_err()
                .contains("../other/gsim.xml")
        );
        let hc = "[general]\nhazard_calculation_id = 12\n";
        assert!(
            check_text("job.ini", hc)
                .unwrap_err()
                .contains("hazard_job_id")
        );
    }
}
