//! Recipient values put into finished HTML (from Markdown or MJML) in place of their placeholders,
//! escaped for where each one landed, which an HTML5 tokenizer (html5gum) tells.
//!
//! Text and attribute values are escaped so that the value shows as its own characters and can
//! end neither the text nor the attribute, quoted or not. Every other place (CSS in a `<style>`
//! element or a `style` attribute, script, an event handler or `srcdoc`, a comment, a tag or
//! attribute name) has no escaping that keeps a value literal, so a placeholder there is an error
//! naming it.

use html5gum::{DefaultEmitter, Token, Tokenizer};

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
    let places = places(html);
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

/// Every span of `html` that is text, an attribute value, or a place no value may go.
fn places(html: &str) -> Vec<(usize, usize, Place)> {
    let mut emitter = DefaultEmitter::<usize>::new_with_span();
    // Switch to raw text after <style>, <script>, … as a browser would.
    emitter.naively_switch_states(true);
    let mut places = Vec::new();
    // The raw-text or script element the tokenizer is in, if any.
    let mut raw: Option<String> = None;
    for token in Tokenizer::new_with_emitter(html, emitter).flatten() {
        match token {
            Token::String(text) => {
                let place = match &raw {
                    None => Place::Text,
                    Some(name) => Place::Refused(format!(
                        "inside a <{name}> element, whose content is {}",
                        if name == "style" {
                            "CSS"
                        } else {
                            "not HTML text"
                        }
                    )),
                };
                places.push((text.span.start, text.span.end, place));
            }
            Token::StartTag(tag) => {
                let name = String::from_utf8_lossy(&tag.name).into_owned();
                places.push((
                    tag.span.start,
                    tag.span.end,
                    Place::Refused(format!("in the tag or an attribute name of <{name}>")),
                ));
                for (attribute, value) in &tag.attributes {
                    let attribute = String::from_utf8_lossy(attribute).to_ascii_lowercase();
                    let place = if attribute == "style" {
                        Place::Refused(format!(
                            "in the style attribute of <{name}>, which is CSS (MJML writes \
                             mj-* sizes, colours and paddings there)"
                        ))
                    } else if attribute.starts_with("on") {
                        Place::Refused(format!("in the event handler {attribute} of <{name}>"))
                    } else if attribute == "srcdoc" {
                        // A document in an attribute: its markup is read after the attribute's
                        // own references are decoded, so escaping once does not keep it text.
                        Place::Refused(format!(
                            "in the srcdoc attribute of <{name}>, which is HTML"
                        ))
                    } else {
                        let before = value
                            .span
                            .start
                            .checked_sub(1)
                            .and_then(|at| html.as_bytes().get(at));
                        Place::Attribute {
                            quoted: matches!(before, Some(b'"' | b'\'')),
                        }
                    };
                    places.push((value.span.start, value.span.end, place));
                }
                if !tag.self_closing && html5gum::naive_next_state(&tag.name).is_some() {
                    let switches_to_text = matches!(name.as_str(), "title" | "textarea");
                    if !switches_to_text {
                        raw = Some(name);
                    }
                }
            }
            Token::EndTag(tag) => {
                if raw
                    .as_deref()
                    .is_some_and(|r| r.as_bytes() == &tag.name[..])
                {
                    raw = None;
                }
            }
            Token::Comment(comment) => places.push((
                comment.span.start,
                comment.span.end,
                Place::Refused(
                    "inside an HTML comment (for MJML, perhaps an Outlook conditional comment \
                     holding a size)"
                        .to_owned(),
                ),
            )),
            Token::Doctype(doctype) => places.push((
                doctype.span.start,
                doctype.span.end,
                Place::Refused("in the doctype".to_owned()),
            )),
            Token::Error(_) => {}
        }
    }
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
