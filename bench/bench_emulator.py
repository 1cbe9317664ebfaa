"""Benchmark the embedded emulator against stock moto, side by side.

1. Start to healthy: `workshop.emulator.start` (detached process, health answered) against stock
   `python -m moto.server -H 127.0.0.1 -p PORT` answering `/moto-api/` (named baseline). Interleaved runs, medians.
   Also reported: ours until moto is loaded ("ready"), and a start that restores the deployed fixture services.
2. Resident memory of the emulator after both fixture services (tests/emulator/fixtures) are deployed by osls.
3. One local invocation (boto3 `invoke` of a deployed function, round trip, warm environment) against running the
   same handler directly with `python -c` (named baseline); and a cold start (a new environment after a configuration
   change) against a warm one.
4. The cost of authorising one function call (issue 14): request analysis + IAM evaluation of an SNS Publish against
   an osls-like role, in process, median of 200 calls (target under 5 ms).

    .venv/bin/python bench/bench_emulator.py [--reps 5]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from workshop import emulator  # noqa: E402

FIXTURES = REPO / "tests" / "emulator" / "fixtures"
OSLS = REPO / "node_modules" / ".bin" / "osls"


def _answers(url: str, key: str | None = None) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            body = response.read()
    except OSError:
        return False
    return key is None or bool(json.loads(body).get(key))


def _wait(url: str, key: str | None = None, limit: float = 60) -> float:
    start = time.perf_counter()
    while not _answers(url, key):
        if time.perf_counter() - start > limit:
            raise RuntimeError(f"{url} did not answer")
        time.sleep(0.01)
    return time.perf_counter() - start


def stock_start() -> float:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait(f"http://127.0.0.1:{port}/moto-api/")
        return time.perf_counter() - started
    finally:
        proc.terminate()
        proc.wait()


def our_start(state_dir: Path) -> tuple[float, float, float]:
    """Seconds to healthy, seconds until moto is loaded (and any saved state restored), resident MB then."""
    started = time.perf_counter()
    info = emulator.start(state_dir)
    healthy = time.perf_counter() - started
    _wait(f"{info.endpoint}/_workshop/health", "ready")
    ready = time.perf_counter() - started
    rss = rss_mb(info.pid)[0]
    emulator.stop(state_dir)
    return healthy, ready, rss


def osls(service: Path, endpoint: str, home: Path, *args: str) -> None:
    env = {"PATH": os.environ["PATH"], "HOME": str(home), "AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "testing",
           "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1",
           "SLS_AWS_MONITORING_FREQUENCY": "500", "NODE_NO_WARNINGS": "1", "SLS_TELEMETRY_DISABLED": "1"}
    subprocess.run([str(OSLS), *args, "--stage", "test"], cwd=service, env=env, check=True, capture_output=True)


def rss_mb(pid: int) -> tuple[float, float]:
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=5)
    reps = parser.parse_args().reps
    root = Path(tempfile.mkdtemp(prefix="bench-emulator-"))
    os.environ.setdefault("WORKSHOP_EMULATOR_RETRY_DELAYS", "0.1")
    try:
        our_start(root / "warm")  # creates the CA once, warms the page cache
        stock, ours, ready = [], [], []
        for i in range(reps):
            stock.append(stock_start())
            healthy, loaded, _ = our_start(root / f"fresh{i}")
            ours.append(healthy)
            ready.append(loaded)

        home, state = root / "home", root / "deployed"
        home.mkdir()
        info = emulator.start(state)
        record, caller = root / "record", root / "caller"
        shutil.copytree(FIXTURES / "record", record)
        shutil.copytree(FIXTURES / "caller", caller)
        site = Path(__import__("boto3").__file__).resolve().parents[1]
        for package in ("requests", "urllib3", "certifi", "idna", "charset_normalizer"):
            shutil.copytree(site / package, caller / "vendor" / package)
        started = time.perf_counter()
        osls(record, info.endpoint, home, "deploy")
        osls(caller, info.endpoint, home, "deploy")
        deploy_s = time.perf_counter() - started
        rss, peak = rss_mb(info.pid)

        import boto3

        lam = boto3.client("lambda", endpoint_url=info.endpoint, region_name="us-east-1",
                           aws_access_key_id="testing", aws_secret_access_key="testing")
        invoke, direct = {}, {}
        for label, name, module, function in (("boto3 handler", "fixture-record-test-Echo", "handlers.record", "echo"),
                                                ("no-op handler", "fixture-record-test-Noop", "handlers.noop", "handler")):
            lam.invoke(FunctionName=name, Payload=b"{}")  # unpacks the code once
            invoke[label] = []
            for _ in range(reps * 2):
                t = time.perf_counter()
                lam.invoke(FunctionName=name, Payload=b"{}")
                invoke[label].append(time.perf_counter() - t)
            table = lam.get_function_configuration(FunctionName=name)["Environment"]["Variables"]["TABLE_NAME"]
            direct_env = {**os.environ, "TABLE_NAME": table, "AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "x",
                          "AWS_SECRET_ACCESS_KEY": "x", "AWS_ENDPOINT_URL": info.endpoint}
            code = (f"from {module} import {function}\n"
                    "class C:\n function_name='f'; aws_request_id='r'; invoked_function_arn='a'\n"
                    " def get_remaining_time_in_millis(self): return 1000\n"
                    f"{function}({{}}, C())")
            direct[label] = []
            for _ in range(reps * 2):
                t = time.perf_counter()
                subprocess.run([sys.executable, "-c", code], cwd=record, env=direct_env, check=True, capture_output=True)
                direct[label].append(time.perf_counter() - t)

        cold, warm = [], []
        for i in range(reps):
            lam.update_function_configuration(FunctionName="fixture-record-test-Noop",
                                               Environment={"Variables": {"TABLE_NAME": "t", "ROUND": str(i)}})
            t = time.perf_counter()
            lam.invoke(FunctionName="fixture-record-test-Noop", Payload=b"{}")
            cold.append(time.perf_counter() - t)
            t = time.perf_counter()
            lam.invoke(FunctionName="fixture-record-test-Noop", Payload=b"{}")
            warm.append(time.perf_counter() - t)

        emulator.stop(state)
        restored = [our_start(state) for _ in range(max(2, reps // 2))]
        authorise = authorisation_cost(200)
    finally:
        for folder in root.iterdir():
            if (folder / "emulator.json").exists():
                emulator.stop(folder)
        shutil.rmtree(root, ignore_errors=True)

    med = statistics.median
    print(f"{'measure':58} {'ours':>9} {'baseline':>9} {'ratio':>7}")
    print(f"{'start to healthy (s) vs stock moto.server /moto-api/':58} {med(ours):9.3f} {med(stock):9.3f} {med(ours) / med(stock):7.2f}")
    print(f"{'start to moto loaded, fresh (s) vs stock':58} {med(ready):9.3f} {med(stock):9.3f} {med(ready) / med(stock):7.2f}")
    print(f"{'start to healthy, deployed state (s) vs stock':58} {med(r[0] for r in restored):9.3f} {med(stock):9.3f} "
          f"{med(r[0] for r in restored) / med(stock):7.2f}")
    print(f"{'start to state restored (s) vs stock':58} {med(r[1] for r in restored):9.3f} {med(stock):9.3f} "
          f"{med(r[1] for r in restored) / med(stock):7.2f}")
    print(f"{'resident memory after both fixture deploys (MB; peak)':58} {rss:9.1f} {peak:9.1f} {'':>7}")
    print(f"{'resident memory after a restart that restored them (MB)':58} {med(r[2] for r in restored):9.1f}")
    print(f"{'two osls deploys (s)':58} {deploy_s:9.2f}")
    for label in invoke:
        ours_s, base_s = med(invoke[label]), med(direct[label])
        print(f"{'one invocation, ' + label + ' (s) vs python -c':58} {ours_s:9.3f} {base_s:9.3f} {ours_s / base_s:7.2f}")
        print(f"{'  overhead (s)':58} {ours_s - base_s:9.3f}")
    print(f"{'no-op invocation, cold start vs warm (s)':58} {med(cold):9.3f} {med(warm):9.3f} {med(cold) / med(warm):7.2f}")
    print(f"{'authorising one function call (ms, median of 200; target 5)':58} {authorise * 1000:9.3f} {5.0:9.3f} "
          f"{authorise * 1000 / 5.0:7.2f}")


def authorisation_cost(calls: int) -> float:
    """Median seconds to analyse and authorise one SNS Publish signed with a function's session (in process)."""
    import io

    from moto import mock_aws

    from workshop.emulator import iam_enforce

    with mock_aws():
        import boto3

        iam = boto3.client("iam", region_name="us-east-1")
        sns = boto3.client("sns", region_name="us-east-1")
        topic = sns.create_topic(Name="RideCompleted")["TopicArn"]
        trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                                                         "Action": "sts:AssumeRole"}]}
        role = iam.create_role(RoleName="wild-rydes-dev-us-east-1-lambdaRole", AssumeRolePolicyDocument=json.dumps(trust))
        statements = [
            {"Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:CreateLogGroup", "logs:TagResource"],
             "Resource": ["arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/wild-rydes-dev*:*"]},
            {"Effect": "Allow", "Action": ["logs:PutLogEvents"],
             "Resource": ["arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/wild-rydes-dev*:*:*"]},
            {"Effect": "Allow", "Action": ["ssm:GetParameter"], "Resource": "arn:aws:ssm:us-east-1:123456789012:parameter/wild-rydes/*"},
            {"Effect": "Allow", "Action": ["sns:Publish"], "Resource": topic},
        ]
        iam.put_role_policy(RoleName=role["Role"]["RoleName"], PolicyName="dev-lambda",
                            PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": statements}))
        from workshop.emulator.iam_policy import Principal

        principal = Principal("123456789012", role["Role"]["Arn"], "wild-rydes-dev-RequestRide")
        body = f"Action=Publish&Version=2010-03-31&TopicArn={topic}&Message=%7B%7D".encode()
        times = []
        for _ in range(calls):
            environ = {"REQUEST_METHOD": "POST", "PATH_INFO": "/", "QUERY_STRING": "", "wsgi.input": io.BytesIO(body),
                       "CONTENT_TYPE": "application/x-www-form-urlencoded; charset=utf-8"}
            t = time.perf_counter()
            call = iam_enforce.describe(environ, body, "sns", "us-east-1", "123456789012")
            denied = iam_enforce.authorize(principal, call) if call else "?"
            times.append(time.perf_counter() - t)
            assert denied is None, denied
        return statistics.median(times)


if __name__ == "__main__":
    main()
