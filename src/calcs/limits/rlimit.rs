//! The fallback without a cgroup: `RLIMIT_AS`, set in the calculator's process before it
//! starts and inherited by what it starts. Unlike a cgroup it bounds each process on its own
//! (a calculation of four processes may take four times the limit), it counts address space
//! rather than memory in use (a program that reserves much and uses little, such as a JVM or
//! numpy with many threads, can be refused early), and an allocation past it fails inside the
//! program instead of the kernel ending it: calcweb recognises the limit by the program's own
//! words (Python's MemoryError, C's "Cannot allocate memory", C++'s std::bad_alloc). RLIMIT_CPU
//! counts seconds of CPU, not cores: `cpu_limit` is not enforced this way.

use std::os::unix::process::CommandExt;
use std::process::Command;

/// Sets RLIMIT_AS to `bytes` in the child `command` starts, before it runs the program.
pub(super) fn limit_address_space(command: &mut Command, bytes: u64) {
    use nix::sys::resource::{Resource, setrlimit};
    // SAFETY: setrlimit is a system call: async-signal-safe, no allocation.
    unsafe {
        command.pre_exec(move || {
            setrlimit(Resource::RLIMIT_AS, bytes, bytes).map_err(std::io::Error::from)
        });
    }
}

/// Whether a line of the calculator's output says that an allocation failed.
pub fn says_out_of_memory(line: &str) -> bool {
    const WORDS: [&str; 5] = [
        "MemoryError",
        "Cannot allocate memory",
        "std::bad_alloc",
        "out of memory",
        "Out of memory",
    ];
    WORDS.iter().any(|w| line.contains(w))
}
