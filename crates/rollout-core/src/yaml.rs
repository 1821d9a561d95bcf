//! YAML that every reader takes back as the JSON it came from.
//!
//! YAML 1.1 readers (PyYAML, and kubectl's go-yaml for some forms) resolve plain scalars such as
//! `yes`, `on`, `y`, `~`, `1_000`, `0x1F`, `2026-01-01`, `<<` or `=` to booleans, numbers, dates
//! and merge keys, and YAML 1.2 readers resolve others (`0o17`, `1e3`). So a string is written
//! plain only when it cannot be anything else to either: it starts with a letter, `_` or `/`,
//! holds only letters, digits, spaces and `-_./:@+=`, has no `: ` or ` #`, and is not one of the
//! boolean or null words in any case. Every other string is double-quoted, with every character
//! a YAML reader would not take literally escaped.

use serde_json::{Map, Value};

/// `value` as block YAML, strings quoted wherever a YAML 1.1 or 1.2 reader could misread them.
pub fn to_yaml(value: &Value) -> String {
    let mut out = String::new();
    block(value, 0, &mut out);
    out
}

fn block(value: &Value, indent: usize, out: &mut String) {
    match value {
        Value::Object(map) if !map.is_empty() => mapping(map, indent, false, out),
        Value::Array(items) if !items.is_empty() => {
            for item in items {
                pad(indent, out);
                out.push('-');
                match item {
                    Value::Object(map) if !map.is_empty() => {
                        out.push(' ');
                        mapping(map, indent + 2, true, out);
                    }
                    Value::Array(inner) if !inner.is_empty() => {
                        out.push('\n');
                        block(item, indent + 2, out);
                    }
                    scalar => {
                        out.push(' ');
                        out.push_str(&inline(scalar));
                        out.push('\n');
                    }
                }
            }
        }
        scalar => {
            pad(indent, out);
            out.push_str(&inline(scalar));
            out.push('\n');
        }
    }
}

/// The entries of a mapping at `indent`; the first one on the current line after `- `.
fn mapping(map: &Map<String, Value>, indent: usize, first_inline: bool, out: &mut String) {
    for (i, (key, value)) in map.iter().enumerate() {
        if i > 0 || !first_inline {
            pad(indent, out);
        }
        out.push_str(&string(key));
        out.push(':');
        match value {
            Value::Object(inner) if !inner.is_empty() => {
                out.push('\n');
                mapping(inner, indent + 2, false, out);
            }
            Value::Array(items) if !items.is_empty() => {
                out.push('\n');
                block(value, indent, out);
            }
            scalar => {
                out.push(' ');
                out.push_str(&inline(scalar));
                out.push('\n');
            }
        }
    }
}

fn pad(indent: usize, out: &mut String) {
    out.extend(std::iter::repeat_n(' ', indent));
}

/// A scalar, or an empty mapping or sequence, on one line.
fn inline(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => string(s),
        Value::Object(_) => "{}".to_owned(),
        Value::Array(_) => "[]".to_owned(),
    }
}

/// Words YAML 1.1 reads as booleans or null, compared in lowercase.
const WORDS: [&str; 9] = ["yes", "no", "true", "false", "on", "off", "y", "n", "null"];

/// Whether `text` can be written as a plain scalar and read back as this same string.
pub fn plain_is_safe(text: &str) -> bool {
    let Some(first) = text.chars().next() else {
        return false;
    };
    let allowed = |c: char| c.is_ascii_alphanumeric() || " -_./:@+=".contains(c);
    (first.is_ascii_alphabetic() || first == '_' || first == '/')
        && text.chars().all(allowed)
        && !text.contains(": ")
        && !text.contains(" #")
        && !text.ends_with([':', ' '])
        && !WORDS.contains(&text.to_ascii_lowercase().as_str())
}

/// A string, plain when that is safe, else double-quoted.
fn string(text: &str) -> String {
    if plain_is_safe(text) {
        return text.to_owned();
    }
    let mut quoted = String::with_capacity(text.len() + 2);
    quoted.push('"');
    for c in text.chars() {
        match c {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            '\n' => quoted.push_str("\\n"),
            '\t' => quoted.push_str("\\t"),
            // Control characters, and what YAML reads as a line break or a byte order mark.
            c if c.is_control()
                || matches!(
                    c,
                    '\u{2028}' | '\u{2029}' | '\u{feff}' | '\u{fffe}' | '\u{ffff}'
                ) =>
            {
                quoted.push_str(&format!("\\u{:04x}", u32::from(c)));
            }
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn quotes_what_yaml_would_read_as_another_type() {
        for text in [
            "yes",
            "No",
            "ON",
            "off",
            "y",
            "N",
            "~",
            "null",
            "True",
            "1_000",
            "0x1F",
            "0o17",
            "0777",
            "2026-01-01",
            "<<",
            "=",
            ".inf",
            "-.Inf",
            ".NaN",
            "1e3",
            "+1",
            "1:20",
            "",
            "-",
            " lead",
            "trail ",
            "a: b",
            "a #c",
            "#c",
            "[x]",
            "{x}",
            "*x",
            "&x",
            "!x",
            "|",
            ">",
            "'x'",
            "\"x\"",
            "%x",
            "@x",
            "`x`",
            "a\nb",
            "\u{1b}[31m",
            "é",
        ] {
            assert!(!plain_is_safe(text), "{text:?} must be quoted");
        }
        for text in [
            "nginx:1.17",
            "team-app",
            "release 1.17",
            "kubernetes.io/change-cause",
        ] {
            assert!(plain_is_safe(text), "{text:?} can be plain");
        }
    }

    #[test]
    fn writes_block_yaml() {
        let value = json!({
            "kind": "Deployment",
            "revisions": [
                {"revision": 1, "containers": [{"name": "nginx", "image": "nginx:1.17"}],
                 "env": {"A": "yes", "B": "0x1F"}, "empty": [], "none": null, "map": {}},
                [1, "2"],
            ],
            "cause": "fix\n\"quoted\" \\ \u{1b}\u{85}",
        });
        assert_eq!(
            to_yaml(&value),
            "cause: \"fix\\n\\\"quoted\\\" \\\\ \\u001b\\u0085\"\n\
             kind: Deployment\n\
             revisions:\n\
             - containers:\n  \
               - image: nginx:1.17\n    \
                 name: nginx\n  \
               empty: []\n  \
               env:\n    \
                 A: \"yes\"\n    \
                 B: \"0x1F\"\n  \
               map: {}\n  \
               none: null\n  \
               revision: 1\n\
             -\n  \
               - 1\n  \
               - \"2\"\n"
        );
    }
}
