//! Defaults that stick: what a workload's template holds after `kubectl apply` of a manifest
//! over an earlier template.
//!
//! The API server defaults only the fields a request leaves unset, and `kubectl apply` sends
//! only what the manifest changed since the last apply. So a field the manifest leaves unset
//! keeps what the live object held before, when the server had filled it in: an init container
//! moved from `busybox:latest` to `busybox:1.38.0@sha256:...` keeps `imagePullPolicy: Always`
//! (a fresh object gets `IfNotPresent`), and a manifest that drops `serviceAccountName: default`
//! keeps it, refilled from the deprecated `serviceAccount` the server had mirrored it into.

use serde_json::Value;

use crate::schema::{Shape, shape};

/// Whether the live template `live` is what applying a manifest's template over `previous` (the
/// template of the revision before) gives: equal to `stored` (the manifest's template as the
/// server stores a fresh one, [`super::pod_template`]) in every field `written` (the manifest's
/// template as written) sets, and in every other field equal to either `stored` (the fresh
/// default, or nothing) or `previous` (what the server kept). A field neither explains, such as a
/// hand-made change, makes it false. Templates are compared with their bookkeeping removed.
pub fn explains(written: &Value, stored: &Value, live: &Value, previous: &Value) -> bool {
    let mut path = String::new();
    walk(
        &mut path,
        Some(written),
        Some(stored),
        Some(live),
        Some(previous),
    )
}

/// The values at one path: as written, stored fresh, live, and in the revision before.
fn walk(
    path: &mut String,
    written: Option<&Value>,
    stored: Option<&Value>,
    live: Option<&Value>,
    previous: Option<&Value>,
) -> bool {
    let Some(written) = written.filter(|w| !w.is_null()) else {
        return live == stored || live == previous;
    };
    match (written, stored, live) {
        (Value::Object(w), Some(Value::Object(s)), Some(Value::Object(l))) => {
            let p = previous.and_then(Value::as_object);
            // The keys of a free-form map are data: the schema names its values `path{}`.
            let map = shape(path) == Some(Shape::Map);
            let extra = l.keys().filter(|k| !s.contains_key(*k));
            s.keys().chain(extra).all(|key| {
                let len = path.len();
                if map {
                    path.push_str("{}");
                } else {
                    if !path.is_empty() {
                        path.push('.');
                    }
                    path.push_str(key);
                }
                let before = p.and_then(|p| p.get(key));
                let ok = walk(path, w.get(key), s.get(key), l.get(key), before);
                path.truncate(len);
                ok
            })
        }
        (Value::Array(w), Some(Value::Array(s)), Some(Value::Array(l))) => {
            let keys = match shape(path) {
                Some(Shape::KeyedList { keys, .. }) => keys,
                _ => return l == s,
            };
            let p = previous.and_then(Value::as_array);
            let len = path.len();
            path.push_str("[]");
            let ok = keyed_list(path, keys, w, s, l, p);
            path.truncate(len);
            ok
        }
        _ => live == stored,
    }
}

/// A keyed list the manifest sets: every item it writes is live, in its order, and explained
/// item by item; a live item it does not write must be the revision before's (kept by apply).
fn keyed_list(
    path: &mut String,
    keys: &[&str],
    written: &[Value],
    stored: &[Value],
    live: &[Value],
    previous: Option<&Vec<Value>>,
) -> bool {
    let stored_keys: Vec<Vec<&Value>> = stored.iter().map(|i| key_of(keys, i)).collect();
    let live_written: Vec<Vec<&Value>> = live
        .iter()
        .map(|i| key_of(keys, i))
        .filter(|k| stored_keys.contains(k))
        .collect();
    // `stored` is `written` defaulted: the same items in the same order.
    if written.len() != stored.len() || live_written != stored_keys {
        return false;
    }
    live.iter().all(|item| {
        let key = key_of(keys, item);
        let before = previous.and_then(|p| p.iter().find(|i| key_of(keys, i) == key));
        match stored_keys.iter().position(|k| *k == key) {
            Some(i) => walk(
                path,
                Some(&written[i]),
                Some(&stored[i]),
                Some(item),
                before,
            ),
            None => before == Some(item),
        }
    })
}

/// The values of an item's merge keys; a missing one is null.
fn key_of<'v>(keys: &[&str], item: &'v Value) -> Vec<&'v Value> {
    keys.iter()
        .map(|k| item.get(*k).unwrap_or(&Value::Null))
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::defaults::pod_template;
    use crate::template::normalized;

    /// The live templates of the captured scenario, by revision: `kubectl apply` of an init
    /// container on `busybox:latest` with `serviceAccountName: default` (1), of the same pinned
    /// by digest without the account (2), then `kubectl set env HANDMADE=1` (3).
    fn captured() -> Vec<Value> {
        let fixture: Value = serde_json::from_str(include_str!(
            "../../../kubectl-gitrollout/tests/fixtures/deployment-kept-defaults.json"
        ))
        .unwrap();
        let mut revisions: Vec<(u64, Value)> = fixture["owned"]
            .as_array()
            .unwrap()
            .iter()
            .map(|rs| {
                let number = rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"]
                    .as_str()
                    .unwrap()
                    .parse()
                    .unwrap();
                (number, normalized(rs["spec"]["template"].clone()))
            })
            .collect();
        revisions.sort_by_key(|(number, _)| *number);
        revisions
            .into_iter()
            .map(|(_, template)| template)
            .collect()
    }

    /// The manifests' templates, as the fixture scenario wrote them (`kept_defaults_manifest`).
    fn written(init_image: &str, account: bool) -> Value {
        let mut template = json!({
            "metadata": {"labels": {"app": "team-app"}},
            "spec": {
                "containers": [{"name": "nginx", "image": "nginx:1.16"}],
                "initContainers": [{"name": "init", "image": init_image, "command": ["true"]}],
            },
        });
        if account {
            template["spec"]["serviceAccountName"] = json!("default");
        }
        template
    }

    const PINNED: &str = "busybox:1.38.0@sha256:\
        0000000000000000000000000000000000000000000000000000000000000000";

    fn check(written: &Value, live: &Value, previous: &Value) -> bool {
        let stored = pod_template(written.clone());
        explains(written, &stored, live, previous)
    }

    #[test]
    fn the_server_keeps_a_pull_policy_and_an_account_the_manifest_no_longer_sets() {
        let live = captured();
        let (first, second) = (written("busybox:latest", true), written(PINNED, false));
        // A fresh object from the second manifest differs from what the server kept.
        let fresh = pod_template(second.clone());
        assert_eq!(
            fresh["spec"]["initContainers"][0]["imagePullPolicy"],
            "IfNotPresent"
        );
        assert_eq!(fresh["spec"].get("serviceAccountName"), None);
        assert_eq!(
            live[1]["spec"]["initContainers"][0]["imagePullPolicy"],
            "Always"
        );
        assert_eq!(live[1]["spec"]["serviceAccountName"], "default");
        assert_ne!(fresh, live[1]);
        assert!(check(&second, &live[1], &live[0]));
        // The first manifest made revision 1, and explains no other.
        assert_eq!(pod_template(first.clone()), live[0]);
        assert!(!check(&first, &live[1], &live[0]));
        assert!(!check(&first, &live[2], &live[1]));
    }

    #[test]
    fn a_hand_made_change_is_explained_by_no_manifest() {
        let live = captured();
        assert!(!check(&written(PINNED, false), &live[2], &live[1]));
        // Nor is a kept value where the revision before had another one.
        let mut other = live[0].clone();
        other["spec"]["initContainers"][0]["imagePullPolicy"] = json!("Never");
        other["spec"]["serviceAccountName"] = json!("builder");
        other["spec"]["serviceAccount"] = json!("builder");
        assert!(!check(&written(PINNED, false), &live[1], &other));
    }

    #[test]
    fn what_the_manifest_sets_must_be_live() {
        let written = json!({"spec": {"containers": [
            {"name": "a", "image": "a:1", "imagePullPolicy": "IfNotPresent",
             "ports": [{"containerPort": 80}]}]}});
        let stored = pod_template(written.clone());
        let mut previous = stored.clone();
        previous["spec"]["containers"][0]["imagePullPolicy"] = json!("Always");
        // The manifest sets the policy: the revision before's cannot stick.
        let mut live = stored.clone();
        live["spec"]["containers"][0]["imagePullPolicy"] = json!("Always");
        assert!(!explains(&written, &stored, &live, &previous));
        assert!(explains(&written, &stored, &stored, &previous));
        // A container kept from the revision before (apply leaves what it never wrote).
        let sidecar = json!({"name": "b", "image": "b:1"});
        previous["spec"]["containers"]
            .as_array_mut()
            .unwrap()
            .push(sidecar.clone());
        let mut kept = stored.clone();
        kept["spec"]["containers"]
            .as_array_mut()
            .unwrap()
            .push(sidecar);
        assert!(explains(&written, &stored, &kept, &previous));
        // One the manifest writes missing, or the order of what it writes changed: not its.
        let mut missing = stored.clone();
        missing["spec"]["containers"][0]["ports"] = json!([]);
        assert!(!explains(&written, &stored, &missing, &previous));
        let mut reordered = kept.clone();
        reordered["spec"]["containers"]
            .as_array_mut()
            .unwrap()
            .reverse();
        let mut two = written.clone();
        two["spec"]["containers"]
            .as_array_mut()
            .unwrap()
            .push(json!({"name": "b", "image": "b:1"}));
        let two_stored = pod_template(two.clone());
        assert!(!explains(&two, &two_stored, &reordered, &previous));
    }
}
