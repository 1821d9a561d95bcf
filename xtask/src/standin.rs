//! The kubelet stand-in: without a kubelet no pod ever becomes Ready, so no rollout completes and
//! no old revision is ever pruned. Like the upstream deployment integration tests
//! (`markPodReady`), it sets pods Running and Ready through the `pods/status` subresource.
//!
//! It also registers one Ready node, so DaemonSets have somewhere to run. Pods are never bound to
//! it: a pod without `spec.nodeName` is deleted at once, so scale-downs need no kubelet either.
//!
//! A pod whose image tag is `never-ready` is left Pending, to test rollouts that cannot finish.

use std::path::Path;

use anyhow::{Context, Result};
use futures::StreamExt;
use jiff::Timestamp;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, Config};
use serde_json::json;

/// The node the stand-in registers.
pub const NODE: &str = "gitrollout-node";

/// The image tag that keeps a pod from ever becoming Ready.
pub const NEVER_READY_TAG: &str = ":never-ready";

pub async fn client(kubeconfig: &Path) -> Result<Client> {
    let config = Kubeconfig::read_from(kubeconfig)
        .with_context(|| format!("could not read {}", kubeconfig.display()))?;
    let config = Config::from_custom_kubeconfig(config, &KubeConfigOptions::default()).await?;
    Ok(Client::try_from(config)?)
}

pub fn run(kubeconfig: &Path) -> Result<()> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(async {
            let client = client(kubeconfig).await?;
            register_node(&client).await?;
            eprintln!("kubelet stand-in: node {NODE} is Ready; marking pods Ready");
            mark_pods_ready(client).await
        })
}

pub fn node_ready(node: &Node) -> bool {
    node.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|conditions| {
            conditions
                .iter()
                .any(|c| c.type_ == "Ready" && c.status == "True")
        })
}

async fn register_node(client: &Client) -> Result<()> {
    let nodes: Api<Node> = Api::all(client.clone());
    let node: Node = serde_json::from_value(json!({
        "metadata": {"name": NODE, "labels": {
            "kubernetes.io/hostname": NODE,
            "kubernetes.io/os": "linux",
            "kubernetes.io/arch": "amd64",
        }},
    }))?;
    if nodes.get_opt(NODE).await?.is_none() {
        nodes.create(&PostParams::default(), &node).await?;
    }
    let now = Timestamp::now().to_string();
    let capacity = json!({"cpu": "32", "memory": "256Gi", "pods": "1000"});
    let status = json!({"status": {
        "capacity": capacity,
        "allocatable": capacity,
        "conditions": [{
            "type": "Ready", "status": "True", "reason": "KubeletStandin",
            "message": "pods are marked Ready by the kubelet stand-in",
            "lastHeartbeatTime": now, "lastTransitionTime": now,
        }],
    }});
    nodes
        .patch_status(NODE, &PatchParams::default(), &Patch::Merge(&status))
        .await?;
    Ok(())
}

async fn mark_pods_ready(client: Client) -> Result<()> {
    let pods: Api<Pod> = Api::all(client.clone());
    let mut events = watcher(pods, watcher::Config::default())
        .default_backoff()
        .applied_objects()
        .boxed();
    while let Some(event) = events.next().await {
        match event {
            Ok(pod) if wants_ready(&pod) => {
                if let Err(err) = mark_ready(&client, &pod).await {
                    eprintln!("kubelet stand-in: {err:#}");
                }
            }
            Ok(_) => {}
            Err(err) => eprintln!("kubelet stand-in: watch: {err}"),
        }
    }
    Ok(())
}

fn wants_ready(pod: &Pod) -> bool {
    let Some(spec) = &pod.spec else { return false };
    let never = spec.containers.iter().any(|c| {
        c.image
            .as_deref()
            .is_some_and(|i| i.ends_with(NEVER_READY_TAG))
    });
    let ready = pod
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
    pod.metadata.deletion_timestamp.is_none() && !never && !ready
}

async fn mark_ready(client: &Client, pod: &Pod) -> Result<()> {
    let name = pod.metadata.name.as_deref().unwrap_or_default();
    let namespace = pod.metadata.namespace.as_deref().unwrap_or_default();
    let now = Timestamp::now().to_string();
    let containers = pod.spec.as_ref().map_or(&[][..], |s| &s.containers[..]);
    let statuses: Vec<_> = containers
        .iter()
        .map(|c| {
            json!({
                "name": c.name, "image": c.image, "imageID": "", "ready": true, "started": true,
                "restartCount": 0, "state": {"running": {"startedAt": now}},
            })
        })
        .collect();
    let conditions = ["PodScheduled", "Initialized", "ContainersReady", "Ready"]
        .map(|type_| json!({"type": type_, "status": "True", "lastTransitionTime": now}));
    let status = json!({"status": {
        "phase": "Running",
        "startTime": now,
        "conditions": conditions,
        "containerStatuses": statuses,
    }});
    Api::<Pod>::namespaced(client.clone(), namespace)
        .patch_status(name, &PatchParams::default(), &Patch::Merge(&status))
        .await
        .with_context(|| format!("could not mark pod {namespace}/{name} Ready"))?;
    Ok(())
}
