//! Identifiers: tenants, users, record ids, record kinds and the record key they form.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::StoreError;

/// Longest identifier accepted, in bytes.
pub const MAX_ID_LEN: usize = 128;

fn validate_id(what: &str, value: &str) -> Result<(), StoreError> {
    if value.is_empty() {
        return Err(StoreError::invalid(format!("{what} must not be empty")));
    }
    if value.len() > MAX_ID_LEN {
        return Err(StoreError::invalid(format!(
            "{what} is {} bytes long; at most {MAX_ID_LEN} are allowed",
            value.len()
        )));
    }
    // Identifiers appear in cursors, audit targets and error messages, so they are kept to a
    // printable, separator-free alphabet.
    if let Some(bad) = value
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '@' | ':')))
    {
        return Err(StoreError::invalid(format!(
            "{what} {value:?} contains {bad:?}; only ASCII letters, digits and `_ - . @ :` are allowed"
        )));
    }
    Ok(())
}

macro_rules! identifier {
    ($(#[$meta:meta])* $name:ident, $what:literal) => {
        $(#[$meta])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            #[doc = concat!("Validates and wraps a ", $what, ".")]
            pub fn new(value: impl Into<String>) -> Result<Self, StoreError> {
                let value = value.into();
                validate_id($what, &value)?;
                Ok(Self(value))
            }

            #[doc = concat!("The ", $what, " as text.")]
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.0)
            }
        }

        impl FromStr for $name {
            type Err = StoreError;
            fn from_str(s: &str) -> Result<Self, StoreError> {
                Self::new(s)
            }
        }

        impl TryFrom<&str> for $name {
            type Error = StoreError;
            fn try_from(s: &str) -> Result<Self, StoreError> {
                Self::new(s)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let raw = String::deserialize(d)?;
                Self::new(raw).map_err(serde::de::Error::custom)
            }
        }
    };
}

identifier!(
    /// A tenant: the isolation boundary. No query ever returns another tenant's data.
    TenantId,
    "tenant id"
);
identifier!(
    /// A user inside a tenant; records may be owned by one.
    UserId,
    "user id"
);
identifier!(
    /// A record's id, unique within (tenant, kind). Two tenants may use the same id.
    RecordId,
    "record id"
);

/// The logical record kinds. The migration manifest says which migration introduced each.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordKind {
    /// A user account.
    User,
    /// A user's profile (display name and other personal values).
    Profile,
    /// An email address, phone number or other way to reach a user.
    ContactPoint,
    /// An authentication factor; its payload holds secrets.
    AuthFactor,
    /// A recorded consent decision.
    Consent,
    /// A user preference.
    Preference,
}

impl RecordKind {
    /// Every kind, in their stable order (the order of `as_str`).
    pub const ALL: [RecordKind; 6] = [
        RecordKind::AuthFactor,
        RecordKind::Consent,
        RecordKind::ContactPoint,
        RecordKind::Preference,
        RecordKind::Profile,
        RecordKind::User,
    ];

    /// The stable snake_case name used in storage, cursors and the spec.
    pub const fn as_str(self) -> &'static str {
        match self {
            RecordKind::User => "user",
            RecordKind::Profile => "profile",
            RecordKind::ContactPoint => "contact_point",
            RecordKind::AuthFactor => "auth_factor",
            RecordKind::Consent => "consent",
            RecordKind::Preference => "preference",
        }
    }
}

impl fmt::Display for RecordKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RecordKind {
    type Err = StoreError;
    fn from_str(s: &str) -> Result<Self, StoreError> {
        RecordKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                let known: Vec<&str> = RecordKind::ALL.iter().map(|k| k.as_str()).collect();
                StoreError::invalid(format!(
                    "unknown record kind {s:?}; expected one of {}",
                    known.join(", ")
                ))
            })
    }
}

/// The full key of a record: tenant, kind and id. Ordered by tenant, then kind name, then id.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct RecordKey {
    /// The owning tenant.
    pub tenant: TenantId,
    /// The record's kind.
    pub kind: RecordKind,
    /// The id, unique within tenant and kind.
    pub id: RecordId,
}

impl RecordKey {
    /// Builds a key from its parts.
    pub fn new(tenant: TenantId, kind: RecordKind, id: RecordId) -> Self {
        Self { tenant, kind, id }
    }

    /// Parses `tenant/kind/id`, the form used in messages and the spec.
    pub fn parse(text: &str) -> Result<Self, StoreError> {
        let mut parts = text.splitn(3, '/');
        match (parts.next(), parts.next(), parts.next()) {
            (Some(t), Some(k), Some(i)) => Ok(Self::new(t.parse()?, k.parse()?, i.parse()?)),
            _ => Err(StoreError::invalid(format!(
                "record key {text:?} is not of the form tenant/kind/id"
            ))),
        }
    }

    fn sort_key(&self) -> (&str, &str, &str) {
        (self.tenant.as_str(), self.kind.as_str(), self.id.as_str())
    }
}

impl PartialOrd for RecordKey {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for RecordKey {
    // Ordered by the kind's *name* so every backend (which sorts text columns) agrees.
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.sort_key().cmp(&other.sort_key())
    }
}

impl fmt::Display for RecordKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.tenant, self.kind, self.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_reject_empty_long_and_separator_characters() {
        assert!(TenantId::new("").is_err());
        assert!(TenantId::new("a".repeat(MAX_ID_LEN + 1)).is_err());
        assert!(RecordId::new("p/1").is_err());
        assert!(UserId::new("u 1").is_err());
        assert_eq!(
            UserId::new("ada@example.org").unwrap().as_str(),
            "ada@example.org"
        );
    }

    #[test]
    fn record_kind_names_round_trip_and_all_is_sorted_by_name() {
        for kind in RecordKind::ALL {
            assert_eq!(kind.as_str().parse::<RecordKind>().unwrap(), kind);
        }
        let names: Vec<&str> = RecordKind::ALL.iter().map(|k| k.as_str()).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        assert_eq!(names, sorted);
        assert!("widget".parse::<RecordKind>().is_err());
    }

    #[test]
    fn keys_parse_display_and_order_by_kind_name() {
        let key = RecordKey::parse("acme/contact_point/c1").unwrap();
        assert_eq!(key.to_string(), "acme/contact_point/c1");
        let profile = RecordKey::parse("acme/profile/a").unwrap();
        let consent = RecordKey::parse("acme/consent/z").unwrap();
        assert!(consent < key && key < profile);
        assert!(RecordKey::parse("acme/profile").is_err());
    }
}
