//! kube-rs, the client the aws target uses, against a served world: a list, then a
//! watch from the list's resource version while the world moves on, and the same
//! watch restarted from the version of an event half-way through, which must deliver
//! exactly the rest (nothing lost, nothing repeated).

mod common;
mod kube_client;

use common::{ServedDemo, served_demo};
use futures::TryStreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams, WatchEvent, WatchParams};
use kube_client::client;

/// (type, pod name, resource version) of each event until the server ends the watch.
async fn watched(pods: &Api<Pod>, from: &str) -> Vec<(String, String, String)> {
    let stream = pods
        .watch(&WatchParams::default().timeout(1), from)
        .await
        .expect("a watch");
    stream
        .map_ok(|event| {
            let (kind, pod) = match event {
                WatchEvent::Added(p) => ("ADDED", p),
                WatchEvent::Modified(p) => ("MODIFIED", p),
                WatchEvent::Deleted(p) => ("DELETED", p),
                other => panic!("an unexpected watch event: {other:?}"),
            };
            (
                kind.to_string(),
                pod.metadata.name.unwrap_or_default(),
                pod.metadata.resource_version.unwrap_or_default(),
            )
        })
        .try_collect()
        .await
        .expect("the watch's events")
}

#[tokio::test]
async fn a_watch_restarted_from_a_resource_version_loses_nothing() {
    let ServedDemo {
        target,
        served,
        setup,
    } = served_demo(true).await;
    let pods: Api<Pod> = Api::all(client(&served));
    let listed = pods.list(&ListParams::default()).await.expect("a list");
    let from = listed
        .metadata
        .resource_version
        .expect("the list's version");
    assert!(
        listed.items.iter().any(|p| p
            .metadata
            .name
            .as_deref()
            .is_some_and(|n| n.ends_with("-driver"))),
        "the low job's driver runs when the list is taken"
    );

    // The high job comes and preempts while the client is away.
    {
        let mut world = target.world();
        let account = world.params().account_id.clone();
        world
            .submit_job_run(setup.high_priority_job(&account))
            .expect("the high job");
        world.run_until_idle();
    }

    let all = watched(&pods, &from).await;
    let victim = all
        .iter()
        .find(|(kind, name, _)| {
            kind == "DELETED" && name.contains("low-priority") && name.ends_with("-exec-2")
        })
        .unwrap_or_else(|| panic!("the victim's deletion in {all:#?}"));
    let replacement = all
        .iter()
        .position(|(kind, name, _)| {
            kind == "ADDED" && name.contains("low-priority") && name.ends_with("-exec-3")
        })
        .expect("the replacement executor");
    assert!(all.iter().position(|e| e == victim) < Some(replacement));
    let versions: Vec<u64> = all
        .iter()
        .map(|(_, _, v)| v.parse().expect("a number"))
        .collect();
    assert!(
        versions.windows(2).all(|w| w[0] < w[1]),
        "versions rise: {versions:?}"
    );

    // A version this world never reached (another server's) is expired: list again.
    let stream = pods
        .watch(&WatchParams::default().timeout(1), "999999999")
        .await
        .expect("a watch");
    let answered: Vec<_> = stream.try_collect().await.expect("the events");
    assert!(
        matches!(answered.as_slice(), [WatchEvent::Error(e)] if e.code == 410 && e.reason == "Expired"),
        "{answered:?}"
    );

    let half = all.len() / 2;
    let rest = watched(&pods, &all[half].2).await;
    assert_eq!(rest, all[half + 1..].to_vec());

    // A victim as the watch delivered it when the scheduler chose it: terminating,
    // with the DisruptionTarget condition.
    let stream = pods
        .watch(&WatchParams::default().timeout(1), &from)
        .await
        .expect("a watch");
    let chosen: Vec<Pod> = stream
        .try_filter_map(|event| async move {
            Ok(match event {
                WatchEvent::Modified(p)
                    if p.metadata.deletion_timestamp.is_some()
                        && p.metadata
                            .name
                            .as_deref()
                            .is_some_and(|n| n.ends_with("-exec-2")) =>
                {
                    Some(p)
                }
                _ => None,
            })
        })
        .try_collect()
        .await
        .expect("the events");
    let conditions = chosen[0]
        .status
        .as_ref()
        .and_then(|s| s.conditions.clone())
        .unwrap_or_default();
    let disruption = conditions
        .iter()
        .find(|c| c.type_ == "DisruptionTarget")
        .expect("DisruptionTarget");
    assert_eq!(
        (disruption.status.as_str(), disruption.reason.as_deref()),
        ("True", Some("PreemptionByScheduler"))
    );
    drop(served);
}

#[tokio::test]
async fn errors_come_back_as_the_api_servers() {
    let ServedDemo { served, .. } = served_demo(true).await;
    let client = client(&served);
    let pods: Api<Pod> = Api::namespaced(client.clone(), "monthly-batch");
    match pods.get("no-such-pod").await {
        Err(kube::Error::Api(status)) => {
            assert_eq!((status.code, status.reason.as_str()), (404, "NotFound"));
        }
        other => panic!("expected NotFound, got {other:?}"),
    }
    let bad = pods
        .list(&ListParams::default().labels("spark role"))
        .await
        .expect_err("a bad selector");
    assert!(
        matches!(bad, kube::Error::Api(ref s) if s.code == 400),
        "{bad:?}"
    );
    let unknown = pods
        .list(&ListParams::default().fields("spec.restartPolicy=Never"))
        .await
        .expect_err("an unsupported field");
    assert!(
        matches!(unknown, kube::Error::Api(ref s) if s.code == 400),
        "{unknown:?}"
    );
}

/// A list in pages (`limit` and `continue`, as kubectl asks for 500 at a time) gives
/// every pod once, as the whole list does.
#[tokio::test]
async fn a_list_in_pages_gives_every_pod_once() {
    let ServedDemo { served, .. } = served_demo(true).await;
    let pods: Api<Pod> = Api::all(client(&served));
    let names = |list: &kube::api::ObjectList<Pod>| -> Vec<String> {
        list.items
            .iter()
            .map(|p| p.metadata.name.clone().unwrap_or_default())
            .collect()
    };
    let whole = names(&pods.list(&ListParams::default()).await.expect("a list"));
    assert!(whole.len() > 3, "{whole:?}");
    let mut paged = Vec::new();
    let mut params = ListParams::default().limit(3);
    loop {
        let page = pods.list(&params).await.expect("a page");
        assert!(page.items.len() <= 3);
        paged.extend(names(&page));
        match page.metadata.continue_ {
            Some(token) if !token.is_empty() => params = params.continue_token(&token),
            _ => break,
        }
    }
    assert_eq!(paged, whole);
}

/// Malformed requests get the API server's `Status` shapes, in blocking calls made
/// from a thread of their own while the runtime serves.
#[tokio::test]
async fn bad_requests_get_the_api_servers_status() {
    let ServedDemo { served, .. } = served_demo(false).await;
    let served = std::sync::Arc::new(served);
    let asking = std::sync::Arc::clone(&served);
    let answers = tokio::task::spawn_blocking(move || {
        [
            raw(&asking, "GET", "/api/v1/widgets", "application/json", ""),
            raw(
                &asking,
                "POST",
                "/api/v1/namespaces",
                "application/json",
                "{not json",
            ),
            raw(
                &asking,
                "POST",
                "/api/v1/namespaces",
                "text/plain",
                "name: x",
            ),
            raw(
                &asking,
                "GET",
                "/api/v1/pods?labelSelector=a%20b",
                "application/json",
                "",
            ),
            raw(
                &asking,
                "PUT",
                "/api/v1/namespaces/default/pods/p",
                "application/json",
                "{}",
            ),
        ]
    })
    .await
    .expect("the requests");
    let expected = [
        (404, "NotFound"),
        (400, "BadRequest"),
        (415, "UnsupportedMediaType"),
        (400, "BadRequest"),
        (405, "MethodNotAllowed"),
    ];
    for ((code, body), (want_code, want_reason)) in answers.iter().zip(expected) {
        assert_eq!(*code, want_code, "{body}");
        assert_eq!(body["kind"], "Status", "{body}");
        assert_eq!(body["status"], "Failure", "{body}");
        assert_eq!(body["reason"], want_reason, "{body}");
        assert_eq!(body["code"], want_code, "{body}");
    }
}

/// Sends one raw HTTP/1.1 request to the served world: the status code and the body
/// read as JSON (what a client would make of a malformed request's answer).
fn raw(
    served: &runbook_sim_serve::Served,
    method: &str,
    path: &str,
    content_type: &str,
    body: &str,
) -> (u16, serde_json::Value) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(served.addr).expect("connect");
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("request");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("response");
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .expect("a status line");
    let json = response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.trim())
        .and_then(|body| serde_json::from_str(body).ok())
        .unwrap_or(serde_json::Value::Null);
    (status, json)
}
