//! Results on stdout. A reader that goes away (`| head`) ends the output quietly: the
//! write error becomes [`CliError::closed_pipe`], which exits 0 without a message.

use std::io::Write as _;

use super::CliError;

/// Writes `text` to stdout and flushes it.
///
/// # Errors
/// [`CliError::closed_pipe`] when the reader has gone; any other write error.
pub fn print(text: &str) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Err(CliError::closed_pipe()),
        Err(e) => Err(CliError::failure(
            anyhow::Error::new(e).context("cannot write to stdout"),
        )),
    }
}

/// [`print`] with a newline.
///
/// # Errors
/// As [`print`].
pub fn println(text: &str) -> Result<(), CliError> {
    print(&format!("{text}\n"))
}
