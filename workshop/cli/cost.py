"""`workshop cost`: the module's cost question as a calculator (the core is workshop/cost.py)."""


from typing import Annotated

import typer

from workshop.cli.application import app
from workshop.cli.common import JsonOpt

# Options are read as text and checked by the core, so every bad value gets the same message naming its valid range.
RequestsOpt = Annotated[
    str, typer.Option("--requests", metavar="N", help="Requests a month (1 or more, at most 1e15; 1e7 and 10_000_000 work too).")
]
DurationOpt = Annotated[
    str, typer.Option("--duration-ms", metavar="D", help="Run time of one invocation in ms, 1-900000 (billed rounded up to 1 ms).")
]
MemoryOpt = Annotated[str, typer.Option("--memory-mb", metavar="M", help="Memory of the function in MB, 128-10240.")]
ArchOpt = Annotated[str, typer.Option("--arch", metavar="x86_64|arm64", help="Processor architecture of the function.")]
FreeTierOpt = Annotated[
    bool, typer.Option("--free-tier", help="Apply the monthly free tier (API Gateway's lasts 12 months after sign-up).")
]
HttpApiOpt = Annotated[bool, typer.Option("--http-api", help="Price an API Gateway HTTP API instead of a REST API.")]
WithTableOpt = Annotated[bool, typer.Option("--with-table", help="Add the DynamoDB on-demand writes to both paths.")]


@app.command("cost")
def cost_command(
    requests: RequestsOpt = "10000000",
    duration_ms: DurationOpt = "100",
    memory_mb: MemoryOpt = "128",
    arch: ArchOpt = "x86_64",
    free_tier: FreeTierOpt = False,
    http_api: HttpApiOpt = False,
    with_table: WithTableOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Compare what PutRideRecord costs a month behind API Gateway and behind SNS.

    The defaults are the module's question: 10,000,000 requests a month, 100 ms, 128 MB, x86_64, in us-east-1,
    without the free tier. Change any of them to see how the two paths move.
    """
    from workshop.cli import render
    from workshop.instructor import cost

    inputs = cost.make_inputs(
        requests, duration_ms, memory_mb, arch, free_tier=free_tier, http_api=http_api, with_table=with_table
    )
    estimate = cost.estimate(inputs)
    if as_json:
        render.print_json(estimate.to_json())
        return
    _show(estimate, render.out_console())


def _show(estimate, console) -> None:  # noqa: ANN001 - types live in modules imported lazily
    from workshop.cli import tables

    tables.cost(estimate)
