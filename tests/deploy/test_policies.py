"""Issue 15, item 4: every IAM policy the project ships is linted with parliament, and none lets a learner grant
themselves more than the workshop needs. docs/class-account.yml is what an instructor deploys once per account."""

from __future__ import annotations

import fnmatch
import json
import re
from pathlib import Path

import pytest

from workshop.checks import runner
from workshop.deploy import targets

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = REPO / "docs" / "class-account.yml"
ACCOUNT, PARTITION = "123456789012", "aws"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/workshop-class/WildRydesWorkshopDeployer"
BOUNDARY_ARN = f"arn:aws:iam::{ACCOUNT}:policy/workshop-class/WildRydesWorkshopBoundary"
# Actions known to let a principal raise its own rights (Rhino Security Labs' list and friends).
ESCALATION = {
    "iam:AddUserToGroup", "iam:AttachGroupPolicy", "iam:AttachRolePolicy", "iam:AttachUserPolicy", "iam:CreateAccessKey",
    "iam:CreateLoginProfile", "iam:CreatePolicyVersion", "iam:CreateRole", "iam:CreateUser", "iam:DeleteRolePermissionsBoundary",
    "iam:DeleteUserPermissionsBoundary", "iam:PassRole", "iam:PutGroupPolicy", "iam:PutRolePermissionsBoundary", "iam:PutRolePolicy",
    "iam:PutUserPolicy", "iam:SetDefaultPolicyVersion", "iam:UpdateAssumeRolePolicy", "iam:UpdateLoginProfile",
    "sts:AssumeRole", "lambda:CreateFunction", "lambda:UpdateFunctionCode", "lambda:UpdateFunctionConfiguration",
    "lambda:InvokeFunction", "lambda:AddPermission", "ec2:RunInstances", "ssm:SendCommand", "ssm:StartSession",
    "glue:CreateDevEndpoint", "glue:UpdateDevEndpoint", "datapipeline:CreatePipeline", "codebuild:CreateProject",
    "cloudformation:CreateStack", "cloudformation:UpdateStack", "cloudformation:CreateChangeSet", "cloudformation:SetStackPolicy",
    "ssm:PutParameter", "s3:PutBucketPolicy",
}


def _resolve(value):
    """The template's intrinsic functions, filled in for one account (enough for the policies)."""
    names = {"FunctionBoundary": BOUNDARY_ARN, "AWS::AccountId": ACCOUNT, "AWS::Partition": PARTITION,
             "LearnerPolicy": f"arn:aws:iam::{ACCOUNT}:policy/workshop-class/WildRydesWorkshopLearner",
             "VerifyPolicy": f"arn:aws:iam::{ACCOUNT}:policy/workshop-class/WildRydesWorkshopVerify",
             "Learners": "WildRydesWorkshopLearners"}
    if isinstance(value, dict):
        if set(value) == {"Fn::Sub"}:
            return re.sub(r"\$\{([^}]+)\}", lambda m: names[m.group(1)], value["Fn::Sub"])
        if set(value) == {"Ref"}:
            return names[value["Ref"]]
        if set(value) == {"Fn::GetAtt"}:
            assert value["Fn::GetAtt"] in (["DeploymentRole", "Arn"], "DeploymentRole.Arn")
            return ROLE_ARN
        return {k: _resolve(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v) for v in value]
    return value


@pytest.fixture(scope="module")
def template() -> dict:
    from cfnlint.decode import cfn_yaml

    return _resolve(cfn_yaml.loads(TEMPLATE.read_text(encoding="utf-8"), str(TEMPLATE)))


def _documents(template) -> dict[str, dict]:
    found = {}
    for name, resource in template["Resources"].items():
        props = resource.get("Properties", {})
        if "PolicyDocument" in props:
            found[name] = props["PolicyDocument"]
        for inline in props.get("Policies", []):
            found[f"{name}/{inline['PolicyName']}"] = inline["PolicyDocument"]
        if "AssumeRolePolicyDocument" in props:
            found[f"{name}/trust"] = props["AssumeRolePolicyDocument"]
    return found


def _shipped(template) -> dict[str, dict]:
    shipped = {f"class-account.yml:{k}": v for k, v in _documents(template).items() if not k.endswith("/trust")}
    for path in sorted((REPO / "docs").glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(data, dict) and "Statement" in data:
            shipped[path.name] = data
    return shipped


def _as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def _allows(document) -> list[tuple[str, list[str], dict]]:
    return [(action, _as_list(st["Resource"]), st.get("Condition", {}))
            for st in document["Statement"] if st["Effect"] == "Allow" for action in _as_list(st["Action"])]


def test_every_shipped_policy_passes_parliament(template):
    from parliament import analyze_policy_string

    shipped = _shipped(template)
    assert {"verify-iam-policy.json", "class-account.yml:LearnerPolicy", "class-account.yml:FunctionBoundary",
            "class-account.yml:DeploymentRole/WildRydesWorkshopStacks", "class-account.yml:VerifyPolicy"} <= set(shipped)
    for name, document in shipped.items():
        findings = analyze_policy_string(json.dumps(document)).findings
        assert not findings, f"{name}: {[(f.issue, f.detail) for f in findings]}"


def test_the_template_passes_cfn_lint():
    from cfnlint.api import lint_file

    assert [str(m) for m in lint_file(TEMPLATE)] == []


def test_a_learner_may_not_grant_themselves_more(template):
    docs = _documents(template)
    for name in ("LearnerPolicy", "VerifyPolicy"):
        for action, resources, condition in _allows(docs[name]):
            assert "*" not in action, f"{name}: {action}"
            if action not in ESCALATION:
                continue
            if action == "iam:PassRole":  # only the one deployment role, only to CloudFormation
                assert resources == [ROLE_ARN]
                assert condition == {"StringEquals": {"iam:PassedToService": "cloudformation.amazonaws.com"}}
            elif action.startswith("cloudformation:"):  # stack changes only through that role
                assert condition == {"ArnEquals": {"cloudformation:RoleArn": ROLE_ARN}}, f"{name}: {action}"
            elif action == "lambda:AddPermission" and name == "VerifyPolicy":  # only SNS's invoke permission, given back
                assert condition == {"StringEquals": {"lambda:Principal": "sns.amazonaws.com"}}, f"{name}: {action}"
            else:
                pytest.fail(f"{name} allows {action}, which lets a learner raise their own rights")


def test_the_deployment_role_only_makes_bounded_roles_and_passes_them_to_lambda(template):
    docs = _documents(template)
    role = docs["DeploymentRole/WildRydesWorkshopStacks"]
    for action, resources, condition in _allows(role):
        assert "*" not in action
        if action.startswith("iam:"):
            assert all(fnmatch.fnmatch(r, f"arn:aws:iam::{ACCOUNT}:role/wild-rydes-*") for r in resources), action
            if action in ESCALATION - {"iam:PassRole"}:
                assert condition == {"ArnEquals": {"iam:PermissionsBoundary": BOUNDARY_ARN}}, action
            if action == "iam:PassRole":
                assert condition == {"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}}
        # the deployment role, its boundary and the class's parameters are not wild-rydes-*: no stack can change them
        for resource in resources:
            for protected in (ROLE_ARN, BOUNDARY_ARN, f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/workshop-class/deployment-role"):
                assert not fnmatch.fnmatch(protected, resource) or resource == "*" and action in (
                    "logs:DescribeLogGroups", "sns:GetSubscriptionAttributes", "sns:SetSubscriptionAttributes",
                    "sns:Unsubscribe"), (action, resource)
    denied = [st for st in role["Statement"] if st["Effect"] == "Deny"]
    assert any("iam:DeleteRolePermissionsBoundary" in _as_list(st["Action"]) for st in denied)
    boundary = docs["FunctionBoundary"]
    assert not any(action.startswith(("iam:", "sts:")) or "*" in action for action, _, _ in _allows(boundary))
    assert template["Resources"]["DeploymentRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "cloudformation.amazonaws.com"}


def test_the_verify_policy_is_scoped_to_the_workshops_arns():
    policy = runner.iam_policy()
    for action, resources, _ in _allows(policy):
        if action in runner.IAM_ACCOUNT_WIDE:
            assert resources == [runner.IAM_ACCOUNT_WIDE[action]]
            continue
        assert resources and all("wild-rydes" in r for r in resources), (action, resources)
    wide = {a for a, r, _ in _allows(policy) if r == ["*"]}
    assert wide == {"cloudformation:ListStacks", "apigateway:GET", "sns:GetSubscriptionAttributes"}


def _normal(document) -> dict:
    return {st["Sid"]: (sorted(_as_list(st["Action"])), sorted(_as_list(st["Resource"]))) for st in document["Statement"]}


def test_the_template_carries_the_verify_policy_the_checks_need(template):
    assert _normal(_documents(template)["VerifyPolicy"]) == _normal(runner.iam_policy())
    conditions = {st["Sid"]: st.get("Condition") for st in runner.iam_policy()["Statement"]}
    assert {st["Sid"]: st.get("Condition") for st in _documents(template)["VerifyPolicy"]["Statement"]} == conditions


def test_the_runner_reads_the_parameters_the_template_writes(template):
    written = {r["Properties"]["Name"]: r["Properties"]["Value"] for r in template["Resources"].values()
               if r["Type"] == "AWS::SSM::Parameter"}
    assert written == {targets.CLASS_PARAMETERS["WORKSHOP_DEPLOYMENT_ROLE"]: ROLE_ARN,
                       targets.CLASS_PARAMETERS["WORKSHOP_PERMISSIONS_BOUNDARY"]: BOUNDARY_ARN}
