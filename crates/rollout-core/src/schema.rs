//! How the Kubernetes API merges each list and map of a pod template, from its OpenAPI schema.
//!
//! The table is generated from the local control plane by `cargo xtask openapi` (see
//! `schema/table.rs`), so merge keys are never guessed and a new Kubernetes release regenerates
//! them. Paths are [`FieldPath::schema_path`](crate::FieldPath::schema_path)s from the
//! PodTemplateSpec's root: `spec.containers`, `spec.containers[].env`, `metadata.labels`.

mod table;

/// How the API merges the value at a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// An object with free-form keys (`additionalProperties`): labels, annotations, resource
    /// quantities.
    Map,
    /// A list whose items are identified by `keys` (`x-kubernetes-list-type: map` with its
    /// `x-kubernetes-list-map-keys`, else the `x-kubernetes-patch-merge-key`); strategic merge
    /// patches match items by `patch_merge_key`.
    KeyedList {
        keys: &'static [&'static str],
        patch_merge_key: Option<&'static str>,
    },
    /// A list of unique scalars (`x-kubernetes-list-type: set`).
    Set,
    /// A list replaced as a whole (`x-kubernetes-list-type: atomic`, or no list type).
    Atomic,
}

/// The shape of the list or map at `schema_path`; `None` for an object with fixed fields, a
/// scalar, or a path the schema does not know.
pub fn shape(schema_path: &str) -> Option<Shape> {
    let index = table::SHAPES
        .binary_search_by(|(path, _)| (*path).cmp(schema_path))
        .ok()?;
    Some(table::SHAPES[index].1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_sorted_and_knows_the_pod_template() {
        assert!(table::SHAPES.windows(2).all(|w| w[0].0 < w[1].0));
        let keyed = |keys, merge| {
            Some(Shape::KeyedList {
                keys,
                patch_merge_key: Some(merge),
            })
        };
        assert_eq!(shape("spec.containers"), keyed(&["name"], "name"));
        assert_eq!(shape("spec.initContainers"), keyed(&["name"], "name"));
        assert_eq!(shape("spec.containers[].env"), keyed(&["name"], "name"));
        assert_eq!(shape("spec.volumes"), keyed(&["name"], "name"));
        assert_eq!(
            shape("spec.containers[].volumeMounts"),
            keyed(&["mountPath"], "mountPath")
        );
        assert_eq!(
            shape("spec.containers[].ports"),
            keyed(&["containerPort", "protocol"], "containerPort")
        );
        assert_eq!(shape("spec.containers[].args"), Some(Shape::Atomic));
        assert_eq!(shape("spec.tolerations"), Some(Shape::Atomic));
        assert_eq!(shape("metadata.annotations"), Some(Shape::Map));
        assert_eq!(
            shape("spec.containers[].resources.limits"),
            Some(Shape::Map)
        );
        assert_eq!(shape("spec.containers[].image"), None);
    }
}
