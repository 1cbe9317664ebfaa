"""Course facts live in the course: code names steps by id and numbers them from course.toml, reads the services from
it, and keeps every `.workshop/` path in one module. A bonus step after the last one needs no code change."""

from __future__ import annotations

import ast
import re
import shutil

import pytest

from tests.conftest import REPO

CODE = REPO / "workshop"
STEP_NUMBER = re.compile(r"(\bsteps? \d+\b|\bof 1[34]\b|\b0-1[34]\b|--step \d+)", re.IGNORECASE)


def _code_strings():
    """(file, line, text) of every string in the runner's code that is not a docstring (the emulator is not the course's)."""
    for path in sorted(CODE.rglob("*.py")):
        if "emulator" in path.relative_to(CODE).parts:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                      if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                      and node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
                yield path.relative_to(REPO), node.lineno, node.value


def test_no_step_number_is_written_in_code():
    found = [f"{p}:{line}: {text!r}" for p, line, text in _code_strings() if STEP_NUMBER.search(text)]
    assert found == [], "name the step by id and number it from the course (ctx.step_ref, course.step):\n" + "\n".join(found)


def test_every_step_id_named_in_code_is_a_step_of_the_course():
    from workshop.course import model

    ids = {s.id for s in model.load(REPO).steps}
    named = []
    for path in sorted(CODE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                if getattr(node.func, "attr", None) == "step_ref" and node.args and isinstance(node.args[0], ast.Constant):
                    named.append((path.name, node.args[0].value))
                named += [(path.name, k.value.value) for k in node.keywords
                          if k.arg == "step_id" and isinstance(k.value, ast.Constant) and isinstance(k.value.value, str)]
    assert named, "the scan found no step named by id: it no longer sees the calls"
    assert [n for n in named if n[1] not in ids] == []


def test_workshop_paths_are_spelled_in_one_module():
    spelled = [f"{p}:{line}: {text!r}" for p, line, text in _code_strings()
               if (re.match(r"^\.workshop(/|$)", text) or text == "osls-home") and p.name != "paths.py"]
    assert spelled == [], "use workshop.course.paths:\n" + "\n".join(spelled)


def test_services_come_from_the_course(sample_course):
    from workshop.deploy import rollout, targets
    from workshop.errors import BadInput

    assert targets.services() == ("svc-a", "svc-b")
    with pytest.raises(BadInput, match="use `svc-a`, `svc-b` or `all`"):
        rollout.check_service("wild-rydes")


def test_every_check_looks_at_a_service_of_the_course():
    from workshop.checks import registry
    from workshop.course import model

    services = set(model.load(REPO).services)
    assert {c.service for c in registry.CHECKS.values()} <= services | {"both"}


@pytest.fixture
def bonus_course(tmp_path, monkeypatch):
    """The course with a bonus step 14 after the dead letter queue (a behaviour step: no patch)."""
    from workshop.course import model

    root = tmp_path / "course"
    for folder in ("steps", "checkpoints", "solutions"):
        shutil.copytree(REPO / folder, root / folder)
    toml = root / "steps" / "course.toml"
    text = toml.read_text(encoding="utf-8")
    last = model.load(REPO).steps[-1]
    bonus = (f'\n[[steps]]\nid = "bonus-ride"\nnumber = {last.number + 1}\ntitle = "A bonus ride"\nservices = ["wild-rydes"]\n'
             'kinds = ["behaviour"]\ndeploys = []\nchecks = ["ride-recorded-sns"]\nhints = ["Request a ride.", "Run `workshop ride`."]\n')
    at = text.index("[[questions]]")
    toml.write_text(text[:at] + bonus + "\n" + text[at:], encoding="utf-8")
    (root / "steps" / f"{last.number + 1:02d}-bonus-ride.md").write_text("# A bonus ride\n\n## Why\n\nOne more.\n", encoding="utf-8")
    monkeypatch.setenv("WORKSHOP_COURSE_DIR", str(root))
    model._load.cache_clear()
    yield model.load(root)
    model._load.cache_clear()


def test_a_bonus_step_after_the_last_one_needs_no_code_change(bonus_course, tmp_path, cli, monkeypatch):
    import json

    from workshop.cli.demo import RichPresenter
    from workshop.course import progress, workspace

    last = bonus_course.steps[-1]
    ws = tmp_path / "ws"
    assert cli("init", str(ws)).exit_code == 0
    monkeypatch.chdir(ws)
    assert json.loads(cli("status", "--json").stdout)["steps"][-1]["id"] == "bonus-ride"
    before = bonus_course.steps[-2]
    assert cli("goto", str(before.number)).exit_code == 0
    session = progress.open_session(ws, bonus_course)
    progress.mark_verified(session, before, workspace.now())
    session.save()
    result = cli("next")  # the dead letter queue step is no longer the end: no end-of-module verification, no final text
    assert result.exit_code == 0, result.output
    assert f"Now at step {last.number}: A bonus ride." in result.output
    assert cli("show").exit_code == 0 and cli("goto", str(last.number)).exit_code == 0

    card = RichPresenter(pause=False)
    with card.out.capture() as shown:
        card.card(bonus_course.steps[3], "why", last)
    assert f"Step 3 of {last.number}" in shown.get()


def test_the_verify_policy_names_the_stacks_of_the_course(sample_course):
    from workshop.checks import runner

    scoped = [s for s in runner.iam_policy()["Statement"] if s["Resource"] != "*" and "Managed" not in s["Sid"]]
    assert scoped, runner.iam_policy()
    for statement in scoped:
        resources = statement["Resource"]
        assert any("svc-a-" in r or "/svc-a/" in r for r in resources), statement
        assert any("svc-b-" in r or "/svc-b/" in r for r in resources), statement
        assert not any("wild-rydes" in r for r in resources), statement
