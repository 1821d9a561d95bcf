//! Reading manifests as serde-saphyr reads them, about twice as fast for the plain YAML that
//! manifests are made of.
//!
//! serde-saphyr turns every node into a `serde_json::Value` through serde's visitors, and that
//! costs more than its parser: the parser alone takes under half the time (measured on a
//! 17.7 KB Argo CD Deployment, the document the git-mapping benchmark parses most). So
//! [`documents`] builds the values from the parser's events itself, for the YAML whose meaning
//! is beyond doubt: string keys, quoted and block scalars, and plain scalars that are plainly
//! strings, `true`/`false`, null, or decimal integers. Anything else (anchors, aliases, tags,
//! merge keys, duplicate keys, other number, boolean or timestamp spellings, a `%YAML`
//! directive, a parse error, more than a budget's worth of nodes or depth) hands the whole text
//! to serde-saphyr, so values, budgets and errors stay serde-saphyr's.

use std::borrow::Cow;

use granit_parser::{Event, Parser, ScalarStyle};
use serde_json::{Map, Value};

/// Deeper than any manifest nests, and well inside serde-saphyr's depth budget.
const MAX_DEPTH: usize = 48;
/// Events (a node each, or a document's bounds); well inside serde-saphyr's node budget.
const MAX_EVENTS: usize = 100_000;
/// Documents in one text; inside serde-saphyr's budget of 1,024.
const MAX_DOCUMENTS: usize = 512;

/// How manifests are read: as kubectl reads them (`sigs.k8s.io/yaml`, on go-yaml v2, a YAML 1.1
/// reader), so `defaultMode: 0644` is the octal 420 the API server is sent, and `yes` is true;
/// with serde-saphyr's budget against alias bombs and oversized documents, as manifests come
/// from anyone's repository.
fn options() -> serde_saphyr::Options {
    let mut options = serde_saphyr::Options::default();
    options.legacy_octal_numbers = true;
    options.with_snippet = false;
    // A workload's document replays a few thousand events at most, aliases included.
    options.alias_limits.max_total_replayed_events = 100_000;
    options
}

/// The documents of `text`, empty ones left out, exactly as [`serde_saphyr_documents`] reads
/// them.
pub fn documents(text: &str) -> Result<Vec<Value>, String> {
    plain_documents(text).map_or_else(|| serde_saphyr_documents(text), Ok)
}

/// The documents of `text`, empty ones left out, as serde-saphyr reads them with [`options`]:
/// the reference [`documents`] is checked against.
pub fn serde_saphyr_documents(text: &str) -> Result<Vec<Value>, String> {
    serde_saphyr::from_multiple_with_options(text, options()).map_err(|e| e.to_string())
}

/// A collection being built: a sequence, or a mapping and the key whose value comes next.
enum Frame {
    Sequence(Vec<Value>),
    Mapping(Map<String, Value>, Option<String>),
}

/// The documents of `text` if every node in it has one certain meaning; `None` leaves the text
/// to serde-saphyr.
pub fn plain_documents(text: &str) -> Option<Vec<Value>> {
    let mut builder = Builder::default();
    for (events, event) in Parser::new_from_str(text).enumerate() {
        if events >= MAX_EVENTS {
            return None;
        }
        builder.take(event.ok()?.0)?;
    }
    builder.stack.is_empty().then_some(builder.documents)
}

/// Values built from a parser's events.
#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    documents: Vec<Value>,
    starts: usize,
}

impl Builder {
    /// Takes one event; `None` when its meaning is not certain.
    fn take(&mut self, event: Event) -> Option<()> {
        let value = match event {
            Event::Scalar(text, style, anchor, tag) => {
                if anchor != 0 || tag.is_some() {
                    return None;
                }
                if let Some(Frame::Mapping(_, key @ None)) = self.stack.last_mut() {
                    *key = Some(key_text(text, style)?);
                    return Some(());
                }
                scalar(text, style)?
            }
            Event::SequenceStart(_, anchor, tag) => {
                return self.open(anchor, tag, Frame::Sequence(Vec::new()));
            }
            Event::MappingStart(_, anchor, tag) => {
                return self.open(anchor, tag, Frame::Mapping(Map::new(), None));
            }
            Event::SequenceEnd => match self.stack.pop()? {
                Frame::Sequence(items) => Value::Array(items),
                Frame::Mapping(..) => return None,
            },
            Event::MappingEnd => match self.stack.pop()? {
                Frame::Mapping(map, None) => Value::Object(map),
                _ => return None,
            },
            Event::DocumentStart(_, version) => {
                self.starts += 1;
                return (version.is_none() && self.starts <= MAX_DOCUMENTS).then_some(());
            }
            Event::Alias(_) | Event::Anchor(..) | Event::UnresolvedAlias(_) => return None,
            _ => return Some(()),
        };
        self.place(value)
    }

    /// Opens a collection, unless it is a key, has an anchor or a tag, or nests too deep.
    fn open<T>(&mut self, anchor: usize, tag: Option<T>, frame: Frame) -> Option<()> {
        let key = matches!(self.stack.last(), Some(Frame::Mapping(_, None)));
        if anchor != 0 || tag.is_some() || key || self.stack.len() >= MAX_DEPTH {
            return None;
        }
        self.stack.push(frame);
        Some(())
    }

    /// Puts a finished value in its collection, or its document.
    fn place(&mut self, value: Value) -> Option<()> {
        match self.stack.last_mut() {
            None if value.is_null() => {}
            None => self.documents.push(value),
            Some(Frame::Sequence(items)) => items.push(value),
            Some(Frame::Mapping(map, key)) => {
                if map.insert(key.take()?, value).is_some() {
                    return None;
                }
            }
        }
        Some(())
    }
}

/// A mapping key: any quoted or block scalar, or a plain one that is plainly a string and not
/// the merge key `<<`.
fn key_text(text: Cow<str>, style: ScalarStyle) -> Option<String> {
    match style {
        ScalarStyle::Plain if !plain_string(&text) || text == "<<" => None,
        _ => Some(text.into_owned()),
    }
}

/// A value scalar, when its meaning is certain.
fn scalar(text: Cow<str>, style: ScalarStyle) -> Option<Value> {
    if style != ScalarStyle::Plain || plain_string(&text) || digits_then_text(&text) {
        return Some(Value::String(text.into_owned()));
    }
    match &*text {
        "" | "~" | "null" | "Null" | "NULL" => Some(Value::Null),
        "true" => Some(Value::Bool(true)),
        "false" => Some(Value::Bool(false)),
        other => decimal(other).map(Value::from),
    }
}

/// A plain scalar that can only be a string: it does not start as a number, a null (`~`) or a
/// float (`.inf`) does, and is none of YAML 1.1's boolean or null words.
fn plain_string(text: &str) -> bool {
    let reserved = ["y", "yes", "n", "no", "true", "false", "on", "off", "null"];
    text.as_bytes()
        .first()
        .is_some_and(|b| !b"0123456789+-.~".contains(b))
        && !(text.len() <= 5 && reserved.iter().any(|w| text.eq_ignore_ascii_case(w)))
}

/// A plain scalar that starts as a number does but cannot be one: a letter after the sign, a
/// second `.`, or a character no number, radix, exponent or sexagesimal has. Spellings of
/// infinity and NaN are left to serde-saphyr.
fn digits_then_text(text: &str) -> bool {
    let numeric_start = text
        .as_bytes()
        .first()
        .is_some_and(|b| b"0123456789+-.".contains(b));
    let non_finite = |w: &[u8]| w.eq_ignore_ascii_case(b"inf") || w.eq_ignore_ascii_case(b"nan");
    if !numeric_start || text.as_bytes().windows(3).any(non_finite) {
        return false;
    }
    let unsigned = text.strip_prefix(['+', '-']).unwrap_or(text);
    unsigned
        .as_bytes()
        .first()
        .is_some_and(u8::is_ascii_alphabetic)
        || text.bytes().filter(|&b| b == b'.').count() > 1
        || text
            .bytes()
            .any(|b| !(b.is_ascii_hexdigit() || b"xXoO_+-.:".contains(&b)))
}

/// A decimal integer without a sign other than `-`, a leading zero (YAML 1.1's octal) or
/// enough digits to overflow.
fn decimal(text: &str) -> Option<i64> {
    let digits = text.strip_prefix('-').unwrap_or(text);
    let plain = !digits.is_empty()
        && digits.len() <= 18
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !(digits.len() > 1 && digits.starts_with('0'));
    plain.then(|| text.parse().ok()).flatten()
}

#[cfg(test)]
mod tests;
