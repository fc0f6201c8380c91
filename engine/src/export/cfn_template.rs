//! The CloudFormation template an export writes: the state machine, with its definition
//! as an object (not a string, so CloudFormation and cfn-lint read it), and the IAM role
//! it runs as, whose policy allows the calls its states make, derived as
//! `plan --target aws --iam-policy` derives a run's ([`crate::iam_policy`]).

use serde_json::{Value, json};

/// The template for a state machine with `definition` whose states make `calls`
/// (`plan --output json`'s call objects).
pub(crate) fn template(description: &str, definition: Value, calls: Vec<Value>) -> Value {
    let policy = crate::iam_policy::policy(&[json!({"calls": calls})]);
    json!({
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": description,
        "Resources": {
            "StateMachineRole": {
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "AssumeRolePolicyDocument": trust_policy("states.amazonaws.com"),
                    "Policies": [{"PolicyName": "runbook-calls", "PolicyDocument": policy}],
                },
            },
            "StateMachine": {
                "Type": "AWS::StepFunctions::StateMachine",
                "Properties": {
                    "RoleArn": {"Fn::GetAtt": ["StateMachineRole", "Arn"]},
                    "Definition": definition,
                },
            },
        },
        "Outputs": {
            "StateMachineArn": {"Value": {"Ref": "StateMachine"}},
        },
    })
}

/// A role's trust policy letting `service` (`states.amazonaws.com`, ...) assume it.
pub(crate) fn trust_policy(service: &str) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Service": service},
            "Action": "sts:AssumeRole",
        }],
    })
}

/// The IAM actions the role's policy allows, for the dry-run summary.
pub(crate) fn role_actions(template: &Value) -> Vec<String> {
    template
        .pointer("/Resources/StateMachineRole/Properties/Policies/0/PolicyDocument/Statement")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .flat_map(|statement| match &statement["Action"] {
            Value::Array(actions) => actions.clone(),
            one => vec![one.clone()],
        })
        .filter_map(|action| action.as_str().map(str::to_string))
        .collect()
}

/// The template as YAML (`--format yaml`): the same document, block style.
pub(crate) fn to_yaml(template: &Value) -> String {
    let mut out = String::new();
    let mut emitter = yaml_rust2::YamlEmitter::new(&mut out);
    // Writing into a String cannot fail.
    let _ = emitter.dump(&yaml(template));
    out.push('\n');
    out
}

fn yaml(value: &Value) -> yaml_rust2::Yaml {
    use yaml_rust2::Yaml;
    match value {
        Value::Null => Yaml::Null,
        Value::Bool(b) => Yaml::Boolean(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => Yaml::Integer(i),
            None => Yaml::Real(n.to_string()),
        },
        Value::String(s) => Yaml::String(s.clone()),
        Value::Array(items) => Yaml::Array(items.iter().map(yaml).collect()),
        Value::Object(map) => Yaml::Hash(
            map.iter()
                .map(|(k, v)| (Yaml::String(k.clone()), yaml(v)))
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_role_allows_exactly_the_calls_of_the_states() {
        let template = template(
            "t",
            json!({"StartAt": "a", "States": {}}),
            vec![
                json!({"service": "EMR on EKS", "operation": "StartJobRun", "detail": {}}),
                json!({"service": "CloudWatch Logs", "operation": "CreateLogGroup", "detail": {}}),
            ],
        );
        assert_eq!(
            role_actions(&template),
            ["emr-containers:StartJobRun", "logs:CreateLogGroup"]
        );
        let yaml = to_yaml(&template);
        assert!(
            yaml.contains("Type: \"AWS::StepFunctions::StateMachine\"")
                || yaml.contains("Type: AWS::StepFunctions::StateMachine"),
            "{yaml}"
        );
    }
}
