"""`workshop cost`: the module's figures, tier edges, free tier, JSON shape and bad inputs."""

from __future__ import annotations

import datetime as _dt
import json
import subprocess
import sys
from decimal import Decimal as D

import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from workshop.errors import BadInput, WorkshopError
from workshop.instructor import cost

ENV = {"NO_COLOR": "1", "COLUMNS": "120"}


def run(*args: str):
    from workshop.cli import app

    return CliRunner().invoke(app, ["cost", *args], env=ENV)


def amounts(e: cost.Estimate, path: str) -> dict[str, D]:
    return {line.key: line.billed for line in getattr(e, path).lines}


# ------------------------------------------------------------------------------------------------- the module's figures
def test_module_figures_without_free_tier():
    e = cost.estimate()
    assert e.billed_ms == 100
    assert e.gb_seconds == 125_000
    assert amounts(e, "http") == {"api_gateway_rest": D("35.00"), "lambda_requests": D("2.00"), "lambda_compute": D("2.08")}
    assert amounts(e, "sns") == {
        "sns_publish": D("5.00"),
        "lambda_requests": D("2.00"),
        "lambda_compute": D("2.08"),
        "sns_lambda_delivery": D("0.00"),
    }
    lambda_total = amounts(e, "http")["lambda_requests"] + amounts(e, "http")["lambda_compute"]
    assert lambda_total == D("4.08")
    assert (e.http.total, e.sns.total, e.saving) == (D("39.08"), D("9.08"), D("30.00"))


def test_http_api_costs_ten_dollars_at_the_module_inputs():
    e = cost.estimate(cost.Inputs(http_api=True))
    assert amounts(e, "http")["api_gateway_http"] == D("10.00")
    assert "api_gateway_rest" not in amounts(e, "http")
    assert (e.http.total, e.sns.total, e.saving) == (D("14.08"), D("9.08"), D("5.00"))


def test_compute_keeps_its_exact_amount_until_display():
    line = cost.estimate().http.line("lambda_compute")
    assert line.amount == D("125000") * D("0.0000166667") == D("2.0833375")
    assert line.billed == D("2.08")


# ------------------------------------------------------------------------------------ other inputs, computed here again
def test_a_billion_requests_arm64_1024_mb():
    e = cost.estimate(cost.make_inputs(1_000_000_000, 100, 1024, "arm64"))
    gb_s = D(1_000_000_000) * D("0.1") * D(1)  # 1,024 MB is 1 GB
    compute = gb_s * D("0.0000133334")  # well under arm64's first tier
    rest = D(333) * D("3.50") + D(667) * D("2.80")  # crosses the first REST boundary
    assert e.gb_seconds == gb_s
    assert amounts(e, "http") == {
        "api_gateway_rest": rest.quantize(D("0.01")),
        "lambda_requests": D("200.00"),
        "lambda_compute": compute.quantize(D("0.01")),
    }
    assert rest == D("3033.10") and compute == D("1333.34")
    assert e.http.total == D("4566.44")
    assert e.sns.total == D("500.00") + D("200.00") + D("1333.34")
    assert e.saving == D("2533.10")


def test_billed_duration_rounds_up_to_the_millisecond():
    e = cost.estimate(cost.make_inputs(1_000, "100.01", 128))
    assert e.billed_ms == 101
    assert e.gb_seconds == D(1_000) * D("0.101") * D("0.125")
    assert cost.estimate(cost.make_inputs(1_000, 1, 128)).billed_ms == 1


# ----------------------------------------------------------------------------------------------------- tier boundaries
def rate(name: str) -> cost.Rate:
    return cost.load_prices().rate(name)


@pytest.mark.parametrize(
    ("units", "expected"),
    [
        (333_000_000, D(333) * D("3.50")),
        (333_000_001, D(333) * D("3.50") + D("2.80") / 1_000_000),
        (1_000_000_000, D(333) * D("3.50") + D(667) * D("2.80")),
        (1_000_000_001, D(333) * D("3.50") + D(667) * D("2.80") + D("2.38") / 1_000_000),
        (20_000_000_000, D(333) * D("3.50") + D(667) * D("2.80") + D(19_000) * D("2.38")),
        (20_000_000_001, D(333) * D("3.50") + D(667) * D("2.80") + D(19_000) * D("2.38") + D("1.51") / 1_000_000),
    ],
)
def test_rest_api_tier_edges(units, expected):
    assert rate("api_gateway.rest").cost(units) == expected


def test_http_api_tier_edges():
    assert rate("api_gateway.http").cost(300_000_000) == D(300)
    assert rate("api_gateway.http").cost(300_000_001) == D(300) + D("0.90") / 1_000_000


@pytest.mark.parametrize(
    ("arch", "first", "second", "prices"),
    [
        ("x86_64", 6_000_000_000, 15_000_000_000, ("0.0000166667", "0.000015", "0.0000133334")),
        ("arm64", 7_500_000_000, 18_750_000_000, ("0.0000133334", "0.0000120001", "0.0000106667")),
    ],
)
def test_lambda_gb_second_tier_edges(arch, first, second, prices):
    p1, p2, p3 = (D(p) for p in prices)
    r = rate(f"lambda.compute.{arch}")
    assert r.cost(first) == first * p1
    assert r.cost(first + 1) == first * p1 + p2
    assert r.cost(second) == first * p1 + (second - first) * p2
    assert r.cost(second + 1) == first * p1 + (second - first) * p2 + p3


def test_gb_second_edge_reached_through_the_cli_inputs():
    # 1,000 ms at 1,024 MB is exactly 1 GB-s a request, so the request count is the GB-s count.
    at_edge = cost.estimate(cost.make_inputs(6_000_000_000, 1000, 1024))
    over = cost.estimate(cost.make_inputs(6_000_000_001, 1000, 1024))
    assert at_edge.gb_seconds == 6_000_000_000
    assert at_edge.http.line("lambda_compute").amount == D(6_000_000_000) * D("0.0000166667")
    assert over.http.line("lambda_compute").amount - at_edge.http.line("lambda_compute").amount == D("0.000015")


def test_rest_edge_through_the_estimate():
    at_edge = cost.estimate(cost.make_inputs(333_000_000))
    over = cost.estimate(cost.make_inputs(333_000_001))
    assert at_edge.http.line("api_gateway_rest").billed == D("1165.50")
    assert over.http.line("api_gateway_rest").amount - at_edge.http.line("api_gateway_rest").amount == D("0.0000028")
    assert over.http.line("api_gateway_rest").working == "333,000,000 x $3.50 per million + 1 x $2.80 per million"


# ------------------------------------------------------------------------------------------------------------ free tier
def test_free_tier_only_when_asked():
    e = cost.estimate(cost.Inputs(free_tier=True))
    assert amounts(e, "http") == {"api_gateway_rest": D("31.50"), "lambda_requests": D("1.80"), "lambda_compute": D("0.00")}
    assert amounts(e, "sns")["sns_publish"] == D("4.50")
    assert (e.http.total, e.sns.total, e.saving) == (D("33.30"), D("6.30"), D("27.00"))
    assert cost.estimate().http.total == D("39.08")


def test_free_tier_covers_the_first_gb_seconds_only():
    e = cost.estimate(cost.make_inputs(10_000_000, 100, 512, free_tier=True))  # 500,000 GB-s, 400,000 free
    assert e.gb_seconds == 500_000
    assert e.http.line("lambda_compute").amount == D(100_000) * D("0.0000166667")
    assert e.http.line("lambda_compute").billed == D("1.67")


def test_free_tier_covers_small_volumes_entirely():
    e = cost.estimate(cost.make_inputs(500_000, free_tier=True))
    assert e.http.total == e.sns.total == e.saving == 0
    assert "within the 1,000,000 free a month" in e.http.line("api_gateway_rest").working


# ----------------------------------------------------------------------------------------------------------- the table
def test_with_table_adds_dynamodb_writes_to_both_paths():
    e = cost.estimate(cost.Inputs(with_table=True))
    assert amounts(e, "http")["dynamodb_writes"] == amounts(e, "sns")["dynamodb_writes"] == D("6.25")
    assert (e.http.total, e.sns.total, e.saving) == (D("45.33"), D("15.33"), D("30.00"))
    assert "dynamodb_writes" not in amounts(cost.estimate(), "http")


# ---------------------------------------------------------------------------------------------------------- price list
def test_price_list_names_region_date_and_sources():
    p = cost.load_prices()
    assert p.region == "us-east-1" and p.currency == "USD"
    # The date is data (refreshing the prices moves it): it must be a real day, not one in the future.
    assert isinstance(p.taken, _dt.date) and p.taken <= _dt.date.today()
    assert all(url.startswith("https://") for url in p.sources.values())
    assert set(cost.RATE_NAMES) <= set(p.rates)


def test_a_broken_price_list_is_an_error_not_a_crash():
    with pytest.raises(WorkshopError, match="invalid"):
        cost.parse_prices('region = "x"\n')
    text = cost.resources.files("workshop").joinpath("data", "prices.toml").read_text(encoding="utf-8")
    unordered = text.replace("up_to = 6_000_000_000", "up_to = 16_000_000_000")
    with pytest.raises(WorkshopError, match="tiers must rise"):
        cost.parse_prices(unordered)


# ------------------------------------------------------------------------------------------------------- worked answer
def test_worked_answer_shows_the_arithmetic():
    text = cost.worked_answer()
    for figure in ("$2.00", "125,000 GB-s", "$2.08", "$4.08", "$35.00", "$10.00", "$5.00", "$39.08", "$9.08", "$30.00"):
        assert figure in text, figure
    assert "10,000,000 x 0.1 s x 0.125 GB" in text


# ------------------------------------------------------------------------------------------------------------------ CLI
def test_cli_table_shows_both_paths_and_the_saving():
    result = run()
    assert result.exit_code == 0, result.output
    for text in ("API Gateway REST API", "SNS publishes", "SNS to Lambda delivery", "$35.00", "$5.00", "$2.08"):
        assert text in result.stdout, result.output
    assert "$39.08" in result.stdout and "$9.08" in result.stdout, result.output
    assert "saves $30.00 a month" in result.stdout, result.output


def test_cli_with_table_and_http_api():
    result = run("--with-table", "--http-api")
    assert result.exit_code == 0, result.output
    assert "DynamoDB on-demand writes" in result.stdout and "$6.25" in result.stdout, result.output
    assert "API Gateway HTTP API" in result.stdout and "$10.00" in result.stdout, result.output
    assert "$20.33" in result.stdout and "$15.33" in result.stdout, result.output


def test_cli_json_shape():
    result = run("--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)  # stdout carries the JSON and nothing else
    assert list(data) == ["inputs", "paths", "saving"]
    assert data["inputs"] == {
        "requests": 10_000_000,
        "duration_ms": 100,
        "memory_mb": 128,
        "arch": "x86_64",
        "free_tier": False,
        "http_api": False,
        "with_table": False,
        "region": "us-east-1",
        "prices_taken": cost.load_prices().taken.isoformat(),
    }
    assert list(data["paths"]) == ["http", "sns"]
    assert data["paths"]["http"] == {
        "components": {"api_gateway_rest": 35.0, "lambda_requests": 2.0, "lambda_compute": 2.08},
        "total": 39.08,
    }
    assert data["paths"]["sns"] == {
        "components": {"sns_publish": 5.0, "lambda_requests": 2.0, "lambda_compute": 2.08, "sns_lambda_delivery": 0.0},
        "total": 9.08,
    }
    assert data["saving"] == 30.0


def test_cli_json_other_inputs():
    result = run("--json", "--requests", "1e9", "--arch", "arm64", "--memory-mb", "1024", "--with-table", "--free-tier")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["inputs"]["requests"] == 1_000_000_000 and data["inputs"]["free_tier"] is True
    http = data["paths"]["http"]["components"]
    assert http["dynamodb_writes"] == 625.0
    assert http["api_gateway_rest"] == 3029.60  # first 1,000,000 free, then 332,000,000 x 3.50 + 667,000,000 x 2.80
    assert http["lambda_compute"] == round((100_000_000 - 400_000) * 0.0000133334, 2)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--requests", "-5"], "1 or more"),
        (["--requests", "0"], "1 or more"),
        (["--requests", "lots"], "1 or more"),
        (["--requests", "2.5"], "whole number"),
        (["--requests", "1e28"], "at most 1,000,000,000,000,000"),  # issue 13: past Decimal's precision, exit 3 before
        (["--requests", "1000000000000001"], "at most"),
        (["--duration-ms", "0"], "from 1 to 900000 ms"),
        (["--duration-ms", "900001"], "from 1 to 900000 ms"),
        (["--duration-ms", "fast"], "from 1 to 900000 ms"),
        (["--duration-ms", "nan"], "from 1 to 900000 ms"),
        (["--memory-mb", "127"], "from 128 to 10240 MB"),
        (["--memory-mb", "10241"], "from 128 to 10240 MB"),
        (["--memory-mb", "-128"], "from 128 to 10240 MB"),
        (["--arch", "sparc"], "x86_64 or arm64"),
    ],
)
def test_cli_bad_input_exits_2_naming_the_valid_range(args, expected):
    result = run(*args)
    assert result.exit_code == 2, result.output
    assert expected in result.output, result.output
    assert "Traceback" not in result.output, result.output
    assert len(result.output.strip().splitlines()) == 1, result.output


def test_cli_edges_are_accepted():
    for args in (["--memory-mb", "128"], ["--memory-mb", "10240"], ["--duration-ms", "1"], ["--duration-ms", "900000"]):
        result = run("--json", *args)
        assert result.exit_code == 0, result.output


def test_make_inputs_raises_bad_input():
    with pytest.raises(BadInput) as err:
        cost.make_inputs(memory_mb=64)
    assert err.value.exit_code == 2


def test_importing_the_command_does_not_load_the_calculator():
    code = "import sys, workshop.cli.cost; print('workshop.instructor.cost' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False", out


# ------------------------------------------------------------------------------------------------------------- property
flags = st.fixed_dictionaries(
    {"free_tier": st.booleans(), "http_api": st.booleans(), "with_table": st.booleans()}
)


@given(st.integers(1, 10**12), st.integers(0, 10**11), flags)
def test_totals_grow_with_requests_and_the_saving_is_never_negative(requests, more, flag):
    low = cost.estimate(cost.Inputs(requests=requests, **flag))
    high = cost.estimate(cost.Inputs(requests=requests + more, **flag))
    assert low.http.total <= high.http.total
    assert low.sns.total <= high.sns.total
    assert low.saving >= 0 and high.saving >= 0
