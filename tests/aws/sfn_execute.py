#!/usr/bin/env python3
"""Executes a state machine definition on moto and says how it went, for tests.

Usage: sfn_execute.py --endpoint URL --region REGION --definition FILE --name MACHINE
                      --execution NAME [--input JSON] [--timeout SECONDS]

Turns on moto's Step Functions interpreter (off by default: moto then only records
executions), creates the state machine, starts one execution and waits for it to end
(polling every 0.2 s), then prints one JSON object on stdout and exits 0, whatever
the execution's outcome, so that a test asserts on the object:

    {"status": "SUCCEEDED" | "FAILED" | ... | "TIMED_OUT" (still running at --timeout),
     "output": the execution's output, parsed, or null,
     "error": ..., "cause": ...,
     "failures": [every history event whose type ends in Failed, TimedOut or Aborted,
                  with its details],
     "states": [the names of the states entered, in order]}
"""

import argparse
import json
import sys
import time
import urllib.request

import boto3

ROLE_ARN = "arn:aws:iam::123456789012:role/runbook-state-machine"
POLL_SECONDS = 0.2
FAILURE_SUFFIXES = ("Failed", "TimedOut", "Aborted")


def enable_interpreter(endpoint):
    """moto executes state machines only once its config says so."""
    request = urllib.request.Request(
        endpoint.rstrip("/") + "/moto-api/config",
        data=json.dumps({"stepfunctions": {"execute_state_machine": True}}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30):
        pass


def wait_for_end(sfn, execution_arn, timeout):
    """DescribeExecution once the execution is no longer RUNNING, or None at `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        described = sfn.describe_execution(executionArn=execution_arn)
        if described["status"] != "RUNNING":
            return described
        if time.monotonic() >= deadline:
            return None
        time.sleep(POLL_SECONDS)


def history(sfn, execution_arn):
    events = []
    for page in sfn.get_paginator("get_execution_history").paginate(executionArn=execution_arn):
        events.extend(page["events"])
    return events


def failure_of(event):
    """The event's type, ids and details (the one `...EventDetails` field it has)."""
    failure = {"type": event["type"], "id": event["id"]}
    for key, value in event.items():
        if key.endswith("EventDetails"):
            failure["details"] = value
    return failure


def summary(described, events):
    output = (described or {}).get("output")
    return {
        "status": described["status"] if described else "TIMED_OUT",
        "output": json.loads(output) if output is not None else None,
        "error": (described or {}).get("error"),
        "cause": (described or {}).get("cause"),
        "failures": [failure_of(e) for e in events if e["type"].endswith(FAILURE_SUFFIXES)],
        "states": [
            e["stateEnteredEventDetails"]["name"]
            for e in events
            if "stateEnteredEventDetails" in e
        ],
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--endpoint", required=True, metavar="URL")
    parser.add_argument("--region", required=True)
    parser.add_argument("--definition", required=True, metavar="FILE")
    parser.add_argument("--name", required=True, metavar="MACHINE")
    parser.add_argument("--execution", required=True, metavar="NAME")
    parser.add_argument("--input", default="{}", metavar="JSON")
    parser.add_argument("--timeout", type=float, default=300, metavar="SECONDS")
    args = parser.parse_args(argv)
    with open(args.definition) as f:
        definition = json.load(f)

    enable_interpreter(args.endpoint)
    sfn = boto3.client(
        "stepfunctions",
        endpoint_url=args.endpoint,
        region_name=args.region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    machine = sfn.create_state_machine(
        name=args.name, definition=json.dumps(definition), roleArn=ROLE_ARN
    )
    execution = sfn.start_execution(
        stateMachineArn=machine["stateMachineArn"], name=args.execution, input=args.input
    )
    arn = execution["executionArn"]
    described = wait_for_end(sfn, arn, args.timeout)
    json.dump(summary(described, history(sfn, arn)), sys.stdout, default=str)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
