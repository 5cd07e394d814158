//! The engine's words that the spec crate keeps copies of — error kinds, record kinds, not-ready
//! reasons, counter names and the identifier rule — checked here to agree with the engine's own
//! types, so a kind added on one side and not the other fails a test rather than a scenario.

#[cfg(test)]
mod tests {
    use crate::conformance::spec;
    use crate::{Diagnostics, ErrorKind, NotReadyReason, RecordId, RecordKind, TenantId, UserId};

    #[test]
    fn error_kinds_are_the_engines() {
        let engine: Vec<&str> = ErrorKind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(engine, spec::ERROR_KINDS);
    }

    #[test]
    fn record_kinds_are_the_engines() {
        let mut engine: Vec<&str> = RecordKind::ALL.iter().map(|k| k.as_str()).collect();
        let mut words = spec::RECORD_KINDS.to_vec();
        engine.sort_unstable();
        words.sort_unstable();
        assert_eq!(engine, words);
    }

    #[test]
    fn not_ready_reasons_are_the_engines() {
        // Every variant, so a new one fails to compile here until it is listed.
        let every = |reason: &NotReadyReason| match reason {
            NotReadyReason::NotMigrated
            | NotReadyReason::Behind { .. }
            | NotReadyReason::Ahead { .. }
            | NotReadyReason::Drift { .. }
            | NotReadyReason::Unavailable { .. } => reason.name(),
        };
        let engine: Vec<&str> = [
            NotReadyReason::NotMigrated,
            NotReadyReason::Behind {
                current: 1,
                latest: 2,
            },
            NotReadyReason::Ahead {
                current: 3,
                latest: 2,
            },
            NotReadyReason::Drift { version: 1 },
            NotReadyReason::Unavailable {
                detail: String::new(),
            },
        ]
        .iter()
        .map(every)
        .collect();
        assert_eq!(engine, spec::NOT_READY_REASONS);
    }

    #[test]
    fn every_counter_the_spec_names_is_one_the_runner_reads() {
        let diagnostics = Diagnostics::default();
        let names = spec::COUNTER_NAMES.iter().map(|n| (*n).to_owned()).chain(
            spec::RECORD_KINDS
                .iter()
                .map(|kind| format!("records.{kind}")),
        );
        for name in names {
            assert!(
                crate::conformance::actual::counter(&diagnostics, &name).is_some(),
                "the spec names counter `{name}`, which the runner cannot read"
            );
        }
        assert!(crate::conformance::actual::counter(&diagnostics, "records.widget").is_none());
    }

    #[test]
    fn the_identifier_rule_is_the_engines() {
        let mut probes: Vec<String> = (0u8..=127).map(|b| char::from(b).to_string()).collect();
        probes.extend(
            [
                "",
                "é",
                "ü1",
                "a b",
                "Ω",
                "acme",
                "a.b@c:d-e_f",
                "\u{0}",
                "\u{200B}",
            ]
            .map(str::to_owned),
        );
        probes.push("a".repeat(crate::MAX_ID_LEN));
        probes.push("a".repeat(crate::MAX_ID_LEN + 1));
        probes.push("é".repeat(crate::MAX_ID_LEN / 2 + 1));
        for probe in &probes {
            let spec_ok = spec::identifier_problem(probe).is_none();
            assert_eq!(
                TenantId::new(probe.clone()).is_ok(),
                spec_ok,
                "tenant {probe:?}"
            );
            assert_eq!(
                UserId::new(probe.clone()).is_ok(),
                spec_ok,
                "user {probe:?}"
            );
            assert_eq!(
                RecordId::new(probe.clone()).is_ok(),
                spec_ok,
                "record {probe:?}"
            );
        }
    }
}
