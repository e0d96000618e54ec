//! Small pieces the JSON edge formats share (Traefik's, Caddy's, Google Cloud's): text as the
//! record's bytes, and numbers that some writers print as strings.

use std::borrow::Cow;

use serde::Deserialize;

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

/// A number written as a JSON number or as a string of one (`200`, `"200"`).
#[derive(Deserialize, Debug, Clone, Copy, PartialEq)]
#[serde(untagged)]
pub(crate) enum Number<'a> {
    Int(i64),
    Float(f64),
    #[serde(borrow)]
    Text(&'a str),
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
