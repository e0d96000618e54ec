//! Structured app logs: one JSON object per line (python-json-logger, structlog and kin) and
//! logfmt (`level=info msg="…" pid=7`).
//!
//! The message field is read with the same message parsers as a plain line; pid, time, thread
//! and request id come from their fields. Field names differ between libraries, so each is
//! looked up under the names those libraries use. Values with escapes are decoded into the
//! parser's scratch buffer, so the event can still borrow.

use std::borrow::Cow;

use serde::Deserialize;

use super::atoms::{level_name, plain_log_time, rfc3339, Level, Ts};

/// The fields reqtrail reads from a structured record, decoded.
#[derive(Debug, Default, PartialEq)]
pub struct Fields<'a> {
    pub message: Option<Cow<'a, str>>,
    pub level: Option<Level>,
    pub pid: Option<u32>,
    pub thread: Option<u64>,
    pub time: Option<Ts>,
    pub request_id: Option<Cow<'a, str>>,
    pub method: Option<Cow<'a, str>>,
    pub path: Option<Cow<'a, str>>,
    pub host: Option<Cow<'a, str>>,
    pub status: Option<u16>,
    /// The exception type from a traceback field (`exc_info`, `exception`, `stack_trace`).
    pub exception: Option<String>,
}

/// One field's value: a string (borrowed from the line when it has no escapes), an integer
/// (one that fits an `i64`), any other number, or anything else (skipped).
#[derive(Debug)]
pub(crate) enum Value<'a> {
    Str(Cow<'a, str>),
    Int(i64),
    Float(f64),
    Other,
}

/// Read by what the JSON holds, in one step: as `#[serde(untagged)]` would read it (a string,
/// else an `i64`, else an `f64`, else anything), without buffering each value and building an
/// error (a `String` each) for every variant it is not, which cost ~2,500 instructions a record.
impl<'de> Deserialize<'de> for Value<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Value<'de>, D::Error> {
        d.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> serde::de::Visitor<'de> for ValueVisitor {
    type Value = Value<'de>;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Value<'de>, E> {
        Ok(Value::Str(Cow::Borrowed(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value<'de>, E> {
        Ok(Value::Str(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E>(self, v: String) -> Result<Value<'de>, E> {
        Ok(Value::Str(Cow::Owned(v)))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value<'de>, E> {
        Ok(Value::Int(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value<'de>, E> {
        Ok(i64::try_from(v).map_or(Value::Float(v as f64), Value::Int))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value<'de>, E> {
        Ok(Value::Float(v))
    }
    fn visit_bool<E>(self, _: bool) -> Result<Value<'de>, E> {
        Ok(Value::Other)
    }
    fn visit_unit<E>(self) -> Result<Value<'de>, E> {
        Ok(Value::Other)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, seq: A) -> Result<Value<'de>, A::Error> {
        serde::de::IgnoredAny.visit_seq(seq).map(|_| Value::Other)
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<Value<'de>, A::Error> {
        serde::de::IgnoredAny.visit_map(map).map(|_| Value::Other)
    }
}

/// A field's name, borrowed from the line when it has no escapes (a `Cow<str>` of its own is
/// always a new `String`).
struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Key<'de>, D::Error> {
        match d.deserialize_str(ValueVisitor)? {
            Value::Str(s) => Ok(Key(s)),
            _ => Err(serde::de::Error::custom("a field's name is a string")),
        }
    }
}

impl<'a> Value<'a> {
    fn text(self) -> Option<Cow<'a, str>> {
        match self {
            Value::Str(s) => Some(s),
            Value::Int(i) => Some(Cow::Owned(i.to_string())),
            _ => None,
        }
    }

    fn int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            Value::Str(s) => s.trim().parse().ok(),
            Value::Float(f) if f.fract() == 0.0 => Some(*f as i64),
            _ => None,
        }
    }
}

fn level_of(s: &str) -> Option<Level> {
    // Upper-cased in place of a new `String`: a level's name is 8 letters at most.
    let s = s.trim().as_bytes();
    let mut upper = [0u8; 8];
    let upper = upper.get_mut(..s.len())?;
    upper.copy_from_slice(s);
    upper.make_ascii_uppercase();
    level_name(upper)
        .ok()
        .filter(|(rest, _)| rest.is_empty())
        .map(|(_, l)| l)
}

/// `2026-11-28 03:10:00,123`, RFC 3339, or seconds since the epoch.
fn time_of(v: &Value<'_>) -> Option<Ts> {
    match v {
        Value::Str(s) => {
            let b = s.as_bytes();
            rfc3339(b)
                .or_else(|_| plain_log_time(b))
                .ok()
                .map(|(_, t)| t)
        }
        Value::Float(f) if f.is_finite() && *f > 0.0 => Some(Ts((f * 1e6) as i64)),
        Value::Int(i) if *i > 0 => Some(Ts(i.saturating_mul(1_000_000))),
        _ => None,
    }
}

/// The last line of a traceback text: `ZeroDivisionError: division by zero` → the type.
fn exception_type(text: &str) -> Option<String> {
    let last = text.lines().rev().find(|l| !l.trim().is_empty())?;
    let (_, (name, _)) = super::traceback::exception_line(last.as_bytes()).ok()?;
    Some(String::from_utf8_lossy(name).into_owned())
}

impl<'a> Fields<'a> {
    fn set(&mut self, key: &str, v: Value<'a>) {
        match key {
            "message" | "msg" | "event" if self.message.is_none() => self.message = v.text(),
            "levelname" | "level" | "severity" | "log.level" => {
                self.level = v.text().as_deref().and_then(level_of).or(self.level)
            }
            "process" | "pid" => self.pid = v.int().and_then(|p| u32::try_from(p).ok()),
            "thread" | "thread_id" | "tid" => {
                self.thread = v.int().and_then(|t| u64::try_from(t).ok())
            }
            "asctime" | "timestamp" | "time" | "@timestamp" | "ts" if self.time.is_none() => {
                self.time = time_of(&v)
            }
            "request_id" | "requestId" | "x_request_id" | "correlation_id" | "req_id" => {
                self.request_id = v.text()
            }
            "method" | "request_method" => self.method = v.text(),
            "path" | "request_path" | "url_path" => self.path = v.text(),
            "host" | "http_host" => self.host = v.text(),
            "status_code" | "status" => self.status = v.int().and_then(|s| u16::try_from(s).ok()),
            "exc_info" | "exc_text" | "exception" | "stack_trace" | "traceback" => {
                if let Some(t) = v.text() {
                    self.exception = exception_type(&t);
                }
            }
            _ => {}
        }
    }
}

/// A JSON object per line.
pub fn json_record(line: &[u8]) -> Option<Fields<'_>> {
    if line.first() != Some(&b'{') {
        return None;
    }
    let fields: Fields = crate::input::json_line(line).ok()?;
    (fields.message.is_some() || fields.method.is_some()).then_some(fields)
}

/// A record's fields, read from its object: each known name's value kept, the rest skipped.
impl<'de> Deserialize<'de> for Fields<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Fields<'de>, D::Error> {
        d.deserialize_map(FieldsVisitor)
    }
}

struct FieldsVisitor;

impl<'de> serde::de::Visitor<'de> for FieldsVisitor {
    type Value = Fields<'de>;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON log record")
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Fields<'de>, A::Error> {
        let mut fields = Fields::default();
        while let Some(Key(key)) = map.next_key()? {
            let value: Value<'de> = map.next_value()?;
            fields.set(&key, value);
        }
        Ok(fields)
    }
}

/// `key=value key="quoted \"value\""` pairs; needs a message or a level key to count.
pub fn logfmt_record(line: &[u8]) -> Option<Fields<'_>> {
    let text = std::str::from_utf8(line).ok()?;
    let first_eq = text.find('=')?;
    if first_eq == 0
        || !text[..first_eq]
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'.')
    {
        return None;
    }
    let mut fields = Fields::default();
    let mut rest = text;
    let mut pairs = 0;
    while !rest.is_empty() {
        rest = rest.trim_start_matches(' ');
        let eq = rest.find('=')?;
        let key = &rest[..eq];
        if key.is_empty()
            || !key
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'.')
        {
            return None;
        }
        rest = &rest[eq + 1..];
        let value: Cow<'_, str> = if let Some(q) = rest.strip_prefix('"') {
            let mut out = String::new();
            let mut escaped = false;
            let mut end = None;
            for (k, c) in q.char_indices() {
                match (escaped, c) {
                    (true, 'n') => out.push('\n'),
                    (true, c) => out.push(c),
                    (false, '\\') => {
                        escaped = true;
                        continue;
                    }
                    (false, '"') => {
                        end = Some(k);
                        break;
                    }
                    (false, c) => out.push(c),
                }
                escaped = false;
            }
            let end = end?;
            rest = &q[end + 1..];
            if out.len() == end {
                Cow::Borrowed(&q[..end])
            } else {
                Cow::Owned(out)
            }
        } else {
            let end = rest.find(' ').unwrap_or(rest.len());
            let v = &rest[..end];
            rest = &rest[end..];
            Cow::Borrowed(v)
        };
        let v = match value.parse::<i64>() {
            Ok(i) if !matches!(key, "msg" | "message" | "event" | "path" | "request_id") => {
                Value::Int(i)
            }
            _ => Value::Str(value),
        };
        fields.set(key, v);
        pairs += 1;
    }
    (pairs >= 2 && (fields.message.is_some() || fields.method.is_some())).then_some(fields)
}

/// Every kind of JSON value, and the edges of each: what a reading of one field's value is
/// tested on against serde's `#[serde(untagged)]` enum (here and in `edge::json`).
#[cfg(test)]
pub(crate) const JSON_VALUES: &[&str] = &[
    r#""plain""#,
    r#""esc\"aped \u00e9 \n""#,
    r#""""#,
    "0",
    "-0",
    "42",
    "-7",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775808",
    "18446744073709551615",
    "123456789012345678901234567890",
    "1.5",
    "1.0",
    "-0.0",
    "1e300",
    "2E-3",
    "true",
    "false",
    "null",
    "[]",
    r#"[1, "a", {"b": [null]}]"#,
    "{}",
    r#"{"a": {"b": 1}, "c": "d"}"#,
    "200",
    "30.0012",
    "1795837621.524",
    r#""200""#,
    r#"" 200 ""#,
    r#""2026-11-28T03:47:05.250Z""#,
    r#""\u0032\u0030\u0030""#,
    "[200]",
];

#[cfg(test)]
mod tests {
    use super::*;

    /// The value as serde's `#[serde(untagged)]` reads it: the reference [`Value`] must agree
    /// with.
    #[derive(Deserialize, Debug)]
    #[serde(untagged)]
    enum Untagged<'a> {
        #[serde(borrow)]
        Str(Cow<'a, str>),
        Int(i64),
        Float(f64),
        Other(serde::de::IgnoredAny),
    }

    /// Every kind of JSON value, and the edges of each: the same value as the untagged enum
    /// reads, borrowed from the line exactly when it borrows; and the rest of the record read
    /// alike after it (a nested object or array is skipped whole).
    #[test]
    fn values_are_read_as_an_untagged_enum_reads_them() {
        for json in JSON_VALUES {
            let pair = format!(r#"["x", {json}]"#);
            let ours: (Cow<str>, Value) = serde_json::from_str(&pair).unwrap();
            let theirs: (Cow<str>, Untagged) = serde_json::from_str(&pair).unwrap();
            let same = match (&ours.1, &theirs.1) {
                (Value::Str(a), Untagged::Str(b)) => {
                    a == b && matches!(a, Cow::Borrowed(_)) == matches!(b, Cow::Borrowed(_))
                }
                (Value::Int(a), Untagged::Int(b)) => a == b,
                (Value::Float(a), Untagged::Float(b)) => a.to_bits() == b.to_bits(),
                (Value::Other, Untagged::Other(_)) => true,
                _ => false,
            };
            assert!(same, "{json}: {:?} against {:?}", ours.1, theirs.1);
            let record = format!(r#"{{"x": {json}, "message": "after"}}"#);
            let fields = json_record(record.as_bytes()).expect(&record);
            assert_eq!(fields.message.as_deref(), Some("after"), "{record}");
        }
    }

    #[test]
    fn python_json_logger_record() {
        let f = json_record(
            br#"{"asctime": "2026-11-28 03:10:00,123", "levelname": "INFO", "name": "djapp", "process": 41, "thread": 1401, "message": "RESPONSE: GET /x -> 200", "request_id": "ab12"}"#,
        )
        .unwrap();
        assert_eq!(f.message.as_deref(), Some("RESPONSE: GET /x -> 200"));
        assert_eq!(
            (f.pid, f.thread, f.level),
            (Some(41), Some(1401), Some(Level::Info))
        );
        assert_eq!(f.request_id.as_deref(), Some("ab12"));
        assert_eq!(f.time.unwrap().to_rfc3339(), "2026-11-28T03:10:00.123Z");
    }

    #[test]
    fn structlog_style_fields_and_escapes() {
        let f = json_record(
            br#"{"event": "request_finished", "level": "info", "pid": "7", "method": "GET", "path": "/a\"b", "status_code": 502, "timestamp": "2026-11-28T03:10:00.5Z", "exc_info": "Traceback (most recent call last):\n  File \"x\"\nValueError: bad"}"#,
        )
        .unwrap();
        assert_eq!(f.path.as_deref(), Some("/a\"b"));
        assert_eq!((f.status, f.pid), (Some(502), Some(7)));
        assert_eq!(f.exception.as_deref(), Some("ValueError"));
        assert!(json_record(br#"{"log":"x"}"#).is_none());
        assert!(json_record(b"{not json").is_none());
        assert!(json_record(br#"{"message": "a"} trailing"#).is_none());
    }

    #[test]
    fn logfmt_records() {
        let f = logfmt_record(br#"time=2026-11-28T03:10:00Z level=warning pid=9 msg="Not Found: /nope" request_id=r1"#)
            .unwrap();
        assert_eq!(f.message.as_deref(), Some("Not Found: /nope"));
        assert_eq!((f.pid, f.level), (Some(9), Some(Level::Warning)));
        assert_eq!(f.request_id.as_deref(), Some("r1"));
        let f = logfmt_record(br#"level=info msg="say \"hi\"""#).unwrap();
        assert_eq!(f.message.as_deref(), Some("say \"hi\""));
        assert!(logfmt_record(b"just words = here").is_none());
        assert!(logfmt_record(b"a=1").is_none());
        assert!(logfmt_record(br#"level=info msg="unterminated"#).is_none());
    }
}
