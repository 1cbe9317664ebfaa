"""On a class account the runner makes osls deploy through the account's CloudFormation role and bound the roles the
stack creates, without editing the learner's serverless.yml: the real osls against the embedded emulator."""

from __future__ import annotations

import pytest

from workshop import emulator
from workshop.deploy import osls, targets, tools
from workshop.deploy.targets import Target

pytestmark = [pytest.mark.slow, pytest.mark.skipif(tools.find_osls() is None, reason="osls is not installed (run `make setup`)")]

SERVICE = "wild-rydes-ride-record"


def test_osls_deploys_through_the_class_role_with_the_boundary(tmp_path, cli, monkeypatch):
    root = tmp_path / "ws"
    assert cli("init", str(root)).exit_code == 0
    before = (root / SERVICE / "serverless.yml").read_text(encoding="utf-8")
    target = Target("local", stage="class")
    try:
        session = targets.connect(root, target)
        iam = targets.client(session, "iam")
        boundary = iam.create_policy(PolicyName="WildRydesWorkshopBoundary", PolicyDocument=(
            '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "logs:*", "Resource": "*"}]}'))["Policy"]["Arn"]
        role = "arn:aws:iam::123456789012:role/workshop-class/WildRydesWorkshopDeployer"
        account = {"WORKSHOP_DEPLOYMENT_ROLE": role, "WORKSHOP_PERMISSIONS_BOUNDARY": boundary}
        real = osls.osls_environment
        # the local target never uses a class account by itself: this test hands it one, as the aws target finds it
        monkeypatch.setattr(osls, "osls_environment", lambda r, t, e: {**real(r, t, e), **targets.class_account_env(account)})
        osls.run_osls(root, target, SERVICE, "deploy", root / SERVICE, endpoint=targets.endpoint_for(root, target))
        stack = targets.client(session, "cloudformation").describe_stacks(StackName=target.stack(SERVICE))["Stacks"][0]
        assert stack.get("RoleARN") == role
        made = targets.client(session, "cloudformation").describe_stack_resource(
            StackName=target.stack(SERVICE), LogicalResourceId="IamRoleLambdaExecution")["StackResourceDetail"]["PhysicalResourceId"]
        assert iam.get_role(RoleName=made)["Role"]["PermissionsBoundary"]["PermissionsBoundaryArn"] == boundary
        assert (root / SERVICE / "serverless.yml").read_text(encoding="utf-8") == before  # the learner's file is untouched
    finally:
        emulator.stop(targets.emulator_dir(root))


def test_the_aws_target_reads_the_class_account_from_ssm_and_the_environment_wins():
    class Ssm:
        def get_parameters(self, Names):
            assert sorted(Names) == sorted(targets.CLASS_PARAMETERS.values())
            return {"Parameters": [{"Name": "/workshop-class/deployment-role", "Value": "arn:aws:iam::1:role/x"}]}

    class Session:
        def client(self, name, **kwargs):
            return Ssm()

    aws = Target("aws", stage="dev-ana")
    assert targets.class_account(aws, environ={}, session=Session()) == {"WORKSHOP_DEPLOYMENT_ROLE": "arn:aws:iam::1:role/x"}
    given = {"WORKSHOP_DEPLOYMENT_ROLE": "arn:aws:iam::1:role/y"}
    assert targets.class_account(aws, environ=given, session=Session()) == given
    assert targets.class_account(Target("local"), environ={}, session=Session()) == {}
    env = targets.deploy_env(aws, endpoint=None, home=__import__("pathlib").Path("/tmp/h"), environ={},
                             class_account=given)
    assert env["WORKSHOP_DEPLOYMENT_ROLE"] == "arn:aws:iam::1:role/y" and "osls_class_account.cjs" in env["NODE_OPTIONS"]
