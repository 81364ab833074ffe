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
use crate::urls::{self, Holds, Written};

/// The recipient's column whose value is exactly the given one, if any: what a refusal names
/// beside the value's order (a value the template computed may be no column's).
pub type ColumnOf<'a> = &'a dyn Fn(&str) -> Option<String>;

/// What may stand in one span of the HTML.
#[derive(Clone, Debug)]
enum Place {
    Text,
    /// An attribute value, and whether it is quoted (then only quotes and `&<>` need escaping).
    Attribute {
        quoted: bool,
    },
    /// A value in a URL a browser follows or loads (see [`crate::urls`]), and how it is written.
    Url {
        quoted: bool,
        written: Written,
    },
    /// Where no value may go: the reason, for the error message.
    Refused(String),
}

/// `html` with its placeholders replaced by `values`, each escaped for its place; `reached`
/// notes which values were placed.
pub fn fill(
    html: &str,
    values: &[String],
    column_of: ColumnOf<'_>,
    reached: &mut [bool],
) -> Result<String, String> {
    if !html.contains(START) {
        return literal::fill(html, values, |_, _, _| {});
    }
    let marks: Vec<usize> = html.match_indices(START).map(|(at, _)| at).collect();
    let places = places(html, &marks, values);
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
            Some(Place::Text) => escape_after(value, false, &mut out),
            // An empty unquoted value would leave `name=` to take the next attribute as its value.
            Some(Place::Attribute { quoted: false }) if value.is_empty() => out.push_str("\"\""),
            Some(Place::Attribute { quoted }) => escape_after(value, !quoted, &mut out),
            Some(Place::Url { quoted, written }) => {
                let mut url = String::with_capacity(value.len());
                written.write(value, &mut url);
                if url.is_empty() && !quoted {
                    out.push_str("\"\"");
                } else {
                    escape_after(&url, !quoted, &mut out);
                }
            }
            Some(Place::Refused(why)) => {
                let which = named(index, value, column_of);
                return Err(format!("the value printed {which} lands {why}"));
            }
            None => {
                return Err(format!(
                    "the value printed {} lands in a part of the HTML that is neither text nor \
                     an attribute value",
                    named(index, value, column_of)
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

/// [`ordinal`], and the recipient's column that holds `value`, if one does.
pub fn named(index: usize, value: &str, column_of: ColumnOf<'_>) -> String {
    match column_of(value) {
        Some(column) => format!("{} (the recipient's `{column}`)", ordinal(index)),
        None => ordinal(index),
    }
}

fn stray() -> String {
    "a value's placeholder was split or altered on its way into the HTML; \
     recipient values must stay whole"
        .to_owned()
}

/// Elements whose content a browser does not parse as the tokenizer reads it: SVG and MathML
/// (foreign content: `<style>` is live CSS there, `<title>` not text), and elements whose content
/// is reparsed or parsed by other rules. No value may go anywhere inside one.
const REPARSED: [&[u8]; 6] = [
    b"svg",
    b"math",
    b"noframes",
    b"noscript",
    b"select",
    b"template",
];

/// The spans of `html` that hold a placeholder (starting at one of `marks`, sorted), each as text,
/// an attribute value, or a place no value may go. Spans without one cost no allocation.
fn places(html: &str, marks: &[usize], values: &[String]) -> Vec<(usize, usize, Place)> {
    let mut reader = Reader::new(html, marks, values);
    let callback = |event: CallbackEvent<'_>, span: Span<usize>| -> Option<()> {
        reader.event(event, span);
        None
    };
    let mut emitter = CallbackEmitter::new(callback);
    // Switch to raw text after <style>, <script>, … as a browser would.
    emitter.naively_switch_states(true);
    for _ in Tokenizer::<_, _>::new_with_emitter(html, emitter) {}
    reader.places
}

/// What [`places`] keeps while the tokenizer walks the HTML: the places found so far, and the
/// elements and tag it is in, which decide what the next span is.
struct Reader<'a> {
    html: &'a str,
    marks: &'a [usize],
    values: &'a [String],
    places: Vec<(usize, usize, Place)>,
    /// The current tag's attribute values: kept once it proves a start tag (an end tag's
    /// attributes are dropped by HTML, so a value there is refused).
    pending: Vec<(usize, usize, Place)>,
    /// The raw-text or script element the tokenizer is in, if any.
    raw: Option<Vec<u8>>,
    /// The RCDATA element (title, textarea) the tokenizer is in, and where its content starts.
    rcdata: Option<(Vec<u8>, usize)>,
    /// The outermost element of [`REPARSED`] open, and how deep in same-named ones.
    reparsed: Option<(Vec<u8>, usize)>,
    tag: Vec<u8>,
    tag_start: usize,
    attribute: Vec<u8>,
    /// Whether the current tag says `http-equiv="refresh"`, and where in `pending` the values
    /// of its `content` are: a `<meta>` refresh is a URL the browser follows by itself.
    refresh: bool,
    content: Vec<usize>,
}

impl<'a> Reader<'a> {
    fn new(html: &'a str, marks: &'a [usize], values: &'a [String]) -> Reader<'a> {
        Reader {
            html,
            marks,
            values,
            places: Vec::new(),
            pending: Vec::new(),
            raw: None,
            rcdata: None,
            reparsed: None,
            tag: Vec::new(),
            tag_start: 0,
            attribute: Vec::new(),
            refresh: false,
            content: Vec::new(),
        }
    }

    /// Whether `start..end` holds a placeholder.
    fn holds(&self, start: usize, end: usize) -> bool {
        let first = self.marks.partition_point(|&mark| mark < start);
        self.marks.get(first).is_some_and(|&mark| mark < end)
    }

    fn event(&mut self, event: CallbackEvent<'_>, span: Span<usize>) {
        match event {
            CallbackEvent::OpenStartTag { name } => {
                self.tag.clear();
                self.tag.extend_from_slice(name);
                self.tag_start = span.start;
                self.attribute.clear();
                self.pending.clear();
                self.refresh = false;
                self.content.clear();
            }
            CallbackEvent::AttributeName { name } => {
                self.attribute.clear();
                self.attribute
                    .extend(name.iter().map(u8::to_ascii_lowercase));
            }
            CallbackEvent::AttributeValue { value } if self.attribute == b"http-equiv" => {
                self.refresh |= value.trim_ascii().eq_ignore_ascii_case(b"refresh");
                self.value(value, span);
            }
            CallbackEvent::AttributeValue { value } => self.value(value, span),
            CallbackEvent::CloseStartTag { self_closing } => {
                self.close_start_tag(self_closing, span.end);
            }
            CallbackEvent::EndTag { name } => self.end_tag(name, span),
            CallbackEvent::String { .. } if self.holds(span.start, span.end) => {
                let place = self.text_place();
                self.places.push((span.start, span.end, place));
            }
            CallbackEvent::Comment { .. } if self.holds(span.start, span.end) => {
                self.places.push((
                    span.start,
                    span.end,
                    Place::Refused(
                        "inside an HTML comment (for MJML, perhaps an Outlook conditional \
                         comment holding a size)"
                            .to_owned(),
                    ),
                ));
            }
            CallbackEvent::Doctype { .. } if self.holds(span.start, span.end) => {
                self.places.push((
                    span.start,
                    span.end,
                    Place::Refused("in the doctype".to_owned()),
                ))
            }
            _ => {}
        }
    }

    /// The value `decoded` (references decoded) of the current attribute, at `span`: the
    /// places of the placeholders it holds, kept until the tag proves a start tag.
    fn value(&mut self, decoded: &[u8], span: Span<usize>) {
        // The value's span ends at its last character (inclusive).
        let (start, end) = (span.start, span.end + 1);
        if !self.holds(start, end) {
            return;
        }
        if self.attribute == b"content" && self.tag.eq_ignore_ascii_case(b"meta") {
            self.content.push(self.pending.len());
        }
        let place = self.attribute_place(start);
        match (&place, urls::holds(&self.attribute)) {
            (Place::Attribute { quoted }, Some(holds)) => {
                let quoted = *quoted;
                self.url_places(&String::from_utf8_lossy(decoded), start, end, holds, quoted);
            }
            _ => self.pending.push((start, end, place)),
        }
    }

    /// The places of the placeholders in a URL attribute's value `decoded`, at `start..end` of
    /// the HTML: each written as [`urls`] says for where it is in its URL, or all of a URL's
    /// refused when the URL they make may not hold them.
    fn url_places(&mut self, decoded: &str, start: usize, end: usize, holds: Holds, quoted: bool) {
        let raw = &self.marks[self.marks.partition_point(|&m| m < start)..];
        let raw: Vec<usize> = raw.iter().copied().take_while(|&m| m < end).collect();
        let found: Vec<(usize, usize, usize)> = decoded
            .match_indices(START)
            .filter_map(|(at, _)| literal::placeholder_at(&decoded[at..]).map(|(i, n)| (at, n, i)))
            .collect();
        // A reference the template wrote as a placeholder character would pair them wrongly.
        if found.len() != raw.len() || found.iter().any(|(_, _, i)| *i >= self.values.len()) {
            self.pending
                .push((start, end, Place::Refused(stray_reference(&self.tag))));
            return;
        }
        let mut places = vec![None; raw.len()];
        for (from, to) in urls::split(decoded, holds) {
            let url = &decoded[from..to];
            let inside: Vec<usize> = (0..found.len())
                .filter(|&k| found[k].0 >= from && found[k].0 + found[k].1 <= to)
                .collect();
            let (mut read, mut template, mut last) = (String::new(), String::new(), from);
            for &k in &inside {
                let (at, len, index) = found[k];
                let whole = urls::is_whole(url, &decoded[at..at + len]);
                let written = match (whole, holds) {
                    (true, Holds::One) => Written::Whole,
                    (true, _) => Written::WholeInList,
                    (false, _) => Written::Part,
                };
                read.push_str(&decoded[last..at]);
                template.push_str(&decoded[last..at]);
                // A whole value is checked as the recipient gave it, before a list's encoding
                // (which would make `java\tscript:` a relative URL): refused all the same.
                match written {
                    Written::WholeInList => read.push_str(&self.values[index]),
                    _ => written.write(&self.values[index], &mut read),
                }
                last = at + len;
                places[k] = Some(Place::Url { quoted, written });
            }
            read.push_str(&decoded[last..to]);
            template.push_str(&decoded[last..to]);
            if let Some(why) = urls::refused(&read, &template) {
                let (tag, attribute) = (name(&self.tag), name(&self.attribute));
                let place = Place::Refused(format!(
                    "in the {attribute} attribute of <{tag}>, a URL, where it {why}"
                ));
                inside.iter().for_each(|&k| places[k] = Some(place.clone()));
            }
        }
        // A value outside every URL (in a candidate's descriptors) is one component too, so it
        // can add no candidate.
        let part = Place::Url {
            quoted,
            written: Written::Part,
        };
        for (at, place) in raw.into_iter().zip(places) {
            let len = literal::placeholder_at(&self.html[at..]).map_or(1, |(_, len)| len);
            let place = place.unwrap_or_else(|| part.clone());
            self.pending.push((at, at + len, place));
        }
    }

    /// The place of a value of the current attribute, which starts at `start`.
    fn attribute_place(&self, start: usize) -> Place {
        let tag = name(&self.tag);
        match (&self.reparsed, self.attribute.as_slice()) {
            (Some((element, _)), _) => inside(element),
            (_, b"style") => Place::Refused(format!(
                "in the style attribute of <{tag}>, which is CSS (MJML writes mj-* \
                 sizes, colours and paddings there)"
            )),
            (_, b"srcdoc") => Place::Refused(format!(
                // Its markup is read after the attribute's own references are decoded,
                // so escaping once does not keep a value text.
                "in the srcdoc attribute of <{tag}>, which is HTML"
            )),
            (_, handler) if handler.starts_with(b"on") => {
                Place::Refused(format!("in the event handler {} of <{tag}>", name(handler)))
            }
            (_, b"http-equiv") => Place::Refused(format!(
                "in the http-equiv attribute of <{tag}>, which decides what its content does"
            )),
            _ => {
                let before = start
                    .checked_sub(1)
                    .and_then(|at| self.html.as_bytes().get(at));
                Place::Attribute {
                    quoted: matches!(before, Some(b'"' | b'\'')),
                }
            }
        }
    }

    /// The start tag read since its `<` ends at `end`: its values are kept, and the element it
    /// opens may change how what follows is read.
    fn close_start_tag(&mut self, self_closing: bool, end: usize) {
        if self.refresh {
            for &at in &self.content {
                if let Some(entry) = self.pending.get_mut(at) {
                    entry.2 = Place::Refused(
                        "in the content of <meta http-equiv=\"refresh\">, a URL a browser \
                         follows by itself"
                            .to_owned(),
                    );
                }
            }
        }
        self.places.append(&mut self.pending);
        if self.holds(self.tag_start, end) {
            self.places.push((
                self.tag_start,
                end,
                Place::Refused(format!(
                    "in the tag or an attribute name of <{}>",
                    name(&self.tag)
                )),
            ));
        }
        let tag = &self.tag;
        // A browser ignores the `/` of `<style/>` and reads raw text all the same.
        match html5gum::naive_next_state(tag) {
            Some(html5gum::State::RcData) => self.rcdata = Some((tag.clone(), end)),
            Some(_) => self.raw = Some(tag.clone()),
            None => {}
        }
        match &mut self.reparsed {
            Some((element, depth)) if element == tag => *depth += 1,
            Some(_) => {}
            // Only foreign elements honour `/>`; an empty `<svg/>` holds nothing.
            None if REPARSED.contains(&tag.as_slice())
                && !(self_closing && matches!(tag.as_slice(), b"svg" | b"math")) =>
            {
                self.reparsed = Some((tag.clone(), 1));
            }
            None => {}
        }
    }

    /// An end tag `</end …>` at `span`: refused if it holds a value, and the end of the element
    /// it closes.
    fn end_tag(&mut self, end: &[u8], span: Span<usize>) {
        if !self.pending.is_empty() || self.holds(span.start, span.end) {
            self.pending.clear();
            self.places.push((
                span.start,
                span.end,
                Place::Refused(format!(
                    "in the end tag </{}>, whose attributes HTML drops",
                    name(end)
                )),
            ));
        }
        if self.raw.as_deref() == Some(end) {
            self.raw = None;
        }
        if self
            .rcdata
            .as_ref()
            .is_some_and(|(element, _)| element == end)
        {
            self.rcdata = None;
        }
        if let Some((element, depth)) = &mut self.reparsed
            && element == end
        {
            *depth -= 1;
            if *depth == 0 {
                self.reparsed = None;
            }
        }
    }

    /// The place of text read where the tokenizer is now.
    fn text_place(&self) -> Place {
        match (&self.reparsed, &self.raw, &self.rcdata) {
            (Some((element, _)), _, _) => inside(element),
            (None, Some(element), _) => Place::Refused(format!(
                "inside a <{}> element, whose content is {}",
                name(element),
                if element == b"style" {
                    "CSS"
                } else {
                    "not HTML text"
                }
            )),
            (None, None, Some((element, start)))
                if rcdata_holds_markup(self.html, element, *start) =>
            {
                Place::Refused(format!(
                    "inside a <{}> element whose text holds markup (a `<`), which a \
                     browser may read as tags",
                    name(element)
                ))
            }
            _ => Place::Text,
        }
    }
}

/// Why a URL attribute of `tag` holding a character reference to a placeholder character is
/// refused: its placeholders cannot be told from the template's own characters.
fn stray_reference(tag: &[u8]) -> String {
    format!(
        "in an attribute of <{}> that writes U+10000 or U+10001 (reserved for isomail's \
         placeholders) as a character reference",
        name(tag)
    )
}

/// An element or attribute name as the error message shows it.
fn name(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Inside `element` of [`REPARSED`], where no value may go.
fn inside(element: &[u8]) -> Place {
    let article = if element == b"svg" || element.first().is_some_and(|c| b"aeiou".contains(c)) {
        "an"
    } else {
        "a"
    };
    Place::Refused(format!(
        "inside {article} <{}> element, whose content a browser does not parse as HTML text",
        name(element)
    ))
}

/// Whether the content of the RCDATA `element` starting at `start` holds a `<` that is not its
/// end tag: such text (`<title><style>…`) is markup wherever the element is not RCDATA.
fn rcdata_holds_markup(html: &str, element: &[u8], start: usize) -> bool {
    let Some(content) = html.as_bytes().get(start..) else {
        return false;
    };
    let Some(lt) = content.iter().position(|&b| b == b'<') else {
        return false;
    };
    let rest = &content[lt..];
    let ends = rest.len() > element.len() + 2
        && rest[1] == b'/'
        && rest[2..2 + element.len()].eq_ignore_ascii_case(element)
        && matches!(
            rest[2 + element.len()],
            b'\t' | b'\n' | b'\x0C' | b' ' | b'/' | b'>'
        );
    !ends
}

/// Writes `value` after the HTML in `out`: as [`escape`] does, and with its first character as a
/// numeric reference when `out` ends in a `<` or an unfinished character reference (`&`, `&l`,
/// `&#`), which the value's first characters could otherwise make a tag or a reference of. The
/// tokenizer read that `<` or `&` as text before a placeholder; this keeps it text. `out`, not
/// the template, is what counts, so an empty value before this one changes nothing.
fn escape_after(value: &str, unquoted: bool, out: &mut String) {
    let mut chars = value.chars();
    if ends_open(out)
        && let Some(first) = chars.next()
    {
        out.push_str(&format!("&#{};", u32::from(first)));
    }
    escape(chars.as_str(), unquoted, out);
}

/// Whether `html` ends in `<`, or in `&` followed only by ASCII letters, digits and `#`.
fn ends_open(html: &str) -> bool {
    let bytes = html.as_bytes();
    if bytes.last() == Some(&b'<') {
        return true;
    }
    let reference = bytes
        .iter()
        .rev()
        .take_while(|b| b.is_ascii_alphanumeric() || **b == b'#')
        .count();
    bytes
        .len()
        .checked_sub(reference + 1)
        .is_some_and(|at| bytes[at] == b'&')
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
