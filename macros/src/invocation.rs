//! Parsing the invocation: `conformance_suite!(factory)` or the `factory: ..., capabilities: [..],
//! skip: {..}, spec: "..", explore: {..}` option form, with every option checked at its own
//! token.

use proc_macro2::Span;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{Expr, Ident, LitInt, LitStr, Token, braced, bracketed};
use user_engine_conformance_spec::{KNOWN_CAPABILITIES, did_you_mean};

const OPTIONS: &[&str] = &[
    "factory",
    "migrated_factory",
    "capabilities",
    "skip",
    "spec",
    "ignore_unless_env",
    "explore",
    "checks",
];

/// The settings of `explore: {..}`.
const EXPLORE_SETTINGS: &[&str] = &["cases", "seed"];

/// Histories the explore test runs when `cases` is not given.
const DEFAULT_EXPLORE_CASES: usize = 100;

/// What the invocation asks for.
pub(crate) struct Invocation {
    /// Makes one fresh store per test: a closure or a function path.
    pub(crate) factory: Expr,
    /// Makes one migrated, empty store, for the scenarios that start migrated (optional; a
    /// server adapter's pool of pre-migrated schemas makes those tests' setup cheap).
    pub(crate) migrated_factory: Option<Expr>,
    /// Declared capabilities, each checked against `KNOWN_CAPABILITIES`.
    pub(crate) capabilities: Vec<Ident>,
    /// Scenario id to the reason it is skipped.
    pub(crate) skips: Vec<Skip>,
    /// A spec root relative to the invoking crate's `CARGO_MANIFEST_DIR`.
    pub(crate) spec: Option<LitStr>,
    /// An environment variable that must be set when the tests are built, or they are ignored
    /// (e.g. the URL of a database server).
    pub(crate) ignore_unless_env: Option<LitStr>,
    /// One more test, running seeded random histories against the factory.
    pub(crate) explore: Option<Explore>,
    /// Whether to generate the Rust-coded behaviour checks (`conformance_checks::<name>`): given
    /// as `checks: true|false`, else on for the canonical spec and off for a `spec` of one's own
    /// (so a second invocation does not run them twice).
    pub(crate) checks: bool,
}

/// `explore: {cases: N, seed: S}`: how many histories, from which seed.
pub(crate) struct Explore {
    pub(crate) cases: usize,
    pub(crate) seed: u64,
}

/// One `name: 123` inside `explore: {..}`.
struct Setting {
    name: Ident,
    value: LitInt,
}

impl Parse for Setting {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let name: Ident = input.parse()?;
        input.parse::<Token![:]>()?;
        let value: LitInt = input.parse()?;
        Ok(Setting { name, value })
    }
}

/// `"area/name": "reason"`.
pub(crate) struct Skip {
    pub(crate) id: LitStr,
    pub(crate) reason: LitStr,
}

impl Parse for Invocation {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        if input.is_empty() {
            return Err(input.error(
                "expected a store factory, e.g. `conformance_suite!(|| MyStore::open_temp())`, \
                 or options `factory: ..., capabilities: [...], skip: {...}, spec: \"...\"`",
            ));
        }
        let options_form = input.peek(Ident) && input.peek2(Token![:]) && !input.peek2(Token![::]);
        if !options_form {
            let factory: Expr = input.parse()?;
            input.parse::<Option<Token![,]>>()?;
            if !input.is_empty() {
                return Err(input.error(
                    "unexpected tokens after the factory; to pass options write \
                     `factory: ..., capabilities: [...], skip: {...}, spec: \"...\"`",
                ));
            }
            return Ok(Invocation {
                factory,
                migrated_factory: None,
                capabilities: Vec::new(),
                skips: Vec::new(),
                spec: None,
                ignore_unless_env: None,
                explore: None,
                checks: true,
            });
        }
        parse_options(input)
    }
}

fn parse_options(input: ParseStream<'_>) -> syn::Result<Invocation> {
    let mut factory = None;
    let mut migrated_factory = None;
    let mut capabilities = None;
    let mut skips = None;
    let mut spec = None;
    let mut ignore_unless_env = None;
    let mut explore = None;
    let mut checks = None;
    let mut errors: Option<syn::Error> = None;
    let mut push = |error: syn::Error| match &mut errors {
        Some(all) => all.combine(error),
        None => errors = Some(error),
    };
    while !input.is_empty() {
        let key: Ident = input.parse()?;
        input.parse::<Token![:]>()?;
        let name = key.to_string();
        let duplicate = match name.as_str() {
            "factory" => factory.replace(input.parse::<Expr>()?).is_some(),
            "migrated_factory" => migrated_factory.replace(input.parse::<Expr>()?).is_some(),
            "capabilities" => {
                let content;
                bracketed!(content in input);
                let list = Punctuated::<Ident, Token![,]>::parse_terminated(&content)?;
                capabilities.replace(list).is_some()
            }
            "skip" => {
                let content;
                braced!(content in input);
                let list = Punctuated::<Skip, Token![,]>::parse_terminated(&content)?;
                skips.replace(list).is_some()
            }
            "spec" => spec.replace(input.parse::<LitStr>()?).is_some(),
            "ignore_unless_env" => ignore_unless_env
                .replace(input.parse::<LitStr>()?)
                .is_some(),
            "explore" => {
                let content;
                braced!(content in input);
                let list = Punctuated::<Setting, Token![,]>::parse_terminated(&content)?;
                explore.replace(list).is_some()
            }
            "checks" => checks.replace(input.parse::<syn::LitBool>()?).is_some(),
            _ => {
                let hint = did_you_mean(&name, OPTIONS)
                    .map(|o| format!(" (did you mean `{o}`?)"))
                    .unwrap_or_default();
                push(syn::Error::new(
                    key.span(),
                    format!(
                        "unknown option `{name}`{hint}; expected one of: {}",
                        OPTIONS.join(", ")
                    ),
                ));
                // Skip the value, whatever it is, so the remaining options are still checked.
                while !input.is_empty() && !input.peek(Token![,]) {
                    input.parse::<proc_macro2::TokenTree>()?;
                }
                false
            }
        };
        if duplicate {
            push(syn::Error::new(
                key.span(),
                format!("option `{name}` is given twice"),
            ));
        }
        if !input.is_empty() {
            input.parse::<Token![,]>()?;
        }
    }
    let capabilities: Vec<Ident> = capabilities.into_iter().flatten().collect();
    let mut seen = Vec::new();
    for capability in &capabilities {
        let name = capability.to_string();
        if !KNOWN_CAPABILITIES.contains(&name.as_str()) {
            push(syn::Error::new(
                capability.span(),
                format!(
                    "unknown capability `{name}`; expected one of: {}",
                    KNOWN_CAPABILITIES.join(", ")
                ),
            ));
        } else if seen.contains(&name) {
            push(syn::Error::new(
                capability.span(),
                format!("capability `{name}` is declared twice"),
            ));
        }
        seen.push(name);
    }
    let explore = explore.map(|settings| explore_settings(settings, &mut push));
    if factory.is_none() {
        push(syn::Error::new(
            Span::call_site(),
            "missing `factory: ...`, which makes one fresh store per test, \
             e.g. `factory: || MyStore::open_temp()`",
        ));
    }
    if let Some(errors) = errors {
        return Err(errors);
    }
    Ok(Invocation {
        factory: factory.expect("checked above"),
        migrated_factory,
        capabilities,
        skips: skips.into_iter().flatten().collect(),
        checks: checks.map_or(spec.is_none(), |b| b.value),
        spec,
        ignore_unless_env,
        explore,
    })
}

/// Checks `explore: {..}`: known names, each once, numbers in range; problems go to `push`.
fn explore_settings(
    settings: Punctuated<Setting, Token![,]>,
    push: &mut impl FnMut(syn::Error),
) -> Explore {
    let mut explore = Explore {
        cases: DEFAULT_EXPLORE_CASES,
        seed: 0,
    };
    let mut seen: Vec<String> = Vec::new();
    for Setting { name, value } in settings {
        let key = name.to_string();
        if seen.contains(&key) {
            push(syn::Error::new(
                name.span(),
                format!("`{key}` is given twice in `explore`"),
            ));
        }
        seen.push(key.clone());
        match key.as_str() {
            "cases" => match value.base10_parse::<usize>() {
                Ok(n) if n > 0 => explore.cases = n,
                _ => push(syn::Error::new(
                    value.span(),
                    "`cases` is how many histories to run: a whole number above 0",
                )),
            },
            "seed" => match value.base10_parse::<u64>() {
                Ok(n) => explore.seed = n,
                Err(_) => push(syn::Error::new(
                    value.span(),
                    "`seed` must be a whole number from 0 to 2^64-1",
                )),
            },
            _ => {
                let hint = did_you_mean(&key, EXPLORE_SETTINGS)
                    .map(|o| format!(" (did you mean `{o}`?)"))
                    .unwrap_or_default();
                push(syn::Error::new(
                    name.span(),
                    format!(
                        "unknown `explore` setting `{key}`{hint}; expected one of: {}",
                        EXPLORE_SETTINGS.join(", ")
                    ),
                ));
            }
        }
    }
    explore
}

impl Parse for Skip {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let id: LitStr = input.parse()?;
        input.parse::<Token![:]>()?;
        let reason: LitStr = input.parse()?;
        if reason.value().trim().is_empty() {
            return Err(syn::Error::new(
                reason.span(),
                "a skip needs a reason; it is shown by `cargo test` next to the ignored test",
            ));
        }
        Ok(Skip { id, reason })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(tokens: &str) -> syn::Result<Invocation> {
        syn::parse_str(tokens)
    }

    fn error(tokens: &str) -> String {
        match parse(tokens) {
            Ok(_) => panic!("{tokens} parsed"),
            Err(e) => e
                .into_iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("\n"),
        }
    }

    #[test]
    fn both_forms_parse() {
        let short = parse("MyStore::open_temp").unwrap();
        assert!(short.capabilities.is_empty() && short.spec.is_none());
        let closure = parse("|| MyStore::open_temp(),").unwrap();
        assert!(matches!(closure.factory, Expr::Closure(_)));
        let long = parse(
            "factory: || MyStore::open_temp(), capabilities: [commit_time_conflicts], \
             skip: { \"outbox/late_commit\": \"needs two connections\" }, spec: \"specs/x\",",
        )
        .unwrap();
        assert_eq!(long.capabilities[0], "commit_time_conflicts");
        assert_eq!(long.skips[0].id.value(), "outbox/late_commit");
        assert_eq!(long.skips[0].reason.value(), "needs two connections");
        assert_eq!(long.spec.unwrap().value(), "specs/x");
        assert!(long.explore.is_none());
    }

    #[test]
    fn explore_takes_cases_and_seed() {
        let given = parse("factory: f, explore: {cases: 250, seed: 18446744073709551615}").unwrap();
        let explore = given.explore.unwrap();
        assert_eq!((explore.cases, explore.seed), (250, u64::MAX));
        let defaults = parse("factory: f, explore: {}").unwrap().explore.unwrap();
        assert_eq!((defaults.cases, defaults.seed), (100, 0));
        assert_eq!(
            error("factory: f, explore: {case: 5, cases: 0, seed: 1, seed: 2}"),
            "unknown `explore` setting `case` (did you mean `cases`?); expected one of: cases, seed\n\
             `cases` is how many histories to run: a whole number above 0\n\
             `seed` is given twice in `explore`"
        );
        assert_eq!(
            error("factory: f, explore: {seed: 18446744073709551616}"),
            "`seed` must be a whole number from 0 to 2^64-1"
        );
        assert!(
            error("factory: f, explore: {cases: \"many\"}").starts_with("expected integer literal")
        );
    }

    #[test]
    fn problems_are_reported_together() {
        assert_eq!(
            error(
                "factory: f, capabilites: {x: y}, capabilities: [teleport, migration_tamper, migration_tamper]"
            ),
            "unknown option `capabilites` (did you mean `capabilities`?); expected one of: factory, migrated_factory, capabilities, skip, spec, ignore_unless_env, explore, checks\n\
             unknown capability `teleport`; expected one of: migration_tamper, commit_time_conflicts, fault_injection, durable_reopen, backend_termination, stepwise_migration\n\
             capability `migration_tamper` is declared twice"
        );
        assert_eq!(
            error("spec: \"x\""),
            "missing `factory: ...`, which makes one fresh store per test, e.g. `factory: || MyStore::open_temp()`"
        );
        assert!(error("f g").starts_with("unexpected tokens after the factory"));
        assert!(error("factory: f, skip: {\"a/b\": \"\"}").starts_with("a skip needs a reason"));
        assert_eq!(
            error("factory: f, factory: g"),
            "option `factory` is given twice"
        );
    }
}
