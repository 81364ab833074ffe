//! Recipient values in URLs that a browser or mail client follows or loads: which attributes
//! hold such URLs, how a value is written into one, and which URLs holding a value are refused.
//!
//! A value that is a whole URL is the link itself, so it must make an `https:`, `http:`, `mailto:`
//! or `tel:` URL or a relative one: never `javascript:`, `data:`, `vbscript:` or any other scheme
//! a value could bring along. A value in part of a URL is percent-encoded as one URL component,
//! so it adds no path segment, parameter or fragment; in a URL whose own scheme runs script
//! (`javascript:`, `vbscript:`, `data:`, which are decoded before they run) no value may go at all,
//! as in an `on…` handler. Schemes are read by the `url` crate, which follows the WHATWG URL
//! standard as browsers do (leading spaces and controls dropped, tabs and line breaks removed,
//! case ignored), from the attribute value as the HTML tokenizer decoded it (`&#106;avascript:`).

use percent_encoding::{AsciiSet, CONTROLS, NON_ALPHANUMERIC, utf8_percent_encode};
use url::{ParseError, Url};

/// What a value in part of a URL keeps as it is: RFC 3986's unreserved characters.
pub const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// What a whole URL in a list of URLs may not hold as it is: what would end it and start the
/// next one (ASCII whitespace, and in `srcset` a comma).
const IN_LIST: &AsciiSet = &CONTROLS.add(b' ').add(b',');

/// The schemes a URL holding a recipient value may have, whoever wrote the scheme.
const ALLOWED: [&str; 4] = ["https", "http", "mailto", "tel"];

/// Schemes whose URL is script, or a document that may hold some, once percent-decoded: a
/// template's own URL with one of these takes no value anywhere in it.
const SCRIPT: [&str; 3] = ["javascript", "vbscript", "data"];

/// How an attribute holds URLs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Holds {
    /// The whole value is one URL.
    One,
    /// URLs separated by whitespace (`ping`, `archive`).
    Spaced,
    /// Image candidates (`srcset`): a URL and its descriptors, candidates separated by commas.
    Candidates,
}

/// Whether the attribute `name` (lower-cased) holds URLs a browser or mail client follows or
/// loads, on any element: HTML's, SVG's and the legacy ones mail clients still honour.
pub fn holds(name: &[u8]) -> Option<Holds> {
    match name {
        b"href" | b"src" | b"action" | b"formaction" | b"poster" | b"background" | b"cite"
        | b"data" | b"codebase" | b"classid" | b"longdesc" | b"lowsrc" | b"dynsrc"
        | b"manifest" | b"icon" | b"profile" | b"usemap" | b"xlink:href" | b"xml:base" => {
            Some(Holds::One)
        }
        b"srcset" | b"imagesrcset" => Some(Holds::Candidates),
        b"ping" | b"archive" => Some(Holds::Spaced),
        _ => None,
    }
}

/// How one placeholder's value is written into a URL.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Written {
    /// The whole URL: as it is.
    Whole,
    /// A whole URL in a list: with what would end it percent-encoded.
    WholeInList,
    /// Part of a URL: percent-encoded as one component.
    Part,
}

impl Written {
    /// `value` as the URL holds it (before HTML escaping).
    pub fn write(self, value: &str, out: &mut String) {
        match self {
            Written::Whole => out.push_str(value),
            Written::WholeInList => out.extend(utf8_percent_encode(value, IN_LIST)),
            Written::Part => out.extend(utf8_percent_encode(value, COMPONENT)),
        }
    }
}

/// The URLs of an attribute value `decoded` (character references decoded), each as its byte
/// range in `decoded`. What is not in one (a candidate's descriptors) holds no URL.
pub fn split(decoded: &str, holds: Holds) -> Vec<(usize, usize)> {
    let mut urls = Vec::new();
    let tokens = decoded
        .split_ascii_whitespace()
        .map(|token| (token.as_ptr() as usize - decoded.as_ptr() as usize, token));
    match holds {
        Holds::One => urls.push((0, decoded.len())),
        Holds::Spaced => urls.extend(tokens.map(|(at, token)| (at, at + token.len()))),
        // As HTML reads `srcset`: a URL (commas around it are the list's), then descriptors up
        // to a comma, after which the next candidate's URL starts.
        Holds::Candidates => {
            let mut url_next = true;
            for (at, token) in tokens {
                let (mut at, mut token) = (at, token);
                if !url_next {
                    let Some(comma) = token.find(',') else {
                        continue;
                    };
                    (at, token) = (at + comma + 1, &token[comma + 1..]);
                    url_next = true;
                }
                let url = token.trim_start_matches(',');
                at += token.len() - url.len();
                if url.is_empty() {
                    continue;
                }
                let trimmed = url.trim_end_matches(',');
                urls.push((at, at + trimmed.len()));
                url_next = trimmed.len() < url.len();
            }
        }
    }
    urls
}

/// Whether `url` is `placeholder` alone, but for what the URL standard strips around a URL
/// (C0 controls and spaces): then the value is the whole URL.
pub fn is_whole(url: &str, placeholder: &str) -> bool {
    url.trim_matches(|c: char| c <= ' ') == placeholder
}

/// The scheme a browser reads in `url`, lower-cased; `None` for a relative URL.
fn scheme_of(url: &str) -> Result<Option<String>, ParseError> {
    match Url::parse(url) {
        Ok(parsed) => Ok(Some(parsed.scheme().to_owned())),
        Err(ParseError::RelativeUrlWithoutBase) => Ok(None),
        Err(err) => Err(err),
    }
}

/// Why the URL `url`, as a browser reads it with its values in, may not hold them; `template`
/// is the same URL without them (the scheme the template itself wrote, if any). The text
/// continues "…lands in the href attribute of <a>, where it".
pub fn refused(url: &str, template: &str) -> Option<String> {
    let scheme = match scheme_of(url) {
        Ok(Some(scheme)) => scheme,
        Ok(None) => return None,
        Err(err) => return Some(format!("makes a URL a browser cannot read ({err})")),
    };
    if ALLOWED.contains(&scheme.as_str()) {
        return None;
    }
    if SCRIPT.contains(&scheme.as_str()) {
        return Some(format!(
            "is in a `{scheme}:` URL, which a browser runs or opens as a page: no value may go \
             in one, percent-encoded or not"
        ));
    }
    // A scheme the template chose, which the values did not change, is the author's.
    if scheme_of(template).ok().flatten().as_deref() == Some(scheme.as_str()) {
        return None;
    }
    Some(format!(
        "makes a `{scheme}:` URL; a URL made from recipient data must be https:, http:, mailto:, \
         tel: or relative"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes_are_read_as_browsers_read_them() {
        for hostile in [
            "javascript:alert(1)",
            "JaVaScRiPt:alert(1)",
            "java\tscript:alert(1)",
            "java\nscript:alert(1)",
            " \x01javascript:alert(1)",
            " data:text/html,<script>alert(1)</script>",
            "vbscript:msgbox(1)",
            "file:///etc/passwd",
        ] {
            assert!(refused(hostile, "").is_some(), "{hostile:?}");
        }
        // Controls: the allowed schemes, relative URLs, and what only looks like a scheme.
        for fine in [
            "https://example.org/x",
            "HTTP://example.org/",
            "mailto:a@example.org",
            "tel:+1",
            "/path?q=1",
            "//example.org/x",
            "&#106;avascript:alert(1)",
            "\u{a0}javascript:alert(1)",
        ] {
            assert_eq!(refused(fine, ""), None, "{fine:?}");
        }
    }

    #[test]
    fn a_template_keeps_its_own_scheme_unless_it_runs_script() {
        assert_eq!(refused("sms:+1%20555", "sms:"), None);
        assert!(refused("sms:+1", "").is_some());
        assert!(refused("javascript:f('%27)')", "javascript:f('')").is_some());
        assert!(refused("data:text/plain,x", "data:text/plain,").is_some());
    }

    #[test]
    fn a_list_is_split_into_its_urls() {
        let urls = |s: &'static str, holds| -> Vec<&'static str> {
            split(s, holds).iter().map(|&(a, b)| &s[a..b]).collect()
        };
        let candidates = urls(" a.png 1x,b.png  2x , ,c.png", Holds::Candidates);
        assert_eq!(candidates, ["a.png", "b.png", "c.png"]);
        let candidates = urls("/a,b.png 1x,/c.png", Holds::Candidates);
        assert_eq!(candidates, ["/a,b.png", "/c.png"]);
        assert_eq!(urls(" /a  /b ", Holds::Spaced), ["/a", "/b"]);
    }
}
