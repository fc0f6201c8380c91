//! `put-object` as `aws-sdk:s3:putObject`: the bucket and key of its planned call, and
//! the text the step gives as the body, as the run sends it (no content type).

use serde_json::{Value, json};

use super::action_mapping::{Builder, field};
use super::refusal::Unexportable;

pub(super) fn put_object(b: &mut Builder<'_>) -> Result<(), Unexportable> {
    let mut request = b.planned("PutObject")?;
    // The plan names a local file without reading it; the run reads it on its own
    // machine, which a state machine does not have.
    if request.get("File").is_some() {
        return Err(Unexportable::LocalFile);
    }
    let content = field(b.step.with, "content").clone();
    let bytes = content
        .as_str()
        .filter(|text| !super::runtime_value::is_dynamic(text))
        .map(str::len);
    if let Value::Object(members) = &mut request {
        members.remove("Bytes");
    }
    request["Body"] = content;
    let bucket = request["Bucket"].as_str().unwrap_or_default().to_string();
    let key = request["Key"].as_str().unwrap_or_default().to_string();
    b.task(
        "PutObject",
        "aws-sdk:s3:putObject",
        request,
        &[("S3", "PutObject", json!({}))],
    )?;
    let uri = format!("s3://{bucket}/{key}");
    // The size is known when the text is; text known only at run time has no length
    // the States language can count in bytes.
    match bytes {
        Some(bytes) => b.outputs(&["uri", "bytes"], json!({"uri": uri, "bytes": bytes})),
        None => b.outputs(&["uri"], json!({"uri": uri})),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::super::action_mapping::{Mapping, map_alone};
    use super::super::refusal::Unexportable;
    use super::super::runtime_value::marker;

    fn mapped(with: &Value) -> Result<Mapping, Unexportable> {
        map_alone("step", "put-object", with)
    }

    #[test]
    fn inline_text_is_the_body_of_a_put_object() {
        let with = json!({"bucket": "jobs", "key": "pi.py", "content": "print(1)\n"});
        let mapping = mapped(&with).expect("maps");
        let put = mapping.state("step PutObject");
        assert_eq!(put["Resource"], "arn:aws:states:::aws-sdk:s3:putObject");
        assert_eq!(
            put["Parameters"],
            json!({"Bucket": "jobs", "Key": "pi.py", "Body": "print(1)\n"})
        );
        assert_eq!(
            mapping.state("step outputs")["Parameters"],
            json!({"uri": "s3://jobs/pi.py", "bytes": 9})
        );
        assert_eq!(mapping.calls[0]["operation"], "PutObject");

        let later = json!({"bucket": marker("$.steps.b.name"), "key": "k", "content": marker("$.steps.t.text")});
        let mapping = mapped(&later).expect("maps");
        assert_eq!(
            mapping.state("step PutObject")["Parameters"]["Body.$"],
            "$.steps.t.text"
        );
        assert_eq!(mapping.output_names, ["uri"]);
    }

    #[test]
    fn a_local_file_is_refused() {
        let with = json!({"bucket": "jobs", "key": "pi.py", "file": "pi.py"});
        let refused = mapped(&with).expect_err("a local file");
        assert!(
            refused
                .to_string()
                .contains("the file is on the machine that runs runbook"),
            "{refused}"
        );
    }
}
