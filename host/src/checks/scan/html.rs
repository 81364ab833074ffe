//! An HTML part's text as a mail client shows it, read by a WHATWG tokenizer (`html5gum`):
//! character references decoded where a browser decodes them, tags gone. Inline elements
//! (`span`, `b`, `a`, `wbr`, `font`, any unknown one, …) join the text on either side, as on
//! screen; block elements, `br` and replaced elements (images, form controls) separate it.
//! What a reader does not see is not part of that text, since joining it would hide what is
//! shown on either side of it: comments, attribute values, the contents of `script`, `style`,
//! `title` and friends, and of elements marked `hidden` or `display: none`. It is all still
//! scanned, after the text, each piece on a line of its own. Text direction given by markup
//! (`dir`, `bdo`, `bdi`) becomes the bidirectional controls that mean the same in text.

use html5gum::emitters::callback::{CallbackEmitter, CallbackEvent};
use html5gum::{Span, State, Tokenizer};

use crate::checks::quiet::Quiet;

/// What separates text the reader sees apart.
const SEPARATOR: char = '\n';

/// How many open elements that change direction or hide their contents are followed: more
/// than UAX #9's 125 levels of embedding have no effect, and a hidden element inside a hidden
/// one hides nothing more.
const MAX_OPEN: usize = 125;

/// How far down the open elements an end tag looks for its start tag (misnested markup); an
/// element left open only makes more text scanned as hidden or in another direction, and both
/// views of a line are scanned.
const MATCH_DEPTH: usize = 8;

/// Elements a browser lays out as blocks, lines, list items, table parts or replaced boxes
/// (WHATWG HTML, "Rendering"): what is on either side of one does not join.
/// (A `match`, not a search of a list: it runs for every tag.)
fn separating(name: &[u8]) -> bool {
    matches!(
        name,
        b"address"
            | b"article"
            | b"aside"
            | b"audio"
            | b"blockquote"
            | b"body"
            | b"br"
            | b"button"
            | b"canvas"
            | b"caption"
            | b"center"
            | b"col"
            | b"colgroup"
            | b"dd"
            | b"details"
            | b"dialog"
            | b"dir"
            | b"div"
            | b"dl"
            | b"dt"
            | b"embed"
            | b"fieldset"
            | b"figcaption"
            | b"figure"
            | b"footer"
            | b"form"
            | b"h1"
            | b"h2"
            | b"h3"
            | b"h4"
            | b"h5"
            | b"h6"
            | b"head"
            | b"header"
            | b"hgroup"
            | b"hr"
            | b"html"
            | b"iframe"
            | b"img"
            | b"input"
            | b"legend"
            | b"li"
            | b"listing"
            | b"main"
            | b"menu"
            | b"nav"
            | b"object"
            | b"ol"
            | b"p"
            | b"pre"
            | b"section"
            | b"select"
            | b"summary"
            | b"table"
            | b"tbody"
            | b"td"
            | b"textarea"
            | b"tfoot"
            | b"th"
            | b"thead"
            | b"tr"
            | b"ul"
    )
}

/// Elements with no end tag: nothing is pushed for them.
fn void(name: &[u8]) -> bool {
    matches!(
        name,
        b"area"
            | b"base"
            | b"br"
            | b"col"
            | b"embed"
            | b"hr"
            | b"img"
            | b"input"
            | b"link"
            | b"meta"
            | b"param"
            | b"source"
            | b"track"
            | b"wbr"
    )
}

/// The tokenizer state a browser's tree builder switches to after each element's start tag
/// (scripting disabled, as in mail: `noscript` is ordinary markup), and whether a reader sees
/// that text.
fn raw_text(name: &[u8]) -> Option<(State, bool)> {
    Some(match name {
        b"title" => (State::RcData, false),
        b"textarea" => (State::RcData, true),
        b"script" => (State::ScriptData, false),
        b"style" | b"iframe" | b"noembed" | b"noframes" => (State::RawText, false),
        b"xmp" => (State::RawText, true),
        b"plaintext" => (State::PlainText, true),
        _ => return None,
    })
}

/// An open element that changes direction or hides its contents.
struct Open {
    name: Vec<u8>,
    /// The control that opened its direction (closed by PDF or PDI), if any.
    direction: Option<char>,
    hidden: bool,
}

/// The start tag being read.
#[derive(Default)]
struct Tag {
    name: Vec<u8>,
    attribute: Vec<u8>,
    dir: Option<Vec<u8>>,
    hidden: bool,
}

#[derive(Default)]
struct Reader {
    /// The text a reader sees.
    shown: String,
    /// Everything else, a piece a line.
    unseen: String,
    open: Vec<Open>,
    hidden: usize,
    tag: Tag,
    /// Inside an element whose raw text a reader does not see.
    unseen_raw: bool,
}

impl Reader {
    fn text(&mut self) -> &mut String {
        if self.hidden > 0 || self.unseen_raw {
            &mut self.unseen
        } else {
            &mut self.shown
        }
    }

    fn push_text(&mut self, bytes: &[u8]) {
        push_utf8(self.text(), bytes);
    }

    fn push_unseen(&mut self, bytes: &[u8]) {
        push_utf8(&mut self.unseen, bytes);
        self.unseen.push(SEPARATOR);
    }

    /// A line break, then the innermost direction again: UAX #9 ends every embedding at a
    /// paragraph's end, a browser keeps the element's direction for its next block.
    fn separate(&mut self) {
        let again = self.open.iter().rev().find_map(|open| open.direction);
        let text = self.text();
        text.push(SEPARATOR);
        text.extend(again);
    }

    fn close_start_tag(&mut self, self_closing: bool) -> Option<State> {
        // The tag's buffers are kept for the next one: no allocation per tag.
        let hidden = std::mem::take(&mut self.tag.hidden);
        let direction = direction(&self.tag);
        self.tag.dir = None;
        let name = self.tag.name.as_slice();
        let (separating, void) = (separating(name), void(name));
        let raw = raw_text(name);
        if separating {
            self.separate();
        }
        let void = self_closing || void;
        if (direction.is_some() || hidden) && !void && self.open.len() < MAX_OPEN {
            if let Some(control) = direction {
                self.text().push(control);
            }
            self.hidden += usize::from(hidden);
            self.open.push(Open {
                name: self.tag.name.clone(),
                direction,
                hidden,
            });
        }
        let (state, seen) = raw?;
        self.unseen_raw = !seen;
        if !seen {
            self.unseen.push(SEPARATOR);
        }
        Some(state)
    }

    fn end_tag(&mut self, name: &[u8]) {
        if std::mem::take(&mut self.unseen_raw) {
            self.unseen.push(SEPARATOR);
        }
        let from = self.open.len().saturating_sub(MATCH_DEPTH);
        if let Some(at) = self.open[from..].iter().rposition(|open| open.name == name) {
            for open in self.open.split_off(from + at).into_iter().rev() {
                self.hidden -= usize::from(open.hidden);
                if let Some(control) = open.direction {
                    self.text().push(pop_for(control));
                }
            }
        }
        if separating(name) {
            self.separate();
        }
    }

    fn event(&mut self, event: CallbackEvent<'_>) -> Option<State> {
        match event {
            CallbackEvent::OpenStartTag { name } => {
                self.tag.name.clear();
                self.tag.name.extend_from_slice(name);
                self.tag.attribute.clear();
                (self.tag.dir, self.tag.hidden) = (None, false);
            }
            CallbackEvent::AttributeName { name } => {
                self.tag.attribute.clear();
                self.tag.attribute.extend_from_slice(name);
                self.tag.hidden |= name == b"hidden";
            }
            CallbackEvent::AttributeValue { value } => {
                match self.tag.attribute.as_slice() {
                    b"dir" => self.tag.dir = Some(value.to_ascii_lowercase()),
                    b"style" => self.tag.hidden |= hides(value),
                    _ => {}
                }
                self.push_unseen(value);
            }
            CallbackEvent::CloseStartTag { self_closing } => {
                return self.close_start_tag(self_closing);
            }
            CallbackEvent::EndTag { name } => self.end_tag(name),
            CallbackEvent::String { value } => self.push_text(value),
            CallbackEvent::Comment { value } => self.push_unseen(value),
            CallbackEvent::Doctype { .. } | CallbackEvent::Error(_) => {}
        }
        None
    }
}

/// Appends `bytes`, which the tokenizer cut from a `&str` and so are UTF-8 (lossily if not).
fn push_utf8(out: &mut String, bytes: &[u8]) {
    match std::str::from_utf8(bytes) {
        Ok(text) => out.push_str(text),
        Err(_) => out.push_str(&String::from_utf8_lossy(bytes)),
    }
}

/// Whether a `style` attribute says `display: none` (spaces and case aside, `!important` or
/// not): CSS is not parsed further.
fn hides(style: &[u8]) -> bool {
    let squeezed: Vec<u8> = style
        .iter()
        .filter(|b| !b.is_ascii_whitespace())
        .map(u8::to_ascii_lowercase)
        .collect();
    let rule = b"display:none";
    (0..squeezed.len()).any(|i| {
        squeezed[i..].starts_with(rule)
            && matches!(squeezed.get(i + rule.len()), None | Some(b';' | b'!'))
    })
}

/// The control a start tag's direction means in text: `bdo` overrides, `bdi` and `dir`
/// isolate (HTML's rendering rules give them `unicode-bidi: bidi-override` and `isolate`).
fn direction(tag: &Tag) -> Option<char> {
    let dir = tag.dir.as_deref();
    if tag.name == b"bdo" {
        return match dir {
            Some(b"rtl") => Some('\u{202e}'),
            Some(b"ltr") => Some('\u{202d}'),
            _ => None,
        };
    }
    match dir {
        Some(b"rtl") => Some('\u{2067}'),
        Some(b"ltr") => Some('\u{2066}'),
        Some(b"auto") => Some('\u{2068}'),
        _ if tag.name == b"bdi" => Some('\u{2068}'),
        _ => None,
    }
}

/// What closes `control`: PDF for an override, PDI for an isolate.
fn pop_for(control: char) -> char {
    if matches!(control, '\u{202d}' | '\u{202e}') {
        '\u{202c}'
    } else {
        '\u{2069}'
    }
}

/// The text of `html` a reader sees, then on lines after it what they do not.
pub(super) fn html_text(html: &str) -> String {
    let mut reader = Reader::default();
    let emitter = CallbackEmitter::new(|event: CallbackEvent<'_>, _: Span<()>| reader.event(event));
    let mut tokenizer = Tokenizer::new_with_emitter(html, Quiet(emitter));
    while let Some(token) = tokenizer.next() {
        // Reading a `&str` cannot fail.
        let Ok(state) = token;
        tokenizer.set_state(state);
    }
    drop(tokenizer);
    let mut text = reader.shown;
    text.push(SEPARATOR);
    text.push_str(&reader.unseen);
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(html: &str) -> String {
        let text = html_text(html);
        text.split('\n').next().unwrap_or_default().to_string()
    }

    #[test]
    fn inline_markup_joins_and_blocks_separate() {
        for html in [
            "r2<span></span>@list.test",
            "r2@<b>list</b>.test",
            "r2<wbr>@list.test",
            "r2<!-- x -->@list.test",
            "<em>r2</em><code>@</code><strong>list.test</strong>",
            "r2<font color=red>@</font>list<x-custom>.test</x-custom>",
            "r2&#64;list&period;test",
            "r2<a href=\"x\">@list</a>.test",
        ] {
            assert_eq!(shown(html), "r2@list.test", "{html}");
        }
        for html in [
            "r2<p>@list.test",
            "r2<br>@list.test",
            "r2</div>@list.test",
            "r2<td>@list.test",
        ] {
            assert_ne!(shown(html), "r2@list.test", "{html}");
        }
    }

    #[test]
    fn what_a_reader_does_not_see_neither_joins_nor_is_lost() {
        for html in [
            "r2<style>p { color: red }</style>@list.test",
            "r2<script>var x = '<b>';</script>@list.test",
            "r2<span hidden>zz</span>@list.test",
            "r2<span style=\"DISPLAY: none\">zz</span>@list.test",
            "r2<title>t</title>@list.test",
        ] {
            assert_eq!(shown(html), "r2@list.test", "{html}");
        }
        let all = html_text("<a title=\"r3&shy;@x\">a</a><!-- c --><style>s</style>");
        for piece in ["r3\u{ad}@x", " c ", "s"] {
            assert!(
                all.lines().any(|line| line == piece),
                "{piece:?} in {all:?}"
            );
        }
        // `noscript` is markup in mail, where scripts do not run.
        assert_eq!(
            shown("r2<noscript><b>@</b></noscript>list.test"),
            "r2@list.test"
        );
    }

    #[test]
    fn direction_markup_becomes_controls() {
        assert_eq!(
            shown("<bdo dir=rtl>tset.tsil@2r</bdo>!"),
            "\u{202e}tset.tsil@2r\u{202c}!"
        );
        assert_eq!(shown("<span dir=RTL>a</span>"), "\u{2067}a\u{2069}");
        // A block inside keeps the direction on its next line.
        assert_eq!(
            html_text("<div dir=rtl>a<p>b</p></div>")
                .lines()
                .collect::<Vec<_>>()[1..3],
            ["\u{2067}a", "\u{2067}b"]
        );
    }
}
