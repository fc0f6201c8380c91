#!/usr/bin/env python3
"""A small fake Kubernetes API server for the e2e tests of the `aws` target.

Usage: fake_kube.py PORT [--host 127.0.0.1] [--nodes N] [--instance-type T]
                         [--nodegroup NAME] [--no-aws-auth]
                         [--karpenter | --karpenter-crds] [--tls]
                         [--namespace-termination SECONDS] [--exit-with-parent]

moto fakes EKS, but the cluster endpoint it returns is a made-up host with no
Kubernetes behind it, so the Kubernetes half of a runbook (namespaces, RBAC for EMR,
PriorityClasses, waiting on pods and nodes) needs a server of its own. This is one,
good enough for kube-rs and kubectl: plain HTTP without authentication on PORT and,
with `--tls`, the same API over HTTPS on a second, free port, as EKS serves it: a
certificate signed by a CA made at start, and only requests with a valid-looking EKS
bearer token (see eks_auth.py; anything else gets 401 Unauthorized).
`GET /debug/tls` gives `{"endpoint": "https://127.0.0.1:PORT", "ca": PEM}`, which
moto_launcher.py hands out as the clusters' endpoint and CA.

What it serves, shaped as a real API server answers (kind/apiVersion, metadata.uid,
resourceVersion, creationTimestamp, `<Kind>List`s, `Status` objects for errors):

- discovery: /version, /api, /apis, /api/v1, /apis/GROUP, /apis/GROUP/VERSION,
  /healthz, /readyz, /livez;
- namespaces, nodes, pods, events, configmaps (core v1), roles and rolebindings
  (rbac.authorization.k8s.io/v1), priorityclasses (scheduling.k8s.io/v1) and, with
  `--karpenter` or `--karpenter-crds`, Karpenter's NodePools (karpenter.sh/v1) and
  EC2NodeClasses (karpenter.k8s.aws/v1): GET of an item or a list (labelSelector, fieldSelector), POST
  (409 AlreadyExists), PUT (409 Conflict on a stale resourceVersion), PATCH as JSON
  merge patch, strategic merge patch (treated as a JSON merge patch: lists are
  replaced, not merged by key), JSON patch, and server-side apply (create, or merge
  into what exists), DELETE of an item (404 NotFound) or a collection;
- watches (`?watch=1`): the current objects as ADDED (or the changes after the given
  resourceVersion; 410 Gone when it is too old), then each change as it happens, as
  chunked newline-delimited JSON, with BOOKMARKs when asked for, until timeoutSeconds;
- admission as the API server has it: creating anything in a Terminating namespace
  answers 403 Forbidden (NamespaceLifecycle: "unable to create new content in
  namespace X because it is being terminated"); a second PriorityClass with
  `globalDefault: true` answers 403 Forbidden (the priority plugin: "PriorityClass X
  is already marked as default. Only one default can exist"); changing a
  PriorityClass's `value` or `preemptionPolicy` answers 422 Invalid ("value:
  Forbidden: may not be changed in an update.");
- SelfSubjectAccessReviews (authorization.k8s.io/v1, what `kubectl auth can-i` sends):
  allowed, unless a 403 fault would refuse the request the permission stands for;
- for tests: GET /debug/objects (every stored object), POST /debug/reset (back to the
  seeded state, no faults), POST/GET/DELETE /debug/faults (answer chosen requests,
  watches included, with 401, 403, 409, 422, 429 with Retry-After, 500 or 503 and the
  API server's Status body; see `Faults`), GET /debug/tokens (the EKS tokens the TLS
  listener was shown) and GET /debug/tls. /debug/ paths need no token.

Seeded: the four standard namespaces, N Ready nodes of one instance type (what an EKS
managed node group of that size shows), the two system PriorityClasses every cluster
has, and kube-system/aws-auth mapping the node role (as EKS creates it).

Karpenter: without a flag the cluster is a fresh one, with no Karpenter API (its
groups answer 404, as on EKS). `--karpenter-crds` serves the two kinds only (an install
whose controller is not running). `--karpenter` also acts as Karpenter's controller
does, as far as the tests need: a Running controller pod `karpenter-...` labelled
`app.kubernetes.io/name=karpenter` in kube-system; an EC2NodeClass gets `status.conditions`
0.2 s after it changes, Ready=True (with AMIsReady, SubnetsReady, SecurityGroupsReady and
InstanceProfileReady), or, when its `spec.role` is empty, InstanceProfileReady=False
(reason RoleNotSet) and Ready=False (UnhealthyDependents); a NodePool is Ready=True once
the EC2NodeClass its nodeClassRef names is Ready, else Ready=False (UnhealthyDependents,
NodeClassReady=False); and a node labelled `karpenter.sh/nodepool=NAME` is deleted 0.2 s
after no NodePool NAME exists (Karpenter terminates a removed NodePool's nodes). It
launches no nodes.

Namespaces: a deleted namespace disappears at once with everything in it, unless
`--namespace-termination SECONDS` is given: then it is `Terminating` (status.phase,
metadata.deletionTimestamp) for that long, creating it again answers 409
AlreadyExists, and then it goes with its contents.

Deliberate simplifications: an EKS token's signature is checked for its shape, not
replayed to STS, so any identity is accepted, and the 403s of faults name the user
`runbook-test`; nothing schedules pods, and no controller runs but the
Karpenter stand-in above; field managers and apply conflicts are not tracked; no
admission or schema validation beyond names, namespaces and the checks above.
"""

import argparse
import bisect
import copy
import datetime
import json
import random
import re
import select
import socket
import ssl
import string
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlsplit

import eks_auth
from harness_server import Server, TlsServer, exit_with_parent, serve


class Resource:
    def __init__(self, group, version, plural, kind, namespaced, short_names=()):
        self.group = group
        self.version = version
        self.plural = plural
        self.kind = kind
        self.namespaced = namespaced
        self.short_names = list(short_names)

    @property
    def api_version(self):
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def qualified(self):
        """How error messages name the resource: `namespaces`, `priorityclasses.scheduling.k8s.io`."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def discovery(self):
        verbs = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
        entry = {
            "name": self.plural,
            "singularName": self.kind.lower(),
            "namespaced": self.namespaced,
            "kind": self.kind,
            "verbs": verbs,
        }
        if self.short_names:
            entry["shortNames"] = self.short_names
        return entry


RESOURCES = [
    Resource("", "v1", "namespaces", "Namespace", False, ["ns"]),
    Resource("", "v1", "nodes", "Node", False, ["no"]),
    Resource("", "v1", "pods", "Pod", True, ["po"]),
    Resource("", "v1", "events", "Event", True, ["ev"]),
    Resource("", "v1", "configmaps", "ConfigMap", True, ["cm"]),
    Resource("rbac.authorization.k8s.io", "v1", "roles", "Role", True),
    Resource("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", True),
    Resource("scheduling.k8s.io", "v1", "priorityclasses", "PriorityClass", False, ["pc"]),
]
# Served only with --karpenter or --karpenter-crds (Karpenter's Helm chart installs them).
KARPENTER_RESOURCES = [
    Resource("karpenter.sh", "v1", "nodepools", "NodePool", False),
    Resource("karpenter.k8s.aws", "v1", "ec2nodeclasses", "EC2NodeClass", False),
]
BY_PATH = {}
GROUPS = []
NAMESPACE = RESOURCES[0]


def serve_kinds(resources):
    """Adds `resources` to what the server serves (and its discovery shows)."""
    RESOURCES.extend(r for r in resources if r not in RESOURCES)
    BY_PATH.update({(r.group, r.version, r.plural): r for r in RESOURCES})
    GROUPS[:] = sorted({r.group for r in RESOURCES if r.group})


serve_kinds([])

# How many changes a watch can catch up on; older resourceVersions get 410 Gone.
EVENT_LOG_LIMIT = 10000
# A watch that asked for bookmarks gets one after this long without changes.
BOOKMARK_EVERY = 5.0


def now_rfc3339():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class ApiError(Exception):
    """An error the API server answers with a `Status` object."""

    def __init__(self, code, reason, message, details=None, headers=None):
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        self.headers = headers or {}

    def status(self):
        body = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details is not None:
            body["details"] = self.details
        return body


def details(res, name):
    d = {"name": name, "kind": res.plural}
    if res.group:
        d["group"] = res.group
    return d


def not_found(res, name):
    return ApiError(404, "NotFound", f'{res.qualified} "{name}" not found', details(res, name))


def forbidden(res, name, why):
    """An admission plugin's refusal (apiserver's admission.NewForbidden)."""
    subject = f'{res.qualified} "{name}"' if name else res.qualified
    return ApiError(403, "Forbidden", f"{subject} is forbidden: {why}", details(res, name))


def invalid(res, name, field, reason, message):
    """A validation failure of one field (apimachinery's errors.NewInvalid); `reason`
    is the cause's type (`FieldValueForbidden`), `message` its body (`Forbidden: ...`)."""
    group_kind = f"{res.kind}.{res.group}" if res.group else res.kind
    causes = [{"reason": reason, "message": message, "field": field}]
    return ApiError(
        422, "Invalid", f'{group_kind} "{name}" is invalid: {field}: {message}',
        {"name": name, "group": res.group, "kind": res.kind, "causes": causes},
    )


class Store:
    """Every object, the change log watches read, and the resourceVersion counter."""

    def __init__(self, seed, namespace_termination=0.0):
        self.cond = threading.Condition()
        self.seed = seed
        # Seconds a deleted namespace stays Terminating before it and its contents go.
        self.namespace_termination = namespace_termination
        # Bumped by reset, so a namespace's pending removal never touches a later world.
        self.generation = 0
        self.reset()

    def reset(self):
        with self.cond:
            self.generation += 1
            self.objects = {}  # (group, plural, namespace or "", name) -> object
            self.rv = 0
            self.log = []  # (rv, resource, event type, object, previous object)
            self.log_rvs = []
            self.oldest_rv = 0
            for res, obj in self.seed():
                self.create(res, obj.get("metadata", {}).get("namespace", ""), obj)
            self.cond.notify_all()

    # -- reads (call with the lock held) --

    def get(self, res, ns, name):
        obj = self.objects.get((res.group, res.plural, ns, name))
        if obj is None:
            raise not_found(res, name)
        return obj

    def list(self, res, ns, selector):
        items = [
            obj
            for (group, plural, obj_ns, _), obj in sorted(self.objects.items())
            if group == res.group and plural == res.plural and (not ns or obj_ns == ns)
        ]
        return [obj for obj in items if selector(obj)]

    def changes_after(self, rv):
        return self.log[bisect.bisect_right(self.log_rvs, rv):]

    # -- writes (call with the lock held) --

    def _next_rv(self):
        self.rv += 1
        return str(self.rv)

    def _record(self, res, kind, obj, previous):
        self.log.append((self.rv, res, kind, copy.deepcopy(obj), previous))
        self.log_rvs.append(self.rv)
        if len(self.log) > EVENT_LOG_LIMIT:
            drop = len(self.log) - EVENT_LOG_LIMIT
            self.oldest_rv = self.log_rvs[drop - 1]
            del self.log[:drop]
            del self.log_rvs[:drop]
        self.cond.notify_all()

    def _check_namespace(self, res, ns, name):
        """The NamespaceLifecycle admission plugin's check of a create in `ns`."""
        if not res.namespaced:
            return
        namespace = self.objects.get((NAMESPACE.group, NAMESPACE.plural, "", ns))
        if namespace is None:
            raise not_found(NAMESPACE, ns)
        if namespace.get("status", {}).get("phase") == "Terminating":
            raise forbidden(
                res, name, f"unable to create new content in namespace {ns} because it is being terminated"
            )

    def _admit_priority_class(self, obj, old=None):
        """The priority admission plugin (one globalDefault) and PriorityClass update
        validation (value and preemptionPolicy are immutable)."""
        name = obj["metadata"]["name"]
        res = BY_PATH[("scheduling.k8s.io", "v1", "priorityclasses")]
        if old is not None:
            if obj.get("value") != old.get("value"):
                raise invalid(res, name, "value", "FieldValueForbidden",
                              "Forbidden: may not be changed in an update.")
            policy = obj.get("preemptionPolicy", "PreemptLowerPriority")
            if policy != old.get("preemptionPolicy", "PreemptLowerPriority"):
                raise invalid(res, name, "preemptionPolicy", "FieldValueInvalid",
                              f'Invalid value: "{policy}": field is immutable')
        if obj.get("globalDefault"):
            for other in self.list(res, "", lambda o: o.get("globalDefault")):
                if other["metadata"]["name"] != name:
                    raise forbidden(
                        res, name,
                        f"PriorityClass {other['metadata']['name']} is already marked as default. "
                        "Only one default can exist",
                    )

    def create(self, res, ns, obj):
        meta = obj.setdefault("metadata", {})
        if not meta.get("name"):
            if meta.get("generateName"):
                suffix = "".join(random.choices(string.ascii_lowercase + string.digits, k=5))
                meta["name"] = meta["generateName"] + suffix
            else:
                raise ApiError(
                    422,
                    "Invalid",
                    f"{res.kind} \"\" is invalid: metadata.name: Required value: name or "
                    "generateName is required",
                    {"kind": res.kind},
                )
        name = meta["name"]
        key = (res.group, res.plural, ns if res.namespaced else "", name)
        self._check_namespace(res, ns, name)
        if key in self.objects:
            raise ApiError(
                409, "AlreadyExists", f'{res.qualified} "{name}" already exists', details(res, name)
            )
        obj["kind"] = res.kind
        obj["apiVersion"] = res.api_version
        if res.namespaced:
            meta["namespace"] = ns
        else:
            meta.pop("namespace", None)
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = now_rfc3339()
        meta.pop("deletionTimestamp", None)
        if res.kind == "PriorityClass":
            self._admit_priority_class(obj)
        apply_defaults(res, obj)
        meta["resourceVersion"] = self._next_rv()
        self.objects[key] = obj
        self._record(res, "ADDED", obj, None)
        return obj

    def replace(self, res, ns, name, new, check_rv=True):
        """Stores `new` in place of the existing object, keeping its identity."""
        old = self.get(res, ns, name)
        meta = new.setdefault("metadata", {})
        if meta.get("name", name) != name:
            raise ApiError(
                400,
                "BadRequest",
                f"the name of the object ({meta['name']}) does not match the name on the URL ({name})",
            )
        wanted_rv = meta.get("resourceVersion")
        if check_rv and wanted_rv and wanted_rv != old["metadata"]["resourceVersion"]:
            raise ApiError(
                409,
                "Conflict",
                f'Operation cannot be fulfilled on {res.qualified} "{name}": the object has been '
                "modified; please apply your changes to the latest version and try again",
                details(res, name),
            )
        new["kind"] = res.kind
        new["apiVersion"] = res.api_version
        for field in ("name", "uid", "creationTimestamp", "namespace"):
            if field in old["metadata"]:
                meta[field] = old["metadata"][field]
            else:
                meta.pop(field, None)
        meta["resourceVersion"] = old["metadata"]["resourceVersion"]
        if res.kind == "PriorityClass":
            self._admit_priority_class(new, old)
        if new == old:
            return old  # a no-op write changes nothing, not even the resourceVersion
        meta["resourceVersion"] = self._next_rv()
        self.objects[(res.group, res.plural, ns, name)] = new
        self._record(res, "MODIFIED", new, old)
        return new

    def delete(self, res, ns, name):
        obj = self.get(res, ns, name)
        if res is NAMESPACE and self.namespace_termination > 0:
            return self._terminate(obj)
        return self._remove(res, ns, name)

    def _terminate(self, namespace):
        """Marks a namespace Terminating (as the API server does while the namespace
        controller empties it) and removes it with its contents
        `namespace_termination` seconds later. Deleting it again changes nothing."""
        if namespace["status"].get("phase") == "Terminating":
            return namespace
        name = namespace["metadata"]["name"]
        marked = copy.deepcopy(namespace)
        marked["metadata"]["deletionTimestamp"] = now_rfc3339()
        marked["status"]["phase"] = "Terminating"
        marked = self.replace(NAMESPACE, "", name, marked, False)
        uid, generation = marked["metadata"]["uid"], self.generation

        def finish():
            with self.cond:
                current = self.objects.get((NAMESPACE.group, NAMESPACE.plural, "", name))
                if self.generation == generation and current and current["metadata"]["uid"] == uid:
                    self._remove(NAMESPACE, "", name)

        timer = threading.Timer(self.namespace_termination, finish)
        timer.daemon = True
        timer.start()
        return marked

    def _remove(self, res, ns, name):
        obj = self.get(res, ns, name)
        del self.objects[(res.group, res.plural, ns, name)]
        obj = copy.deepcopy(obj)
        obj["metadata"]["resourceVersion"] = self._next_rv()
        self._record(res, "DELETED", obj, None)
        if res is NAMESPACE:
            # Everything in the namespace goes with it.
            for (group, plural, obj_ns, obj_name) in sorted(self.objects):
                if obj_ns == name:
                    self._remove(BY_PATH[(group, "v1", plural)], obj_ns, obj_name)
        return obj


def apply_defaults(res, obj):
    """What the API server's defaulting adds to a new object of a few kinds."""
    if res.kind == "Namespace":
        name = obj["metadata"]["name"]
        obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = name
        obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
        obj.setdefault("status", {}).setdefault("phase", "Active")
    elif res.kind == "Pod":
        obj.setdefault("spec", {})
        obj.setdefault("status", {}).setdefault("phase", "Pending")


# -- what a test switches on --

# The Status reason of each code a fault can answer, as the API server words it.
FAULT_REASONS = {
    401: "Unauthorized",
    403: "Forbidden",
    409: "Conflict",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
}
# Who the 403s of faults name (the fake has no identities).
FAULT_USER = "runbook-test"


class Faults:
    """Answers a test asked for in place of the API's: `POST /debug/faults` with
    `{"status": 429, "method": "GET", "path": "REGEX", "watch": false, "times": 2,
    "message": "...", "retry_after": 1}` (all but `status` optional; `path` is searched
    in the request path; `watch` true or false limits the rule to watches or to the
    rest; `times` null means until `DELETE /debug/faults`). The first matching rule with
    times left answers, with the Status body the API server gives for that code. On
    the TLS listener a 401 also revokes the token it refused (see `TokenLog`)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.rules = []

    def add(self, rule):
        if not isinstance(rule, dict) or rule.get("status") not in FAULT_REASONS:
            raise ApiError(400, "BadRequest", f"a fault needs a status, one of {sorted(FAULT_REASONS)}")
        rule = {
            "status": rule["status"],
            "method": (rule.get("method") or "").upper() or None,
            "path": rule.get("path") or "",
            "watch": rule.get("watch"),
            "times": rule.get("times", 1),
            "message": rule.get("message"),
            "retry_after": int(rule.get("retry_after", 1)),
            "hits": 0,
        }
        re.compile(rule["path"])
        with self.lock:
            self.rules.append(rule)
        return rule

    def clear(self):
        with self.lock:
            self.rules = []

    def listing(self):
        with self.lock:
            return {"rules": copy.deepcopy(self.rules)}

    def take_unauthorized(self, method, path, watch):
        """Whether a 401 rule answers this request (counted down); the TLS listener
        asks first, so that it can revoke the token the 401 refused."""
        return self.take(method, path, watch, only=401) is not None

    def take(self, method, path, watch, only=None, count=True):
        """The rule that answers this request, its times counted down (unless `count`
        is false: a question about the request, not the request), or None."""
        with self.lock:
            for rule in self.rules:
                if only is not None and rule["status"] != only:
                    continue
                if rule["times"] is not None and rule["times"] <= 0:
                    continue
                if rule["method"] and rule["method"] != method:
                    continue
                if rule["watch"] is not None and bool(rule["watch"]) != watch:
                    continue
                if not re.search(rule["path"], path):
                    continue
                if not count:
                    return dict(rule)
                if rule["times"] is not None:
                    rule["times"] -= 1
                rule["hits"] += 1
                return dict(rule)
        return None


def fault_error(rule, method, target, watch):
    """The API server's answer of `rule["status"]` to a request for `target` (as
    `Handler.parse_resource_path` gives it, or None for a non-resource path)."""
    code = rule["status"]
    reason = FAULT_REASONS[code]
    res, ns, name, _ = target or (None, "", None, None)
    det = details(res, name or "") if res else {}
    if code == 401:
        message = "Unauthorized"
        det = None
    elif code == 403:
        verb = {"GET": "watch" if watch else ("get" if name else "list"), "POST": "create",
                "PUT": "update", "PATCH": "patch",
                "DELETE": "delete" if name else "deletecollection"}.get(method, method.lower())
        if res is None:
            message = f'forbidden: User "{FAULT_USER}" cannot {verb} path'
        else:
            scope = f'in the namespace "{ns}"' if ns else "at the cluster scope"
            subject = f'{res.qualified} "{name}"' if name else res.qualified
            message = (f'{subject} is forbidden: User "{FAULT_USER}" cannot {verb} resource '
                       f'"{res.plural}" in API group "{res.group}" {scope}')
    elif code == 409:
        message = (f'Operation cannot be fulfilled on {res.qualified if res else "resource"} "{name or ""}": '
                   "the object has been modified; please apply your changes to the latest version and try again")
    elif code == 422:
        kind = (f"{res.kind}.{res.group}" if res.group else res.kind) if res else "object"
        message = f'{kind} "{name or ""}" is invalid: spec: Forbidden: field is immutable'
    elif code == 429:
        message = "Too many requests, please try again later."
        det = {"retryAfterSeconds": rule["retry_after"]}
    elif code == 500:
        message = "Internal error occurred: the test asked for an internal error"
    else:
        message = "the server is currently unable to handle the request"
    headers = {"Retry-After": str(rule["retry_after"])} if code in (429, 503) else None
    return ApiError(code, reason, rule["message"] or message, det, headers)


# The HTTP method of each verb a SelfSubjectAccessReview asks about.
VERB_METHODS = {"get": "GET", "list": "GET", "watch": "GET", "create": "POST", "update": "PUT",
                "patch": "PATCH", "delete": "DELETE", "deletecollection": "DELETE"}


def access_review(review):
    """A SelfSubjectAccessReview answered (what `kubectl auth can-i` asks): allowed,
    unless a 403 fault a test switched on would refuse the request the permission
    stands for, so that one rule makes both the question and the request fail. The
    fault is not counted down: the question is not the request."""
    attrs = (review.get("spec") or {}).get("resourceAttributes") or {}
    verb = attrs.get("verb") or ""
    group, version = attrs.get("group") or "", attrs.get("version") or "v1"
    plural, ns = attrs.get("resource") or "", attrs.get("namespace") or ""
    base = f"/apis/{group}/{version}" if group else f"/api/{version}"
    path = f"{base}/namespaces/{ns}/{plural}" if ns else f"{base}/{plural}"
    method = VERB_METHODS.get(verb, verb.upper())
    rule = FAULTS.take(method, path, verb == "watch", only=403, count=False)
    status = {"allowed": rule is None}
    if rule is not None:
        scope = f'in the namespace "{ns}"' if ns else "at the cluster scope"
        status.update(denied=True, reason=rule["message"] or (
            f'User "{FAULT_USER}" cannot {verb} resource "{plural}" in API group "{group}" {scope}'))
    answered = dict(review)
    answered.update(apiVersion="authorization.k8s.io/v1", kind="SelfSubjectAccessReview", status=status)
    answered.setdefault("metadata", {})
    return answered


class TokenLog:
    """Every bearer token the TLS listener was shown, for tests: `GET /debug/tokens`
    lists each request's method, path, the token's X-Amz-Date and signature, and
    whether it was accepted (and why not).

    A token a 401 fault refused stays refused (as a token signed with credentials that
    were revoked, or by a clock that is off, stays invalid), so a client gets on only
    by signing a new one."""

    LIMIT = 2000

    def __init__(self):
        self.lock = threading.Lock()
        self.entries = []
        self.revoked = set()

    def revoke(self, signature):
        with self.lock:
            self.revoked.add(signature)

    def is_revoked(self, signature):
        with self.lock:
            return signature in self.revoked

    def add(self, entry):
        with self.lock:
            self.entries.append(entry)
            del self.entries[:-self.LIMIT]

    def clear(self):
        with self.lock:
            self.entries = []
            self.revoked = set()

    def listing(self):
        with self.lock:
            return {"requests": list(self.entries)}


FAULTS = Faults()
TOKENS = TokenLog()


# -- seed --

# m5.2xlarge as EKS reports it; allocatable from the facts sheet's nodeadm formulas.
INSTANCE_SIZES = {
    "m5.2xlarge": ("8", "32386220Ki", "7910m", "29317Mi", "58"),
    "c5.2xlarge": ("8", "16068524Ki", "7910m", "14162Mi", "58"),
    "m5.xlarge": ("4", "16068524Ki", "3920m", "14162Mi", "58"),
}


def seed_objects(nodes, instance_type, nodegroup, aws_auth, karpenter_controller=False):
    def seed():
        for ns in ("default", "kube-system", "kube-public", "kube-node-lease"):
            yield NAMESPACE, {"metadata": {"name": ns}}
        cpu, memory, alloc_cpu, alloc_memory, pods = INSTANCE_SIZES.get(
            instance_type, INSTANCE_SIZES["m5.2xlarge"]
        )
        for i in range(nodes):
            ip = f"192.168.{32 + i * 16}.{10 + i}"
            name = f"ip-{ip.replace('.', '-')}.us-east-2.compute.internal"
            zone = "us-east-2" + "abc"[i % 3]
            yield BY_PATH[("", "v1", "nodes")], {
                "metadata": {
                    "name": name,
                    "labels": {
                        "node.kubernetes.io/instance-type": instance_type,
                        "beta.kubernetes.io/instance-type": instance_type,
                        "eks.amazonaws.com/capacityType": "ON_DEMAND",
                        "eks.amazonaws.com/nodegroup": nodegroup,
                        "kubernetes.io/hostname": name,
                        "kubernetes.io/os": "linux",
                        "kubernetes.io/arch": "amd64",
                        "topology.kubernetes.io/region": "us-east-2",
                        "topology.kubernetes.io/zone": zone,
                    },
                },
                "spec": {"providerID": f"aws:///{zone}/i-0{i:016x}"},
                "status": {
                    "capacity": {"cpu": cpu, "memory": memory, "pods": pods},
                    "allocatable": {"cpu": alloc_cpu, "memory": alloc_memory, "pods": pods},
                    "conditions": [
                        {
                            "type": "Ready",
                            "status": "True",
                            "reason": "KubeletReady",
                            "message": "kubelet is posting ready status",
                            "lastHeartbeatTime": now_rfc3339(),
                            "lastTransitionTime": now_rfc3339(),
                        }
                    ],
                    "addresses": [
                        {"type": "InternalIP", "address": ip},
                        {"type": "Hostname", "address": name},
                    ],
                    "nodeInfo": {
                        "kubeletVersion": "v1.30.0-eks-fake",
                        "osImage": "Amazon Linux 2",
                        "architecture": "amd64",
                        "operatingSystem": "linux",
                        "containerRuntimeVersion": "containerd://1.7.0",
                    },
                },
            }
        pc = BY_PATH[("scheduling.k8s.io", "v1", "priorityclasses")]
        for name, value in (("system-cluster-critical", 2000000000), ("system-node-critical", 2000001000)):
            yield pc, {
                "metadata": {"name": name},
                "value": value,
                "globalDefault": False,
                "preemptionPolicy": "PreemptLowerPriority",
                "description": "Used for system critical pods that must not be moved from their current node.",
            }
        if karpenter_controller:
            yield BY_PATH[("", "v1", "pods")], {
                "metadata": {
                    "name": "karpenter-6d4f9c7b8-x2x7q",
                    "namespace": "kube-system",
                    "labels": {"app.kubernetes.io/name": "karpenter", "app.kubernetes.io/instance": "karpenter"},
                },
                "spec": {"containers": [{"name": "controller", "image": "public.ecr.aws/karpenter/controller"}]},
                "status": {"phase": "Running"},
            }
        if aws_auth:
            yield BY_PATH[("", "v1", "configmaps")], {
                "metadata": {"name": "aws-auth", "namespace": "kube-system"},
                "data": {
                    "mapRoles": (
                        "- groups:\n  - system:bootstrappers\n  - system:nodes\n"
                        f"  rolearn: arn:aws:iam::123456789012:role/{nodegroup}-NodeInstanceRole\n"
                        "  username: system:node:{{EC2PrivateDNSName}}\n"
                    )
                },
            }

    return seed


# -- Karpenter's controller, as far as the tests need it --

# How long after a change the stand-in controller acts on it.
KARPENTER_DELAY = 0.2


def condition(kind, status, reason, message=""):
    return {"type": kind, "status": status, "reason": reason, "message": message}


def node_class_conditions(obj):
    if not (obj.get("spec") or {}).get("role"):
        return [
            condition("InstanceProfileReady", "False", "RoleNotSet",
                      "spec.role is empty: no instance profile can be made for the nodes"),
            condition("Ready", "False", "UnhealthyDependents", "InstanceProfileReady=False"),
        ]
    return [condition(t, "True", t) for t in
            ("AMIsReady", "SubnetsReady", "SecurityGroupsReady", "InstanceProfileReady", "Ready")]


def is_ready(obj):
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in (obj.get("status") or {}).get("conditions", [])
    )


def node_pool_conditions(obj, node_classes):
    ref = (((obj.get("spec") or {}).get("template") or {}).get("spec") or {}).get("nodeClassRef") or {}
    name = ref.get("name", "")
    node_class = node_classes.get(name)
    if node_class is None or not is_ready(node_class):
        why = f"EC2NodeClass {name} not found" if node_class is None else f"EC2NodeClass {name} is not Ready"
        return [
            condition("NodeClassReady", "False", "NodeClassNotReady", why),
            condition("Ready", "False", "UnhealthyDependents", "NodeClassReady=False"),
        ]
    return [condition(t, "True", t) for t in ("ValidationSucceeded", "NodeClassReady", "Ready")]


class KarpenterController:
    """Sets the status of NodePools and EC2NodeClasses and removes the nodes of deleted
    NodePools, each KARPENTER_DELAY after it first sees what calls for it."""

    def __init__(self, store):
        self.store = store
        self.seen = {}  # what needs acting on -> when it was first seen

    def due(self, key, now):
        return now - self.seen.setdefault(key, now) >= KARPENTER_DELAY

    def run(self):
        store = self.store
        while True:
            with store.cond:
                store.cond.wait(timeout=0.05)
                self.reconcile(time.monotonic())

    def reconcile(self, now):
        store = self.store
        node_class_res = BY_PATH[("karpenter.k8s.aws", "v1", "ec2nodeclasses")]
        node_pool_res = BY_PATH[("karpenter.sh", "v1", "nodepools")]
        pending = set()
        node_classes = {o["metadata"]["name"]: o for o in store.list(node_class_res, "", lambda o: True)}
        for res, wanted_of in (
            (node_class_res, node_class_conditions),
            (node_pool_res, lambda o: node_pool_conditions(o, node_classes)),
        ):
            for obj in store.list(res, "", lambda o: True):
                wanted = wanted_of(obj)
                have = [
                    {k: c.get(k, "") for k in ("type", "status", "reason", "message")}
                    for c in (obj.get("status") or {}).get("conditions", [])
                ]
                if have == wanted:
                    continue
                key = (res.plural, obj["metadata"]["uid"], obj["metadata"]["resourceVersion"])
                pending.add(key)
                if not self.due(key, now):
                    continue
                new = copy.deepcopy(obj)
                stamp = now_rfc3339()
                new["status"] = dict(new.get("status") or {},
                                     conditions=[dict(c, lastTransitionTime=stamp) for c in wanted])
                store.replace(res, "", obj["metadata"]["name"], new, False)
                if res is node_class_res:
                    node_classes[obj["metadata"]["name"]] = new
        pools = {o["metadata"]["name"] for o in store.list(node_pool_res, "", lambda o: True)}
        nodes = BY_PATH[("", "v1", "nodes")]
        for node in store.list(nodes, "", lambda o: True):
            pool = (node["metadata"].get("labels") or {}).get("karpenter.sh/nodepool")
            if pool is None or pool in pools:
                continue
            key = ("orphan", node["metadata"]["uid"])
            pending.add(key)
            if self.due(key, now):
                store.delete(nodes, "", node["metadata"]["name"])
        self.seen = {k: v for k, v in self.seen.items() if k in pending}


# -- selectors --

def parse_label_selector(text):
    """A predicate on labels for `a=b`, `a==b`, `a!=b`, `a`, `!a`, `a in (x,y)`, `a notin (x,y)`."""
    terms = []
    for part in re.findall(r"(?:[^,(]|\([^)]*\))+", text or ""):
        part = part.strip()
        if not part:
            continue
        m = re.fullmatch(r"(\S+)\s+(in|notin)\s+\(([^)]*)\)", part)
        if m:
            values = {v.strip() for v in m.group(3).split(",") if v.strip()}
            key, op = m.group(1), m.group(2)
            if op == "in":
                terms.append(lambda l, k=key, vs=values: l.get(k) in vs)
            else:
                terms.append(lambda l, k=key, vs=values: l.get(k) not in vs)
            continue
        m = re.fullmatch(r"([^=!\s]+)\s*(==|=|!=)\s*(\S*)", part)
        if m:
            key, op, value = m.groups()
            if op == "!=":
                terms.append(lambda l, k=key, v=value: l.get(k) != v)
            else:
                terms.append(lambda l, k=key, v=value: l.get(k) == v)
            continue
        if part.startswith("!"):
            terms.append(lambda l, k=part[1:].strip(): k not in l)
            continue
        if re.fullmatch(r"[^\s=!()]+", part):
            terms.append(lambda l, k=part: k in l)
            continue
        raise ApiError(400, "BadRequest", f"unable to parse requirement: {part!r}")
    return lambda obj: all(t(obj.get("metadata", {}).get("labels") or {}) for t in terms)


def parse_field_selector(text):
    """A predicate for `path.to.field=value` / `==` / `!=` terms (metadata.name, spec.nodeName...)."""
    terms = []
    for part in (text or "").split(","):
        part = part.strip()
        if not part:
            continue
        m = re.fullmatch(r"([\w.]+)\s*(==|=|!=)\s*(.*)", part)
        if not m:
            raise ApiError(400, "BadRequest", f"invalid field selector: {part!r}")
        path, op, value = m.groups()
        terms.append((path.split("."), op == "!=", value))

    def field(obj, path):
        for p in path:
            obj = obj.get(p) if isinstance(obj, dict) else None
        return "" if obj is None else str(obj)

    return lambda obj: all((field(obj, p) == v) != neg for p, neg, v in terms)


# -- patches --

def merge_patch(target, patch):
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def json_patch(target, ops):
    """RFC 6902 JSON patch: add, remove, replace, test (what clients send)."""
    doc = copy.deepcopy(target)
    for op in ops:
        path = [p.replace("~1", "/").replace("~0", "~") for p in op["path"].split("/")[1:]]
        parent = doc
        for p in path[:-1]:
            parent = parent[int(p)] if isinstance(parent, list) else parent[p]
        last = path[-1] if path else None
        kind = op["op"]
        if kind == "test":
            current = parent[int(last)] if isinstance(parent, list) else parent.get(last)
            if current != op.get("value"):
                raise ApiError(422, "Invalid", f"the test at {op['path']} failed")
        elif kind == "remove":
            del parent[int(last) if isinstance(parent, list) else last]
        elif kind in ("add", "replace"):
            if isinstance(parent, list):
                if last == "-":
                    parent.append(op["value"])
                elif kind == "add":
                    parent.insert(int(last), op["value"])
                else:
                    parent[int(last)] = op["value"]
            else:
                parent[last] = op["value"]
        else:
            raise ApiError(400, "BadRequest", f"unsupported JSON patch operation {kind!r}")
    return doc


def parse_body(raw, content_type):
    if "yaml" in content_type:
        try:
            return json.loads(raw)
        except ValueError:
            try:
                import yaml  # PyYAML comes with moto[server]
            except ImportError as e:
                raise ApiError(415, "UnsupportedMediaType", "YAML bodies need PyYAML") from e
            return yaml.safe_load(raw)
    try:
        return json.loads(raw or b"null")
    except ValueError as e:
        raise ApiError(400, "BadRequest", f"the body is not JSON: {e}") from e


# -- HTTP --

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-kube"

    def log_message(self, fmt, *args):
        sys.stderr.write("fake-kube: " + (fmt % args) + "\n")

    def do_GET(self):
        self.dispatch("GET")

    def do_POST(self):
        self.dispatch("POST")

    def do_PUT(self):
        self.dispatch("PUT")

    def do_PATCH(self):
        self.dispatch("PATCH")

    def do_DELETE(self):
        self.dispatch("DELETE")

    # -- plumbing --

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def send_json(self, code, body, headers=None):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def dispatch(self, method):
        url = urlsplit(self.path)
        params = {k: v[-1] for k, v in parse_qs(url.query).items()}
        body = self.read_body() if method in ("POST", "PUT", "PATCH", "DELETE") else b""
        try:
            if not url.path.startswith("/debug/"):
                self.admit(method, url.path, params)
            answer = self.route(method, url.path, params, body)
            if answer is not None:
                self.send_json(*answer)
        except ApiError as e:
            self.send_json(e.code, e.status(), e.headers)
        except (KeyError, IndexError, TypeError, ValueError, AttributeError) as e:
            self.send_json(400, ApiError(400, "BadRequest", f"bad request: {e!r}").status())

    def admit(self, method, path, params):
        """What stands before the API: the TLS listener's authentication (a 401 for a
        missing, malformed or expired EKS token), then the faults a test switched on."""
        if getattr(self.server, "require_token", False):
            entry = {"method": method, "path": path, "accepted": True}
            try:
                token = eks_auth.check_token(self.headers.get("Authorization"))
                entry.update(date=token["x-amz-date"], signature=token["x-amz-signature"])
                if TOKENS.is_revoked(entry["signature"]):
                    entry.update(accepted=False, reason="this token was refused before")
            except eks_auth.TokenError as e:
                entry.update(accepted=False, reason=str(e))
            if entry["accepted"]:
                watch = method == "GET" and params.get("watch") in ("1", "true")
                if FAULTS.take_unauthorized(method, path, watch):
                    TOKENS.revoke(entry["signature"])
                    entry.update(accepted=False, reason="a 401 fault")
            TOKENS.add(entry)
            if not entry["accepted"]:
                raise ApiError(401, "Unauthorized", "Unauthorized")
        watch = method == "GET" and params.get("watch") in ("1", "true")
        rule = FAULTS.take(method, path, watch)
        if rule is not None:
            segs = [s for s in path.split("/") if s]
            raise fault_error(rule, method, self.parse_resource_path(segs), watch)

    def route(self, method, path, params, body):
        store = self.server.store
        segs = [s for s in path.split("/") if s]
        if method == "GET" and path in ("/healthz", "/readyz", "/livez"):
            data = b"ok"
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(data)
            return None
        if method == "GET" and path == "/version":
            return 200, {
                "major": "1",
                "minor": "30",
                "gitVersion": "v1.30.0-eks-fake",
                "gitCommit": "0000000000000000000000000000000000000000",
                "gitTreeState": "clean",
                "buildDate": "2025-01-01T00:00:00Z",
                "goVersion": "go1.22.0",
                "compiler": "gc",
                "platform": "linux/amd64",
            }
        if path == "/debug/objects" and method == "GET":
            with store.cond:
                objects = [store.objects[k] for k in sorted(store.objects)]
                return 200, {"resourceVersion": str(store.rv), "objects": objects}
        if path == "/debug/reset" and method == "POST":
            store.reset()
            FAULTS.clear()
            TOKENS.clear()
            return 200, {"reset": True}
        if path == "/debug/faults":
            if method == "POST":
                FAULTS.add(parse_body(body, "application/json"))
            elif method == "DELETE":
                FAULTS.clear()
            return 200, FAULTS.listing()
        if path == "/debug/tokens" and method == "GET":
            return 200, TOKENS.listing()
        if path == "/debug/tls" and method == "GET":
            tls = getattr(self.server, "tls", None)
            if tls is None:
                raise ApiError(404, "NotFound", "this server has no TLS listener (start it with --tls)")
            return 200, tls
        if method == "GET" and segs[:2] == ["openapi", "v3"]:
            found = openapi_v3("/".join(segs[2:]))
            if found is not None:
                return 200, found
        if method == "GET":
            found = self.discovery(segs)
            if found is not None:
                return 200, found
        if method == "POST" and segs == ["apis", "authorization.k8s.io", "v1", "selfsubjectaccessreviews"]:
            return 201, access_review(parse_body(body, "application/json"))
        target = self.parse_resource_path(segs)
        if target is None:
            raise ApiError(404, "NotFound", "the server could not find the requested resource", {})
        res, ns, name, sub = target
        if sub not in (None, "status"):
            raise ApiError(404, "NotFound", "the server could not find the requested resource", {})
        if name is None:
            return self.collection(method, res, ns, params, body)
        return self.item(method, res, ns, name, params, body)

    def discovery(self, segs):
        if segs == ["api"]:
            host, port = self.server.server_address[:2]
            return {
                "kind": "APIVersions",
                "versions": ["v1"],
                "serverAddressByClientCIDRs": [
                    {"clientCIDR": "0.0.0.0/0", "serverAddress": f"{host}:{port}"}
                ],
            }
        if segs == ["apis"]:
            return {"kind": "APIGroupList", "apiVersion": "v1", "groups": [group_entry(g) for g in GROUPS]}
        if segs == ["api", "v1"]:
            return resource_list("v1", "")
        if len(segs) == 2 and segs[0] == "apis" and segs[1] in GROUPS:
            return dict(group_entry(segs[1]), kind="APIGroup", apiVersion="v1")
        if len(segs) == 3 and segs[0] == "apis" and segs[1] in GROUPS:
            if any(r.group == segs[1] and r.version == segs[2] for r in RESOURCES):
                return resource_list(f"{segs[1]}/{segs[2]}", segs[1])
        return None

    def parse_resource_path(self, segs):
        """(resource, namespace or "", name or None, subresource or None), or None."""
        if segs[:2] == ["api", "v1"]:
            group, version, rest = "", "v1", segs[2:]
        elif len(segs) >= 3 and segs[0] == "apis":
            group, version, rest = segs[1], segs[2], segs[3:]
        else:
            return None
        if len(rest) >= 3 and rest[0] == "namespaces":
            res = BY_PATH.get((group, version, rest[2]))
            if res is None or not res.namespaced or len(rest) > 5:
                return None
            return res, rest[1], (rest[3] if len(rest) > 3 else None), (rest[4] if len(rest) > 4 else None)
        if not rest or len(rest) > 3:
            return None
        res = BY_PATH.get((group, version, rest[0]))
        if res is None or (res.namespaced and len(rest) > 1):
            return None
        return res, "", (rest[1] if len(rest) > 1 else None), (rest[2] if len(rest) > 2 else None)

    def collection(self, method, res, ns, params, body):
        store = self.server.store
        if method == "GET":
            labels = parse_label_selector(params.get("labelSelector"))
            fields = parse_field_selector(params.get("fieldSelector"))
            selector = lambda obj: labels(obj) and fields(obj)  # noqa: E731
            if params.get("watch") in ("1", "true"):
                self.watch(res, ns, params, selector)
                return None
            with store.cond:
                items = store.list(res, ns, selector)
                return 200, {
                    "kind": f"{res.kind}List",
                    "apiVersion": res.api_version,
                    "metadata": {"resourceVersion": str(store.rv)},
                    "items": items,
                }
        if method == "POST":
            obj = parse_body(body, self.headers.get("Content-Type", ""))
            if not isinstance(obj, dict):
                raise ApiError(400, "BadRequest", "the body is not an object")
            check_namespace(res, ns, obj)
            with store.cond:
                return 201, store.create(res, ns, obj)
        if method == "DELETE":
            labels = parse_label_selector(params.get("labelSelector"))
            with store.cond:
                deleted = [
                    store.delete(res, o["metadata"].get("namespace", ""), o["metadata"]["name"])
                    for o in store.list(res, ns, labels)
                ]
                return 200, {
                    "kind": f"{res.kind}List",
                    "apiVersion": res.api_version,
                    "metadata": {"resourceVersion": str(store.rv)},
                    "items": deleted,
                }
        raise ApiError(405, "MethodNotAllowed", f"the server does not allow this method on {res.plural}")

    def item(self, method, res, ns, name, params, body):
        store = self.server.store
        content_type = self.headers.get("Content-Type", "").split(";")[0].strip()
        with store.cond:
            if method == "GET":
                return 200, store.get(res, ns, name)
            if method == "DELETE":
                return 200, store.delete(res, ns, name)
            if method == "PUT":
                obj = parse_body(body, content_type)
                check_namespace(res, ns, obj)
                return 200, store.replace(res, ns, name, obj)
            if method == "PATCH":
                patch = parse_body(body, content_type)
                if content_type == "application/apply-patch+yaml":
                    if not isinstance(patch, dict) or not patch.get("apiVersion") or not patch.get("kind"):
                        raise ApiError(400, "BadRequest", "apply needs apiVersion and kind in the body")
                    check_namespace(res, ns, patch)
                    try:
                        existing = store.get(res, ns, name)
                    except ApiError:
                        patch.setdefault("metadata", {})["name"] = name
                        return 201, store.create(res, ns, patch)
                    patch.get("metadata", {}).pop("resourceVersion", None)
                    return 200, store.replace(res, ns, name, merge_patch(existing, patch), False)
                existing = store.get(res, ns, name)
                if content_type == "application/json-patch+json":
                    new = json_patch(existing, patch)
                elif content_type in ("application/merge-patch+json", "application/strategic-merge-patch+json"):
                    new = merge_patch(existing, patch)
                else:
                    raise ApiError(
                        415, "UnsupportedMediaType", f"the body of the request was in an unknown format: {content_type}"
                    )
                return 200, store.replace(res, ns, name, new)
        raise ApiError(405, "MethodNotAllowed", f"the server does not allow this method on {res.plural}")

    # -- watch --

    def watch(self, res, ns, params, selector):
        store = self.server.store
        bookmarks = params.get("allowWatchBookmarks") in ("1", "true")
        timeout = float(params["timeoutSeconds"]) if params.get("timeoutSeconds") else None
        deadline = None if timeout is None else time.monotonic() + timeout
        rv_param = params.get("resourceVersion", "")
        initial_events = params.get("sendInitialEvents") == "true"
        with store.cond:
            if rv_param in ("", "0") or initial_events:
                initial = [("ADDED", obj) for obj in store.list(res, ns, selector)]
                since = store.rv
            else:
                since = int(rv_param)
                if since < store.oldest_rv:
                    initial = [("ERROR", ApiError(
                        410, "Expired", f"too old resource version: {since} ({store.oldest_rv})"
                    ).status())]
                    deadline = time.monotonic()
                else:
                    initial = []
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            for kind, obj in initial:
                self.write_event(kind, obj)
            if initial_events and bookmarks:
                self.write_bookmark(res, since, {"k8s.io/initial-events-end": "true"})
            last_sent = time.monotonic()
            while deadline is None or time.monotonic() < deadline:
                with store.cond:
                    changes = store.changes_after(since)
                    if not changes:
                        wait = 1.0 if deadline is None else min(1.0, max(0.0, deadline - time.monotonic()))
                        store.cond.wait(wait)
                        changes = store.changes_after(since)
                    if changes:
                        since = changes[-1][0]
                for _, ev_res, kind, obj, previous in changes:
                    if ev_res is not res or (ns and obj["metadata"].get("namespace") != ns):
                        continue
                    kind = filtered_kind(kind, selector(obj), previous is not None and selector(previous))
                    if kind:
                        self.write_event(kind, obj)
                        last_sent = time.monotonic()
                if bookmarks and time.monotonic() - last_sent >= BOOKMARK_EVERY:
                    self.write_bookmark(res, since)
                    last_sent = time.monotonic()
                if client_gone(self.connection):
                    return
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            self.close_connection = True

    def write_event(self, kind, obj):
        line = json.dumps({"type": kind, "object": obj}).encode() + b"\n"
        self.wfile.write(b"%x\r\n%s\r\n" % (len(line), line))
        self.wfile.flush()

    def write_bookmark(self, res, rv, annotations=None):
        meta = {"resourceVersion": str(rv)}
        if annotations:
            meta["annotations"] = annotations
        self.write_event("BOOKMARK", {"kind": res.kind, "apiVersion": res.api_version, "metadata": meta})


def filtered_kind(kind, matches_now, matched_before):
    """A watch with a selector sees an object entering it as ADDED and leaving it as DELETED."""
    if kind == "MODIFIED":
        if matches_now and not matched_before:
            return "ADDED"
        if matched_before and not matches_now:
            return "DELETED"
        return "MODIFIED" if matches_now else None
    return kind if matches_now else None


def client_gone(conn):
    """Whether the client closed a watch (readable with nothing to read means EOF).

    A TLS socket cannot peek, so it is read: a client never sends more on a
    connection whose answer is still streaming, so nothing of worth is consumed."""
    try:
        readable, _, _ = select.select([conn], [], [], 0)
        if not readable:
            return False
        if isinstance(conn, ssl.SSLSocket):
            conn.setblocking(False)
            try:
                return conn.recv(1) == b""
            except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                return False
            finally:
                conn.setblocking(True)
        return conn.recv(1, socket.MSG_PEEK) == b""
    except OSError:
        return True


def check_namespace(res, ns, obj):
    if not isinstance(obj, dict):
        raise ApiError(400, "BadRequest", "the body is not an object")
    body_ns = (obj.get("metadata") or {}).get("namespace")
    if res.namespaced and body_ns and body_ns != ns:
        raise ApiError(
            400,
            "BadRequest",
            "the namespace of the provided object does not match the namespace sent on the request",
        )


def group_entry(group):
    versions = sorted({r.version for r in RESOURCES if r.group == group})
    entries = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
    return {"name": group, "versions": entries, "preferredVersion": entries[0]}


def resource_list(group_version, group):
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": [r.discovery() for r in RESOURCES if r.group == group],
    }


def openapi_v3(group_version_path):
    """Just enough OpenAPI v3 for kubectl: the index, and per group-version each PATCH
    operation with its `fieldValidation` parameter. kubectl's apply validates on the
    server when the PATCH of a kind declares that parameter, and otherwise downloads
    the schemas to validate by itself, which this server does not have; it accepts
    and ignores `fieldValidation`, as it has no schemas to be strict about."""
    group_versions = {}
    for r in RESOURCES:
        prefix = f"apis/{r.group}/{r.version}" if r.group else f"api/{r.version}"
        group_versions.setdefault(prefix, []).append(r)
    if not group_version_path:
        return {
            "paths": {
                prefix: {"serverRelativeURL": f"/openapi/v3/{prefix}?hash=fake"}
                for prefix in group_versions
            }
        }
    resources = group_versions.get(group_version_path)
    if resources is None:
        return None
    paths = {}
    for r in resources:
        scope = "/namespaces/{namespace}" if r.namespaced else ""
        paths[f"/{group_version_path}{scope}/{r.plural}/{{name}}"] = {
            "patch": {
                "operationId": f"patch{r.kind}",
                "x-kubernetes-group-version-kind": {"group": r.group, "version": r.version, "kind": r.kind},
                "x-kubernetes-action": "patch",
                "parameters": [
                    {"name": "fieldValidation", "in": "query", "schema": {"type": "string", "uniqueItems": True}},
                    {"name": "fieldManager", "in": "query", "schema": {"type": "string", "uniqueItems": True}},
                    {"name": "force", "in": "query", "schema": {"type": "boolean", "uniqueItems": True}},
                ],
                "responses": {"200": {"description": "OK"}},
            }
        }
    return {"openapi": "3.0.0", "info": {"title": "fake-kube", "version": "v1.30.0"}, "paths": paths}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("port", type=int)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--nodes", type=int, default=1, help="Ready nodes to seed (default 1)")
    parser.add_argument("--instance-type", default="m5.2xlarge")
    parser.add_argument("--nodegroup", default="eks-emr-cluster-ng")
    parser.add_argument("--no-aws-auth", action="store_true", help="do not seed kube-system/aws-auth")
    karpenter = parser.add_mutually_exclusive_group()
    karpenter.add_argument(
        "--karpenter", action="store_true",
        help="serve Karpenter's kinds and act as its controller (see the module docstring)",
    )
    karpenter.add_argument(
        "--karpenter-crds", action="store_true", help="serve Karpenter's kinds, with no controller"
    )
    parser.add_argument(
        "--tls", action="store_true",
        help="also serve HTTPS, requiring EKS tokens, on a free port (GET /debug/tls says where)",
    )
    parser.add_argument(
        "--namespace-termination", type=float, default=0.0, metavar="SECONDS",
        help="how long a deleted namespace stays Terminating (default 0: gone at once)",
    )
    parser.add_argument("--exit-with-parent", action="store_true")
    args = parser.parse_args(argv)
    if args.exit_with_parent:
        exit_with_parent()
    if args.karpenter or args.karpenter_crds:
        serve_kinds(KARPENTER_RESOURCES)
    server = Server((args.host, args.port), Handler)
    server.store = Store(
        seed_objects(args.nodes, args.instance_type, args.nodegroup, not args.no_aws_auth, args.karpenter),
        args.namespace_termination,
    )
    if args.tls:
        ca_pem, cert_pem, key_pem = eks_auth.make_certificates(args.host)
        tls = TlsServer((args.host, 0), Handler, eks_auth.server_context(cert_pem, key_pem))
        tls.store = server.store
        tls.require_token = True
        server.tls = {
            "endpoint": f"https://{args.host}:{tls.server_address[1]}",
            "ca": ca_pem.decode(),
        }
        threading.Thread(target=tls.serve_forever, daemon=True).start()
    if args.karpenter:
        threading.Thread(target=KarpenterController(server.store).run, daemon=True).start()
    serve(server, f"fake kube listening on http://{args.host}:{args.port}")


if __name__ == "__main__":
    main()
