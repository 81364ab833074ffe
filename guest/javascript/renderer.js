// isomail's example renderer in JavaScript: the `renderer` world of ../../wit, made a component
// by componentize-qjs (QuickJS). isomail calls `render` once per message, each time in a fresh
// instance, so nothing this module keeps survives to the next recipient.
//
// Templates use `{{ name }}` for a recipient's column (`{{ email }}` for the address). Values go
// into the text and subject as they are, and into the HTML part escaped, so a value can never
// add markup. A name the recipient lacks is an `undefined` error naming it; a `{{` without its
// `}}`, or anything but a column name between them, is a `syntax` error. It renders `plain`
// templates only: a Markdown or MJML campaign is refused with an `other` error that says so.

/// A placeholder: `{{`, optional spaces, a column name, optional spaces, `}}`.
const PLACEHOLDER = /\{\{\s*([^{}]*?)\s*\}\}/g;
/// What a column name may be (the CSV header's names, as the built-in renderer accepts them).
const NAME = /^[A-Za-z_][A-Za-z0-9_-]*$/;

const HTML_ESCAPES = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

function escapeHtml(value) {
  return value.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]);
}

/// The error isomail shows for a message this renderer refuses: a `render-error` variant.
class Refusal {
  constructor(tag, message) {
    this.tag = tag;
    this.val = message;
  }
}

/// `template` with every placeholder replaced by its value from `values` (a Map), each passed
/// through `escape`. `part` ("text template", …) starts every error message: isomail then
/// names the template's file.
function fill(template, values, escape, part) {
  // Whatever `{{` is left once every complete placeholder is gone is an unclosed one.
  if (template.replace(PLACEHOLDER, "").includes("{{")) {
    throw new Refusal("syntax", `${part}: a {{ without its }}`);
  }
  return template.replace(PLACEHOLDER, (_, name) => {
    if (!NAME.test(name)) {
      throw new Refusal("syntax", `${part}: {{ ${name} }} is not a column name`);
    }
    if (!values.has(name)) {
      throw new Refusal(
        "undefined",
        `${part} uses \`${name}\`, which is not a column of the recipient list`,
      );
    }
    return escape(values.get(name));
  });
}

export function render(templates, recipient) {
  // `format` is the WIT enum, as its case name.
  if (templates.format !== "plain") {
    throw {
      tag: "other",
      val: `this renderer renders plain templates only, not ${templates.format} (use the built-in renderer for it)`,
    };
  }
  const values = new Map(recipient.fields);
  values.set("email", recipient.email);
  const same = (value) => value;
  try {
    return {
      subject: fill(templates.subject, values, same, "subject template"),
      text: fill(templates.text, values, same, "text template"),
      html: templates.html == null ? null : fill(templates.html, values, escapeHtml, "html template"),
    };
  } catch (err) {
    if (err instanceof Refusal) {
      throw { tag: err.tag, val: err.val };
    }
    // Anything else is a bug here; an `other` error says so instead of trapping.
    throw { tag: "other", val: `the JavaScript renderer failed: ${err}` };
  }
}
