//! The bearer token EKS accepts for its Kubernetes API, as `aws eks get-token` and
//! aws-iam-authenticator make it: a SigV4-presigned STS `GetCallerIdentity` URL that
//! also signs the `x-k8s-aws-id` header naming the cluster. The API server's
//! authenticator replays the URL to STS to learn who is calling, and rejects a token
//! whose signed headers lack the cluster name (so a token cannot be reused for
//! another cluster).

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    SignableBody, SignableRequest, SignatureLocation, SigningSettings, sign,
};
use aws_sigv4::sign::v4;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// The token prefix the authenticator recognises.
const PREFIX: &str = "k8s-aws-v1.";
/// The header that binds the token to one cluster.
pub(super) const CLUSTER_ID_HEADER: &str = "x-k8s-aws-id";

/// STS ignores `X-Amz-Expires` for this call (the URL is valid 15 minutes after its
/// `X-Amz-Date`), but the authenticator requires a value from 0 to 900; the AWS CLI
/// sends 60.
const PRESIGN_EXPIRES: Duration = Duration::from_secs(60);

/// How long a token is used before a new one is made: EKS accepts it for 15 minutes
/// and the AWS CLI renews it after 14; renewing after 10 leaves room for clock skew
/// and for a request that is slow to reach the server.
pub(super) const TOKEN_REFRESH: Duration = Duration::from_secs(10 * 60);

/// The token for `cluster`, signed with `credentials` for the STS endpoint of
/// `region` at `time`.
pub(super) fn eks_token(
    cluster: &str,
    region: &str,
    credentials: &Credentials,
    time: SystemTime,
) -> Result<String, String> {
    let url = format!(
        "https://sts.{region}.{}/?Action=GetCallerIdentity&Version=2011-06-15",
        dns_suffix(region)
    );
    let host = url
        .trim_start_matches("https://")
        .split('/')
        .next()
        .unwrap_or_default()
        .to_string();
    let identity = credentials.clone().into();
    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(PRESIGN_EXPIRES);
    let params: aws_sigv4::http_request::SigningParams<'_> = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("sts")
        .time(time)
        .settings(settings)
        .build()
        .map_err(|e| format!("failed to build the signing parameters: {e}"))?
        .into();
    let headers = [("host", host.as_str()), (CLUSTER_ID_HEADER, cluster)];
    let signable = SignableRequest::new(
        "GET",
        url.as_str(),
        headers.into_iter(),
        SignableBody::Bytes(&[]),
    )
    .map_err(|e| format!("failed to sign the STS request: {e}"))?;
    let (instructions, _signature) = sign(signable, &params)
        .map_err(|e| format!("failed to sign the STS request: {e}"))?
        .into_parts();
    let mut request = http::Request::get(url.as_str())
        .body(())
        .map_err(|e| format!("failed to build the STS request: {e}"))?;
    instructions.apply_to_request_http1x(&mut request);
    Ok(format!(
        "{PREFIX}{}",
        URL_SAFE_NO_PAD.encode(request.uri().to_string())
    ))
}

/// The DNS suffix of the region's partition (China regions are under
/// `amazonaws.com.cn`); the authenticator only accepts the partition's STS hosts.
fn dns_suffix(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::time::{Duration, UNIX_EPOCH};

    use aws_credential_types::Credentials;
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    use super::eks_token;

    fn decode(token: &str) -> (String, BTreeMap<String, String>) {
        let body = token
            .strip_prefix("k8s-aws-v1.")
            .expect("token starts with k8s-aws-v1.");
        let url =
            String::from_utf8(URL_SAFE_NO_PAD.decode(body).expect("base64url")).expect("utf-8 url");
        let (base, query) = url.split_once('?').expect("query string");
        let params = query
            .split('&')
            .map(|kv| {
                let (k, v) = kv.split_once('=').expect("key=value");
                (k.to_string(), percent_decode(v))
            })
            .collect();
        (base.to_string(), params)
    }

    fn percent_decode(s: &str) -> String {
        let bytes = s.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'%' {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).expect("hex");
                out.push(u8::from_str_radix(hex, 16).expect("hex digit"));
                i += 3;
            } else {
                out.push(bytes[i]);
                i += 1;
            }
        }
        String::from_utf8(out).expect("utf-8")
    }

    #[test]
    fn token_is_a_presigned_get_caller_identity_url_bound_to_the_cluster() {
        let credentials = Credentials::new(
            "AKIDEXAMPLE",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            Some("session-token".into()),
            None,
            "test",
        );
        // 2024-05-01T12:00:00Z
        let time = UNIX_EPOCH + Duration::from_secs(1_714_564_800);
        let token = eks_token("demo", "us-east-2", &credentials, time).expect("token");
        assert!(!token.contains('='), "padding must be stripped: {token}");
        assert!(token.len() < 4096, "the API server rejects longer tokens");
        let (base, params) = decode(&token);
        assert_eq!(base, "https://sts.us-east-2.amazonaws.com/");
        assert_eq!(params["Action"], "GetCallerIdentity");
        assert_eq!(params["Version"], "2011-06-15");
        assert_eq!(params["X-Amz-Expires"], "60");
        assert_eq!(params["X-Amz-Algorithm"], "AWS4-HMAC-SHA256");
        assert_eq!(params["X-Amz-Date"], "20240501T120000Z");
        assert_eq!(params["X-Amz-SignedHeaders"], "host;x-k8s-aws-id");
        assert_eq!(
            params["X-Amz-Credential"],
            "AKIDEXAMPLE/20240501/us-east-2/sts/aws4_request"
        );
        assert_eq!(params["X-Amz-Security-Token"], "session-token");
        // The signature botocore's SigV4QueryAuth (what `aws eks get-token` uses)
        // computes for the same request, credentials and time.
        assert_eq!(
            params["X-Amz-Signature"],
            "1784137320baba09c1e50968d9fe9015b6296f2627ee653d933195f904404cf0"
        );

        // The signature covers the cluster name: another cluster, another token.
        let other = eks_token("other", "us-east-2", &credentials, time).expect("token");
        assert_ne!(
            decode(&other).1["X-Amz-Signature"],
            params["X-Amz-Signature"]
        );
    }

    #[test]
    fn china_regions_use_their_partition() {
        let credentials = Credentials::new("AKID", "secret", None, None, "test");
        let token = eks_token("c", "cn-north-1", &credentials, UNIX_EPOCH).expect("token");
        assert_eq!(decode(&token).0, "https://sts.cn-north-1.amazonaws.com.cn/");
    }
}
