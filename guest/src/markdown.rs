//! A rendered Markdown template (with placeholders for its values) made into the message's two
//! parts: the text part is the Markdown source itself, the HTML part CommonMark (pulldown-cmark).
//!
//! The parser sees placeholders, never values, so no value can make emphasis, a link, a heading or
//! raw HTML. Link and image destinations get their values before the HTML writer (which
//! percent-encodes them as it does any URL; a value in part of one is percent-encoded first, as
//! one component); every other value goes into the finished HTML,
//! escaped for where it landed (see [`crate::html`]).

use pulldown_cmark::{CowStr, Event, Options, Parser, Tag, TagEnd};

use crate::html::{self, ColumnOf, named, ordinal};
use crate::literal;
use crate::urls::{self, Written};

/// The text part: the Markdown source with each value as it is.
pub fn text(source: &str, values: &[String]) -> Result<String, String> {
    literal::fill(source, values, |_, value, out| out.push_str(value))
}

/// The HTML part: CommonMark over the source, then the values, each escaped for its place.
pub fn html(source: &str, values: &[String], column_of: ColumnOf<'_>) -> Result<String, String> {
    let mut reached = vec![false; values.len()];
    let mut events = Vec::new();
    // How many images the parser is inside: HTML keeps only the text of an image's description,
    // so a link there loses its destination (and a value in it is not counted as reaching).
    let mut images = 0usize;
    for event in Parser::new_ext(source, Options::empty()) {
        events.push(match event {
            Event::Start(Tag::Link {
                link_type,
                dest_url,
                title,
                id,
            }) => Event::Start(Tag::Link {
                link_type,
                dest_url: destination(&dest_url, values, column_of, &mut reached, images == 0)?,
                title,
                id,
            }),
            Event::Start(Tag::Image {
                link_type,
                dest_url,
                title,
                id,
            }) => {
                let dest_url =
                    destination(&dest_url, values, column_of, &mut reached, images == 0)?;
                images += 1;
                Event::Start(Tag::Image {
                    link_type,
                    dest_url,
                    title,
                    id,
                })
            }
            Event::End(TagEnd::Image) => {
                images = images.saturating_sub(1);
                Event::End(TagEnd::Image)
            }
            other => other,
        });
    }
    let mut out = String::with_capacity(source.len() * 3 / 2);
    pulldown_cmark::html::push_html(&mut out, events.into_iter());
    let filled = html::fill(&out, values, column_of, &mut reached)?;
    match literal::first_lost(&literal::printed(source, values.len()), &reached) {
        None => Ok(filled),
        Some(index) => Err(format!(
            "the value printed {} does not reach the HTML part (is it in a link reference \
             definition that no link uses, or a link inside an image's description?)",
            ordinal(index)
        )),
    }
}

/// A link's or image's destination with its values, which the HTML writer then escapes as a URL.
/// A value that is the whole destination is a whole URL; a value in part of one is a single URL
/// component, percent-encoded, so it can add no path segment, parameter or fragment. Either way
/// the URL must be one a value may go in (see [`crate::urls`]). `counts`: whether the destination
/// reaches the HTML (it does not inside an image's description).
fn destination(
    url: &str,
    values: &[String],
    column_of: ColumnOf<'_>,
    reached: &mut [bool],
    counts: bool,
) -> Result<CowStr<'static>, String> {
    let Some(first) = url.find(literal::START) else {
        return Ok(CowStr::from(url.to_owned()));
    };
    let (index, len) = literal::placeholder_at(&url[first..]).unwrap_or((0, 0));
    let written = match urls::is_whole(url, &url[first..first + len]) {
        true => Written::Whole,
        false => Written::Part,
    };
    let filled = literal::fill(url, values, |index, value, out| {
        written.write(value, out);
        if let Some(seen) = reached.get_mut(index).filter(|_| counts) {
            *seen = true;
        }
    })?;
    let template = literal::fill(url, values, |_, _, _| {})?;
    if let Some(why) = urls::refused(&filled, &template) {
        let which = values
            .get(index)
            .map_or_else(|| ordinal(index), |value| named(index, value, column_of));
        return Err(format!(
            "the value printed {which} lands in a link's destination, a URL, where it {why}"
        ));
    }
    Ok(CowStr::from(filled))
}
