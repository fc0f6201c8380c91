//! What a Kubernetes API request asks for: its path taken apart and its query.

use std::collections::BTreeMap;

/// The parts of a resource path (`/api/v1/namespaces/NS/pods/NAME`,
/// `/apis/scheduling.k8s.io/v1/priorityclasses`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ResourcePath {
    pub(crate) group: String,
    pub(crate) version: String,
    pub(crate) namespace: Option<String>,
    pub(crate) plural: String,
    pub(crate) name: Option<String>,
}

/// What a path names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    Version,
    CoreVersions,
    Groups,
    Group(String),
    Resources {
        group: String,
        version: String,
    },
    Resource(ResourcePath),
    /// `/openapi/v3`: the index of group versions.
    OpenApiIndex,
    /// `/openapi/v3/api/v1`, `/openapi/v3/apis/GROUP/VERSION`.
    OpenApi(String),
    Unknown,
}

/// Takes a path (without any `/clusters/NAME` prefix) apart.
pub(crate) fn target(path: &str) -> Target {
    let segments: Vec<&str> = path
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    match segments.as_slice() {
        ["version"] => Target::Version,
        ["openapi", "v3"] => Target::OpenApiIndex,
        ["openapi", "v3", rest @ ..] => Target::OpenApi(rest.join("/")),
        ["api"] => Target::CoreVersions,
        ["apis"] => Target::Groups,
        ["apis", group] => Target::Group((*group).into()),
        ["api", version] => Target::Resources {
            group: String::new(),
            version: (*version).into(),
        },
        ["apis", group, version] => Target::Resources {
            group: (*group).into(),
            version: (*version).into(),
        },
        ["api", version, rest @ ..] => resource("", version, rest),
        ["apis", group, version, rest @ ..] => resource(group, version, rest),
        _ => Target::Unknown,
    }
}

fn resource(group: &str, version: &str, rest: &[&str]) -> Target {
    let (namespace, plural, name) = match rest {
        ["namespaces", ns, plural] => (Some(*ns), *plural, None),
        ["namespaces", ns, plural, name] => (Some(*ns), *plural, Some(*name)),
        [plural] => (None, *plural, None),
        [plural, name] => (None, *plural, Some(*name)),
        _ => return Target::Unknown,
    };
    Target::Resource(ResourcePath {
        group: group.into(),
        version: version.into(),
        namespace: namespace.map(str::to_string),
        plural: plural.into(),
        name: name.map(str::to_string),
    })
}

/// The query's parameters, decoded.
pub(crate) fn query(query: Option<&str>) -> BTreeMap<String, String> {
    query
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(k), decode(v))
        })
        .collect()
}

/// Percent-decoding of a query component (`+` is a space).
fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(high), Some(low)) => {
                    out.push(high * 16 + low);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(digit: u8) -> Option<u8> {
    char::from(digit)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_name_what_kubectl_asks_for() {
        assert_eq!(target("/version"), Target::Version);
        assert_eq!(
            target("/api/v1"),
            Target::Resources {
                group: String::new(),
                version: "v1".into()
            }
        );
        let Target::Resource(pod) = target("/api/v1/namespaces/monthly-batch/pods/p1") else {
            panic!("a pod path");
        };
        assert_eq!(
            (
                pod.namespace.as_deref(),
                pod.plural.as_str(),
                pod.name.as_deref()
            ),
            (Some("monthly-batch"), "pods", Some("p1"))
        );
        let Target::Resource(ns) = target("/api/v1/namespaces/monthly-batch") else {
            panic!("a namespace path");
        };
        assert_eq!(
            (ns.namespace, ns.plural.as_str(), ns.name.as_deref()),
            (None, "namespaces", Some("monthly-batch"))
        );
        let Target::Resource(pc) = target("/apis/scheduling.k8s.io/v1/priorityclasses") else {
            panic!("a group path");
        };
        assert_eq!(
            (pc.group.as_str(), pc.plural.as_str()),
            ("scheduling.k8s.io", "priorityclasses")
        );
        assert_eq!(target("/api/v1/namespaces/a/pods/b/c/d"), Target::Unknown);
    }

    #[test]
    fn query_values_are_decoded() {
        let q = query(Some(
            "labelSelector=spark-role%3Dexecutor%2Cspark-exec-id+in+%281%29&watch=true&x=%zz",
        ));
        assert_eq!(
            q["labelSelector"],
            "spark-role=executor,spark-exec-id in (1)"
        );
        assert_eq!(q["watch"], "true");
        assert_eq!(q["x"], "%zz");
    }
}
