//! Dependencies point one way (DESIGN.md, "Layout as it grows"): `plugins`, `store`, `crypto`
//! and `model` never import from `oauth`, `http`, `admin` or `session`.

use std::path::Path;

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("readable source dir") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn lower_layers_import_nothing_from_the_endpoints() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut offences = Vec::new();
    for layer in ["plugins", "store", "crypto", "model"] {
        let mut files = vec![src.join(format!("{layer}.rs"))];
        rust_files(&src.join(layer), &mut files);
        for file in files {
            let text = std::fs::read_to_string(&file).expect("readable source");
            for upper in ["oauth", "http", "admin", "session"] {
                let needle = format!("crate::{upper}");
                if text.contains(&needle) {
                    offences.push(format!("{} uses {needle}", file.display()));
                }
            }
        }
    }
    assert!(offences.is_empty(), "{offences:#?}");
}
