//! Writing the report folder: `index.html`, `rules/ID.csv` per query, and
//! `manifest.json` with the SHA-256 of every other file.

use std::path::{Path, PathBuf};

use serde_json::{json, Value as Json};
use sha2::{Digest as _, Sha256};

use super::{Report, ReportError};
use crate::queries::{format_csv, QueryResult};

pub const INDEX: &str = "index.html";
pub const MANIFEST: &str = "manifest.json";
const RULES: &str = "rules";

/// How an auditor checks the files against the manifest, run in the report folder
/// (README.md, `report --help`, the page and the manifest say it).
pub const VERIFY: &str = r#"jq -r '.files[] | "\(.sha256)  \(.path)"' manifest.json | sha256sum -c"#;

/// Where a query's rows go, relative to the report folder.
pub fn csv_path(id: &str) -> String {
    format!("{RULES}/{id}.csv")
}

/// What was written: every file with its SHA-256, the manifest last.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Written {
    pub dir: PathBuf,
    /// Relative path and SHA-256 (hex) of each file the manifest lists.
    pub files: Vec<(String, String)>,
    pub manifest_sha256: String,
}

fn sha256_hex(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ReportError + '_ {
    move |source| ReportError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Makes `dir` ready: created when missing; an earlier report in it is replaced (its
/// `index.html`, `manifest.json` and `rules/*.csv`); any other non-empty folder is
/// refused, so that nothing but the report's files sits beside the manifest.
fn prepare(dir: &Path) -> Result<(), ReportError> {
    if dir.is_dir() {
        let mut entries = std::fs::read_dir(dir).map_err(io(dir))?;
        if entries.next().is_some() {
            if !dir.join(MANIFEST).is_file() {
                return Err(ReportError::NotEmpty(dir.to_owned()));
            }
            for name in [INDEX, MANIFEST] {
                let path = dir.join(name);
                if path.exists() {
                    std::fs::remove_file(&path).map_err(io(&path))?;
                }
            }
            let rules = dir.join(RULES);
            if rules.is_dir() {
                for entry in std::fs::read_dir(&rules).map_err(io(&rules))? {
                    let path = entry.map_err(io(&rules))?.path();
                    if path.extension().is_some_and(|e| e == "csv") {
                        std::fs::remove_file(&path).map_err(io(&path))?;
                    }
                }
            }
        }
    }
    let rules = dir.join(RULES);
    std::fs::create_dir_all(&rules).map_err(io(&rules))
}

/// Writes the report into `dir`.
///
/// # Errors
/// [`ReportError::NotEmpty`] for a folder with other content, [`ReportError::Io`]
/// when a file cannot be written.
pub fn write(dir: &Path, report: &Report) -> Result<Written, ReportError> {
    prepare(dir)?;
    let mut files: Vec<(String, Vec<u8>)> = vec![(INDEX.to_owned(), super::html::render(report).into_bytes())];
    for (i, d) in report.defs.iter().enumerate() {
        // One file per query across the reported accounts; each account's rows come
        // in the query's own order, and the queries order by account first.
        let mut all: Option<QueryResult> = None;
        for a in &report.accounts {
            let r = &a.results[i];
            match &mut all {
                None => all = Some(r.clone()),
                Some(all) => all.rows.extend(r.rows.iter().cloned()),
            }
        }
        if let Some(r) = all {
            files.push((csv_path(&d.id), format_csv(&r).into_bytes()));
        }
    }
    let mut listed = Vec::with_capacity(files.len());
    for (name, bytes) in &files {
        let path = dir.join(name);
        std::fs::write(&path, bytes).map_err(io(&path))?;
        listed.push((name.clone(), sha256_hex(bytes)));
    }
    let mut manifest = report.manifest();
    manifest["files"] = Json::Array(
        files
            .iter()
            .zip(&listed)
            .map(|((name, bytes), (_, sha))| json!({"path": name, "bytes": bytes.len(), "sha256": sha}))
            .collect(),
    );
    manifest["verify"] = Json::from(format!("in the report folder: {VERIFY} (every line says OK)"));
    let mut text = serde_json::to_string_pretty(&manifest).unwrap_or_default();
    text.push('\n');
    let path = dir.join(MANIFEST);
    std::fs::write(&path, &text).map_err(io(&path))?;
    Ok(Written {
        dir: dir.to_owned(),
        files: listed,
        manifest_sha256: sha256_hex(text.as_bytes()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readme_gives_the_verify_command() {
        assert!(
            include_str!("../../README.md").contains(VERIFY),
            "README.md should show: {VERIFY}"
        );
    }

    #[test]
    fn sha256_is_lowercase_hex_of_the_bytes() {
        // `printf abc | sha256sum`
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn a_folder_with_other_files_is_refused_and_an_earlier_report_replaced() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("notes.txt"), "x").unwrap();
        assert_eq!(
            prepare(dir.path()).unwrap_err().to_string(),
            format!(
                "{} is not empty and holds no earlier report (no manifest.json); choose an empty or new folder",
                dir.path().display()
            )
        );
        std::fs::write(dir.path().join(MANIFEST), "{}").unwrap();
        std::fs::create_dir(dir.path().join(RULES)).unwrap();
        std::fs::write(dir.path().join("rules/old.csv"), "a\n").unwrap();
        std::fs::write(dir.path().join(INDEX), "<p>").unwrap();
        prepare(dir.path()).unwrap();
        let mut left: Vec<String> = walk(dir.path());
        left.sort();
        assert_eq!(left, vec!["notes.txt", "rules/"]);
    }

    fn walk(dir: &Path) -> Vec<String> {
        std::fs::read_dir(dir)
            .unwrap()
            .flat_map(|e| {
                let p = e.unwrap().path();
                let name = p.file_name().unwrap().to_string_lossy().into_owned();
                if p.is_dir() {
                    let inner: Vec<String> = walk(&p).into_iter().map(|f| format!("{name}/{f}")).collect();
                    if inner.is_empty() {
                        vec![format!("{name}/")]
                    } else {
                        inner
                    }
                } else {
                    vec![name]
                }
            })
            .collect()
    }
}
