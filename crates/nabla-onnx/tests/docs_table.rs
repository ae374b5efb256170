//! docs/onnx.md's operator table names exactly the operators the importer runs.

use std::collections::BTreeSet;

/// The operator names in the first column of the table under "## Operators (import)".
fn documented() -> BTreeSet<String> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/onnx.md");
    let doc = std::fs::read_to_string(path).expect("docs/onnx.md is readable");
    let section = doc
        .split("## Operators (import)")
        .nth(1)
        .expect("docs/onnx.md has the import section");
    let section = section.split("\n## ").next().unwrap_or(section);
    section
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| operator"))
        .flat_map(|l| {
            let cell = l.trim_start_matches("| ").split(" |").next().unwrap_or("");
            cell.split(", ")
                .map(|op| op.trim().to_string())
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn the_operator_table_lists_every_supported_operator_and_no_other() {
    let doc = documented();
    let code: BTreeSet<String> = nabla_onnx::import::supported_ops()
        .into_iter()
        .map(String::from)
        .collect();
    let missing: Vec<_> = code.difference(&doc).collect();
    let extra: Vec<_> = doc.difference(&code).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "docs/onnx.md lacks {missing:?} and lists {extra:?}, which the importer does not run"
    );
}
