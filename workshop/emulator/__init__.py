"""The embedded AWS target: moto in server mode, extended so the workshop runs offline, on 127.0.0.1 only.

Core API (cheap to import: moto is only imported inside the emulator process):
    start(state_dir, port=0) -> EmulatorInfo     detached process, waits until it answers; `already_running` if it was
    stop(state_dir) -> bool                      SIGTERM (the state is saved), SIGKILL after a bound; False if none ran
    status(state_dir) -> EmulatorInfo | None     None when not running (a stale pid file is removed)
    ensure_running(state_dir) -> EmulatorInfo    status() or start()
    log_file / tail_log / follow_log             the emulator's log
    runtime_notes(state_dir) -> list[str]        functions run on another Python than they declare (one line each)
Errors the learner can act on are WorkshopError with the command to run next.

One module per gap moto leaves (patches.py says which patch applies to which moto module, at its first import):
    lambda_patch, lambda_run, sandbox, runtime/   local Lambda execution in warm environments, AWS-format logs
    iam_enforce, iam_policy                       functions run as their role; IAM evaluated on their calls
    cfn_failures, cfn_validate, cfn_updates       stacks fail and roll back as CloudFormation's; schema checks; updates
    logs_limits                                   CloudWatch Logs quotas (FilterLogEvents 5/s)
    async_invoke, sns_delivery                    SNS and Event invocations: background, retried, then DLQ/destination
    sns_redrive                                   a subscription's RedrivePolicy: validated, undeliverable messages to it
    cfn_types, cfn_fixes, s3_policy               CloudFormation types moto skips and the bugs Serverless deploys hit
    gateway, tls, runtime/_workshop_netroute.py   execute-api over HTTP(S), also from inside a function
    persist, server, activity                     the process itself and its state across restarts
"""

from workshop.emulator.launcher import EmulatorInfo, ensure_running, start, status, stop, take_notes
from workshop.emulator.logs import follow_log, log_file, tail_log


def runtime_notes(state_dir):  # noqa: ANN001, ANN201 - thin re-export, imported lazily (lambda_run is the emulator's side)
    from workshop.emulator.lambda_run import runtime_notes as notes

    return notes(state_dir)


__all__ = ["EmulatorInfo", "ensure_running", "follow_log", "log_file", "runtime_notes", "start", "status", "stop",
           "tail_log", "take_notes"]
