//! Relaxed canonicalisation (RFC 6376 §3.4.2 and §3.4.4): a message split into its header
//! fields and body, refused where a verifier might read it differently, and the header fields
//! and body as DKIM hashes them.

use super::SignError;

/// A message split into its header fields (each with its folded lines, without the final CRLF)
/// and its body.
pub(super) struct Parsed<'a> {
    pub(super) fields: Vec<Field<'a>>,
    pub(super) body: &'a [u8],
}

pub(super) struct Field<'a> {
    /// Lower-cased.
    pub(super) name: String,
    /// After the colon, with the folds.
    value: &'a [u8],
}

impl<'a> Parsed<'a> {
    pub(super) fn new(message: &'a [u8]) -> Result<Parsed<'a>, SignError> {
        // Relaxed canonicalisation is defined on CRLF lines; a bare CR or LF would be read one
        // way here and perhaps another by a relay that "fixes" it, so it is refused.
        for (i, pair) in message.windows(2).enumerate() {
            let bare = match pair {
                [b'\r', next] => *next != b'\n',
                [prev, b'\n'] => *prev != b'\r',
                _ => false,
            };
            if bare {
                let at = if pair[0] == b'\r' { i } else { i + 1 };
                return Err(SignError::BareLineBreak(at));
            }
        }
        if message.first() == Some(&b'\n') || message.last() == Some(&b'\r') {
            return Err(SignError::BareLineBreakAtEnd);
        }

        let mut fields: Vec<Field<'a>> = Vec::new();
        let mut rest = message;
        let mut field_start = 0;
        let mut offset = 0;
        loop {
            let Some(end) = find_crlf(rest) else {
                return Err(SignError::NoHeaderEnd);
            };
            let line = &rest[..end];
            if line.is_empty() {
                if offset > field_start {
                    fields.push(Field::new(&message[field_start..offset - 2])?);
                }
                let body = &message[offset + 2..];
                if fields.is_empty() {
                    return Err(SignError::NoFields);
                }
                return Ok(Parsed { fields, body });
            }
            let continued = matches!(line[0], b' ' | b'\t');
            if continued && offset == 0 {
                return Err(SignError::StartsFolded);
            }
            if !continued && offset > field_start {
                fields.push(Field::new(&message[field_start..offset - 2])?);
                field_start = offset;
            }
            offset += end + 2;
            rest = &rest[end + 2..];
        }
    }
}

impl<'a> Field<'a> {
    fn new(raw: &'a [u8]) -> Result<Field<'a>, SignError> {
        let colon = raw
            .iter()
            .position(|&b| b == b':')
            .ok_or_else(|| SignError::NoColon(shown(raw)))?;
        let name = &raw[..colon];
        // RFC 5322 field names: printable ASCII except the colon. Whitespace before the colon is
        // obsolete syntax that verifiers read differently (dkimpy refuses the message), so it is
        // refused here too, as is whitespace in or a fold across a name.
        if name.is_empty() || !name.iter().all(|&b| (33..=126).contains(&b)) {
            return Err(SignError::BadName(shown(raw)));
        }
        Ok(Field {
            name: String::from_utf8_lossy(name).to_ascii_lowercase(),
            value: &raw[colon + 1..],
        })
    }
}

/// A header line for an error message: at most 60 bytes, control characters escaped.
fn shown(raw: &[u8]) -> String {
    let cut = &raw[..raw.len().min(60)];
    String::from_utf8_lossy(cut).escape_debug().to_string()
}

fn find_crlf(bytes: &[u8]) -> Option<usize> {
    bytes.windows(2).position(|w| w == b"\r\n")
}

/// The covered fields in `h=` order, each relaxed (§3.4.2). Instances of a name are taken from
/// the bottom up; a name listed once more than it occurs contributes nothing (§5.4.2).
pub(super) fn canonical_signed_headers(fields: &[Field<'_>], names: &[&str]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut next_above: Vec<(&str, usize)> = Vec::new();
    for &name in names {
        let slot = match next_above.iter().position(|(n, _)| *n == name) {
            Some(slot) => slot,
            None => {
                next_above.push((name, fields.len()));
                next_above.len() - 1
            }
        };
        let above = next_above[slot].1;
        match fields[..above].iter().rposition(|f| f.name == name) {
            Some(index) => {
                relaxed_header(name.as_bytes(), fields[index].value, &mut out);
                next_above[slot].1 = index;
            }
            None => next_above[slot].1 = 0,
        }
    }
    out
}

/// §3.4.2: `name` lower-cased; the value unfolded, each run of whitespace one space, none at
/// either end; then `name:value` CRLF. `name` has no whitespace (see [`Field::new`]).
pub(super) fn relaxed_header(name: &[u8], value: &[u8], out: &mut Vec<u8>) {
    out.extend(name.to_ascii_lowercase());
    out.push(b':');
    let mut space = false;
    let mut started = false;
    for &b in value {
        match b {
            // Only CRLF before whitespace is left in a field (the message was checked), so
            // dropping CR and LF is unfolding.
            b'\r' | b'\n' => {}
            b' ' | b'\t' => space = started,
            _ => {
                if space {
                    out.push(b' ');
                    space = false;
                }
                out.push(b);
                started = true;
            }
        }
    }
    out.extend_from_slice(b"\r\n");
}

/// §3.4.4: each run of whitespace in a line one space, none at its end; empty lines at the end
/// removed; a non-empty body ends with CRLF.
pub(super) fn relaxed_body(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len());
    let mut empty_lines = 0;
    let mut rest = body;
    while !rest.is_empty() {
        let (line, next) = match find_crlf(rest) {
            Some(end) => (&rest[..end], &rest[end + 2..]),
            None => (rest, &rest[rest.len()..]),
        };
        rest = next;
        let mut canonical = Vec::with_capacity(line.len());
        let mut space = false;
        for &b in line {
            if b == b' ' || b == b'\t' {
                space = true;
            } else {
                if space {
                    canonical.push(b' ');
                    space = false;
                }
                canonical.push(b);
            }
        }
        if canonical.is_empty() {
            empty_lines += 1;
            continue;
        }
        for _ in 0..empty_lines {
            out.extend_from_slice(b"\r\n");
        }
        empty_lines = 0;
        out.extend_from_slice(&canonical);
        out.extend_from_slice(b"\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(message: &[u8]) -> Vec<String> {
        Parsed::new(message)
            .expect("parses")
            .fields
            .iter()
            .map(|f| format!("{}:{}", f.name, String::from_utf8_lossy(f.value)))
            .collect()
    }

    #[test]
    fn relaxed_header_unfolds_and_squeezes_whitespace() {
        let mut out = Vec::new();
        let field = Field::new(b"SubJect:  Hello \t world\r\n\t again  ").expect("field");
        relaxed_header(field.name.as_bytes(), field.value, &mut out);
        assert_eq!(out, b"subject:Hello world again\r\n");
    }

    #[test]
    fn relaxed_body_squeezes_lines_and_drops_trailing_empty_lines() {
        assert_eq!(
            relaxed_body(b"a  b \t\r\n\r\n \r\nc\t\r\n\r\n  \r\n\r\n"),
            b"a b\r\n\r\n\r\nc\r\n"
        );
        assert_eq!(relaxed_body(b"no final newline"), b"no final newline\r\n");
        assert_eq!(relaxed_body(b"\r\n\r\n"), b"");
        assert_eq!(relaxed_body(b""), b"");
    }

    #[test]
    fn fields_keep_their_folded_lines() {
        assert_eq!(
            fields(b"A: 1\r\nB: 2\r\n 3\r\n\tfour\r\nC:\r\n\r\nbody"),
            ["a: 1", "b: 2\r\n 3\r\n\tfour", "c:"]
        );
    }

    #[test]
    fn repeated_names_take_instances_from_the_bottom_up() {
        let parsed = Parsed::new(b"To: 1\r\nFrom: f\r\nTo: 2\r\n\r\n").expect("parses");
        assert_eq!(
            canonical_signed_headers(&parsed.fields, &["to", "from", "to", "to", "from"]),
            b"to:2\r\nfrom:f\r\nto:1\r\n"
        );
    }
}
