//! A pod template as the API server stores it: what a manifest leaves out, filled in with the
//! defaults the server applies, and what the server drops, dropped.
//!
//! A live template (from a ReplicaSet or ControllerRevision) is the manifest's template after
//! the API server decoded it into Go structs, ran the defaulting functions, and encoded it again.
//! [`pod_template`] does the same to a manifest's template, so the two compare exactly: a field
//! only the live template has, and that is not a default, is a real difference.
//!
//! Ported from kubernetes/kubernetes (Apache-2.0):
//! - `pkg/apis/core/v1/defaults.go`: `SetDefaults_PodSpec`, `SetDefaults_Container`,
//!   `SetDefaults_Probe`, `SetDefaults_HTTPGetAction`, `SetDefaults_Volume`,
//!   `SetDefaults_SecretVolumeSource`, `SetDefaults_ConfigMapVolumeSource`,
//!   `SetDefaults_DownwardAPIVolumeSource`, `SetDefaults_ProjectedVolumeSource`,
//!   `SetDefaults_ServiceAccountTokenProjection`, `SetDefaults_ObjectFieldSelector`,
//!   `SetDefaults_HostPathVolumeSource`, `SetDefaults_PersistentVolumeClaimSpec`,
//!   `SetDefaults_ResourceList` (quantities rounded up to milli units);
//! - the declarative `+default` tags of `staging/src/k8s.io/api/core/v1/types.go` as generated
//!   into `pkg/apis/core/v1/zz_generated.defaults.go`: `ContainerPort.protocol` (TCP),
//!   `GRPCAction.service` (""), `ISCSIVolumeSource.iscsiInterface`, the `RBDVolumeSource` and
//!   `AzureDiskVolumeSource` and `ScaleIOVolumeSource` defaults;
//! - `pkg/apis/core/v1/conversion.go`: `serviceAccount` mirrors `serviceAccountName`;
//! - `staging/src/k8s.io/apimachinery/pkg/api/resource/quantity.go`: the canonical form of a
//!   quantity (`0.5` is `500m`, `1024Mi` is `1Gi`);
//! - Go's `encoding/json` `omitempty`: an empty string, list or map, a `false` or a `0` in an
//!   `omitempty` field is not stored; a null is never stored.
//!
//! `SetDefaults_Pod` (requests from limits, `enableServiceLinks`, host ports on the host network)
//! applies to Pods only, not to the templates of workloads, and is not ported.
//!
//! The same on every tested release, v1.34.4, v1.36.3 and v1.37.2 (their `defaults.go`,
//! `zz_generated.defaults.go` and `conversion.go` compared, and `git_truth_e2e` on each): v1.36
//! changed only the defaults of Service and Pod status; v1.37 moved the `serviceAccount` mirror
//! from `conversion.go` into `SetDefaults_PodSpec` with the same result, and defaults
//! `httpGet.protocol` (feature gate `H2CContainerProbe`) in `SetDefaults_Pod`, for Pods only. So
//! no request asks the server's version.

use serde_json::{Map, Value};

mod kept;

pub use kept::explains;

/// The pod template `template` (a `PodTemplateSpec` as a manifest writes it) as the API server
/// stores it in a Deployment, StatefulSet or DaemonSet.
pub fn pod_template(mut template: Value) -> Value {
    prune(&mut template, None);
    if let Some(spec) = template.get_mut("spec") {
        pod_spec(spec);
    }
    template
}

/// Maps whose keys are data, not field names: nothing inside is pruned.
const FREE_MAPS: [&str; 6] = [
    "labels",
    "annotations",
    "nodeSelector",
    "matchLabels",
    "volumeAttributes",
    "options",
];
/// Maps of resource quantities.
const QUANTITY_MAPS: [&str; 3] = ["limits", "requests", "overhead"];
/// Go maps (dropped when empty), as opposed to pointers to structs (kept as `{}`).
const MAPS: [&str; 8] = [
    "labels",
    "annotations",
    "nodeSelector",
    "matchLabels",
    "volumeAttributes",
    "limits",
    "requests",
    "overhead",
];
/// String pointers: an empty string is stored.
const EMPTY_STRING_KEPT: [&str; 4] = [
    "storageClassName",
    "localhostProfile",
    "procMount",
    "service",
];
/// `bool` fields with `omitempty` (not `*bool`): `false` is not stored.
const FALSE_DROPPED: [&str; 7] = [
    "hostNetwork",
    "hostPID",
    "hostIPC",
    "stdin",
    "stdinOnce",
    "tty",
    "readOnly",
];
/// `int32` fields with `omitempty` (not pointers): `0` is not stored.
const ZERO_DROPPED: [&str; 6] = [
    "initialDelaySeconds",
    "timeoutSeconds",
    "periodSeconds",
    "successThreshold",
    "failureThreshold",
    "hostPort",
];

/// Drops what Go's `encoding/json` would not store, and canonicalises quantities. `key` is the
/// field `value` is stored under.
fn prune(value: &mut Value, key: Option<&str>) {
    match value {
        Value::Object(object) => {
            if key.is_some_and(|k| QUANTITY_MAPS.contains(&k)) {
                object.retain(|_, v| !v.is_null());
                object.values_mut().for_each(canonical_quantity);
                return;
            }
            if key.is_some_and(|k| FREE_MAPS.contains(&k)) {
                object.retain(|_, v| !v.is_null());
                return;
            }
            for (k, v) in object.iter_mut() {
                prune(v, Some(k));
            }
            object.retain(|k, v| !dropped(k, v));
            if key == Some("emptyDir")
                && let Some(limit) = object.get_mut("sizeLimit")
            {
                canonical_quantity(limit);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|item| prune(item, None)),
        _ => {}
    }
}

/// Whether a field `key` holding `value` is left out of what the server stores.
fn dropped(key: &str, value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.is_empty() && !EMPTY_STRING_KEPT.contains(&key),
        Value::Array(items) => items.is_empty(),
        Value::Object(object) => object.is_empty() && MAPS.contains(&key),
        Value::Bool(b) => !b && FALSE_DROPPED.contains(&key),
        Value::Number(n) => n.as_i64() == Some(0) && ZERO_DROPPED.contains(&key),
    }
}

/// Sets `key` to `default` when `object` has no value there.
fn default(object: &mut Map<String, Value>, key: &str, default: Value) {
    object.entry(key).or_insert(default);
}

/// `SetDefaults_PodSpec`, the conversion of `serviceAccountName`, and the defaults of every
/// container, volume and field selector in the spec.
fn pod_spec(spec: &mut Value) {
    let Some(object) = spec.as_object_mut() else {
        return;
    };
    default(object, "dnsPolicy", "ClusterFirst".into());
    default(object, "restartPolicy", "Always".into());
    default(object, "securityContext", Value::Object(Map::new()));
    default(object, "terminationGracePeriodSeconds", 30.into());
    default(object, "schedulerName", "default-scheduler".into());
    // Convert_core_PodSpec_To_v1_PodSpec writes DeprecatedServiceAccount from
    // ServiceAccountName; Convert_v1_PodSpec_To_core_PodSpec reads the old field when the new
    // one is empty.
    let account = object
        .get("serviceAccountName")
        .or_else(|| object.get("serviceAccount"))
        .cloned();
    if let Some(account) = account {
        object.insert("serviceAccountName".into(), account.clone());
        object.insert("serviceAccount".into(), account);
    }
    for list in ["containers", "initContainers", "ephemeralContainers"] {
        for container in items_mut(object, list) {
            self::container(container);
        }
    }
    for volume in items_mut(object, "volumes") {
        self::volume(volume);
    }
}

fn items_mut<'a>(
    object: &'a mut Map<String, Value>,
    key: &str,
) -> impl Iterator<Item = &'a mut Map<String, Value>> {
    object
        .get_mut(key)
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object_mut)
}

fn object_mut<'a>(
    object: &'a mut Map<String, Value>,
    key: &str,
) -> Option<&'a mut Map<String, Value>> {
    object.get_mut(key).and_then(Value::as_object_mut)
}

/// `SetDefaults_Container`, the `protocol` of its ports, its probes, lifecycle handlers and
/// env field selectors.
fn container(container: &mut Map<String, Value>) {
    if !container.contains_key("imagePullPolicy") {
        let image = container.get("image").and_then(Value::as_str).unwrap_or("");
        let policy = if image_tag(image) == Some("latest") {
            "Always"
        } else {
            "IfNotPresent"
        };
        container.insert("imagePullPolicy".into(), policy.into());
    }
    default(
        container,
        "terminationMessagePath",
        "/dev/termination-log".into(),
    );
    default(container, "terminationMessagePolicy", "File".into());
    // `resources` is a struct, not a pointer: always stored, `{}` when empty.
    default(container, "resources", Value::Object(Map::new()));
    for port in items_mut(container, "ports") {
        default(port, "protocol", "TCP".into());
    }
    for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
        if let Some(probe) = object_mut(container, probe) {
            self::probe(probe);
        }
    }
    if let Some(lifecycle) = object_mut(container, "lifecycle") {
        for hook in ["postStart", "preStop"] {
            if let Some(hook) = object_mut(lifecycle, hook) {
                handler(hook);
            }
        }
    }
    for env in items_mut(container, "env") {
        if let Some(from) = object_mut(env, "valueFrom") {
            field_selector(from);
        }
    }
}

/// `SetDefaults_Probe`, and the defaults of its handler.
fn probe(probe: &mut Map<String, Value>) {
    default(probe, "timeoutSeconds", 1.into());
    default(probe, "periodSeconds", 10.into());
    default(probe, "successThreshold", 1.into());
    default(probe, "failureThreshold", 3.into());
    handler(probe);
}

/// `SetDefaults_HTTPGetAction`, and `GRPCAction.service` (`+default=""`).
fn handler(handler: &mut Map<String, Value>) {
    if let Some(get) = object_mut(handler, "httpGet") {
        default(get, "path", "/".into());
        default(get, "scheme", "HTTP".into());
    }
    if let Some(grpc) = object_mut(handler, "grpc") {
        default(grpc, "service", "".into());
    }
}

/// `SetDefaults_ObjectFieldSelector` on the `fieldRef` of `object`, and the `divisor` of its
/// `resourceFieldRef`: a `Quantity` struct, not a pointer, so always stored (`"0"` when unset).
fn field_selector(object: &mut Map<String, Value>) {
    if let Some(field) = object_mut(object, "fieldRef") {
        default(field, "apiVersion", "v1".into());
    }
    if let Some(resource) = object_mut(object, "resourceFieldRef") {
        default(resource, "divisor", "0".into());
        resource.get_mut("divisor").map(canonical_quantity);
    }
}

/// 0644, the default mode of secret, configMap, downwardAPI and projected volumes.
const DEFAULT_MODE: i64 = 0o644;

/// The sources a volume can have, from `VolumeSource` in `types.go`: a volume without any gets
/// an `emptyDir` (`SetDefaults_Volume`).
const VOLUME_SOURCES: [&str; 30] = [
    "hostPath",
    "emptyDir",
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "gitRepo",
    "secret",
    "nfs",
    "iscsi",
    "glusterfs",
    "persistentVolumeClaim",
    "rbd",
    "flexVolume",
    "cinder",
    "cephfs",
    "flocker",
    "downwardAPI",
    "fc",
    "azureFile",
    "configMap",
    "vsphereVolume",
    "quobyte",
    "azureDisk",
    "photonPersistentDisk",
    "projected",
    "portworxVolume",
    "scaleIO",
    "storageos",
    "csi",
    "ephemeral",
    "image",
];

/// `SetDefaults_Volume` and the defaults of each volume source.
fn volume(volume: &mut Map<String, Value>) {
    if !VOLUME_SOURCES.iter().any(|s| volume.contains_key(*s)) {
        volume.insert("emptyDir".into(), Value::Object(Map::new()));
    }
    for source in ["secret", "configMap", "downwardAPI", "projected"] {
        if let Some(source) = object_mut(volume, source) {
            default(source, "defaultMode", DEFAULT_MODE.into());
        }
    }
    if let Some(downward) = object_mut(volume, "downwardAPI") {
        items_mut(downward, "items").for_each(field_selector);
    }
    if let Some(projected) = object_mut(volume, "projected") {
        for source in items_mut(projected, "sources") {
            projection(source);
        }
    }
    if let Some(host) = object_mut(volume, "hostPath") {
        default(host, "type", "".into());
    }
    let claim = object_mut(volume, "ephemeral").and_then(|e| object_mut(e, "volumeClaimTemplate"));
    if let Some(claim) = claim {
        // `metadata` is an `ObjectMeta` struct, not a pointer: always stored.
        default(claim, "metadata", Value::Object(Map::new()));
        if let Some(spec) = object_mut(claim, "spec") {
            default(spec, "volumeMode", "Filesystem".into());
        }
    }
    legacy_volume(volume);
}

/// The defaults inside one source of a projected volume.
fn projection(source: &mut Map<String, Value>) {
    if let Some(token) = object_mut(source, "serviceAccountToken") {
        default(token, "expirationSeconds", 3600.into());
    }
    if let Some(downward) = object_mut(source, "downwardAPI") {
        items_mut(downward, "items").for_each(field_selector);
    }
}

/// The declarative defaults of the in-tree volume plugins (`+default` tags in `types.go`).
fn legacy_volume(volume: &mut Map<String, Value>) {
    if let Some(iscsi) = object_mut(volume, "iscsi") {
        default(iscsi, "iscsiInterface", "default".into());
    }
    if let Some(rbd) = object_mut(volume, "rbd") {
        default(rbd, "pool", "rbd".into());
        default(rbd, "user", "admin".into());
        default(rbd, "keyring", "/etc/ceph/keyring".into());
    }
    if let Some(disk) = object_mut(volume, "azureDisk") {
        default(disk, "cachingMode", "ReadWrite".into());
        default(disk, "fsType", "ext4".into());
        default(disk, "readOnly", false.into());
        default(disk, "kind", "Shared".into());
    }
    if let Some(scale) = object_mut(volume, "scaleIO") {
        default(scale, "storageMode", "ThinProvisioned".into());
        default(scale, "fsType", "xfs".into());
    }
}

/// The tag of an image reference as `parsers.ParseImageName` gives it: `latest` when there is
/// neither a tag nor a digest, none when there is only a digest.
fn image_tag(image: &str) -> Option<&str> {
    let (name, digest) = match image.split_once('@') {
        Some((name, _)) => (name, true),
        None => (image, false),
    };
    // A `:` after the last `/` starts the tag; one before it is a registry's port.
    let last = name.rsplit('/').next().unwrap_or(name);
    match last.split_once(':') {
        Some((_, tag)) => Some(tag),
        None if digest => None,
        None => Some("latest"),
    }
}

/// Rewrites a quantity (`"0.5"`, `1`, `"1024Mi"`) in its canonical form (`"500m"`, `"1"`,
/// `"1Gi"`), rounded up to milli units as `SetDefaults_ResourceList` does. A value that is not a
/// quantity is left alone: the server would have refused it.
fn canonical_quantity(value: &mut Value) {
    let text = match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => return,
    };
    if let Some(canonical) = quantity::canonical(&text) {
        *value = Value::String(canonical);
    }
}

mod quantity {
    //! `resource.Quantity` of apimachinery: parse, round up to milli units, and print in the
    //! canonical form of `Quantity.CanonicalizeBytes`.

    #[derive(Clone, Copy, PartialEq)]
    enum Format {
        BinarySi,
        DecimalSi,
        DecimalExponent,
    }

    /// The canonical form of `text`, or `None` when it is not a quantity this port handles
    /// (malformed, or too large for 128 bits).
    pub(super) fn canonical(text: &str) -> Option<String> {
        let (milli, format) = parse(text)?;
        Some(format_milli(milli, format))
    }

    /// The value in milli units, rounded up, and the format the suffix implies.
    fn parse(text: &str) -> Option<(i128, Format)> {
        let (negative, rest) = match text.as_bytes().first()? {
            b'-' => (true, &text[1..]),
            b'+' => (false, &text[1..]),
            _ => (false, text),
        };
        let end = rest
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(rest.len());
        let (number, suffix) = rest.split_at(end);
        let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
        if whole.is_empty() && fraction.is_empty() || fraction.contains('.') {
            return None;
        }
        let digits: i128 = format!("{whole}{fraction}").parse().ok()?;
        let (mut numerator, mut denominator) = (digits, 10i128.checked_pow(fraction.len() as u32)?);
        let (format, base, exponent) = suffix_of(suffix)?;
        let power = (base as i128).checked_pow(exponent.unsigned_abs())?;
        if exponent >= 0 {
            numerator = numerator.checked_mul(power)?;
        } else {
            denominator = denominator.checked_mul(power)?;
        }
        numerator = numerator.checked_mul(1000)?;
        let milli = numerator / denominator + i128::from(numerator % denominator != 0);
        Some((if negative { -milli } else { milli }, format))
    }

    /// The base and exponent a suffix multiplies by.
    fn suffix_of(suffix: &str) -> Option<(Format, u32, i32)> {
        let binary = ["Ki", "Mi", "Gi", "Ti", "Pi", "Ei"];
        if let Some(i) = binary.iter().position(|s| *s == suffix) {
            return Some((Format::BinarySi, 2, 10 * (i as i32 + 1)));
        }
        let decimal = [
            ("n", -9),
            ("u", -6),
            ("m", -3),
            ("", 0),
            ("k", 3),
            ("M", 6),
            ("G", 9),
            ("T", 12),
            ("P", 15),
            ("E", 18),
        ];
        if let Some((_, e)) = decimal.iter().find(|(s, _)| *s == suffix) {
            return Some((Format::DecimalSi, 10, *e));
        }
        let exponent = suffix.strip_prefix(['e', 'E'])?;
        Some((Format::DecimalExponent, 10, exponent.parse().ok()?))
    }

    fn format_milli(milli: i128, format: Format) -> String {
        if milli == 0 {
            return "0".to_owned();
        }
        let sign = if milli < 0 { "-" } else { "" };
        let magnitude = milli.abs();
        // Binary only for whole values of at least 1024: anything else would need a fraction.
        if format == Format::BinarySi && magnitude >= 1024 * 1000 && magnitude % 1000 == 0 {
            let (mut number, mut step) = (magnitude / 1000, 0);
            while number % 1024 == 0 && step < 6 {
                number /= 1024;
                step += 1;
            }
            let suffix = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"][step];
            return format!("{sign}{number}{suffix}");
        }
        let (mut number, mut exponent) = (magnitude, -3i32);
        while number % 10 == 0 {
            number /= 10;
            exponent += 1;
        }
        while exponent.rem_euclid(3) != 0 {
            number *= 10;
            exponent -= 1;
        }
        let suffix = match format {
            Format::DecimalExponent if exponent == 0 => String::new(),
            Format::DecimalExponent => format!("e{exponent}"),
            _ => match exponent {
                -3 => "m".into(),
                0 => String::new(),
                3 => "k".into(),
                6 => "M".into(),
                9 => "G".into(),
                12 => "T".into(),
                15 => "P".into(),
                18 => "E".into(),
                _ => format!("e{exponent}"),
            },
        };
        format!("{sign}{number}{suffix}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(manifest: Value, stored: Value) {
        assert_eq!(pod_template(manifest), stored);
    }

    #[test]
    fn quantities_take_their_canonical_form() {
        for (given, canonical) in [
            ("0.5", "500m"),
            ("1000m", "1"),
            ("1", "1"),
            ("1.5Gi", "1536Mi"),
            ("1024Mi", "1Gi"),
            ("100Mi", "100Mi"),
            ("512Ki", "512Ki"),
            ("0.5Ki", "512"),
            ("1000", "1k"),
            ("128974848", "128974848"),
            ("129e6", "129e6"),
            ("1e3", "1e3"),
            ("0.1m", "1m"),
            ("250m", "250m"),
            ("2G", "2G"),
            ("0", "0"),
        ] {
            assert_eq!(
                quantity::canonical(given).as_deref(),
                Some(canonical),
                "{given}"
            );
        }
        for not in ["", "abc", "1.2.3", "Mi", "1Xi"] {
            assert_eq!(quantity::canonical(not), None, "{not}");
        }
    }

    #[test]
    fn image_tags_as_parse_image_name_reads_them() {
        assert_eq!(image_tag("nginx"), Some("latest"));
        assert_eq!(image_tag("nginx:latest"), Some("latest"));
        assert_eq!(image_tag("registry:5000/nginx"), Some("latest"));
        assert_eq!(image_tag("registry:5000/nginx:1.17"), Some("1.17"));
        assert_eq!(image_tag("nginx@sha256:abc"), None);
        assert_eq!(image_tag("nginx:1.17@sha256:abc"), Some("1.17"));
    }

    #[test]
    fn a_minimal_template_gets_the_pod_spec_and_container_defaults() {
        check(
            json!({"metadata": {"labels": {"app": "a"}, "annotations": {}},
                   "spec": {"containers": [{"name": "c", "image": "nginx", "args": [],
                                            "ports": [{"containerPort": 80, "hostPort": 0}],
                                            "env": [{"name": "E", "value": ""}]}],
                            "hostNetwork": false, "nodeSelector": {}}}),
            json!({"metadata": {"labels": {"app": "a"}},
                   "spec": {"containers": [{"name": "c", "image": "nginx",
                                            "imagePullPolicy": "Always",
                                            "terminationMessagePath": "/dev/termination-log",
                                            "terminationMessagePolicy": "File",
                                            "resources": {},
                                            "ports": [{"containerPort": 80, "protocol": "TCP"}],
                                            "env": [{"name": "E"}]}],
                            "dnsPolicy": "ClusterFirst", "restartPolicy": "Always",
                            "securityContext": {}, "terminationGracePeriodSeconds": 30,
                            "schedulerName": "default-scheduler"}}),
        );
    }

    #[test]
    fn what_the_manifest_sets_wins_over_defaults() {
        let manifest = json!({"spec": {
            "containers": [{"name": "c", "image": "nginx:1.17", "imagePullPolicy": "Never",
                            "terminationMessagePath": "/x", "terminationMessagePolicy":
                            "FallbackToLogsOnError", "resources": {"limits": {"cpu": 2}},
                            "securityContext": {"privileged": false}}],
            "dnsPolicy": "Default", "restartPolicy": "Always", "terminationGracePeriodSeconds": 0,
            "securityContext": {"runAsUser": 0}, "schedulerName": "mine",
            "serviceAccount": "old"}});
        let stored = pod_template(manifest.clone());
        assert_eq!(stored["spec"]["containers"][0]["imagePullPolicy"], "Never");
        assert_eq!(
            stored["spec"]["containers"][0]["resources"]["limits"]["cpu"],
            "2"
        );
        assert_eq!(
            stored["spec"]["containers"][0]["securityContext"]["privileged"],
            false
        );
        assert_eq!(stored["spec"]["terminationGracePeriodSeconds"], 0);
        assert_eq!(stored["spec"]["securityContext"]["runAsUser"], 0);
        assert_eq!(stored["spec"]["serviceAccountName"], "old");
        assert_eq!(stored["spec"]["serviceAccount"], "old");
    }

    #[test]
    fn probes_handlers_and_field_selectors_are_defaulted() {
        let stored = pod_template(json!({"spec": {"containers": [{
            "name": "c", "image": "x@sha256:0",
            "livenessProbe": {"httpGet": {"port": 80}, "initialDelaySeconds": 0},
            "readinessProbe": {"grpc": {"port": 9000}, "periodSeconds": 5},
            "lifecycle": {"preStop": {"httpGet": {"port": "http", "path": "/stop"}}},
            "env": [{"name": "P", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                    {"name": "C", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu"}}},
                    {"name": "M", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory",
                                                                      "divisor": "1024Ki"}}}],
        }]}}));
        let container = &stored["spec"]["containers"][0];
        assert_eq!(container["imagePullPolicy"], "IfNotPresent");
        assert_eq!(
            container["livenessProbe"],
            json!({"httpGet": {"port": 80, "path": "/", "scheme": "HTTP"}, "timeoutSeconds": 1,
                   "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3})
        );
        assert_eq!(
            container["readinessProbe"]["grpc"],
            json!({"port": 9000, "service": ""})
        );
        assert_eq!(container["readinessProbe"]["periodSeconds"], 5);
        assert_eq!(
            container["lifecycle"]["preStop"]["httpGet"],
            json!({"port": "http", "path": "/stop", "scheme": "HTTP"})
        );
        assert_eq!(
            container["env"][0]["valueFrom"]["fieldRef"]["apiVersion"],
            "v1"
        );
    }

    #[test]
    fn volumes_get_their_modes_and_sources() {
        let stored = pod_template(json!({"spec": {"containers": [], "volumes": [
            {"name": "e"},
            {"name": "s", "secret": {"secretName": "s"}},
            {"name": "c", "configMap": {"name": "c", "defaultMode": 256}},
            {"name": "h", "hostPath": {"path": "/tmp"}},
            {"name": "p", "projected": {"sources": [{"serviceAccountToken": {"path": "t"}},
                {"downwardAPI": {"items": [{"path": "n", "fieldRef": {"fieldPath": "x"}}]}}]}},
            {"name": "v", "ephemeral": {"volumeClaimTemplate": {"spec": {"storageClassName": ""}}}},
        ]}}));
        let volumes = &stored["spec"]["volumes"];
        assert_eq!(volumes[0], json!({"name": "e", "emptyDir": {}}));
        assert_eq!(volumes[1]["secret"]["defaultMode"], 420);
        assert_eq!(volumes[2]["configMap"]["defaultMode"], 256);
        assert_eq!(volumes[3]["hostPath"], json!({"path": "/tmp", "type": ""}));
        assert_eq!(volumes[4]["projected"]["defaultMode"], 420);
        let sources = &volumes[4]["projected"]["sources"];
        assert_eq!(sources[0]["serviceAccountToken"]["expirationSeconds"], 3600);
        assert_eq!(
            sources[1]["downwardAPI"]["items"][0]["fieldRef"]["apiVersion"],
            "v1"
        );
        assert_eq!(
            volumes[5]["ephemeral"]["volumeClaimTemplate"],
            json!({"metadata": {}, "spec": {"storageClassName": "", "volumeMode": "Filesystem"}})
        );
    }

    #[test]
    fn applying_twice_changes_nothing() {
        let manifest = json!({"metadata": {"labels": {"app": "a"}},
            "spec": {"containers": [{"name": "c", "image": "nginx:1.17",
                     "resources": {"requests": {"memory": "1.5Gi"}}}],
                     "volumes": [{"name": "e"}]}});
        let once = pod_template(manifest);
        assert_eq!(pod_template(once.clone()), once);
    }
}
