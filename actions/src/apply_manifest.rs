//! `apply-manifest`: applies Kubernetes objects written as YAML (walkthrough rows 6, 7,
//! 11 and 12 apply manifests with `kubectl apply -f`).

use std::path::PathBuf;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::action::{Action, Effects};
use crate::context::StepContext;
use crate::planned_call::{PlanContext, PlannedCall};
use runbook_backend::ActionError;
use runbook_backend::AppliedObject;

/// The action; [`ApplyManifestInput`] documents what it does (its doc comment is the
/// action's help text).
pub(crate) struct ApplyManifest;

/// Applies one or more Kubernetes objects (server-side apply on `aws`, so applying the
/// same manifest again changes nothing). On `sim`, PriorityClass, Namespace and
/// Karpenter NodePool/Provisioner objects take effect; other kinds are accepted and
/// listed.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ApplyManifestInput {
    /// EKS cluster (default: the only cluster there is).
    #[serde(default)]
    cluster: Option<String>,
    /// The objects as YAML text; several documents are separated by `---` lines. Give
    /// this or `file`, not both.
    #[serde(default)]
    manifest: Option<String>,
    /// A local YAML file with the objects (relative to the current directory). Give
    /// this or `manifest`, not both.
    #[serde(default)]
    file: Option<PathBuf>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct ApplyManifestOutput {
    /// The objects applied, in the order of the documents.
    applied: Vec<AppliedObject>,
}

impl Action for ApplyManifest {
    type Input = ApplyManifestInput;
    type Output = ApplyManifestOutput;
    const NAME: &'static str = "apply-manifest";
    const SUMMARY: &'static str = "Apply Kubernetes objects from inline YAML or a local file.";
    const EFFECTS: Effects = Effects::Mutates;

    async fn run(
        &self,
        input: ApplyManifestInput,
        ctx: &StepContext,
    ) -> Result<ApplyManifestOutput, ActionError> {
        let documents = match source(input.manifest, input.file)? {
            Source::Inline(text) => documents(&text, "`manifest`")?,
            Source::File(path) => {
                let text = tokio::fs::read_to_string(&path)
                    .await
                    .map_err(|e| unreadable(&path, &e))?;
                documents(&text, &format!("`{}`", path.display()))?
            }
        };
        let cluster = crate::cluster_lookup::cluster(ctx, input.cluster).await?;
        let applied = ctx.target.kube.apply_manifest(&cluster, &documents).await?;
        Ok(ApplyManifestOutput { applied })
    }

    /// Reads a local `file` like `run` does: it is on this machine, and its documents
    /// are the calls.
    fn planned_calls(
        input: &ApplyManifestInput,
        plan: &PlanContext,
    ) -> Result<Vec<PlannedCall>, ActionError> {
        let documents = match source(input.manifest.clone(), input.file.clone())? {
            Source::Inline(text) => documents(&text, "`manifest`")?,
            Source::File(path) => {
                let text = std::fs::read_to_string(&path).map_err(|e| unreadable(&path, &e))?;
                documents(&text, &format!("`{}`", path.display()))?
            }
        };
        let (cluster, mut calls) =
            crate::cluster_lookup::planned(&plan.target, input.cluster.as_deref());
        calls.extend(
            plan.target
                .kube
                .planned_apply_manifest(&cluster, &documents),
        );
        Ok(calls)
    }
}

/// Where the objects come from.
enum Source {
    Inline(String),
    File(PathBuf),
}

/// The one source of objects the input gives.
fn source(manifest: Option<String>, file: Option<PathBuf>) -> Result<Source, ActionError> {
    match (manifest, file) {
        (Some(text), None) => Ok(Source::Inline(text)),
        (None, Some(path)) => Ok(Source::File(path)),
        (Some(_), Some(_)) => Err(ActionError::InvalidInput(
            "give either `manifest` (inline YAML) or `file` (a local path), not both".into(),
        )),
        (None, None) => Err(ActionError::InvalidInput(
            "give `manifest` (inline YAML) or `file` (a local path) with the objects to apply"
                .into(),
        )),
    }
}

fn unreadable(path: &std::path::Path, e: &std::io::Error) -> ActionError {
    ActionError::InvalidInput(format!(
        "failed to read manifest file `{}`: {e}",
        path.display()
    ))
}

/// The objects of `text`; at least one, or applying it would be a mistake.
fn documents(text: &str, source: &str) -> Result<Vec<serde_json::Value>, ActionError> {
    let documents = parse_documents(text, source)?;
    if documents.is_empty() {
        return Err(ActionError::InvalidInput(format!(
            "{source} contains no Kubernetes object"
        )));
    }
    Ok(documents)
}

/// Splits YAML text into its documents as JSON objects, skipping empty documents (a
/// leading or trailing `---`), and checks that each one is a Kubernetes object: a
/// mapping with `apiVersion`, `kind` and `metadata.name`.
fn parse_documents(text: &str, source: &str) -> Result<Vec<serde_json::Value>, ActionError> {
    let mut documents = Vec::new();
    for (index, document) in serde_yaml_ng::Deserializer::from_str(text).enumerate() {
        let number = index + 1;
        let value = serde_json::Value::deserialize(document).map_err(|e| {
            ActionError::InvalidInput(format!(
                "document {number} of {source} is not valid YAML: {e}"
            ))
        })?;
        if value.is_null() {
            continue;
        }
        let Some(object) = value.as_object() else {
            return Err(ActionError::InvalidInput(format!(
                "document {number} of {source} is not a Kubernetes object (a mapping with apiVersion, kind and metadata)"
            )));
        };
        for (field, found) in [
            ("apiVersion", object.get("apiVersion")),
            ("kind", object.get("kind")),
            ("metadata.name", value.pointer("/metadata/name")),
        ] {
            if found
                .and_then(serde_json::Value::as_str)
                .is_none_or(str::is_empty)
            {
                return Err(ActionError::InvalidInput(format!(
                    "document {number} of {source} has no `{field}`; every Kubernetes object needs apiVersion, kind and metadata.name"
                )));
            }
        }
        documents.push(value);
    }
    Ok(documents)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::parse_documents;
    use crate::test_support::SimWorld;

    const PRIORITY_CLASSES: &str = "\
---
apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata:
  name: high-priority
value: 200
description: high
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: default
data:
  a: \"1\"
---
";

    #[tokio::test]
    async fn applies_every_document_twice_without_duplicates() {
        let world = SimWorld::new();
        world
            .run("create-cluster", json!({"name": "c"}))
            .await
            .expect("cluster");
        let out = world
            .run("apply-manifest", json!({"manifest": PRIORITY_CLASSES}))
            .await
            .expect("applied");
        let expected = json!({"applied": [
            {"api_version": "scheduling.k8s.io/v1", "kind": "PriorityClass", "name": "high-priority", "namespace": null},
            {"api_version": "v1", "kind": "ConfigMap", "name": "settings", "namespace": "default"},
        ]});
        assert_eq!(out, expected);
        let again = world
            .run("apply-manifest", json!({"manifest": PRIORITY_CLASSES}))
            .await
            .expect("applied again");
        assert_eq!(again, expected);
        let w = world.sim.world();
        let classes = w.priority_classes("c").expect("c");
        let ours: Vec<_> = classes
            .iter()
            .filter(|p| p.name == "high-priority")
            .collect();
        assert_eq!(ours.len(), 1);
        assert_eq!(ours[0].value, 200);
    }

    #[tokio::test]
    async fn reads_a_file() {
        let world = SimWorld::new();
        world
            .run("create-cluster", json!({"name": "c"}))
            .await
            .expect("cluster");
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("ns.yaml");
        std::fs::write(
            &path,
            "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: from-file\n",
        )
        .expect("write");
        let out = world
            .run("apply-manifest", json!({"file": path}))
            .await
            .expect("applied");
        assert_eq!(out["applied"][0]["kind"], "Namespace");
        assert!(
            world
                .sim
                .world()
                .cluster("c")
                .expect("c")
                .namespaces
                .contains("from-file")
        );
    }

    #[tokio::test]
    async fn bad_inputs_are_explained() {
        let world = SimWorld::new();
        let err = world
            .run(
                "apply-manifest",
                json!({"manifest": "kind: A", "file": "a.yaml"}),
            )
            .await
            .expect_err("both");
        assert!(err.to_string().contains("not both"), "{err}");
        let err = world
            .run("apply-manifest", json!({}))
            .await
            .expect_err("neither");
        assert!(err.to_string().contains("give `manifest`"), "{err}");
        let err = world
            .run("apply-manifest", json!({"file": "/nonexistent/m.yaml"}))
            .await
            .expect_err("missing file");
        assert!(
            err.to_string()
                .contains("failed to read manifest file `/nonexistent/m.yaml`"),
            "{err}"
        );

        world
            .run("create-cluster", json!({"name": "c"}))
            .await
            .expect("cluster");
        let err = world
            .run(
                "apply-manifest",
                json!({"manifest": "apiVersion: scheduling.k8s.io/v1\nkind: PriorityClass\nmetadata: {name: p}\n"}),
            )
            .await
            .expect_err("a PriorityClass needs a value");
        assert!(
            err.to_string().contains("`value` must be an integer"),
            "{err}"
        );
        assert!(
            world
                .sim
                .world()
                .priority_classes("c")
                .expect("c")
                .iter()
                .all(|p| p.name != "p")
        );
    }

    #[test]
    fn documents_must_be_kubernetes_objects() {
        let err = parse_documents("apiVersion: v1\nkind: [unclosed\n", "`manifest`")
            .expect_err("bad yaml");
        assert!(
            err.to_string()
                .contains("document 1 of `manifest` is not valid YAML"),
            "{err}"
        );
        let err = parse_documents(
            "apiVersion: v1\nkind: Namespace\nmetadata: {}\n",
            "`manifest`",
        )
        .expect_err("no name");
        assert!(
            err.to_string()
                .contains("document 1 of `manifest` has no `metadata.name`"),
            "{err}"
        );
        let err = parse_documents(
            "---\napiVersion: v1\nkind: A\nmetadata: {name: a}\n---\nmetadata: {name: b}\n",
            "`m`",
        )
        .expect_err("no kind");
        assert!(
            err.to_string()
                .contains("document 2 of `m` has no `apiVersion`"),
            "{err}"
        );
        let err = parse_documents("- a\n- b\n", "`m`").expect_err("a list");
        assert!(err.to_string().contains("not a Kubernetes object"), "{err}");
        assert!(parse_documents("---\n", "`m`").expect("empty").is_empty());
    }
}
