//! Architecture code. Only i686 (32-bit x86, non-PAE) exists.
pub mod x86;

/// The machine layer imports nothing above it (issue 9's layering, see
/// the README): `arch/x86/*.rs` only `layout` and each other,
/// and `arch/x86/kernel/` (core, layer 2) nothing of memory management.
#[cfg(test)]
mod tests {
    use std::path::Path;

    /// The `crate::...` paths a source file names.
    fn crate_paths(src: &str) -> Vec<String> {
        src.match_indices("crate::")
            .map(|(i, _)| {
                let rest = &src[i..];
                let end =
                    rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':')).unwrap_or(rest.len());
                rest[..end].to_string()
            })
            .collect()
    }

    fn rs_files(dir: &Path) -> Vec<(String, String)> {
        let mut v: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "rs"))
            .map(|p| (p.display().to_string(), std::fs::read_to_string(&p).unwrap()))
            .collect();
        v.sort();
        v
    }

    #[test]
    fn machine_layer_imports_only_layout() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/arch/x86");
        const LAYER1: [&str; 7] = ["cpu", "gdt", "pic", "pit", "qemu", "serial", "pgtable_types"];
        for (file, src) in rs_files(&root) {
            for path in crate_paths(&src) {
                let ok = path.starts_with("crate::layout")
                    || LAYER1.iter().any(|m| path.starts_with(&format!("crate::arch::x86::{m}")));
                assert!(ok, "{file} (layer 1, machine) names {path}: only layout and arch::x86's own files");
            }
            for upper in ["super::kernel", "super::mm", "super::lib"] {
                assert!(!src.contains(&format!("{upper}::")), "{file} (layer 1) reaches up through {upper}");
            }
        }
        for (file, src) in rs_files(&root.join("kernel")) {
            for path in crate_paths(&src) {
                for upper in
                    ["crate::mm", "crate::arch::x86::mm", "crate::arch::x86::lib", "crate::process", "crate::init"]
                {
                    assert!(!path.starts_with(upper), "{file} (layer 2, core) names {path}, a layer above");
                }
            }
        }
    }
}
