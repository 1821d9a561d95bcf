//! `-o jsonpath=TEMPLATE`, kubectl's template form over the `-o json` document: text, `{EXPR}`
//! actions, `{range EXPR}...{end}` and string literals such as `{"\n"}`. Expressions are JSONPath
//! (RFC 9535, evaluated by `jsonpath-rust`) written as kubectl writes them: `.revisions[*].revision`
//! starts at the current object (the document, or the item of the enclosing `range`), `$` at the
//! document; filters as `[?(@.current==true)]`. Several results of one action are joined by a
//! space; strings print raw, other values as JSON. A template without `{` is one expression.

use jsonpath_rust::JsonPath;
use jsonpath_rust::parser::parse_json_path;
use serde_json::Value;

/// A parsed template, checked when the flag is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonPathTemplate {
    nodes: Vec<Node>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Node {
    Text(String),
    Expr(Expr),
    Range(Expr, Vec<Node>),
}

/// A JSONPath expression, rooted at the document (`$...`) or at the current object.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Expr {
    /// In RFC 9535 form, starting with `$`.
    path: String,
    from_root: bool,
}

impl JsonPathTemplate {
    /// Parses a template, so a malformed one is bad usage before any request.
    pub fn parse(template: &str) -> Result<Self, String> {
        let bad = |why: &str| format!("jsonpath template {template:?}: {why}");
        let template_text = if template.contains('{') {
            template.to_owned()
        } else {
            format!("{{{template}}}")
        };
        let mut stack: Vec<(Option<Expr>, Vec<Node>)> = vec![(None, Vec::new())];
        for piece in split(&template_text).map_err(|e| bad(&e))? {
            let Piece::Action(action) = piece else {
                if let (Piece::Text(text), Some((_, nodes))) = (piece, stack.last_mut()) {
                    nodes.push(Node::Text(text));
                }
                continue;
            };
            let action = action.trim();
            if action == "end" {
                // Only the outermost frame has no range, so a popped range has a parent.
                match stack.pop() {
                    Some((Some(expr), body)) => push(&mut stack, Node::Range(expr, body)),
                    _ => return Err(bad("{end} without {range ...}")),
                }
            } else if let Some(expr) = action.strip_prefix("range ") {
                stack.push((Some(Expr::parse(expr).map_err(|e| bad(&e))?), Vec::new()));
            } else if let Some(text) = literal(action) {
                push(&mut stack, Node::Text(text));
            } else {
                push(
                    &mut stack,
                    Node::Expr(Expr::parse(action).map_err(|e| bad(&e))?),
                );
            }
        }
        match stack.pop() {
            Some((None, nodes)) if stack.is_empty() => Ok(JsonPathTemplate { nodes }),
            _ => Err(bad("{range ...} without {end}")),
        }
    }

    /// The template applied to a document.
    pub fn render(&self, document: &Value) -> Result<String, String> {
        let mut out = String::new();
        render(&self.nodes, document, document, &mut out)?;
        Ok(out)
    }
}

fn push(stack: &mut [(Option<Expr>, Vec<Node>)], node: Node) {
    if let Some((_, nodes)) = stack.last_mut() {
        nodes.push(node);
    }
}

fn render(nodes: &[Node], root: &Value, current: &Value, out: &mut String) -> Result<(), String> {
    for node in nodes {
        match node {
            Node::Text(text) => out.push_str(text),
            Node::Expr(expr) => {
                let values: Vec<String> = expr.eval(root, current)?.iter().map(text).collect();
                out.push_str(&values.join(" "));
            }
            Node::Range(expr, body) => {
                for item in expr.eval(root, current)? {
                    render(body, root, item, out)?;
                }
            }
        }
    }
    Ok(())
}

fn text(value: &&Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

impl Expr {
    fn parse(expr: &str) -> Result<Self, String> {
        let expr = expr.trim();
        let (path, from_root) = match expr.as_bytes().first() {
            Some(b'$') => (expr.to_owned(), true),
            Some(b'@') => (format!("${}", &expr[1..]), false),
            Some(b'.' | b'[') => (format!("${expr}"), false),
            Some(_) => (format!("$.{expr}"), false),
            None => return Err("an empty {} action".into()),
        };
        // kubectl's filters are parenthesised, `[?(@.a==1)]`; RFC 9535 takes that as is.
        parse_json_path(&path)
            .map_err(|e| format!("{expr:?} is not a JSONPath expression: {e}"))?;
        Ok(Expr { path, from_root })
    }

    fn eval<'a>(&self, root: &'a Value, current: &'a Value) -> Result<Vec<&'a Value>, String> {
        let on = if self.from_root { root } else { current };
        on.query(&self.path)
            .map_err(|e| format!("{}: {e}", self.path))
    }
}

/// `"..."` or `'...'` with `\n`, `\t`, `\\` and quote escapes: the literal text.
fn literal(action: &str) -> Option<String> {
    let quote = action.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let inner = action.strip_prefix(quote)?.strip_suffix(quote)?;
    let mut text = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            text.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => text.push('\n'),
            Some('t') => text.push('\t'),
            Some('r') => text.push('\r'),
            Some(other) => text.push(other),
            None => text.push('\\'),
        }
    }
    Some(text)
}

#[derive(Debug, PartialEq)]
enum Piece {
    Text(String),
    Action(String),
}

/// Splits a template into text and `{...}` actions. A `}` inside quotes or brackets does not end
/// an action.
fn split(template: &str) -> Result<Vec<Piece>, String> {
    let mut pieces = Vec::new();
    let mut text = String::new();
    let mut chars = template.chars();
    while let Some(c) = chars.next() {
        if c != '{' {
            text.push(c);
            continue;
        }
        if !text.is_empty() {
            pieces.push(Piece::Text(std::mem::take(&mut text)));
        }
        let (mut action, mut quote, mut depth, mut closed) = (String::new(), None, 0u32, false);
        for c in chars.by_ref() {
            match (quote, c) {
                (Some(q), c) if c == q => quote = None,
                (Some(_), _) => {}
                (None, '"' | '\'') => quote = Some(c),
                (None, '[' | '(') => depth += 1,
                (None, ']' | ')') => depth = depth.saturating_sub(1),
                (None, '}') if depth == 0 => {
                    closed = true;
                    break;
                }
                _ => {}
            }
            action.push(c);
        }
        if !closed {
            return Err("a { without its }".into());
        }
        pieces.push(Piece::Action(action));
    }
    if !text.is_empty() {
        pieces.push(Piece::Text(text));
    }
    Ok(pieces)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn doc() -> Value {
        json!({
            "kind": "List",
            "items": [
                {"name": "a", "currentRevision": 3, "revisions": [
                    {"revision": 2, "current": false, "containers": [{"name": "nginx", "image": "nginx:1.17"}]},
                    {"revision": 3, "current": true, "containers": [{"name": "nginx", "image": "nginx:1.18"}]},
                ]},
                {"name": "b", "currentRevision": 1, "revisions": [
                    {"revision": 1, "current": true, "containers": [{"name": "db", "image": "pg:16"}]},
                ]},
            ],
        })
    }

    fn check(template: &str, expect: Result<&str, &str>) {
        let got = JsonPathTemplate::parse(template).and_then(|t| t.render(&doc()));
        match expect {
            Ok(text) => assert_eq!(got.as_deref(), Ok(text), "{template}"),
            Err(part) => {
                let err = got.expect_err(template);
                assert!(err.contains(part), "{template}: {err}");
            }
        }
    }

    #[test]
    fn expressions_as_kubectl_writes_them() {
        check("{.kind}", Ok("List"));
        check("{$.kind}", Ok("List"));
        check(".kind", Ok("List"));
        check("{.items[*].name}", Ok("a b"));
        check("{.items[0].revisions[*].revision}", Ok("2 3"));
        check(
            "{.items[1].revisions[0].containers[0]}",
            Ok(r#"{"image":"pg:16","name":"db"}"#),
        );
        check("{.items[?(@.name==\"b\")].currentRevision}", Ok("1"));
        check(
            "{.items[*].revisions[?(@.current==true)].revision}",
            Ok("3 1"),
        );
        check("{.nothing}", Ok(""));
        check("name: {.items[0].name}!", Ok("name: a!"));
    }

    #[test]
    fn ranges_and_literals() {
        check(
            r#"{range .items[*]}{.name}{"\t"}{.currentRevision}{"\n"}{end}"#,
            Ok("a\t3\nb\t1\n"),
        );
        check(
            r#"{range .items[*]}{.name}:{range .revisions[*]} {.revision}{end};{end}"#,
            Ok("a: 2 3;b: 1;"),
        );
        check(r#"{range .items[*]}{$.kind}{end}"#, Ok("ListList"));
    }

    #[test]
    fn malformed_templates_are_refused() {
        check("{.items", Err("a { without its }"));
        check("{range .items[*]}{.name}", Err("{range ...} without {end}"));
        check("{.name}{end}", Err("{end} without {range ...}"));
        check("{.items[?(@.name==)]}", Err("is not a JSONPath expression"));
        check("{}", Err("an empty {} action"));
    }
}
