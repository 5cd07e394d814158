//! `--help` on every subcommand, pinned, and `docs/cli.md` covering every subcommand.

use crate::{Sandbox, workspace_root};

const SUBCOMMANDS: &[&[&str]] = &[
    &[],
    &["conformance"],
    &["spec"],
    &["spec", "lint"],
    &["spec", "list"],
    &["spec", "docs"],
    &["spec", "schema"],
    &["migrate"],
    &["readiness"],
    &["diagnostics"],
    &["explore"],
];

#[test]
fn every_subcommand_has_help() {
    let sandbox = Sandbox::new();
    let mut all = String::new();
    for command in SUBCOMMANDS {
        let mut args = command.to_vec();
        args.push("--help");
        let run = sandbox.run(&args);
        assert_eq!(run.status, 0, "{args:?}: {}", run.stderr);
        assert!(
            run.stdout.contains("Usage: user-engine"),
            "{args:?}: {}",
            run.stdout
        );
        all.push_str(&format!(
            "$ user-engine {}\n{}\n",
            args.join(" "),
            run.stdout
        ));
    }
    insta::assert_snapshot!("help", all);
}

#[test]
fn docs_cli_md_shows_every_subcommand_with_an_example() {
    let docs =
        std::fs::read_to_string(workspace_root().join("docs/cli.md")).expect("docs/cli.md exists");
    for command in SUBCOMMANDS
        .iter()
        .filter(|c| !c.is_empty() && **c != ["spec"])
    {
        let invocation = format!("user-engine {}", command.join(" "));
        assert!(
            docs.contains(&invocation),
            "docs/cli.md has no example of `{invocation}`"
        );
    }
}

#[test]
fn version_is_the_package_version() {
    let run = Sandbox::new().run(&["--version"]);
    assert_eq!(
        run.stdout,
        format!("user-engine {}\n", env!("CARGO_PKG_VERSION"))
    );
}
