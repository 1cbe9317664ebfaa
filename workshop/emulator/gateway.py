"""The execute-api gateway: HTTP requests to a deployed REST API reach its Lambda proxy integrations.

Two addressings, as with AWS tooling: `Host: {api}.execute-api.{region}.amazonaws.com` + `/{stage}/{path}`, and
`/restapis/{api}/{stage}/_user_request_/{path}` on the emulator's own address. Routes match `{param}` and `{proxy+}`;
the function gets an API Gateway proxy event and its proxy response becomes the HTTP response. Anything else goes on
to moto. The server is threaded, so a function calling back into the emulator never waits for its own request.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import time
import uuid
from typing import Any
from urllib.parse import parse_qs

HOST_STYLE = re.compile(r"^(?P<api>[a-z0-9]+)\.execute-api\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(:\d+)?$", re.I)
PATH_STYLE = re.compile(r"^/restapis/(?P<api>[^/]+)/(?P<stage>[^/]+)/_user_request_(?P<path>/.*)?$")
FUNCTION_IN_URI = re.compile(r"functions/(?P<arn>arn:[^/]+)/invocations")


class Gateway:
    """WSGI middleware in front of moto's dispatcher."""

    def __init__(self, app: Any):
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        path = environ.get("PATH_INFO") or "/"
        host = HOST_STYLE.match(environ.get("HTTP_HOST", ""))
        if host:
            stage, _, rest = path.lstrip("/").partition("/")
            target = (host["api"], host["region"], stage, "/" + rest, host.group(0).split(":")[0])
        elif match := PATH_STYLE.match(path):
            target = (match["api"], None, match["stage"], match["path"] or "/", None)
        else:
            return self.app(environ, start_response)
        status, headers, body = _serve(environ, *target)
        start_response(status, headers + [("Content-Length", str(len(body)))])
        return [body]


def _json(status: str, message: str) -> tuple[str, list[tuple[str, str]], bytes]:
    """An API Gateway error response: status line, headers, body."""
    kind = {"403": "ForbiddenException", "502": "InternalServerErrorException"}.get(status[:3], "InternalServerErrorException")
    if message == "Missing Authentication Token":
        kind = "MissingAuthenticationTokenException"
    return status, [("Content-Type", "application/json"), ("x-amzn-ErrorType", kind)], json.dumps({"message": message}).encode()


def _find_api(api_id: str, region: str | None) -> tuple[Any, str, str] | None:
    from moto.apigateway.models import apigateway_backends

    for account_id, regions in list(apigateway_backends.items()):
        for region_name, backend in list(regions.items()):
            if (region is None or region == region_name) and api_id in backend.apis:
                return backend.apis[api_id], account_id, region_name
    return None


def _pattern(resource_path: str) -> tuple[re.Pattern[str], tuple[int, int]]:
    parts, literal = [], 0
    for segment in resource_path.strip("/").split("/") if resource_path != "/" else []:
        if m := re.fullmatch(r"\{(\w+)\+\}", segment):
            parts.append(f"(?P<{m[1]}>.+)")
        elif m := re.fullmatch(r"\{(\w+)\}", segment):
            parts.append(f"(?P<{m[1]}>[^/]+)")
        else:
            parts.append(re.escape(segment))
            literal += 1
    greedy = 0 if "+}" in resource_path else 1
    return re.compile("^/" + "/".join(parts) + "/?$"), (greedy, literal)


def _route(api: Any, path: str, method: str) -> tuple[Any, Any, dict[str, str]] | None:
    """The (resource, method, path parameters) of the most specific matching route."""
    best = None
    for resource in list(api.resources.values()):
        regex, rank = _pattern(resource.get_path())
        found = regex.match(path)
        if not found:
            continue
        chosen = resource.resource_methods.get(method) or resource.resource_methods.get("ANY")
        if chosen is not None and (best is None or rank > best[0]):
            best = (rank, resource, chosen, found.groupdict())
    return None if best is None else best[1:]


def _serve(environ: dict[str, Any], api_id: str, region: str | None, stage: str, path: str,
           domain: str | None) -> tuple[str, list[tuple[str, str]], bytes]:
    found = _find_api(api_id, region)
    if found is None:
        return _json("403 Forbidden", "Forbidden")
    api, account_id, region = found
    if stage not in api.stages:
        return _json("403 Forbidden", "Forbidden")
    method = environ.get("REQUEST_METHOD", "GET").upper()
    routed = _route(api, path, method)
    if routed is None:
        return _json("403 Forbidden", "Missing Authentication Token")
    resource, api_method, path_params = routed
    integration = api_method.method_integration
    if integration is None:
        return _json("500 Internal Server Error", "Internal server error")
    if integration.integration_type == "MOCK":
        return _mock(integration)
    uri = FUNCTION_IN_URI.search(integration.uri or "")
    if integration.integration_type != "AWS_PROXY" or uri is None:
        return _json("500 Internal Server Error", f"Integration type {integration.integration_type} is not supported locally")
    event = _event(environ, api_id, account_id, stage, path, resource.get_path(), resource.id, path_params, domain)
    return _invoke(uri["arn"], event)


def _mock(integration: Any) -> tuple[str, list[tuple[str, str]], bytes]:
    responses = integration.integration_responses or {}
    response = responses.get("200") or next(iter(responses.values()), None)
    headers = [("Content-Type", "application/json")]
    for key, value in ((response.response_parameters or {}) if response else {}).items():
        if key.startswith("method.response.header."):
            headers.append((key.rsplit(".", 1)[-1], str(value).strip("'")))
    return "200 OK", headers, b""


def _event(environ: dict[str, Any], api_id: str, account_id: str, stage: str, path: str, resource_path: str,
           resource_id: str, path_params: dict[str, str], domain: str | None) -> dict[str, Any]:
    headers: dict[str, list[str]] = {}
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            headers.setdefault(key[5:].replace("_", "-").title(), []).append(value)
    for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if environ.get(key):
            headers[key.replace("_", "-").title()] = [environ[key]]
    query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    length = int(environ.get("CONTENT_LENGTH") or 0)
    raw = environ["wsgi.input"].read(length) if length else b""
    try:
        body, encoded = (raw.decode("utf-8") if raw else None), False
    except UnicodeDecodeError:
        body, encoded = base64.b64encode(raw).decode("ascii"), True
    now = dt.datetime.now(dt.UTC)
    domain = domain or headers.get("Host", [""])[0]
    return {
        "resource": resource_path, "path": path, "httpMethod": environ.get("REQUEST_METHOD", "GET").upper(),
        "headers": {k: v[-1] for k, v in headers.items()} or None, "multiValueHeaders": headers or None,
        "queryStringParameters": {k: v[-1] for k, v in query.items()} or None,
        "multiValueQueryStringParameters": query or None,
        "pathParameters": path_params or None, "stageVariables": None,
        "requestContext": {
            "resourceId": resource_id, "resourcePath": resource_path, "httpMethod": environ.get("REQUEST_METHOD", "GET").upper(),
            "extendedRequestId": uuid.uuid4().hex[:16], "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "path": f"/{stage}{path}", "accountId": account_id, "protocol": environ.get("SERVER_PROTOCOL", "HTTP/1.1"),
            "stage": stage, "domainPrefix": domain.split(".")[0], "requestTimeEpoch": int(time.time() * 1000),
            "requestId": str(uuid.uuid4()), "domainName": domain, "apiId": api_id,
            "identity": {"sourceIp": environ.get("REMOTE_ADDR", "127.0.0.1"), "userAgent": environ.get("HTTP_USER_AGENT")},
        },
        "body": body, "isBase64Encoded": encoded,
    }


def _invoke(function_arn: str, event: dict[str, Any]) -> tuple[str, list[tuple[str, str]], bytes]:
    from moto.awslambda.utils import get_backend

    from workshop.emulator import lambda_run

    parts = function_arn.split(":")
    try:
        fn = get_backend(parts[4], parts[3]).get_function(parts[6], parts[7] if len(parts) > 7 else None)
    except Exception:  # noqa: BLE001 - a missing function is a 500 on AWS too
        return _json("500 Internal Server Error", "Internal server error")
    result = lambda_run.run(fn, event)
    request_id = event["requestContext"]["requestId"]
    if result.errored:
        return _json("502 Bad Gateway", "Internal server error")
    try:
        response = json.loads(result.payload)
        status = int(response.get("statusCode", 200))
    except (ValueError, TypeError, AttributeError):
        return _json("502 Bad Gateway", "Internal server error")
    headers = [("x-amzn-RequestId", request_id), ("x-amz-apigw-id", uuid.uuid4().hex[:16])]
    for key, values in (response.get("multiValueHeaders") or {}).items():
        headers += [(str(key), str(v)) for v in values]
    for key, value in (response.get("headers") or {}).items():
        headers.append((str(key), str(value)))
    if not any(k.lower() == "content-type" for k, _ in headers):
        headers.append(("Content-Type", "application/json"))
    body = response.get("body") or ""
    data = base64.b64decode(body) if response.get("isBase64Encoded") else str(body).encode("utf-8")
    from http import HTTPStatus

    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Unknown"
    return f"{status} {phrase}", headers, data
