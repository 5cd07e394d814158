//! The contract this crate ships (`contract/store-contract.md` inside the package, what
//! `STORE_CONTRACT` compiles in) is a byte-identical copy of `docs/store-contract.md`, the file
//! people read. A published crate cannot include files above its package root, hence the copy;
//! this test keeps it honest. Packaged alone there is nothing to compare with, and it says so.

use std::path::Path;

#[test]
fn shipped_contract_is_the_repository_file() {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let upstream = manifest.join("../docs/store-contract.md");
    if !upstream.is_file() {
        eprintln!(
            "note: {} is absent (packaged alone), so the shipped copy is not compared",
            upstream.display()
        );
        return;
    }
    let ours = std::fs::read(manifest.join("contract/store-contract.md")).expect("shipped copy");
    let theirs = std::fs::read(&upstream).expect("repository file");
    assert!(
        ours == theirs,
        "conformance-spec/contract/store-contract.md differs from docs/store-contract.md: \
         copy the repository file over it (cp docs/store-contract.md conformance-spec/contract/)"
    );
}
