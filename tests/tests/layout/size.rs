//! How long a crate's files (their non-test code) and functions are.

use std::collections::BTreeSet;

use syn::spanned::Spanned;
use syn::visit::Visit;

use super::source::{Crate, is_test};

/// One file: all its lines, and those outside `#[cfg(test)]` items (none for a file that is only
/// a test module's, `#[cfg(test)] mod tests;`).
pub struct FileSize {
    pub file: String,
    pub lines: usize,
    pub non_test: usize,
}

/// One `fn`: free, in an impl or a trait, or nested in another's body.
pub struct FnLength {
    pub file: String,
    /// `Type::name`, `outer::inner`.
    pub name: String,
    pub start: usize,
    pub end: usize,
}

impl FnLength {
    pub fn lines(&self) -> usize {
        self.end + 1 - self.start
    }
}

/// Every file of `krate`, with its size; and every function, with its lines. A file that does
/// not parse is reported in the third list.
pub fn measure(krate: &Crate) -> (Vec<FileSize>, Vec<FnLength>, Vec<String>) {
    let test_files = test_files(krate);
    let (mut sizes, mut fns, mut errors) = (Vec::new(), Vec::new(), Vec::new());
    for (rel, text) in &krate.files {
        let file = format!("{}/{rel}", krate.src);
        let ast = match syn::parse_file(text) {
            Ok(ast) => ast,
            Err(e) => {
                errors.push(format!("{file}:{}: {e}", e.span().start().line));
                continue;
            }
        };
        let lines = text.lines().count();
        let non_test = if test_files.contains(rel) {
            0
        } else {
            let mut test_lines = BTreeSet::new();
            test_ranges(&ast.items, &mut test_lines);
            lines - test_lines.len()
        };
        sizes.push(FileSize {
            file: file.clone(),
            lines,
            non_test,
        });
        let mut visitor = Fns {
            file: &file,
            context: Vec::new(),
            found: &mut fns,
        };
        visitor.visit_file(&ast);
    }
    (sizes, fns, errors)
}

/// The lines of every `#[cfg(test)]` item among `items` (and inside their inline modules and
/// impls).
fn test_ranges(items: &[syn::Item], lines: &mut BTreeSet<usize>) {
    fn add(lines: &mut BTreeSet<usize>, span: proc_macro2::Span) {
        lines.extend(span.start().line..=span.end().line);
    }
    for item in items {
        match item {
            syn::Item::Mod(m) if is_test(&m.attrs) => add(lines, m.span()),
            syn::Item::Mod(m) => {
                if let Some((_, inner)) = &m.content {
                    test_ranges(inner, lines);
                }
            }
            syn::Item::Impl(i) if is_test(&i.attrs) => add(lines, i.span()),
            syn::Item::Impl(i) => {
                for inner in &i.items {
                    if let syn::ImplItem::Fn(f) = inner
                        && is_test(&f.attrs)
                    {
                        add(lines, f.span());
                    }
                }
            }
            other => {
                if is_test(attrs(other)) {
                    add(lines, other.span());
                }
            }
        }
    }
}

fn attrs(item: &syn::Item) -> &[syn::Attribute] {
    match item {
        syn::Item::Const(i) => &i.attrs,
        syn::Item::Enum(i) => &i.attrs,
        syn::Item::ExternCrate(i) => &i.attrs,
        syn::Item::Fn(i) => &i.attrs,
        syn::Item::ForeignMod(i) => &i.attrs,
        syn::Item::Impl(i) => &i.attrs,
        syn::Item::Macro(i) => &i.attrs,
        syn::Item::Mod(i) => &i.attrs,
        syn::Item::Static(i) => &i.attrs,
        syn::Item::Struct(i) => &i.attrs,
        syn::Item::Trait(i) => &i.attrs,
        syn::Item::TraitAlias(i) => &i.attrs,
        syn::Item::Type(i) => &i.attrs,
        syn::Item::Union(i) => &i.attrs,
        syn::Item::Use(i) => &i.attrs,
        _ => &[],
    }
}

/// The files that are only test modules' (`#[cfg(test)] mod tests;`, and the files below them).
fn test_files(krate: &Crate) -> BTreeSet<String> {
    fn walk(krate: &Crate, dir: &str, items: &[syn::Item], test: bool, out: &mut BTreeSet<String>) {
        for item in items {
            let syn::Item::Mod(m) = item else { continue };
            let test = test || is_test(&m.attrs);
            let name = m.ident.to_string();
            let child_dir = if dir.is_empty() {
                name.clone()
            } else {
                format!("{dir}/{name}")
            };
            match &m.content {
                Some((_, inner)) => walk(krate, &child_dir, inner, test, out),
                None => {
                    let flat = if dir.is_empty() {
                        format!("{name}.rs")
                    } else {
                        format!("{dir}/{name}.rs")
                    };
                    for file in [flat, format!("{child_dir}/mod.rs")] {
                        if let Some(text) = krate.files.get(&file) {
                            if test {
                                out.insert(file.clone());
                            }
                            if let Ok(ast) = syn::parse_file(text) {
                                walk(krate, &child_dir, &ast.items, test, out);
                            }
                        }
                    }
                }
            }
        }
    }
    let mut out = BTreeSet::new();
    for root in ["lib.rs", "main.rs"] {
        if let Some(ast) = krate.files.get(root).and_then(|t| syn::parse_file(t).ok()) {
            walk(krate, "", &ast.items, false, &mut out);
        }
    }
    out
}

struct Fns<'a> {
    file: &'a str,
    /// The impl's type, the trait, the enclosing function: what a name is qualified with.
    context: Vec<String>,
    found: &'a mut Vec<FnLength>,
}

impl Fns<'_> {
    fn record(&mut self, vis: &syn::Visibility, sig: &syn::Signature, end: usize) {
        let start = match vis {
            syn::Visibility::Inherited => sig.span().start().line,
            vis => vis.span().start().line,
        };
        let mut name = self.context.clone();
        name.push(sig.ident.to_string());
        self.found.push(FnLength {
            file: self.file.to_owned(),
            name: name.join("::"),
            start,
            end,
        });
    }

    fn inside(&mut self, name: String, visit: impl FnOnce(&mut Self)) {
        self.context.push(name);
        visit(self);
        self.context.pop();
    }
}

impl<'ast> Visit<'ast> for Fns<'_> {
    fn visit_item_fn(&mut self, f: &'ast syn::ItemFn) {
        self.record(&f.vis, &f.sig, f.block.brace_token.span.close().end().line);
        self.inside(f.sig.ident.to_string(), |v| {
            syn::visit::visit_item_fn(v, f);
        });
    }

    fn visit_impl_item_fn(&mut self, f: &'ast syn::ImplItemFn) {
        self.record(&f.vis, &f.sig, f.block.brace_token.span.close().end().line);
        self.inside(f.sig.ident.to_string(), |v| {
            syn::visit::visit_impl_item_fn(v, f);
        });
    }

    fn visit_trait_item_fn(&mut self, f: &'ast syn::TraitItemFn) {
        let end = match (&f.default, &f.semi_token) {
            (Some(block), _) => block.brace_token.span.close().end().line,
            (None, Some(semi)) => semi.span.end().line,
            (None, None) => f.sig.span().end().line,
        };
        self.record(&syn::Visibility::Inherited, &f.sig, end);
        self.inside(f.sig.ident.to_string(), |v| {
            syn::visit::visit_trait_item_fn(v, f);
        });
    }

    fn visit_item_impl(&mut self, i: &'ast syn::ItemImpl) {
        let name = match &*i.self_ty {
            syn::Type::Path(p) => p
                .path
                .segments
                .last()
                .map_or_else(|| "impl".to_owned(), |s| s.ident.to_string()),
            _ => "impl".to_owned(),
        };
        self.inside(name, |v| syn::visit::visit_item_impl(v, i));
    }

    fn visit_item_trait(&mut self, t: &'ast syn::ItemTrait) {
        self.inside(t.ident.to_string(), |v| syn::visit::visit_item_trait(v, t));
    }
}
