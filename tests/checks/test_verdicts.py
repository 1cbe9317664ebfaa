"""Verdicts a learner can trust (issue 12): each test here failed before its fix."""

from __future__ import annotations

import pytest

from tests.checks.conftest import edit, run_check
from workshop.deploy.service_file import STAGE, ServiceFile, ServiceFileError

RR_YML, WR_YML = "wild-rydes-ride-record/serverless.yml", "wild-rydes/serverless.yml"
PARAM_NAME = "Name: /wild-rydes/${sls:stage}/SnsTopicArn"
SSM_ARN = "arn: ${ssm:/wild-rydes/${sls:stage}/SnsTopicArn}"


# --- item 1: the stage spelling ----------------------------------------------------------------------------------
def test_the_stage_placeholder_cannot_be_typed():
    assert "\x00" in STAGE and STAGE != "${stage}"


def test_a_literal_stage_in_the_parameter_name_fails_naming_sls_stage(workspace):
    ws = workspace(5)
    edit(ws, WR_YML, PARAM_NAME, "Name: /wild-rydes/${stage}/SnsTopicArn")
    result = run_check(ws, "topic-arn-parameter-declared")
    assert result.result == "fail", result
    assert "/wild-rydes/${stage}/SnsTopicArn" in result.observed  # the learner's text, verbatim
    assert "${sls:stage}" in result.fix


def test_a_literal_stage_in_the_ssm_reference_fails_naming_sls_stage(workspace):
    ws = workspace(9)
    edit(ws, RR_YML, SSM_ARN, "arn: ${ssm:/wild-rydes/${stage}/SnsTopicArn}")
    result = run_check(ws, "sns-event-declared")
    assert result.result == "fail", result
    assert "${ssm:/wild-rydes/${stage}/SnsTopicArn}" in result.observed
    assert "${sls:stage}" in result.fix


@pytest.mark.parametrize("stage", ["${sls:stage}", "${self:provider.stage}", "${opt:stage, 'dev'}", "${opt:stage}",
                                   '${opt:stage, "dev"}', "${opt:stage, self:provider.stage}"])
def test_every_spelling_osls_resolves_to_the_stage_passes(workspace, stage):
    ws = workspace(9)
    edit(ws, RR_YML, SSM_ARN, "arn: ${ssm:/wild-rydes/" + stage + "/SnsTopicArn}")
    assert run_check(ws, "sns-event-declared").result == "pass"
    ws5 = workspace(5)
    edit(ws5, WR_YML, PARAM_NAME, f"Name: /wild-rydes/{stage}/SnsTopicArn")
    result = run_check(ws5, "topic-arn-parameter-declared")
    assert result.result == "pass", result
    assert stage in result.observed  # Observed shows what the file says


def test_a_provider_stage_fixed_to_one_value_fails(workspace):
    ws = workspace(5)
    edit(ws, WR_YML, "stage: ${opt:stage, 'dev'}", "stage: dev")
    edit(ws, WR_YML, PARAM_NAME, "Name: /wild-rydes/${self:provider.stage}/SnsTopicArn")
    assert run_check(ws, "topic-arn-parameter-declared").result == "fail"


def test_pages_and_hints_write_sls_stage():
    from tests.conftest import REPO

    for path in [REPO / "steps" / "course.toml", *sorted((REPO / "steps").glob("*.md"))]:
        assert "${stage}" not in path.read_text(encoding="utf-8"), path.name


def test_invalid_variable_type_gets_a_stage_hint(tmp_path):
    from workshop.deploy import osls
    from workshop.deploy.targets import Target

    (tmp_path / "serverless.yml").write_text("service: x\n")
    lines = ["Error:", "Invalid variable type at index 20 in \"${ssm:/wild-rydes/${stage}/SnsTopicArn}\""]
    message = osls.explain_failure("wild-rydes-ride-record", "deploy", Target(), lines, tmp_path)
    assert "${sls:stage}" in message and "workshop deploy wild-rydes-ride-record" in message


# --- item 3: sns:Publish on '*' ----------------------------------------------------------------------------------
def test_sns_publish_on_every_resource_is_refused(workspace):
    ws = workspace(11)
    text = (ws / WR_YML).read_text()
    assert "Ref: RidesSnsTopic" in text
    edit(ws, WR_YML, "- sns:Publish\n          Resource:\n            - Ref: RidesSnsTopic",
         "- sns:Publish\n          Resource: '*'")
    result = run_check(ws, "request-ride-publishes")
    assert result.result == "fail" and "'*'" in result.observed and "Ref: RidesSnsTopic" in result.fix


# --- item 8: an http event on PutRideRecordSns -------------------------------------------------------------------
def test_an_http_event_on_the_sns_function_is_refused(workspace):
    ws = workspace(8)
    edit(ws, RR_YML, "handler: handlers/put_ride_record.handler_sns\n",
         "handler: handlers/put_ride_record.handler_sns\n    events:\n      - http:\n          path: /record\n          method: post\n")
    result = run_check(ws, "sns-function-declared")
    assert result.result == "fail" and "http" in result.observed and "remove the `http` event" in result.fix


# --- issue 16 item 7: YAML mistakes show the problem, the line and a frame ---------------------------------------
def test_a_tab_in_the_indentation_says_so_with_its_place_and_a_frame(workspace):
    ws = workspace(2)
    edit(ws, RR_YML, "    handler: handlers/put_ride_record.handler_http", "\thandler: handlers/put_ride_record.handler_http")
    result = run_check(ws, "http-function-declared")
    line = (ws / RR_YML).read_text().splitlines().index("\thandler: handlers/put_ride_record.handler_http") + 1
    assert result.result == "fail"
    assert f"tab characters must not be used in indentation ({line}:1)" in result.observed
    assert f"> {line} | →handler" in result.observed and "^" in result.observed
    assert "while scanning" not in result.observed


def test_an_indentation_slip_names_the_problem_not_the_parser_context(workspace):
    ws = workspace(2)
    edit(ws, RR_YML, "    environment:\n", "   environment:\n")
    result = run_check(ws, "http-function-declared")
    assert result.result == "fail" and "indentation" in result.observed and "while parsing" not in result.observed


def test_a_key_one_level_too_deep_says_where_it_was_found(workspace):
    ws = workspace(9)
    text = (ws / RR_YML).read_text()
    start = text.index("    events:\n      # The topic belongs")
    block = text[start:text.index("\n\n", start)]
    deeper = "\n".join("  " + line for line in block.splitlines())
    (ws / RR_YML).write_text(text.replace(block, deeper))
    result = run_check(ws, "sns-event-declared")
    assert result.result == "fail"
    assert "functions.PutRideRecordSns.environment.events" in result.observed and "line" in result.observed


def test_short_tags_read_as_their_long_form():
    sf = ServiceFile.from_text("a: !Ref T\nb: !GetAtt Q.Arn\nc: !Sub '${T}'\nd: !Join ['', [!Ref T]]\ne: !GetAtt [Q, Arn]\n")
    assert sf.doc["a"] == {"Ref": "T"} and sf.getatt_of(sf.doc["b"]) == ("Q", "Arn") == sf.getatt_of(sf.doc["e"])
    assert sf.refers_to(sf.doc["c"], "T") and sf.doc["d"] == {"Fn::Join": ["", [{"Ref": "T"}]]}
    assert sf.line_of("d") == 4


def test_duplicate_keys_are_refused_like_osls_does():
    with pytest.raises(ServiceFileError, match=r"duplicated mapping key `functions` \(first at line 1\) \(3:1\)"):
        ServiceFile.from_text("functions: {}\nx: 1\nfunctions: {}\n")


def test_verify_does_not_import_cfn_lint_to_read_yaml():
    import subprocess
    import sys

    from tests.conftest import REPO

    code = ("import sys; from workshop.deploy.service_file import ServiceFile; from pathlib import Path; "
            "ServiceFile.load(Path('checkpoints/start/wild-rydes')); import workshop.checks.static, workshop.checks.code; "
            "print(any(m.startswith(('cfnlint', 'sympy', 'networkx')) for m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


# --- item 2: a handler that swallows errors ----------------------------------------------------------------------
SNS_CALL = "        put_ride_record(json.loads(record[\"Sns\"][\"Message\"]))"


def test_a_handler_sns_that_swallows_errors_fails(workspace):
    ws = workspace(7)
    path = "wild-rydes-ride-record/handlers/put_ride_record.py"
    text = (ws / path).read_text()
    assert SNS_CALL in text
    edit(ws, path, SNS_CALL, "        try:\n    " + SNS_CALL + "\n        except Exception as error:\n            print(error)")
    result = run_check(ws, "handler-sns-behaviour")
    assert result.result == "fail" and "returned normally" in result.observed, result


# --- item 4: the service's own tests are part of every code step ------------------------------------------------
def test_step_1_with_the_tests_left_alone_fails(workspace, states):
    ws = workspace(1)
    original = states(-1) / "wild-rydes-ride-record" / "tests" / "test_put_ride_record.py"
    (ws / "wild-rydes-ride-record" / "tests" / "test_put_ride_record.py").write_text(original.read_text())
    result = run_check(ws, "ride-record-tests-pass")
    assert result.result == "fail" and "test_put_ride_record" not in result.fix and "workshop test" in result.fix, result


def test_the_own_tests_run_at_every_code_step_and_at_the_end():
    from workshop.checks import runner
    from workshop.course import model as course

    loaded = course.load()
    for step in loaded.steps:
        if "code" in step.kinds:
            own = {"wild-rydes-tests-pass" if s == "wild-rydes" else "ride-record-tests-pass" for s in step.services}
            assert own <= set(step.checks), step.id
    assert {"ride-record-tests-pass", "wild-rydes-tests-pass"} <= set(runner.end_checks(loaded))


def test_step_11_with_erroring_tests_fails(workspace):
    ws = workspace(11)
    edit(ws, "wild-rydes/tests/conftest.py", "import", "import no_such_module_for_the_workshop\nimport")
    assert run_check(ws, "wild-rydes-tests-pass").result == "fail"


# --- item 9: every checkpoint's handlers exist --------------------------------------------------------------------
def test_step_1_points_serverless_yml_at_handler_http(states):
    from workshop.checks.code import missing_handlers

    for number in range(-1, 14):
        for service in ("wild-rydes-ride-record", "wild-rydes"):
            assert missing_handlers(states(number) / service, service) == [], (number, service)


def test_a_handler_left_pointing_at_the_removed_function_fails_step_1(workspace):
    ws = workspace(1)
    edit(ws, RR_YML, "handler: handlers/put_ride_record.handler_http", "handler: handlers/put_ride_record.handler")
    result = run_check(ws, "put-ride-record-functions")
    assert result.result == "fail" and "`handler`" in result.observed and "handler_http" in result.fix, result


# --- item 10: each page's check list is rendered from course.toml -------------------------------------------------
def test_every_page_lists_exactly_the_checks_that_run():
    from workshop.checks import pages, registry
    from workshop.course import model as course

    for step in course.load().steps:
        text = step.text()
        section = text[text.index("## Check your work"):text.index("## References")]
        assert text.count(pages.PLACEHOLDER) == 1 and pages.PLACEHOLDER in section, step.slug
        shown = pages.page(step)
        assert pages.PLACEHOLDER not in shown
        for check_id in step.checks:
            assert f"- {registry.get(check_id).title}" in shown, (step.slug, check_id)


def test_step_10_checks_that_http_still_records_rides():
    from workshop.checks import registry
    from workshop.course import model as course

    step = course.load().step(10)
    assert any(registry.get(c).family == "behaviour" for c in step.checks)


def test_show_prints_the_rendered_list(tmp_path, cli, monkeypatch):
    from workshop.checks import registry

    root = tmp_path / "ws"
    assert cli("init", str(root)).exit_code == 0
    monkeypatch.chdir(root)
    out = cli("show", "13").stdout
    assert "<!-- checks -->" not in out
    for check_id in ("dlq-declared", "live-dlq-send-permission"):
        assert registry.get(check_id).title.split(" (")[0][:40] in " ".join(out.split()), check_id


# --- issue 11 item 4: the architecture picture reads the files through the one reader ----------------------------
def test_the_architecture_follows_the_checkpoints(states):
    from workshop.instructor.architecture import Features, features

    assert features(states(-1)) == Features()
    assert features(states(2)).http_function == "PutRideRecordHttp"
    assert features(states(5)).topic and features(states(5)).topic_parameter and not features(states(5)).sns_function
    after_9 = features(states(9))
    assert after_9.sns_function and after_9.subscribed and after_9.http_call and not after_9.publishes
    assert features(states(11)).publishes and not features(states(11)).http_call
    assert features(states(13)).dlq and not features(states(11)).dlq
    assert features(states(14)).subscription_dlq == "RidesSnsSubscriptionDlq" and not features(states(13)).subscription_dlq


@pytest.mark.parametrize("line, says", [
    ("Configuration error at 'functions.PutRideRecordSns.events.0.sns.redrivePolicy.deadLetterTargetArn': must be string",
     "`deadLetterTargetRef:`"),
    ("Configuration error at 'functions.PutRideRecordSns.events.0.sns.redrivePolicy.deadLetterTargetRef': must be string",
     "not `Ref:` or `!Ref`"),
    ("Configuration error at 'functions.PutRideRecordSns': unrecognized property 'redrivePolicy'", "beside `arn`"),
    ("RidesSubscription - Invalid parameter: Attributes Reason: Subscription already exists with different attributes",
     "keep the `sns` event"),
])
def test_a_misspelt_redrive_policy_gets_the_pages_fix(tmp_path, line, says):
    from workshop.deploy import osls
    from workshop.deploy.targets import Target

    message = osls.explain_failure("wild-rydes-ride-record", "deploy", Target(), ["Error:", line], tmp_path)
    assert says in message and "workshop deploy wild-rydes-ride-record" in message


def test_no_result_shows_the_stage_placeholder():
    """Values read from serverless.yml carry the stage as a NUL-framed word; whatever check words a result with one,
    the learner reads `${sls:stage}` (the step 13 and 14 pasted-ARN messages once showed the placeholder)."""
    from workshop.checks.model import errored, failed, passed
    from workshop.deploy.service_file import STAGE

    arn = f"arn:aws:sqs:us-east-1:123456789012:q-{STAGE}"
    for result in (failed(arn, arn, arn), passed(arn, arn), errored(arn, arn)):
        for text in (result.observed, result.expected, result.fix):
            assert "\x00" not in text and (not text or text.endswith("q-${sls:stage}")), result
