//! Process exit codes, distinct per outcome so CI jobs can branch on them.
//!
//! [`Exit`] is the one source: `--help` prints [`Exit::help`], README.md's table is
//! [`Exit::markdown_table`] (a test keeps them equal), and every command ends in one.

/// How a command ended, as the process exit code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(into = "u8")]
#[repr(u8)]
pub enum Exit {
    /// Everything worked.
    Success = 0,
    /// An unexpected error, or a sync stopped by SIGINT/SIGTERM.
    Failure = 1,
    /// A bad command line (clap's own code), or a query parameter of the wrong type.
    Usage = 2,
    /// The configuration (or a file it names) is invalid or unreadable.
    Config = 3,
    /// Mimecast could not be used: credentials, permissions, network. No tenant synced.
    Mimecast = 4,
    /// Neo4j could not be used (unreachable, authentication, a write that kept
    /// failing), or another sync is writing the same account.
    Neo4j = 5,
    /// The unknown-participant policy is `fail` and some were found; nothing was written.
    Policy = 6,
    /// The sync finished but some steps or tenants failed, or the deletion guard
    /// kept a type (`--allow-mass-delete`): those types were written but not cleaned up.
    Partial = 10,
    /// `queries run --fail-on-findings`: a finding-reporting query returned rows.
    Findings = 20,
    /// `sync` or `run` got a second SIGINT/SIGTERM and exited without waiting for the
    /// batch in flight (128 + SIGINT, as shells report an interrupt).
    Interrupted = 130,
}

impl Exit {
    /// Every code, in numeric order.
    pub const ALL: [Exit; 10] = [
        Exit::Success,
        Exit::Failure,
        Exit::Usage,
        Exit::Config,
        Exit::Mimecast,
        Exit::Neo4j,
        Exit::Policy,
        Exit::Partial,
        Exit::Findings,
        Exit::Interrupted,
    ];

    /// The number the process exits with.
    pub const fn code(self) -> u8 {
        self as u8
    }

    /// What the code means, in one line (README and `--help` print this).
    pub const fn meaning(self) -> &'static str {
        match self {
            Exit::Success => "success",
            Exit::Failure => "unexpected error, or a sync stopped by SIGINT/SIGTERM",
            Exit::Usage => "bad command line, or a query parameter of the wrong type",
            Exit::Config => "invalid configuration, or a file it names is unreadable or invalid",
            Exit::Mimecast => "Mimecast unusable: no tenant could be read (credentials, permissions, network)",
            Exit::Neo4j => {
                "Neo4j unusable (unreachable, authentication, a write that kept failing), or another sync is writing the same account"
            }
            Exit::Policy => "the unknown-participant policy is `fail` and some were found; nothing was written",
            Exit::Partial => {
                "partial sync: some steps or tenants failed, or the deletion guard kept a type; those types were written but not cleaned up"
            }
            Exit::Findings => "`queries run --fail-on-findings`: a finding-reporting query returned rows",
            Exit::Interrupted => "`sync` or `run` stopped by a second SIGINT/SIGTERM, without waiting for the batch in flight",
        }
    }

    /// The table `--help` ends with, wrapped at 80 columns with a hanging indent.
    pub fn help() -> String {
        const INDENT: &str = "      ";
        let mut out = String::from("Exit codes:");
        for e in Exit::ALL {
            let mut line = format!("\n  {:<3}", e.code());
            for word in e.meaning().split(' ') {
                if line.len() + 1 + word.len() > 80 {
                    out.push_str(&line);
                    line = format!("\n{INDENT}{word}");
                } else {
                    line.push(' ');
                    line.push_str(word);
                }
            }
            out.push_str(&line);
        }
        out
    }

    /// README.md's exit-code table.
    pub fn markdown_table() -> String {
        let mut out = String::from("| code | meaning |\n|---|---|\n");
        for e in Exit::ALL {
            out.push_str(&format!("| {} | {} |\n", e.code(), e.meaning()));
        }
        out
    }
}

impl From<Exit> for u8 {
    fn from(e: Exit) -> u8 {
        e.code()
    }
}

impl From<Exit> for std::process::ExitCode {
    fn from(e: Exit) -> std::process::ExitCode {
        std::process::ExitCode::from(e.code())
    }
}

#[cfg(test)]
mod tests {
    use super::Exit;

    #[test]
    fn readme_holds_the_generated_table() {
        let readme = include_str!("../README.md");
        assert!(
            readme.contains(&Exit::markdown_table()),
            "README.md's exit-code table differs from exit.rs; it should read:\n{}",
            Exit::markdown_table()
        );
    }

    #[test]
    fn codes_are_distinct_and_ordered() {
        let codes: Vec<u8> = Exit::ALL.iter().map(|e| e.code()).collect();
        assert_eq!(codes, vec![0, 1, 2, 3, 4, 5, 6, 10, 20, 130]);
    }
}
