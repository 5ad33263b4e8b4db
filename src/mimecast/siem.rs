//! The SIEM batch (docs/mimecast-api.md §13.2): `GET /siem/v1/batch/events/cg` lists
//! gzip NDJSON files of one event type; each file is then read from its own link.
//!
//! The listing goes through the connection's usual send-and-retry routine (bearer
//! token, limits, throttling). A file link points at another origin (Mimecast's blob
//! storage): it is fetched with no credentials at all, must be `https` (or `http` to
//! this machine, for the simulator), and is decompressed and split into lines as the
//! bytes arrive, so a file is never held whole. A link that answers 403 or 404 has
//! expired ([`FileError::Expired`]): list again for a fresh one.

use std::io::Write as _;
use std::net::IpAddr;

use serde::Deserialize;

use super::client::Client;
use super::endpoints::Endpoint;
use super::error::ApiError;

/// The longest line a file may hold; a longer one is counted as corrupt and skipped.
pub const MAX_LINE_BYTES: usize = 1 << 20;

/// One listing answer.
#[derive(Debug, Default, Deserialize)]
pub struct Listing {
    #[serde(default)]
    pub value: Vec<FileLink>,
    #[serde(rename = "@nextPage", default)]
    pub next_page: Option<String>,
    #[serde(rename = "isCaughtUp", default)]
    pub caught_up: bool,
}

#[derive(Debug, Deserialize)]
pub struct FileLink {
    pub url: String,
    #[serde(default)]
    pub expiry: Option<String>,
}

/// Where a listing starts: a day (`YYYY-MM-DD`) or a token of an earlier listing.
#[derive(Clone, Copy, Debug)]
pub enum From<'a> {
    Day(&'a str),
    Token(&'a str),
}

/// Why a file was not read whole.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("the SIEM file link {link} has expired (HTTP {status})")]
    Expired { link: String, status: u16 },
    #[error("refusing the SIEM file link {link}: {why}")]
    Refused { link: String, why: &'static str },
    #[error("reading the SIEM file {link} failed: {detail}")]
    Failed { link: String, detail: String },
}

/// A link as it may appear in errors and logs: no query string (it holds the
/// link's signature).
pub fn shown(url: &str) -> String {
    url.split(['?', '#']).next().unwrap_or("").to_owned()
}

/// Checks a file link: `https`, or `http` to a loopback address.
fn checked(url: &str) -> Result<reqwest::Url, FileError> {
    let refused = |why| FileError::Refused { link: shown(url), why };
    let parsed = reqwest::Url::parse(url).map_err(|_| refused("not a URL"))?;
    match parsed.scheme() {
        "https" => Ok(parsed),
        "http" => {
            let loopback = match parsed.host() {
                Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
                Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
                Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
                None => false,
            };
            if loopback {
                Ok(parsed)
            } else {
                Err(refused("plain http to a host other than this machine"))
            }
        }
        _ => Err(refused("not an http(s) link")),
    }
}

/// Splits decompressed bytes into lines and hands each to `on_line` (`None` for a
/// line longer than [`MAX_LINE_BYTES`]).
struct Lines<F: FnMut(Option<&[u8]>)> {
    buf: Vec<u8>,
    overlong: bool,
    on_line: F,
}

impl<F: FnMut(Option<&[u8]>)> Lines<F> {
    fn emit(&mut self) {
        let line = std::mem::take(&mut self.buf);
        if self.overlong {
            (self.on_line)(None);
        } else if !line.iter().all(u8::is_ascii_whitespace) {
            (self.on_line)(Some(&line));
        }
        self.overlong = false;
        self.buf = line;
        self.buf.clear();
    }

    fn finish(&mut self) {
        if !self.buf.is_empty() || self.overlong {
            self.emit();
        }
    }
}

impl<F: FnMut(Option<&[u8]>)> std::io::Write for Lines<F> {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        let mut rest = data;
        while let Some(at) = rest.iter().position(|b| *b == b'\n') {
            self.push(&rest[..at]);
            self.emit();
            rest = &rest[at + 1..];
        }
        self.push(rest);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<F: FnMut(Option<&[u8]>)> Lines<F> {
    fn push(&mut self, part: &[u8]) {
        if self.overlong {
            return;
        }
        if self.buf.len() + part.len() > MAX_LINE_BYTES {
            self.overlong = true;
            self.buf.clear();
        } else {
            self.buf.extend_from_slice(part);
        }
    }
}

/// Decompresses gzip `chunks` into lines, for tests and fuzzing: what
/// [`Client::siem_file`] does with the bytes it receives.
///
/// # Errors
/// The bytes are not gzip, or are cut short.
pub fn decode_lines(chunks: &[&[u8]], on_line: impl FnMut(Option<&[u8]>)) -> std::io::Result<()> {
    let mut gz = flate2::write::GzDecoder::new(Lines {
        buf: Vec::new(),
        overlong: false,
        on_line,
    });
    for c in chunks {
        gz.write_all(c)?;
    }
    let mut lines = gz.finish()?;
    lines.finish();
    Ok(())
}

impl Client {
    /// The wait before attempt `attempt + 1` of a SIEM file that failed (the
    /// connection's backoff), or `None` once `max_attempts` are spent.
    pub fn file_retry_wait(&self, attempt: u32) -> Option<std::time::Duration> {
        let policy = &self.inner.policy;
        (attempt < policy.max_attempts).then(|| policy.backoff(attempt))
    }

    /// One page of the SIEM batch listing of `event_type`.
    ///
    /// # Errors
    /// As any call: refused (403 without the SIEM permission), throttled past the
    /// wait, a 400 for a token Mimecast no longer accepts, ...
    pub async fn siem_listing(&self, event_type: &str, page_size: u32, from: From<'_>) -> Result<Listing, ApiError> {
        let mut query = vec![("type", event_type.to_owned()), ("pageSize", page_size.to_string())];
        match from {
            From::Day(d) => query.push(("dateRangeStartsAt", d.to_owned())),
            From::Token(t) => query.push(("nextPage", t.to_owned())),
        }
        self.get_plain(Endpoint::SiemBatch, &query).await
    }

    /// Streams one file: each line (`None` for an overlong one) goes to `on_line` as
    /// it is decompressed. No credentials are sent.
    ///
    /// # Errors
    /// The link has expired (403/404), is not one to follow, or the transfer or the
    /// gzip stream broke.
    pub async fn siem_file(&self, url: &str, on_line: impl FnMut(Option<&[u8]>)) -> Result<(), FileError> {
        let link = checked(url)?;
        let failed = |detail: String| FileError::Failed {
            link: shown(url),
            detail: self.inner.redactor.text(detail.replace(url, &shown(url))),
        };
        let mut response = self
            .inner
            .http
            .get(link)
            .send()
            .await
            .map_err(|e| failed(e.without_url().to_string()))?;
        let status = response.status().as_u16();
        if status == 403 || status == 404 {
            return Err(FileError::Expired {
                link: shown(url),
                status,
            });
        }
        if !response.status().is_success() {
            return Err(failed(format!("HTTP {status}")));
        }
        let mut gz = flate2::write::GzDecoder::new(Lines {
            buf: Vec::new(),
            overlong: false,
            on_line,
        });
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| failed(e.without_url().to_string()))?
        {
            gz.write_all(&chunk)
                .map_err(|e| failed(format!("not gzip or corrupt: {e}")))?;
        }
        let mut lines = gz
            .finish()
            .map_err(|e| failed(format!("the gzip stream is cut short: {e}")))?;
        lines.finish();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gzip(text: &[u8]) -> Vec<u8> {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(text).unwrap();
        gz.finish().unwrap()
    }

    fn lines_of(chunks: &[&[u8]]) -> std::io::Result<Vec<Option<String>>> {
        let mut out = Vec::new();
        decode_lines(chunks, |l| out.push(l.map(|b| String::from_utf8_lossy(b).into_owned())))?;
        Ok(out)
    }

    #[test]
    fn lines_split_across_chunks_and_overlong_ones_are_none() {
        let long = "x".repeat(MAX_LINE_BYTES + 1);
        let body = gzip(format!("{{\"a\":1}}\n\n{long}\n{{\"b\":2}}").as_bytes());
        let (one, two) = body.split_at(7);
        assert_eq!(
            lines_of(&[one, two]).unwrap(),
            vec![Some("{\"a\":1}".to_owned()), None, Some("{\"b\":2}".to_owned())]
        );
        assert!(lines_of(&[&body[..body.len() / 2]]).is_err());
        assert!(lines_of(&[b"not gzip at all"]).is_err());
    }

    #[test]
    fn links_must_be_https_or_loopback_http() {
        assert!(checked("https://blob.example.net/f.json.gz?sig=1").is_ok());
        assert!(checked("http://127.0.0.1:9/f.json.gz").is_ok());
        assert!(checked("http://[::1]:9/f").is_ok());
        assert!(checked("http://localhost/f").is_ok());
        assert!(
            matches!(checked("http://blob.example.net/f?sig=secret"), Err(FileError::Refused { link, .. }) if link == "http://blob.example.net/f")
        );
        assert!(checked("file:///etc/passwd").is_err());
        assert!(checked("not a url").is_err());
    }
}
