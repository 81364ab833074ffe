//! A crate's module tree read from its files, what each module refers to, and the edges that
//! makes between sibling modules.

use std::collections::{BTreeMap, BTreeSet};

use proc_macro2::{TokenStream, TokenTree};
use syn::ext::IdentExt;
use syn::visit::Visit;

use super::source::{Crate, is_test};

/// A module's path below the crate root: `["send", "pass"]` is `crate::send::pass`.
pub type ModPath = Vec<String>;

/// `crate::a::b`, or `crate` for the root.
pub fn display(path: &[String]) -> String {
    std::iter::once("crate")
        .chain(path.iter().map(String::as_str))
        .collect::<Vec<_>>()
        .join("::")
}

/// One module (a file, or an inline `mod x { }`), without the code of its test modules.
pub struct Module {
    pub path: ModPath,
    pub file: String,
    /// Every path it names that may lead to another module of the crate.
    refs: Vec<Ref>,
}

struct Ref {
    segments: Vec<String>,
    line: usize,
}

/// Where one edge comes from: a reference in a file.
#[derive(Clone, Debug)]
pub struct Evidence {
    pub file: String,
    pub line: usize,
    /// The path as written, from the module it is written in: `crate::term::inert (in crate::sandbox)`.
    pub path: String,
}

/// The crate's modules and the edges between siblings.
pub struct Graph {
    pub modules: BTreeSet<ModPath>,
    /// For each folder (a module with children), its children's edges: (from, to) → evidence.
    pub edges: BTreeMap<ModPath, BTreeMap<(String, String), Vec<Evidence>>>,
    /// References to items of the crate root itself (`crate::Error`), by the module that makes
    /// them: no edge between siblings, but something else in the crate all the same.
    pub to_root: BTreeMap<ModPath, Vec<Evidence>>,
    /// Files that could not be read or parsed, or a `mod` with no file.
    pub errors: Vec<String>,
}

impl Graph {
    /// The graph of `krate`, from its `lib.rs`.
    pub fn of(krate: &Crate) -> Graph {
        let mut loader = Loader {
            krate,
            modules: Vec::new(),
            errors: Vec::new(),
        };
        loader.file(Vec::new(), "lib.rs", "");
        let Loader {
            modules, errors, ..
        } = loader;
        let paths: BTreeSet<ModPath> = modules.iter().map(|m| m.path.clone()).collect();
        let mut graph = Graph {
            modules: paths,
            edges: BTreeMap::new(),
            to_root: BTreeMap::new(),
            errors,
        };
        for module in &modules {
            for r in &module.refs {
                graph.add(krate, module, r);
            }
        }
        graph
    }

    fn add(&mut self, krate: &Crate, from: &Module, r: &Ref) {
        let Some((to, used)) = resolve(&self.modules, &from.path, &r.segments) else {
            return;
        };
        let evidence = Evidence {
            file: format!("{}/{}", krate.src, from.file),
            line: r.line,
            path: format!("{} (in {})", r.segments.join("::"), display(&from.path)),
        };
        if to.is_empty() && used < r.segments.len() && !from.path.is_empty() {
            self.to_root
                .entry(from.path.clone())
                .or_default()
                .push(evidence.clone());
        }
        let common = from
            .path
            .iter()
            .zip(&to)
            .take_while(|(a, b)| a == b)
            .count();
        if common == from.path.len() || common == to.len() {
            return; // itself, an ancestor or a descendant
        }
        self.edges
            .entry(from.path[..common].to_vec())
            .or_default()
            .entry((from.path[common].clone(), to[common].clone()))
            .or_default()
            .push(evidence);
    }
}

/// The deepest existing module `segments` leads to from module `from`, and how many segments
/// that used; `None` for a path that is not the crate's (`super` above the root).
fn resolve(
    modules: &BTreeSet<ModPath>,
    from: &ModPath,
    segments: &[String],
) -> Option<(ModPath, usize)> {
    let (mut at, mut used) = match segments[0].as_str() {
        "crate" => (Vec::new(), 1),
        "self" => (from.clone(), 1),
        "super" => (from.clone(), 0),
        _ => (from.clone(), 0),
    };
    while segments.get(used).is_some_and(|s| s == "super") {
        at.pop()?;
        used += 1;
    }
    while let Some(next) = segments.get(used) {
        let mut deeper = at.clone();
        deeper.push(next.clone());
        if !modules.contains(&deeper) {
            break;
        }
        at = deeper;
        used += 1;
    }
    Some((at, used))
}

struct Loader<'a> {
    krate: &'a Crate,
    modules: Vec<Module>,
    errors: Vec<String>,
}

impl Loader<'_> {
    /// The module `path` in `file`, whose child modules' files are in `dir`.
    fn file(&mut self, path: ModPath, file: &str, dir: &str) {
        let Some(text) = self.krate.files.get(file) else {
            self.errors.push(format!(
                "{}: no file {}/{file} for {}",
                self.krate.src,
                self.krate.src,
                display(&path)
            ));
            return;
        };
        match syn::parse_file(text) {
            Ok(ast) => self.items(path, file, dir, &ast.items),
            Err(e) => self.errors.push(format!(
                "{}/{file}:{}: {e}",
                self.krate.src,
                e.span().start().line
            )),
        }
    }

    fn items(&mut self, path: ModPath, file: &str, dir: &str, items: &[syn::Item]) {
        let children: Vec<&syn::ItemMod> = items
            .iter()
            .filter_map(|item| match item {
                syn::Item::Mod(m) if !is_test_module(m) => Some(m),
                _ => None,
            })
            .collect();
        let names: BTreeSet<String> = children
            .iter()
            .map(|m| m.ident.unraw().to_string())
            .collect();
        let mut refs = Refs {
            children: &names,
            found: Vec::new(),
        };
        for item in items {
            if !matches!(item, syn::Item::Mod(_)) {
                refs.visit_item(item);
            }
        }
        let found = refs.found;
        self.modules.push(Module {
            path: path.clone(),
            file: file.to_owned(),
            refs: found,
        });
        for child in children {
            let name = child.ident.unraw().to_string();
            let mut child_path = path.clone();
            child_path.push(name.clone());
            let child_dir = join(dir, &name);
            match &child.content {
                Some((_, items)) => self.items(child_path, file, &child_dir, items),
                None => {
                    let flat = join(dir, &format!("{name}.rs"));
                    let nested = join(&child_dir, "mod.rs");
                    let found = [flat, nested]
                        .into_iter()
                        .find(|f| self.krate.files.contains_key(f));
                    match found {
                        Some(f) => self.file(child_path, &f, &child_dir),
                        None => self.errors.push(format!(
                            "{}/{file}: mod {name} has no file ({dir}{}{name}.rs or {name}/mod.rs)",
                            self.krate.src,
                            if dir.is_empty() { "" } else { "/" },
                        )),
                    }
                }
            }
        }
    }
}

/// A module of tests, skipped: `#[cfg(test)] mod …` or `mod tests`.
pub fn is_test_module(m: &syn::ItemMod) -> bool {
    is_test(&m.attrs) || m.ident == "tests"
}

fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_owned()
    } else {
        format!("{dir}/{name}")
    }
}

/// Collects the paths a module's items name: `use` trees, and any path starting with `crate`,
/// `super`, `self` or the name of a child module (two segments at least, so a local variable
/// named like a child is not one), in code and inside macro calls.
struct Refs<'a> {
    children: &'a BTreeSet<String>,
    found: Vec<Ref>,
}

impl Refs<'_> {
    fn consider(&mut self, segments: Vec<String>, line: usize, single: bool) {
        let Some(first) = segments.first() else {
            return;
        };
        let relative = matches!(first.as_str(), "crate" | "super" | "self");
        let child = self.children.contains(first) && (single || segments.len() >= 2);
        if relative || child {
            self.found.push(Ref { segments, line });
        }
    }

    fn use_tree(&mut self, prefix: &mut Vec<String>, tree: &syn::UseTree, line: usize) {
        match tree {
            syn::UseTree::Path(p) => {
                prefix.push(p.ident.unraw().to_string());
                self.use_tree(prefix, &p.tree, p.ident.span().start().line);
                prefix.pop();
            }
            syn::UseTree::Name(n) => self.use_leaf(prefix, &n.ident, line),
            syn::UseTree::Rename(r) => self.use_leaf(prefix, &r.ident, line),
            syn::UseTree::Glob(_) => self.consider(prefix.clone(), line, true),
            syn::UseTree::Group(g) => {
                for tree in &g.items {
                    self.use_tree(prefix, tree, line);
                }
            }
        }
    }

    fn use_leaf(&mut self, prefix: &[String], ident: &syn::Ident, line: usize) {
        let mut segments = prefix.to_vec();
        let name = ident.unraw().to_string();
        if name != "self" {
            segments.push(name);
        }
        let line = ident.span().start().line.max(line);
        self.consider(segments, line, true);
    }

    /// Paths inside a macro call's tokens: `a :: b :: c` whose first word may be the crate's.
    fn tokens(&mut self, tokens: TokenStream) {
        let tokens: Vec<TokenTree> = tokens.into_iter().collect();
        let mut i = 0;
        while i < tokens.len() {
            match &tokens[i] {
                TokenTree::Group(g) => {
                    self.tokens(g.stream());
                    i += 1;
                }
                TokenTree::Ident(first) if !after_path_sep(&tokens, i) => {
                    let mut segments = vec![first.unraw().to_string()];
                    let mut j = i + 1;
                    while is_path_sep(&tokens, j) {
                        match tokens.get(j + 2) {
                            Some(TokenTree::Ident(next)) => {
                                segments.push(next.unraw().to_string());
                                j += 3;
                            }
                            _ => break,
                        }
                    }
                    if segments.len() >= 2 {
                        self.consider(segments, first.span().start().line, false);
                    }
                    i = j.max(i + 1);
                }
                _ => i += 1,
            }
        }
    }
}

/// `tokens[i]` and `tokens[i + 1]` are `::`.
fn is_path_sep(tokens: &[TokenTree], i: usize) -> bool {
    let colon =
        |t: Option<&TokenTree>| matches!(t, Some(TokenTree::Punct(p)) if p.as_char() == ':');
    colon(tokens.get(i)) && colon(tokens.get(i + 1))
}

/// The ident at `i` follows a `::` (it is not a path's first word).
fn after_path_sep(tokens: &[TokenTree], i: usize) -> bool {
    i >= 2 && is_path_sep(tokens, i - 2)
}

impl<'ast> Visit<'ast> for Refs<'_> {
    fn visit_item(&mut self, item: &'ast syn::Item) {
        let test = match item {
            syn::Item::Mod(m) => is_test_module(m),
            syn::Item::Fn(f) => is_test(&f.attrs),
            syn::Item::Impl(i) => is_test(&i.attrs),
            syn::Item::Use(u) => is_test(&u.attrs),
            syn::Item::Const(c) => is_test(&c.attrs),
            syn::Item::Static(s) => is_test(&s.attrs),
            syn::Item::Struct(s) => is_test(&s.attrs),
            syn::Item::Enum(e) => is_test(&e.attrs),
            syn::Item::Trait(t) => is_test(&t.attrs),
            syn::Item::Type(t) => is_test(&t.attrs),
            _ => false,
        };
        if !test {
            syn::visit::visit_item(self, item);
        }
    }

    fn visit_impl_item_fn(&mut self, f: &'ast syn::ImplItemFn) {
        if !is_test(&f.attrs) {
            syn::visit::visit_impl_item_fn(self, f);
        }
    }

    fn visit_item_use(&mut self, u: &'ast syn::ItemUse) {
        if u.leading_colon.is_none() {
            let line = u.use_token.span.start().line;
            self.use_tree(&mut Vec::new(), &u.tree, line);
        }
    }

    fn visit_path(&mut self, path: &'ast syn::Path) {
        if path.leading_colon.is_none() && !path.segments.is_empty() {
            let segments = path
                .segments
                .iter()
                .map(|s| s.ident.unraw().to_string())
                .collect();
            let line = path.segments[0].ident.span().start().line;
            self.consider(segments, line, false);
        }
        syn::visit::visit_path(self, path);
    }

    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        self.visit_path(&mac.path);
        self.tokens(mac.tokens.clone());
    }

    /// `pub(crate)`, `pub(in crate::x)`: who may see an item, not what it uses.
    fn visit_visibility(&mut self, _: &'ast syn::Visibility) {}

    /// Doc comments, `cfg`s, `derive`s: not what the code uses.
    fn visit_attribute(&mut self, _: &'ast syn::Attribute) {}
}

/// Every elementary cycle among the children of each folder, as `a → b → a`, with the
/// references that make each edge.
pub fn cycles(graph: &Graph) -> Vec<String> {
    let mut found = Vec::new();
    for (folder, edges) in &graph.edges {
        let mut next: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        for (from, to) in edges.keys() {
            next.entry(from).or_default().insert(to);
        }
        for cycle in elementary_cycles(&next) {
            let mut text = format!(
                "in {}: {} → {}",
                display(folder),
                cycle.join(" → "),
                cycle[0]
            );
            for (i, from) in cycle.iter().enumerate() {
                let to = cycle[(i + 1) % cycle.len()];
                let evidence = &edges[&(from.to_string(), to.to_string())];
                text.push_str(&format!("\n      {from} → {to}: {}", cite(evidence)));
            }
            found.push(text);
        }
    }
    found
}

/// Up to five of the references, `file:line path`, and how many more there are.
pub fn cite(evidence: &[Evidence]) -> String {
    let mut seen = BTreeSet::new();
    let unique: Vec<&Evidence> = evidence
        .iter()
        .filter(|e| seen.insert((e.file.clone(), e.line, e.path.clone())))
        .collect();
    let mut text = unique
        .iter()
        .take(5)
        .map(|e| format!("{}:{} {}", e.file, e.line, e.path))
        .collect::<Vec<_>>()
        .join("; ");
    if unique.len() > 5 {
        text.push_str(&format!("; and {} more", unique.len() - 5));
    }
    text
}

/// The elementary cycles of a small directed graph, each starting at its least node (so each
/// is found once), in order.
fn elementary_cycles<'a>(next: &BTreeMap<&'a str, BTreeSet<&'a str>>) -> Vec<Vec<&'a str>> {
    fn walk<'a>(
        next: &BTreeMap<&'a str, BTreeSet<&'a str>>,
        start: &'a str,
        path: &mut Vec<&'a str>,
        found: &mut Vec<Vec<&'a str>>,
    ) {
        let last = *path.last().expect("a path has a node");
        for &to in next.get(last).into_iter().flatten() {
            if to == start {
                found.push(path.clone());
            } else if to > start && !path.contains(&to) && found.len() < 100 {
                path.push(to);
                walk(next, start, path, found);
                path.pop();
            }
        }
    }
    let mut found = Vec::new();
    for &start in next.keys() {
        walk(next, start, &mut vec![start], &mut found);
    }
    found
}

/// Every reference from `top` (or below it) to another top-level module, or to an item of the
/// crate root, with where it is made.
pub fn leaving(graph: &Graph, top: &str) -> Vec<String> {
    let mut found = Vec::new();
    if let Some(edges) = graph.edges.get(&Vec::new()) {
        for ((from, to), evidence) in edges {
            if from == top {
                found.push(format!("{top} → {to}: {}", cite(evidence)));
            }
        }
    }
    for (module, evidence) in &graph.to_root {
        if module[0] == top {
            found.push(format!(
                "{top} → the crate root (lib.rs): {}",
                cite(evidence)
            ));
        }
    }
    found
}
