//! The recipient list: a CSV file with a header row and an `email` column.
//!
//! [`RecipientList::scan`] reads the whole file once, streaming, and refuses it at the first
//! problem (file, line, column named). [`RecipientList::stream`] then yields the records again for
//! rendering and fails if the file changed in between. Duplicates (as [`super::normalise`] compares
//! addresses: ignoring case and Unicode normalisation, an IDN domain as its A-labels) are refused,
//! never collapsed: two rows for one person may carry different data, and isomail will not guess
//! which one the operator meant.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::CampaignError;

/// One recipient: the only personal data a renderer instance ever sees.
#[derive(Debug, Clone, PartialEq)]
pub struct Recipient {
    /// 1-based position in the list (the Nth data row).
    pub index: usize,
    /// 1-based line of the CSV file where the record starts.
    pub line: u64,
    pub email: String,
    /// The other columns, in file order.
    pub fields: Vec<(String, String)>,
}

impl Recipient {
    /// A digest of everything the list says about this recipient (address and every column),
    /// so the journal can tell an edited row from an unchanged one.
    pub fn data_digest(&self) -> String {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        h.update(self.email.as_bytes());
        for (name, value) in &self.fields {
            h.update([0]);
            h.update(name.as_bytes());
            h.update([0]);
            h.update(value.as_bytes());
        }
        crate::digest::hex(&h.finalize())
    }

    /// `a***@example.org`: enough for an operator to tell messages apart in a report, without
    /// printing the address itself.
    pub fn masked(&self) -> String {
        mask(&self.email)
    }
}

/// Masks an address's local part but for its first character.
pub fn mask(email: &str) -> String {
    match email.rsplit_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
        None => "***".to_owned(),
    }
}

/// A validated recipient list: its header, size, addresses and fingerprint.
#[derive(Debug)]
pub struct RecipientList {
    path: PathBuf,
    columns: Vec<String>,
    email_column: usize,
    /// Normalised addresses ([`super::normalise`]) in list order.
    addresses: Vec<String>,
    /// Per private column: every (value, recipient index) pair, for the leak scan.
    private_values: Vec<(String, Vec<(String, u32)>)>,
    fingerprint: String,
}

impl RecipientList {
    /// Reads and validates the whole file; nothing is rendered before this succeeds. The values
    /// of the `private` columns are kept for the leak scan.
    pub fn scan(path: &Path, private: &[String]) -> Result<RecipientList, CampaignError> {
        let (columns, email_column, mut reader, hashed) = open(path)?;
        let mut private_values: Vec<(String, Vec<(String, u32)>)> =
            private.iter().map(|p| (p.clone(), Vec::new())).collect();
        let mut addresses = Vec::new();
        let mut seen: HashMap<String, u64> = HashMap::new();
        let mut record = csv::StringRecord::new();
        while let Some(line) = next_record(path, &columns, &mut reader, &mut record)? {
            let recipient = to_recipient(
                path,
                &columns,
                email_column,
                &record,
                line,
                addresses.len() + 1,
            )?;
            let key = super::normalise(&recipient.email);
            if let Some(first) = seen.insert(key.clone(), line) {
                return Err(CampaignError::line(
                    path,
                    line,
                    Some("`email`".into()),
                    format!(
                        "{} is already on line {first} (addresses are compared ignoring case and \
                         Unicode normalisation, an IDN domain as its A-labels); remove one of the \
                         two rows",
                        recipient.masked()
                    ),
                ));
            }
            addresses.push(key);
            for (name, values) in &mut private_values {
                if let Some((_, value)) = recipient.fields.iter().find(|(field, _)| field == name) {
                    values.push((value.clone(), recipient.index as u32));
                }
            }
        }
        if addresses.is_empty() {
            return Err(CampaignError::file(
                path.display().to_string(),
                "the list has a header but no recipients",
            ));
        }
        let fingerprint = hashed.finish(reader, path)?;
        Ok(RecipientList {
            path: path.to_path_buf(),
            columns,
            email_column,
            addresses,
            private_values,
            fingerprint,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Column names in file order, `email` included.
    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    pub fn len(&self) -> usize {
        self.addresses.len()
    }

    pub fn is_empty(&self) -> bool {
        self.addresses.is_empty()
    }

    /// Normalised addresses ([`super::normalise`]), in list order (index 0 is recipient 1).
    pub fn addresses(&self) -> &[String] {
        &self.addresses
    }

    /// Per private column, every (value, 1-based recipient index) pair.
    pub fn private_values(&self) -> &[(String, Vec<(String, u32)>)] {
        &self.private_values
    }

    /// SHA-256 of the file's bytes.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// Reads the records again, in order. The last item is an error if the file changed.
    pub fn stream(&self) -> Result<RecipientStream, CampaignError> {
        let (columns, email_column, reader, hashed) = open(&self.path)?;
        if columns != self.columns || email_column != self.email_column {
            return Err(changed(&self.path));
        }
        Ok(RecipientStream {
            list_path: self.path.clone(),
            expected: self.fingerprint.clone(),
            columns,
            email_column,
            reader: Some(reader),
            hashed: Some(hashed),
            record: csv::StringRecord::new(),
            index: 0,
        })
    }
}

/// The second pass over a validated list.
pub struct RecipientStream {
    list_path: PathBuf,
    expected: String,
    columns: Vec<String>,
    email_column: usize,
    reader: Option<csv::Reader<HashingReader>>,
    hashed: Option<HashHandle>,
    record: csv::StringRecord,
    index: usize,
}

impl Iterator for RecipientStream {
    type Item = Result<Recipient, CampaignError>;

    fn next(&mut self) -> Option<Self::Item> {
        let reader = self.reader.as_mut()?;
        match next_record(&self.list_path, &self.columns, reader, &mut self.record) {
            Ok(Some(line)) => {
                self.index += 1;
                Some(to_recipient(
                    &self.list_path,
                    &self.columns,
                    self.email_column,
                    &self.record,
                    line,
                    self.index,
                ))
            }
            Ok(None) => {
                let reader = self.reader.take()?;
                let result = self.hashed.take()?.finish(reader, &self.list_path);
                match result {
                    Ok(hash) if hash == self.expected => None,
                    Ok(_) => Some(Err(changed(&self.list_path))),
                    Err(e) => Some(Err(e)),
                }
            }
            Err(e) => {
                self.reader = None;
                Some(Err(e))
            }
        }
    }
}

fn changed(path: &Path) -> CampaignError {
    CampaignError::file(
        path.display().to_string(),
        "the file changed while isomail was reading it; run the command again",
    )
}

type HashHandle = std::sync::Arc<std::sync::Mutex<Sha256>>;

/// Hashes every byte the CSV reader consumes, so the fingerprint costs no second read.
struct HashingReader {
    inner: BufReader<File>,
    hash: HashHandle,
}

impl Read for HashingReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Ok(mut h) = self.hash.lock() {
            h.update(&buf[..n]);
        }
        Ok(n)
    }
}

trait FinishHash {
    fn finish(
        self,
        reader: csv::Reader<HashingReader>,
        path: &Path,
    ) -> Result<String, CampaignError>;
}

impl FinishHash for HashHandle {
    /// Drains what the CSV reader had not consumed yet, then returns the hex digest.
    fn finish(
        self,
        reader: csv::Reader<HashingReader>,
        path: &Path,
    ) -> Result<String, CampaignError> {
        let mut rest = reader.into_inner();
        std::io::copy(&mut rest, &mut std::io::sink())
            .map_err(|e| CampaignError::unreadable(path, "cannot read the recipient list", e))?;
        drop(rest);
        let digest = self
            .lock()
            .map_err(|_| CampaignError::Poisoned("recipient hash"))?
            .clone()
            .finalize();
        Ok(crate::digest::hex(&digest))
    }
}

fn open(
    path: &Path,
) -> Result<(Vec<String>, usize, csv::Reader<HashingReader>, HashHandle), CampaignError> {
    let file = crate::input_file::open(path, crate::input_file::LIST_MAX_BYTES).map_err(|e| {
        CampaignError::file(
            crate::input_file::shown(path),
            format!("the recipient list {e}"),
        )
    })?;
    let hash: HashHandle = Default::default();
    let inner = HashingReader {
        inner: BufReader::with_capacity(64 << 10, file),
        hash: hash.clone(),
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_reader(inner);
    let headers = reader
        .headers()
        .map_err(|e| csv_error(path, &[], &e))?
        .clone();
    let columns: Vec<String> = headers.iter().map(|h| h.trim().to_owned()).collect();
    if columns.iter().all(|c| c.is_empty()) {
        return Err(CampaignError::file(
            path.display().to_string(),
            "the file is empty; it needs a header row with an `email` column",
        ));
    }
    let mut email_column = None;
    // First column of each name: one look-up per column, however wide the header.
    let mut seen: std::collections::HashMap<&str, usize> =
        std::collections::HashMap::with_capacity(columns.len());
    for (i, name) in columns.iter().enumerate() {
        if name.is_empty() {
            return Err(CampaignError::line(
                path,
                1,
                Some((i + 1).to_string()),
                "the header has an empty column name",
            ));
        }
        if let Some(&j) = seen.get(name.as_str()) {
            return Err(CampaignError::line(
                path,
                1,
                None,
                format!(
                    "column `{name}` appears twice (columns {} and {})",
                    j + 1,
                    i + 1
                ),
            ));
        }
        seen.insert(name, i);
        if name == "email" {
            email_column = Some(i);
        }
        check_value(path, 1, "header", name)?;
    }
    let email_column = email_column.ok_or_else(|| {
        CampaignError::line(
            path,
            1,
            None,
            format!("no `email` column (the header has: {})", columns.join(", ")),
        )
    })?;
    Ok((columns, email_column, reader, hash))
}

/// Reads the next record; returns its starting line, or `None` at the end.
fn next_record(
    path: &Path,
    columns: &[String],
    reader: &mut csv::Reader<HashingReader>,
    record: &mut csv::StringRecord,
) -> Result<Option<u64>, CampaignError> {
    match reader.read_record(record) {
        Ok(true) => Ok(Some(record.position().map_or(0, |p| p.line()))),
        Ok(false) => Ok(None),
        Err(e) => Err(csv_error(path, columns, &e)),
    }
}

fn to_recipient(
    path: &Path,
    columns: &[String],
    email_column: usize,
    record: &csv::StringRecord,
    line: u64,
    index: usize,
) -> Result<Recipient, CampaignError> {
    let mut email = None;
    let mut fields = Vec::with_capacity(columns.len().saturating_sub(1));
    for (i, (name, value)) in columns.iter().zip(record.iter()).enumerate() {
        check_value(path, line, name, value)?;
        if i == email_column {
            email = Some(value.trim().to_owned());
        } else {
            fields.push((name.clone(), value.to_owned()));
        }
    }
    let email = email.unwrap_or_default();
    validate_address(path, line, &email)?;
    Ok(Recipient {
        index,
        line,
        email,
        fields,
    })
}

/// Values go into headers and bodies: a line break or other control character is refused.
fn check_value(path: &Path, line: u64, column: &str, value: &str) -> Result<(), CampaignError> {
    if let Some(c) = value.chars().find(|c| c.is_control() && *c != '\t') {
        let what = match c {
            '\r' => "a carriage return (CR)".to_owned(),
            '\n' => "a line feed (LF)".to_owned(),
            other => format!("the control character U+{:04X}", other as u32),
        };
        return Err(CampaignError::line(
            path,
            line,
            Some(format!("`{column}`")),
            format!("the value contains {what}"),
        ));
    }
    Ok(())
}

/// An address isomail will send to (line `line` of `path`): a bare addr-spec, its domain ASCII or
/// internationalised, its local part unquoted, ASCII or UTF-8; see [`crate::message::address`]
/// for what is refused and why. Decided here, before anything is rendered, so an address no
/// message can go to stops the run naming its line rather than failing that message later.
fn validate_address(path: &Path, line: u64, email: &str) -> Result<(), CampaignError> {
    use crate::message::address::Refusal;
    let Some(refusal) = crate::message::address::refusal(email) else {
        return Ok(());
    };
    let why = match refusal {
        Refusal::Empty => refusal.to_string(),
        other => format!("`{}`: {other}", crate::term::shown(&mask(email))),
    };
    Err(CampaignError::line(path, line, Some("`email`".into()), why))
}

fn csv_error(path: &Path, columns: &[String], err: &csv::Error) -> CampaignError {
    let line = err.position().map(|p| p.line());
    let message = match err.kind() {
        csv::ErrorKind::Utf8 { err: utf8, .. } => match columns.get(utf8.field()) {
            Some(name) => {
                format!("column `{name}`: the value is not valid UTF-8 (save the file as UTF-8)")
            }
            None => format!(
                "field {} is not valid UTF-8 (save the file as UTF-8)",
                utf8.field() + 1
            ),
        },
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => {
            format!("the row has {len} fields but the header has {expected_len}")
        }
        csv::ErrorKind::Io(e) => format!("cannot read: {e}"),
        _ => err.to_string(),
    };
    match line {
        Some(line) => CampaignError::line(path, line, None, message),
        None => CampaignError::file(path.display().to_string(), message),
    }
}
