//! Every exported function's documentation in include/redlead.h states the
//! same four facts in the same words, so that a cgo or P/Invoke author can
//! scan for them: `Blocks:`, `Threads:`, `Ownership:` and `NULL:`.

const CONTRACT: [&str; 4] = ["Blocks:", "Threads:", "Ownership:", "NULL:"];

/// (function name, its doc comment) for each function declared in the header.
fn declarations(header: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut doc = String::new();
    let mut in_doc = false;
    for line in header.lines() {
        if line.starts_with("/**") {
            in_doc = true;
            doc.clear();
        }
        if in_doc {
            doc.push_str(line);
            doc.push('\n');
            if line.trim_end().ends_with("*/") {
                in_doc = false;
            }
            continue;
        }
        // Declarations start in column 0; struct fields are indented.
        if line.starts_with(|c: char| c.is_ascii_alphabetic()) && !line.starts_with("typedef") {
            if let Some(paren) = line.find('(') {
                // The name is the identifier right before the first '('.
                let name: String = line[..paren]
                    .chars()
                    .rev()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect();
                if name.starts_with("redlead_") {
                    out.push((name, doc.clone()));
                }
            }
        }
        if !line.trim().is_empty() {
            // A doc comment belongs only to the declaration right after it.
            if !line.starts_with(' ') && line.ends_with(';') {
                doc.clear();
            }
        }
    }
    out
}

#[test]
fn every_exported_function_states_blocks_threads_ownership_and_null() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../include/redlead.h");
    let header = std::fs::read_to_string(path).expect("include/redlead.h");
    let decls = declarations(&header);
    assert!(decls.len() > 50, "found only {} declarations", decls.len());
    let mut missing = Vec::new();
    for (name, doc) in &decls {
        let lacks: Vec<&str> = CONTRACT
            .iter()
            .copied()
            .filter(|w| !doc.contains(w))
            .collect();
        if !lacks.is_empty() {
            missing.push(format!("{name}: no {}", lacks.join(", ")));
        }
    }
    println!(
        "checked {} function declarations for {CONTRACT:?}",
        decls.len()
    );
    assert!(
        missing.is_empty(),
        "functions whose doc lacks contract lines:\n{}",
        missing.join("\n")
    );
}
