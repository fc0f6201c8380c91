//! `put-object`: writes an S3 object, e.g. a pod template or a job script (walkthrough
//! rows 8 and 9).

use std::path::PathBuf;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::action::{Action, Effects};
use crate::context::StepContext;
use crate::planned_call::{PlanContext, PlannedCall};
use runbook_backend::ActionError;

/// The action; [`PutObjectInput`] documents what it does (its doc comment is the
/// action's help text).
pub(crate) struct PutObject;

/// Writes an object to S3 from inline text or a local file, replacing any object of
/// that key (so running it again leaves the same object). On `sim`, pod templates that
/// jobs name by `s3://` URI are read from these objects.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PutObjectInput {
    /// Bucket name.
    bucket: String,
    /// Object key, e.g. `templates/driver.yaml`.
    key: String,
    /// The object's content as text. Give this or `file`, not both.
    #[serde(default)]
    content: Option<String>,
    /// A local file to upload (relative to the current directory). Give this or
    /// `content`, not both.
    #[serde(default)]
    file: Option<PathBuf>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct PutObjectOutput {
    /// `s3://BUCKET/KEY`, to give to jobs (pod templates, entry points).
    uri: String,
    /// Size of the object in bytes.
    bytes: u64,
}

impl Action for PutObject {
    type Input = PutObjectInput;
    type Output = PutObjectOutput;
    const NAME: &'static str = "put-object";
    const SUMMARY: &'static str = "Write an S3 object from inline text or a local file.";
    const EFFECTS: Effects = Effects::Mutates;

    async fn run(
        &self,
        input: PutObjectInput,
        ctx: &StepContext,
    ) -> Result<PutObjectOutput, ActionError> {
        check_key(&input.key)?;
        let body = match body_source(input.content, input.file)? {
            Body::Text(text) => text.into_bytes(),
            Body::File(path) => tokio::fs::read(&path).await.map_err(|e| {
                ActionError::InvalidInput(format!(
                    "failed to read `{}` to upload: {e}",
                    path.display()
                ))
            })?,
        };
        ctx.target
            .s3
            .put_object(&input.bucket, &input.key, &body)
            .await?;
        Ok(PutObjectOutput {
            uri: format!("s3://{}/{}", input.bucket, input.key),
            bytes: body.len() as u64,
        })
    }

    fn planned_calls(
        input: &PutObjectInput,
        plan: &PlanContext,
    ) -> Result<Vec<PlannedCall>, ActionError> {
        check_key(&input.key)?;
        let body = match body_source(input.content.clone(), input.file.clone())? {
            Body::Text(text) => json!({"bytes": text.len()}),
            Body::File(path) => json!({"file": path.display().to_string()}),
        };
        Ok(plan
            .target
            .s3
            .planned_put_object(&input.bucket, &input.key, body))
    }
}

/// Where the object's bytes come from.
enum Body {
    Text(String),
    File(PathBuf),
}

/// The one source of the object the input gives.
fn body_source(content: Option<String>, file: Option<PathBuf>) -> Result<Body, ActionError> {
    match (content, file) {
        (Some(text), None) => Ok(Body::Text(text)),
        (None, Some(path)) => Ok(Body::File(path)),
        (Some(_), Some(_)) => Err(ActionError::InvalidInput(
            "give either `content` (text) or `file` (a local path), not both".into(),
        )),
        (None, None) => Err(ActionError::InvalidInput(
            "give `content` (text) or `file` (a local path) to upload".into(),
        )),
    }
}

/// S3 keys are 1 to 1024 bytes of UTF-8; S3 refuses any other.
fn check_key(key: &str) -> Result<(), ActionError> {
    if key.is_empty() || key.len() > 1024 {
        return Err(ActionError::InvalidInput(format!(
            "object key must be 1 to 1024 bytes long (got {})",
            key.len()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::test_support::SimWorld;

    #[tokio::test]
    async fn writes_text_and_files_and_overwrites() {
        let world = SimWorld::new();
        world
            .run("create-bucket", json!({"name": "jobs"}))
            .await
            .expect("bucket");
        let out = world
            .run(
                "put-object",
                json!({"bucket": "jobs", "key": "a/b.py", "content": "print(1)\n"}),
            )
            .await
            .expect("put");
        assert_eq!(out, json!({"uri": "s3://jobs/a/b.py", "bytes": 9}));

        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("script.py");
        std::fs::write(&path, "print(2)\nprint(3)\n").expect("write");
        let out = world
            .run(
                "put-object",
                json!({"bucket": "jobs", "key": "a/b.py", "file": path}),
            )
            .await
            .expect("put again");
        assert_eq!(out["bytes"], 18);
        let w = world.sim.world();
        assert_eq!(
            w.get_object("jobs", "a/b.py").expect("object"),
            b"print(2)\nprint(3)\n"
        );
        assert_eq!(w.bucket("jobs").expect("bucket").objects.len(), 1);
    }

    #[tokio::test]
    async fn bad_inputs_are_explained() {
        let world = SimWorld::new();
        world
            .run("create-bucket", json!({"name": "jobs"}))
            .await
            .expect("bucket");
        let err = world
            .run(
                "put-object",
                json!({"bucket": "jobs", "key": "k", "content": "x", "file": "x.txt"}),
            )
            .await
            .expect_err("both");
        assert_eq!(
            err.to_string(),
            "invalid input: give either `content` (text) or `file` (a local path), not both"
        );
        let err = world
            .run("put-object", json!({"bucket": "jobs", "key": "k"}))
            .await
            .expect_err("neither");
        assert!(err.to_string().contains("give `content`"), "{err}");
        let err = world
            .run(
                "put-object",
                json!({"bucket": "nope", "key": "k", "content": "x"}),
            )
            .await
            .expect_err("no such bucket");
        let message = err.to_string();
        assert!(
            message.contains("S3 PutObject of `s3://nope/k` failed: NoSuchBucket"),
            "{message}"
        );
    }
}
