//! A rendered MJML template (with placeholders for its values) made into responsive HTML (mrml),
//! then given its values, each escaped for where it landed (see [`crate::html`]).
//!
//! mrml sees placeholders, never values, so no value can add an MJML or HTML tag. A value that
//! MJML turns into CSS (a width, a colour, `mj-style`) or drops is refused, naming it.

use crate::html::{self, ColumnOf, ordinal};
use crate::literal;

/// The HTML of the rendered MJML `source`, its placeholders given `values`; a refusal names the
/// value's column as `column_of` tells.
pub fn html(source: &str, values: &[String], column_of: ColumnOf<'_>) -> Result<String, String> {
    let parsed = mrml::parse(source).map_err(|err| format!("not valid MJML: {err}"))?;
    // mrml links Google Fonts for MJML's default families (Ubuntu, Open Sans, …), so every open
    // would tell a third party the reader's address. Only a font the template declares itself
    // (`mj-font`) is linked; the font stacks fall back to the reader's own fonts.
    let options = mrml::prelude::render::RenderOptions {
        fonts: Default::default(),
        ..Default::default()
    };
    let rendered = parsed
        .element
        .render(&options)
        .map_err(|err| format!("MJML cannot render it: {err}"))?;
    let mut reached = vec![false; values.len()];
    let filled = html::fill(&rendered, values, column_of, &mut reached)?;
    match literal::first_lost(&literal::printed(source, values.len()), &reached) {
        None => Ok(filled),
        Some(index) => Err(format!(
            "the value printed {} does not reach the HTML: MJML dropped it (a value in an \
             attribute MJML reads, such as a width or a colour, is not allowed)",
            ordinal(index)
        )),
    }
}
