//! `regctl generate-docs --out DIR` (hidden): writes `DIR/completions/*` and
//! `DIR/man/*.1`, the files committed in the repository.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Args, CommandFactory};
use clap_complete::Shell;

use super::Cli;

#[derive(Debug, Args)]
pub struct DocsArgs {
    /// Directory that receives completions/ and man/
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

/// File name of each shell's completion script.
pub const COMPLETION_FILES: [(Shell, &str); 5] = [
    (Shell::Bash, "regctl.bash"),
    (Shell::Zsh, "_regctl"),
    (Shell::Fish, "regctl.fish"),
    (Shell::PowerShell, "_regctl.ps1"),
    (Shell::Elvish, "regctl.elv"),
];

pub fn run(args: DocsArgs) -> anyhow::Result<()> {
    write_all(&args.out)
}

fn write(path: &Path, data: &[u8]) -> anyhow::Result<()> {
    std::fs::write(path, data).with_context(|| format!("writing {}", path.display()))
}

pub fn write_all(out: &Path) -> anyhow::Result<()> {
    let comp_dir = out.join("completions");
    let man_dir = out.join("man");
    for d in [&comp_dir, &man_dir] {
        std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
    }
    for (shell, name) in COMPLETION_FILES {
        let mut buf = Vec::new();
        clap_complete::generate(shell, &mut Cli::command(), "regctl", &mut buf);
        write(&comp_dir.join(name), &buf)?;
    }
    let mut cmd = Cli::command();
    cmd.build();
    let mut buf = Vec::new();
    clap_mangen::Man::new(cmd.clone()).render(&mut buf)?;
    write(&man_dir.join("regctl.1"), &buf)?;
    for sub in cmd
        .get_subcommands()
        .filter(|s| !s.is_hide_set() && s.get_name() != "help")
    {
        let name = format!("regctl-{}", sub.get_name());
        // clap names are static; a handful of leaked strings in a docs generator is fine.
        let sub = sub.clone().name(&*name.clone().leak());
        let mut buf = Vec::new();
        clap_mangen::Man::new(sub).render(&mut buf)?;
        write(&man_dir.join(format!("{name}.1")), &buf)?;
    }
    Ok(())
}
