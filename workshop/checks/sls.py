"""Reading a service's serverless.yml for meaning: CloudFormation-aware YAML, simple Serverless variables, IAM statements."""

from __future__ import annotations

import fnmatch
import json
import re
import subprocess
from pathlib import Path
from typing import Any

from workshop.checks.model import Problem, failed

STAGE = "${stage}"
# Every way a serverless.yml commonly says "the stage being deployed".
_STAGE_RE = re.compile(r"\$\{(sls:stage|self:provider\.stage|opt:stage(,\s*[^{}]*)?|env:SLS_STAGE(,\s*[^{}]*)?)\}")
_CUSTOM_RE = re.compile(r"\$\{self:custom\.([A-Za-z0-9_.-]+)\}")
PRINT_TIMEOUT = 40.0


def config(ctx, service: str) -> dict:
    """The service's serverless.yml as data (`!Ref X` and `Ref: X` alike); a missing or broken file ends the check."""
    return ctx.memo(("sls", service), lambda: _load(ctx.service_dir(service) / "serverless.yml", service))


def _load(path: Path, service: str) -> dict:
    from cfnlint.decode import cfn_yaml

    shown = f"{service}/serverless.yml"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise Problem(failed(f"{shown} is missing", f"{shown} in your workspace",
                             "Restore it with `workshop reset` (your files are backed up first).")) from None
    try:
        data = cfn_yaml.loads(text, str(path))
    except Exception as exc:  # noqa: BLE001 - the YAML library's errors carry the line
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise Problem(failed(f"{shown} is not valid YAML{where}: {exc}".split("\n")[0], "valid YAML",
                             f"Fix {shown}{where} (indentation with spaces, a ':' after every key).")) from None
    return _plain(data) if isinstance(data, dict) else {}


def _plain(value: Any) -> Any:
    """cfn-lint's node classes as plain dicts, lists and strings."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, str):
        return str(value)
    return value


def lookup(doc: dict, dotted: str) -> Any:
    node: Any = doc
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def resolve(value: Any, doc: dict, depth: int = 0) -> Any:
    """`${self:custom.x}` replaced by its value and every spelling of the stage made `${stage}`; the rest kept as text."""
    if depth > 10 or not isinstance(value, str):
        return value
    whole = _CUSTOM_RE.fullmatch(value.strip())
    if whole:
        found = lookup(doc.get("custom") or {}, whole.group(1))
        return resolve(found, doc, depth + 1) if found is not None else value

    def custom(match: re.Match) -> str:
        found = lookup(doc.get("custom") or {}, match.group(1))
        return str(resolve(found, doc, depth + 1)) if isinstance(found, (str, int)) else match.group(0)

    return _STAGE_RE.sub(STAGE, _CUSTOM_RE.sub(custom, value))


def unresolved(text: str) -> bool:
    """True when a string still holds a Serverless variable other than the stage and `${ssm:...}`."""
    rest = text.replace(STAGE, "")
    rest = re.sub(r"\$\{ssm(\([^)]*\))?:[^{}]*\}", "", rest)
    return "${" in rest


def framework_print(ctx, service: str) -> dict | None:
    """Ask the framework itself (`osls print`, bounded) for the resolved configuration; None when it cannot say."""
    def run() -> dict | None:
        from workshop.course import paths
        from workshop.deploy import targets, tools

        osls = tools.find_osls()
        if osls is None:
            return None
        home = paths.osls_home(ctx.root)  # the deploys' HOME: one osls cache per workspace
        home.mkdir(parents=True, exist_ok=True)
        env = targets.deploy_env(ctx.target, endpoint=ctx.endpoint, home=home)
        try:
            done = subprocess.run([osls, "print", "--format", "json", "--stage", ctx.target.stage, "--region", ctx.target.region],
                                  cwd=ctx.service_dir(service), env=env, capture_output=True, text=True, timeout=PRINT_TIMEOUT)
        except (OSError, subprocess.TimeoutExpired):
            return None
        if done.returncode != 0:
            return None
        start = done.stdout.find("{")
        try:
            return json.loads(done.stdout[start:]) if start >= 0 else None
        except json.JSONDecodeError:
            return None

    return ctx.memo(("print", service), run)


def functions(doc: dict) -> dict[str, dict]:
    fns = doc.get("functions") or {}
    return {k: (v if isinstance(v, dict) else {}) for k, v in fns.items()} if isinstance(fns, dict) else {}


def resources(doc: dict) -> dict[str, dict]:
    found = lookup(doc, "resources.Resources") or {}
    return {k: v for k, v in found.items() if isinstance(v, dict)} if isinstance(found, dict) else {}


def of_type(doc: dict, cfn_type: str) -> dict[str, dict]:
    return {k: v for k, v in resources(doc).items() if v.get("Type") == cfn_type}


def handler_path(fn: dict) -> str:
    return str(fn.get("handler") or "").strip().removeprefix("./")


def environment(doc: dict, fn: dict) -> dict:
    """A function's environment as deployed: the provider's, overridden by the function's own."""
    env = dict(lookup(doc, "provider.environment") or {})
    env.update(fn.get("environment") or {})
    return env


def events(fn: dict, kind: str) -> list[Any]:
    return [e[kind] for e in (fn.get("events") or []) if isinstance(e, dict) and kind in e]


def refers_to(value: Any, logical: str, getatts: tuple[str, ...] = ()) -> bool:
    """True when `value` means `Ref: logical` (`!Ref`, `Ref:`, `!Sub '${logical}'`) or `Fn::GetAtt` of one of `getatts`."""
    if not isinstance(value, dict) or len(value) != 1:
        return False
    (key, arg), = value.items()
    if key == "Ref":
        return arg == logical
    if key == "Fn::Sub":
        return arg == f"${{{logical}}}"
    found = getatt_of(value)
    return found is not None and found[0] == logical and found[1] in getatts


def getatt_of(value: Any) -> tuple[str, str] | None:
    if isinstance(value, dict) and list(value) == ["Fn::GetAtt"]:
        arg = value["Fn::GetAtt"]
        parts = arg.split(".", 1) if isinstance(arg, str) else list(arg)
        if len(parts) == 2:
            return str(parts[0]), str(parts[1])
    return None


def statements(doc: dict) -> list[dict]:
    """The IAM statements osls gives the functions' shared role (current and legacy spellings)."""
    found = []
    for key in ("provider.iam.role.statements", "provider.iamRoleStatements"):
        value = lookup(doc, key)
        if isinstance(value, list):
            found += [s for s in value if isinstance(s, dict)]
    return found


def as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value] if value is not None else []


def action_allowed(statement_actions: Any, wanted: str) -> bool:
    return any(isinstance(a, str) and fnmatch.fnmatchcase(wanted.lower(), a.lower()) for a in as_list(statement_actions))


def grants(doc: dict, action: str, covers) -> tuple[bool, bool]:
    """(some Allow statement has `action`, one also has a resource for which covers(resource) is true)."""
    has_action = has_both = False
    for st in statements(doc):
        if str(st.get("Effect", "")) != "Allow" or not action_allowed(st.get("Action"), action):
            continue
        has_action = True
        if any(covers(resolve(r, doc)) for r in as_list(st.get("Resource"))):
            has_both = True
    return has_action, has_both
