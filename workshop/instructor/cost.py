"""What PutRideRecord costs a month behind API Gateway (the HTTP path) and behind SNS (the SNS path).

Pure core of `workshop cost`: it never prints and imports neither typer nor rich. Money is `Decimal` throughout; each
component is rounded to the cent only at the end, like a line of a bill, and a path's total is the sum of its rounded
components, so what the table shows always adds up. Prices come from `workshop/data/prices.toml`.
"""

from __future__ import annotations

import datetime as _dt
import functools
import tomllib
from dataclasses import dataclass, replace
from decimal import (
    ROUND_CEILING,
    ROUND_HALF_UP,
    Decimal,
    InvalidOperation,
    localcontext,
)
from importlib import resources
from typing import Any

from workshop.errors import BadInput, WorkshopError

CENT = Decimal("0.01")
MEMORY_MB_RANGE = (128, 10_240)
REQUESTS_MAX = 10**15  # a thousand trillion a month: far past any real bill, and within what Decimal prints exactly
DURATION_MS_RANGE = (1, 900_000)  # 900,000 ms is Lambda's 15-minute timeout
ARCHITECTURES = ("x86_64", "arm64")
PRICES_FILE = "prices.toml"

# The rows of the side-by-side table, in order; a path shows only the components it has.
ROW_ORDER = (
    "api_gateway_rest",
    "api_gateway_http",
    "sns_publish",
    "lambda_requests",
    "lambda_compute",
    "sns_lambda_delivery",
    "dynamodb_writes",
)


# ---------------------------------------------------------------------------------------------------------------- prices
@dataclass(frozen=True)
class Tier:
    """Units up to `up_to` (cumulative in the month; None: no limit) cost `price` per `Rate.per` units."""

    up_to: Decimal | None
    price: Decimal


@dataclass(frozen=True)
class Rate:
    """A tiered price with an optional monthly free allowance."""

    per: Decimal
    free_tier: Decimal
    tiers: tuple[Tier, ...]

    def segments(self, units: Decimal, *, free_tier: bool = False) -> list[tuple[Decimal, Decimal]]:
        """The billable units falling in each tier, as (units, price) pairs, in tier order."""
        start = min(self.free_tier, units) if free_tier else Decimal(0)  # free units are the month's first ones
        out: list[tuple[Decimal, Decimal]] = []
        lower = Decimal(0)
        for tier in self.tiers:
            upper = units if tier.up_to is None else min(tier.up_to, units)
            n = upper - max(lower, start)
            if n > 0:
                out.append((n, tier.price))
            if tier.up_to is None or tier.up_to >= units:
                break
            lower = tier.up_to
        return out

    def cost(self, units: Decimal | int, *, free_tier: bool = False) -> Decimal:
        """The exact (unrounded) price of `units` in a month."""
        with localcontext() as ctx:
            ctx.prec = 60  # enough digits that no volume a learner types is rounded before display
            return sum(
                (n * price / self.per for n, price in self.segments(Decimal(units), free_tier=free_tier)), Decimal(0)
            )


@dataclass(frozen=True)
class Prices:
    """The price list: region, the day it was taken, its sources and one Rate per priced item."""

    region: str
    currency: str
    taken: _dt.date
    sources: dict[str, str]
    rates: dict[str, Rate]  # "lambda.requests", "lambda.compute.x86_64", "api_gateway.rest", ...

    def rate(self, name: str) -> Rate:
        """One rate by its dotted name."""
        try:
            return self.rates[name]
        except KeyError:
            raise WorkshopError(f"The price list has no `{name}`: reinstall workshop (pip install --force-reinstall).") from None


RATE_NAMES = (
    "lambda.requests",
    "lambda.compute.x86_64",
    "lambda.compute.arm64",
    "api_gateway.rest",
    "api_gateway.http",
    "sns.publish",
    "sns.lambda_delivery",
    "sqs.standard",
    "dynamodb.on_demand_writes",
)


def parse_prices(text: str, origin: str = PRICES_FILE) -> Prices:
    """Read a price list (TOML text), checking every rate the calculator needs."""
    try:
        data = tomllib.loads(text, parse_float=Decimal)
        rates = {}
        for name in RATE_NAMES:
            node: Any = data
            for part in name.split("."):
                node = node[part]
            tiers = tuple(
                Tier(None if "up_to" not in t else Decimal(t["up_to"]), Decimal(t["price"])) for t in node["tiers"]
            )
            bounds = [t.up_to for t in tiers[:-1]]
            if not tiers or tiers[-1].up_to is not None or None in bounds or bounds != sorted(set(bounds)):
                raise ValueError(f"{name}: tiers must rise and only the last may lack up_to")
            rates[name] = Rate(Decimal(node["per"]), Decimal(node.get("free_tier", 0)), tiers)
        return Prices(str(data["region"]), str(data["currency"]), data["taken"], dict(data["sources"]), rates)
    except (tomllib.TOMLDecodeError, KeyError, TypeError, ValueError, InvalidOperation) as exc:
        raise WorkshopError(f"The price list {origin} is invalid ({exc}): reinstall workshop.") from None


@functools.lru_cache(maxsize=1)
def load_prices() -> Prices:
    """The price list shipped in the package (works from a wheel too)."""
    text = resources.files("workshop").joinpath("data", PRICES_FILE).read_text(encoding="utf-8")
    return parse_prices(text, f"workshop/data/{PRICES_FILE}")


# ---------------------------------------------------------------------------------------------------------------- inputs
@dataclass(frozen=True)
class Inputs:
    """What the learner asks about; the defaults are the module's question."""

    requests: int = 10_000_000
    duration_ms: Decimal = Decimal(100)
    memory_mb: int = 128
    arch: str = "x86_64"
    free_tier: bool = False
    http_api: bool = False
    with_table: bool = False


def _number(value: object) -> Decimal | None:
    try:
        d = Decimal(str(value).strip().replace("_", ""))
    except (InvalidOperation, ValueError):
        return None
    return d if d.is_finite() else None


def make_inputs(
    requests: object = 10_000_000,
    duration_ms: object = 100,
    memory_mb: object = 128,
    arch: str = "x86_64",
    *,
    free_tier: bool = False,
    http_api: bool = False,
    with_table: bool = False,
) -> Inputs:
    """Check the learner's values and build Inputs; BadInput (exit 2) names the valid range."""
    n = _number(requests)
    if n is None or not 1 <= n <= REQUESTS_MAX or n != n.to_integral_value():
        raise BadInput(
            f"--requests must be a whole number of requests a month, 1 or more and at most {REQUESTS_MAX:,} (got {requests}); "
            "for example `workshop cost --requests 10000000`."
        )
    d = _number(duration_ms)
    lo, hi = DURATION_MS_RANGE
    if d is None or not lo <= d <= hi:
        raise BadInput(
            f"--duration-ms must be from {lo} to {hi} ms, Lambda's 15-minute limit (got {duration_ms}); "
            "for example `workshop cost --duration-ms 100`."
        )
    m = _number(memory_mb)
    lo, hi = MEMORY_MB_RANGE
    if m is None or not lo <= m <= hi or m != m.to_integral_value():
        raise BadInput(
            f"--memory-mb must be a whole number from {lo} to {hi} MB, what Lambda allows (got {memory_mb}); "
            "for example `workshop cost --memory-mb 128`."
        )
    if arch not in ARCHITECTURES:
        raise BadInput(
            f"--arch must be {' or '.join(ARCHITECTURES)} (got {arch!r}); for example `workshop cost --arch arm64`."
        )
    return Inputs(int(n), d, int(m), arch, bool(free_tier), bool(http_api), bool(with_table))


# -------------------------------------------------------------------------------------------------------------- estimate
@dataclass(frozen=True)
class Line:
    """One component of a path: its exact amount and the arithmetic behind it."""

    key: str
    label: str
    amount: Decimal
    working: str

    @property
    def billed(self) -> Decimal:
        """The amount rounded to the cent, as a bill shows it."""
        return self.amount.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class PathCost:
    """One architecture: its components and its total (the sum of the rounded components)."""

    key: str
    title: str
    lines: tuple[Line, ...]

    @property
    def total(self) -> Decimal:
        """Sum of the components rounded to the cent."""
        return sum((line.billed for line in self.lines), Decimal("0.00"))

    def line(self, key: str) -> Line | None:
        """The component with this key, if the path has it."""
        return next((line for line in self.lines if line.key == key), None)


@dataclass(frozen=True)
class Estimate:
    """Both paths priced for one set of inputs."""

    inputs: Inputs
    prices: Prices
    billed_ms: int
    gb_seconds: Decimal
    http: PathCost
    sns: PathCost

    @property
    def saving(self) -> Decimal:
        """What the SNS path saves a month against the HTTP path."""
        return self.http.total - self.sns.total

    @property
    def saving_percent(self) -> Decimal:
        """The saving as a whole percentage of the HTTP path's total (0 when that total is 0)."""
        if not self.http.total:
            return Decimal(0)
        return (self.saving / self.http.total * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP)

    def rows(self) -> list[tuple[str, Line | None, Line | None]]:
        """The side-by-side rows: (label, HTTP path line, SNS path line)."""
        out = []
        for key in ROW_ORDER:
            h, s = self.http.line(key), self.sns.line(key)
            if h or s:
                out.append(((h or s).label, h, s))  # type: ignore[union-attr]
        return out

    def to_json(self) -> dict[str, Any]:
        """The `workshop cost --json` document (amounts in USD, rounded to the cent, as numbers)."""
        i = self.inputs
        duration: int | float = int(i.duration_ms) if i.duration_ms == int(i.duration_ms) else float(i.duration_ms)
        return {
            "inputs": {
                "requests": i.requests,
                "duration_ms": duration,
                "memory_mb": i.memory_mb,
                "arch": i.arch,
                "free_tier": i.free_tier,
                "http_api": i.http_api,
                "with_table": i.with_table,
                "region": self.prices.region,
                "prices_taken": self.prices.taken.isoformat(),
            },
            "paths": {p.key: _path_json(p) for p in (self.http, self.sns)},
            "saving": float(self.saving),
        }


def _path_json(path: PathCost) -> dict[str, Any]:
    return {"components": {line.key: float(line.billed) for line in path.lines}, "total": float(path.total)}


def _num(d: Decimal | int) -> str:
    """1,234,567 or 0.125: thousands separated, no trailing zeros."""
    d = Decimal(d)
    return format(d.quantize(Decimal(1)) if d == d.to_integral_value() else d.normalize(), ",f")


def _price(d: Decimal) -> str:
    """$3.50, $0.625, $0.0000166667: at least two decimals."""
    s = format(d.normalize(), "f")
    whole, _, frac = s.partition(".")
    return f"${whole}.{frac.ljust(2, '0')}"


def _working(rate: Rate, units: Decimal | int, unit: str, free_tier: bool) -> str:
    units = Decimal(units)
    per = "per million" if rate.per == 1_000_000 else f"per {unit}" if rate.per == 1 else f"per {_num(rate.per)}"
    if all(t.price == 0 for t in rate.tiers):
        return f"{_num(units)} x $0.00, not charged"
    parts = [f"{_num(n)} x {_price(p)} {per}" for n, p in rate.segments(units, free_tier=free_tier)]
    if free_tier and rate.free_tier:
        if units <= rate.free_tier:
            return f"{_num(units)} {unit}, within the {_num(rate.free_tier)} free a month"
        parts.insert(0, f"first {_num(rate.free_tier)} free")
    return " + ".join(parts)


def _line(key: str, label: str, rate: Rate, units: Decimal | int, unit: str, free_tier: bool) -> Line:
    return Line(key, label, rate.cost(units, free_tier=free_tier), _working(rate, units, unit, free_tier))


def estimate(inputs: Inputs | None = None, prices: Prices | None = None) -> Estimate:
    """Price both paths for these inputs (default: the module's question)."""
    i = inputs or Inputs()
    p = prices or load_prices()
    free = i.free_tier
    billed_ms = int(i.duration_ms.to_integral_value(rounding=ROUND_CEILING))
    with localcontext() as ctx:
        ctx.prec = 60  # memory_mb / 1024 is an exact decimal; keep every digit of it
        gb_seconds = Decimal(i.requests) * Decimal(billed_ms) / 1000 * Decimal(i.memory_mb) / 1024
    lambda_lines = (
        _line("lambda_requests", "Lambda requests", p.rate("lambda.requests"), i.requests, "request", free),
        _line(
            "lambda_compute",
            f"Lambda compute ({i.arch})",
            p.rate(f"lambda.compute.{i.arch}"),
            gb_seconds,
            "GB-s",
            free,
        ),
    )
    table = ()
    if i.with_table:
        writes = p.rate("dynamodb.on_demand_writes")
        table = (_line("dynamodb_writes", "DynamoDB on-demand writes", writes, i.requests, "write", free),)
    if i.http_api:
        door = _line("api_gateway_http", "API Gateway HTTP API", p.rate("api_gateway.http"), i.requests, "call", free)
        title = "HTTP path (API Gateway HTTP API + Lambda)"
    else:
        door = _line("api_gateway_rest", "API Gateway REST API", p.rate("api_gateway.rest"), i.requests, "call", free)
        title = "HTTP path (API Gateway REST API + Lambda)"
    http = PathCost("http", title, (door, *lambda_lines, *table))
    publish = _line("sns_publish", "SNS publishes", p.rate("sns.publish"), i.requests, "publish", free)
    delivery = _line(
        "sns_lambda_delivery", "SNS to Lambda delivery", p.rate("sns.lambda_delivery"), i.requests, "delivery", free
    )
    sns = PathCost("sns", "SNS path (SNS + Lambda)", (publish, *lambda_lines, delivery, *table))
    return Estimate(i, p, billed_ms, gb_seconds, http, sns)


# --------------------------------------------------------------------------------------------------------- worked answer
def _usd(d: Decimal) -> str:
    return f"${d.quantize(CENT, rounding=ROUND_HALF_UP):,}"


def _percent_less(before: Decimal, after: Decimal) -> Decimal:
    """How much smaller `after` is than `before`, as a whole percentage (0 when `before` is 0)."""
    if not before:
        return Decimal(0)
    return ((before - after) / before * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP)


def worked_answer(inputs: Inputs | None = None) -> str:
    """The module's cost question answered with the calculator's own figures, arithmetic shown (markdown)."""
    i = inputs or Inputs()
    e = estimate(i)
    other = estimate(replace(i, http_api=not i.http_api))
    rest, http_api = (other, e) if i.http_api else (e, other)
    p = e.prices
    req, comp = e.http.line("lambda_requests"), e.http.line("lambda_compute")
    assert req and comp
    lambda_total = req.billed + comp.billed
    rest_door = rest.http.line("api_gateway_rest")
    http_door = http_api.http.line("api_gateway_http")
    publish, delivery = e.sns.line("sns_publish"), e.sns.line("sns_lambda_delivery")
    assert rest_door and http_door and publish and delivery
    door = http_door if i.http_api else rest_door
    free = "with the free tier" if i.free_tier else "without the free tier"
    lines = [
        f"**PutRideRecord at {_num(i.requests)} requests a month, {_num(i.duration_ms)} ms, {i.memory_mb:,} MB "
        f"({i.arch}, {p.region}, prices of {p.taken.isoformat()}, {free})**",
        "",
        "Lambda (the same function on both paths):",
        f"- requests: {req.working} = {_usd(req.billed)}",
        f"- compute: {_num(i.requests)} x {_num(Decimal(e.billed_ms) / 1000)} s x "
        f"{_num(Decimal(i.memory_mb) / 1024)} GB = {_num(e.gb_seconds)} GB-s; {comp.working} = {_usd(comp.billed)}",
        f"- Lambda total: {_usd(req.billed)} + {_usd(comp.billed)} = {_usd(lambda_total)}",
        "",
        "In front of it:",
        f"- API Gateway REST API: {rest_door.working} = {_usd(rest_door.billed)}",
        f"- API Gateway HTTP API, the cheaper option: {http_door.working} = {_usd(http_door.billed)}",
        f"- SNS publishes: {publish.working} = {_usd(publish.billed)}; delivery from SNS to Lambda is free "
        f"({_usd(delivery.billed)})",
    ]
    if i.with_table:
        writes = e.http.line("dynamodb_writes")
        assert writes
        lines.append(f"- DynamoDB writes, the same on both paths: {writes.working} = {_usd(writes.billed)}")
    lines += [
        "",
        f"Totals: {e.http.title} {_usd(e.http.total)}; {e.sns.title} {_usd(e.sns.total)}.",
        f"Publishing to SNS instead of calling through API Gateway saves {_usd(e.saving)} a month, "
        f"{e.saving_percent}% of the HTTP path's total; the hop in front of the function alone falls "
        f"{_percent_less(door.billed, publish.billed + delivery.billed)}%. The Lambda cost does not change.",
        "",
        "Change the inputs with `workshop cost --requests N --duration-ms D --memory-mb M --arch arm64`.",
    ]
    return "\n".join(lines)


# The questions whose answer the calculator works out, by question id. The page's own `## Answer` keeps its commentary;
# the calculator's figures go where it writes WORKED_ANSWER (or first, if the page has no such marker).
COMPUTED_ANSWERS = {"cost": worked_answer}
WORKED_ANSWER = "<!-- worked answer -->"
ANSWER = "## Answer"


def question_text(question, *, answer: bool = True) -> str:
    """A question's page as shown. Without `answer`, only the question (the learner thinks first); with it, the page's
    answer, with the calculator's worked figures put in when the calculator answers that question."""
    text = question.text()
    asked, _, answered = text.partition(ANSWER)
    if not answer:
        return asked.rstrip() + "\n"
    compute = COMPUTED_ANSWERS.get(question.id)
    if compute is None:
        return text
    worked = compute()
    answered = answered.replace(WORKED_ANSWER, worked, 1) if WORKED_ANSWER in answered else f"\n\n{worked}\n{answered}"
    return asked + ANSWER + answered
