//! An RTCStatsReport as JSON (W3C webrtc-stats): a map from stats id to an object with `id`,
//! `type`, `timestamp` (milliseconds since the Unix epoch) and the type's members. The
//! session fills a `Report` from every layer's figures (`session/stats.rs`); this module only
//! holds and renders them, so the JSON is well formed whatever the strings contain.

use std::fmt::Write;

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Str(String),
    Int(i64),
    Num(f64),
    Bool(bool),
}

impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Str(v.to_string())
    }
}
impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Str(v)
    }
}
impl From<u64> for Value {
    fn from(v: u64) -> Self {
        Value::Int(v.min(i64::MAX as u64) as i64)
    }
}
impl From<u32> for Value {
    fn from(v: u32) -> Self {
        Value::Int(v as i64)
    }
}
impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}
impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Num(v)
    }
}
impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Bool(v)
    }
}

/// One RTCStats object.
#[derive(Debug, Clone)]
pub struct Stats {
    pub id: String,
    pub kind: &'static str,
    pub members: Vec<(&'static str, Value)>,
}

impl Stats {
    pub fn set(&mut self, name: &'static str, v: impl Into<Value>) -> &mut Self {
        self.members.push((name, v.into()));
        self
    }
    pub fn set_opt<V: Into<Value>>(&mut self, name: &'static str, v: Option<V>) -> &mut Self {
        if let Some(v) = v {
            self.members.push((name, v.into()));
        }
        self
    }
}

#[derive(Debug, Default)]
pub struct Report {
    pub timestamp_ms: f64,
    pub entries: Vec<Stats>,
}

impl Report {
    pub fn new(timestamp_ms: f64) -> Self {
        Report { timestamp_ms, entries: Vec::new() }
    }

    /// Adds an object of `kind` (`"inbound-rtp"`...) with `id`; returns it to fill.
    pub fn add(&mut self, id: impl Into<String>, kind: &'static str) -> &mut Stats {
        self.entries.push(Stats { id: id.into(), kind, members: Vec::new() });
        self.entries.last_mut().expect("just pushed")
    }

    pub fn to_json(&self) -> String {
        let mut s = String::with_capacity(256 * (self.entries.len() + 1));
        s.push('{');
        for (i, e) in self.entries.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            string(&mut s, &e.id);
            s.push_str(":{\"id\":");
            string(&mut s, &e.id);
            s.push_str(",\"type\":");
            string(&mut s, e.kind);
            let _ = write!(s, ",\"timestamp\":{}", number(self.timestamp_ms));
            for (k, v) in &e.members {
                s.push(',');
                string(&mut s, k);
                s.push(':');
                match v {
                    Value::Str(x) => string(&mut s, x),
                    Value::Int(x) => {
                        let _ = write!(s, "{x}");
                    }
                    Value::Num(x) => s.push_str(&number(*x)),
                    Value::Bool(x) => s.push_str(if *x { "true" } else { "false" }),
                }
            }
            s.push('}');
        }
        s.push('}');
        s
    }
}

/// A JSON number (a non-finite one, which JSON cannot hold, as 0).
fn number(x: f64) -> String {
    if x.is_finite() {
        format!("{x}")
    } else {
        "0".to_string()
    }
}

fn string(s: &mut String, v: &str) {
    s.push('"');
    for c in v.chars() {
        match c {
            '"' => s.push_str("\\\""),
            '\\' => s.push_str("\\\\"),
            '\n' => s.push_str("\\n"),
            '\r' => s.push_str("\\r"),
            '\t' => s.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(s, "\\u{:04x}", c as u32);
            }
            c => s.push(c),
        }
    }
    s.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_escaped_json() {
        let mut r = Report::new(1.5);
        r.add("DC1", "data-channel").set("label", "a\"b\\c\n\u{1}").set("messagesSent", 3u64).set("x", f64::NAN).set("ok", true);
        assert_eq!(
            r.to_json(),
            "{\"DC1\":{\"id\":\"DC1\",\"type\":\"data-channel\",\"timestamp\":1.5,\"label\":\"a\\\"b\\\\c\\n\\u0001\",\"messagesSent\":3,\"x\":0,\"ok\":true}}"
        );
        assert_eq!(Report::new(0.0).to_json(), "{}");
    }
}
