//! Recipient values put into finished HTML (from Markdown or MJML) in place of their placeholders,
//! escaped for where each one landed, which an HTML5 tokenizer (html5gum) tells.
//!
//! Text and attribute values are escaped so that the value shows as its own characters and can
//! end neither the text nor the attribute, quoted or not. Every other place (CSS in a `<style>`
//! element or a `style` attribute, script, an event handler or `srcdoc`, a comment, a tag or
//! attribute name) has no escaping that keeps a value literal, so a placeholder there is an error
//! naming it.

use html5gum::emitters::callback::{CallbackEmitter, CallbackEvent};
use html5gum::{Span, Tokenizer};

use crate::literal::{self, START};

/// What may stand in one span of the HTML.
#[derive(Clone, Debug)]
enum Place {
    Text,
    /// An attribute value, and whether it is quoted (then only quotes and `&<>` need escaping).
    Attribute {
        quoted: bool,
    },
    /// Where no value may go: the reason, for the error message.
    Refused(String),
}

/// `html` with its placeholders replaced by `values`, each escaped for its place; `reached`
/// notes which values were placed.
pub fn fill(html: &str, values: &[String], reached: &mut [bool]) -> Result<String, String> {
    if !html.contains(START) {
        return literal::fill(html, values, |_, _, _| {});
    }
    let marks: Vec<usize> = html.match_indices(START).map(|(at, _)| at).collect();
    let places = places(html, &marks);
    let mut out = String::with_capacity(html.len() + html.len() / 4);
    let mut rest = html;
    let mut offset = 0;
    while let Some(at) = rest.find([START, literal::END]) {
        out.push_str(&rest[..at]);
        let (index, len) = literal::placeholder_at(&rest[at..]).ok_or_else(stray)?;
        let value = values.get(index).ok_or_else(stray)?;
        let position = offset + at;
        // The innermost span holding the placeholder: an attribute value inside its tag.
        let place = places
            .iter()
            .filter(|(start, end, _)| *start <= position && position + len <= *end)
            .min_by_key(|(start, end, _)| end - start)
            .map(|(_, _, place)| place);
        match place {
            Some(Place::Text) => escape(value, false, &mut out),
            Some(Place::Attribute { quoted }) => escape(value, !quoted, &mut out),
            Some(Place::Refused(why)) => {
                return Err(format!("the value printed {} lands {why}", ordinal(index)));
            }
            None => {
                return Err(format!(
                    "the value printed {} lands in a part of the HTML that is neither text nor \
                     an attribute value",
                    ordinal(index)
                ));
            }
        }
        if let Some(seen) = reached.get_mut(index) {
            *seen = true;
        }
        rest = &rest[at + len..];
        offset += at + len;
    }
    out.push_str(rest);
    Ok(out)
}

/// "1st", "2nd", … (placeholders count from 0): which `{{ … }}` output the message means.
pub fn ordinal(index: usize) -> String {
    let n = index + 1;
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix} by the template")
}

fn stray() -> String {
    "a value's placeholder was split or altered on its way into the HTML; \
     recipient values must stay whole"
        .to_owned()
}

/// The spans of `html` that hold a placeholder (starting at one of `marks`, sorted), each as text,
/// an attribute value, or a place no value may go. Spans without one cost no allocation.
fn places(html: &str, marks: &[usize]) -> Vec<(usize, usize, Place)> {
    let holds = |start: usize, end: usize| {
        let first = marks.partition_point(|&mark| mark < start);
        marks.get(first).is_some_and(|&mark| mark < end)
    };
    let mut places = Vec::new();
    // The raw-text or script element the tokenizer is in, if any.
    let mut raw: Option<Vec<u8>> = None;
    let mut tag: Vec<u8> = Vec::new();
    let mut tag_start = 0;
    let mut attribute: Vec<u8> = Vec::new();
    let name = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    let callback = |event: CallbackEvent<'_>, span: Span<usize>| -> Option<()> {
        match event {
            CallbackEvent::OpenStartTag { name } => {
                tag.clear();
                tag.extend_from_slice(name);
                tag_start = span.start;
                attribute.clear();
            }
            CallbackEvent::AttributeName { name } => {
                attribute.clear();
                attribute.extend(name.iter().map(u8::to_ascii_lowercase));
            }
            // The value's span ends at its last character (inclusive).
            CallbackEvent::AttributeValue { .. } if holds(span.start, span.end + 1) => {
                let tag = name(&tag);
                let place = match attribute.as_slice() {
                    b"style" => Place::Refused(format!(
                        "in the style attribute of <{tag}>, which is CSS (MJML writes mj-* \
                         sizes, colours and paddings there)"
                    )),
                    b"srcdoc" => Place::Refused(format!(
                        // Its markup is read after the attribute's own references are decoded,
                        // so escaping once does not keep a value text.
                        "in the srcdoc attribute of <{tag}>, which is HTML"
                    )),
                    handler if handler.starts_with(b"on") => {
                        Place::Refused(format!("in the event handler {} of <{tag}>", name(handler)))
                    }
                    _ => {
                        let before = span
                            .start
                            .checked_sub(1)
                            .and_then(|at| html.as_bytes().get(at));
                        Place::Attribute {
                            quoted: matches!(before, Some(b'"' | b'\'')),
                        }
                    }
                };
                places.push((span.start, span.end + 1, place));
            }
            CallbackEvent::CloseStartTag { self_closing } => {
                if holds(tag_start, span.end) {
                    places.push((
                        tag_start,
                        span.end,
                        Place::Refused(format!(
                            "in the tag or an attribute name of <{}>",
                            name(&tag)
                        )),
                    ));
                }
                let raw_text = html5gum::naive_next_state(&tag).is_some()
                    && !matches!(tag.as_slice(), b"title" | b"textarea");
                if raw_text && !self_closing {
                    raw = Some(tag.clone());
                }
            }
            CallbackEvent::EndTag { name } if raw.as_deref() == Some(name) => raw = None,
            CallbackEvent::String { .. } if holds(span.start, span.end) => {
                let place = match &raw {
                    None => Place::Text,
                    Some(element) => Place::Refused(format!(
                        "inside a <{}> element, whose content is {}",
                        name(element),
                        if element == b"style" {
                            "CSS"
                        } else {
                            "not HTML text"
                        }
                    )),
                };
                places.push((span.start, span.end, place));
            }
            CallbackEvent::Comment { .. } if holds(span.start, span.end) => places.push((
                span.start,
                span.end,
                Place::Refused(
                    "inside an HTML comment (for MJML, perhaps an Outlook conditional comment \
                     holding a size)"
                        .to_owned(),
                ),
            )),
            CallbackEvent::Doctype { .. } if holds(span.start, span.end) => places.push((
                span.start,
                span.end,
                Place::Refused("in the doctype".to_owned()),
            )),
            _ => {}
        }
        None
    };
    let mut emitter = CallbackEmitter::new(callback);
    // Switch to raw text after <style>, <script>, … as a browser would.
    emitter.naively_switch_states(true);
    for _ in Tokenizer::<_, _>::new_with_emitter(html, emitter) {}
    places
}

/// Writes `value` so it reads as itself: `&`, `<`, `>` and quotes as references, and for an
/// unquoted attribute value also whitespace, `=` and the backtick, which could end it.
fn escape(value: &str, unquoted: bool, out: &mut String) {
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            ' ' | '\t' | '\n' | '\r' | '\x0C' | '=' | '`' if unquoted => {
                out.push_str(&format!("&#{};", u32::from(c)));
            }
            c => out.push(c),
        }
    }
}
