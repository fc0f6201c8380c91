//! Amazon S3 through aws-sdk-s3: log buckets, pod templates and job scripts.

use async_trait::async_trait;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    BucketLocationConstraint, CreateBucketConfiguration, Delete, ObjectIdentifier,
};

use super::AwsConfig;
use super::error::{code_of, service_error};
use runbook_backend::ActionError;
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

    /// Deletes every object, 1,000 (DeleteObjects' limit) at a time.
    async fn empty(&self, bucket: &str) -> TargetResult<()> {
        loop {
            // Deleting changes the listing, so each round lists from the start.
            let page = match self.s3.list_objects_v2().bucket(bucket).send().await {
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
            let out = self
                .s3
                .delete_objects()
                .bucket(bucket)
                .delete(delete)
                .send()
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
        // us-east-1 is the default and not a valid LocationConstraint.
        if !self.region.is_empty() && self.region != "us-east-1" {
            request = request.create_bucket_configuration(
                CreateBucketConfiguration::builder()
                    .location_constraint(BucketLocationConstraint::from(self.region.as_str()))
                    .build(),
            );
        }
        match request.send().await {
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
        match self.s3.delete_bucket().bucket(name).send().await {
            Ok(_) => Ok(true),
            Err(e) if code_of(&e) == Some("NoSuchBucket") => Ok(false),
            Err(e) => Err(service_error("S3", "DeleteBucket", name, e)),
        }
    }

    async fn put_object(&self, bucket: &str, key: &str, content: &[u8]) -> TargetResult<()> {
        self.s3
            .put_object()
            .bucket(bucket)
            .key(key)
            .body(ByteStream::from(content.to_vec()))
            .send()
            .await
            .map_err(|e| service_error("S3", "PutObject", format!("s3://{bucket}/{key}"), e))?;
        Ok(())
    }
}
