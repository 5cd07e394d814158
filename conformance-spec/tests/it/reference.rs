//! The step reference in `docs/spec-format.md` is the step table rendered, and its list of seeds
//! the seed files rendered: regenerate both with
//! `USER_ENGINE_BLESS=1 cargo test -p user-engine-conformance-spec step_reference`.

use std::path::Path;

use user_engine_conformance_spec::{
    SPEC_ROOT, STEP_KEYWORDS, STEPS, load_dir, seed_reference, step_reference,
};

const BLESS: &str = "USER_ENGINE_BLESS=1 cargo test -p user-engine-conformance-spec step_reference";
const END: &str = "<!-- end of the generated reference -->";

#[test]
fn step_reference_in_spec_format_md_is_up_to_date() {
    keep_in_sync("step reference", &format!("\n{}\n", step_reference()));
}

#[test]
fn step_reference_of_seeds_in_spec_format_md_is_up_to_date() {
    let spec = load_dir(Path::new(SPEC_ROOT)).unwrap();
    keep_in_sync("seeds", &format!("\n{}\n", seed_reference(&spec.seeds)));
}

/// Compares the block after `<!-- generated (NAME): ... -->` in docs/spec-format.md with
/// `generated`, rewriting it under `USER_ENGINE_BLESS`.
fn keep_in_sync(name: &str, generated: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/spec-format.md");
    let text = std::fs::read_to_string(&path).unwrap();
    let begin = format!("<!-- generated ({name}): {BLESS} -->\n");
    let start = text.find(&begin).expect("the begin marker") + begin.len();
    let end = start + text[start..].find(END).expect("the end marker");
    if text[start..end] == *generated {
        return;
    }
    if std::env::var_os("USER_ENGINE_BLESS").is_some() {
        let updated = format!("{}{generated}{}", &text[..start], &text[end..]);
        std::fs::write(&path, updated).unwrap();
        return;
    }
    panic!("the {name} block in docs/spec-format.md is out of date; regenerate it:\n    {BLESS}");
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
