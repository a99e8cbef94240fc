//! The layers import only downward (README, "Layout"): every path a module
//! names (`use crate::...`, `crate::a::b` inline, `super::...`, and the
//! exported macros it invokes) must lead to its own layer or one below.
//! A host test: it reads the source, so it runs in milliseconds.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

/// Module path prefixes and their layers; the longest prefix wins.
const LAYERS: &[(&str, u32, &str)] = &[
    ("layout", 0, "layout"),
    ("arch", 1, "arch"),
    ("arch::x86", 1, "arch"),
    ("arch::x86::kernel", 2, "core"),
    ("kernel", 2, "core"),
    ("arch::x86::mm", 3, "mm"),
    ("arch::x86::lib", 3, "mm"),
    ("mm", 3, "mm"),
    ("process", 6, "process"),
    ("init", 8, "top"),
    ("shell", 8, "top"),
    ("bench", 8, "top"),
    ("ktests", 8, "top"),
];

fn layer_of(path: &[String]) -> Option<(u32, &'static str, &'static str)> {
    let joined = path.join("::");
    LAYERS
        .iter()
        .filter(|(p, _, _)| joined == *p || joined.starts_with(&format!("{}::", p)))
        .max_by_key(|(p, _, _)| p.len())
        .map(|&(p, l, n)| (l, n, p))
}

/// `src/a/b.rs` -> [a, b]; `src/a/b/mod.rs` -> [a, b].
fn module_of(rel: &Path) -> Vec<String> {
    let mut parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    let last = parts.pop().unwrap();
    let stem = last.trim_end_matches(".rs");
    if stem != "mod" {
        parts.push(stem.to_string());
    }
    parts
}

/// The text with comments and string literals blanked out.
fn code_only(src: &str) -> String {
    let b = src.as_bytes();
    let mut out = String::with_capacity(src.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'/' && b.get(i + 1) == Some(&b'/') {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
            i += 2;
            while i + 1 < b.len() && !(b[i] == b'*' && b[i + 1] == b'/') {
                i += 1;
            }
            i += 2;
        } else if b[i] == b'"' && (i == 0 || b[i - 1] != b'\'') {
            i += 1;
            while i < b.len() && b[i] != b'"' {
                i += if b[i] == b'\\' { 2 } else { 1 };
            }
            i += 1;
            out.push_str("\"\"");
        } else {
            out.push(b[i] as char);
            i += 1;
        }
    }
    out
}

fn ident_at(s: &[u8], mut i: usize) -> (String, usize) {
    let start = i;
    while i < s.len() && (s[i].is_ascii_alphanumeric() || s[i] == b'_') {
        i += 1;
    }
    (String::from_utf8_lossy(&s[start..i]).into_owned(), i)
}

/// Paths after `crate::`/`$crate::`/`super::` at `i` (just past the `::`):
/// `a::b::c`, or every first segment of a `{...}` group.
fn paths_at(s: &[u8], i: usize, base: Vec<String>, out: &mut Vec<Vec<String>>) {
    if s.get(i) == Some(&b'{') {
        let mut depth = 0;
        let mut j = i;
        let mut item_start = i + 1;
        while j < s.len() {
            match s[j] {
                b'{' => depth += 1,
                b'}' | b',' if depth == 1 => {
                    let mut k = item_start;
                    while k < j && s[k].is_ascii_whitespace() {
                        k += 1;
                    }
                    paths_at(s, k, base.clone(), out);
                    item_start = j + 1;
                    if s[j] == b'}' {
                        return;
                    }
                }
                b'}' => depth -= 1,
                _ => {}
            }
            j += 1;
        }
        return;
    }
    let mut path = base;
    let mut j = i;
    loop {
        let (id, end) = ident_at(s, j);
        if id.is_empty() || id == "self" {
            break;
        }
        path.push(id);
        if s.get(end..end + 2) == Some(b"::") {
            if s.get(end + 2) == Some(&b'{') {
                paths_at(s, end + 2, path, out);
                return;
            }
            j = end + 2;
        } else {
            break;
        }
    }
    if !path.is_empty() {
        out.push(path); // `super::*` at the crate root names no module
    }
}

#[test]
fn layers_import_only_downward() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    let mut stack = vec![root.clone()];
    while let Some(dir) = stack.pop() {
        for e in fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                files.push(p);
            }
        }
    }
    // Exported macros, by the module that defines them.
    let mut macros: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for f in &files {
        let src = fs::read_to_string(f).unwrap();
        let mut lines = src.lines().peekable();
        while let Some(l) = lines.next() {
            if l.trim() == "#[macro_export]" {
                if let Some(next) = lines.peek() {
                    if let Some(rest) = next.trim().strip_prefix("macro_rules! ") {
                        let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                        macros.insert(name, module_of(f.strip_prefix(&root).unwrap()));
                    }
                }
            }
        }
    }
    let mut bad = Vec::new();
    let mut checked = 0;
    for f in &files {
        let rel = f.strip_prefix(&root).unwrap();
        let module = module_of(rel);
        let Some((from, from_name, _)) = layer_of(&module) else { continue }; // lib.rs, main.rs
        let is_mod_rs = rel.file_name().is_some_and(|n| n == "mod.rs");
        let code = code_only(&fs::read_to_string(f).unwrap());
        let s = code.as_bytes();
        let mut targets = Vec::new();
        for (needle, relative) in [("crate::", false), ("super::", true)] {
            let mut at = 0;
            while let Some(k) = code[at..].find(needle) {
                let i = at + k;
                at = i + needle.len();
                if i > 0 && (s[i - 1].is_ascii_alphanumeric() || s[i - 1] == b'_' || (s[i - 1] == b':' && !relative)) {
                    continue;
                }
                let mut base = Vec::new();
                if relative {
                    // `super` of a file module is its parent; of a mod.rs, the grandparent.
                    base = module.clone();
                    base.pop();
                    if is_mod_rs {
                        base.pop();
                    }
                    let mut j = at;
                    while code[j..].starts_with("super::") {
                        base.pop();
                        j += "super::".len();
                    }
                    at = j;
                }
                paths_at(s, at, base, &mut targets);
            }
        }
        for (name, def) in &macros {
            let call = format!("{}!", name);
            let mut at = 0;
            while let Some(k) = code[at..].find(&call) {
                let i = at + k;
                at = i + call.len();
                if i == 0 || !(s[i - 1].is_ascii_alphanumeric() || s[i - 1] == b'_') {
                    targets.push(def.clone());
                }
            }
        }
        for t in targets {
            // A crate-root item is a macro: look it up.
            let t = if t.len() == 1 { macros.get(&t[0]).cloned().unwrap_or(t) } else { t };
            let Some((to, to_name, _)) = layer_of(&t) else {
                bad.push(format!(
                    "src/{} names {}, which no layer holds: add it to LAYERS",
                    rel.display(),
                    t.join("::")
                ));
                continue;
            };
            checked += 1;
            if to > from {
                bad.push(format!(
                    "src/{} ({} {}) imports {} ({} {})",
                    rel.display(),
                    from,
                    from_name,
                    t.join("::"),
                    to,
                    to_name
                ));
            }
        }
    }
    bad.sort();
    bad.dedup();
    assert!(checked > 500, "only {} paths found: is the scanner broken?", checked);
    assert!(bad.is_empty(), "{} upward imports:\n{}", bad.len(), bad.join("\n"));
}

#[test]
fn the_scanner_finds_paths_in_groups_and_relative_ones() {
    let mut out = Vec::new();
    let s = "{a::b, c::{d, e}, f}";
    paths_at(s.as_bytes(), 0, vec!["x".into()], &mut out);
    let got: Vec<String> = out.iter().map(|p| p.join("::")).collect();
    assert_eq!(got, ["x::a::b", "x::c::d", "x::c::e", "x::f"]);
    assert_eq!(code_only("a // crate::mm\n\"crate::mm\" b"), "a \n\"\" b");
    assert_eq!(layer_of(&["arch".into(), "x86".into(), "mm".into(), "fault".into()]).unwrap().0, 3);
    assert_eq!(layer_of(&["arch".into(), "x86".into(), "cpu".into()]).unwrap().0, 1);
}
