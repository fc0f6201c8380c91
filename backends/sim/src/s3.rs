//! S3 on the simulated world.

use async_trait::async_trait;

use super::SimTarget;
use runbook_backend::{BucketOwner, S3, TargetResult};

#[async_trait]
impl S3 for SimTarget {
    async fn create_bucket(&self, name: &str) -> TargetResult<bool> {
        if self.world().bucket(name).is_ok() {
            // BucketAlreadyOwnedByYou: the simulated account owns every bucket.
            return Ok(false);
        }
        self.act("S3", "CreateBucket", name, |w| w.create_bucket(name))?;
        Ok(true)
    }

    async fn delete_bucket(&self, name: &str, force: bool) -> TargetResult<bool> {
        if self.world().bucket(name).is_err() {
            return Ok(false);
        }
        self.act("S3", "DeleteBucket", name, |w| w.delete_bucket(name, force))?;
        Ok(true)
    }

    /// The simulated account is alone in its world: a name is its own or free.
    async fn bucket_owner(&self, name: &str) -> TargetResult<BucketOwner> {
        Ok(if self.world().bucket(name).is_ok() {
            BucketOwner::Caller
        } else {
            BucketOwner::Nobody
        })
    }

    async fn put_object(&self, bucket: &str, key: &str, content: &[u8]) -> TargetResult<()> {
        let resource = format!("s3://{bucket}/{key}");
        self.act("S3", "PutObject", &resource, |w| {
            w.put_object(bucket, key, content.to_vec())
        })
    }

    async fn get_object(&self, bucket: &str, key: &str) -> TargetResult<Option<Vec<u8>>> {
        Ok(self
            .world()
            .get_object(bucket, key)
            .ok()
            .map(<[u8]>::to_vec))
    }
}
