#!/usr/bin/env python3
"""Runs moto's server with EMR on EKS job runs that finish.

Usage: moto_launcher.py PORT [--host 127.0.0.1] [--job-schedule SPEC]
                             [--fail-pattern REGEX]
                             [--eks-endpoint URL --eks-ca-file PEM]
                             [--exit-with-parent]

moto 5.2.5 keeps every EMR on EKS job run RUNNING forever (only CancelJobRun moves
it, straight to CANCELLED), so a runbook's `wait-for-job` could never be tested
against it. This launcher patches moto's `JobRun` model *in this process* (nothing in
site-packages is edited) so that the state reported by DescribeJobRun and ListJobRuns
is computed from the time since the job run was created:

    PENDING -> SUBMITTED -> RUNNING -> COMPLETED

each state lasting as long as the schedule says. A job run whose name matches the
fail pattern (default: it contains `fail`, case-insensitively) ends FAILED instead,
with failureReason USER_ERROR and stateDetails as EMR words it. CancelJobRun still
works: the job is CANCEL_PENDING for the schedule's CANCEL_PENDING time, then
CANCELLED. A StartJobRun that repeats the `clientToken` of an earlier one in the same
virtual cluster gets that job run back instead of a new one, as EMR does. `createdAt` is the real creation time (moto rounds it to midnight) and
`finishedAt` is set when the job reaches its final state.

The schedule a job run follows is fixed when it is created. SPEC is either one number
of seconds for every state (`0.2`) or `STATE=SECONDS` pairs separated by commas
(`PENDING=0.1,SUBMITTED=0.1,RUNNING=2,CANCEL_PENDING=0.2`); a state left out keeps
its default of 0.2 s, and `inf` makes a state last forever (a job that runs until it
is cancelled).

Tests change the schedule without restarting the server through one extra endpoint:

    POST /_harness/job-schedule  {"schedule": "RUNNING=5", "fail_pattern": "boom"}
    GET  /_harness/job-schedule  -> the current schedule

AWS's managed IAM policies are loaded, as every account has them.

moto gives every EKS cluster a made-up endpoint and random bytes as its CA, so a
client that connects the way it does on EKS (DescribeCluster's endpoint and CA, an
EKS token) reaches nothing. With `--eks-endpoint URL --eks-ca-file PEM` every
cluster created gets that endpoint and CA instead (base64-encoded, as EKS returns
it): fake_kube.py's TLS listener, whose `GET /debug/tls` gives both.

moto's Step Functions interpreter (off until a test turns it on with `POST
/moto-api/config {"stepfunctions": {"execute_state_machine": true}}`) is mended by
sfn_integrations.py to call services as Step Functions does on AWS: PascalCase
parameters and results, aws-sdk service and error names as Step Functions has them,
`eks:call` against the cluster's API server, and moto reached on this launcher's port.

And `POST /moto-api/reset` (moto's own reset, which clears every service's state)
also puts the schedule back to what the command line said, so one test's schedule
never leaks into the next.
"""

import argparse
import base64
import datetime
import json
import math
import os
import re
import signal
import sys
import threading
import time

from moto.core.utils import utcnow
from moto.eks import models as eks_models
from moto.emrcontainers import models as emr_models
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import make_server

import sfn_integrations
from harness_server import exit_with_parent

# The states a job run passes through before its final one, in order.
ACTIVE_STATES = ("PENDING", "SUBMITTED", "RUNNING")
# How long each state lasts unless the schedule says otherwise: short enough that a
# test of a whole job takes well under a second, long enough that a poller every
# 100 ms sees every state.
DEFAULT_SECONDS = 0.2
DEFAULT_FAIL_PATTERN = "fail"
# What EMR on EKS says in stateDetails when the Spark driver fails.
FAILED_DETAILS = (
    "Jobrun failed. Main Spark container terminated with errors. Please refer logs "
    "uploaded to S3/CloudWatch based on your monitoring configuration."
)
CANCELLED_DETAILS = "JobRun CANCELLED successfully."


class Schedule:
    """How long each state lasts, and which job names fail. Immutable."""

    def __init__(self, spec, fail_pattern, start_delay=0.0):
        self.spec = spec
        self.fail_pattern = fail_pattern
        # Seconds StartJobRun waits after creating the job run before it answers: a
        # window in which a test kills the client, as a crash mid-call would.
        self.start_delay = parse_seconds(str(start_delay))
        self.fail_re = re.compile(fail_pattern, re.IGNORECASE)
        self.seconds = {s: DEFAULT_SECONDS for s in ACTIVE_STATES + ("CANCEL_PENDING",)}
        spec = spec.strip()
        if not spec:
            return
        if "=" not in spec:
            value = parse_seconds(spec)
            self.seconds = {state: value for state in self.seconds}
            return
        for part in spec.split(","):
            state, sep, value = part.partition("=")
            state = state.strip().upper()
            if not sep or state not in self.seconds:
                raise ValueError(
                    f"bad schedule part {part!r}: expected STATE=SECONDS with STATE one of "
                    + ", ".join(self.seconds)
                )
            self.seconds[state] = parse_seconds(value)

    def to_json(self):
        return {
            "schedule": self.spec,
            "fail_pattern": self.fail_pattern,
            "start_delay": self.start_delay,
            "seconds": {k: (v if math.isfinite(v) else "inf") for k, v in self.seconds.items()},
        }


def parse_seconds(text):
    value = float(text)
    if value < 0 or math.isnan(value):
        raise ValueError(f"a state cannot last {text!r} seconds")
    return value


class ScheduleHolder:
    """The schedule new job runs get; the launcher's own one comes back on reset."""

    def __init__(self, initial):
        self.initial = initial
        self.current = initial
        self.lock = threading.Lock()

    def get(self):
        with self.lock:
            return self.current

    def set(self, schedule):
        with self.lock:
            self.current = schedule

    def reset(self):
        self.set(self.initial)


SCHEDULE = None  # the ScheduleHolder, set in main() before the server starts


def patch_job_runs():
    """Makes `JobRun.state` and its companions computed from the time since creation.

    moto's backend and its serializer read these as plain attributes (the serializer
    plucks `state`, `finished_at`, `failure_reason`, `state_details` by name), so
    properties on the class are enough: DescribeJobRun, ListJobRuns and its `states`
    filter all see the computed values. The assignments moto's own code makes
    (`__init__` and `cancel_job_run`) land in the setters and are kept only as the
    values before the timeline exists.
    """
    cls = emr_models.JobRun
    original_init = cls.__init__

    def __init__(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        schedule = SCHEDULE.get()
        self._harness_started = time.monotonic()
        # moto rounds createdAt down to midnight; a real one is the creation time.
        self.created_at = utcnow()
        self._harness_seconds = dict(schedule.seconds)
        self._harness_fails = bool(schedule.fail_re.search(self.name or ""))
        self._harness_cancelled_after = None

    def timeline(self):
        """(state, seconds after creation it ended in a final state or None, reason, details)."""
        if "_harness_started" not in self.__dict__:
            # Still inside moto's __init__.
            return (self.__dict__.get("_raw_state"), None, None, None)
        elapsed = time.monotonic() - self._harness_started
        seconds = self._harness_seconds
        cancelled = self._harness_cancelled_after
        if cancelled is not None:
            end = cancelled + seconds["CANCEL_PENDING"]
            if elapsed < end:
                return ("CANCEL_PENDING", None, None, None)
            return ("CANCELLED", end, None, CANCELLED_DETAILS)
        end = 0.0
        for state in ACTIVE_STATES:
            end += seconds[state]
            if elapsed < end:
                return (state, None, None, None)
        if self._harness_fails:
            return ("FAILED", end, "USER_ERROR", FAILED_DETAILS)
        return ("COMPLETED", end, None, None)

    def raw_setter(name):
        def setter(self, value):
            self.__dict__[f"_raw_{name}"] = value

        return setter

    def state(self):
        return self._harness_timeline()[0]

    def finished_at(self):
        ended = self._harness_timeline()[1]
        if ended is None:
            return None
        return self.created_at + datetime.timedelta(seconds=ended)

    def failure_reason(self):
        return self._harness_timeline()[2]

    def state_details(self):
        return self._harness_timeline()[3]

    cls.__init__ = __init__
    cls._harness_timeline = timeline
    cls.state = property(state, raw_setter("state"))
    cls.finished_at = property(finished_at, raw_setter("finished_at"))
    cls.failure_reason = property(failure_reason, raw_setter("failure_reason"))
    cls.state_details = property(state_details, raw_setter("state_details"))

    backend = emr_models.EMRContainersBackend
    original_cancel = backend.cancel_job_run

    def cancel_job_run(self, job_run_id, virtual_cluster_id):
        # moto's own checks run first (unknown id, wrong virtual cluster, a job already
        # in a final or CANCEL_PENDING state), against the computed state.
        job = original_cancel(self, job_run_id, virtual_cluster_id)
        job._harness_cancelled_after = time.monotonic() - job._harness_started
        return job

    backend.cancel_job_run = cancel_job_run

    original_start = backend.start_job_run

    def start_job_run(self, *args, **kwargs):
        replayed = job_run_of_token(self, kwargs["virtual_cluster_id"], kwargs["client_token"])
        if replayed is not None:
            return replayed
        job = original_start(self, *args, **kwargs)
        delay = SCHEDULE.get().start_delay
        if delay:
            time.sleep(delay)
        return job

    backend.start_job_run = start_job_run


def patch_cluster_endpoint(endpoint, ca_data):
    """Makes every EKS cluster created from now on answer DescribeCluster with
    `endpoint` and the CA `ca_data` (base64 of the PEM) instead of moto's made-up
    ones."""
    cls = eks_models.Cluster
    original_init = cls.__init__

    def __init__(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        self.endpoint = endpoint
        self.certificate_authority = {"data": ca_data}

    cls.__init__ = __init__


def job_run_of_token(backend, virtual_cluster_id, client_token):
    """The job run an earlier StartJobRun of `virtual_cluster_id` started with
    `client_token`, if any.

    EMR on EKS documents `clientToken` as "the client idempotency token of the job run
    request" (API Reference, StartJobRun:
    https://docs.aws.amazon.com/emr-on-eks/latest/APIReference/API_StartJobRun.html),
    and AWS's idempotent operations answer a repeated request with the same token with
    the result of the first one instead of acting again ("Ensuring idempotency",
    https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-idempotency.html). moto
    5.2.5 ignores the token, so without this the SDK's own retry of a StartJobRun whose
    answer was lost would start a second job on moto where EMR starts one.
    """
    if not client_token:
        return None
    for job in backend.job_runs.values():
        if job.virtual_cluster_id == virtual_cluster_id and job.client_token == client_token:
            return job
    return None


class HarnessApp:
    """moto's WSGI app, plus the schedule endpoint and a reset that also resets it."""

    def __init__(self, moto_app):
        self.moto_app = moto_app

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "GET")
        if path == "/_harness/job-schedule":
            return self.schedule_endpoint(method, environ, start_response)
        if path == "/moto-api/reset" and method == "POST":
            SCHEDULE.reset()
        return self.moto_app(environ, start_response)

    def schedule_endpoint(self, method, environ, start_response):
        if method == "POST":
            try:
                length = int(environ.get("CONTENT_LENGTH") or 0)
                body = json.loads(environ["wsgi.input"].read(length) or b"{}")
                current = SCHEDULE.get()
                SCHEDULE.set(
                    Schedule(
                        str(body.get("schedule", current.spec)),
                        str(body.get("fail_pattern", current.fail_pattern)),
                        body.get("start_delay", current.start_delay),
                    )
                )
            except (ValueError, re.error, AttributeError) as e:
                return respond(start_response, "400 Bad Request", {"error": str(e)})
        elif method != "GET":
            return respond(start_response, "405 Method Not Allowed", {"error": "GET or POST"})
        return respond(start_response, "200 OK", SCHEDULE.get().to_json())


def respond(start_response, status, body):
    data = json.dumps(body).encode()
    start_response(
        status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))]
    )
    return [data]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("port", type=int)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--job-schedule", default="", metavar="SPEC")
    parser.add_argument("--fail-pattern", default=DEFAULT_FAIL_PATTERN, metavar="REGEX")
    parser.add_argument("--eks-endpoint", metavar="URL", help="the endpoint of every EKS cluster")
    parser.add_argument("--eks-ca-file", metavar="PEM", help="the CA of every EKS cluster")
    parser.add_argument("--exit-with-parent", action="store_true")
    args = parser.parse_args(argv)
    if bool(args.eks_endpoint) != bool(args.eks_ca_file):
        parser.error("--eks-endpoint and --eks-ca-file go together")

    global SCHEDULE
    try:
        SCHEDULE = ScheduleHolder(Schedule(args.job_schedule, args.fail_pattern))
    except (ValueError, re.error) as e:
        parser.error(str(e))
    if args.exit_with_parent:
        exit_with_parent()
    patch_job_runs()
    if args.eks_endpoint:
        with open(args.eks_ca_file, "rb") as f:
            patch_cluster_endpoint(args.eks_endpoint, base64.b64encode(f.read()).decode())
    sfn_integrations.patch(args.host, args.port)

    # moto derives some URLs (e.g. S3 presigned ones) from MOTO_PORT, as moto_server sets.
    os.environ.setdefault("MOTO_PORT", str(args.port))
    # Every AWS account has AWS's managed policies (AmazonEKSClusterPolicy, ...), which
    # create-cluster attaches to the roles it makes; moto loads them only when asked.
    os.environ.setdefault("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
    app = HarnessApp(DomainDispatcherApplication(create_backend_app))
    server = make_server(
        args.host, args.port, app, threaded=True, request_handler=MotoRequestHandler
    )
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"moto (patched job runs) listening on http://{args.host}:{args.port}", flush=True)
    try:
        server.serve_forever()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
