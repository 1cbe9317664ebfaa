"""Every check of the module by id. Light to import: the family modules (boto3, cfn-lint) load only when a check runs."""

from __future__ import annotations

import importlib
from collections.abc import Callable

from workshop.checks.model import Check

RR, WR, BOTH = "wild-rydes-ride-record", "wild-rydes", "both"
# The context guard runs before every live and behaviour check, so each of them may make its calls.
GUARD = ("sts:GetCallerIdentity", "cloudformation:DescribeStacks", "cloudformation:ListStacks")
STACK = GUARD + ("cloudformation:ListStackResources",)
FN = STACK + ("lambda:GetFunctionConfiguration",)
TOPIC = STACK + ("sns:GetTopicAttributes",)  # the topic's ARN from wild-rydes' stack, checked to exist
TOPIC_FN = TOPIC + ("lambda:GetFunctionConfiguration",)
ROLE = ("iam:ListRolePolicies", "iam:GetRolePolicy", "iam:ListAttachedRolePolicies", "iam:GetPolicy", "iam:GetPolicyVersion")
RIDE = STACK + ("dynamodb:GetItem", "logs:FilterLogEvents")  # + an HTTP POST /ride, not an AWS API call

DOCS_SLS = "https://www.serverless.com/framework/docs/providers/aws/guide/"
DOCS_AWS = "https://docs.aws.amazon.com/"


def _c(id, title, service, family, run, calls=(), holds_at_end=True, writes=False, reference=""):
    return Check(id, title, service, family, run, tuple(calls), holds_at_end, writes, reference)


# Grouped by the step that introduces them (named by id: course.toml decides which step runs which check, and numbers them).
_CHECKS = (
    # deploy-start
    _c("stacks-deployed", "Both stacks are deployed", BOTH, "live", "live:stacks_deployed", STACK,
       reference=DOCS_SLS + "deploying"),
    _c("ride-recorded-http", "A ride requested over HTTP is recorded (writes a test ride)", BOTH, "behaviour",
       "behaviour:ride_recorded_http", RIDE, holds_at_end=False, writes=True,
       reference=DOCS_AWS + "apigateway/latest/developerguide/set-up-lambda-proxy-integrations.html"),
    # split-handler
    _c("put-ride-record-functions", "put_ride_record(ride) and handler_http(event, context) exist", RR, "static",
       "code:put_ride_record_functions", reference=DOCS_AWS + "lambda/latest/dg/python-handler.html"),
    _c("handler-http-behaviour", "handler_http stores a ride from an API Gateway event", RR, "static",
       "code:handler_http_behaviour", reference=DOCS_AWS + "lambda/latest/dg/python-handler.html"),
    # the code steps: the service's own tests are part of the step (split-handler, add-sns-handler, publish-to-sns)
    _c("ride-record-tests-pass", "wild-rydes-ride-record's own tests pass", RR, "static", "code:ride_record_tests",
       reference="https://docs.pytest.org/en/stable/how-to/usage.html"),
    _c("wild-rydes-tests-pass", "wild-rydes' own tests pass", WR, "static", "code:wild_rydes_tests",
       reference="https://docs.pytest.org/en/stable/how-to/usage.html"),
    # rename-http-function
    _c("http-function-declared", "PutRideRecordHttp is declared with POST /record", RR, "static",
       "static:http_function_declared", reference=DOCS_SLS + "functions"),
    # deploy-http-function
    _c("live-http-function", "PutRideRecordHttp is deployed with handler_http; PutRideRecord is gone", RR, "live",
       "live:http_function", FN, reference=DOCS_SLS + "functions"),
    _c("live-record-route", "POST /record invokes PutRideRecordHttp", RR, "live", "live:record_route",
       STACK + ("apigateway:GetResources", "apigateway:GetIntegration"), reference=DOCS_SLS + "events/apigateway"),
    _c("live-record-url-parameter", "The ride-record URL is published in SSM", RR, "live", "live:record_url_parameter",
       STACK + ("ssm:GetParameter",), holds_at_end=False, reference=DOCS_SLS + "variables#reference-variables-using-the-ssm-parameter-store"),
    # request-ride-http
    _c("ride-recorded", "A requested ride is recorded (writes a test ride; path and latency reported)", BOTH, "behaviour",
       "behaviour:ride_recorded_any", RIDE, writes=True, reference=DOCS_AWS + "lambda/latest/dg/monitoring-cloudwatchlogs.html"),
    # add-sns-topic
    _c("topic-declared", "RidesSnsTopic is declared as an SNS topic", WR, "static", "static:topic_declared",
       reference=DOCS_AWS + "AWSCloudFormation/latest/UserGuide/aws-resource-sns-topic.html"),
    _c("topic-arn-parameter-declared", "An SSM parameter holds the topic's ARN", WR, "static", "static:topic_arn_parameter",
       reference=DOCS_AWS + "AWSCloudFormation/latest/UserGuide/aws-resource-ssm-parameter.html"),
    # deploy-topic
    _c("live-topic", "The rides topic exists", WR, "live", "live:topic", TOPIC,
       reference=DOCS_AWS + "sns/latest/dg/sns-create-topic.html"),
    _c("live-topic-arn-parameter", "The SSM parameter holds the topic's ARN", WR, "live", "live:topic_arn_parameter",
       STACK + ("sns:GetTopicAttributes", "ssm:GetParameter"), reference=DOCS_AWS + "systems-manager/latest/userguide/systems-manager-parameter-store.html"),
    # add-sns-handler
    _c("handler-sns-function", "handler_sns(event, context) exists and uses put_ride_record", RR, "static",
       "code:handler_sns_function", reference=DOCS_AWS + "lambda/latest/dg/with-sns.html"),
    _c("handler-sns-behaviour", "handler_sns stores the ride of every record of an SNS event", RR, "static",
       "code:handler_sns_behaviour", reference=DOCS_AWS + "lambda/latest/dg/with-sns.html"),
    # add-sns-function
    _c("sns-function-declared", "PutRideRecordSns is declared with handler_sns and the table name", RR, "static",
       "static:sns_function_declared", reference=DOCS_SLS + "functions"),
    # subscribe-sns-function
    _c("sns-event-declared", "PutRideRecordSns subscribes to the topic whose ARN SSM holds", RR, "static",
       "static:sns_event_declared", reference=DOCS_SLS + "events/sns"),
    # deploy-subscription
    _c("live-sns-function", "PutRideRecordSns is deployed with handler_sns and the table name", RR, "live",
       "live:sns_function", FN, reference=DOCS_SLS + "functions"),
    _c("live-subscription", "The topic delivers to PutRideRecordSns (confirmed lambda subscription)", RR, "live",
       "live:subscription", TOPIC_FN + ("sns:ListSubscriptionsByTopic", "sns:GetSubscriptionAttributes"),
       reference=DOCS_AWS + "sns/latest/dg/sns-lambda-as-subscriber.html"),
    _c("live-sns-invoke-permission", "SNS may invoke PutRideRecordSns from the rides topic", RR, "live",
       "live:sns_invoke_permission", TOPIC_FN + ("lambda:GetPolicy",),
       reference=DOCS_AWS + "lambda/latest/dg/access-control-resource-based.html"),
    # publish-to-sns
    _c("request-ride-publishes", "RequestRide publishes to RIDES_SNS_TOPIC_ARN and may (sns:Publish)", WR, "static",
       "code:request_ride_publishes", reference=DOCS_AWS + "sns/latest/api/API_Publish.html"),
    _c("request-ride-publish-behaviour", "A ride request publishes the ride once and calls nobody over HTTP", WR, "static",
       "code:request_ride_publish_behaviour", reference=DOCS_AWS + "sns/latest/api/API_Publish.html"),
    # deploy-sns-path
    _c("live-request-ride-env", "RequestRide has the topic ARN and no RIDE_RECORD_URL", WR, "live", "live:request_ride_env",
       TOPIC_FN, reference=DOCS_SLS + "functions#environment-variables"),
    _c("live-publish-permission", "RequestRide's role allows sns:Publish on the topic", WR, "live", "live_iam:publish_permission",
       TOPIC_FN + ROLE, reference=DOCS_SLS + "iam"),
    _c("ride-recorded-sns", "A requested ride is recorded through SNS (writes a test ride)", BOTH, "behaviour",
       "behaviour:ride_recorded_sns", RIDE, writes=True, reference=DOCS_AWS + "sns/latest/dg/sns-lambda-as-subscriber.html"),
    # dead-letter-queue
    _c("dlq-declared", "RideRecordDlq is PutRideRecordSns's onError target and may be written to", RR, "static",
       "static:dlq_declared", reference=DOCS_SLS + "functions#dead-letter-queue-dlq"),
    _c("live-dlq-config", "PutRideRecordSns sends failed events to RideRecordDlq", RR, "live", "live_iam:dlq_config",
       FN + ("sqs:GetQueueAttributes",), reference=DOCS_AWS + "lambda/latest/dg/invocation-async-retain-records.html"),
    _c("live-dlq-send-permission", "PutRideRecordSns's role allows sqs:SendMessage on the queue", RR, "live",
       "live_iam:dlq_send_permission", FN + ROLE + ("sqs:GetQueueAttributes",), reference=DOCS_AWS + "lambda/latest/dg/invocation-async-retain-records.html"),
    _c("poison-ride-dead-lettered", "A ride that cannot be stored ends in the DLQ (publishes a poison ride)", RR, "behaviour",
       "behaviour:poison_ride", TOPIC_FN + ("sns:Publish", "sqs:ReceiveMessage", "sqs:DeleteMessage"),
       holds_at_end=False, writes=True, reference=DOCS_AWS + "lambda/latest/dg/invocation-async-retain-records.html"),
    # subscription-dead-letter-queue
    _c("redrive-declared", "PutRideRecordSns's subscription names a dead letter queue SNS may send to", RR, "static",
       "redrive:redrive_declared", reference=DOCS_SLS + "events/sns"),
    _c("live-subscription-redrive", "The topic's subscription to PutRideRecordSns redrives to a queue that lets SNS send", RR,
       "live", "redrive:subscription_redrive",
       TOPIC_FN + ("sns:ListSubscriptionsByTopic", "sns:GetSubscriptionAttributes", "sqs:GetQueueUrl", "sqs:GetQueueAttributes"),
       reference=DOCS_AWS + "sns/latest/dg/sns-dead-letter-queues.html"),
    _c("undelivered-ride-redriven",
       "A message SNS cannot deliver ends in the subscription's queue (removes SNS's invoke permission for seconds and restores it; publishes a test message)", RR,
       "behaviour", "behaviour:undelivered_ride",
       TOPIC_FN + ("sns:ListSubscriptionsByTopic", "sns:GetSubscriptionAttributes", "sqs:GetQueueUrl", "lambda:GetPolicy",
                   "lambda:RemovePermission", "lambda:AddPermission", "sns:Publish", "sqs:ReceiveMessage", "sqs:DeleteMessage"),
       holds_at_end=False, writes=True, reference=DOCS_AWS + "sns/latest/dg/sns-dead-letter-queues.html"),
)

CHECKS: dict[str, Check] = {c.id: c for c in _CHECKS}


def ids() -> frozenset[str]:
    """Every check id (for `course.load(known_checks=...)`)."""
    return frozenset(CHECKS)


def get(check_id: str) -> Check:
    return CHECKS[check_id]


def function_of(check: Check) -> Callable:
    """The function that runs `check` (imports its family module)."""
    module, name = check.run.split(":")
    return getattr(importlib.import_module(f"workshop.checks.{module}"), name)
