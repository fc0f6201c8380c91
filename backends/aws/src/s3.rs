//! Amazon S3 through aws-sdk-s3: log buckets, pod templates and job scripts, and
//! preflight's question of who owns a bucket name.

use async_trait::async_trait;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    BucketLocationConstraint, CreateBucketConfiguration, Delete, ObjectIdentifier,
};

use serde_json::{Value, json};

use super::AwsConfig;
use super::error::{code_of, service_error};
use runbook_backend::calls::{PlannedCall, REGION_PLACEHOLDER, Service, declared};
use runbook_backend::{ActionError, BucketOwner};
use runbook_backend::{S3, TargetResult};

pub(super) struct AwsS3 {
    s3: aws_sdk_s3::Client,
    region: String,
}

impl AwsS3 {
    pub(super) fn new(config: &AwsConfig) -> AwsS3 {
        // Local endpoints (moto, MinIO) serve buckets by path, not by host name.
        let s3_config = crate::call_recording::sdk_config!(aws_sdk_s3, config)
            .force_path_style(config.custom_endpoint)
            .build();
        AwsS3 {
            s3: aws_sdk_s3::Client::from_conf(s3_config),
            region: config
                .sdk
                .region()
                .map(ToString::to_string)
                .unwrap_or_default(),
        }
    }

    #[cfg(test)]
    fn from_client(s3: aws_sdk_s3::Client, region: &str) -> AwsS3 {
        AwsS3 {
            s3,
            region: region.to_string(),
        }
    }

    /// Deletes every object, 1,000 (DeleteObjects' limit) at a time.
    async fn empty(&self, bucket: &str) -> TargetResult<()> {
        loop {
            // Deleting changes the listing, so each round lists from the start.
            let page = match declared(
                list_call(bucket),
                self.s3.list_objects_v2().bucket(bucket).send(),
            )
            .await
            {
                Ok(page) => page,
                Err(e) => return Err(service_error("S3", "ListObjectsV2", bucket, e)),
            };
            let keys: Vec<ObjectIdentifier> = page
                .contents()
                .iter()
                .filter_map(|o| o.key())
                .filter_map(|k| ObjectIdentifier::builder().key(k).build().ok())
                .collect();
            if keys.is_empty() {
                return Ok(());
            }
            let delete = Delete::builder()
                .set_objects(Some(keys))
                .quiet(true)
                .build()
                .map_err(|e| ActionError::Bug(format!("S3 DeleteObjects request: {e}")))?;
            let out = declared(
                delete_objects_call(bucket),
                self.s3
                    .delete_objects()
                    .bucket(bucket)
                    .delete(delete)
                    .send(),
            )
            .await
            .map_err(|e| service_error("S3", "DeleteObjects", bucket, e))?;
            if let Some(failed) = out.errors().first() {
                return Err(ActionError::Service {
                    service: "S3",
                    operation: "DeleteObjects",
                    resource: format!("s3://{bucket}/{}", failed.key().unwrap_or_default()),
                    code: failed.code().unwrap_or("Unknown").to_string(),
                    message: failed.message().unwrap_or_default().to_string(),
                });
            }
        }
    }
}

#[async_trait]
impl S3 for AwsS3 {
    async fn create_bucket(&self, name: &str) -> TargetResult<bool> {
        let mut request = self.s3.create_bucket().bucket(name);
        if let Some(region) = location_constraint(&self.region) {
            request = request.create_bucket_configuration(
                CreateBucketConfiguration::builder()
                    .location_constraint(BucketLocationConstraint::from(region))
                    .build(),
            );
        }
        match declared(create_call(name, &self.region), request.send()).await {
            Ok(_) => Ok(true),
            Err(e) if code_of(&e) == Some("BucketAlreadyOwnedByYou") => Ok(false),
            Err(e) if code_of(&e) == Some("BucketAlreadyExists") => Err(ActionError::Service {
                service: "S3",
                operation: "CreateBucket",
                resource: name.to_string(),
                code: "BucketAlreadyExists".into(),
                message: "another AWS account owns a bucket with this name (bucket names are global); choose another name".into(),
            }),
            Err(e) => Err(service_error("S3", "CreateBucket", name, e)),
        }
    }

    async fn delete_bucket(&self, name: &str, force: bool) -> TargetResult<bool> {
        if force {
            match self.empty(name).await {
                Ok(()) => {}
                Err(ActionError::Service { code, .. }) if code == "NoSuchBucket" => {
                    return Ok(false);
                }
                Err(e) => return Err(e),
            }
        }
        match declared(
            delete_call(name),
            self.s3.delete_bucket().bucket(name).send(),
        )
        .await
        {
            Ok(_) => Ok(true),
            Err(e) if code_of(&e) == Some("NoSuchBucket") => Ok(false),
            Err(e) => Err(service_error("S3", "DeleteBucket", name, e)),
        }
    }

    async fn put_object(&self, bucket: &str, key: &str, content: &[u8]) -> TargetResult<()> {
        declared(
            put_call(bucket, key, json!({"bytes": content.len()})),
            self.s3
                .put_object()
                .bucket(bucket)
                .key(key)
                .body(ByteStream::from(content.to_vec()))
                .send(),
        )
        .await
        .map_err(|e| service_error("S3", "PutObject", format!("s3://{bucket}/{key}"), e))?;
        Ok(())
    }

    async fn get_object(&self, bucket: &str, key: &str) -> TargetResult<Option<Vec<u8>>> {
        let resource = || format!("s3://{bucket}/{key}");
        let get = PlannedCall::new(
            Service::S3,
            "GetObject",
            json!({"bucket": bucket, "key": key}),
        );
        match declared(get, self.s3.get_object().bucket(bucket).key(key).send()).await {
            Ok(object) => {
                let bytes = object
                    .body
                    .collect()
                    .await
                    .map_err(|e| ActionError::Service {
                        service: "S3",
                        operation: "GetObject",
                        resource: resource(),
                        code: "ReadError".into(),
                        message: e.to_string(),
                    })?;
                Ok(Some(bytes.into_bytes().to_vec()))
            }
            Err(e) if matches!(code_of(&e), Some("NoSuchKey" | "NoSuchBucket")) => Ok(None),
            Err(e) => Err(service_error("S3", "GetObject", resource(), e)),
        }
    }

    /// HeadBucket, decided on its HTTP status: its errors have no body, so most have
    /// no error code. 404 is nobody's; 403 is another account's (or, rarely, ours
    /// while the caller may not `s3:ListBucket` it, which create-bucket would then
    /// report); 301 is a bucket in another region, whose owner S3 does not tell, so
    /// it is an error naming that region.
    async fn bucket_owner(&self, name: &str) -> TargetResult<BucketOwner> {
        let head = PlannedCall::new(Service::S3, "HeadBucket", json!({"bucket": name}))
            .note("who owns the name");
        let error = match declared(head, self.s3.head_bucket().bucket(name).send()).await {
            Ok(_) => return Ok(BucketOwner::Caller),
            Err(e) => e,
        };
        let answer = error.raw_response();
        let status = answer.map(|r| r.status().as_u16());
        let code = code_of(&error);
        if status == Some(404) || matches!(code, Some("NotFound" | "NoSuchBucket")) {
            return Ok(BucketOwner::Nobody);
        }
        if status == Some(403) || matches!(code, Some("Forbidden" | "AccessDenied")) {
            return Ok(BucketOwner::Other);
        }
        if status == Some(301) || code == Some("PermanentRedirect") {
            let region = answer
                .and_then(|r| r.headers().get("x-amz-bucket-region"))
                .map_or_else(|| "another region".to_string(), |r| format!("region `{r}`"));
            return Err(ActionError::Service {
                service: "S3",
                operation: "HeadBucket",
                resource: name.to_string(),
                code: "PermanentRedirect".into(),
                message: format!(
                    "bucket `{name}` exists in {region}, not `{}`; S3 bucket names are global, so choose another name (or run in that region if the bucket is yours)",
                    self.region
                ),
            });
        }
        match (code, status) {
            // The SDK's own text for a codeless error says nothing ("unhandled error").
            (None, Some(status)) => Err(ActionError::Service {
                service: "S3",
                operation: "HeadBucket",
                resource: name.to_string(),
                code: format!("HTTP {status}"),
                message: if status == 400 {
                    format!(
                        "S3 gave no details (HeadBucket answers have no body); check that `{name}` is a valid bucket name (3-63 lowercase letters, digits, dots and hyphens) and that the region `{}` is enabled for the account",
                        self.region
                    )
                } else {
                    "S3 gave no details (HeadBucket answers have no body); try again later".into()
                },
            }),
            _ => Err(service_error("S3", "HeadBucket", name, error)),
        }
    }

    fn planned_create_bucket(&self, name: &str) -> Vec<PlannedCall> {
        vec![create_call(name, &self.region)]
    }

    fn planned_delete_bucket(&self, name: &str, force: bool) -> Vec<PlannedCall> {
        let mut calls = Vec::new();
        if force {
            calls.extend([list_call(name), delete_objects_call(name)]);
        }
        calls.push(delete_call(name));
        calls
    }

    fn planned_put_object(&self, bucket: &str, key: &str, body: Value) -> Vec<PlannedCall> {
        vec![put_call(bucket, key, body)]
    }
}

/// The LocationConstraint of a bucket made in `region`: none in us-east-1, which is
/// the default and not a valid constraint.
fn location_constraint(region: &str) -> Option<&str> {
    (!region.is_empty() && region != "us-east-1").then_some(region)
}

fn create_call(name: &str, region: &str) -> PlannedCall {
    let mut detail = json!({"bucket": name});
    if let Some(region) = location_constraint(region) {
        detail["createBucketConfiguration"] = json!({"locationConstraint": region});
    }
    let note = if region == REGION_PLACEHOLDER {
        "no configuration in us-east-1; BucketAlreadyOwnedByYou: adopted"
    } else {
        "BucketAlreadyOwnedByYou: adopted"
    };
    PlannedCall::new(Service::S3, "CreateBucket", detail).note(note)
}

fn list_call(bucket: &str) -> PlannedCall {
    PlannedCall::new(Service::S3, "ListObjectsV2", json!({"bucket": bucket}))
        .note("repeated until the bucket is empty")
}

fn delete_objects_call(bucket: &str) -> PlannedCall {
    PlannedCall::new(
        Service::S3,
        "DeleteObjects",
        json!({"bucket": bucket, "objects": "<the keys listed>"}),
    )
    .when("for each page of objects (force)")
}

fn delete_call(bucket: &str) -> PlannedCall {
    PlannedCall::new(Service::S3, "DeleteBucket", json!({"bucket": bucket}))
        .note("NoSuchBucket: already gone, which is success")
}

/// PutObject of `key`; `body` says what is known of the content (`{"bytes": N}`, or
/// in a plan the `file` it is read from), merged into the detail.
fn put_call(bucket: &str, key: &str, body: Value) -> PlannedCall {
    let mut detail = json!({"bucket": bucket, "key": key});
    if let (Value::Object(detail), Value::Object(body)) = (&mut detail, body) {
        detail.extend(body);
    }
    PlannedCall::new(Service::S3, "PutObject", detail)
}

#[cfg(test)]
mod tests {
    //! Who owns a bucket name, from HeadBucket answers as S3 gives them (status and
    //! headers, no body).

    use aws_sdk_s3::operation::head_bucket::HeadBucketOutput;
    use aws_smithy_mocks::mock;
    use aws_smithy_runtime_api::http::{Response, StatusCode};
    use aws_smithy_types::body::SdkBody;

    use super::*;
    use crate::sdk_mock::mocked;

    /// The owner of `logs-demo` when S3 answers HeadBucket with `status` and no body.
    async fn owner_when_answered(status: u16) -> TargetResult<BucketOwner> {
        let rule = mock!(aws_sdk_s3::Client::head_bucket)
            .match_requests(|r| r.bucket() == Some("logs-demo"))
            .sequence()
            .http_status(status, None)
            .build();
        AwsS3::from_client(mocked!(aws_sdk_s3, &rule), "us-east-2")
            .bucket_owner("logs-demo")
            .await
    }

    #[tokio::test]
    async fn a_bucket_we_can_head_is_ours() {
        let rule = mock!(aws_sdk_s3::Client::head_bucket)
            .match_requests(|r| r.bucket() == Some("logs-demo"))
            .then_output(|| {
                HeadBucketOutput::builder()
                    .bucket_region("us-east-2")
                    .build()
            });
        let owner = AwsS3::from_client(mocked!(aws_sdk_s3, &rule), "us-east-2")
            .bucket_owner("logs-demo")
            .await;
        assert!(matches!(owner, Ok(BucketOwner::Caller)), "{owner:?}");
    }

    #[tokio::test]
    async fn not_found_is_nobodys_and_forbidden_is_another_accounts() {
        let missing = owner_when_answered(404).await;
        assert!(matches!(missing, Ok(BucketOwner::Nobody)), "{missing:?}");
        let forbidden = owner_when_answered(403).await;
        assert!(matches!(forbidden, Ok(BucketOwner::Other)), "{forbidden:?}");
    }

    #[tokio::test]
    async fn a_bucket_in_another_region_is_an_error_naming_it() {
        let rule = mock!(aws_sdk_s3::Client::head_bucket).then_http_response(|| {
            let mut answer = Response::new(
                StatusCode::try_from(301).expect("valid status"),
                SdkBody::empty(),
            );
            answer
                .headers_mut()
                .insert("x-amz-bucket-region", "eu-west-1");
            answer
        });
        let err = AwsS3::from_client(mocked!(aws_sdk_s3, &rule), "us-east-2")
            .bucket_owner("logs-demo")
            .await
            .expect_err("elsewhere");
        assert_eq!(
            err.to_string(),
            "S3 HeadBucket of `logs-demo` failed: PermanentRedirect: bucket `logs-demo` exists in region `eu-west-1`, not `us-east-2`; S3 bucket names are global, so choose another name (or run in that region if the bucket is yours)"
        );
    }

    #[tokio::test]
    async fn other_answers_are_errors_of_headbucket_with_the_status() {
        let err = owner_when_answered(400).await.expect_err("bad request");
        assert_eq!(
            err.to_string(),
            "S3 HeadBucket of `logs-demo` failed: HTTP 400: S3 gave no details (HeadBucket answers have no body); check that `logs-demo` is a valid bucket name (3-63 lowercase letters, digits, dots and hyphens) and that the region `us-east-2` is enabled for the account"
        );
    }
}
