//! Renaming for the shrinker: every tenant, record id or user of a history, found and replaced
//! consistently, inside audit targets and event names too.

use user_engine_conformance_spec::Operation;

use crate::conformance::explore::history::{Action, History};

/// The identifiers a history can rename consistently.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Field {
    Tenant,
    Id,
    User,
}

/// Visits every identifier of `field` in `op`, including those inside audit targets (`kind/id`)
/// and event names (`tenant/topic/key`), so a rename keeps them all in step.
pub(super) fn visit(op: &mut Operation, field: Field, f: &mut dyn FnMut(&mut String)) {
    let mut at = |slot: Field, value: &mut String| {
        if slot == field {
            f(value);
        }
    };
    match op {
        Operation::Save { key, user, .. } => {
            at(Field::Tenant, &mut key.tenant);
            at(Field::Id, &mut key.id);
            if let Some(user) = user {
                at(Field::User, user);
            }
        }
        Operation::Delete { key, .. } | Operation::Get { key, .. } => {
            at(Field::Tenant, &mut key.tenant);
            at(Field::Id, &mut key.id);
        }
        Operation::List { tenant, .. } | Operation::ListAudit { tenant } => {
            at(Field::Tenant, tenant);
        }
        Operation::ListUser { tenant, user } => {
            at(Field::Tenant, tenant);
            at(Field::User, user);
        }
        Operation::Audit {
            tenant,
            actor,
            target,
            ..
        } => {
            at(Field::Tenant, tenant);
            if let Some(actor) = actor {
                at(Field::User, actor);
            }
            if let Some((kind, id)) = target.as_ref().and_then(|t| t.split_once('/')) {
                let (kind, mut id) = (kind.to_owned(), id.to_owned());
                at(Field::Id, &mut id);
                *target = Some(format!("{kind}/{id}"));
            }
        }
        Operation::Enqueue { tenant, key, .. } => {
            at(Field::Tenant, tenant);
            at(Field::Id, key);
        }
        Operation::Acknowledge { events, .. } => {
            for event in events {
                let parts: Vec<String> = event.splitn(3, '/').map(str::to_owned).collect();
                if let [tenant, topic, key] = parts.as_slice() {
                    let (mut tenant, mut key) = (tenant.clone(), key.clone());
                    at(Field::Tenant, &mut tenant);
                    at(Field::Id, &mut key);
                    *event = format!("{tenant}/{topic}/{key}");
                }
            }
        }
        _ => {}
    }
}

/// The distinct values of `field` in `history`, in order of first use.
pub(super) fn values(history: &History, field: Field) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    for action in &history.steps {
        if let Some(op) = action.operation() {
            visit(&mut op.clone(), field, &mut |v| {
                if !found.contains(v) {
                    found.push(v.clone());
                }
            });
        }
    }
    found
}

pub(super) fn renamed(history: &History, field: Field, from: &str, to: &str) -> History {
    let mut out = history.clone();
    for action in &mut out.steps {
        let Action::Spec { operation, .. } = action;
        visit(operation, field, &mut |v| {
            if v == from {
                *v = to.to_owned();
            }
        });
    }
    out
}

/// Lower is simpler: short lowercase letters and digits first.
pub(super) fn rank(id: &str) -> (bool, usize) {
    let plain = id
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    (!plain, id.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use user_engine_conformance_spec::KeySpec;

    #[test]
    fn renames_reach_targets_and_event_names() {
        let history = History {
            steps: vec![
                Action::op(Operation::Get {
                    tx: None,
                    key: KeySpec {
                        tenant: "ACME".into(),
                        kind: "user".into(),
                        id: "x:y".into(),
                    },
                }),
                Action::op(Operation::Acknowledge {
                    events: vec!["ACME/user.created/x:y".into()],
                    first: None,
                    again: false,
                    twice: false,
                    unknown: false,
                    unissued: false,
                }),
                Action::op(Operation::Audit {
                    tx: None,
                    tenant: "ACME".into(),
                    action: "a".into(),
                    actor: None,
                    target: Some("user/x:y".into()),
                }),
            ],
        };
        assert_eq!(values(&history, Field::Tenant), ["ACME"]);
        let renamed = renamed(
            &renamed(&history, Field::Tenant, "ACME", "acme"),
            Field::Id,
            "x:y",
            "a",
        );
        assert_eq!(values(&renamed, Field::Id), ["a"]);
        assert!(matches!(
            &renamed.steps[1],
            Action::Spec { operation: Operation::Acknowledge { events, .. }, .. }
                if events == &["acme/user.created/a".to_owned()]
        ));
    }
}
