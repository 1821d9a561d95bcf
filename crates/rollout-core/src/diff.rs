//! Unified diffs of pod templates, rendered as YAML without bookkeeping.

use serde_json::Value;
use similar::TextDiff;

use crate::template;

/// Two templates prepared for comparison.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateDiff {
    pub from_label: String,
    pub to_label: String,
    /// The normalized `from` template as YAML.
    pub from_yaml: String,
    /// The normalized `to` template as YAML.
    pub to_yaml: String,
}

impl TemplateDiff {
    /// Whether the two templates have the same content.
    pub fn is_empty(&self) -> bool {
        self.from_yaml == self.to_yaml
    }

    /// The unified diff, three lines of context, empty when the templates are the same.
    pub fn unified(&self) -> String {
        if self.is_empty() {
            return String::new();
        }
        TextDiff::from_lines(&self.from_yaml, &self.to_yaml)
            .unified_diff()
            .context_radius(3)
            .header(&self.from_label, &self.to_label)
            .to_string()
    }
}

/// Compares two pod templates as content.
pub fn diff_templates(
    from: &Value,
    from_label: impl Into<String>,
    to: &Value,
    to_label: impl Into<String>,
) -> TemplateDiff {
    compare(
        template::normalize,
        (from, from_label.into()),
        (to, to_label.into()),
    )
}

/// Compares two pod templates as they are written, revert markers included; only the
/// controllers' hash labels are left out.
pub fn diff_raw(
    from: &Value,
    from_label: impl Into<String>,
    to: &Value,
    to_label: impl Into<String>,
) -> TemplateDiff {
    compare(
        template::without_hashes,
        (from, from_label.into()),
        (to, to_label.into()),
    )
}

fn compare(
    prepare: fn(&Value) -> Value,
    (from, from_label): (&Value, String),
    (to, to_label): (&Value, String),
) -> TemplateDiff {
    TemplateDiff {
        from_label,
        to_label,
        from_yaml: template::to_yaml(&prepare(from)),
        to_yaml: template::to_yaml(&prepare(to)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn template(image: &str, hash: &str) -> Value {
        json!({
            "metadata": {"labels": {"app": "a", "pod-template-hash": hash}},
            "spec": {"containers": [{"name": "nginx", "image": image}]},
        })
    }

    #[test]
    fn shows_the_changed_image_only() {
        let diff = diff_templates(
            &template("nginx:1.17", "1"),
            "revision 2",
            &template("nginx:1.18", "2"),
            "revision 3",
        );
        insta::assert_snapshot!(diff.unified(), @r"
        --- revision 2
        +++ revision 3
        @@ -3,5 +3,5 @@
             app: a
         spec:
           containers:
        -  - image: nginx:1.17
        +  - image: nginx:1.18
             name: nginx
        ");
    }

    #[test]
    fn same_content_is_empty() {
        let diff = diff_templates(&template("x", "1"), "a", &template("x", "2"), "b");
        assert!(diff.is_empty());
        assert_eq!(diff.unified(), "");
    }
}
