//! Applying a Deployment, StatefulSet or DaemonSet so that its history stays append-only: the
//! pod template the apply will result in is known from a server-side dry run first, then
//! compared with every revision (`rollout_core::plan_apply`): one equal to an older revision is
//! applied with the revert markers, so the controller makes a new revision that restores it
//! instead of re-using and renumbering the old one. The apply is conditional on the
//! resourceVersion read, planned again after a conflict; the commit is recorded on the revision
//! it made, all or nothing.

use anyhow::{Context, Result};
use jiff::Timestamp;
use kube::ResourceExt;
use kube::api::DynamicObject;
use rollout_core::{
    ApplyPlan, Current, History, Made, TemplateDiff, WorkloadKind, diff_raw, plan_apply, template,
};
use serde_json::Value;

use super::object::Target;
use super::{Applied, ObjectOutcome, RevisionOutcome};
use crate::cli::WorkloadRef;
use crate::client::Cluster;
use crate::commands::record;
use crate::snapshot::SnapshotArgs;
use crate::ui::Ui;
use crate::workload::{self, CHANGE_CAUSE, Owned, Workload};
use crate::write::{self, Writing};

/// What one apply of a workload is about.
#[derive(Debug, Clone, Copy)]
pub(super) struct Apply<'a> {
    pub target: &'a Target,
    pub kind: WorkloadKind,
    /// The object as the manifest gives it.
    pub manifest: &'a Value,
    pub commit: &'a str,
    pub cause: &'a str,
    pub snapshots: SnapshotArgs,
    pub now: Timestamp,
}

/// One read of the workload: what the server holds, and the template the manifest would give it.
#[derive(Debug)]
pub(super) struct Read {
    live: Option<(Workload, Owned)>,
    /// The dry run's pod template, in the canonical form revisions are compared in.
    desired: Value,
}

/// What to apply, planned from one read.
#[derive(Debug)]
pub(super) struct Planned {
    plan: ApplyPlan,
    history: History,
    /// The object to apply: the manifest with the plan's annotations and the resourceVersion read.
    config: Value,
    /// The pod template the apply will give the workload.
    expected: Value,
}

impl Apply<'_> {
    fn workload_ref(&self) -> WorkloadRef {
        WorkloadRef {
            kind: self.kind,
            name: self.target.name.clone(),
        }
    }

    fn cluster(&self) -> &Cluster {
        &self.target.cluster
    }

    /// Reads the workload (with its history) and the pod template the manifest would give it.
    pub async fn read(&self, existing: Option<DynamicObject>) -> Result<Read> {
        let live = match existing {
            Some(object) => {
                let value = serde_json::to_value(&object)?;
                let workload = Workload::from_value(self.kind, value)
                    .with_context(|| format!("{} is not a {}", self.target.display(), self.kind))?;
                let owned = workload::list_owned(self.cluster(), &workload).await?;
                Some((workload, owned))
            }
            None => None,
        };
        let dry = self
            .target
            .apply(self.manifest, true)
            .await
            .map_err(|e| self.target.explain("patch", e))?;
        let desired = template_of(self.kind, dry)?;
        Ok(Read { live, desired })
    }

    async fn read_again(&self) -> Result<Read> {
        let existing = self.target.get().await?;
        self.read(existing).await
    }

    /// Plans the apply from one read.
    pub fn plan(&self, read: &Read) -> Result<Planned> {
        let history = match &read.live {
            Some((workload, owned)) => workload.history(owned.clone()),
            None => History::new(
                self.kind,
                "",
                self.target.name.clone(),
                Vec::new(),
                Current::Unknown,
            ),
        };
        let plan = plan_apply(&history, &read.desired, self.now);
        let mut config = self.manifest.clone();
        let mut expected = read.desired.clone();
        for (key, value) in &plan.annotations {
            if let Some(template) = config.pointer_mut("/spec/template") {
                template::set_annotation(template, key, value.clone());
            }
            template::set_annotation(&mut expected, key, value.clone());
        }
        let live = read.live.as_ref().map(|(w, _)| w.metadata());
        let cause = match plan.made {
            Made::New | Made::Restores(_) => Some(self.cause.to_owned()),
            // Kept as it is, so the workload does not change.
            Made::Current(_) => {
                live.and_then(|m| m.annotations.as_ref()?.get(CHANGE_CAUSE).cloned())
            }
        };
        set_metadata(
            &mut config,
            cause,
            live.and_then(|m| m.resource_version.clone()),
        );
        Ok(Planned {
            plan,
            history,
            config,
            expected,
        })
    }

    /// Applies the plan: the object as the server now holds it, or `None` after a conflict.
    async fn send(&self, planned: &Planned) -> Result<Option<DynamicObject>> {
        match self.target.apply(&planned.config, false).await {
            Ok(object) => Ok(Some(object)),
            Err(kube::Error::Api(status)) if status.is_conflict() => Ok(None),
            Err(err @ kube::Error::Api(_)) => Err(self.target.explain("patch", err)),
            Err(err) => {
                let target = self.workload_ref();
                let cluster = self.cluster();
                let landed = write::find_out(|| async {
                    let (workload, owned) = workload::fetch(cluster, &target).await?;
                    let history = workload.history(owned);
                    Ok(write::judge_template(&workload, &history, |t| {
                        same(t, &planned.expected)
                    }))
                })
                .await;
                let writing = Writing {
                    target: &target,
                    change: "apply",
                };
                Err(write::lost(cluster, writing, &err, landed))
            }
        }
    }

    /// Applies the workload, waits for the revision the controller makes, and records the
    /// commit on it; with `dry_run`, says what it would do and changes nothing.
    pub async fn run(
        &self,
        existing: Option<DynamicObject>,
        dry_run: bool,
        ui: &mut Ui<'_>,
    ) -> Result<ObjectOutcome> {
        let created = existing.is_none();
        let before = existing.as_ref().and_then(|o| o.resource_version());
        let first = self.read(existing).await?;
        let planned = self.plan(&first)?;
        if dry_run {
            return Ok(self.dry_run(&first, &planned, created));
        }
        let target = self.workload_ref();
        let writing = Writing {
            target: &target,
            change: "apply",
        };
        let (planned, applied) = write::conditional(
            writing,
            (first, planned),
            |read| {
                read.live
                    .as_ref()
                    .and_then(|(w, _)| w.metadata().generation)
            },
            async || self.read_again().await,
            |read| self.plan(read),
            async |_, planned| self.send(planned).await,
            ui,
        )
        .await?;
        let applied_as = match (created, before == applied.resource_version()) {
            (true, _) => Applied::Created,
            (false, true) => Applied::Unchanged,
            (false, false) => Applied::Configured,
        };
        let (revision, kept) = self.record(&planned, &applied).await?;
        for line in kept {
            ui.note(format_args!("snapshot: {line}"))?;
        }
        Ok(ObjectOutcome {
            name: self.target.display(),
            applied: applied_as,
            revision: Some(revision),
            diff: None,
        })
    }

    /// Waits for the revision the apply made and records the commit on it; a template kept as
    /// it was keeps the revision, and the commit that made it.
    /// Returns a line for each snapshot made.
    async fn record(
        &self,
        planned: &Planned,
        applied: &DynamicObject,
    ) -> Result<(RevisionOutcome, Vec<String>)> {
        let made = planned.plan.made;
        if let Made::Current(number) = made {
            let outcome = RevisionOutcome {
                number,
                made,
                commit: None,
            };
            return Ok((outcome, Vec::new()));
        }
        let generation = applied.metadata.generation.unwrap_or_default();
        let target = self.workload_ref();
        let writing = Writing {
            target: &target,
            change: "apply",
        };
        let has = "the pod template of the manifests".to_owned();
        let ours = |t: &Value| same(t, &planned.expected);
        let made_as = write::revision_made(self.cluster(), writing, generation, ours, &has).await?;
        let number = made_as.number;
        let revision = made_as.history.get(number)?;
        let kept = record::record_commit(
            self.cluster(),
            &made_as.workload,
            revision,
            (self.commit, self.cause.to_owned()),
            self.snapshots,
        )
        .await?;
        let short = self.commit[..7.min(self.commit.len())].to_owned();
        let outcome = RevisionOutcome {
            number,
            made,
            commit: Some(short),
        };
        Ok((outcome, kept))
    }

    /// What the apply would do: the diff of the pod template and the revision it would make.
    fn dry_run(&self, read: &Read, planned: &Planned, created: bool) -> ObjectOutcome {
        let live = read
            .live
            .as_ref()
            .map(|(w, _)| w.template_value())
            .unwrap_or(Value::Null);
        let name = self.target.display();
        let diff: TemplateDiff = diff_raw(
            &live,
            format!("{name} (live)"),
            &planned.expected,
            format!("{name} (applied)"),
        );
        let number = planned.plan.revision(&planned.history);
        let applied = match (created, planned.plan.made) {
            (true, _) => Applied::Created,
            (false, Made::Current(_)) if diff.is_empty() => Applied::Unchanged,
            _ => Applied::Configured,
        };
        ObjectOutcome {
            name,
            applied,
            revision: Some(RevisionOutcome {
                number,
                made: planned.plan.made,
                commit: None,
            }),
            diff: Some(diff),
        }
    }
}

/// Whether `template` is the one the apply gives: the same, markers included, hash labels aside.
fn same(template: &Value, expected: &Value) -> bool {
    template::without_hashes(template) == template::without_hashes(expected)
}

/// The pod template of a workload object the server returned, in the canonical form.
fn template_of(kind: WorkloadKind, object: DynamicObject) -> Result<Value> {
    let value = serde_json::to_value(&object)?;
    let workload = Workload::from_value(kind, value)?;
    Ok(workload.template_value())
}

/// Sets the change cause and the resourceVersion the apply is conditional on.
fn set_metadata(config: &mut Value, cause: Option<String>, resource_version: Option<String>) {
    let Some(metadata) = config.get_mut("metadata").and_then(Value::as_object_mut) else {
        return;
    };
    if let Some(version) = resource_version {
        metadata.insert("resourceVersion".to_owned(), Value::String(version));
    }
    if let Some(cause) = cause {
        let annotations = metadata
            .entry("annotations")
            .or_insert_with(|| Value::Object(serde_json::Map::new()));
        if let Some(annotations) = annotations.as_object_mut() {
            annotations.insert(CHANGE_CAUSE.to_owned(), Value::String(cause));
        }
    }
}
