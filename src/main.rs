//! The `regctl` command. All argument parsing, rendering and prompting lives
//! in [`cli`]; the library below it never touches the terminal.

mod cli;

fn main() -> std::process::ExitCode {
    limit_malloc_arenas();
    cli::main()
}

/// glibc gives every thread that contends for the allocator its own arena
/// (up to 8 per core) and keeps what they freed: after a few large
/// transfers through the blocking pool, `regctl serve` held 45 MB instead
/// of 14. Two arenas are plenty on the 2-core machines regctl targets.
/// Must run before any thread starts.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn limit_malloc_arenas() {
    // SAFETY: mallopt only sets an allocator tunable; called before any
    // other thread exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn limit_malloc_arenas() {}
