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
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(write_error)
}

/// A failed write to stdout as the CLI reports it: quietly for a closed pipe.
pub fn write_error(e: std::io::Error) -> CliError {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        CliError::closed_pipe()
    } else {
        CliError::failure(anyhow::Error::new(e).context("cannot write to stdout"))
    }
}

/// A JSON array on stdout, pretty-printed as `serde_json::to_string_pretty` would,
/// written element by element as each is ready (a large answer is never held as text).
pub struct JsonArray<W: std::io::Write = std::io::BufWriter<std::io::Stdout>> {
    out: Indented<W>,
    count: usize,
}

impl JsonArray {
    /// An array on stdout.
    pub fn stdout() -> Self {
        Self::to(std::io::BufWriter::new(std::io::stdout()))
    }
}

impl<W: std::io::Write> JsonArray<W> {
    fn to(out: W) -> Self {
        Self {
            out: Indented(out),
            count: 0,
        }
    }

    /// Writes one element.
    ///
    /// # Errors
    /// As [`print`].
    pub fn push(&mut self, value: &impl serde::Serialize) -> Result<(), CliError> {
        let open: &[u8] = if self.count == 0 { b"[\n  " } else { b",\n  " };
        self.count += 1;
        self.out.0.write_all(open).map_err(write_error)?;
        // serde_json writes token by token: buffered before the indenting, which then
        // sees large slices.
        let mut buffered = std::io::BufWriter::with_capacity(1 << 16, &mut self.out);
        serde_json::to_writer_pretty(&mut buffered, value).map_err(json_error)?;
        buffered.flush().map_err(write_error)
    }

    /// Closes the array, with a newline.
    ///
    /// # Errors
    /// As [`print`].
    pub fn finish(mut self) -> Result<W, CliError> {
        let close: &[u8] = if self.count == 0 { b"[]\n" } else { b"\n]\n" };
        self.out
            .0
            .write_all(close)
            .and_then(|()| self.out.0.flush())
            .map_err(write_error)?;
        Ok(self.out.0)
    }
}

/// Indents every line after the first by two spaces (an element inside an array).
/// JSON text has no newline inside a string, so only its layout is touched.
struct Indented<W>(W);

impl<W: std::io::Write> std::io::Write for Indented<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        for (i, line) in buf.split(|&b| b == b'\n').enumerate() {
            if i > 0 {
                self.0.write_all(b"\n  ")?;
            }
            self.0.write_all(line)?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

fn json_error(e: serde_json::Error) -> CliError {
    match e.io_error_kind() {
        Some(kind) => write_error(kind.into()),
        None => CliError::failure(anyhow::Error::new(e).context("cannot write JSON")),
    }
}

/// [`print`] with a newline.
///
/// # Errors
/// As [`print`].
pub fn println(text: &str) -> Result<(), CliError> {
    print(&format!("{text}\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_json_array_reads_as_serde_json_would_print_it() {
        let values = [
            serde_json::json!({"b": [1, {"c": "x\ny"}], "a": {}}),
            serde_json::json!([]),
            serde_json::json!("z"),
        ];
        for n in 0..=values.len() {
            let mut out = JsonArray::to(Vec::new());
            for v in &values[..n] {
                out.push(v).unwrap();
            }
            let text = String::from_utf8(out.finish().unwrap()).unwrap();
            assert_eq!(
                text,
                format!("{}\n", serde_json::to_string_pretty(&values[..n]).unwrap())
            );
        }
    }
}
