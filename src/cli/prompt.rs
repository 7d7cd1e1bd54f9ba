//! Interactive prompts (on stderr, only when there is a terminal).

use std::io::IsTerminal;

use anyhow::Context;

use super::exit::Refused;

/// Whether we can ask the user: stdin and stderr are terminals.
pub fn interactive() -> bool {
    std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
}

/// Asks to confirm a destructive operation. Without `--yes` and without a
/// terminal, refuses with a message saying to pass `--yes`.
pub fn confirm_destructive(question: &str, yes: bool) -> anyhow::Result<()> {
    if yes {
        return Ok(());
    }
    if !interactive() {
        return Err(Refused(
            "refusing to delete without confirmation: no terminal to ask on; pass --yes to proceed \
             (or --dry-run to only show the plan)"
                .into(),
        )
        .into());
    }
    let ok = dialoguer::Confirm::new()
        .with_prompt(question)
        .default(false)
        .interact()
        .context("reading the confirmation")?;
    if ok {
        Ok(())
    } else {
        Err(Refused("cancelled: nothing was deleted".into()).into())
    }
}

/// Reads a password without echo.
pub fn password(prompt: &str) -> anyhow::Result<String> {
    dialoguer::Password::new()
        .with_prompt(prompt)
        .interact()
        .context("reading the password")
}

/// Reads a line of input.
pub fn input(prompt: &str) -> anyhow::Result<String> {
    dialoguer::Input::<String>::new()
        .with_prompt(prompt)
        .interact_text()
        .context("reading input")
}
