//! A body as a message carries it: every line break one CRLF, in the transfer encoding that
//! takes the fewest octets among those whose lines a relay cannot break (7bit, quoted-printable
//! or base64). Linear in the body's size.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::headers::SHORT_LINE;

/// Octets of body per base64 line: 57 octets are 76 characters (RFC 2045 §6.8).
const BASE64_LINE_OCTETS: usize = 57;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Encoding {
    SevenBit,
    QuotedPrintable,
    Base64,
}

impl Encoding {
    pub(super) fn name(self) -> &'static str {
        match self {
            Encoding::SevenBit => "7bit",
            Encoding::QuotedPrintable => "quoted-printable",
            Encoding::Base64 => "base64",
        }
    }
}

pub(super) struct EncodedBody {
    pub(super) encoding: Encoding,
    pub(super) bytes: Vec<u8>,
}

/// A body with CRLF line breaks, in the encoding that carries it in the fewest octets among
/// those whose lines a relay cannot break: 7bit when it is printable ASCII in lines of at most
/// [`SHORT_LINE`] octets, else quoted-printable or base64 (both in lines of 76).
pub(super) fn encode_body(text: &str) -> EncodedBody {
    let canonical = crlf_line_breaks(text);
    let mut longest_line = 0;
    let mut line_start = 0;
    let mut unprintable = 0usize;
    let mut equals = 0usize;
    let mut i = 0;
    while i < canonical.len() {
        match canonical[i] {
            b'\r' => {
                // `crlf_line_breaks` made every CR the start of a CRLF.
                longest_line = longest_line.max(i - line_start);
                i += 2;
                line_start = i;
                continue;
            }
            b'=' => equals += 1,
            b'\t' | b' '..=b'~' => {}
            _ => unprintable += 1,
        }
        i += 1;
    }
    longest_line = longest_line.max(canonical.len() - line_start);
    if unprintable == 0 && longest_line <= SHORT_LINE {
        return EncodedBody {
            encoding: Encoding::SevenBit,
            bytes: canonical,
        };
    }
    // Quoted-printable spends three octets on each escaped one, base64 four on every three.
    if (unprintable + equals) * 6 <= canonical.len() {
        EncodedBody {
            encoding: Encoding::QuotedPrintable,
            bytes: quoted_printable::encode(&canonical),
        }
    } else {
        let lines = canonical.len().div_ceil(BASE64_LINE_OCTETS);
        let mut out = String::with_capacity(lines * 78);
        for chunk in canonical.chunks(BASE64_LINE_OCTETS) {
            BASE64.encode_string(chunk, &mut out);
            out.push_str("\r\n");
        }
        EncodedBody {
            encoding: Encoding::Base64,
            bytes: out.into_bytes(),
        }
    }
}

/// `text` with each line break (`\r\n`, or a `\r` or `\n` alone) as one CRLF, in one pass.
///
/// A bare CR has no meaning in a message other than a line break (old Mac line ends, a pasted
/// notes column); RFC 5322 allows CR only in CRLF, so it becomes one rather than failing the
/// message.
fn crlf_line_breaks(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len() + bytes.len() / 8 + 2);
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\r' => {
                out.extend_from_slice(b"\r\n");
                i += if bytes.get(i + 1) == Some(&b'\n') {
                    2
                } else {
                    1
                };
            }
            b'\n' => {
                out.extend_from_slice(b"\r\n");
                i += 1;
            }
            _ => {
                let run = bytes[i..]
                    .iter()
                    .position(|&b| b == b'\r' || b == b'\n')
                    .unwrap_or(bytes.len() - i);
                out.extend_from_slice(&bytes[i..i + run]);
                i += run;
            }
        }
    }
    out
}
