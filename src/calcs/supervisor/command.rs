//! What a calculation runs: the calculator's command with its placeholders filled in. The
//! supervisor runs it; the server writes it to its own log when it starts or submits the
//! calculation. It names server paths (data dir, the engine's `oq`), so the calculation's log,
//! which its users read, says only [`running`].

use crate::calcs::calc_dir;
use crate::calcs::openquake;
use crate::config::{CalculatorConfig, Config};
use crate::models::calc::Calc;

/// Replaces the placeholders anywhere inside an argument.
pub fn expand(arg: &str, vars: &[(&str, String)]) -> String {
    vars.iter().fold(arg.to_string(), |acc, (name, value)| {
        acc.replace(&format!("{{{name}}}"), value)
    })
}

/// The program and arguments of `calc`, or why it cannot run (a sentence for its log).
pub fn command_line(
    config: &Config,
    find_parent: impl FnOnce(i64) -> Option<Calc>,
    calc: &Calc,
    calculator: &CalculatorConfig,
) -> Result<Vec<String>, String> {
    let dir = calc_dir(config, calc.id);
    let (input, output) = (dir.join("input"), dir.join("output"));
    let mut vars = vec![
        ("job_ini", input.join(&calc.job_ini).display().to_string()),
        ("input_dir", input.display().to_string()),
        ("output_dir", output.display().to_string()),
        ("calc_id", calc.id.to_string()),
        ("data_dir", config.data_dir.display().to_string()),
    ];
    let template = if calculator.is_openquake() {
        let Some(oq) = &calculator.oq else {
            return Err(format!("the calculator {} has no oq path", calculator.name));
        };
        vars.push(("oq", oq.display().to_string()));
        // A calculation that continues another reads the parent's own datastore.
        let parent = match calc.parent_id {
            None => None,
            Some(p) => match find_parent(p) {
                Some(Calc {
                    engine_job_id: Some(job),
                    ..
                }) if openquake::datastore(config, p, job).is_file() => {
                    Some(openquake::datastore(config, p, job))
                }
                _ => {
                    return Err(format!(
                        "the parent calculation {p} has no OpenQuake datastore to continue from"
                    ));
                }
            },
        };
        openquake::run_argv(calculator, parent.as_deref())
    } else {
        calculator.command.clone()
    };
    Ok(template.iter().map(|a| expand(a, &vars)).collect())
}

/// The calculation log's first row of a run: what runs, in the user's terms.
pub fn running(calc: &Calc, calculator: &CalculatorConfig) -> String {
    let mut text = format!(
        "running the calculator {:?} on {}",
        calculator.name, calc.job_ini
    );
    if let Some(parent) = calc.parent_id {
        text.push_str(&format!(", continuing calculation {parent}"));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::expand;

    #[test]
    fn placeholders_are_replaced_inside_arguments() {
        let vars = [
            ("output_dir", "/d/out".to_string()),
            ("job_ini", "/d/in/job.ini".to_string()),
        ];
        assert_eq!(
            expand("export_dir={output_dir}", &vars),
            "export_dir=/d/out"
        );
        assert_eq!(expand("{job_ini}", &vars), "/d/in/job.ini");
        assert_eq!(expand("{unknown}", &vars), "{unknown}");
    }
}
