//! Taking over an object last applied with client-side `kubectl apply`, as kubectl does when it
//! switches to server-side apply (`k8s.io/client-go/util/csaupgrade`, called from kubectl's
//! `migrateToSSAIfNecessary`).
//!
//! A client-side apply leaves the fields it set owned by an `Update` entry of the managed
//! fields; a server-side apply by another manager would leave them alone, so a field removed
//! from the manifest would stay on the object. The fields of every `Update` manager that owns
//! the `last-applied-configuration` annotation are moved into the applier's `Apply` entry
//! (renaming the client-side entry when the applier has none), so the next apply owns them and
//! removes what the manifest no longer sets.

use serde_json::{Map, Value};

/// kubectl's client-side apply records its configuration in this annotation.
pub const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// The field set path of [`LAST_APPLIED`] in a managed fields entry.
fn owns_last_applied(entry: &Value) -> bool {
    entry
        .pointer("/fieldsV1/f:metadata/f:annotations")
        .and_then(|annotations| annotations.get(format!("f:{LAST_APPLIED}")))
        .is_some()
}

fn is(entry: &Value, manager: &str, operation: &str) -> bool {
    entry.get("manager").and_then(Value::as_str) == Some(manager)
        && entry.get("operation").and_then(Value::as_str) == Some(operation)
        && entry
            .get("subresource")
            .is_none_or(|s| s.as_str() == Some(""))
}

/// The managers whose client-side applies own the object's last applied configuration.
pub fn client_side_appliers(managed_fields: &[Value]) -> Vec<String> {
    let mut managers: Vec<String> = managed_fields
        .iter()
        .filter(|e| e.get("operation").and_then(Value::as_str) == Some("Update"))
        .filter(|e| owns_last_applied(e))
        .filter_map(|e| Some(e.get("manager")?.as_str()?.to_owned()))
        .collect();
    managers.dedup();
    managers
}

/// Whether an `Apply` entry owns the last applied configuration (so it survives the takeover).
pub fn last_applied_kept(managed_fields: &[Value]) -> bool {
    managed_fields.iter().any(|e| {
        e.get("operation").and_then(Value::as_str) == Some("Apply") && owns_last_applied(e)
    })
}

/// The managed fields after `applier` takes over what `client_side` managers applied, or `None`
/// when there is nothing to take over.
pub fn upgrade(
    managed_fields: &[Value],
    client_side: &[String],
    applier: &str,
) -> Option<Vec<Value>> {
    let mut entries = managed_fields.to_vec();
    for manager in client_side {
        entries = upgrade_one(entries, manager, applier);
    }
    (entries != managed_fields).then_some(entries)
}

/// csaupgrade's `upgradedManagedFields` for one client-side manager.
fn upgrade_one(mut entries: Vec<Value>, client_side: &str, applier: &str) -> Vec<Value> {
    let target = match entries.iter().position(|e| is(e, applier, "Apply")) {
        Some(target) => target,
        None => {
            let Some(renamed) = entries.iter().position(|e| is(e, client_side, "Update")) else {
                return entries;
            };
            entries[renamed]["operation"] = Value::from("Apply");
            entries[renamed]["manager"] = Value::from(applier);
            renamed
        }
    };
    let api_version = entries[target].get("apiVersion").cloned();
    let client_fields = entries
        .iter()
        .find(|e| is(e, client_side, "Update") && e.get("apiVersion").cloned() == api_version)
        .and_then(|e| e.get("fieldsV1").cloned());
    if let Some(fields) = client_fields {
        let own = entries[target].as_object_mut().map(|e| {
            e.entry("fieldsV1")
                .or_insert_with(|| Value::Object(Map::new()))
        });
        if let Some(own) = own {
            union(own, &fields);
        }
    }
    entries.retain(|e| !is(e, client_side, "Update"));
    entries
}

/// Adds every path of the field set `other` to the field set `into` (each is a tree of
/// `f:`/`k:`/`v:`/`i:` keys, `.` marking the node itself).
fn union(into: &mut Value, other: &Value) {
    let (Some(into), Some(other)) = (into.as_object_mut(), other.as_object()) else {
        return;
    };
    for (key, value) in other {
        match into.get_mut(key) {
            Some(existing) => union(existing, value),
            None => {
                into.insert(key.clone(), value.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// What a `kubectl apply` (client-side) of a Deployment with an env variable leaves, and the
    /// controller's status entry, as the API server wrote them.
    fn client_side() -> Vec<Value> {
        serde_json::from_value(json!([
            {"manager": "kubectl-client-side-apply", "operation": "Update", "apiVersion": "apps/v1",
             "time": "2026-12-03T08:00:00Z", "fieldsType": "FieldsV1", "fieldsV1": {
                "f:metadata": {"f:annotations": {".": {}, "f:kubectl.kubernetes.io/last-applied-configuration": {}}},
                "f:spec": {"f:template": {"f:spec": {"f:containers": {"k:{\"name\":\"app\"}": {
                    ".": {}, "f:env": {".": {}, "k:{\"name\":\"DEBUG\"}": {".": {}, "f:name": {}, "f:value": {}}},
                    "f:image": {}, "f:name": {}}}}}}}},
            {"manager": "kube-controller-manager", "operation": "Update", "apiVersion": "apps/v1",
             "subresource": "status", "fieldsType": "FieldsV1", "fieldsV1": {"f:status": {"f:replicas": {}}}},
        ]))
        .unwrap()
    }

    #[test]
    fn the_client_side_entry_becomes_the_appliers_when_it_has_none() {
        let fields = client_side();
        assert_eq!(client_side_appliers(&fields), ["kubectl-client-side-apply"]);
        assert!(!last_applied_kept(&fields));
        let upgraded = upgrade(
            &fields,
            &client_side_appliers(&fields),
            "kubectl-gitrollout",
        )
        .unwrap();
        assert_eq!(upgraded.len(), 2);
        assert_eq!(upgraded[0]["manager"], "kubectl-gitrollout");
        assert_eq!(upgraded[0]["operation"], "Apply");
        assert_eq!(upgraded[0]["fieldsV1"], fields[0]["fieldsV1"]);
        assert_eq!(upgraded[1], fields[1]);
    }

    #[test]
    fn the_client_side_fields_join_the_appliers_own() {
        let mut fields = client_side();
        fields.push(
            json!({"manager": "kubectl-gitrollout", "operation": "Apply",
            "apiVersion": "apps/v1", "fieldsType": "FieldsV1", "fieldsV1": {
                "f:spec": {"f:replicas": {}, "f:template": {"f:spec": {"f:containers": {
                    "k:{\"name\":\"app\"}": {".": {}, "f:image": {}, "f:name": {}}}}}}}}),
        );
        let upgraded = upgrade(
            &fields,
            &client_side_appliers(&fields),
            "kubectl-gitrollout",
        )
        .unwrap();
        assert_eq!(upgraded.len(), 2, "the client-side entry is gone");
        let own = &upgraded[1]["fieldsV1"];
        assert!(own.pointer("/f:spec/f:replicas").is_some());
        let container =
            &own["f:spec"]["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"app\"}"];
        assert!(container["f:env"].get("k:{\"name\":\"DEBUG\"}").is_some());
        assert!(own.pointer("/f:metadata/f:annotations").is_some());
    }

    #[test]
    fn nothing_to_take_over_is_no_change() {
        let fields: Vec<Value> = vec![
            json!({"manager": "kubectl-gitrollout", "operation": "Apply",
            "fieldsV1": {"f:spec": {}}}),
        ];
        assert!(client_side_appliers(&fields).is_empty());
        assert_eq!(upgrade(&fields, &[], "kubectl-gitrollout"), None);
    }
}
