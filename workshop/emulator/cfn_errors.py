"""The error of a stack's resource, worded as CloudFormation words it in the stack's events."""

from __future__ import annotations

import uuid

_SERVICE = {"AWS::IAM": "Iam", "AWS::Lambda": "Lambda", "AWS::SQS": "Sqs", "AWS::SNS": "Sns", "AWS::SSM": "Ssm",
            "AWS::DynamoDB": "DynamoDb", "AWS::S3": "S3", "AWS::Logs": "CloudWatchLogs", "AWS::ApiGateway": "ApiGateway"}


class ResourceFailure(Exception):
    """A resource of a stack failed; `reason` is the event's ResourceStatusReason."""

    def __init__(self, logical_id: str, resource_type: str, reason: str):
        super().__init__(reason)
        self.logical_id = logical_id
        self.resource_type = resource_type
        self.reason = reason


def handler_message(resource_type: str, message: str, code: str = "InvalidRequest") -> str:
    """A resource handler's error as CloudFormation reports it in the stack's events."""
    service = _SERVICE.get("::".join(resource_type.split("::")[:2]), resource_type.split("::")[1] if "::" in resource_type else "")
    return (f'Resource handler returned message: "{message} (Service: {service}, Status Code: 400, Request ID: '
            f'{uuid.uuid4()})" (RequestToken: {uuid.uuid4()}, HandlerErrorCode: {code})')


