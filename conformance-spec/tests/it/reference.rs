//! The step reference in `docs/spec-format.md` is the step table rendered: regenerate it with
//! `USER_ENGINE_BLESS=1 cargo test -p user-engine-conformance-spec step_reference`.

use std::path::Path;

use user_engine_conformance_spec::{STEP_KEYWORDS, STEPS, step_reference};

const BEGIN: &str = "<!-- generated: USER_ENGINE_BLESS=1 cargo test -p user-engine-conformance-spec step_reference -->\n";
const END: &str = "<!-- end of the generated reference -->";

#[test]
fn step_reference_in_spec_format_md_is_up_to_date() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/spec-format.md");
    let text = std::fs::read_to_string(&path).unwrap();
    let start = text.find(BEGIN).expect("the begin marker") + BEGIN.len();
    let end = start + text[start..].find(END).expect("the end marker");
    let generated = format!("\n{}\n", step_reference());
    if text[start..end] == generated {
        return;
    }
    if std::env::var_os("USER_ENGINE_BLESS").is_some() {
        let updated = format!("{}{generated}{}", &text[..start], &text[end..]);
        std::fs::write(&path, updated).unwrap();
        return;
    }
    panic!(
        "the step reference in docs/spec-format.md is out of date with the step table; regenerate it:\n    \
         USER_ENGINE_BLESS=1 cargo test -p user-engine-conformance-spec step_reference"
    );
}

/// Every step of the table has a row in the reference, and every argument is named in it.
#[test]
fn step_reference_lists_every_step_and_argument() {
    let reference = step_reference();
    for keyword in STEP_KEYWORDS {
        assert!(reference.contains(&format!("| `{keyword}` |")), "{keyword}");
    }
    for rule in STEPS {
        if let user_engine_conformance_spec::Arguments::Map { args, .. } = rule.arguments {
            for argument in args {
                assert!(
                    reference.contains(&format!("`{}`", argument.shape_key())),
                    "{} {}",
                    rule.keyword,
                    argument.name
                );
            }
        }
    }
}
