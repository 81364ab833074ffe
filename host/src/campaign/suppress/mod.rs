//! Suppression lists: the people who must not be mailed (unsubscribed, hard-bounced,
//! complained), from `[recipients] suppress = [files]`.
//!
//! A file ending in `.csv` is a CSV with an `email` column; any other file has one address per
//! line, with blank lines and `#` comment lines. Addresses are matched on the whole address as
//! [`normalise`] makes it (trimmed, lower-cased, NFC, an IDN domain as its A-labels), exactly as
//! the recipient list is: no provider-specific folding (Gmail's dots and `+tags` are kept). The
//! files are read when the campaign loads and again at every stage boundary, so a line added
//! while a stage runs is honoured by the next.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::CampaignError;

pub mod append;

/// One suppression file: where it is and how the campaign file names it.
#[derive(Debug, Clone)]
pub struct SuppressFile {
    pub path: PathBuf,
    pub written: PathBuf,
}

/// Every suppressed address, with the first place it is listed.
#[derive(Debug, Clone, Default)]
pub struct Suppression {
    files: Vec<SuppressFile>,
    /// Normalised address → (file index, 1-based line).
    entries: HashMap<String, (usize, u64)>,
}

impl Suppression {
    /// Reads every file; the error names the file and line at fault.
    pub fn load(files: Vec<SuppressFile>) -> Result<Suppression, CampaignError> {
        let mut entries = HashMap::new();
        for (i, file) in files.iter().enumerate() {
            for (line, address) in read(file)? {
                entries.entry(address).or_insert((i, line));
            }
        }
        Ok(Suppression { files, entries })
    }

    /// The same files, read again.
    pub fn reload(&self) -> Result<Suppression, CampaignError> {
        Suppression::load(self.files.clone())
    }

    /// Where `email` is suppressed (`suppressed.txt line 3`), if it is.
    pub fn why(&self, email: &str) -> Option<String> {
        let (file, line) = self.entries.get(&normalise(email))?;
        Some(format!(
            "suppressed by {} line {line}",
            self.files[*file].written.display()
        ))
    }

    /// How many distinct addresses the files list.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The files, for appending to the first (bounces and complaints).
    pub fn files(&self) -> &[SuppressFile] {
        &self.files
    }
}

/// How addresses are compared, everywhere one address is matched with another: duplicates on
/// the list, suppression, tokens, and the journal, whose unit is the person this names (so a row
/// that moves, or whose address changes case, keeps its fate). Trimmed and lower-cased; beyond
/// ASCII also in NFC, so a decomposed spelling (`u` + U+0308) is the same person as a composed
/// one (`ü`), and with an internationalised domain as its A-labels, so `bücher.example` is
/// `xn--bcher-kva.example` (the form a relay without SMTPUTF8 was given, and a DSN names). An
/// ASCII address is exactly what lower-casing made of it before: its tokens and journal rows
/// are unchanged.
pub fn normalise(email: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    let email = email.trim();
    if email.is_ascii() {
        return email.to_lowercase();
    }
    // NFC after lower-casing too: a case mapping may decompose (U+0130 becomes i + U+0307).
    let lower: String = email
        .nfc()
        .collect::<String>()
        .to_lowercase()
        .nfc()
        .collect();
    match lower.rsplit_once('@') {
        Some((local, domain)) if !domain.is_ascii() => {
            match crate::message::address::ascii_domain(domain) {
                Some(domain) => format!("{local}@{domain}"),
                None => lower,
            }
        }
        _ => lower,
    }
}

/// (line, normalised address) of every entry of one file.
fn read(file: &SuppressFile) -> Result<Vec<(u64, String)>, CampaignError> {
    let shown = file.written.display();
    let text = crate::input_file::read(&file.path, crate::input_file::SUPPRESS_MAX_BYTES).map_err(
        |e| {
            CampaignError::file(
                crate::input_file::shown(&file.path),
                format!("the suppression file {e}"),
            )
        },
    )?;
    let text = String::from_utf8(text).map_err(|e| {
        CampaignError::file(
            shown.to_string(),
            format!(
                "not UTF-8 (invalid byte at offset {})",
                e.utf8_error().valid_up_to()
            ),
        )
    })?;
    let is_csv = file
        .path
        .extension()
        .is_some_and(|x| x.eq_ignore_ascii_case("csv"));
    let entries = if is_csv {
        read_csv(&text, &shown.to_string())?
    } else {
        read_lines(&text)
    };
    for (line, address) in &entries {
        if address.parse::<lettre::Address>().is_err() {
            return Err(CampaignError::line(
                &file.written,
                *line,
                None,
                format!("`{}` is not an email address", crate::term::shown(address)),
            ));
        }
    }
    Ok(entries)
}

fn read_lines(text: &str) -> Vec<(u64, String)> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    text.lines()
        .enumerate()
        .map(|(i, line)| (i as u64 + 1, line.trim()))
        .filter(|(_, line)| !line.is_empty() && !line.starts_with('#'))
        .map(|(n, line)| (n, normalise(line)))
        .collect()
}

fn read_csv(text: &str, shown: &str) -> Result<Vec<(u64, String)>, CampaignError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(text.as_bytes());
    let bad = |e: csv::Error| CampaignError::file(shown, e.to_string());
    let column = reader
        .headers()
        .map_err(bad)?
        .iter()
        .position(|h| h.trim().eq_ignore_ascii_case("email"))
        .ok_or_else(|| CampaignError::file(shown, "line 1: no `email` column"))?;
    let mut out = Vec::new();
    for record in reader.records() {
        let record = record.map_err(bad)?;
        let line = record.position().map_or(0, |p| p.line());
        let address = record.get(column).unwrap_or("").trim();
        if !address.is_empty() {
            out.push((line, normalise(address)));
        }
    }
    Ok(out)
}

/// Resolves `suppress` entries against the campaign's folder.
pub fn files(base: &Path, written: &[PathBuf]) -> Vec<SuppressFile> {
    written
        .iter()
        .map(|w| SuppressFile {
            path: base.join(w),
            written: w.clone(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(name: &str, body: &str) -> (tempfile::TempDir, Result<Suppression, CampaignError>) {
        let dir = tempfile::tempdir().expect("dir");
        std::fs::write(dir.path().join(name), body).expect("write");
        let s = Suppression::load(files(dir.path(), &[PathBuf::from(name)]));
        (dir, s)
    }

    #[test]
    fn lines_comments_and_case_are_handled() {
        let (_d, s) = load(
            "s.txt",
            "# unsubscribed\n\n  Ann@Example.ORG  \nzoë@EXAMPLE.org\n#bob@example.org\n",
        );
        let s = s.expect("load");
        assert_eq!(s.len(), 2);
        assert_eq!(
            s.why("ann@example.org").as_deref(),
            Some("suppressed by s.txt line 3")
        );
        assert!(s.why("ZOË@example.org").is_some());
        // Comments are not entries; and the match is on the whole address.
        assert_eq!(s.why("bob@example.org"), None);
        assert_eq!(s.why("jo.ann@example.org"), None);
        assert_eq!(s.why("ann@example.org.uk"), None);
    }

    #[test]
    fn a_csv_is_read_by_its_email_column() {
        let (_d, s) = load(
            "s.csv",
            "name,Email\nAnn,ANN@x.org\nBob,\n\"Cy, Jr\",cy@x.org\n",
        );
        let s = s.expect("load");
        assert_eq!(
            s.why("ann@x.org").as_deref(),
            Some("suppressed by s.csv line 2")
        );
        assert_eq!(
            s.why("cy@x.org").as_deref(),
            Some("suppressed by s.csv line 4")
        );
        let (_d, s) = load("s.csv", "name\nAnn\n");
        assert!(
            s.expect_err("no column")
                .to_string()
                .contains("no `email` column")
        );
    }

    #[test]
    fn a_line_that_is_not_an_address_is_refused_naming_it() {
        let (_d, s) = load("s.txt", "ann@x.org\nnot an address\n");
        let e = s.expect_err("refused");
        assert!(e.to_string().contains("s.txt: line 2"), "{e}");
    }

    #[test]
    fn spellings_of_one_international_address_are_one_entry() {
        // An NFD local part and an NFD Unicode domain, as some editors and forms save them.
        let (_d, s) = load(
            "s.txt",
            "jo\u{308}rg@example.org\nu@bu\u{308}cher.example\nann@xn--mller-kva.example\n",
        );
        let s = s.expect("load");
        assert_eq!(s.len(), 3);
        assert_eq!(
            s.why("jörg@example.org").as_deref(),
            Some("suppressed by s.txt line 1")
        );
        assert!(s.why("JÖRG@example.org").is_some());
        assert!(s.why("u@bücher.example").is_some());
        assert!(s.why("u@xn--bcher-kva.example").is_some());
        assert!(s.why("ann@müller.example").is_some());
        // Controls: another letter, another domain, or the old rule (lower-casing alone, under
        // which the NFD entry and the NFC recipient differ) do not match.
        assert_eq!(s.why("jorg@example.org"), None);
        assert_eq!(s.why("u@bucher.example"), None);
        assert_ne!(
            "jo\u{308}rg@example.org".to_lowercase(),
            "jörg@example.org".to_lowercase()
        );
    }

    #[test]
    fn normalising_an_ascii_address_is_lower_casing_it() {
        for email in [
            "Ann@Example.COM",
            " bob@x.org ",
            "xn--Bcher-kva@XN--bcher-kva.example",
        ] {
            assert_eq!(normalise(email), email.trim().to_lowercase(), "{email:?}");
        }
        // Case mappings that decompose: U+0130 (İ) lower-cases to i + U+0307 in either form.
        assert_eq!(
            normalise("\u{130}x@example.org"),
            normalise("I\u{307}x@example.org")
        );
    }

    proptest::proptest! {
        /// Canonically equivalent spellings are one address, whatever the letters.
        #[test]
        fn nfd_and_nfc_spellings_normalise_alike(local in "[a-zA-Z\u{c0}-\u{17f}\u{370}-\u{3ff}]{1,12}",
                                                 domain in "[a-z\u{e0}-\u{ff}]{1,10}") {
            use unicode_normalization::UnicodeNormalization;
            let email = format!("{local}@{domain}.example");
            let nfd: String = email.nfd().collect();
            let nfc: String = email.nfc().collect();
            proptest::prop_assert_eq!(normalise(&nfd), normalise(&nfc));
        }
    }
}
