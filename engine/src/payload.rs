//! `Payload`: a record's JSON body, held so that no formatting path can print its values.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

/// A JSON document whose values are never printed.
///
/// `Debug` and `Display` show only its shape (`Payload(object, 3 fields)`), so a record, an
/// error or a log line that carries one cannot leak a factor secret or a profile value. Reach the
/// values deliberately with [`Payload::expose`].
///
/// ```
/// use user_engine::Payload;
/// let p = Payload::new(serde_json::json!({"secret": "hunter2"}));
/// assert_eq!(format!("{p:?}"), "Payload(object, 1 field)");
/// assert!(!format!("{p}").contains("hunter2"));
/// ```
///
/// A payload is immutable and shared: cloning one (a record returned by a write and kept by the
/// transaction that made it, say) copies a pointer, not the document.
#[derive(Clone, PartialEq, Default)]
pub struct Payload(Arc<Value>);

impl Serialize for Payload {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Payload {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Value::deserialize(deserializer).map(Self::new)
    }
}

impl Payload {
    /// Wraps a JSON value.
    pub fn new(value: Value) -> Self {
        Self(Arc::new(value))
    }

    /// An empty JSON object.
    pub fn empty() -> Self {
        Self::new(Value::Object(serde_json::Map::new()))
    }

    /// The JSON value itself. Named so that every place that reads payload values is easy to find.
    pub fn expose(&self) -> &Value {
        &self.0
    }

    /// Consumes the payload and returns the JSON value.
    pub fn into_exposed(self) -> Value {
        Arc::try_unwrap(self.0).unwrap_or_else(|shared| (*shared).clone())
    }

    /// Serializes the payload to compact JSON text, for storage.
    pub fn to_json_text(&self) -> String {
        self.0.to_string()
    }

    /// Parses JSON text read back from storage.
    pub fn from_json_text(text: &str) -> Result<Self, crate::StoreError> {
        serde_json::from_str(text)
            .map(Self::new)
            // The parser's message may quote the text; say only where it failed.
            .map_err(|e| {
                crate::StoreError::invalid(format!(
                    "stored payload is not valid JSON (line {}, column {})",
                    e.line(),
                    e.column()
                ))
            })
    }

    fn shape(&self) -> String {
        match &*self.0 {
            Value::Null => "null".to_owned(),
            Value::Bool(_) => "bool".to_owned(),
            Value::Number(_) => "number".to_owned(),
            Value::String(_) => "string".to_owned(),
            Value::Array(items) => format!("array, {} item{}", items.len(), plural(items.len())),
            Value::Object(map) => format!("object, {} field{}", map.len(), plural(map.len())),
        }
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

impl From<Value> for Payload {
    fn from(value: Value) -> Self {
        Self::new(value)
    }
}

impl fmt::Debug for Payload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Payload({})", self.shape())
    }
}

impl fmt::Display for Payload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<redacted {}>", self.shape())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn formatting_shows_shape_never_values() {
        let p = Payload::new(json!({"display_name": "canary-7f3a", "n": [1, 2]}));
        for text in [format!("{p:?}"), format!("{p:#?}"), format!("{p}")] {
            assert!(!text.contains("canary-7f3a"), "{text}");
            assert!(text.contains("object, 2 fields"), "{text}");
        }
        assert_eq!(format!("{:?}", Payload::new(json!("x"))), "Payload(string)");
    }

    #[test]
    fn json_text_round_trips_and_errors_do_not_quote_input() {
        let p = Payload::new(json!({"a": "b"}));
        assert_eq!(Payload::from_json_text(&p.to_json_text()).unwrap(), p);
        let err = Payload::from_json_text("{\"secret\": canary-9").unwrap_err();
        assert!(!err.to_string().contains("canary-9"));
    }
}
