//! `check_redaction`: looks for the run's canary in everything a store lets a person print.

use super::actual::Mismatch;
use super::shared::{Shared, StepFailure};
use crate::{TenantId, TenantQuery, UserEngineStore};

/// Fails if the canary appears in the store's `Debug`, its diagnostics, any record, audit entry
/// or outbox event of the tenants the run touched, or any error message seen so far.
pub(crate) fn check<S: UserEngineStore>(store: &S, shared: &Shared) -> Result<(), StepFailure> {
    let mut places: Vec<(String, String)> =
        vec![("Debug of the store".to_owned(), format!("{store:?}"))];
    match store.diagnostics() {
        Ok(d) => {
            places.push(("diagnostics (Display)".to_owned(), d.to_string()));
            places.push(("diagnostics (Debug)".to_owned(), format!("{d:?}")));
        }
        Err(e) => places.push(("the diagnostics error".to_owned(), format!("{e} {e:?}"))),
    }
    for tenant in shared.tenants() {
        let Ok(tenant) = TenantId::new(tenant) else {
            continue;
        };
        if let Ok(page) = store.list_tenant(&TenantQuery::all(tenant.clone())) {
            for r in &page.records {
                places.push((
                    format!("record {} (Debug and Display)", r.key),
                    format!("{r:?} {r} {r:#?}"),
                ));
            }
        }
        if let Ok(entries) = store.list_audit(&tenant) {
            places.push((
                format!("audit entries of {tenant} (Debug)"),
                format!("{entries:?}"),
            ));
        }
    }
    if let Ok(events) = store.outbox_pending(10_000) {
        for e in &events {
            places.push((
                format!("outbox event {e} (Debug and Display)"),
                format!("{e:?} {e}"),
            ));
        }
    }
    for (i, text) in shared.error_texts().into_iter().enumerate() {
        places.push((
            format!("error message #{} seen in this scenario", i / 2 + 1),
            text,
        ));
    }
    let leaks: Vec<&str> = places
        .iter()
        .filter(|(_, text)| text.contains(shared.canary()))
        .map(|(place, _)| place.as_str())
        .collect();
    if leaks.is_empty() {
        return Ok(());
    }
    Err(StepFailure::Mismatch(Mismatch {
        expected: "the canary value nowhere in printed output".to_owned(),
        actual: format!("the canary value appears in: {}", leaks.join("; ")),
    }))
}
