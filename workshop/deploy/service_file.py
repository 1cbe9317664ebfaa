"""The one reader of a service's serverless.yml: PyYAML with CloudFormation's short tags, line numbers kept for messages.

Every question the runner asks about the file is answered here: functions, their events and environment, IAM
statements, resources, outputs, the `${ssm:...}` values read at deploy time and the parameters created, and what the
Serverless variables resolve to for a stage. Variables are resolved as osls resolves them for a deploy with `--stage`:
`${sls:stage}`, `${opt:stage}` (with or without a default) and `${self:...}` references; anything else stays as text.

`STAGE` stands for "the stage being deployed" when no stage is given: a character sequence no learner can type, so a
literal `${stage}` in a file is never mistaken for it.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from workshop.errors import WorkshopError

STAGE = "\x00stage\x00"
FILE = "serverless.yml"
_VAR = re.compile(r"\$\{([^${}]*)\}")  # an innermost variable: no nested `${` inside
_KEPT = re.compile(r"\x01(\d+)\x01")
_SSM = re.compile(r"^ssm(?:\([^)]*\))?:\s*(.+?)\s*$")
_MAX_DEPTH = 10
# CloudFormation short tags whose long form is not `Fn::<Name>`.
_LONG_FORM = {"Ref": "Ref", "Condition": "Condition"}
_FRAME_LINES = 2  # lines shown above the faulty one


class ServiceFileError(WorkshopError):
    """The file is missing or is not valid YAML: `message` says what and where, `frame` shows the lines around it."""

    def __init__(self, message: str, *, shown: str, problem: str, line: int | None = None, column: int | None = None,
                 frame: str = ""):
        super().__init__(message, detail=frame or None)
        self.shown, self.problem, self.line, self.column, self.frame = shown, problem, line, column, frame


class Mapping(dict):
    """A YAML mapping that remembers the line (1-based) of itself and of each of its keys."""

    line: int = 0

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.key_lines: dict[str, int] = {}


class Sequence(list):
    """A YAML sequence that remembers its line and each item's line."""

    line: int = 0

    def __init__(self, *args: Any):
        super().__init__(*args)
        self.item_lines: list[int] = []


def _loader_class():
    import yaml

    base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    class Loader(base):  # type: ignore[misc, valid-type]
        pass

    def mapping(loader, node):
        result = Mapping()
        result.line = node.start_mark.line + 1
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                merged = loader.construct_object(value_node, deep=True)
                for item in merged if isinstance(merged, list) else [merged]:
                    if isinstance(item, dict):
                        for k, v in item.items():
                            result.setdefault(k, v)
                continue
            key = loader.construct_object(key_node, deep=True)
            key = str(key) if not isinstance(key, str) else key
            if key in result:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicated mapping key `{key}` (first at line {result.key_lines[key]})", key_node.start_mark)
            result[key] = loader.construct_object(value_node, deep=True)
            result.key_lines[key] = key_node.start_mark.line + 1
        return result

    def sequence(loader, node):
        result = Sequence(loader.construct_object(child, deep=True) for child in node.value)
        result.line = node.start_mark.line + 1
        result.item_lines = [child.start_mark.line + 1 for child in node.value]
        return result

    def short_tag(loader, suffix, node):
        name = suffix
        long_form = _LONG_FORM.get(name, f"Fn::{name}")
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
            if name == "GetAtt" and isinstance(value, str) and "." in value:
                value = Sequence(value.split(".", 1))
        elif isinstance(node, yaml.SequenceNode):
            value = sequence(loader, node)
        else:
            value = mapping(loader, node)
        result = Mapping({long_form: value})
        result.line = node.start_mark.line + 1
        result.key_lines[long_form] = result.line
        return result

    Loader.add_constructor("tag:yaml.org,2002:map", mapping)
    Loader.add_constructor("tag:yaml.org,2002:seq", sequence)
    Loader.add_multi_constructor("!", short_tag)
    return Loader


_LOADER = None


def parse(text: str, shown: str = FILE) -> Any:
    """YAML text as Mapping/Sequence/str/...; a mistake raises ServiceFileError with the problem, its place and a frame."""
    global _LOADER
    import yaml

    if _LOADER is None:
        _LOADER = _loader_class()
    try:
        return yaml.load(text, Loader=_LOADER)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        raise _yaml_error(exc, text, shown) from None
    except yaml.YAMLError as exc:
        raise ServiceFileError(f"{shown} is not valid YAML: {exc}".splitlines()[0], shown=shown, problem=str(exc)) from None


def _yaml_error(exc, text: str, shown: str) -> ServiceFileError:
    mark = exc.problem_mark or exc.context_mark
    lines = text.splitlines()
    line = mark.line + 1 if mark is not None else None
    column = mark.column + 1 if mark is not None else None
    problem = (exc.problem or exc.context or "not valid YAML").strip()
    here = lines[line - 1] if line and line <= len(lines) else ""
    indent = here[: len(here) - len(here.lstrip())]
    if "\t" in indent or (line and "'\\t'" in problem):
        column = (indent.index("\t") + 1) if "\t" in indent else column
        problem = "tab characters must not be used in indentation"
    elif any(p in problem for p in ("expected <block end>", "expected <block mapping start>", "did not find expected key")):
        problem = "bad indentation: this line does not line up with the keys above it"
    elif "mapping values are not allowed here" in problem:
        problem = "a `key: value` where a value was expected: check the indentation, or quote a value that contains ': '"
    elif "could not find expected ':'" in problem:
        problem = "a line without `key:` inside a mapping: add the ':' or fix the indentation"
    where = f" ({line}:{column})" if line else ""
    frame = code_frame(lines, line, column) if line else ""
    return ServiceFileError(f"{shown}: {problem}{where}", shown=shown, problem=problem, line=line, column=column, frame=frame)


def code_frame(lines: list[str], line: int, column: int | None) -> str:
    """A few numbered lines ending at `line`, a caret under `column` (tabs shown as `→`)."""
    first = max(1, line - _FRAME_LINES)
    last = min(len(lines), line + 1)
    width = len(str(last))
    out = []
    for number in range(first, last + 1):
        body = lines[number - 1].replace("\t", "→") if number <= len(lines) else ""
        out.append(f"{'>' if number == line else ' '} {number:>{width}} | {body}".rstrip())
        if number == line and column:
            out.append(f"  {' ' * width} | {' ' * (column - 1)}^")
    return "\n".join(out)


def _walk_strings(value: Any):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _walk_strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _walk_strings(v)


def as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value] if value is not None else []


@dataclass(frozen=True)
class Found:
    """Where a key sits in the file: its path of keys and its line."""

    path: tuple[str, ...]
    line: int

    @property
    def dotted(self) -> str:
        return ".".join(self.path)


class ServiceFile:
    """One service's serverless.yml, read once."""

    def __init__(self, data: Any, *, text: str = "", shown: str = FILE, path: Path | None = None):
        self.doc: Mapping = data if isinstance(data, Mapping) else Mapping(data) if isinstance(data, dict) else Mapping()
        self.text, self.shown, self.path = text, shown, path

    @classmethod
    def load(cls, service_dir: Path, service: str | None = None) -> ServiceFile:
        path = Path(service_dir) / FILE
        shown = f"{service or Path(service_dir).name}/{FILE}"
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ServiceFileError(f"{shown} is missing: run `workshop reset` to bring it back (your files are backed up first).",
                                   shown=shown, problem="missing") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ServiceFileError(f"{shown} cannot be read: {exc}", shown=shown, problem=str(exc)) from None
        return cls(parse(text, shown), text=text, shown=shown, path=path)

    @classmethod
    def from_text(cls, text: str, shown: str = FILE) -> ServiceFile:
        return cls(parse(text, shown), text=text, shown=shown)

    # --- plain lookups -------------------------------------------------------------------------------------------
    def lookup(self, dotted: str, node: Any = None) -> Any:
        node = self.doc if node is None else node
        for part in dotted.split("."):
            if not isinstance(node, dict) or part not in node:
                return None
            node = node[part]
        return node

    def line_of(self, *path: str) -> int | None:
        """The line of the last key of `path` (e.g. "functions", "PutRideRecordSns", "events"); None when absent."""
        node: Any = self.doc
        line = None
        for part in path:
            if not isinstance(node, Mapping) or part not in node:
                return None
            line = node.key_lines.get(part)
            node = node[part]
        return line

    @cached_property
    def functions(self) -> dict[str, dict]:
        fns = self.doc.get("functions")
        return {str(k): (v if isinstance(v, dict) else Mapping()) for k, v in fns.items()} if isinstance(fns, dict) else {}

    def function(self, name: str) -> dict | None:
        return self.functions.get(name)

    @staticmethod
    def handler_path(fn: dict) -> str:
        return str(fn.get("handler") or "").strip().removeprefix("./")

    @staticmethod
    def events(fn: dict, kind: str | None = None) -> list[Any]:
        """A function's events of one kind (`http`, `sns`, ...), or the kinds of all its events when kind is None."""
        found = [e for e in as_list(fn.get("events")) if isinstance(e, dict)]
        if kind is None:
            return [k for e in found for k in e]
        return [e[kind] for e in found if kind in e]

    def environment(self, fn: dict) -> dict:
        """A function's environment as deployed: the provider's, overridden by the function's own."""
        env = dict(self.lookup("provider.environment") or {})
        own = fn.get("environment")
        env.update(own if isinstance(own, dict) else {})
        return env

    @cached_property
    def resources(self) -> dict[str, dict]:
        found = self.lookup("resources.Resources")
        return {k: v for k, v in found.items() if isinstance(v, dict)} if isinstance(found, dict) else {}

    def of_type(self, cfn_type: str) -> dict[str, dict]:
        return {k: v for k, v in self.resources.items() if v.get("Type") == cfn_type}

    @cached_property
    def outputs(self) -> dict[str, Any]:
        found = self.lookup("resources.Outputs")
        return dict(found) if isinstance(found, dict) else {}

    @cached_property
    def statements(self) -> list[dict]:
        """The IAM statements osls gives the functions' shared role (current and legacy spellings)."""
        found = []
        for key in ("provider.iam.role.statements", "provider.iamRoleStatements"):
            value = self.lookup(key)
            if isinstance(value, list):
                found += [s for s in value if isinstance(s, dict)]
        return found

    @property
    def stage_expression(self) -> Any:
        """`provider.stage` as written (e.g. `${opt:stage, 'dev'}`)."""
        return self.lookup("provider.stage")

    def find_key(self, key: str, under: dict, path: tuple[str, ...] = ()) -> Found | None:
        """Where `key` sits anywhere below `under` (a key one level too deep: `events` inside `environment`)."""
        if not isinstance(under, dict):
            return None
        for k, v in under.items():
            if k == key and path:
                return Found((*path, k), under.key_lines.get(k, 0) if isinstance(under, Mapping) else 0)
            found = self.find_key(key, v, (*path, k)) if isinstance(v, dict) else None
            if found:
                return found
        return None

    # --- variables -----------------------------------------------------------------------------------------------
    def resolve(self, value: Any, stage: str = STAGE) -> Any:
        """`value` with the Serverless variables osls resolves replaced (the stage by `stage`); the rest kept as text.

        A whole-string `${self:...}` that points at a mapping or list gives that object.
        """
        return self._resolve(value, stage, 0)

    def _resolve(self, value: Any, stage: str, depth: int) -> Any:
        if depth > _MAX_DEPTH or not isinstance(value, str) or "${" not in value:
            return value
        whole = re.fullmatch(r"\$\{\s*self:([^${}]+?)\s*\}", value.strip())
        if whole:
            found = self.lookup(whole.group(1))
            if isinstance(found, (dict, list)):
                return found
        kept: list[str] = []

        def keep(text: str) -> str:
            kept.append(text)
            return f"\x01{len(kept) - 1}\x01"

        def one(match: re.Match) -> str:
            inner = match.group(1).strip()
            source, _, rest = inner.partition(":")
            source = source.strip()
            if inner == "sls:stage" or (source == "opt" and rest.split(",", 1)[0].strip() == "stage"):
                return stage
            if source == "self":
                path = rest.split(",", 1)[0].strip()
                found = self.lookup(path)
                if found is None and path == "provider.stage":
                    return stage
                if isinstance(found, (str, int, float, bool)):
                    return keep(str(self._resolve(str(found), stage, depth + 1)))
            # ssm, env, cf, file(), unknown sources and plain `${name}` (left to CloudFormation): kept as written
            return keep(_KEPT.sub(lambda m: kept[int(m.group(1))], match.group(0)))

        text = value
        for _ in range(_MAX_DEPTH):
            new = _VAR.sub(one, text)
            if new == text:
                break
            text = new
        while _KEPT.search(text):
            text = _KEPT.sub(lambda m: kept[int(m.group(1))], text)
        return text

    def ssm_reads(self, stage: str = STAGE) -> frozenset[str]:
        """The SSM parameter paths the file reads at deploy time (`${ssm:/path}`), for `stage`."""
        found = set()
        for text in _walk_strings(self.doc):
            if "${ssm" not in text:
                continue
            resolved = self.resolve(text, stage)
            for match in re.finditer(r"\$\{ssm(?:\([^)]*\))?:\s*(/[^}\s,]+)", str(resolved)):
                found.add(match.group(1))
        return frozenset(found)

    def parameter_writes(self, stage: str = STAGE) -> frozenset[str]:
        """The names of the AWS::SSM::Parameter resources the file creates, for `stage`."""
        found = set()
        for res in self.of_type("AWS::SSM::Parameter").values():
            name = self.resolve((res.get("Properties") or {}).get("Name"), stage)
            if isinstance(name, str):
                found.add(name)
        return frozenset(found)

    # --- CloudFormation values -----------------------------------------------------------------------------------
    @staticmethod
    def getatt_of(value: Any) -> tuple[str, str] | None:
        if isinstance(value, dict) and list(value) == ["Fn::GetAtt"]:
            arg = value["Fn::GetAtt"]
            parts = arg.split(".", 1) if isinstance(arg, str) else list(arg) if isinstance(arg, list) else []
            if len(parts) == 2 and all(isinstance(p, str) for p in parts):
                return parts[0], parts[1]
        return None

    @classmethod
    def refers_to(cls, value: Any, logical: str, getatts: tuple[str, ...] = ()) -> bool:
        """True when `value` means `Ref: logical` (`!Ref`, `Ref:`, `!Sub '${logical}'`) or `Fn::GetAtt` of one of `getatts`."""
        if not isinstance(value, dict) or len(value) != 1:
            return False
        (key, arg), = value.items()
        if key == "Ref":
            return arg == logical
        if key == "Fn::Sub":
            return isinstance(arg, str) and arg.strip() == f"${{{logical}}}"
        found = cls.getatt_of(value)
        return found is not None and found[0] == logical and found[1] in getatts

    def grants(self, action: str, covers) -> tuple[bool, bool]:
        """(some Allow statement has `action`, one also has a resource for which covers(resource) is true)."""
        has_action = has_both = False
        for st in self.statements:
            if str(st.get("Effect", "")) != "Allow" or not action_allowed(st.get("Action"), action):
                continue
            has_action = True
            if any(covers(self.resolve(r)) for r in as_list(st.get("Resource"))):
                has_both = True
        return has_action, has_both


def action_allowed(statement_actions: Any, wanted: str) -> bool:
    return any(isinstance(a, str) and fnmatch.fnmatchcase(wanted.lower(), a.lower()) for a in as_list(statement_actions))


def shown(value: Any) -> str:
    """A value for a message: the stage placeholder written `${sls:stage}`."""
    return str(value).replace(STAGE, "${sls:stage}")
