//! Loading the spec for an invocation: resolves the spec root, asks the spec crate to load and
//! validate it, and checks the invocation's skip ids against the scenarios found.

use std::path::{Path, PathBuf};

use proc_macro2::Span;
use user_engine_conformance_spec::{SPEC_ROOT, Spec, did_you_mean, load_dir_as};

use crate::invocation::Invocation;

/// A validated spec and where it lives.
pub(crate) struct LoadedSpec {
    /// Absolute spec root, as generated code names it.
    pub(crate) root: String,
    pub(crate) spec: Spec,
}

impl LoadedSpec {
    /// Absolute path of a scenario's file, for `include_str!`.
    pub(crate) fn file_path(&self, relative: &str) -> String {
        Path::new(&self.root).join(relative).display().to_string()
    }
}

/// Loads the spec the invocation names (this crate's default, or `spec: "..."` relative to the
/// invoking crate), reporting every spec error at once.
pub(crate) fn load(invocation: &Invocation) -> syn::Result<LoadedSpec> {
    let (root, span) = match &invocation.spec {
        None => (PathBuf::from(SPEC_ROOT), Span::call_site()),
        Some(literal) => (resolve(&literal.value(), literal.span())?, literal.span()),
    };
    let shown = root.display().to_string();
    let spec = load_dir_as(&root, &shown).map_err(|errors| {
        let count = match errors.len() {
            1 => "1 error".to_owned(),
            n => format!("{n} errors"),
        };
        syn::Error::new(
            span,
            format!("the conformance spec at {shown} is invalid ({count}):\n{errors}"),
        )
    })?;
    let loaded = LoadedSpec { root: shown, spec };
    check_skips(invocation, &loaded)?;
    Ok(loaded)
}

/// `spec: "..."` relative to the invoking crate's manifest directory.
fn resolve(spec: &str, span: Span) -> syn::Result<PathBuf> {
    let base = std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from);
    let joined = match &base {
        Some(base) => base.join(spec),
        None => PathBuf::from(spec),
    };
    joined.canonicalize().map_err(|error| {
        syn::Error::new(
            span,
            format!(
                "cannot open spec root \"{spec}\" (looked at {}): {error}; \
                 `spec` is relative to the invoking crate's CARGO_MANIFEST_DIR",
                joined.display()
            ),
        )
    })
}

fn check_skips(invocation: &Invocation, loaded: &LoadedSpec) -> syn::Result<()> {
    let mut errors: Option<syn::Error> = None;
    let mut seen = Vec::new();
    for skip in &invocation.skips {
        let id = skip.id.value();
        let message = if seen.contains(&id) {
            format!("scenario \"{id}\" is skipped twice")
        } else if loaded.spec.scenarios.iter().any(|s| s.id == id) {
            seen.push(id);
            continue;
        } else {
            let ids: Vec<&str> = loaded
                .spec
                .scenarios
                .iter()
                .map(|s| s.id.as_str())
                .collect();
            let hint = did_you_mean(&id, &ids)
                .map(|known| format!(" (did you mean \"{known}\"?)"))
                .unwrap_or_default();
            format!(
                "no scenario has id \"{id}\"{hint}; skip takes the ids of files in {}/scenarios",
                loaded.root
            )
        };
        seen.push(id);
        let error = syn::Error::new(skip.id.span(), message);
        match &mut errors {
            Some(all) => all.combine(error),
            None => errors = Some(error),
        }
    }
    errors.map_or(Ok(()), Err)
}
