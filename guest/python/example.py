"""isomail's example renderer in Python: `$name` templates (the standard library's string.Template).

Built with componentize-py into a component of the `renderer` world (see README.md beside this
file), for `isomail:renderer@0.2.0` campaigns in the `plain` format: it refuses Markdown and
MJML, which the built-in renderer does. It keeps nothing between messages and needs nothing from
outside: every value comes from the `render` call. A recipient's values are HTML-escaped in the
HTML part, so a name written as `<b>Ann</b>` shows as those characters; in the subject and the
text part they are used as they are.

Everything is imported here, at the top: componentize-py runs this module once at build time and
bundles what it imported. A module first imported inside `render` would be looked for on a file
system that the sandbox does not have, and the message would fail.
"""

import html
import string

import wit_world
from componentize_py_types import Err
from wit_world.imports.types import (
    Content,
    Format,
    Recipient,
    RenderError_Other,
    RenderError_Syntax,
    RenderError_Undefined,
    Templates,
)

# How the formats this renderer refuses are named to the operator.
FORMAT_NAMES = {Format.MARKDOWN: "Markdown", Format.MJML: "MJML"}


class WitWorld(wit_world.WitWorld):
    """The export componentize-py looks for: `render`, called once per fresh instance."""

    def render(self, templates: Templates, recipient: Recipient) -> Content:
        if templates.format != Format.PLAIN:
            # isomail asks with its made-up first recipient, so the campaign is refused before
            # any real one is rendered.
            raise Err(
                RenderError_Other(
                    "this renderer does plain text and HTML templates, not "
                    f"{FORMAT_NAMES.get(templates.format, templates.format.name)}: "
                    "use the built-in renderer for that"
                )
            )
        values = dict(recipient.fields)
        # The address is always there, under the name the built-in renderer uses.
        values["email"] = recipient.email
        subject = substitute("subject template", templates.subject, values)
        text = substitute("text template", templates.text, values)
        body_html = None
        if templates.html is not None:
            escaped = {name: html.escape(value) for name, value in values.items()}
            body_html = substitute("html template", templates.html, escaped)
        return Content(subject=subject, text=text, html=body_html)


def substitute(label: str, template: str, values: dict[str, str]) -> str:
    """`template` with every `$name` / `${name}` replaced; `$$` is a dollar sign.

    Raises the contract's errors: `undefined` naming a value this recipient lacks, `syntax` for a
    `$` that starts no name.
    """
    try:
        return string.Template(template).substitute(values)
    except KeyError as missing:
        name = missing.args[0]
        raise Err(
            RenderError_Undefined(
                f"{label} uses `{name}`, which is not a column of the recipient list"
            )
        )
    except ValueError as bad:
        # string.Template says "Invalid placeholder in string: line 1, col 5".
        raise Err(RenderError_Syntax(f"{label}: {bad} (write $$ for a dollar sign)"))
