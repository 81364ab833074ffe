//! html5gum's tokenizer without its parse-error reports. Both HTML readers of the checks (the
//! leak scan's reader's view and the `urls` check) take the tokens and ignore the errors, yet
//! an emitter that wants errors makes the tokenizer validate every character it reads, which
//! cost a quarter of the scan of an ordinary message. Tokens and states are the same either
//! way: validation only reports.

use html5gum::{Emitter, ForwardingEmitter};

/// An emitter that forwards everything to the one it wraps and asks for no errors.
pub(crate) struct Quiet<E>(pub(crate) E);

impl<E: Emitter> ForwardingEmitter for Quiet<E> {
    type Token = E::Token;

    fn inner(&mut self) -> &mut impl Emitter<Token = Self::Token> {
        &mut self.0
    }

    fn should_emit_errors(&mut self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use html5gum::emitters::callback::{CallbackEmitter, CallbackEvent};
    use html5gum::{Span, Tokenizer};

    use super::Quiet;

    /// Every event's debug form but the errors', and how many errors there were.
    fn events(html: &str, quiet: bool) -> (Vec<String>, usize) {
        let mut seen = Vec::new();
        let mut errors = 0;
        let emitter = CallbackEmitter::new(|event: CallbackEvent<'_>, _: Span<()>| {
            match event {
                CallbackEvent::Error { .. } => errors += 1,
                other => seen.push(format!("{other:?}")),
            }
            None::<()>
        });
        if quiet {
            Tokenizer::new_with_emitter(html, Quiet(emitter)).for_each(drop);
        } else {
            Tokenizer::new_with_emitter(html, emitter).for_each(drop);
        }
        (seen, errors)
    }

    #[test]
    fn the_tokens_are_the_same_without_the_errors() {
        let inputs = [
            "<p>Hello <b>r2</b>@x.org &amp; &shy; &#x0; &bogus; <a href=\"mailto:a@b\">x</a></p>",
            "<a b b c=\"1\" c=\"2\"><!-- x -- y --!><x/y\u{0}z>\u{1}\u{fffe}</x></a",
            "<!DOCTYPE html><title>t &lt</title><script>if (a<b) {}</script><style>p{}</style>",
            "&#1234567890; &#xD800; <? pi ?> </> <//b> <b =x> < b> a\r\nb",
        ];
        let mut errors_seen = 0;
        for html in inputs {
            let (loud, errors) = events(html, false);
            let (quiet, none) = events(html, true);
            assert_eq!(quiet, loud, "{html:?}");
            assert_eq!(none, 0, "{html:?}");
            errors_seen += errors;
        }
        // Control: the same inputs do make errors when they are asked for, so the quiet
        // emitter is what removes them.
        assert!(errors_seen >= 8, "{errors_seen}");
    }
}
