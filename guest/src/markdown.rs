//! A rendered Markdown template (with placeholders for its values) made into the message's two
//! parts: the text part is the Markdown source itself, the HTML part CommonMark (pulldown-cmark).
//!
//! The parser sees placeholders, never values, so no value can make emphasis, a link, a heading or
//! raw HTML. Link and image destinations get their values before the HTML writer (which
//! percent-encodes them as it does any URL); every other value goes into the finished HTML,
//! escaped for where it landed (see [`crate::html`]).

use pulldown_cmark::{CowStr, Event, Options, Parser, Tag};

use crate::html::{self, ordinal};
use crate::literal;

/// The text part: the Markdown source with each value as it is.
pub fn text(source: &str, values: &[String]) -> Result<String, String> {
    literal::fill(source, values, |_, value, out| out.push_str(value))
}

/// The HTML part: CommonMark over the source, then the values, each escaped for its place.
pub fn html(source: &str, values: &[String]) -> Result<String, String> {
    let mut reached = vec![false; values.len()];
    let mut events = Vec::new();
    for event in Parser::new_ext(source, Options::empty()) {
        events.push(match event {
            Event::Start(Tag::Link {
                link_type,
                dest_url,
                title,
                id,
            }) => Event::Start(Tag::Link {
                link_type,
                dest_url: destination(&dest_url, values, &mut reached)?,
                title,
                id,
            }),
            Event::Start(Tag::Image {
                link_type,
                dest_url,
                title,
                id,
            }) => Event::Start(Tag::Image {
                link_type,
                dest_url: destination(&dest_url, values, &mut reached)?,
                title,
                id,
            }),
            other => other,
        });
    }
    let mut out = String::with_capacity(source.len() * 3 / 2);
    pulldown_cmark::html::push_html(&mut out, events.into_iter());
    let filled = html::fill(&out, values, &mut reached)?;
    match literal::first_lost(&literal::printed(source, values.len()), &reached) {
        None => Ok(filled),
        Some(index) => Err(format!(
            "the value printed {} does not reach the HTML part (is it in a link reference \
             definition that no link uses?)",
            ordinal(index)
        )),
    }
}

/// A link's or image's destination with its values, which the HTML writer then escapes as a URL.
fn destination(
    url: &str,
    values: &[String],
    reached: &mut [bool],
) -> Result<CowStr<'static>, String> {
    let filled = literal::fill(url, values, |index, value, out| {
        out.push_str(value);
        if let Some(seen) = reached.get_mut(index) {
            *seen = true;
        }
    })?;
    Ok(CowStr::from(filled))
}
