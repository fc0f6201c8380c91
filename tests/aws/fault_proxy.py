#!/usr/bin/env python3
"""An HTTP proxy in front of moto that injects the faults real AWS calls meet.

Usage: fault_proxy.py PORT --upstream http://127.0.0.1:MOTO_PORT [--host 127.0.0.1]
                           [--exit-with-parent]

The binary under test talks to this proxy (`AWS_ENDPOINT_URL`), which forwards every
request to moto and returns moto's answer, except for requests that match a rule a
test has set. A rule says which requests it matches, what happens to them, and how
many times (then it stops applying):

    POST /_faults/rules   {"match": {...}, "fault": {...}, "times": 1}  -> the rule
    GET  /_faults         -> {"rules": [...with "hits"], "requests": [...]}
    DELETE /_faults       -> forgets every rule and the request log

`match` (every field given must match; none given matches everything):
- `service`: the SigV4 signing name in the Authorization header (`emr-containers`,
  `s3`, `iam`, `logs`, `eks`, `sts`);
- `operation`: the operation of RPC-style protocols, i.e. the part of `X-Amz-Target`
  after its last dot (CloudWatch Logs: `CreateLogGroup`) or the `Action` parameter
  of query-protocol requests (IAM: `CreateRole`);
- `method` and `path` (a regex the whole path, without the query, must match) for
  REST protocols: EMR on EKS's StartJobRun is `POST /virtualclusters/{id}/jobruns`,
  S3's CreateBucket is `PUT /{bucket}`.

`fault`, by `kind`:
- `delay`: forward to moto, then hold moto's answer for `seconds` before sending it:
  the call reached the service and the client gave up waiting (its timeout);
- `error`: answer `status` (default 500) with the service's error `code` (default:
  the protocol's internal error) and `message`, after forwarding to moto when
  `forward` is true (the service acted, then failed to say so) or without it;
- `throttle`: answer the service's own throttling error without forwarding (429
  ThrottlingException for REST-JSON services, 400 Throttling for query services, 400
  ThrottlingException for JSON-RPC ones, 503 SlowDown for S3);
- `drop`: forward to moto, then send the first half of its answer (the status line and
  headers, with the full Content-Length, and half the body; half the headers if the
  body is empty) and close the connection.

Errors are rendered in the request's protocol, as the SDKs parse them: S3's
`<Error>` XML, the query protocol's `<ErrorResponse>` XML, JSON-RPC's `__type`, or
REST-JSON's `x-amzn-ErrorType` header. The request log has one entry per proxied
request: method, path, service, operation, the id of the rule applied (or null) and
the status sent.
"""

import argparse
import http.client
import json
import re
import socket
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlsplit

from harness_server import Server, exit_with_parent, serve

# Headers that belong to one connection, not to the message (RFC 9110, 7.6.1).
HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    # Answered here (http.server sends the 100 Continue); moto gets the whole body.
    "expect",
}
FAULT_KINDS = ("delay", "error", "throttle", "drop")
MATCH_FIELDS = ("service", "operation", "method", "path")
SIGNING_SERVICE = re.compile(r"Credential=[^/]+/[^/]+/[^/]+/([^/]+)/aws4_request")


class Rules:
    """The rules and the request log, shared by the handler threads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.rules = []
        self.requests = []
        self.next_id = 1

    def add(self, body):
        match = body.get("match") or {}
        fault = body.get("fault") or {}
        unknown = set(match) - set(MATCH_FIELDS)
        if unknown:
            raise ValueError(f"unknown match field(s) {sorted(unknown)}; expected {MATCH_FIELDS}")
        if fault.get("kind") not in FAULT_KINDS:
            raise ValueError(f"fault.kind must be one of {FAULT_KINDS}, not {fault.get('kind')!r}")
        if "path" in match:
            re.compile(match["path"])
        times = int(body.get("times", 1))
        if times < 1:
            raise ValueError("times must be at least 1")
        with self.lock:
            rule = {"id": self.next_id, "match": match, "fault": fault, "times": times, "hits": 0}
            self.next_id += 1
            self.rules.append(rule)
            return dict(rule)

    def take(self, request):
        """The first rule that matches `request` and has uses left, counted as used."""
        with self.lock:
            for rule in self.rules:
                if rule["hits"] < rule["times"] and matches(rule["match"], request):
                    rule["hits"] += 1
                    return dict(rule)
        return None

    def log(self, request, rule, status):
        entry = {k: request[k] for k in MATCH_FIELDS}
        entry["rule"] = rule["id"] if rule else None
        entry["status"] = status
        with self.lock:
            self.requests.append(entry)

    def snapshot(self):
        with self.lock:
            return {"rules": [dict(r) for r in self.rules], "requests": list(self.requests)}

    def clear(self):
        with self.lock:
            self.rules.clear()
            self.requests.clear()


def matches(match, request):
    for field in ("service", "operation", "method"):
        if field in match and match[field] != request[field]:
            return False
    return "path" not in match or re.fullmatch(match["path"], request["path"]) is not None


def describe(method, path, headers, body):
    """What a rule can match of a request."""
    auth = headers.get("Authorization", "")
    found = SIGNING_SERVICE.search(auth)
    service = found.group(1) if found else None
    operation = None
    target = headers.get("X-Amz-Target")
    if target:
        operation = target.rsplit(".", 1)[-1]
    elif "x-www-form-urlencoded" in headers.get("Content-Type", ""):
        action = parse_qs(body.decode("utf-8", "replace")).get("Action")
        operation = action[0] if action else None
    return {"service": service, "operation": operation, "method": method, "path": path}


def protocol_of(request, headers):
    if request["service"] == "s3":
        return "rest-xml"
    if headers.get("X-Amz-Target"):
        return "json"
    if "x-www-form-urlencoded" in headers.get("Content-Type", ""):
        return "query"
    return "rest-json"


# (status, code) of each protocol's throttling error and internal error.
THROTTLED = {
    "rest-xml": (503, "SlowDown"),
    "query": (400, "Throttling"),
    "json": (400, "ThrottlingException"),
    "rest-json": (429, "ThrottlingException"),
}
INTERNAL = {
    "rest-xml": "InternalError",
    "query": "InternalFailure",
    "json": "InternalFailure",
    "rest-json": "InternalServerException",
}


def error_response(protocol, status, code, message):
    """(headers, body) of a service error as the protocol's SDK parsers expect it."""
    request_id = str(uuid.uuid4())
    if protocol == "rest-xml":
        body = (
            f"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code>"
            f"<Message>{message}</Message><RequestId>{request_id}</RequestId></Error>"
        )
        return [("Content-Type", "application/xml")], body.encode()
    if protocol == "query":
        kind = "Receiver" if status >= 500 else "Sender"
        body = (
            f"<ErrorResponse><Error><Type>{kind}</Type><Code>{code}</Code>"
            f"<Message>{message}</Message></Error><RequestId>{request_id}</RequestId>"
            "</ErrorResponse>"
        )
        return [("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id)], body.encode()
    if protocol == "json":
        body = json.dumps({"__type": code, "message": message})
        return [
            ("Content-Type", "application/x-amz-json-1.1"),
            ("x-amzn-RequestId", request_id),
        ], body.encode()
    body = json.dumps({"message": message})
    return [
        ("Content-Type", "application/json"),
        ("x-amzn-ErrorType", code),
        ("x-amzn-RequestId", request_id),
    ], body.encode()


class Handler(BaseHTTPRequestHandler):
    # Keep-alive, as the SDK's connection pool expects.
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):
        sys.stderr.write("fault-proxy: " + (format % args) + "\n")

    def do_GET(self):
        self.handle_any()

    def do_POST(self):
        self.handle_any()

    def do_PUT(self):
        self.handle_any()

    def do_DELETE(self):
        self.handle_any()

    def do_HEAD(self):
        self.handle_any()

    def do_PATCH(self):
        self.handle_any()

    def handle_any(self):
        body = self.read_body()
        path = urlsplit(self.path).path
        if path == "/_faults" or path == "/_faults/rules":
            self.control(path, body)
            return
        request = describe(self.command, path, self.headers, body)
        rule = self.server.rules.take(request)
        fault = rule["fault"] if rule else {}
        kind = fault.get("kind")
        protocol = protocol_of(request, self.headers)
        if kind == "throttle" or (kind == "error" and not fault.get("forward")):
            status, code = THROTTLED[protocol] if kind == "throttle" else (None, None)
            self.send_error_of(request, rule, protocol, fault, status, code)
            return
        status, headers, answer = self.forward(body)
        if kind == "error":
            self.send_error_of(request, rule, protocol, fault, None, None)
            return
        self.server.rules.log(request, rule, status)
        if kind == "delay":
            time.sleep(float(fault.get("seconds", 5)))
        if kind == "drop":
            self.send_half(status, headers, answer)
            return
        self.send_whole(status, headers, answer)

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    # Trailers, up to the empty line.
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def forward(self, body):
        """Sends the request to moto; (status, headers, body) of its answer."""
        upstream = self.server.upstream
        conn = http.client.HTTPConnection(upstream.hostname, upstream.port, timeout=120)
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
            headers["Content-Length"] = str(len(body))
            conn.request(self.command, self.path, body=body, headers=headers)
            response = conn.getresponse()
            answer = response.read()
            kept = [
                (k, v)
                for k, v in response.getheaders()
                if k.lower() not in HOP_BY_HOP
                and (k.lower() != "content-length" or self.command == "HEAD")
            ]
            if self.command != "HEAD":
                kept.append(("Content-Length", str(len(answer))))
            return response.status, kept, answer
        finally:
            conn.close()

    def head_bytes(self, status, headers):
        reason = http.client.responses.get(status, "")
        lines = [f"HTTP/1.1 {status} {reason}"] + [f"{k}: {v}" for k, v in headers]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def send_whole(self, status, headers, body):
        try:
            self.wfile.write(self.head_bytes(status, headers) + body)
            self.wfile.flush()
        except OSError:
            # The client gave up (a `delay` longer than its timeout).
            self.close_connection = True

    def send_half(self, status, headers, body):
        head = self.head_bytes(status, headers)
        whole = head + body
        cut = len(head) + len(body) // 2 if body else len(head) // 2
        try:
            self.wfile.write(whole[:cut])
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.close_connection = True

    def send_error_of(self, request, rule, protocol, fault, status, code):
        status = status or int(fault.get("status", 500))
        code = code or fault.get("code") or INTERNAL[protocol]
        message = fault.get("message") or f"injected by the fault proxy (rule {rule['id']})"
        headers, body = error_response(protocol, status, code, message)
        headers.append(("Content-Length", str(len(body))))
        self.server.rules.log(request, rule, status)
        self.send_whole(status, headers, body)

    def control(self, path, body):
        rules = self.server.rules
        if path == "/_faults/rules" and self.command == "POST":
            try:
                self.reply(200, rules.add(json.loads(body or b"{}")))
            except (ValueError, TypeError, AttributeError, re.error) as e:
                self.reply(400, {"error": str(e)})
        elif path == "/_faults" and self.command == "GET":
            self.reply(200, rules.snapshot())
        elif path == "/_faults" and self.command == "DELETE":
            rules.clear()
            self.reply(200, rules.snapshot())
        else:
            self.reply(405, {"error": "POST /_faults/rules, GET or DELETE /_faults"})

    def reply(self, status, value):
        data = json.dumps(value).encode()
        headers = [("Content-Type", "application/json"), ("Content-Length", str(len(data)))]
        self.send_whole(status, headers, data)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("port", type=int)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--upstream", required=True, metavar="URL")
    parser.add_argument("--exit-with-parent", action="store_true")
    args = parser.parse_args(argv)
    upstream = urlsplit(args.upstream)
    if upstream.scheme != "http" or not upstream.hostname or not upstream.port:
        parser.error(f"--upstream must be http://HOST:PORT, not {args.upstream!r}")
    if args.exit_with_parent:
        exit_with_parent()
    server = Server((args.host, args.port), Handler)
    server.upstream = upstream
    server.rules = Rules()
    serve(server, f"fault proxy listening on http://{args.host}:{args.port} for {args.upstream}")


if __name__ == "__main__":
    main()
