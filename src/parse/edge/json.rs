//! Small pieces the JSON edge formats share (Traefik's, Caddy's, Google Cloud's): text as the
//! record's bytes, and numbers that some writers print as strings.

use std::borrow::Cow;

use serde::Deserialize;

use crate::parse::structured::Value;

/// A JSON string as the record's bytes, still borrowing the line when it had no escapes.
pub(crate) fn bytes(text: Cow<'_, str>) -> Cow<'_, [u8]> {
    match text {
        Cow::Borrowed(s) => Cow::Borrowed(s.as_bytes()),
        Cow::Owned(s) => Cow::Owned(s.into_bytes()),
    }
}

/// A JSON string field as bytes, `None` when absent or empty (`""`, and `"-"` as several
/// edges print for "none").
pub(crate) fn present(text: Option<Cow<'_, str>>) -> Option<Cow<'_, [u8]>> {
    text.filter(|t| !t.is_empty() && t != "-").map(bytes)
}

/// A number written as a JSON number or as a string of one (`200`, `"200"`): an integer that
/// fits an `i64`, any other number, or a string as the line holds it (one with escapes is no
/// number, and neither is anything else: the record is then not read).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Number<'a> {
    Int(i64),
    Float(f64),
    Text(&'a str),
}

/// Read as `#[serde(untagged)]` would read the enum (an `i64`, else an `f64`, else a string
/// borrowed from the line), through the app records' own reading of a value in one step: the
/// untagged enum buffered each value and built an error `String` for each variant it was not,
/// ~1,700 instructions a number, three to five a Caddy or Traefik line.
impl<'de: 'a, 'a> Deserialize<'de> for Number<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Number<'a>, D::Error> {
        match Value::deserialize(d)? {
            Value::Int(i) => Ok(Number::Int(i)),
            Value::Float(f) => Ok(Number::Float(f)),
            Value::Str(Cow::Borrowed(s)) => Ok(Number::Text(s)),
            _ => Err(serde::de::Error::custom(
                "a number, or a string without escapes",
            )),
        }
    }
}

impl Number<'_> {
    pub(crate) fn float(self) -> Option<f64> {
        match self {
            Number::Int(i) => Some(i as f64),
            Number::Float(f) => Some(f),
            Number::Text(t) => t.trim().parse().ok(),
        }
        .filter(|f: &f64| f.is_finite())
    }

    /// An HTTP status (100–599); `None` for anything else (Traefik's `0`: no answer).
    pub(crate) fn status(self) -> Option<u16> {
        let f = self.float()?;
        (f.fract() == 0.0 && (100.0..=599.0).contains(&f)).then_some(f as u16)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::structured::JSON_VALUES;

    /// The number as serde's `#[serde(untagged)]` reads it: the reference [`Number`] must
    /// agree with.
    #[derive(Deserialize, Debug, PartialEq)]
    #[serde(untagged)]
    enum Untagged<'a> {
        Int(i64),
        Float(f64),
        #[serde(borrow)]
        Text(&'a str),
    }

    /// Every kind of JSON value, and the edges of each, as a field's value and as an optional
    /// one: the same number, or an error both ways; and the rest of the record read alike.
    #[test]
    fn numbers_are_read_as_an_untagged_enum_reads_them() {
        #[derive(Deserialize)]
        struct Record<'a> {
            #[serde(borrow)]
            n: Number<'a>,
            after: &'a str,
        }
        #[derive(Deserialize)]
        struct Reference<'a> {
            #[serde(borrow)]
            n: Untagged<'a>,
            after: &'a str,
        }
        #[derive(Deserialize)]
        struct Optional<'a> {
            #[serde(borrow)]
            n: Option<Number<'a>>,
        }
        #[derive(Deserialize)]
        struct OptionalReference<'a> {
            #[serde(borrow)]
            n: Option<Untagged<'a>>,
        }
        let same = |ours: &Number, theirs: &Untagged| match (ours, theirs) {
            (Number::Int(a), Untagged::Int(b)) => a == b,
            (Number::Float(a), Untagged::Float(b)) => a.to_bits() == b.to_bits(),
            (Number::Text(a), Untagged::Text(b)) => a == b,
            _ => false,
        };
        for json in JSON_VALUES {
            let record = format!(r#"{{"n": {json}, "after": "x"}}"#);
            let ours = serde_json::from_str::<Record>(&record);
            let theirs = serde_json::from_str::<Reference>(&record);
            match (&ours, &theirs) {
                (Ok(a), Ok(b)) => {
                    assert!(same(&a.n, &b.n), "{json}: {:?} against {:?}", a.n, b.n);
                    assert_eq!((a.after, b.after), ("x", "x"), "{json}");
                }
                (Err(_), Err(_)) => {}
                _ => panic!("{json}: one read it, the other did not"),
            }
            let ours = serde_json::from_str::<Optional>(&record).map(|r| r.n);
            let theirs = serde_json::from_str::<OptionalReference>(&record).map(|r| r.n);
            match (&ours, &theirs) {
                (Ok(Some(a)), Ok(Some(b))) => assert!(same(a, b), "{json}: {a:?} against {b:?}"),
                (Ok(None), Ok(None)) | (Err(_), Err(_)) => {}
                _ => panic!("{json}: {ours:?} against {theirs:?}"),
            }
        }
    }
}
