//! Recipient values in URLs and script, in the HTML part any renderer returned (issue 21 §4).
//!
//! The built-in renderer refuses a bad URL in a Markdown or MJML body where it writes the value,
//! but an HTML template is rendered by minijinja, which only HTML-escapes, and a renderer of the
//! campaign's own (Python, JavaScript, Rust) is untrusted. So the host reads every HTML part as
//! a browser does before anything is sent, with this recipient's own values (the address and
//! every field the renderer was given):
//!
//! - an attribute that holds a URL (`href`, `src`, `action`, … on any element, each URL of a
//!   `srcset` or `ping` list, the URL of a `<meta http-equiv=refresh>`) whose URL is one of the
//!   values, as a whole, must make an `https:`, `http:`, `mailto:` or `tel:` URL or a relative
//!   one: never `javascript:`, `data:`, `vbscript:`, `file:` or any other scheme;
//! - a URL whose scheme runs script or opens a document (`javascript:`, `vbscript:`, `data:`)
//!   may hold no value of three characters or more, as written or percent-encoded: its text is
//!   decoded and run (`');alert(1);//`);
//! - neither may an event handler (`on…`) or an `<iframe srcdoc>`.
//!
//! A template's own `javascript:` URL without any value in it is allowed: it is the template
//! author's choice, the same for every recipient, and mail clients do not run it.
//!
//! Attribute values are decoded by a WHATWG tokenizer (`html5gum`) as browsers decode them
//! (`&#106;avascript:`), and schemes are read by the `url` crate as the WHATWG URL standard
//! does (leading C0 controls and spaces dropped, tabs and line breaks removed, case ignored).
//! One pass over the HTML; the URL parser runs only on a URL that is a value, or whose text
//! before its first `:` ends in `script` or `data`. A message without HTML costs nothing.

use std::borrow::Cow;

use html5gum::emitters::callback::{CallbackEmitter, CallbackEvent};
use html5gum::{Span, State, Tokenizer};
use percent_encoding::percent_decode_str;
use url::{ParseError, Url};

use super::quiet::Quiet;

/// The schemes a URL that is a recipient value may have.
const ALLOWED: [&str; 4] = ["https", "http", "mailto", "tel"];

/// Schemes whose URL is script, or a document that may hold some, once percent-decoded.
const SCRIPT: [&str; 3] = ["javascript", "vbscript", "data"];

/// A value shorter than this (in bytes) is not looked for inside script: `1` or `no` would be
/// found in every handler, and cannot break out of a string in one.
const MIN_IN_SCRIPT: usize = 3;

/// Findings kept per message: the message fails at the first; more only repeat the lesson.
const MAX_FINDINGS: usize = 8;

/// Longest element or attribute name shown in a report (names come from the untrusted HTML).
const MAX_NAME: usize = 40;

/// A recipient value where a browser would run it or follow it somewhere it must not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlFinding {
    /// The column whose value it is (`email` for the address).
    pub column: String,
    /// The element it is in, as the HTML names it (lower-case, made inert).
    pub element: String,
    /// The attribute it is in, named the same way.
    pub attribute: String,
    pub problem: Problem,
}

/// What is wrong with a value where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// The value is the whole URL and makes one with this scheme (lower-case), which is not
    /// `https:`, `http:`, `mailto:` or `tel:`.
    Scheme(String),
    /// The value is the whole URL and makes one a browser cannot read.
    Unreadable,
    /// The value is in a URL with this script scheme.
    InScript(String),
    /// The value is in an event handler, which runs as script.
    Handler,
    /// The value is in an `<iframe srcdoc>`, a document of its own.
    Srcdoc,
}

impl std::fmt::Display for UrlFinding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (column, element, attribute) = (&self.column, &self.element, &self.attribute);
        match &self.problem {
            Problem::Scheme(scheme) => write!(
                f,
                "the recipient's `{column}` is the whole {attribute} of <{element}>, a \
                 `{scheme}:` URL; a URL made from recipient data must be https:, http:, \
                 mailto:, tel: or relative"
            ),
            Problem::Unreadable => write!(
                f,
                "the recipient's `{column}` is the whole {attribute} of <{element}>, a URL a \
                 browser cannot read; a URL made from recipient data must be https:, http:, \
                 mailto:, tel: or relative"
            ),
            Problem::InScript(scheme) => write!(
                f,
                "the recipient's `{column}` is in the {attribute} of <{element}>, a `{scheme}:` \
                 URL, which a browser runs or opens as a page: a recipient value in a \
                 `{scheme}:` URL is refused, percent-encoded or not"
            ),
            Problem::Handler => write!(
                f,
                "the recipient's `{column}` is in the {attribute} attribute of <{element}>, an \
                 event handler, which runs as script: no recipient value may go in one"
            ),
            Problem::Srcdoc => write!(
                f,
                "the recipient's `{column}` is in the srcdoc of <{element}>, a document of its \
                 own: no recipient value may go in one"
            ),
        }
    }
}

/// One of the recipient's values.
struct Value<'a> {
    column: &'a str,
    value: &'a str,
    /// As a whole URL: without what the URL standard strips around one.
    whole: &'a str,
}

/// What the URL standard strips around a URL: C0 controls and spaces.
fn trim(url: &str) -> &str {
    url.trim_matches(|c: char| c <= ' ')
}

/// Everything wrong with the recipient values (`email` and `fields`, as the renderer was given
/// them) in the HTML part `html`.
pub fn check(html: &str, email: &str, fields: &[(String, String)]) -> Vec<UrlFinding> {
    let values: Vec<Value<'_>> = std::iter::once(("email", email))
        .chain(fields.iter().map(|(c, v)| (c.as_str(), v.as_str())))
        .map(|(column, value)| Value {
            column,
            value,
            whole: trim(value),
        })
        .filter(|v| !v.whole.is_empty())
        .collect();
    if values.is_empty() || html.is_empty() {
        return Vec::new();
    }
    let mut reader = Reader {
        values,
        element: Vec::new(),
        attribute: Vec::new(),
        refresh: false,
        content: None,
        findings: Vec::new(),
    };
    let emitter = CallbackEmitter::new(|event: CallbackEvent<'_>, _: Span<()>| reader.event(event));
    let mut tokenizer = Tokenizer::new_with_emitter(html, Quiet(emitter));
    while let Some(token) = tokenizer.next() {
        // Reading a `&str` cannot fail.
        let Ok(state) = token;
        tokenizer.set_state(state);
    }
    drop(tokenizer);
    reader.findings
}

/// The tokenizer state a browser's tree builder switches to after each element's start tag,
/// scripting disabled as in mail (`noscript` is ordinary markup, its links are followed).
fn raw_text(name: &[u8]) -> Option<State> {
    Some(match name {
        b"title" | b"textarea" => State::RcData,
        b"script" => State::ScriptData,
        b"style" | b"iframe" | b"noembed" | b"noframes" | b"xmp" => State::RawText,
        b"plaintext" => State::PlainText,
        _ => return None,
    })
}

/// How an attribute holds URLs.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Holds {
    /// The whole value is one URL.
    One,
    /// URLs separated by whitespace (`ping`, `archive`).
    Spaced,
    /// Image candidates (`srcset`): a URL and its descriptors, candidates separated by commas.
    Candidates,
}

/// Whether the attribute `name` (lower-cased) holds URLs a browser or mail client follows or
/// loads, on any element: HTML's, SVG's and the legacy ones mail clients still honour.
fn holds(name: &[u8]) -> Option<Holds> {
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

/// The URLs of an attribute value `decoded`, as HTML splits its lists. A `srcset` candidate is
/// a URL (commas around it are the list's) then descriptors up to a comma.
fn split(decoded: &str, holds: Holds) -> Vec<&str> {
    let tokens = decoded.split_ascii_whitespace();
    match holds {
        Holds::One => vec![decoded],
        Holds::Spaced => tokens.collect(),
        Holds::Candidates => {
            let mut urls = Vec::new();
            let mut url_next = true;
            for mut token in tokens {
                if !url_next {
                    let Some(comma) = token.find(',') else {
                        continue;
                    };
                    token = &token[comma + 1..];
                    url_next = true;
                }
                let url = token.trim_start_matches(',');
                if url.is_empty() {
                    continue;
                }
                let trimmed = url.trim_end_matches(',');
                urls.push(trimmed);
                url_next = trimmed.len() < url.len();
            }
            urls
        }
    }
}

/// The scheme a browser reads in `url`, lower-cased; `None` for a relative URL.
fn scheme_of(url: &str) -> Result<Option<String>, ParseError> {
    match Url::parse(url) {
        Ok(parsed) => Ok(Some(parsed.scheme().to_owned())),
        Err(ParseError::RelativeUrlWithoutBase) => Ok(None),
        Err(err) => Err(err),
    }
}

/// Whether `url` may have a script scheme: a scheme is all a URL holds before its first `:`
/// (tabs and line breaks aside), so without one ending in `script` or `data` it has none, and
/// the URL parser need not run.
fn may_run_script(url: &str) -> bool {
    let Some(colon) = url.find(':') else {
        return false;
    };
    let head = url.as_bytes()[..colon]
        .iter()
        .rev()
        .filter(|b| !matches!(b, b'\t' | b'\n' | b'\r'))
        .map(u8::to_ascii_lowercase);
    ["script", "data"]
        .iter()
        .any(|end| head.clone().take(end.len()).eq(end.bytes().rev()))
}

/// The script scheme `url` has, if any, as a browser reads it.
fn script_scheme(url: &str) -> Option<String> {
    if !may_run_script(url) {
        return None;
    }
    scheme_of(url)
        .ok()
        .flatten()
        .filter(|s| SCRIPT.contains(&s.as_str()))
}

/// The URL a `<meta http-equiv=refresh>` goes to, read from its `content` as HTML's "shared
/// declarative refresh steps" read it; `None` when the content is no refresh or names no URL.
fn refresh_url(content: &str) -> Option<&str> {
    let ws = |c: char| c.is_ascii_whitespace();
    let rest = content.trim_start_matches(ws);
    let after_time = rest.trim_start_matches(|c: char| c.is_ascii_digit() || c == '.');
    // No time, or a time not followed by a separator, is no refresh.
    let separated = after_time.starts_with([';', ',']) || after_time.starts_with(ws);
    if after_time.len() == rest.len() || !(separated || after_time.is_empty()) {
        return None;
    }
    let rest = after_time.trim_start_matches(ws);
    let rest = rest
        .strip_prefix([';', ','])
        .unwrap_or(rest)
        .trim_start_matches(ws);
    let rest = match rest.get(..3) {
        Some(u) if u.eq_ignore_ascii_case("url") => {
            let after = rest[3..].trim_start_matches(ws);
            match after.strip_prefix('=') {
                Some(after) => after.trim_start_matches(ws),
                None => rest,
            }
        }
        _ => rest,
    };
    let url = match rest.chars().next() {
        Some(quote @ ('"' | '\'')) => {
            let quoted = &rest[1..];
            quoted.split(quote).next().unwrap_or(quoted)
        }
        _ => rest,
    };
    (!url.is_empty()).then_some(url)
}

/// A name from the HTML as a report may show it: only name characters, and not too long.
fn name_shown(name: &[u8]) -> String {
    let kept: String = name
        .iter()
        .filter(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b':'))
        .take(MAX_NAME)
        .map(|&b| char::from(b))
        .collect();
    if kept.is_empty() { "?".into() } else { kept }
}

/// The state of one pass over an HTML part.
struct Reader<'a> {
    values: Vec<Value<'a>>,
    /// The start tag being read, and its attribute whose value comes next.
    element: Vec<u8>,
    attribute: Vec<u8>,
    /// The start tag is a `<meta>` with `http-equiv=refresh`, and its `content`.
    refresh: bool,
    content: Option<String>,
    findings: Vec<UrlFinding>,
}

impl Reader<'_> {
    fn event(&mut self, event: CallbackEvent<'_>) -> Option<State> {
        if self.findings.len() >= MAX_FINDINGS {
            return None;
        }
        match event {
            CallbackEvent::OpenStartTag { name } => {
                self.element.clear();
                self.element.extend_from_slice(name);
                self.refresh = false;
                self.content = None;
            }
            CallbackEvent::AttributeName { name } => {
                self.attribute.clear();
                self.attribute.extend_from_slice(name);
            }
            CallbackEvent::AttributeValue { value } => self.attribute_value(value),
            CallbackEvent::CloseStartTag { .. } => {
                if self.refresh
                    && let Some(content) = self.content.take()
                    && let Some(url) = refresh_url(&content)
                {
                    self.attribute.clear();
                    self.attribute.extend_from_slice(b"content");
                    self.url(url, &content, false);
                }
                return raw_text(&self.element);
            }
            CallbackEvent::EndTag { .. } => self.element.clear(),
            _ => {}
        }
        None
    }

    fn attribute_value(&mut self, value: &[u8]) {
        let name = self.attribute.as_slice();
        let handler = name.len() > 2 && name.starts_with(b"on");
        let meta = self.element == b"meta" && matches!(name, b"http-equiv" | b"content");
        let holds = holds(name);
        if holds.is_none() && !handler && name != b"srcdoc" && !meta {
            return;
        }
        let (srcdoc, content) = (name == b"srcdoc", name == b"content");
        let text = String::from_utf8_lossy(value);
        if holds == Some(Holds::One) {
            self.url(&text, &text, false);
        } else if let Some(holds) = holds {
            for url in split(&text, holds) {
                self.url(url, &text, true);
            }
        } else if handler {
            self.values_in(&text, None, Problem::Handler);
        } else if srcdoc {
            self.values_in(&text, None, Problem::Srcdoc);
        } else if content {
            self.content = Some(text.into_owned());
        } else {
            self.refresh |= trim(&text).eq_ignore_ascii_case("refresh");
        }
    }

    /// One URL of the attribute value `text`; `in_list` when it is one of several.
    fn url(&mut self, url: &str, text: &str, in_list: bool) {
        let whole = trim(url);
        if whole.is_empty() {
            return;
        }
        // A value that is the whole URL (or, in a list, holds it): its scheme must be allowed.
        let made_of = self
            .values
            .iter()
            .position(|v| v.whole == whole || (in_list && v.value.contains(whole)));
        if let Some(at) = made_of {
            let problem = match scheme_of(whole) {
                Ok(None) => None,
                Ok(Some(s)) if ALLOWED.contains(&s.as_str()) => None,
                Ok(Some(s)) => Some(Problem::Scheme(s)),
                Err(_) => Some(Problem::Unreadable),
            };
            if let Some(problem) = problem {
                let column = self.values[at].column;
                self.push(column, problem);
                return;
            }
        }
        if let Some(scheme) = script_scheme(url) {
            // Tabs and line breaks go before percent-decoding, as the URL parser drops them.
            let bare: String = text
                .chars()
                .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
                .collect();
            let decoded = percent_decode_str(&bare).decode_utf8_lossy();
            self.values_in(text, Some(&decoded), Problem::InScript(scheme));
        }
    }

    /// A finding for every value of [`MIN_IN_SCRIPT`] bytes or more in `text` or `also`.
    fn values_in(&mut self, text: &str, also: Option<&Cow<'_, str>>, problem: Problem) {
        let found: Vec<&str> = self
            .values
            .iter()
            .filter(|v| v.value.len() >= MIN_IN_SCRIPT)
            .filter(|v| text.contains(v.value) || also.is_some_and(|a| a.contains(v.value)))
            .map(|v| v.column)
            .collect();
        for column in found {
            self.push(column, problem.clone());
        }
    }

    fn push(&mut self, column: &str, problem: Problem) {
        let finding = UrlFinding {
            column: column.to_owned(),
            element: name_shown(&self.element),
            attribute: name_shown(&self.attribute),
            problem,
        };
        if self.findings.len() < MAX_FINDINGS && !self.findings.contains(&finding) {
            self.findings.push(finding);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn homepage(html: &str, value: &str) -> Vec<UrlFinding> {
        check(
            html,
            "ann@example.com",
            &[("homepage".into(), value.into())],
        )
    }

    fn problems(html: &str, value: &str) -> Vec<Problem> {
        homepage(html, value)
            .into_iter()
            .map(|f| f.problem)
            .collect()
    }

    #[test]
    fn schemes_are_read_as_browsers_read_them() {
        for (hostile, scheme) in [
            ("javascript:alert(1)", "javascript"),
            ("JaVaScRiPt:alert(1)", "javascript"),
            ("java\tscript:alert(1)", "javascript"),
            ("java\nscript:alert(1)", "javascript"),
            (" \x01javascript:alert(1)", "javascript"),
            (" data:text/html,<script>alert(1)</script>", "data"),
            ("vbscript:msgbox(1)", "vbscript"),
            ("file:///etc/passwd", "file"),
        ] {
            assert_eq!(
                scheme_of(trim(hostile)),
                Ok(Some(scheme.into())),
                "{hostile:?}"
            );
        }
        // Controls: relative URLs, and what only looks like a scheme.
        for relative in [
            "/path?q=1",
            "//example.org/x",
            "&#106;avascript:x",
            "\u{a0}javascript:x",
        ] {
            assert_eq!(scheme_of(trim(relative)), Ok(None), "{relative:?}");
        }
        // The shortcut never hides a script scheme the URL parser reads.
        for url in [
            "JAVA\tSCRIPT:x",
            "vbscript:x",
            "DaTa:x",
            " java\r\nscript:x",
        ] {
            assert!(may_run_script(url), "{url:?}");
        }
        for url in [
            "https://example.org/data:x",
            "/script:x",
            "mailto:a@b",
            "no colon",
        ] {
            assert!(script_scheme(url).is_none(), "{url:?}");
        }
    }

    #[test]
    fn a_whole_value_must_make_an_allowed_url_wherever_it_is_decoded() {
        let javascript = || vec![Problem::Scheme("javascript".into())];
        for (html, value) in [
            ("<a href=\"V\">x</a>", "javascript:alert(1)"),
            ("<a HREF='V'>x</a>", "JaVaScRiPt:alert(1)"),
            ("<a href=V>x</a>", "javascript:alert(1)"),
            ("<a href=\"V\">x</a>", "java\tscript:alert(1)"),
            ("<a href=\"&#x20;V\">x</a>", "javascript:alert(1)"),
            ("<base href=\"V\">", "\u{1}javascript:alert(1)"),
            ("<form action=\"V\"></form>", "javascript:alert(1)"),
            ("<img srcset=\"/a.png 1x, V 2x\">", "javascript:alert(1)"),
            (
                "<meta http-equiv=Refresh content=\"0; URL='V'\">",
                "javascript:alert(1)",
            ),
        ] {
            assert_eq!(
                problems(&html.replace('V', value), value),
                javascript(),
                "{html}"
            );
        }
        // Entities the renderer wrote are decoded as a browser decodes them.
        let encoded = "<a href=\"&#106;avascript&colon;alert(1)\">x</a>";
        assert_eq!(problems(encoded, "javascript:alert(1)"), javascript());
        // With a tab inside it is no longer the value, but the value is in a script URL.
        let encoded = "<a href=\"&#106;ava&Tab;script&colon;alert(1)\">x</a>";
        let in_js = vec![Problem::InScript("javascript".into())];
        assert_eq!(problems(encoded, "alert(1)"), in_js);
        assert_eq!(
            problems(
                "<object data=\"V\"></object>"
                    .replace('V', " data:text/html,x")
                    .as_str(),
                " data:text/html,x"
            ),
            vec![Problem::Scheme("data".into())]
        );
        // Controls: allowed schemes and relative URLs pass; a value that is text a browser
        // does not decode (an escaped reference) is relative; another attribute is no URL.
        for (html, value) in [
            ("<a href=\"V\">x</a>", "https://example.org/x"),
            ("<a href=\"V\">x</a>", "mailto:a@example.org"),
            ("<a href=\"V\">x</a>", "tel:+1-555-0100"),
            ("<a href=\"V\">x</a>", "/account?id=7"),
            (
                "<a href=\"&amp;#106;avascript:alert(1)\">x</a>",
                "&#106;avascript:alert(1)",
            ),
            ("<a title=\"V\">x</a>", "javascript:alert(1)"),
            (
                "<meta name=description content=\"0;url=V\">",
                "javascript:alert(1)",
            ),
        ] {
            assert_eq!(problems(&html.replace('V', value), value), vec![], "{html}");
        }
    }

    #[test]
    fn a_value_in_script_is_refused_and_the_templates_own_script_is_not() {
        let breakout = "');alert(1);//";
        let in_js = vec![Problem::InScript("javascript".into())];
        for html in [
            "<a href=\"javascript:go('V')\">x</a>",
            "<a href=\"JavaScript:go('%27%29%3Balert%281%29%3B%2F%2F')\">x</a>",
            "<a href=\"java&#9;script:go('&#39;);alert(1);//')\">x</a>",
        ] {
            assert_eq!(
                problems(&html.replace('V', breakout), breakout),
                in_js,
                "{html}"
            );
        }
        assert_eq!(
            problems(
                "<a onclick=\"go('V')\">x</a>"
                    .replace('V', "harmless")
                    .as_str(),
                "harmless"
            ),
            vec![Problem::Handler]
        );
        assert_eq!(
            problems("<iframe srcdoc=\"&lt;b&gt;Ann&lt;/b&gt;\"></iframe>", "Ann"),
            vec![Problem::Srcdoc]
        );
        // Controls: the template's own script without a value, the value in an https query,
        // a value too short to look for, and what is only text (a `<title>`'s) though it looks
        // like a link.
        for (html, value) in [
            ("<a href=\"javascript:history.back()\">x</a>", breakout),
            (
                "<a href=\"https://e.org/?q=%27%29%3Balert%281%29%3B%2F%2F\">x</a>",
                breakout,
            ),
            ("<a onclick=\"go(1)\">x</a>", "1"),
            ("<title><a href=\"javascript:go('Ann')\"></title>", "Ann"),
        ] {
            assert_eq!(problems(html, value), vec![], "{html}");
        }
    }

    #[test]
    fn a_refresh_url_is_read_as_html_reads_it() {
        assert_eq!(refresh_url("0;url=/x"), Some("/x"));
        assert_eq!(refresh_url(" 5 , URL = \"/a b\" c"), Some("/a b"));
        assert_eq!(refresh_url("3.5; /y"), Some("/y"));
        assert_eq!(refresh_url("url=/x"), None);
        assert_eq!(refresh_url("0"), None);
        assert_eq!(refresh_url("0x;url=/x"), None);
    }

    #[test]
    fn a_finding_names_the_column_and_place_never_the_value() {
        let found = homepage("<a href=\"javascript:go('Ann Smith')\">x</a>", "Ann Smith");
        let shown = found[0].to_string();
        assert!(
            shown.contains("`homepage`") && shown.contains("<a>"),
            "{shown}"
        );
        assert!(
            shown.contains("`javascript:` URL") && !shown.contains("Ann"),
            "{shown}"
        );
        // Names from the HTML are shown inert.
        let found = homepage("<a\u{1b}[31m onclick\u{7}=\"go('Ann')\">x</a>", "Ann");
        assert!(found[0].to_string().chars().all(|c| !c.is_control()));
    }
}
