//! Expansion: one `#[test]` per scenario in `mod conformance { mod <area> { fn <name>() } }`,
//! each calling the engine's runner; `#[ignore = "..."]` for skipped scenarios and for those
//! that need a capability the adapter does not declare; with `explore: {..}`, one more test,
//! `conformance_explore::histories`, calling the engine's explorer.

use std::collections::BTreeMap;

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::Ident;
use syn::spanned::Spanned;
use user_engine_conformance_spec::Scenario;

use crate::invocation::Invocation;
use crate::load::LoadedSpec;

/// The hidden function that runs one case with the factory. It is defined where the macro is
/// invoked, so the factory's paths resolve there (a nested module would not see the invoking
/// module's imports) and a factory of the wrong type is reported once, not once per scenario.
/// The generated tests reach it through `super::super`.
const RUN_FN: &str = "__user_engine_conformance_run";

/// The hidden function that runs the explore test with the factory, defined beside [`RUN_FN`]
/// for the same reasons.
const EXPLORE_FN: &str = "__user_engine_conformance_explore";

/// The generated tests.
pub(crate) fn expand(invocation: &Invocation, loaded: &LoadedSpec) -> TokenStream {
    let declared: Vec<String> = invocation
        .capabilities
        .iter()
        .map(ToString::to_string)
        .collect();
    let mut areas: BTreeMap<&str, Vec<TokenStream>> = BTreeMap::new();
    for scenario in &loaded.spec.scenarios {
        let test = test_fn(scenario, invocation, loaded, &declared);
        areas.entry(&scenario.area).or_default().push(test);
    }
    if areas.is_empty() && invocation.explore.is_none() {
        return quote! {
            #[cfg(test)]
            pub(crate) mod conformance {
                /// The capabilities this invocation declares, in the order written.
                #[allow(dead_code)]
                pub const CAPABILITIES: &[&str] = &[#(#declared),*];
            }
        };
    }
    let modules = areas.into_iter().map(|(area, tests)| {
        let area = Ident::new(area, Span::call_site());
        quote! {
            mod #area {
                #(#tests)*
            }
        }
    });
    let factory = &invocation.factory;
    let run_fn = Ident::new(RUN_FN, Span::call_site());
    // A factory of the wrong type is reported at the factory, not at the whole invocation.
    // Both locals carry the factory's span so they resolve alike wherever it came from.
    let binding = Ident::new("factory", factory.span());
    let case = Ident::new("case", factory.span());
    // `option_env!` makes rustc record the variable, so cargo rebuilds (and the macro looks
    // again) when it is set or cleared.
    let env_dependency = invocation.ignore_unless_env.as_ref().map(|var| {
        quote! {
            const _: ::core::option::Option<&str> = ::core::option_env!(#var);
        }
    });
    let run = match &invocation.migrated_factory {
        None => quote_spanned! {factory.span()=>
            ::user_engine::__private::run_generated(#case, &#binding)
        },
        Some(migrated) => {
            let migrated_binding = Ident::new("migrated_factory", migrated.span());
            quote_spanned! {migrated.span()=>
                let #migrated_binding = #migrated;
                ::user_engine::__private::run_generated_migrated(
                    #case,
                    &#binding,
                    ::core::option::Option::Some(&#migrated_binding),
                )
            }
        }
    };
    let (explore_fn, explore_test) = match &invocation.explore {
        None => (None, None),
        Some(explore) => {
            let explore_fn = Ident::new(EXPLORE_FN, Span::call_site());
            let settings = Ident::new("settings", factory.span());
            let run = quote_spanned! {factory.span()=>
                ::user_engine::__private::run_generated_explore(#settings, &#binding)
            };
            let (cases, seed) = (explore.cases, explore.seed);
            let ignore = unset_env_reason(invocation).map(|reason| {
                quote! { #[ignore = #reason] }
            });
            let doc = format!(
                "{cases} seeded random histories (seed {seed}) run on the store and on the \
                 reference, every result compared; `USER_ENGINE_EXPLORE_SEED` and \
                 `USER_ENGINE_EXPLORE_CASES` override"
            );
            (
                Some(hidden_runner(
                    &explore_fn,
                    quote! { #settings: &::user_engine::__private::GeneratedExplore },
                    invocation,
                    &run,
                )),
                // Beside `mod conformance`, not in it: that module holds one test per scenario
                // and nothing else, so the tests under `conformance::` count the scenarios.
                Some(quote! {
                    #[cfg(test)]
                    mod conformance_explore {
                        #[doc = #doc]
                        #[test]
                        #ignore
                        fn histories() {
                            super::#explore_fn(
                                &::user_engine::__private::GeneratedExplore {
                                    cases: #cases,
                                    seed: #seed,
                                    capabilities: &[#(#declared),*],
                                },
                            );
                        }
                    }
                }),
            )
        }
    };
    let (checks_fn, checks_tests) = checks(invocation, &declared);
    let scenario_fn = hidden_runner(
        &run_fn,
        quote! { #case: &::user_engine::__private::GeneratedCase },
        invocation,
        &run,
    );
    quote! {
        #checks_fn
        #scenario_fn
        #env_dependency
        #explore_fn

        #[cfg(test)]
        pub(crate) mod conformance {
            /// The capabilities this invocation declares, in the order written, so a test can
            /// hold them equal to the adapter's published list.
            #[allow(dead_code)]
            pub const CAPABILITIES: &[&str] = &[#(#declared),*];

            #(#modules)*
        }
        #explore_test
        #checks_tests
    }
}

/// A hidden function `name(param)` that binds the factory and runs `run`, defined where the
/// macro is invoked (see [`RUN_FN`]). It is type-checked in every build, not only under `cargo
/// test`, and a non-test build does not call it dead code.
fn hidden_runner(
    name: &Ident,
    param: TokenStream,
    invocation: &Invocation,
    run: &TokenStream,
) -> TokenStream {
    let factory = &invocation.factory;
    let binding = Ident::new("factory", factory.span());
    quote! {
        #[doc(hidden)]
        fn #name(#param) {
            let #binding = #factory;
            #run;
        }
        const _: () = {
            let _ = #name;
        };
    }
}

/// The hidden function that runs one behaviour check with the factory, defined beside
/// [`RUN_FN`] for the same reasons.
const CHECK_FN: &str = "__user_engine_conformance_check";

/// With `checks`, `mod conformance_checks` holding one test per row of `BEHAVIOUR_CHECKS`,
/// ignored by the same rules as the scenarios (an unset `ignore_unless_env`, a capability the
/// adapter does not declare).
fn checks(
    invocation: &Invocation,
    declared: &[String],
) -> (Option<TokenStream>, Option<TokenStream>) {
    if !invocation.checks {
        return (None, None);
    }
    let factory = &invocation.factory;
    let check_fn = Ident::new(CHECK_FN, Span::call_site());
    let binding = Ident::new("factory", factory.span());
    let name = Ident::new("name", factory.span());
    let run = quote_spanned! {factory.span()=>
        ::user_engine::__private::run_generated_check(#name, &[#(#declared),*], &#binding)
    };
    let tests = user_engine_conformance_spec::BEHAVIOUR_CHECKS
        .iter()
        .map(|check| {
            let test = Ident::new(check.name, Span::call_site());
            let check_name = check.name;
            let doc = format!("behaviour check `{}`: {}", check.name, check.summary);
            let reason = unset_env_reason(invocation).or_else(|| {
                user_engine_conformance_spec::capability_skip(
                    check.requires,
                    &[] as &[&str],
                    declared,
                )
            });
            let ignore = reason.map(|reason| quote! { #[ignore = #reason] });
            quote! {
                #[doc = #doc]
                #[test]
                #ignore
                fn #test() {
                    super::#check_fn(#check_name);
                }
            }
        });
    (
        Some(hidden_runner(
            &check_fn,
            quote! { #name: &str },
            invocation,
            &run,
        )),
        Some(quote! {
            // Beside `mod conformance`, which holds one test per scenario and nothing else.
            #[cfg(test)]
            mod conformance_checks {
                #(#tests)*
            }
        }),
    )
}

fn test_fn(
    scenario: &Scenario,
    invocation: &Invocation,
    loaded: &LoadedSpec,
    declared: &[String],
) -> TokenStream {
    let name = Ident::new(&scenario.name, Span::call_site());
    let run_fn = Ident::new(RUN_FN, Span::call_site());
    let file = format!("scenarios/{}.yaml", scenario.id);
    let path = loaded.file_path(&file);
    let root = &loaded.root;
    let id = &scenario.id;
    let ignore = ignore_reason(scenario, invocation, declared).map(|reason| {
        quote! { #[ignore = #reason] }
    });
    let doc = format!("`{id}`: {}", scenario.summary);
    // The seed the scenario names travels with it, so the test reads the same records.
    let seeds = scenario.given.seed.iter().map(|seed| {
        let file = format!("seeds/{seed}.yaml");
        let path = loaded.file_path(&file);
        quote! { (#file, ::core::include_str!(#path)) }
    });
    quote! {
        #[doc = #doc]
        #[test]
        #ignore
        fn #name() {
            super::super::#run_fn(&::user_engine::__private::GeneratedCase {
                spec_root: #root,
                file: #file,
                source: ::core::include_str!(#path),
                seeds: &[#(#seeds),*],
                id: #id,
                crate_dir: ::core::env!("CARGO_MANIFEST_DIR"),
                capabilities: &[#(#declared),*],
            });
        }
    }
}

/// Why the test is generated as `#[ignore]`: the spec crate's one rule, given the invocation's
/// unset environment variable and skip list.
fn ignore_reason(
    scenario: &Scenario,
    invocation: &Invocation,
    declared: &[String],
) -> Option<String> {
    let unset = invocation
        .ignore_unless_env
        .as_ref()
        .map(|var| var.value())
        .filter(|name| unset_reason(name).is_some());
    let listed = invocation
        .skips
        .iter()
        .find(|s| s.id.value() == scenario.id)
        .map(|skip| skip.reason.value());
    user_engine_conformance_spec::skip_reason(
        scenario,
        listed.as_deref(),
        declared,
        unset.as_deref(),
    )
}

/// Why every test is ignored: `ignore_unless_env` names a variable that was not set at build time.
fn unset_env_reason(invocation: &Invocation) -> Option<String> {
    unset_reason(&invocation.ignore_unless_env.as_ref()?.value())
}

/// The one rule for a test that needs an environment variable, generated (`ignore_unless_env`)
/// or hand-written (`#[needs_env]`): ignored, with this reason, when `name` is unset or empty
/// at build time.
pub(crate) fn unset_reason(name: &str) -> Option<String> {
    std::env::var_os(name)
        .is_none_or(|v| v.is_empty())
        .then(|| user_engine_conformance_spec::env_unset_reason(name))
}
