//! A crate's source files, read from disk or given as strings (the controls' synthetic crates).

use std::collections::BTreeMap;
use std::path::Path;

/// The `.rs` files of one crate's `src` folder.
pub struct Crate {
    /// The folder, as reported: `host/src`.
    pub src: String,
    /// Path below `src` (`send/pass.rs`) → text.
    pub files: BTreeMap<String, String>,
}

impl Crate {
    /// Every `.rs` file under `root/src`.
    pub fn read(root: &Path, src: &str) -> Crate {
        fn walk(dir: &Path, below: &str, files: &mut BTreeMap<String, String>) {
            let entries = std::fs::read_dir(dir)
                .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()));
            for entry in entries {
                let entry = entry.expect("dir entry");
                let name = entry.file_name().to_string_lossy().into_owned();
                let rel = if below.is_empty() {
                    name.clone()
                } else {
                    format!("{below}/{name}")
                };
                let path = entry.path();
                if path.is_dir() {
                    walk(&path, &rel, files);
                } else if name.ends_with(".rs") {
                    let text = std::fs::read_to_string(&path)
                        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
                    files.insert(rel, text);
                }
            }
        }
        let mut files = BTreeMap::new();
        walk(&root.join(src), "", &mut files);
        Crate {
            src: src.to_owned(),
            files,
        }
    }

    /// A synthetic crate: (path below src, text) pairs.
    pub fn of(src: &str, files: &[(&str, &str)]) -> Crate {
        Crate {
            src: src.to_owned(),
            files: files
                .iter()
                .map(|(path, text)| (path.to_string(), text.to_string()))
                .collect(),
        }
    }
}

/// `#[cfg(test)]`, or a `cfg` that needs `test` (`cfg(all(test, unix))`), not `cfg(not(test))`.
pub fn is_test(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|attr| {
        if !attr.path().is_ident("cfg") {
            return false;
        }
        let Ok(list) = attr.meta.require_list() else {
            return false;
        };
        let words: Vec<String> = list.tokens.clone().into_iter().flat_map(flatten).collect();
        words.iter().any(|w| w == "test") && !words.iter().any(|w| w == "not" || w == "any")
    })
}

fn flatten(tree: proc_macro2::TokenTree) -> Vec<String> {
    match tree {
        proc_macro2::TokenTree::Group(g) => g.stream().into_iter().flat_map(flatten).collect(),
        proc_macro2::TokenTree::Ident(i) => vec![i.to_string()],
        _ => Vec::new(),
    }
}
