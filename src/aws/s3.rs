//! S3: reading the stored email. The bucket and key come with each request's notification.

use bytes::Bytes;

use crate::error::{AwsError, ErrorClass, ProcessError};
use crate::inbound::notification::ObjectRef;

/// The bucket SES stores inbound email in.
#[derive(Debug, Clone)]
pub struct Inbox {
    client: aws_sdk_s3::Client,
}

impl Inbox {
    /// Wraps a client built at cold start.
    pub fn new(client: aws_sdk_s3::Client) -> Self {
        Self { client }
    }

    /// Reads the stored email and its ETag. A missing object is permanent: nothing will bring it
    /// back; so is one larger than `max_bytes`, which is not read at all.
    pub async fn get_email(
        &self,
        object: &ObjectRef,
        max_bytes: u64,
    ) -> Result<(Bytes, Option<String>), ProcessError> {
        let output = self
            .client
            .get_object()
            .bucket(&object.bucket)
            .key(&object.key)
            .send()
            .await
            .map_err(|err| {
                let err = AwsError::from_sdk("S3.GetObject", err);
                // S3 answers 404 without a code to a HEAD-like miss; NoSuchBucket is a setup fault.
                let gone = err.class == ErrorClass::ObjectGone
                    || (err.status == Some(404) && err.code.is_none());
                if gone {
                    ProcessError::ObjectMissing {
                        bucket: object.bucket.clone(),
                        key: object.key.clone(),
                    }
                } else {
                    ProcessError::Aws(err)
                }
            })?;
        let too_large = |size: u64| ProcessError::TooLarge {
            bucket: object.bucket.clone(),
            key: object.key.clone(),
            size,
            max_bytes,
        };
        let size = u64::try_from(output.content_length.unwrap_or(0)).unwrap_or(0);
        if size > max_bytes {
            return Err(too_large(size));
        }
        let etag = output.e_tag.clone();
        // Read into one buffer of the declared size: gathering the body's chunks and then
        // copying them into one would hold a 40 MiB email twice. The bound holds while reading
        // too, whatever the declared length said.
        let mut raw = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
        let mut body = output.body;
        while let Some(chunk) = body.try_next().await.map_err(|err| {
            AwsError::transient("S3.GetObject", format!("reading the object body: {err}"))
        })? {
            let read = (raw.len() + chunk.len()) as u64;
            if read > max_bytes {
                return Err(too_large(read));
            }
            raw.extend_from_slice(&chunk);
        }
        Ok((Bytes::from(raw), etag))
    }
}
