"""Makes moto's Step Functions interpreter call AWS services as Step Functions does on AWS.

moto 5.2.5 executes state machines with a port of LocalStack's interpreter (turned on
with `POST /moto-api/config {"stepfunctions": {"execute_state_machine": true}}`), but
its service integrations miss what an exported runbook relies on, so a state machine
that runs on AWS fails or does something else on moto. `patch(host, port)` mends them
*in this process* (nothing in site-packages is edited), as moto_launcher.py's other
patches do:

1. Parameters and results are cased as Step Functions cases them. Step Functions
   takes PascalCase parameters (`Name`, `ContainerProvider.Info.EksInfo.Namespace`)
   and gives PascalCase results (`$.Id`, `$.Cluster.Identity.Oidc.Issuer`) for every
   service, while boto's shapes for JSON services (EKS, EMR on EKS, CloudWatch Logs)
   are camelCase. moto has the converters (`_to_boto_request`, `_from_boto_response`)
   but its `_normalise_parameters` and `_normalise_response` do nothing, so a call
   went out without its fields and its result came back camelCase. They are wired to
   the operation's input and output shapes; the keys of map-typed values (Spark
   properties such as `spark.executor.instances`, tags) are data and stay as they are.
2. `aws-sdk:` service names are Step Functions' (the AWS SDK for Java v2's):
   `cloudwatchlogs`, `emrcontainers`, `sfn`. They are mapped to boto's (`logs`,
   `emr-containers`, `stepfunctions`) through the serviceId of botocore's models.
3. `aws-sdk:` errors are named as Step Functions names them: `<Service>.<Exception>`
   with the Java SDK v2 client name of the service and `Exception` appended when the
   name lacks it (`Iam.EntityAlreadyExistsException`,
   `S3.BucketAlreadyOwnedByYouException`,
   `CloudWatchLogs.ResourceAlreadyExistsException`), where moto wrote the resource's
   lower-case service name and, for an error botocore has no class for,
   `<Service>.<Service>Exception` instead of the error code.
4. `arn:aws:states:::eks:call` (AWS: "Call Amazon EKS with Step Functions",
   https://docs.aws.amazon.com/step-functions/latest/dg/connect-eks.html) is
   implemented: moto forwarded it to boto's EKS client, which has no `call`. It calls
   the cluster's Kubernetes API server over HTTPS, trusting the CertificateAuthority
   given, with an EKS bearer token, and gives `{ResponseBody, StatusCode, StatusText,
   Headers}`. A status of 400 or more fails the task with the response body as its
   cause and the error `EKS.<status>` (`EKS.409` when the object exists, which the
   exporter catches): AWS's page names no error for it, so this is our convention.
   A RequestBody object is sent as JSON (as a JSON merge patch for PATCH). The
   other `eks:` resources (createCluster, createNodegroup, ...) are still forwarded
   to moto's EKS.
5. A JSONPath that is indefinite (a wildcard, a filter, a slice, a union or `..`)
   gives a list, as on AWS, even when it matches one value: moto gave the value
   itself, so `$.ResponseBody.items[*].metadata.name` of an eks:call listing one
   object was a string; and a definite path gives its value, where moto gave
   `$[1].steps` (the second branch's output in a Parallel's result) as a list.
6. The interpreter reaches moto where the launcher serves it: moto sends its calls
   to `http://localhost:$MOTO_PORT` (5000 by default), the launcher serves on a port
   of its own, and boto addresses an S3 bucket as a `bucket.localhost` host that does
   not resolve; an IP address makes it use path-style requests.
7. `States.Format` reads its template as AWS documents it: `\\{`, `\\}`, `\\'` and
   `\\\\` are the literal characters, and each `{}` takes the next argument. moto used
   Python's `str.format`, which kept the backslashes and read an escaped brace as a
   replacement field, so a JSON document built with it (a trust policy naming the
   account) failed with a KeyError. Before that, a literal's JSON escapes are undone
   (`\\\\` in the definition's JSON is one backslash): moto's parser reads the
   definition's raw text and undid `\\"` but not `\\\\`.
8. `$$.Execution.StartTime` is the ISO 8601 text AWS gives (`2026-12-05T02:15:00.123Z`);
   moto put a datetime there, which `States.StringSplit` (the run's start date, in a
   job's name) cannot split.
9. The `.sync` ("Run a Job") pattern of the integrations exports use,
   `eks:createCluster.sync`, `eks:createNodegroup.sync` and
   `emr-containers:startJobRun.sync`, is run as AWS documents it: the call, then the
   task waits until the cluster or node group is ACTIVE, or the job run COMPLETED,
   looking with the service's Describe call; a cluster FAILED, a node group
   CREATE_FAILED, a job run FAILED or CANCELLED fails the task (`States.TaskFailed`,
   the last description as its cause). moto refused every `.sync` of these services.
   What AWS's `.sync` tasks return is not documented for them; exports drop it.
"""

import base64
import datetime
import functools
import json
import re
import ssl
import sys
import urllib.error
import urllib.parse
import urllib.request

import boto3
import botocore.session
from botocore import xform_name
from botocore.config import Config
from botocore.exceptions import UnknownServiceError
from jsonpath_ng.ext import parse as parse_json_path

from moto.stepfunctions.parser.api import HistoryEventType, TaskFailedEventDetails
from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import (
    CustomErrorName,
)
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
    FailureEvent,
    FailureEventException,
)
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import (
    StatesErrorName,
)
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
    StatesErrorNameType,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.resource import (
    ResourceCondition,
)
from moto.stepfunctions.parser.asl.component.common.timeouts.timeout import TimeoutSeconds
from moto.stepfunctions.parser.asl.component.intrinsic.function.statesfunction.generic.string_format import (
    StringFormat,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task import state_task_factory
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
    state_task_service_aws_sdk as aws_sdk,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service import (
    StateTaskService,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_unsupported import (
    StateTaskServiceUnsupported,
)
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails

# Loads every state's module, so that each one that imported `boto_client_for` or
# `extract_json` is there for replace_everywhere to patch.
from moto.stepfunctions.parser.asl.parse import preprocessor  # noqa: F401
from moto.stepfunctions.parser.asl.parse.intrinsic.preprocessor import Preprocessor
from moto.stepfunctions.parser.asl.utils import boto_client, json_path
from moto.stepfunctions.parser.backend import execution_worker

# The credentials moto's interpreter calls services with.
ACCESS_KEY, SECRET_KEY = "ak", "sk"

# The Java SDK v2 client names Step Functions puts before an aws-sdk error, by the
# service name of the resource (Step Functions' or boto's).
SDK_ERROR_PREFIXES = {
    "iam": "Iam",
    "s3": "S3",
    "cloudwatchlogs": "CloudWatchLogs",
    "logs": "CloudWatchLogs",
    "emrcontainers": "EmrContainers",
    "emr-containers": "EmrContainers",
    "eks": "Eks",
    "sfn": "Sfn",
    "states": "Sfn",
    "stepfunctions": "Sfn",
    "dynamodb": "DynamoDb",
    "sts": "Sts",
    "ec2": "Ec2",
}

# The aws-sdk service names exports use whose boto name differs, known without reading
# every botocore model (about three seconds of CPU, which would slow the first task of
# an execution; any other name is looked up that way, once).
SDK_NAMES_OF_EXPORTS = {"cloudwatchlogs": "logs", "emrcontainers": "emr-containers"}

# What an eks:call's RequestBody is sent as, by method: Kubernetes takes a PATCH's
# JSON object as a JSON merge patch.
EKS_CALL_CONTENT_TYPES = {"PATCH": "application/merge-patch+json"}
EKS_CALL_METHODS = {"GET", "POST", "PUT", "DELETE", "HEAD", "PATCH"}

# What makes a JSONPath indefinite: a wildcard, a filter, a slice, a union, `..`.
INDEFINITE_PATH = re.compile(r"\[\*\]|\[\?|\[-?\d*:|\[[^\]]*,|\.\.")


def patch(host, port):
    """Mends moto's Step Functions interpreter in this process; it calls moto at
    `host`:`port` (the launcher's own address) from now on."""
    wire_normalisation()
    StateTaskService._get_boto_service_name = _get_boto_service_name
    aws_sdk._SERVICE_ERROR_NAMES.update(SDK_ERROR_PREFIXES)
    aws_sdk.StateTaskServiceAwsSdk._normalise_exception_name = staticmethod(sdk_error_name)
    route_eks()
    replace_everywhere(json_path.extract_json, extract_json(json_path.extract_json))
    reach_moto_at("127.0.0.1" if host in ("", "0.0.0.0") else host, port)
    StringFormat._eval_body = format_as_aws_does
    Preprocessor._replace_escaped_characters = staticmethod(
        json_unescape(Preprocessor._replace_escaped_characters)
    )
    execution_worker.ExecutionData = execution_data(execution_worker.ExecutionData)


# 1. Casing.


@functools.cache
def service_model(boto_name):
    return botocore.session.get_session().get_service_model(boto_name)


@functools.cache
def operation_names(boto_name):
    """boto's snake_case operation names (what moto's interpreter computes from the
    resource) to the model's operation names."""
    return {xform_name(name): name for name in service_model(boto_name).operation_names}


def operation_model(task, boto_service_name, service_action_name):
    """The model of the operation `task` calls, or None when the service or the
    operation is unknown (the call itself then fails as it would have)."""
    service = task._get_boto_service_name(boto_service_name)
    action = task._get_boto_service_action(service_action_name)
    try:
        name = operation_names(service).get(action)
    except UnknownServiceError:
        return None
    return service_model(service).operation_model(name) if name else None


def wire_normalisation():
    """Makes moto's no-op `_normalise_parameters`/`_normalise_response` convert with
    the operation's input/output shape. The converters leave a map-typed value alone
    (their `_to_boto_request_value` and `_from_boto_response` only descend into
    structures and lists), so map keys such as Spark properties are kept."""

    def _normalise_parameters(self, parameters, boto_service_name=None, service_action_name=None):
        operation = operation_model(self, boto_service_name, service_action_name)
        if operation is not None and operation.input_shape is not None:
            self._to_boto_request(parameters, operation.input_shape)

    def _normalise_response(self, response, boto_service_name=None, service_action_name=None):
        operation = operation_model(self, boto_service_name, service_action_name)
        if operation is not None and operation.output_shape is not None:
            self._from_boto_response(response, operation.output_shape)

    StateTaskService._normalise_parameters = _normalise_parameters
    StateTaskService._normalise_response = _normalise_response


# 2. Service names.


def _get_boto_service_name(self, boto_service_name=None):
    return boto_service_name_of(boto_service_name or self.resource.api_name)


@functools.cache
def boto_service_name_of(sfn_name):
    """boto's name for the service Step Functions calls `sfn_name`: the same when boto
    knows it, else the service whose serviceId, without spaces and hyphens and
    lower-cased, is `sfn_name` (as the Java SDK v2 derives its names)."""
    overrides = StateTaskService._SERVICE_NAME_SFN_TO_BOTO_OVERRIDES
    if sfn_name in overrides:
        return overrides[sfn_name]
    if sfn_name in SDK_NAMES_OF_EXPORTS:
        return SDK_NAMES_OF_EXPORTS[sfn_name]
    session = botocore.session.get_session()
    if sfn_name in session.get_available_services():
        return sfn_name
    return services_by_sdk_name().get(sfn_name, sfn_name)


@functools.cache
def services_by_sdk_name():
    """Every boto service by its serviceId without spaces and hyphens, lower-cased
    (`cloudwatchlogs` -> `logs`). Reads every model once: about three seconds."""
    session = botocore.session.get_session()
    loader = session.get_component("data_loader")
    names = {}
    for name in session.get_available_services():
        service_id = loader.load_service_model(name, "service-2")["metadata"]["serviceId"]
        names[service_id.replace(" ", "").replace("-", "").lower()] = name
    return names


# 3. Error names.


def sdk_error_name(norm_service_name, ex):
    """`<Service>.<Exception>`: botocore's class for the error (named after the error's
    shape, e.g. `EntityAlreadyExistsException` for IAM's code `EntityAlreadyExists`)
    or, for an error it has no class for, the error code; `Exception` appended when
    missing (`S3.BucketAlreadyOwnedByYouException`)."""
    name = ex.__class__.__name__
    if name == "ClientError":
        name = ex.response["Error"]["Code"]
    if not name.endswith("Exception"):
        name += "Exception"
    return f"{norm_service_name}.{name}"


# 4. eks:call.


class EksCallFailed(Exception):
    """The Kubernetes API server answered an eks:call with an error status."""

    def __init__(self, status, body):
        super().__init__(f"EKS.{status}: {body}")
        self.error = f"EKS.{status}"
        self.cause = body


class StateTaskServiceSync(StateTaskServiceUnsupported):
    """An optimised integration forwarded to moto, that also runs its `.sync` pattern
    where AWS has one for the call (see SYNC_WAITS)."""

    def __init__(self):
        super().__init__()
        self._supported_integration_patterns = {
            ResourceCondition.WaitForTaskToken,
            ResourceCondition.Sync,
        }

    def _build_sync_resolver(self, env, resource_runtime_part, normalised_parameters, state_credentials):
        wait = SYNC_WAITS.get((self._get_boto_service_name(), self.resource.api_action))
        if wait is None:
            return super()._build_sync_resolver(
                env, resource_runtime_part, normalised_parameters, state_credentials
            )
        started = env.stack.pop()
        client = boto_client.boto_client_for(
            region=resource_runtime_part.region,
            service=self._get_boto_service_name(),
            state_credentials=state_credentials,
        )
        describe, arguments, status_of, done, failed = wait

        def resolve():
            described = getattr(client, describe)(**arguments(normalised_parameters, started))
            described.pop("ResponseMetadata", None)
            status = status_of(described)
            if status in done:
                return described
            if status in failed:
                raise FailureEventException(
                    self._task_failed(
                        env,
                        StatesErrorName(typ=StatesErrorNameType.StatesTaskFailed),
                        json.dumps(described, default=str),
                    )
                )
            return None

        return resolve

    def _task_failed(self, env, error_name, cause):
        """The TaskFailed event of this task with `error_name` and `cause`."""
        return FailureEvent(
            env=env,
            error_name=error_name,
            event_type=HistoryEventType.TaskFailed,
            event_details=EventDetails(
                taskFailedEventDetails=TaskFailedEventDetails(
                    resource=self._get_sfn_resource(),
                    resourceType=self._get_sfn_resource_type(),
                    error=error_name.error_name,
                    cause=cause,
                )
            ),
        )


# 9. `.sync`: for each (boto service, Step Functions action) the Describe call that
# tells when it is done, its arguments from the request (boto-cased) and the answer
# (Step Functions-cased), where the status is in its answer, the statuses that end the
# wait, and those that fail the task.
SYNC_WAITS = {
    ("eks", "createCluster"): (
        "describe_cluster",
        lambda request, _: {"name": request["name"]},
        lambda d: d["cluster"]["status"],
        {"ACTIVE"},
        {"FAILED"},
    ),
    ("eks", "createNodegroup"): (
        "describe_nodegroup",
        lambda request, _: {
            "clusterName": request["clusterName"],
            "nodegroupName": request["nodegroupName"],
        },
        lambda d: d["nodegroup"]["status"],
        {"ACTIVE"},
        {"CREATE_FAILED"},
    ),
    ("emr-containers", "startJobRun"): (
        "describe_job_run",
        lambda _, started: {"id": started["Id"], "virtualClusterId": started["VirtualClusterId"]},
        lambda d: d["jobRun"]["state"],
        {"COMPLETED"},
        {"FAILED", "CANCELLED"},
    ),
}


class StateTaskServiceEks(StateTaskServiceSync):
    """`eks:` resources: `call` is run here, the others are forwarded to moto's EKS
    with their parameters and results cased as for any service."""

    def _is_call(self):
        return self.resource.api_action == "call"

    def _validate_service_integration_is_supported(self):
        if not self._is_call():
            super()._validate_service_integration_is_supported()

    def _normalise_parameters(self, parameters, boto_service_name=None, service_action_name=None):
        if not self._is_call():
            super()._normalise_parameters(parameters, boto_service_name, service_action_name)

    def _normalise_response(self, response, boto_service_name=None, service_action_name=None):
        if not self._is_call():
            super()._normalise_response(response, boto_service_name, service_action_name)

    def _eval_service_task(self, env, resource_runtime_part, normalised_parameters, state_credentials):
        if not self._is_call():
            super()._eval_service_task(
                env, resource_runtime_part, normalised_parameters, state_credentials
            )
            return
        env.stack.append(eks_call(normalised_parameters, resource_runtime_part.region))

    def _from_error(self, env, ex):
        if not isinstance(ex, EksCallFailed):
            return super()._from_error(env=env, ex=ex)
        return self._task_failed(env, CustomErrorName(ex.error), ex.cause)


def route_eks():
    """Makes the task factory build `eks:` tasks as StateTaskServiceEks, and
    `emr-containers:` ones as StateTaskServiceSync.
    state_task_factory imported the factory function by name, so it is replaced there."""
    original = state_task_factory.state_task_service_for

    def state_task_service_for(service_name):
        if service_name == "eks":
            return StateTaskServiceEks()
        if service_name == "emr-containers":
            return StateTaskServiceSync()
        return original(service_name)

    state_task_factory.state_task_service_for = state_task_service_for


def eks_call(parameters, region):
    """Runs one eks:call: the Kubernetes API request its parameters describe, sent to
    the cluster's endpoint over HTTPS trusting its CA, authenticated as EKS
    authenticates (a bearer token made from the caller's AWS credentials)."""
    method = str(parameters["Method"]).upper()
    if method not in EKS_CALL_METHODS:
        raise ValueError(f"eks:call Method must be one of {sorted(EKS_CALL_METHODS)}: {method}")
    request = urllib.request.Request(
        eks_call_url(parameters),
        data=request_body(parameters.get("RequestBody")),
        method=method,
        headers={
            "Authorization": f"Bearer {eks_token(parameters['ClusterName'], region)}",
            "Accept": "application/json",
            "Content-Type": EKS_CALL_CONTENT_TYPES.get(method, "application/json"),
        },
    )
    context = ssl.create_default_context(
        cadata=base64.b64decode(parameters["CertificateAuthority"]).decode()
    )
    try:
        with urllib.request.urlopen(
            request, context=context, timeout=TimeoutSeconds.DEFAULT_TIMEOUT_SECONDS
        ) as response:
            return call_result(response, response.read())
    except urllib.error.HTTPError as error:
        body = error.read()
        raise EksCallFailed(error.code, body.decode(errors="replace")) from None


def eks_call_url(parameters):
    """Endpoint + Path + QueryParameters (each a list of values, as AWS documents)."""
    url = parameters["Endpoint"].rstrip("/") + "/" + parameters["Path"].lstrip("/")
    query = parameters.get("QueryParameters") or {}
    if query:
        url += "?" + urllib.parse.urlencode(query, doseq=True)
    return url


def request_body(body):
    """RequestBody as sent: JSON for an object, a string as it is, nothing if absent."""
    if body is None:
        return None
    if isinstance(body, str):
        return body.encode()
    return json.dumps(body).encode()


def call_result(response, body):
    """An eks:call's result: the body (parsed when it is JSON), status and headers."""
    text = body.decode(errors="replace")
    try:
        parsed = json.loads(text) if text else text
    except ValueError:
        parsed = text
    return {
        "ResponseBody": parsed,
        "StatusCode": response.status,
        "StatusText": response.reason,
        "Headers": dict(response.headers.items()),
    }


def eks_token(cluster_name, region):
    """An EKS bearer token as `aws eks get-token` makes it: `k8s-aws-v1.` + base64url
    (without padding) of a presigned STS GetCallerIdentity URL whose signed headers
    include `x-k8s-aws-id: <cluster name>`."""
    sts = boto3.client(
        "sts",
        region_name=region,
        endpoint_url=f"https://sts.{region}.amazonaws.com",
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
    )

    def add_cluster_header(request, **_):
        request.headers["x-k8s-aws-id"] = cluster_name

    sts.meta.events.register("before-sign.sts.GetCallerIdentity", add_cluster_header)
    url = sts.generate_presigned_url("get_caller_identity", ExpiresIn=60, HttpMethod="GET")
    return "k8s-aws-v1." + base64.urlsafe_b64encode(url.encode()).decode().rstrip("=")


# 5. Indefinite JSONPaths.


def extract_json(original):
    """moto's `extract_json`, except that an indefinite path gives the list of its
    matches (empty when none) and a definite one its value, as AWS's JSONPath does
    (moto made a list of `$[1].steps`, a branch's output in a Parallel's result,
    because the match's parent is an array element)."""

    def extract(path, data):
        matches = parse_json_path(path).find(data)
        if INDEFINITE_PATH.search(path):
            return [match.value for match in matches]
        if not matches:
            return original(path, data)  # moto's NoSuchJsonPathError
        return matches[0].value

    return extract


# 6. Where moto is.


def reach_moto_at(host, port):
    """Makes the interpreter create its clients for moto at http://`host`:`port`,
    with moto's own settings (credentials ak/sk, no parameter validation, no
    retries)."""

    def boto_client_for(region, service, state_credentials=None):
        return boto3.client(
            service_name=service,
            region_name=region,
            endpoint_url=f"http://{host}:{port}",
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            config=Config(
                parameter_validation=False,
                retries={"max_attempts": 0, "total_max_attempts": 1},
                connect_timeout=TimeoutSeconds.DEFAULT_TIMEOUT_SECONDS,
                read_timeout=TimeoutSeconds.DEFAULT_TIMEOUT_SECONDS,
            ),
        )

    replace_everywhere(boto_client.boto_client_for, boto_client_for)


def replace_everywhere(original, replacement):
    """Puts `replacement` in place of the function `original` in every interpreter
    module, its own and those that imported it by name (all are loaded: see the
    import of `preprocessor`)."""
    for name, module in list(sys.modules.items()):
        if not name.startswith("moto.stepfunctions.parser"):
            continue
        for attribute, value in list(vars(module).items()):
            if value is original:
                setattr(module, attribute, replacement)


# 7. States.Format.


def format_as_aws_does(self, env):
    """`States.Format(template, args...)`: the template with each `{}` replaced by
    the next argument's string form, and each escaped character (`\\{`, `\\}`,
    `\\'`, `\\\\`) as itself."""
    self.argument_list.eval(env=env)
    template, *values = env.stack.pop()
    values = iter(map(StringFormat._to_str_repr, values))
    out = []
    i = 0
    while i < len(template):
        if template[i] == "\\" and i + 1 < len(template):
            out.append(template[i + 1])
            i += 2
        elif template.startswith("{}", i):
            out.append(next(values, ""))
            i += 2
        else:
            out.append(template[i])
            i += 1
    env.stack.append("".join(out))


def json_unescape(original):
    """moto's handling of one escape in an intrinsic's string literal (read from the
    definition's raw JSON text), also undoing JSON's escaped backslash."""

    def replace(match):
        if match.group(1) == "\\":
            return "\\"
        return original(match)

    return replace


# 8. The execution's start time.


def execution_data(original):
    """moto's context object's `Execution`, with its StartTime as AWS writes it:
    UTC, milliseconds, `Z`."""

    def make(**fields):
        start = fields.get("StartTime")
        if hasattr(start, "isoformat"):
            if start.tzinfo is not None:
                start = start.astimezone(datetime.timezone.utc)
            fields["StartTime"] = start.strftime("%Y-%m-%dT%H:%M:%S.") + f"{start.microsecond // 1000:03d}Z"
        return original(**fields)

    return make
