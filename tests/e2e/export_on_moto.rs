//! An exported state machine *executed*: `runbook export --to step-functions
//! --integration-style sdk` of a canned runbook, created on moto's Step Functions with
//! its interpreter turned on through moto's config API, and started; afterwards moto
//! (and the cluster) hold what `runbook run --target aws` of the same runbook leaves in
//! the same empty world: the cluster and node group, the virtual clusters, the roles
//! with their trust and inline policies, the log groups and buckets, the job run's
//! parameters, the namespaces.
//!
//! moto 5.2.5 runs neither the `.sync` patterns nor `eks:call`, and leaves Step
//! Functions' parameter and result naming to the caller; `tests/aws/sfn_integrations.py`
//! (loaded by the moto launcher) gives it what Step Functions does on AWS, and the
//! export's `--integration-style sdk` polls instead of `.sync` (the `.sync` form is
//! checked by cfn-lint and statelint in `export_step_functions`). The execution is
//! driven by `tests/aws/sfn_execute.py` with boto3 (no Step Functions client in the
//! test binary): CreateStateMachine, StartExecution, DescribeExecution until it ends.
//!
//! Where the two differ by design, the inventory leaves it out and says why: EMR's
//! access to a namespace (the run writes eksctl's RBAC and aws-auth mapping; the state
//! machine relies on EMR's EKS access-entry integration, which moto does not emulate),
//! the ids AWS makes up, and the idempotency tokens (the run's id vs the execution's
//! name).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

use serde_json::{Value, json};

use crate::aws_harness::{AwsWorld, REGION, python};
use crate::aws_sdk::Sdk;
use crate::harness::Test;

const ACCOUNT: &str = "123456789012";

/// The roles and subnets create-cluster is given on both sides.
fn cluster_sets() -> Vec<String> {
    [
        format!("cluster_role_arn=arn:aws:iam::{ACCOUNT}:role/eks-cluster-role"),
        format!("node_role_arn=arn:aws:iam::{ACCOUNT}:role/eks-node-role"),
        "subnet_ids=[subnet-0a1,subnet-0b2]".to_string(),
    ]
    .into_iter()
    .flat_map(|set| ["--set".to_string(), set])
    .collect()
}

fn canned(name: &str) -> String {
    format!("{}/runbooks/{name}.yaml", env!("CARGO_MANIFEST_DIR"))
}

/// The state machine's definition, exported with the sdk integration style unless
/// `extra` says otherwise, and polls a second apart (moto's job runs take a second; the
/// clusters are ACTIVE at once).
fn export_definition(t: &Test, runbook: &str, extra: &[&str]) -> PathBuf {
    let mut args = cluster_sets();
    args.extend(extra.iter().map(ToString::to_string));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    export_file_definition(t, &canned(runbook), runbook, &args)
}

/// The definition of the runbook in `file`, exported as [`export_definition`] exports
/// a canned one, into files named after `name`.
fn export_file_definition(t: &Test, file: &str, name: &str, extra: &[&str]) -> PathBuf {
    let runbook = name;
    let template = format!("{runbook}.template.json");
    let mut args: Vec<String> = [
        "export",
        "--to",
        "step-functions",
        "--poll-interval",
        "1s",
        "--out",
        &template,
    ]
    .iter()
    .map(ToString::to_string)
    .collect();
    if !extra.contains(&"--integration-style") {
        args.extend(["--integration-style".to_string(), "sdk".to_string()]);
    }
    args.push(file.to_string());
    args.extend(extra.iter().map(ToString::to_string));
    t.args(args).run().success();
    let template: Value = serde_json::from_str(&t.read(&template)).expect("the template is JSON");
    let definition = &template["Resources"]["StateMachine"]["Properties"]["Definition"];
    assert!(definition.is_object(), "no definition in {template:#}");
    let file = format!("{runbook}.definition.json");
    t.write(&file, &definition.to_string());
    t.path(&file)
}

/// Creates the state machine on `world`'s moto, starts an execution named `execution`
/// and waits for its end: `tests/aws/sfn_execute.py`'s report (status, output, error,
/// cause, the failures in its history, the states entered).
fn execute(world: &AwsWorld, definition: &PathBuf, machine: &str, execution: &str) -> Value {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/aws/sfn_execute.py");
    let output = Command::new(python())
        .arg(&script)
        .args(["--endpoint", &world.moto_url(), "--region", REGION])
        .arg("--definition")
        .arg(definition)
        .args(["--name", machine, "--execution", execution])
        .output()
        .expect("failed to run sfn_execute.py");
    assert!(
        output.status.success(),
        "sfn_execute.py failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "sfn_execute.py printed no report ({e}):\n{}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

fn assert_succeeded(report: &Value) {
    assert_eq!(
        report["status"], "SUCCEEDED",
        "the execution did not succeed:\n{report:#}"
    );
}

/// What a run leaves in the world, as a user would list it, with the ids AWS makes up
/// (the OIDC issuer's, the virtual clusters') and the idempotency tokens replaced.
fn inventory(world: &AwsWorld, sdk: &Sdk) -> Value {
    let clusters = sdk
        .call(sdk.eks.list_clusters().send())
        .expect("ListClusters")
        .clusters()
        .to_vec();
    let mut issuers = Vec::new();
    let mut eks = Vec::new();
    for name in &clusters {
        let described = sdk
            .call(sdk.eks.describe_cluster().name(name).send())
            .expect("DescribeCluster");
        let cluster = described.cluster().expect("a cluster");
        if let Some(issuer) = cluster
            .identity()
            .and_then(|i| i.oidc())
            .and_then(|o| o.issuer())
        {
            issuers.push(issuer.trim_start_matches("https://").to_string());
        }
        let nodegroups: Vec<Value> = sdk
            .call(sdk.eks.list_nodegroups().cluster_name(name).send())
            .expect("ListNodegroups")
            .nodegroups()
            .iter()
            .map(|ng| {
                let described = sdk
                    .call(
                        sdk.eks
                            .describe_nodegroup()
                            .cluster_name(name)
                            .nodegroup_name(ng)
                            .send(),
                    )
                    .expect("DescribeNodegroup");
                let ng = described.nodegroup().expect("a node group");
                let scaling = ng.scaling_config();
                json!({
                    "name": ng.nodegroup_name(),
                    "status": ng.status().map(|s| s.as_str().to_string()),
                    "instance_types": ng.instance_types(),
                    "scaling": [
                        scaling.and_then(|s| s.min_size()),
                        scaling.and_then(|s| s.max_size()),
                        scaling.and_then(|s| s.desired_size()),
                    ],
                    "capacity_type": ng.capacity_type().map(|c| c.as_str().to_string()),
                    "node_role": ng.node_role(),
                    "subnets": ng.subnets(),
                    "labels": ng.labels().map(|l| l.iter().collect::<BTreeMap<_, _>>()),
                })
            })
            .collect();
        eks.push(json!({
            "name": cluster.name(),
            "status": cluster.status().map(|s| s.as_str().to_string()),
            "version": cluster.version(),
            "role_arn": cluster.role_arn(),
            "subnets": cluster.resources_vpc_config().map(|v| v.subnet_ids()),
            "tags": cluster.tags().map(|t| t.iter().collect::<BTreeMap<_, _>>()),
            "authentication_mode": cluster
                .access_config()
                .and_then(|a| a.authentication_mode())
                .map(|m| m.as_str().to_string()),
            "nodegroups": nodegroups,
        }));
    }

    let virtual_clusters = sdk.running_virtual_clusters();
    let mut job_runs = Vec::new();
    for (name, _, _) in &virtual_clusters {
        let id = sdk.virtual_cluster_id(name);
        for job in sdk.job_runs(&id) {
            job_runs.push(job_run(name, &job));
        }
    }

    let roles: Vec<Value> = sdk
        .role_names()
        .into_iter()
        .map(|role| {
            let policies: BTreeMap<String, Value> = sdk
                .inline_policies(&role)
                .into_iter()
                .map(|policy| {
                    let document = sdk
                        .call(
                            sdk.iam
                                .get_role_policy()
                                .role_name(&role)
                                .policy_name(&policy)
                                .send(),
                        )
                        .expect("GetRolePolicy")
                        .policy_document()
                        .to_string();
                    (
                        policy,
                        runbook_backend_aws::policy_document(Some(&document)),
                    )
                })
                .collect();
            json!({"name": role, "trust": sdk.trust_policy(&role), "inline": policies})
        })
        .collect();

    // The namespaces EMR runs jobs in; the objects that give EMR access to them differ
    // by design (see the module's doc).
    let mut namespaces: Vec<String> = world
        .kube_objects()
        .into_iter()
        .filter(|o| o["kind"] == "Namespace")
        .filter_map(|o| o["metadata"]["name"].as_str().map(str::to_string))
        .collect();
    namespaces.sort();

    let inventory = json!({
        "eks": eks,
        "oidc_providers": sdk.oidc_providers(),
        "virtual_clusters": virtual_clusters,
        "job_runs": job_runs,
        "roles": roles,
        "log_groups": sdk.log_groups(),
        "buckets": sdk.buckets(),
        "namespaces": namespaces,
    });
    // moto makes up each cluster's OIDC issuer id; roles trusting it name it.
    let mut text = inventory.to_string();
    for issuer in issuers {
        text = text.replace(&issuer, "<the cluster's OIDC issuer>");
    }
    serde_json::from_str(&text).expect("still JSON")
}

/// A job run's parameters: what was asked for, not the ids and tokens.
fn job_run(virtual_cluster: &str, job: &aws_sdk_emrcontainers::types::JobRun) -> Value {
    let driver = job.job_driver().and_then(|d| d.spark_submit_job_driver());
    let overrides = job.configuration_overrides();
    let applications: Vec<Value> = overrides
        .map(|o| o.application_configuration())
        .unwrap_or_default()
        .iter()
        .map(|c| {
            json!({
                "classification": c.classification(),
                "properties": c.properties().map(|p| p.iter().collect::<BTreeMap<_, _>>()),
            })
        })
        .collect();
    let monitoring = overrides
        .and_then(|o| o.monitoring_configuration())
        .and_then(|m| m.cloud_watch_monitoring_configuration());
    let mut tag_keys: Vec<&String> = job.tags().map(|t| t.keys().collect()).unwrap_or_default();
    tag_keys.sort();
    json!({
        "virtual_cluster": virtual_cluster,
        "name": job.name(),
        "state": job.state().map(|s| s.as_str().to_string()),
        "release_label": job.release_label(),
        "execution_role_arn": job.execution_role_arn(),
        "entry_point": driver.map(|d| d.entry_point()),
        "entry_point_arguments": driver.map(|d| d.entry_point_arguments()),
        "spark_submit_parameters": driver.and_then(|d| d.spark_submit_parameters()),
        "application_configuration": applications,
        "log_group": monitoring.map(|m| m.log_group_name()),
        "log_stream_prefix": monitoring.and_then(|m| m.log_stream_name_prefix()),
        // The values are the idempotency key: the run's, or the execution's name's hash.
        "tag_keys": tag_keys,
    })
}

/// What one canned runbook leaves in `world`, run (`runbook run --target aws`, ending
/// with `exit`) and then, in the same world emptied, exported with `export_extra` and
/// executed: the run's inventory, the execution's report, the execution's inventory.
struct RunAndExecution {
    by_run: Value,
    report: Value,
    by_machine: Value,
}

fn run_then_execute(
    world: &AwsWorld,
    runbook: &str,
    exit: i32,
    export_extra: &[&str],
) -> RunAndExecution {
    let sdk = Sdk::new(world);
    let t = Test::new();
    let sets = cluster_sets();
    let args: Vec<&str> = sets.iter().map(String::as_str).collect();
    world
        .run_plain(&t, &canned(runbook), &args)
        .run()
        .code(exit);
    let by_run = inventory(world, &sdk);
    world.reset();
    let definition = export_definition(&t, runbook, export_extra);
    let report = execute(world, &definition, runbook, &format!("{runbook}-1"));
    let by_machine = inventory(world, &sdk);
    RunAndExecution {
        by_run,
        report,
        by_machine,
    }
}

impl RunAndExecution {
    fn assert_same_inventory(&self) {
        let (by_machine, by_run) = (&self.by_machine, &self.by_run);
        assert_eq!(
            by_machine, by_run,
            "the state machine left\n{by_machine:#}\nthe run left\n{by_run:#}"
        );
    }

    /// The names of the states the execution entered.
    fn entered(&self, state: &str) -> bool {
        self.report["states"]
            .as_array()
            .is_some_and(|states| states.iter().any(|s| s == state))
    }
}

#[test]
fn platform_setup_executed_on_step_functions_leaves_what_its_run_leaves() {
    let world = AwsWorld::builder().eks_connection().start();
    // The closing summary's message loops over the virtual clusters, which the States
    // language cannot (refused with its position in export_step_functions).
    let outcome = run_then_execute(&world, "platform-setup", 0, &["--allow-partial", "summary"]);
    assert_eq!(
        outcome.by_run["virtual_clusters"].as_array().map(Vec::len),
        Some(5),
        "{:#}",
        outcome.by_run
    );
    assert_succeeded(&outcome.report);
    outcome.assert_same_inventory();
}

#[test]
fn the_nightly_batch_executed_on_step_functions_submits_the_job_its_run_submits() {
    let world = AwsWorld::builder().eks_connection().start();
    // All of it, its `finally` cancel-job too: with the sdk style the job's submit and
    // its wait are steps of their own, whose success the `when` reads.
    let outcome = run_then_execute(&world, "nightly-batch", 0, &[]);
    assert_eq!(
        outcome.by_run["job_runs"][0]["state"], "COMPLETED",
        "{:#}",
        outcome.by_run
    );
    assert_succeeded(&outcome.report);
    outcome.assert_same_inventory();
    // The job ran to its end, the state machine waited for it by polling, and the
    // finally step's `when` was false.
    assert!(outcome.entered("done ended?"), "{:#}", outcome.report);
    assert!(
        outcome.entered("cancel_on_failure when")
            && !outcome.entered("cancel_on_failure DescribeJobRun"),
        "the finally step's `when` did not skip it: {:#}",
        outcome.report
    );
}

#[test]
fn a_nightly_job_that_fails_fails_the_execution_after_its_finally_step_as_it_fails_the_run() {
    // Every job run whose name holds `nightly-` ends FAILED.
    let world = AwsWorld::builder()
        .eks_connection()
        .fail_pattern("nightly-")
        .start();
    let outcome = run_then_execute(&world, "nightly-batch", 1, &[]);
    assert_eq!(
        outcome.by_run["job_runs"][0]["state"], "FAILED",
        "{:#}",
        outcome.by_run
    );
    let report = &outcome.report;
    assert_eq!(report["status"], "FAILED", "{report:#}");
    // The wait's own error, restored after the finally path.
    assert_eq!(report["error"], "JobRunEnded", "{report:#}");
    assert!(
        report["cause"]
            .as_str()
            .is_some_and(|c| c.contains("the job run ended FAILED, not COMPLETED")),
        "{report:#}"
    );
    // The finally cancel-job ran (the job was submitted, its wait failed) and left the
    // ended job alone.
    assert!(
        outcome.entered("cancel_on_failure DescribeJobRun")
            && !outcome.entered("cancel_on_failure CancelJobRun"),
        "{report:#}"
    );
    outcome.assert_same_inventory();
}

/// A namespace and a PriorityClass, each create made twice (the second adopts what the
/// first made, after its 409 and the run's look at it), a namespace and a PriorityClass
/// deleted twice (the second finds nothing: 404 is success, or one still Terminating),
/// the namespace made anew while it is still Terminating (waited for, then created),
/// and a sleep between.
const KUBE_OBJECTS: &str = "\
name: kube-objects
steps:
  - id: cluster
    action: create-cluster
    with:
      name: kube-objects
      role_arn: arn:aws:iam::123456789012:role/eks-cluster-role
      node_role_arn: arn:aws:iam::123456789012:role/eks-node-role
      subnet_ids: [subnet-0a1, subnet-0b2]
  - id: team
    action: create-namespace
    with: { cluster: \"{{ steps.cluster.outputs.name }}\", name: spark }
  - id: team_again
    action: create-namespace
    with: { cluster: kube-objects, name: spark }
  - id: critical
    action: create-priority-class
    with: { cluster: kube-objects, name: critical-priority, value: 400, description: the nightly jobs }
  - id: critical_again
    action: create-priority-class
    with: { cluster: kube-objects, name: critical-priority, value: 400, description: the nightly jobs }
  - id: pause
    action: sleep
    with: { duration: 1s }
  - id: scratch
    action: create-namespace
    with: { cluster: kube-objects, name: scratch }
  - id: no_scratch
    action: delete-namespace
    with: { cluster: kube-objects, name: scratch }
  - id: no_scratch_again
    action: delete-namespace
    with: { cluster: kube-objects, name: scratch }
  - id: scratch_anew
    action: create-namespace
    with: { cluster: kube-objects, name: scratch }
  - id: spare
    action: create-priority-class
    with: { cluster: kube-objects, name: spare-priority, value: 100, preemption_policy: Never }
  - id: no_spare
    action: delete-priority-class
    with: { cluster: kube-objects, name: spare-priority }
  - id: no_spare_again
    action: delete-priority-class
    with: { cluster: kube-objects, name: spare-priority }
";

/// The PriorityClasses [`KUBE_OBJECTS`] leaves (the inventory lists the namespaces).
fn priority_classes(world: &AwsWorld) -> Value {
    let mut classes: Vec<Value> = world
        .kube_objects()
        .into_iter()
        .filter(|o| o["kind"] == "PriorityClass")
        .map(|o| {
            json!({
                "name": o["metadata"]["name"],
                "value": o["value"],
                "description": o["description"],
                "preemptionPolicy": o["preemptionPolicy"],
            })
        })
        .collect();
    classes.sort_by_key(|c| c["name"].to_string());
    Value::Array(classes)
}

#[test]
fn namespaces_priority_classes_and_sleeps_executed_leave_what_their_run_leaves() {
    // A deleted namespace stays Terminating two seconds, as the namespace controller
    // empties it: `scratch_anew` waits for it to go.
    let world = AwsWorld::builder()
        .eks_connection()
        .namespace_termination(2.0)
        .start();
    let sdk = Sdk::new(&world);
    let t = Test::new().runbook("kube-objects.yaml", KUBE_OBJECTS);
    let file = t.path("kube-objects.yaml").display().to_string();
    world.run_plain(&t, &file, &[]).run().success();
    let by_run = (inventory(&world, &sdk), priority_classes(&world));
    let namespaces = by_run.0["namespaces"].as_array().expect("namespaces");
    assert!(
        namespaces.contains(&json!("spark")) && namespaces.contains(&json!("scratch")),
        "{by_run:#?}"
    );

    world.reset();
    let definition = export_file_definition(&t, &file, "kube-objects", &[]);
    let report = execute(&world, &definition, "kube-objects", "kube-objects-1");
    assert_succeeded(&report);
    let by_machine = (inventory(&world, &sdk), priority_classes(&world));
    assert_eq!(
        by_machine, by_run,
        "the state machine left\n{by_machine:#?}\nthe run left\n{by_run:#?}"
    );
    // The second creates looked at what the 409 said exists and kept it; the second
    // deletes found nothing.
    let states = report["states"].as_array().expect("the states entered");
    for entered in [
        "team_again get Namespace",
        "critical_again same class?",
        "pause wait",
        "scratch_anew wait",
        "no_scratch_again delete Namespace",
        "no_spare_again delete PriorityClass",
    ] {
        assert!(
            states.iter().any(|s| s == entered),
            "no {entered} in {states:?}"
        );
    }
    assert!(
        !states.iter().any(|s| s == "team get Namespace"),
        "the first create found a namespace: {states:?}"
    );
}

#[test]
fn an_included_runbook_executes_inside_its_step_and_later_steps_read_its_outputs() {
    let world = AwsWorld::start();
    let sdk = Sdk::new(&world);
    let t = Test::new()
        .runbook(
            "logs.yaml",
            "\
name: logs
params:
  prefix: { default: /unused }
steps:
  - id: group
    action: create-log-group
    with: { name: \"{{ params.prefix }}/app\", retention_days: 7 }
  - id: said
    action: exec
    with: { argv: [echo, made] }
",
        )
        .runbook(
            "team.yaml",
            "\
name: team
params:
  prefix: { default: /team }
steps:
  - id: logs
    action: runbook
    with: { file: logs.yaml, params: { prefix: \"{{ params.prefix }}\" } }
  - id: copy
    action: create-log-group
    with: { name: \"{{ steps.logs.outputs.steps.group.name }}-copy\" }
",
        );
    world.run_plain(&t, "team.yaml", &[]).run().success();
    let by_run = inventory(&world, &sdk);
    assert_eq!(
        by_run["log_groups"],
        json!([["/team/app", 7], ["/team/app-copy", null]]),
        "{by_run:#}"
    );

    world.reset();
    // The included runbook's exec step is left out by its path under the step.
    let exported = t
        .args([
            "export",
            "--to",
            "step-functions",
            "team.yaml",
            "--allow-partial",
            "logs/said",
            "--out",
            "team.template.json",
        ])
        .run()
        .success();
    assert_eq!(
        exported.stderr,
        "warning: step logs/said (exec) is not exported: left out with --allow-partial\n"
    );
    let template: Value =
        serde_json::from_str(&t.read("team.template.json")).expect("the template is JSON");
    let definition = &template["Resources"]["StateMachine"]["Properties"]["Definition"];
    let included = &definition["States"]["logs"];
    assert_eq!(included["Type"], "Parallel", "{definition:#}");
    assert_eq!(included["Branches"][0]["StartAt"], "logs Start");
    t.write("team.definition.json", &definition.to_string());
    let report = execute(&world, &t.path("team.definition.json"), "team", "team-1");
    assert_succeeded(&report);
    let by_machine = inventory(&world, &sdk);
    assert_eq!(
        by_machine, by_run,
        "the state machine left\n{by_machine:#}\nthe run left\n{by_run:#}"
    );
}

#[test]
fn an_assert_passes_or_fails_the_execution_as_it_passes_or_fails_the_run() {
    let world = AwsWorld::start();
    let runbook = |expected: &str| {
        format!(
            "\
name: checked
steps:
  - id: group
    action: create-log-group
    with: {{ name: /team/app }}
  - id: check
    action: assert
    with:
      that:
        - \"{{{{ steps.group.outputs.name != '' }}}}\"
        - \"{{{{ steps.group.outputs.name == '{expected}' }}}}\"
      message: not the log group asked for
"
        )
    };
    let t = Test::new()
        .runbook("holds.yaml", &runbook("/team/app"))
        .runbook("fails.yaml", &runbook("/team/other"));
    for (file, holds) in [("holds.yaml", true), ("fails.yaml", false)] {
        world.reset();
        let run = world.run_plain(&t, file, &[]).run();
        assert_eq!(run.code, Some(if holds { 0 } else { 1 }), "{}", run.stderr);
        if !holds {
            let said = format!("{}{}", run.stdout, run.stderr);
            assert!(
                said.contains("not the log group asked for (false: "),
                "{said}"
            );
        }

        world.reset();
        let template = format!("{file}.template.json");
        t.args(["export", "--to", "step-functions", file, "--out", &template])
            .run()
            .success();
        let template: Value = serde_json::from_str(&t.read(&template)).expect("JSON");
        let definition = format!("{file}.definition.json");
        t.write(
            &definition,
            &template["Resources"]["StateMachine"]["Properties"]["Definition"].to_string(),
        );
        let report = execute(&world, &t.path(&definition), "checked", "checked-1");
        if holds {
            assert_succeeded(&report);
            assert_eq!(
                report["output"]["steps"]["check"]["checked"], 2,
                "{report:#}"
            );
        } else {
            assert_eq!(report["status"], "FAILED", "{report:#}");
            assert_eq!(report["error"], "AssertionFailed", "{report:#}");
            assert_eq!(
                report["cause"],
                "not the log group asked for (false: {{ steps.group.outputs.name == '/team/other' }})",
                "{report:#}"
            );
        }
    }
}

/// The walkthrough's PriorityClasses as one `for_each` step: their `value` and
/// `global_default` are typed fields taking the item's values, so each instance is
/// exported on its own behind a Choice on the item's index, inside the Map.
#[test]
fn a_for_each_with_typed_fields_from_its_items_executes_each_instance_as_the_run_does() {
    let world = AwsWorld::builder().eks_connection().start();
    let sdk = Sdk::new(&world);
    let t = Test::new().runbook(
        "classes.yaml",
        "\
name: classes
steps:
  - id: cluster
    action: create-cluster
    with:
      name: classes
      role_arn: arn:aws:iam::123456789012:role/eks-cluster-role
      node_role_arn: arn:aws:iam::123456789012:role/eks-node-role
      subnet_ids: [subnet-0a1, subnet-0b2]
  - id: priority_classes
    action: create-priority-class
    parallel: 2
    for_each:
      - { name: critical-priority, value: 400, global_default: true }
      - { name: high-priority, value: 200, global_default: false }
      - { name: low-priority, value: 100, global_default: false }
    with:
      cluster: \"{{ steps.cluster.outputs.name }}\"
      name: \"{{ item.name }}\"
      value: \"{{ item.value }}\"
      global_default: \"{{ item.global_default }}\"
",
    );
    let file = t.path("classes.yaml").display().to_string();
    world.run_plain(&t, &file, &[]).run().success();
    let by_run = (inventory(&world, &sdk), priority_classes(&world));
    let ours = by_run.1.as_array().map_or(0, |classes| {
        classes
            .iter()
            .filter(|c| c["name"].as_str().is_some_and(|n| n.ends_with("-priority")))
            .count()
    });
    assert_eq!(ours, 3, "{:#}", by_run.1);

    world.reset();
    let definition = export_file_definition(&t, &file, "classes", &[]);
    let report = execute(&world, &definition, "classes", "classes-1");
    assert_succeeded(&report);
    let by_machine = (inventory(&world, &sdk), priority_classes(&world));
    assert_eq!(
        by_machine, by_run,
        "the state machine left\n{by_machine:#?}\nthe run left\n{by_run:#?}"
    );
    // The step's outputs are the instances' own, in the list's order.
    let names: Vec<&Value> = report["output"]["steps"]["priority_classes"]
        .as_array()
        .expect("a list of outputs")
        .iter()
        .map(|o| &o["name"])
        .collect();
    assert_eq!(
        names,
        [
            &json!("critical-priority"),
            &json!("high-priority"),
            &json!("low-priority")
        ],
        "{report:#}"
    );
}

/// The default export, with the `.sync` integrations, executed too: the cluster and
/// its node group created and waited for by `eks:createCluster.sync` and
/// `eks:createNodegroup.sync`, the nightly job started and waited for by one
/// `emr-containers:startJobRun.sync` task (its `finally` step left out, which would
/// keep the two apart).
#[test]
fn the_default_sync_exports_execute_and_leave_what_their_runs_leave() {
    let world = AwsWorld::builder().eks_connection().start();
    let platform = run_then_execute(
        &world,
        "platform-setup",
        0,
        &[
            "--integration-style",
            "optimized",
            "--allow-partial",
            "summary",
        ],
    );
    assert_succeeded(&platform.report);
    platform.assert_same_inventory();
    assert!(
        platform.entered("cluster CreateNodegroup")
            && !platform.entered("cluster new cluster active?"),
        "{:#}",
        platform.report
    );

    world.reset();
    let nightly = run_then_execute(
        &world,
        "nightly-batch",
        0,
        &[
            "--integration-style",
            "optimized",
            "--allow-partial",
            "cancel_on_failure",
        ],
    );
    assert_succeeded(&nightly.report);
    nightly.assert_same_inventory();
    assert_eq!(
        nightly.by_machine["job_runs"][0]["state"], "COMPLETED",
        "{:#}",
        nightly.by_machine
    );
    // One .sync task started the job and waited for it: no polling states.
    assert!(
        nightly.entered("job StartJobRun") && !nightly.entered("done ended?"),
        "{:#}",
        nightly.report
    );
}

/// A job that fails ends its `.sync` task as AWS ends it: the task fails with
/// `States.TaskFailed`, and so does the execution, as the run fails.
#[test]
fn a_failed_job_fails_its_sync_task() {
    let world = AwsWorld::builder()
        .eks_connection()
        .fail_pattern("nightly-")
        .start();
    let nightly = run_then_execute(
        &world,
        "nightly-batch",
        1,
        &[
            "--integration-style",
            "optimized",
            "--allow-partial",
            "cancel_on_failure",
        ],
    );
    let report = &nightly.report;
    assert_eq!(report["status"], "FAILED", "{report:#}");
    assert_eq!(report["error"], "States.TaskFailed", "{report:#}");
    assert!(nightly.entered("job StartJobRun"), "{report:#}");
    nightly.assert_same_inventory();
    assert_eq!(
        nightly.by_machine["job_runs"][0]["state"], "FAILED",
        "{:#}",
        nightly.by_machine
    );
}
