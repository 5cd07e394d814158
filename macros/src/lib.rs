//! The `conformance_suite!` macro: one `#[test]` per user-engine conformance scenario.
//!
//! A thin front end. It parses the invocation (`invocation`), asks
//! `user-engine-conformance-spec` to load and validate the spec — the same code path the runner
//! and the command-line `spec lint` use — (`load`), and emits the tests (`expand`). Any problem
//! becomes a `compile_error!` at the offending token with an empty `mod conformance {}` stub, so
//! the user sees the problem and not a cascade. Use it through `user_engine::conformance_suite!`.

mod expand;
mod invocation;
mod load;

use proc_macro::TokenStream;
use quote::quote;

use invocation::Invocation;

/// Generates one `#[test]` per conformance scenario, run against stores made by a factory.
///
/// The factory makes a fresh, isolated store per test: a closure or a function path.
///
/// ```
/// use user_engine::InMemoryUserEngineStore;
///
/// user_engine::conformance_suite!(InMemoryUserEngineStore::new);
/// # fn main() {}
/// ```
///
/// Options declare what the adapter can do and what it skips (`MyStore` stands for your adapter):
///
/// ```ignore
/// user_engine::conformance_suite! {
///     factory: || MyStore::open_temp(),
///     // Optional: a store that is already migrated and empty, for the scenarios whose `given`
///     // starts migrated (their seed's `migrate` then applies nothing). On a server, where
///     // migrating is most of a test's setup, a pool of recycled schemas makes it cheap.
///     migrated_factory: || MyStore::open_temp_migrated(),
///     // Capabilities the adapter has (see `KNOWN_CAPABILITIES`); a scenario that requires one
///     // it does not declare is generated as `#[ignore = "requires capability ..."]`.
///     capabilities: [commit_time_conflicts, migration_tamper],
///     // Scenario ids to skip, each with the reason `cargo test` shows next to the ignored test.
///     skip: { "outbox/late_commit": "needs two connections" },
///     // A spec root other than the canonical one, relative to this crate's CARGO_MANIFEST_DIR.
///     spec: "tests/spec",
///     // Ignore every test, with a reason naming the variable, unless it is set at build time
///     // (e.g. a database URL). Setting or clearing it rebuilds the tests.
///     ignore_unless_env: "MY_STORE_URL",
///     // One more test, `conformance_explore::histories`: `cases` seeded random histories run on
///     // a store from the factory and on the reference, every result compared; on the first
///     // divergence it panics with the report and the shrunk scenario. The environment variables
///     // USER_ENGINE_EXPLORE_SEED and USER_ENGINE_EXPLORE_CASES override the two at run time.
///     explore: {cases: 200, seed: 1},
///     // The Rust-coded behaviour checks (`user_engine::conformance::checks`) as
///     // `conformance_checks::<name>`: on by default for the canonical spec, off for a `spec` of
///     // your own; `checks: false` turns them off.
///     checks: true,
/// }
/// ```
///
/// The expansion is `mod conformance { mod <area> { #[test] fn <name>() { .. } } }`, named after
/// the scenario ids, so `cargo test conformance::outbox::` runs one area; with `explore`, also
/// `mod conformance_explore { #[test] fn histories() { .. } }` beside it. The module also holds
/// `conformance::CAPABILITIES`, the declared list as written, so a test can hold it equal to the
/// list the adapter publishes. Ignored tests keep their bodies: `cargo test -- --ignored` runs
/// them. The tests exist only under `cfg(test)`; the factory is type-checked in every build.
///
/// The factory must return a type implementing `user_engine::UserEngineStore`, or
/// `Result<store, E>` with `E: Display` — a factory that fails (a server that is down) is one
/// clear failure per test naming the scenario. The runner calls it for each test, so every test
/// starts from an empty store.
///
/// # Errors at compile time
///
/// An invalid spec is a compile error listing every problem as `file:line:col: message`; so are
/// unknown options, unknown capabilities and skips naming no scenario, each at its token.
///
/// # Rebuilding when the spec changes
///
/// Each test includes its scenario file with `include_str!`, so editing a scenario rebuilds the
/// tests. *Adding* a scenario file is invisible to cargo (this macro reads the folder), so
/// something the invoking crate depends on must watch the folder. For the default spec, depend on
/// `user-engine-conformance-spec-embedded` (a dev-dependency is enough): its build script watches
/// `conformance-spec/scenarios/`, and its rebuild recompiles your crate, which re-expands this
/// macro. Neither this macro nor the engine depends on it, so a YAML edit never rebuilds them. A
/// custom `spec` root is not watched by anything; give the invoking crate a `build.rs` that does
/// it:
///
/// ```ignore
/// // build.rs
/// fn main() {
///     println!("cargo:rerun-if-changed=tests/spec/scenarios");
/// }
/// ```
#[proc_macro]
pub fn conformance_suite(input: TokenStream) -> TokenStream {
    let expanded = syn::parse::<Invocation>(input).and_then(|invocation| {
        let loaded = load::load(&invocation)?;
        Ok(expand::expand(&invocation, &loaded))
    });
    match expanded {
        Ok(tokens) => tokens.into(),
        Err(error) => {
            let error = error.to_compile_error();
            quote! {
                #error
                #[cfg(test)]
                mod conformance {}
            }
            .into()
        }
    }
}

/// Marks a hand-written test that needs an environment variable set when the tests are built
/// (a database URL): without it the test is `#[ignore]` with the same reason the generated tests
/// give (`skipped: VAR is not set; ...`), so it is listed as ignored, never as a pass. The test's
/// crate depends on the variable (through `option_env!`), so setting or clearing it rebuilds.
///
/// Put it above `#[test]`, which must see the `#[ignore]` it adds:
///
/// ```ignore
/// #[user_engine::needs_env("MY_STORE_URL")]
/// #[test]
/// fn talks_to_the_server() {
///     let url = std::env::var("MY_STORE_URL").unwrap();
///     assert!(!url.is_empty());
/// }
/// ```
#[proc_macro_attribute]
pub fn needs_env(attr: TokenStream, item: TokenStream) -> TokenStream {
    let var = match syn::parse::<syn::LitStr>(attr) {
        Ok(var) => var,
        Err(_) => {
            let item = proc_macro2::TokenStream::from(item);
            return quote! {
                ::core::compile_error!("expected the variable's name: #[needs_env(\"MY_STORE_URL\")]");
                #item
            }
            .into();
        }
    };
    // `#[test]` reads `#[ignore]` when it expands, so this must come first, above it: placed
    // below, the ignore would be added too late and a test without its server would pass.
    let Ok(function) = syn::parse::<syn::ItemFn>(item.clone()) else {
        return syn::Error::new(
            proc_macro2::Span::call_site(),
            "#[needs_env] goes on a test function",
        )
        .to_compile_error()
        .into();
    };
    if !function.attrs.iter().any(|a| a.path().is_ident("test")) {
        return syn::Error::new(
            var.span(),
            "put #[needs_env(..)] above #[test]: #[test] must see the #[ignore] it adds",
        )
        .to_compile_error()
        .into();
    }
    let item = proc_macro2::TokenStream::from(item);
    let ignore = expand::unset_reason(&var.value()).map(|reason| quote! { #[ignore = #reason] });
    quote! {
        #ignore
        #item
        const _: ::core::option::Option<&str> = ::core::option_env!(#var);
    }
    .into()
}
