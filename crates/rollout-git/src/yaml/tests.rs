use proptest::prelude::*;
use serde_json::{Value, json};

use super::{documents, plain_documents, serde_saphyr_documents};

/// A real manifest: Argo CD's workloads, captured from the control plane's apply of Argo CD's
/// install manifest.
const ARGOCD: &str =
    include_str!("../../../kubectl-gitrollout/tests/fixtures/argocd-workloads.yaml");

/// `documents` and serde-saphyr read `text` alike: the same values, or the same error.
fn assert_read_alike(text: &str) {
    let reference = serde_saphyr_documents(text);
    assert_eq!(documents(text), reference, "read differently: {text:?}");
    if let Some(fast) = plain_documents(text) {
        assert_eq!(Ok(fast), reference, "fast path differs: {text:?}");
    }
}

#[test]
fn plain_yaml_takes_the_fast_path_and_reads_as_serde_saphyr_reads_it() {
    let fast = [
        "nginx:1.17",
        "80",
        "-1",
        "0",
        "true",
        "false",
        "null",
        "~",
        "",
        "NULL",
        "'0644'",
        "\"yes\"",
        "1.2.3",
        "10m",
        "500Mi",
        "v1",
        "a b",
        "'~'",
        "\"\"",
        "|\n  text\n",
        ">-\n  folded\n",
        "Infinity",
        "nan",
        "inf",
        "Yes-really",
        "NO-WAY",
        "-e",
        "3g",
        "1.16-alpine",
        "123456789012345678",
    ];
    for scalar in fast {
        for text in [format!("v: {scalar}\n"), format!("- {scalar}\n")] {
            assert!(plain_documents(&text).is_some(), "slow path: {text:?}");
            assert_read_alike(&text);
        }
    }
    let keys = [
        "name",
        "'80'",
        "\"true\"",
        "app.kubernetes.io/name",
        "? |\n  block\n",
    ];
    for key in keys {
        let text = format!("{key}: v\n");
        assert!(plain_documents(&text).is_some(), "slow path: {text:?}");
        assert_read_alike(&text);
    }
    assert!(
        plain_documents(ARGOCD).is_some_and(|d| d.len() > 5),
        "the real manifest is slow"
    );
    assert_read_alike(ARGOCD);
}

#[test]
fn scalars_whose_meaning_is_a_matter_of_yaml_1_1_go_to_serde_saphyr() {
    let slow = [
        ("0644", json!(420)),
        ("yes", json!(true)),
        ("Off", json!(false)),
        ("y", json!(true)),
        ("True", json!(true)),
        ("1e3", json!(1000.0)),
        ("0x1F", json!(31)),
        ("1_000", json!(1000)),
        ("+1", json!(1)),
        (".5", json!(0.5)),
        ("1.5", json!(1.5)),
        ("-.inf", json!(null)),
        ("2001-12-14", json!("2001-12-14")),
        ("12:30", json!("12:30")),
        ("1234567890123456789", json!(1234567890123456789_u64)),
        ("+", json!("+")),
        (".", json!(".")),
    ];
    for (scalar, _) in &slow[..4] {
        let text = format!("{scalar}: v\n");
        assert!(plain_documents(&text).is_none(), "fast path: {text:?}");
        assert_read_alike(&text);
    }
    for (scalar, expected) in slow {
        let text = format!("v: {scalar}\n");
        let read = documents(&text).map(|d| d[0]["v"].clone());
        // `-.inf` is refused: JSON has no infinity.
        if scalar != "-.inf" {
            assert!(plain_documents(&text).is_none(), "fast path: {text:?}");
            assert_eq!(read, Ok(expected), "{text:?}");
        }
        assert_read_alike(&text);
    }
}

#[test]
fn structure_only_serde_saphyr_gives_a_meaning_to_goes_to_it() {
    let texts = [
        "a: &x 1\nb: *x\n",
        "base: &b {x: 1}\nuse:\n  <<: *b\n  y: 2\n",
        "use:\n  <<: {x: 1}\n  y: 2\n",
        "v: !!str 80\n",
        "v: !custom {a: 1}\n",
        "a: 1\na: 2\n",
        "%YAML 1.1\n---\nv: 1\n",
        "? [a, b]\n: v\n",
        "? {a: 1}\n: v\n",
        "v: [1, 2\n",
        "v: 'open\n",
        "v: 1\n  w: 2\n",
        "a:\n  - b\n c: 1\n",
    ];
    for text in texts {
        assert!(plain_documents(text).is_none(), "fast path: {text:?}");
        assert_read_alike(text);
    }
}

#[test]
fn documents_are_counted_as_serde_saphyr_counts_them() {
    for text in [
        "",
        "---\n",
        "---\n...\n",
        "---\n---\nv: 1\n---\n",
        "~\n---\nv: 1\n",
        "just text\n",
    ] {
        assert_read_alike(text);
    }
    assert_eq!(
        documents("---\n---\nv: 1\n---\n"),
        Ok(vec![json!({"v": 1})])
    );
    let many = "---\nv: 1\n".repeat(600);
    assert!(
        plain_documents(&many).is_none(),
        "over the fast path's document budget"
    );
    assert_read_alike(&many);
}

#[test]
fn depth_and_size_beyond_the_budget_go_to_serde_saphyr() {
    let deep = format!("{}1{}", "[".repeat(60), "]".repeat(60));
    assert!(plain_documents(&deep).is_none());
    assert_read_alike(&deep);
    let wide = format!("[{}]", "1, ".repeat(120_000));
    assert!(plain_documents(&wide).is_none());
    assert_read_alike(&wide);
}

/// A scalar's text from an alphabet that reaches every branch of the scalar rules.
fn scalar_text() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "0644",
            "yes",
            "no",
            "on",
            "off",
            "y",
            "n",
            "true",
            "false",
            "True",
            "null",
            "~",
            "",
            "1e3",
            "-.inf",
            ".nan",
            ".NaN",
            "0x1F",
            "0o17",
            "0b101",
            "1_000",
            "+1",
            "-1",
            ".5",
            "1.5",
            "12:30",
            "2001-12-14",
            "inf",
            "Infinity",
            "<<",
            "-",
            ".",
            "00",
            "-0",
            "0",
        ])
        .prop_map(str::to_owned),
        "[-+.0-9a-fA-FxXoO_:~ ]{0,8}",
        "[a-zA-Z0-9./:_-]{1,12}",
    ]
}

/// Rendered scalar: plain, quoted or block, so the same text reaches every style.
fn scalar(text: &str, style: u8, indent: usize) -> String {
    match style % 4 {
        0 => text.to_owned(),
        1 => format!("'{}'", text.replace('\'', "''")),
        2 => serde_json::to_string(text).expect("a string"),
        _ => format!("|-\n{}{text}", " ".repeat(indent + 2)),
    }
}

/// A YAML node of up to three levels, written in block style, with flow collections mixed in.
fn node() -> impl Strategy<Value = Value> {
    let leaf = (scalar_text(), any::<u8>()).prop_map(|(text, style)| json!([text, style]));
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(|items| json!({"seq": items})),
            prop::collection::vec((scalar_text(), any::<u8>(), inner), 0..4)
                .prop_map(|entries| json!({"map": entries})),
        ]
    })
}

fn render(node: &Value, indent: usize) -> String {
    let pad = " ".repeat(indent);
    match node {
        Value::Array(leaf) => scalar(
            leaf[0].as_str().unwrap_or(""),
            leaf[1].as_u64().unwrap_or(0) as u8,
            indent,
        ),
        Value::Object(collection) if collection.contains_key("seq") => {
            let items = collection["seq"].as_array().map_or(&[][..], Vec::as_slice);
            if items.is_empty() {
                return "[]".to_owned();
            }
            items
                .iter()
                .map(|item| format!("\n{pad}- {}", render(item, indent + 2)))
                .collect()
        }
        Value::Object(collection) => {
            let entries = collection["map"].as_array().map_or(&[][..], Vec::as_slice);
            if entries.is_empty() {
                return "{}".to_owned();
            }
            let entry = |e: &Value| {
                let key = scalar(
                    e[0].as_str().unwrap_or(""),
                    e[1].as_u64().unwrap_or(0) as u8 % 3,
                    indent,
                );
                format!("\n{pad}{key}: {}", render(&e[2], indent + 2))
            };
            entries.iter().map(entry).collect()
        }
        _ => String::new(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn generated_yaml_reads_as_serde_saphyr_reads_it(root in node(), documents in 1usize..3) {
        let text = format!("---{}\n", render(&root, 0)).repeat(documents);
        assert_read_alike(&text);
    }
}

/// Edits that change what a real manifest means: YAML 1.1 spellings, anchors, tags, merge keys,
/// directives, quoting and indentation.
fn edit() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        " &a",
        " *a",
        "<<: ",
        "!!str ",
        " !x",
        "0644",
        "yes",
        "~",
        "'",
        "\"",
        "\n",
        ": ",
        "- ",
        "{",
        "]",
        "#",
        "\t",
        " ",
        "%YAML 1.1\n---\n",
        "1e3",
        "0x1F",
        "? ",
        "|",
        ">",
        "...\n",
        "---\n",
        "\u{e9}",
        "\u{feff}",
    ])
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn an_edited_real_manifest_reads_as_serde_saphyr_reads_it(
        edits in prop::collection::vec((any::<prop::sample::Index>(), 0usize..4, edit()), 1..4),
    ) {
        let mut text = ARGOCD.to_owned();
        for (at, removed, inserted) in edits {
            let start = at.index(text.len());
            let start = (0..=start).rev().find(|&i| text.is_char_boundary(i)).unwrap_or(0);
            let end = (start + removed..=text.len()).find(|&i| text.is_char_boundary(i)).unwrap_or(text.len());
            text.replace_range(start..end, inserted);
        }
        assert_read_alike(&text);
    }
}
