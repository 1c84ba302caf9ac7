//! Standard output of the commands. `println!` panics when the reader has gone
//! (`calcweb manage users list | head -1`); [`outln!`] and [`out!`] end the command quietly
//! instead, with status 141 (128 + SIGPIPE, what a shell shows for a tool a closed pipe
//! stopped): the rest of the output has no reader, and the command did not finish. SIGPIPE
//! itself stays ignored (Rust's default), so a socket whose peer left is an error, not death.

use std::fmt;
use std::io::{ErrorKind, Write};

/// The exit status of a command whose output pipe closed.
pub const CLOSED_PIPE: i32 = 141;

/// Writes `args` to standard output (flushed, for prompts); a closed pipe ends the process
/// quietly, another failure (a full disk) with a sentence.
pub fn write(args: fmt::Arguments) {
    if let Err(e) = try_write(args) {
        if e.kind() == ErrorKind::BrokenPipe {
            std::process::exit(CLOSED_PIPE);
        }
        let _ = writeln!(
            std::io::stderr(),
            "calcweb: cannot write to standard output: {e}"
        );
        std::process::exit(1);
    }
}

/// Writes `args` to standard output; the error is the caller's (the server goes on serving
/// when nobody reads its summary).
pub fn try_write(args: fmt::Arguments) -> std::io::Result<()> {
    let mut stdout = std::io::stdout().lock();
    stdout.write_fmt(args)?;
    stdout.flush()
}

/// `println!` for the commands: see the module. Exported for main.rs (`calcweb::outln!`).
#[macro_export]
macro_rules! outln {
    () => {
        $crate::manage::out::write(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::manage::out::write(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// `print!` for the commands: see the module.
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::manage::out::write(format_args!($($arg)*))
    };
}
