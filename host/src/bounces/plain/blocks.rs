//! Splits a notice's text into one block per failed recipient: a line that names an address
//! the way bounces introduce recipients (alone or first on its line, after a label such as
//! `Recipient address:`, or in a sentence such as "Your message to … couldn't be delivered")
//! opens that address's block, and the lines after it, up to the next such line or a section
//! rule, are its reason. An address named again (Exchange and sendmail name each twice) goes
//! back to its own block.
//!
//! Each line is tried against a fixed handful of regular expressions (the `regex` crate: no
//! backtracking), so splitting is linear in the text.

use std::collections::HashMap;
use std::sync::LazyLock;

use regex::Regex;

/// The most recipients one notice yields.
pub(super) const MAX_RECIPIENTS: usize = 1_000;
/// The most text kept for one block (and for the lines outside any block).
const MAX_BLOCK_BYTES: usize = 4_096;
/// The most characters of a diagnostic.
pub(super) const MAX_DIAGNOSTIC: usize = 1_000;

/// local@domain: a dot-atom local part (no leading quote, so `'a@b'` yields `a@b`) and a
/// domain of letter-or-digit labels, or an address literal. Unicode letters are allowed in both
/// (RFC 6531).
const ADDRESS: &str = concat!(
    r"[\p{L}\p{N}!#$%&*+/=?^_`{|}~-][\p{L}\p{N}!#$%&'*+/=?^_`{|}~.-]*@",
    r"(?:(?:[\p{L}\p{N}](?:[\p{L}\p{N}-]*[\p{L}\p{N}])?\.)+[\p{L}\p{N}](?:[\p{L}\p{N}-]*[\p{L}\p{N}])?",
    r"|\[[0-9A-Fa-f:.]+\])",
);

/// Local parts that are the reporting system's own mailboxes, never a failed recipient.
const SYSTEM_MAILBOXES: &[&str] = &[
    "postmaster",
    "mailer-daemon",
    "mailer_daemon",
    "double-bounce",
    "hostmaster",
];

/// How a line names its recipient, and how much of the line is reason text.
struct Intro {
    regex: Regex,
    /// Whether the rest of the line after the match is the reason (else the whole line is).
    rest_only: bool,
}

fn intro(pattern: &str, rest_only: bool) -> Intro {
    let regex = Regex::new(&pattern.replace("ADDR", ADDRESS)).expect("fixed patterns compile");
    Intro { regex, rest_only }
}

static INTROS: LazyLock<[Intro; 6]> = LazyLock::new(|| {
    [
        // The address first: `<a@b>:`, `a@b on 4/29/99`, `"a@b":`, `* a@b`, `a@b<mailto:a@b>`.
        intro(
            concat!(
                r#"^(?:[-*•]\s*)?(?:"[^"]{0,200}"\s*)?["'<\[(]?\s*(?:mailto:)?(ADDR)["'>\])]?"#,
                r"(?:<mailto:[^>\s]*>)?(?:$|[\s:;,.(\[])",
            ),
            true,
        ),
        // A display name, then the address alone: `Jane Roe (a@b)`, `Jane Roe <a@b>` (not a
        // reply ending in one: `550 5.1.1 unknown user <a@b>` is a reason).
        intro(
            r#"^[^\d<>()@:"\[\]][^<>()@:"\[\]]{0,79}[<(](?:mailto:)?(ADDR)[>)](?:<mailto:[^>\s]*>)?\s*:?$"#,
            true,
        ),
        // A label: Messaging Server, Office 365 details, Final-Recipient in text.
        intro(
            concat!(
                r"(?i)^(?:recipient address|original address|recipient|final-recipient|original-recipient",
                r"|failed recipient|address|empfänger(?:adresse)?|adresse|destinataire|destinatario|получатель|адрес)",
                r#"\s*:\s*(?:rfc822\s*;\s*)?["'<]?\s*(?:mailto:)?(ADDR)"#,
            ),
            true,
        ),
        // A label that is itself the reason (iMail's `Unknown user: a@b`).
        intro(
            r#"(?i)^(?:unknown user|invalid recipient|unknown recipient|no such user)\s*:\s*["'<]?(ADDR)"#,
            false,
        ),
        // A sentence or a command naming it: Gmail, Office 365, KDDI, InterScan, transcripts.
        intro(
            concat!(
                r"(?i)(?:(?:could not|couldn't|cannot|can't|unable to|failed to|wasn't|was not|not)\s+(?:be\s+)?",
                r"deliver(?:ed)?(?:\s+(?:your\s+|the\s+)?(?:message|mail|e-?mail))?\s+to",
                r"|delivering\s+(?:your\s+)?(?:message|mail)\s+to|your\s+(?:message|mail|e-?mail)\s+to",
                r"|rejected\s+recipient|RCPT\s+TO\s*:|,\s*Address\s*:)",
                r#"\s*:?\s*["'<]?\s*(?:mailto:)?(ADDR)"#,
            ),
            false,
        ),
        // A reply naming it: sendmail's `550 5.1.1 <a@b>... User unknown` (also after `<<<`),
        // an appliance's `SMTP:RCPT host 192.0.2.8: 553 5.3.0 <a@b>... No such user`.
        intro(
            r"(?:^|[\s:;'])[45][0-9]{2}[ -](?:[45]\.[0-9]{1,3}\.[0-9]{1,3}\s+)?<(ADDR)>",
            false,
        ),
    ]
});

/// A line that is a rule or a ruled heading (sendmail's `----- … -----`, Postfix's `####`).
static RULE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[-=*#_~]{2,}").expect("fixed pattern compiles"));

/// A heading's own word for the recipients under it (sendmail lists both kinds in one notice).
fn heading_says(line: &str) -> Option<bool> {
    let lower = line.to_lowercase();
    if ["non-fatal", "transient", "warning", "delay"]
        .iter()
        .any(|w| lower.contains(w))
    {
        Some(false)
    } else if ["permanent", "fatal"].iter().any(|w| lower.contains(w)) {
        Some(true)
    } else {
        None
    }
}

/// One recipient's block.
pub(super) struct Block {
    pub address: String,
    /// Its lines, a blank line kept as an empty one (paragraphs end at `\n\n`).
    pub text: String,
    /// What the heading of its section said (sendmail), else None.
    pub section: Option<bool>,
    /// The block whose address came next with nothing but blank lines between: in a list of
    /// addresses followed by one reason (Domino), the reason is the whole list's.
    pub listed_with: Option<usize>,
}

/// The blocks of a notice, and the text outside every block (its preamble and the sections
/// without recipients), where a reason common to all recipients stands (MailMarshal, Biglobe).
#[derive(Default)]
pub(super) struct Blocks {
    pub list: Vec<Block>,
    pub outside: String,
}

/// Appends a line, cut so the text stays within `MAX_BLOCK_BYTES`.
fn push_line(text: &mut String, line: &str) {
    let mut room = MAX_BLOCK_BYTES
        .saturating_sub(text.len() + 1)
        .min(line.len());
    while !line.is_char_boundary(room) {
        room -= 1;
    }
    if room > 0 || line.is_empty() && text.len() < MAX_BLOCK_BYTES {
        text.push_str(&line[..room]);
        text.push('\n');
    }
}

/// The address a line introduces, with the part of the line that is reason text.
fn introduced(line: &str) -> Option<(&str, &str)> {
    INTROS.iter().find_map(|intro| {
        let found = intro.regex.captures(line)?;
        let address = found.get(1)?.as_str();
        let local = address.rsplit_once('@').map_or(address, |(l, _)| l);
        if SYSTEM_MAILBOXES
            .iter()
            .any(|s| local.eq_ignore_ascii_case(s))
        {
            return None;
        }
        let rest = match intro.rest_only {
            true => &line[found.get(0).map_or(0, |m| m.end())..],
            false => line,
        };
        Some((address, rest))
    })
}

/// Splits `text` (a notice without the returned original) into recipient blocks.
pub(super) fn split(text: &str) -> Blocks {
    let mut blocks = Blocks::default();
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut current: Option<usize> = None;
    // The block just opened, while nothing but blank lines followed it.
    let mut bare: Option<usize> = None;
    let mut section: Option<bool> = None;
    for line in text.lines() {
        let line = line.trim();
        if RULE.is_match(line) {
            section = heading_says(line).or(section);
            (current, bare) = (None, None);
            continue;
        }
        if let Some((address, rest)) = introduced(line) {
            let key = address.to_lowercase();
            let known = index.get(&key).copied();
            if known.is_some() || blocks.list.len() < MAX_RECIPIENTS {
                let at = known.unwrap_or_else(|| {
                    index.insert(key, blocks.list.len());
                    let address = address.to_string();
                    let block = Block {
                        address,
                        text: String::new(),
                        section,
                        listed_with: None,
                    };
                    blocks.list.push(block);
                    blocks.list.len() - 1
                });
                if let Some(before) = bare.filter(|&before| before < at) {
                    blocks.list[before].listed_with = Some(at);
                }
                let rest = rest.trim_start_matches([':', '.', ' ', ',']);
                push_line(&mut blocks.list[at].text, rest);
                current = Some(at);
                bare = blocks.list[at].text.trim().is_empty().then_some(at);
                continue;
            }
        }
        if !line.is_empty() {
            bare = None;
        }
        match current {
            Some(at) => push_line(&mut blocks.list[at].text, line),
            None => push_line(&mut blocks.outside, line),
        }
    }
    blocks
}

/// A remote server's reply: a 4xx or 5xx code standing alone (not part of an IP address or a
/// longer number), as MTAs quote it after `said:`, `'`, `#`, `;` or a blank.
static REPLY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?:^|[\s'"(:\[#;=>])([45][0-9]{2}[ -])"#).expect("fixed pattern compiles")
});

/// Words of a reason (used to pick the reason paragraph from the text outside every block).
static REASONISH: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        concat!(
            r"(?i)unknown|no such|not found|does not exist|doesn't exist|mailbox|quota|full|rejected|denied",
            r"|invalid|disabled|blocked|spam|exceeded|not listed|unrouteable|timed? ?out|refused",
            r"|relay(?:ing)? (?:denied|access)|not recognized|unavailable",
        ),
    )
    .expect("fixed pattern compiles")
});

/// How many replies of one block are looked at for one that says more than its codes.
const MAX_REPLIES: usize = 8;

/// The reply a block quotes, from its code to the end of that paragraph: the first one with
/// words after its codes (Office 365 gives `Status code: 550 5.1.10` before the full reply).
fn reply(text: &str) -> Option<&str> {
    static WORDS: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"\p{L}{3}").expect("fixed pattern compiles"));
    let paragraphs = REPLY
        .captures_iter(text)
        .take(MAX_REPLIES)
        .filter_map(|found| {
            let rest = &text[found.get(1)?.start()..];
            Some(rest.find("\n\n").map_or(rest, |end| &rest[..end]))
        });
    let mut first = None;
    for paragraph in paragraphs {
        if WORDS.is_match(paragraph) {
            return Some(paragraph);
        }
        first = first.or(Some(paragraph));
    }
    first
}

/// One line, whitespace collapsed, at most `MAX_DIAGNOSTIC` characters.
pub(super) fn one_line(text: &str) -> String {
    let mut out = String::new();
    let mut chars = 0;
    for word in text.split_whitespace() {
        if chars >= MAX_DIAGNOSTIC {
            break;
        }
        if !out.is_empty() {
            out.push(' ');
            chars += 1;
        }
        out.push_str(word);
        chars += word.chars().count();
    }
    match out.char_indices().nth(MAX_DIAGNOSTIC) {
        Some((cut, _)) => out[..cut].to_string(),
        None => out,
    }
}

/// The reason for each block, in order: the reply it quotes, else its text when that reads
/// like a reason; else the reason of the list it heads (Domino), else `common` (the reason
/// stated once before a list, as MailMarshal does), else whatever text it has.
pub(super) fn diagnostics(list: &[Block], common: &Common) -> Vec<String> {
    let mut out = vec![String::new(); list.len()];
    // Backwards, so the block a list continues with has its reason already.
    for (at, block) in list.iter().enumerate().rev() {
        let own = one_line(&block.text);
        out[at] = match (reply(&block.text), block.listed_with) {
            (Some(reply), _) => one_line(reply),
            (None, _) if REASONISH.is_match(&block.text) => own,
            (None, Some(next)) if next > at => out[next].clone(),
            (None, _) if common.replied || own.is_empty() => common.text.clone(),
            (None, _) => own,
        };
    }
    out
}

/// The reason a notice states once for all its recipients.
pub(super) struct Common {
    /// One line, as for a block.
    pub text: String,
    /// Whether it is a quoted reply (else the last paragraph that reads like a reason, which a
    /// block's own text outranks).
    pub replied: bool,
}

/// The reason stated once for all recipients: the reply quoted outside every block, else the
/// last paragraph there that reads like a reason.
pub(super) fn common(outside: &str) -> Common {
    if let Some(reply) = reply(outside) {
        return Common {
            text: one_line(reply),
            replied: true,
        };
    }
    let paragraph = outside
        .split("\n\n")
        .filter(|p| REASONISH.is_match(p))
        .last();
    Common {
        text: one_line(paragraph.unwrap_or_default()),
        replied: false,
    }
}
