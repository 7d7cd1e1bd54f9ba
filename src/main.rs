//! The `regctl` command. All argument parsing, rendering and prompting lives
//! in [`cli`]; the library below it never touches the terminal.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
