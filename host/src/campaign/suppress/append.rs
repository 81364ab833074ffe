//! Appending to a suppression file: new lines at its end, flushed and fsynced, never a rewrite
//! of what is there (the operator's own lines and comments stay byte for byte).
//!
//! A text file gets a `# bounced 5.1.1 <date>` comment line before each address; a CSV gets a
//! row with the address in its `email` column (CSV has no comments).

use std::io::{Read, Seek, SeekFrom, Write};

use crate::campaign::CampaignError;
use crate::campaign::suppress::SuppressFile;

/// Appends `(address, why)` lines to `file`, under an exclusive lock for the duration.
pub fn append(file: &SuppressFile, lines: &[(String, String)]) -> Result<(), CampaignError> {
    let fail = |e: std::io::Error| CampaignError::unwritable(&file.written, "cannot append", e);
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .append(true)
        .open(&file.path)
        .map_err(fail)?;
    f.lock().map_err(fail)?;
    let mut existing = String::new();
    f.read_to_string(&mut existing).map_err(fail)?;
    let is_csv = file
        .path
        .extension()
        .is_some_and(|x| x.eq_ignore_ascii_case("csv"));
    let mut out = String::new();
    if !existing.is_empty() && !existing.ends_with('\n') {
        out.push('\n');
    }
    if is_csv {
        out.push_str(&csv_rows(&existing, lines, &file.written)?);
    } else {
        let date = mail_parser::DateTime::from_timestamp(now()).to_rfc3339();
        for (address, why) in lines {
            // `why` quotes a bounce (its status and diagnostic), which anyone can write: made
            // inert, it can neither end the comment line nor put escape sequences in the file.
            let why = crate::term::inert(why);
            out.push_str(&format!("# {why} {date}\n{address}\n"));
        }
    }
    f.seek(SeekFrom::End(0)).map_err(fail)?;
    f.write_all(out.as_bytes()).map_err(fail)?;
    f.flush().map_err(fail)?;
    f.sync_all().map_err(fail)
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// One CSV row per address, as wide as the file's header, the address in its `email` column.
fn csv_rows(
    existing: &str,
    lines: &[(String, String)],
    written: &std::path::Path,
) -> Result<String, CampaignError> {
    let shown = written.display().to_string();
    let fail = |e: csv::Error| CampaignError::unwritable(written, "cannot append", e);
    let text = existing.strip_prefix('\u{feff}').unwrap_or(existing);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| CampaignError::file(&shown, e.to_string()))?
        .clone();
    let column = headers
        .iter()
        .position(|h| h.trim().eq_ignore_ascii_case("email"));
    let (width, column) = match column {
        Some(c) => (headers.len(), c),
        // An empty file: give it its header first.
        None if text.trim().is_empty() => (1, 0),
        None => return Err(CampaignError::line(written, 1, None, "no `email` column")),
    };
    let mut writer = csv::WriterBuilder::new().from_writer(Vec::new());
    if text.trim().is_empty() {
        writer.write_record(["email"]).map_err(fail)?;
    }
    for (address, _) in lines {
        let mut row = vec![""; width];
        row[column] = address;
        writer.write_record(&row).map_err(fail)?;
    }
    let bytes = writer
        .into_inner()
        .map_err(|e| CampaignError::unwritable(written, "cannot append", e.into_error()))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use crate::campaign::suppress::{Suppression, files};

    #[test]
    fn a_bounces_text_cannot_add_an_entry_or_an_escape_sequence() {
        let dir = tempfile::tempdir().expect("dir");
        std::fs::write(dir.path().join("s.txt"), "# ours\n").expect("write");
        let written = files(dir.path(), &[PathBuf::from("s.txt")]);
        let hostile = "bounced 5.1.1 \x1b]0;owned\x07\u{202e}\nvictim@example.org";
        super::append(
            &written[0],
            &[
                ("ann@example.org".into(), hostile.into()),
                ("bob@example.org".into(), "bounced 5.1.1".into()),
            ],
        )
        .expect("append");
        let text = std::fs::read_to_string(dir.path().join("s.txt")).expect("read");
        assert!(
            !text.contains(['\x1b', '\x07', '\u{202e}']),
            "raw control characters: {text:?}"
        );
        assert!(text.contains("# bounced 5.1.1 \\u{1b}]0;owned"), "{text}");
        let entries = Suppression::load(written).expect("load");
        assert_eq!(entries.len(), 2, "{text}");
        assert!(entries.why("victim@example.org").is_none(), "{text}");
        // Control: an ordinary reason is written as it is.
        assert!(text.contains("# bounced 5.1.1 "), "{text}");
        assert!(text.contains("\nbob@example.org\n"), "{text}");
    }
}
