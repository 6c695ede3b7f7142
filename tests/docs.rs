//! The README sections generated from data are current (`scripts/gen-docs` rewrites them).

use std::process::Command;

fn section<'a>(readme: &'a str, name: &str) -> &'a str {
    let start = format!("<!-- {name}:start -->\n");
    let end = format!("<!-- {name}:end -->");
    let from = readme
        .find(&start)
        .unwrap_or_else(|| panic!("README lacks {start}"))
        + start.len();
    let to = readme[from..]
        .find(&end)
        .unwrap_or_else(|| panic!("README lacks {end}"))
        + from;
    &readme[from..to]
}

fn xx(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_xx"))
        .args(args)
        .output()
        .expect("run xx");
    assert!(out.status.success());
    String::from_utf8(out.stdout).expect("utf-8")
}

#[test]
fn readme_tables_are_generated_from_the_data() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    assert_eq!(
        section(&readme, "env-vars"),
        xx(&["env-vars", "--markdown"]),
        "stale: run scripts/gen-docs"
    );
    assert_eq!(
        section(&readme, "targets"),
        format!("```\n{}```\n", xx(&["info", "list"])),
        "stale: run scripts/gen-docs"
    );
}
