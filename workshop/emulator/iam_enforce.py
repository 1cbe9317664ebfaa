"""IAM enforced on what Lambda functions do, as on AWS: each function runs with an assumed-role session of its
execution role, and every request signed with such a session is authorised against the role's policies.

Scope: only the sessions handed to functions here. The deployer (osls), the runner and the tests use the emulator's
plain keys and keep full rights (moto's own switch, INITIAL_NO_AUTH_ACTION_COUNT, is server-wide and broke STS).
A denial comes back in each service's own protocol, code and wording (SNS `AuthorizationError`, SQS `AccessDenied`,
DynamoDB/SSM/Logs `AccessDeniedException`, S3 `AccessDenied`...), so botocore in the function raises the ClientError
it would raise on AWS. The service-side checks (Lambda's dead letter queue, SNS -> Lambda) use `allowed` directly.
"""

from __future__ import annotations

import io
import json
import logging
import re
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

from workshop.emulator import iam_policy
from workshop.emulator.iam_policy import ANY_RESOURCE, EXPLICIT_DENY, Principal

log = logging.getLogger("workshop.emulator.iam")
_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/\d{8}/([^/]+)/([^/]+)/")
_lock = threading.Lock()
_sessions: dict[str, Principal] = {}  # access key id -> the function session it was issued for
_issued: dict[tuple[str, str, str], dict[str, str]] = {}  # (account, role arn, session) -> credentials


# ---- sessions -------------------------------------------------------------------------------------------------

def credentials_for(account_id: str, region: str, role_arn: str, session_name: str) -> dict[str, str]:
    """Credentials of an assumed-role session for a function (made once per role and session, like a warm sandbox)."""
    key = (account_id, role_arn, session_name)
    with _lock:
        found = _issued.get(key)
        if found is not None:
            return found
        from moto.sts.models import sts_backends
        from moto.utilities.utils import get_partition

        assumed = sts_backends[account_id][get_partition(region)].assume_role(
            region_name=region, role_session_name=session_name[:64], role_arn=role_arn, policy="", duration=43200,
            external_id="")
        creds = {"AWS_ACCESS_KEY_ID": assumed.access_key_id, "AWS_SECRET_ACCESS_KEY": assumed.secret_access_key,
                 "AWS_SESSION_TOKEN": assumed.session_token}
        _issued[key] = creds
        _sessions[assumed.access_key_id] = Principal(account_id, role_arn, session_name[:64], region)
        return creds


def session(access_key_id: str) -> Principal | None:
    return _sessions.get(access_key_id)


# ---- policies ------------------------------------------------------------------------------------------------

def _role_documents(account_id: str, role_arn: str) -> tuple[list[Any], list[Any] | None] | None:
    from moto.iam.models import iam_backends

    partition = role_arn.split(":")[1] if role_arn.startswith("arn:") else "aws"
    backend = iam_backends[account_id][partition]
    role = next((r for r in backend.roles.values() if r.arn == role_arn), None)
    if role is None:
        return None
    documents: list[Any] = list(role.policies.values())
    documents += [_managed_document(policy) for policy in role.managed_policies.values()]
    boundary = None
    if getattr(role, "permissions_boundary_arn", None):
        policy = backend.managed_policies.get(role.permissions_boundary_arn)
        boundary = [_managed_document(policy)] if policy is not None else []
    return documents, boundary


def _managed_document(policy: Any) -> Any:
    for version in getattr(policy, "versions", []):
        if version.is_default:
            return version.document
    return getattr(policy, "document", None)


def _resource_policy(account_id: str, resource: str) -> Any:
    """The resource-based policy of an SNS topic, SQS queue or S3 bucket in this account, if any."""
    parts = resource.split(":", 5)
    if len(parts) < 6 or resource == ANY_RESOURCE:
        return None
    service, region = parts[2], parts[3]
    try:
        if service == "sns":
            from moto.sns.models import sns_backends

            topic = sns_backends[account_id][region].topics.get(resource)
            return getattr(topic, "policy", None)
        if service == "sqs":
            from moto.sqs.models import sqs_backends

            queue = sqs_backends[account_id][region].queues.get(parts[5])
            return (getattr(queue, "policy", None) or None) if queue else None
        if service == "s3":
            from moto.s3.models import s3_backends

            bucket = s3_backends[account_id]["aws"].buckets.get(parts[5].split("/", 1)[0])
            return getattr(bucket, "policy", None) if bucket else None
    except Exception:  # noqa: BLE001 - a resource that cannot be read has no policy to grant with
        return None
    return None


def decide(principal: Principal, action: str, resource: str) -> str:
    found = _role_documents(principal.account_id, principal.role_arn)
    if found is None:  # the role is gone: nothing allows
        return iam_policy.IMPLICIT_DENY
    documents, boundary = found
    return iam_policy.evaluate(documents, boundary, _resource_policy(principal.account_id, resource), principal,
                               action, resource)


def allowed(account_id: str, region: str, role_arn: str, action: str, resource: str) -> bool:
    """Service-side check: may the role (as Lambda's service session) do `action` on `resource`?"""
    return decide(Principal(account_id, role_arn, "awslambda", region), action, resource) == iam_policy.ALLOWED


def service_allowed(policy: Any, service_principal: str, action: str, resource: str, source_arn: str) -> bool:
    """Does a resource policy let `service_principal` (e.g. sns.amazonaws.com) do `action` on `resource` on behalf
    of `source_arn`? An explicit Deny wins; conditions see aws:SourceArn and aws:SourceAccount."""
    context = {"aws:sourcearn": source_arn, "aws:sourceaccount": source_arn.split(":")[4] if source_arn.count(":") >= 4 else ""}
    allowed_ = False
    # a Lambda function's policy is an object with its statements; a queue's is the JSON text
    statements = policy.statements if hasattr(policy, "statements") else iam_policy.statements_of(policy)
    for statement in statements or []:
        named = statement.get("Principal")
        if not (named == "*" or (isinstance(named, dict) and (
                service_principal in iam_policy.listed(named.get("Service")) or "*" in iam_policy.listed(named.get("AWS"))))):
            continue
        if iam_policy.applies(statement, action, resource, context):
            if statement.get("Effect", "Allow") == "Deny":
                return False
            allowed_ = True
    return allowed_


def service_may_invoke(fn: Any, service_principal: str, source_arn: str) -> bool:
    """Does the function's resource policy let `service_principal` (sns.amazonaws.com) invoke it for `source_arn`?"""
    return service_allowed(getattr(fn, "policy", None), service_principal, "lambda:InvokeFunction", ANY_RESOURCE,
                           source_arn)


# ---- requests ------------------------------------------------------------------------------------------------

@dataclass
class Call:
    service: str  # the signing name (sns, sqs, dynamodb, ssm, logs, lambda, s3, ...)
    operation: str  # the API operation (Publish, PutItem...)
    pairs: list[tuple[str, str]]  # (IAM action, resource ARN) that must all be allowed
    json_protocol: bool


_ACTION_PREFIX = {"monitoring": "cloudwatch", "email": "ses"}
_SAME_AS = {"SendMessageBatch": "SendMessage", "DeleteMessageBatch": "DeleteMessage",
            "ChangeMessageVisibilityBatch": "ChangeMessageVisibility"}


def _flat_query(body: bytes, query: str) -> dict[str, str]:
    params = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
    params.update({k: v[-1] for k, v in parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True).items()})
    return params


def _sns(op: str, p: dict[str, Any], region: str, account: str) -> list[str]:
    if op == "CreateTopic" and p.get("Name"):
        return [f"arn:aws:sns:{region}:{account}:{p['Name']}"]
    arn = p.get("TopicArn") or p.get("TargetArn") or p.get("ResourceArn")
    if not arn and p.get("SubscriptionArn"):
        arn = p["SubscriptionArn"].rsplit(":", 1)[0]
    return [arn] if arn else ["*"] if op in ("ListTopics", "ListSubscriptions", "Publish") else [ANY_RESOURCE]


def _sqs(op: str, p: dict[str, Any], region: str, account: str) -> list[str]:
    url = p.get("QueueUrl")
    if url:
        path = urlparse(url).path.strip("/").split("/")
        owner, name = (path[0], path[-1]) if len(path) >= 2 else (account, path[-1])
        return [f"arn:aws:sqs:{region}:{owner}:{name}"]
    if p.get("QueueName"):
        return [f"arn:aws:sqs:{region}:{p.get('QueueOwnerAWSAccountId') or account}:{p['QueueName']}"]
    return ["*"] if op == "ListQueues" else [ANY_RESOURCE]


def _table(name: str, region: str, account: str) -> str:
    return name if name.startswith("arn:") else f"arn:aws:dynamodb:{region}:{account}:table/{name}"


def _dynamodb(op: str, p: dict[str, Any], region: str, account: str) -> list[tuple[str, str]]:
    if isinstance(p.get("RequestItems"), dict):
        return [(op, _table(name, region, account)) for name in p["RequestItems"]]
    if isinstance(p.get("TransactItems"), list):
        kinds = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem", "ConditionCheck": "ConditionCheckItem",
                 "Get": "GetItem"}
        pairs = []
        for item in p["TransactItems"]:
            for kind, body in (item or {}).items():
                if isinstance(body, dict) and body.get("TableName"):
                    pairs.append((kinds.get(kind, op), _table(body["TableName"], region, account)))
        return pairs or [(op, ANY_RESOURCE)]
    if p.get("TableName"):
        table = _table(str(p["TableName"]), region, account)
        if p.get("IndexName") and op in ("Query", "Scan"):
            table += f"/index/{p['IndexName']}"
        return [(op, table)]
    return [(op, "*" if op in ("ListTables", "DescribeLimits", "DescribeEndpoints") else ANY_RESOURCE)]


def _parameter(name: str, region: str, account: str) -> str:
    return name if name.startswith("arn:") else f"arn:aws:ssm:{region}:{account}:parameter/{name.lstrip('/')}"


def _ssm(op: str, p: dict[str, Any], region: str, account: str) -> list[str]:
    if isinstance(p.get("Names"), list):
        return [_parameter(str(n), region, account) for n in p["Names"]] or [ANY_RESOURCE]
    if p.get("Name") and "Parameter" in op:
        return [_parameter(str(p["Name"]), region, account)]
    if p.get("Path"):
        return [_parameter(str(p["Path"]).rstrip("/") or "/", region, account)]
    return ["*"] if op == "DescribeParameters" else [ANY_RESOURCE]


def _logs(op: str, p: dict[str, Any], region: str, account: str) -> list[str]:
    group = p.get("logGroupName")
    if not group:
        return ["*"] if op in ("DescribeLogGroups",) else [ANY_RESOURCE]
    base = f"arn:aws:logs:{region}:{account}:log-group:{group}"
    if p.get("logStreamName") and op in ("PutLogEvents", "CreateLogStream", "GetLogEvents", "DeleteLogStream"):
        return [f"{base}:log-stream:{p['logStreamName']}"]
    return [f"{base}:*"]


_LAMBDA_ROUTES = [
    ("POST", re.compile(r"^/2015-03-31/functions/([^/]+)/invocations/?$"), "InvokeFunction"),
    ("POST", re.compile(r"^/2014-11-13/functions/([^/]+)/invoke-async/?$"), "InvokeAsync"),
    ("GET", re.compile(r"^/2015-03-31/functions/([^/]+)/configuration/?$"), "GetFunctionConfiguration"),
    ("GET", re.compile(r"^/2015-03-31/functions/([^/]+)/?$"), "GetFunction"),
    ("GET", re.compile(r"^/2015-03-31/functions/?$"), "ListFunctions"),
]


def _lambda(method: str, path: str, region: str, account: str) -> tuple[str, list[str]] | None:
    for verb, pattern, action in _LAMBDA_ROUTES:
        match = pattern.match(path)
        if verb == method and match:
            if not match.groups():
                return action, ["*"]
            name = unquote(match[1])
            arn = name if name.startswith("arn:") else f"arn:aws:lambda:{region}:{account}:function:{name}"
            return action, [arn]
    return None


_S3_OBJECT = {"GET": "GetObject", "HEAD": "GetObject", "PUT": "PutObject", "DELETE": "DeleteObject",
              "POST": "PutObject"}
_S3_BUCKET = {"GET": "ListBucket", "HEAD": "ListBucket", "PUT": "CreateBucket", "DELETE": "DeleteBucket"}


def _s3(method: str, path: str, query: str) -> tuple[str, list[str]]:
    bucket, _, key = unquote(path).lstrip("/").partition("/")
    params = parse_qs(query, keep_blank_values=True)
    if not bucket:
        return "ListAllMyBuckets", ["*"]
    if key:
        action = _S3_OBJECT.get(method, "GetObject")
        if "tagging" in params:
            action = {"GET": "GetObjectTagging", "PUT": "PutObjectTagging"}.get(method, action)
        return action, [f"arn:aws:s3:::{bucket}/{key}"]
    if method == "POST" and "delete" in params:
        return "DeleteObject", [f"arn:aws:s3:::{bucket}/*"]
    return _S3_BUCKET.get(method, "ListBucket"), [f"arn:aws:s3:::{bucket}"]


def describe(environ: dict[str, Any], body: bytes, service: str, region: str, account: str) -> Call | None:
    """What a signed request asks for: the operation and the (action, resource) pairs IAM must allow."""
    method = environ.get("REQUEST_METHOD", "GET")
    path = environ.get("PATH_INFO") or "/"
    query = environ.get("QUERY_STRING", "")
    target = environ.get("HTTP_X_AMZ_TARGET")
    prefix = _ACTION_PREFIX.get(service, service)
    if target:
        op = target.rsplit(".", 1)[-1]
        try:
            params = json.loads(body or b"{}")
        except ValueError:
            params = {}
        params = params if isinstance(params, dict) else {}
        json_protocol = True
    elif service in ("lambda", "s3"):
        found = _lambda(method, path, region, account) if service == "lambda" else _s3(method, path, query)
        if found is None:
            return None
        action, resources = found
        return Call(service, action, [(f"{prefix}:{action}", r) for r in resources], False)
    else:
        params = _flat_query(body, query)
        op = params.get("Action", "")
        if not op:
            return None
        json_protocol = False
    action = _SAME_AS.get(op, op)
    if service == "dynamodb":
        return Call(service, op, [(f"dynamodb:{a}", r) for a, r in _dynamodb(op, params, region, account)], True)
    resources = {"sns": _sns, "sqs": _sqs, "ssm": _ssm, "logs": _logs}.get(service)
    if service == "sts" and op == "GetCallerIdentity":
        return Call(service, op, [], json_protocol)  # always allowed, as on AWS
    found = resources(op, params, region, account) if resources else [ANY_RESOURCE]
    if service == "sts" and op == "AssumeRole" and params.get("RoleArn"):
        found = [str(params["RoleArn"])]
    return Call(service, op, [(f"{prefix}:{action}", r) for r in found], json_protocol)


# ---- denials in each protocol --------------------------------------------------------------------------------

def _shown_action(service: str, action: str) -> str:
    if service == "sns":
        return "SNS:" + action.split(":", 1)[1]
    if service == "sqs":
        return action.lower()
    return action


def message(principal: Principal, service: str, action: str, resource: str, result: str) -> str:
    shown = _shown_action(service, action)
    where = "" if resource in ("*", ANY_RESOURCE) else f" on resource: {resource}"
    why = ("with an explicit deny in an identity-based policy" if result == EXPLICIT_DENY
           else f"because no identity-based policy allows the {shown} action")
    return f"User: {principal.arn} is not authorized to perform: {shown}{where} {why}"


def denial(call: Call, text: str) -> tuple[str, list[tuple[str, str]], bytes]:
    """(status, headers, body) of an access denied answer in the service's protocol."""
    request_id = str(uuid.uuid4())
    if call.service == "sns":
        return _xml_query("403 Forbidden", "AuthorizationError", text, request_id, "https://sns.amazonaws.com/doc/2010-03-31/")
    if call.service == "sqs":
        if call.json_protocol:
            body = json.dumps({"__type": "com.amazon.coral.service#AccessDeniedException", "message": text}).encode()
            return "403 Forbidden", [("Content-Type", "application/x-amz-json-1.0"), ("x-amzn-RequestId", request_id),
                                     ("x-amzn-query-error", "AccessDenied;Sender")], body
        return _xml_query("403 Forbidden", "AccessDenied", text, request_id, "http://queue.amazonaws.com/doc/2012-11-05/")
    if call.service == "s3":
        body = (f"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>AccessDenied</Code><Message>{_esc(text)}"
                f"</Message><RequestId>{request_id}</RequestId></Error>").encode()
        return "403 Forbidden", [("Content-Type", "application/xml"), ("x-amz-request-id", request_id)], body
    if call.service == "lambda":
        body = json.dumps({"Type": "User", "Message": text}).encode()
        return "403 Forbidden", [("Content-Type", "application/json"), ("x-amzn-RequestId", request_id),
                                 ("x-amzn-ErrorType", "AccessDeniedException")], body
    if call.json_protocol:
        body = json.dumps({"__type": "com.amazon.coral.service#AccessDeniedException", "Message": text}).encode()
        return "400 Bad Request", [("Content-Type", "application/x-amz-json-1.1"), ("x-amzn-RequestId", request_id)], body
    return _xml_query("403 Forbidden", "AccessDenied", text, request_id, "")


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _xml_query(status: str, code: str, text: str, request_id: str, namespace: str) -> tuple[str, list[tuple[str, str]], bytes]:
    xmlns = f' xmlns="{namespace}"' if namespace else ""
    body = (f"<ErrorResponse{xmlns}><Error><Type>Sender</Type><Code>{code}</Code><Message>{_esc(text)}</Message>"
            f"</Error><RequestId>{request_id}</RequestId></ErrorResponse>").encode()
    return status, [("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id)], body


def authorize(principal: Principal, call: Call) -> str | None:
    """None when every pair is allowed, else the denial's message."""
    for action, resource in call.pairs:
        result = decide(principal, action, resource)
        if result != iam_policy.ALLOWED:
            return message(principal, call.service, action, resource, result)
    return None


class Authorizer:
    """WSGI layer in front of moto: requests signed with a function's session are authorised, others pass."""

    def __init__(self, app: Any):
        self.app = app
        self.timings: list[float] = []  # seconds per authorised request (the benchmark reads them)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        header = environ.get("HTTP_AUTHORIZATION", "")
        if not _sessions or "Credential=" not in header:
            return self.app(environ, start_response)
        match = _CREDENTIAL.search(header)
        principal = _sessions.get(match[1]) if match else None
        if principal is None:
            return self.app(environ, start_response)
        started = time.perf_counter()
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length > 0 else b""
        environ["wsgi.input"] = io.BytesIO(body)
        region, service = match[2], match[3]
        try:
            call = describe(environ, body, service, region, principal.account_id)
            text = authorize(principal, call) if call is not None else None
        except Exception:  # noqa: BLE001 - a request the emulator cannot analyse goes through (logged)
            log.exception("could not authorise a %s request", service)
            call, text = None, None
        self.timings.append(time.perf_counter() - started)
        del self.timings[:-1000]
        if call is None or text is None:
            return self.app(environ, start_response)
        log.info("denied: %s", text)
        status, headers, payload = denial(call, text)
        start_response(status, headers + [("Content-Length", str(len(payload)))])
        return [payload]
