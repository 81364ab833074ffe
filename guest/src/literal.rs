//! Recipient values kept literal in Markdown and MJML templates: while such a template renders,
//! every `{{ … }}` it outputs is written as an opaque placeholder and its value recorded, so the
//! Markdown or MJML parser sees only the author's markup; the values go back in afterwards,
//! escaped for the place each placeholder ended up in.
//!
//! A value marked safe (`|safe`) is written as it is, as HTML autoescaping does. A placeholder
//! that cannot be matched to a recorded value is an error, never left in a message.

use std::cell::{Cell, RefCell};

use minijinja::{Error, Output, State, Value};

/// A placeholder is `START`, the value's index in decimal, `END`: two Linear B syllables, which no
/// email is written in and a template may not contain. Letters, so CommonMark reads a placeholder
/// as a word (emphasis around it works as around a name), and printable, so mrml (which writes
/// attribute values with Rust's `{:?}`) leaves them as they are.
pub const START: char = '\u{10000}';
pub const END: char = '\u{10001}';

thread_local! {
    /// The values of the template being rendered, by placeholder index. A component instance
    /// runs one render at a time, on one thread.
    static VALUES: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
    /// Whether a Markdown or MJML body is rendering. Every value printed meanwhile becomes a
    /// placeholder, whichever template prints it: minijinja reports an included template's or an
    /// imported macro's own name while it runs, so the template name cannot tell.
    static MARKUP: Cell<bool> = const { Cell::new(false) };
}

/// Renders with `render` while recording placeholders: returns its output and the values.
pub fn recording<T>(render: impl FnOnce() -> T) -> (T, Vec<String>) {
    VALUES.with_borrow_mut(Vec::clear);
    MARKUP.set(true);
    let out = render();
    MARKUP.set(false);
    (out, VALUES.with_borrow_mut(std::mem::take))
}

/// Whether the output being rendered is markup, whose printed values must be placeholders.
pub fn in_markup() -> bool {
    MARKUP.get()
}

/// Where a recipient value holds the reserved characters, as an error message's end: such a value
/// could pass for another value's placeholder (data is never trusted to hold one).
pub fn reserved_in_value(value: &str) -> Option<String> {
    let ch = value.chars().find(|c| [START, END].contains(c))?;
    Some(format!(
        "holds the character U+{:04X}, which is reserved for isomail's placeholders in Markdown \
         and MJML campaigns",
        u32::from(ch)
    ))
}

/// The formatter for a template whose output is markup: each value not marked safe becomes a
/// placeholder. A value that itself holds placeholders (a `{% set %}` block or a macro's output,
/// printed again) is recorded with them filled in, so it stays one literal value.
pub fn write_placeholder(out: &mut Output, _state: &State, value: &Value) -> Result<(), Error> {
    let text = value.to_string();
    let literal = if text.contains(START) {
        VALUES.with_borrow(|values| expand(&text, values))
    } else {
        text
    };
    let index = VALUES.with_borrow_mut(|values| {
        values.push(literal);
        values.len() - 1
    });
    write!(out, "{START}{index}{END}").map_err(Error::from)
}

/// Where `source` holds the reserved characters, as an error message's end; `None` if nowhere.
pub fn reserved_in(source: &str) -> Option<String> {
    let (line, ch) = source.lines().enumerate().find_map(|(n, line)| {
        line.chars()
            .find(|c| [START, END].contains(c))
            .map(|c| (n, c))
    })?;
    Some(format!(
        "line {}: the character U+{:04X} is reserved for isomail's placeholders",
        line + 1,
        u32::from(ch)
    ))
}

/// A placeholder at the start of `s` (which begins with [`START`]): its index and length.
pub fn placeholder_at(s: &str) -> Option<(usize, usize)> {
    let digits = s.strip_prefix(START)?;
    let end = digits.find(END)?;
    let index = digits[..end].parse().ok()?;
    Some((index, START.len_utf8() + end + END.len_utf8()))
}

/// `s` with each complete placeholder of a recorded value replaced by that value, and any other
/// reserved character kept: a value printed again, in which such a character can only be data.
fn expand(s: &str, values: &[String]) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find(START) {
        out.push_str(&rest[..at]);
        let found =
            placeholder_at(&rest[at..]).and_then(|(index, len)| Some((values.get(index)?, len)));
        let len = match found {
            Some((value, len)) => {
                out.push_str(value);
                len
            }
            None => {
                out.push(START);
                START.len_utf8()
            }
        };
        rest = &rest[at + len..];
    }
    out.push_str(rest);
    out
}

/// `s` with every placeholder replaced by `put(index, value, out)`: an error for a stray reserved
/// character or an index with no value (neither can come from a value, which is never rescanned).
pub fn fill(
    s: &str,
    values: &[String],
    mut put: impl FnMut(usize, &str, &mut String),
) -> Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find([START, END]) {
        out.push_str(&rest[..at]);
        let (index, len) = placeholder_at(&rest[at..]).ok_or_else(stray)?;
        let value = values.get(index).ok_or_else(stray)?;
        put(index, value, &mut out);
        rest = &rest[at + len..];
    }
    out.push_str(rest);
    Ok(out)
}

fn stray() -> String {
    "a value's placeholder was split or altered by the template's markup; \
     recipient values must stay whole"
        .to_owned()
}

/// For each value, whether the rendered template `source` holds its placeholder: the values
/// that must reach the HTML. (A value printed inside a `{% set %}` block that is then printed
/// whole, or never, is not among them: it is part of another value, or of none.)
pub fn printed(source: &str, count: usize) -> Vec<bool> {
    let mut printed = vec![false; count];
    let mut rest = source;
    while let Some(at) = rest.find(START) {
        rest = &rest[at..];
        match placeholder_at(rest) {
            Some((index, len)) => {
                if let Some(seen) = printed.get_mut(index) {
                    *seen = true;
                }
                rest = &rest[len..];
            }
            None => rest = &rest[START.len_utf8()..],
        }
    }
    printed
}

/// The first value printed in the template (see [`printed`]) that did not reach the output.
pub fn first_lost(printed: &[bool], reached: &[bool]) -> Option<usize> {
    printed
        .iter()
        .zip(reached)
        .position(|(printed, reached)| *printed && !reached)
}
