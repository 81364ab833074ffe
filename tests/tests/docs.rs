//! The documentation stays true to the code and to itself: docs/configuration.md documents
//! exactly the keys the campaign loader accepts, section by section (the accepted keys are read
//! from the loader's own refusals, never from a list written here); every relative link in
//! README.md and docs/*.md reaches a file, and every `#anchor` a heading; README.md stays a
//! short front page that links to every page of docs/.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};

use isomail::campaign::Campaign;
use pulldown_cmark::{BrokenLink, Event, LinkType, Options, Parser, Tag, TagEnd};

/// Where README.md and docs/ are.
fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate is inside the repository")
        .to_path_buf()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every docs/*.md page, sorted.
fn doc_pages() -> Vec<PathBuf> {
    let mut pages: Vec<PathBuf> = std::fs::read_dir(repo().join("docs"))
        .expect("docs/")
        .map(|e| e.expect("docs/ entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .collect();
    pages.sort();
    pages
}

// ---------------------------------------------------------------------------------------------
// docs/configuration.md against the loader
// ---------------------------------------------------------------------------------------------

/// Keys per section. A section is named as docs/configuration.md writes its heading, without
/// brackets and with `*` for a table's own name: "" (the top level: the sections themselves),
/// "message", "dkim" (`[[dkim]]`), "delivery.domains.*" (`[delivery.domains."DOMAIN"]`).
type Keys = BTreeMap<String, BTreeSet<String>>;

/// The key no section has, whose refusal names the keys a section does have.
const PROBE: &str = "isomail_docs_probe";

/// One step from a section to a table inside it.
#[derive(Debug, Clone)]
enum Step {
    /// `key = { … }`: one table.
    Table(String),
    /// `key = [{ … }]`: an array of tables (`[[key]]`).
    Array(String),
    /// `key = { name = { … } }`: tables under names the operator chooses.
    Map(String),
}

/// A campaign file whose only content is the probe key inside the table `path` leads to.
fn probe_file(path: &[Step]) -> String {
    let mut value = format!("{{ {PROBE} = 1 }}");
    for step in path.iter().rev() {
        value = match step {
            Step::Table(key) => format!("{{ {key} = {value} }}"),
            Step::Array(key) => format!("{{ {key} = [{value}] }}"),
            Step::Map(key) => format!("{{ {key} = {{ \"probe\" = {value} }} }}"),
        };
    }
    // The outermost braces are the file itself.
    let body = &value[2..value.len() - 2];
    format!("{body}\n")
}

/// The keys the table at `path` accepts, from serde's refusal of the probe key
/// (`unknown field `isomail_docs_probe`, expected one of `a`, `b``), or None when the loader
/// does not refuse it as a field there (that path is not a table of fields).
fn accepted_at(dir: &Path, path: &[Step]) -> Option<BTreeSet<String>> {
    let file = dir.join("campaign.toml");
    std::fs::write(&file, probe_file(path)).expect("write the probe");
    let message = match Campaign::load(&file) {
        Ok(_) => panic!("a campaign of nothing but {path:?} loaded"),
        Err(e) => e.to_string(),
    };
    let refusal = format!("unknown field `{PROBE}`");
    let at = message.find(&refusal)?;
    let rest = &message[at + refusal.len()..];
    if rest.contains("there are no fields") {
        return Some(BTreeSet::new());
    }
    let expected = &rest[rest.find("expected").expect("serde names what it expected")..];
    Some(
        expected
            .split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_owned)
            .collect(),
    )
}

/// Walks the loader's tables from the top, each key tried as a table, an array of tables and a
/// map of tables, in that order.
fn loader_keys() -> Keys {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut keys = Keys::new();
    let top = accepted_at(dir.path(), &[]).expect("the loader refuses unknown top-level keys");
    walk(dir.path(), &[], String::new(), top, &mut keys);
    keys
}

fn walk(dir: &Path, path: &[Step], name: String, fields: BTreeSet<String>, keys: &mut Keys) {
    for field in &fields {
        let inner = |step: fn(String) -> Step| {
            let mut deeper = path.to_vec();
            deeper.push(step(field.clone()));
            accepted_at(dir, &deeper).map(|found| (deeper, found))
        };
        let join = |suffix: &str| {
            if name.is_empty() {
                format!("{field}{suffix}")
            } else {
                format!("{name}.{field}{suffix}")
            }
        };
        if let Some((deeper, found)) = inner(Step::Table) {
            walk(dir, &deeper, join(""), found, keys);
        } else if let Some((deeper, found)) = inner(Step::Array) {
            walk(dir, &deeper, join(""), found, keys);
        } else if let Some((deeper, found)) = inner(Step::Map) {
            walk(dir, &deeper, join(".*"), found, keys);
        }
    }
    keys.insert(name, fields);
}

/// The section a heading of docs/configuration.md names, if the whole heading is one code span
/// such as `[delivery]`, `[[dkim]]` or `[delivery.domains."DOMAIN"]`.
fn section_of_heading(text: &str) -> Option<String> {
    let inner = text
        .strip_prefix("[[")
        .and_then(|t| t.strip_suffix("]]"))
        .or_else(|| text.strip_prefix('[').and_then(|t| t.strip_suffix(']')))?;
    let mut name = String::new();
    let mut quoted = false;
    for c in inner.chars() {
        match c {
            '"' if quoted => quoted = false,
            '"' => {
                quoted = true;
                name.push('*');
            }
            _ if quoted => {}
            c => name.push(c),
        }
    }
    Some(name)
}

/// The keys docs/configuration.md documents: under each section heading, the first cell of
/// every body row of its tables, when that cell is one code span. The top level's keys are the
/// sections without a dot.
fn documented_keys(markdown: &str) -> Keys {
    let mut keys = Keys::new();
    let mut section: Option<String> = None;
    let mut heading: Option<String> = None;
    let mut in_head = false;
    let mut cell: Option<(usize, Vec<Event>)> = None;
    let mut column = 0;
    for event in Parser::new_ext(markdown, Options::ENABLE_TABLES) {
        match event {
            Event::Start(Tag::Heading { .. }) => heading = Some(String::new()),
            Event::End(TagEnd::Heading(_)) => {
                let text = heading.take().unwrap_or_default();
                section = section_of_heading(&text);
                if let Some(name) = &section {
                    keys.entry(name.clone()).or_default();
                    if !name.contains('.') {
                        keys.entry(String::new()).or_default().insert(name.clone());
                    }
                }
            }
            Event::Start(Tag::TableHead) => in_head = true,
            Event::End(TagEnd::TableHead) => in_head = false,
            Event::Start(Tag::TableRow) => column = 0,
            Event::Start(Tag::TableCell) => cell = Some((column, Vec::new())),
            Event::End(TagEnd::TableCell) => {
                if let (Some((0, events)), Some(name), false) = (cell.take(), &section, in_head)
                    && let [Event::Code(key)] = events.as_slice()
                {
                    keys.entry(name.clone())
                        .or_default()
                        .insert(key.to_string());
                }
                column += 1;
            }
            Event::Text(t) | Event::Code(t) if heading.is_some() => {
                heading.get_or_insert_default().push_str(&t);
            }
            other => {
                if let Some((_, events)) = &mut cell {
                    events.push(other);
                }
            }
        }
    }
    keys
}

fn shown_section(name: &str) -> String {
    if name.is_empty() {
        "the top level".to_owned()
    } else {
        format!("[{name}]")
    }
}

/// Every key the loader accepts that `documented` lacks, and every documented key the loader
/// refuses, one line each.
fn compare(loader: &Keys, documented: &Keys) -> Vec<String> {
    let none = BTreeSet::new();
    let sections: BTreeSet<&String> = loader.keys().chain(documented.keys()).collect();
    let mut problems = Vec::new();
    for section in sections {
        let accepted = loader.get(section).unwrap_or(&none);
        let written = documented.get(section).unwrap_or(&none);
        if !loader.contains_key(section) {
            problems.push(format!(
                "{}: documented, but the loader has no such table",
                shown_section(section)
            ));
        }
        for key in accepted.difference(written) {
            problems.push(format!(
                "{} `{key}`: the loader accepts it; docs/configuration.md does not document it",
                shown_section(section)
            ));
        }
        for key in written.difference(accepted) {
            problems.push(format!(
                "{} `{key}`: documented in docs/configuration.md, but the loader refuses it",
                shown_section(section)
            ));
        }
    }
    problems
}

fn configuration_md() -> String {
    read(&repo().join("docs/configuration.md"))
}

#[test]
fn configuration_documents_exactly_the_keys_the_loader_accepts() {
    let loader = loader_keys();
    let problems = compare(&loader, &documented_keys(&configuration_md()));
    assert!(
        problems.is_empty(),
        "docs/configuration.md and the campaign loader disagree:\n  {}\n(the loader accepts: {loader:#?})",
        problems.join("\n  ")
    );
}

#[test]
fn the_loader_walk_reaches_nested_tables() {
    // Control for the walk itself: if it stopped recursing, an undocumented nested key would go
    // unnoticed. These few names only show that it went down each kind of nesting.
    let loader = loader_keys();
    let has = |section: &str, key: &str| loader.get(section).is_some_and(|k| k.contains(key));
    assert!(has("", "message") && has("", "sandbox"), "{loader:#?}");
    assert!(has("message", "from"), "a table: {loader:#?}");
    assert!(has("dkim", "key_file"), "an array of tables: {loader:#?}");
    assert!(has("delivery", "domains"), "{loader:#?}");
    assert!(
        has("delivery.domains.*", "concurrency"),
        "a map of tables: {loader:#?}"
    );
    assert!(has("sandbox", "fuel"), "{loader:#?}");
}

#[test]
fn the_comparison_catches_a_missing_and_an_invented_key() {
    let loader = loader_keys();
    let docs = configuration_md();

    let row = |key: &str| format!("| `{key}` |");
    let rows_of = |key: &str| docs.lines().filter(|l| l.starts_with(&row(key))).count();
    assert_eq!(rows_of("retry_delay"), 1, "one row documents retry_delay");
    let without: String = docs
        .lines()
        .filter(|l| !l.starts_with(&row("retry_delay")))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(
        compare(&loader, &documented_keys(&without)),
        [
            "[delivery] `retry_delay`: the loader accepts it; docs/configuration.md does not document it"
        ]
    );

    assert_eq!(rows_of("from"), 1, "one row documents from");
    let invented = docs.replacen(
        &row("from"),
        &format!(
            "| `reply_to` | string | — | — | not a key of isomail | — |\n{}",
            row("from")
        ),
        1,
    );
    assert_eq!(
        compare(&loader, &documented_keys(&invented)),
        ["[message] `reply_to`: documented in docs/configuration.md, but the loader refuses it"]
    );

    // A whole section documented that the loader does not have.
    let extra = format!("{docs}\n## `[tracking]`\n\n| key | what |\n|---|---|\n| `pixel` | — |\n");
    let problems = compare(&loader, &documented_keys(&extra));
    assert!(
        problems
            .iter()
            .any(|p| p.starts_with("[tracking]: documented"))
            && problems
                .iter()
                .any(|p| p.starts_with("the top level `tracking`"))
            && problems.iter().any(|p| p.starts_with("[tracking] `pixel`")),
        "{problems:#?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Links
// ---------------------------------------------------------------------------------------------

/// GitHub's anchor for a heading: lower-cased; letters, digits, `-` and `_` kept; each space a
/// `-`; everything else dropped. A repeated heading gets `-1`, `-2`, … .
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

/// Every heading's anchor in `markdown`, as GitHub makes them.
fn anchors(markdown: &str) -> BTreeSet<String> {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut out = BTreeSet::new();
    let mut heading: Option<String> = None;
    for event in Parser::new_ext(markdown, Options::ENABLE_TABLES) {
        match event {
            Event::Start(Tag::Heading { .. }) => heading = Some(String::new()),
            Event::End(TagEnd::Heading(_)) => {
                let base = slug(&heading.take().unwrap_or_default());
                let n = seen.entry(base.clone()).or_insert(0);
                out.insert(if *n == 0 {
                    base.clone()
                } else {
                    format!("{base}-{n}")
                });
                *n += 1;
            }
            Event::Text(t) | Event::Code(t) if heading.is_some() => {
                heading.get_or_insert_default().push_str(&t);
            }
            _ => {}
        }
    }
    out
}

/// Whether a link leaves the repository (a URL with a scheme, or protocol-relative).
fn external(url: &str) -> bool {
    url.starts_with("//")
        || url.split_once(':').is_some_and(|(scheme, _)| {
            !scheme.is_empty()
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c))
        })
}

/// `a/./b/../c` as `a/c`, without touching the file system.
fn tidy(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// A relative link of a page.
struct Link {
    /// As the page writes it.
    written: String,
    /// The file (or folder) it names.
    target: PathBuf,
    anchor: Option<String>,
}

/// Every link and image target in `markdown` (the page at `file`) that is relative, resolved;
/// and every `[text][reference]` whose reference is defined nowhere.
fn relative_links(file: &Path, markdown: &str) -> (Vec<Link>, Vec<String>) {
    let mut undefined = Vec::new();
    let mut links = Vec::new();
    let callback = |link: BrokenLink<'_>| {
        if matches!(link.link_type, LinkType::Reference | LinkType::Collapsed) {
            undefined.push(format!("[{}]", link.reference));
        }
        None
    };
    let parser =
        Parser::new_with_broken_link_callback(markdown, Options::ENABLE_TABLES, Some(callback));
    for event in parser {
        let url = match event {
            Event::Start(Tag::Link { dest_url, .. } | Tag::Image { dest_url, .. }) => dest_url,
            _ => continue,
        };
        if external(&url) {
            continue;
        }
        let (target, anchor) = match url.split_once('#') {
            Some((t, a)) => (t, Some(a.to_owned())),
            None => (url.as_ref(), None),
        };
        let resolved = if target.is_empty() {
            file.to_path_buf()
        } else if let Some(from_root) = target.strip_prefix('/') {
            repo().join(from_root)
        } else {
            file.parent().expect("a page is in a folder").join(target)
        };
        links.push(Link {
            written: url.to_string(),
            target: tidy(&resolved),
            anchor,
        });
    }
    (links, undefined)
}

/// What is broken in `markdown` (the page at `file`): links to files that do not exist,
/// anchors no heading of their page makes, references defined nowhere.
fn broken_links(file: &Path, markdown: &str) -> Vec<String> {
    let shown = file
        .strip_prefix(repo())
        .unwrap_or(file)
        .display()
        .to_string();
    let (links, undefined) = relative_links(file, markdown);
    let mut problems: Vec<String> = undefined
        .into_iter()
        .map(|r| format!("{shown}: the reference {r} is defined nowhere"))
        .collect();
    for Link {
        written,
        target,
        anchor,
    } in links
    {
        if !target.exists() {
            problems.push(format!(
                "{shown}: ({written}): {} does not exist",
                target.display()
            ));
            continue;
        }
        let Some(anchor) = anchor else { continue };
        let text = if target == file {
            markdown.to_owned()
        } else if target.extension().is_some_and(|x| x == "md") {
            read(&target)
        } else {
            problems.push(format!(
                "{shown}: ({written}): an anchor into a file that is not Markdown"
            ));
            continue;
        };
        if !anchors(&text).contains(&anchor) {
            problems.push(format!(
                "{shown}: ({written}): no heading of {} makes the anchor #{anchor}",
                target.display()
            ));
        }
    }
    problems
}

#[test]
fn every_relative_link_and_anchor_resolves() {
    let mut pages = vec![repo().join("README.md")];
    pages.extend(doc_pages());
    let problems: Vec<String> = pages
        .iter()
        .flat_map(|page| broken_links(page, &read(page)))
        .collect();
    assert!(
        problems.is_empty(),
        "broken links:\n  {}",
        problems.join("\n  ")
    );
}

#[test]
fn slugs_follow_github() {
    assert_eq!(slug("Bounces and complaints"), "bounces-and-complaints");
    assert_eq!(
        slug("`[delivery.domains.\"DOMAIN\"]`"),
        "deliverydomainsdomain"
    );
    assert_eq!(
        slug("What `send --allow-changed` does"),
        "what-send---allow-changed-does"
    );
    assert_eq!(slug("Measured (2 cores)"), "measured-2-cores");
    assert_eq!(slug("Über: DKIM, SPF & DMARC"), "über-dkim-spf--dmarc");
    let repeated = anchors("# Notes\n\n## Notes\n\n### Notes\n");
    assert_eq!(
        repeated,
        ["notes", "notes-1", "notes-2"].map(String::from).into()
    );
}

#[test]
fn a_broken_link_is_reported() {
    // Control: the same checker, on a page written here as if it were README.md.
    let page = repo().join("README.md");
    let text = "# Start here\n\n\
        [fine](docs/operations.md) and [fine too](#start-here) and [fine, outside](https://example.org/x#y)\n\n\
        [gone](docs/no-such-page.md) and [no heading](docs/operations.md#no-such-heading)\n\n\
        [no heading here](#nowhere) and [undefined][no-such-reference]\n\n\
        ```\n[in code](not-a-link.md)\n```\n";
    let problems = broken_links(&page, text);
    let has = |needle: &str| problems.iter().any(|p| p.contains(needle));
    assert!(has("(docs/no-such-page.md)"), "{problems:#?}");
    assert!(has("#no-such-heading"), "{problems:#?}");
    assert!(has("#nowhere"), "{problems:#?}");
    assert!(has("[no-such-reference]"), "{problems:#?}");
    assert_eq!(
        problems.len(),
        4,
        "only the four broken ones: {problems:#?}"
    );
}

// ---------------------------------------------------------------------------------------------
// README as the front page
// ---------------------------------------------------------------------------------------------

/// The README's line ceiling: the front page, with the rest in docs/.
const README_LINES: usize = 210;

/// The docs pages `readme` (README.md's text) links to none of.
fn pages_not_linked(readme: &str) -> Vec<String> {
    let file = repo().join("README.md");
    let (links, _) = relative_links(&file, readme);
    let linked: BTreeSet<PathBuf> = links.into_iter().map(|link| link.target).collect();
    doc_pages()
        .into_iter()
        .filter(|page| !linked.contains(&tidy(page)))
        .map(|page| {
            page.strip_prefix(repo())
                .unwrap_or(&page)
                .display()
                .to_string()
        })
        .collect()
}

#[test]
fn readme_is_short_and_links_to_every_docs_page() {
    let readme = read(&repo().join("README.md"));
    let lines = readme.lines().count();
    assert!(
        lines < README_LINES,
        "README.md has {lines} lines; keep it under {README_LINES} and move detail into docs/"
    );
    let pages = doc_pages();
    assert!(pages.len() >= 6, "docs/ pages: {pages:?}");
    let missing = pages_not_linked(&readme);
    assert!(
        missing.is_empty(),
        "README.md links to none of: {missing:?}"
    );

    // Control: the same README without its link to one page is caught.
    let page = "docs/operations.md";
    let without = readme.replace(page, "docs/no-longer-linked.md");
    assert_eq!(pages_not_linked(&without), [page]);
}
