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
    from rich.table import Table

    from workshop.instructor.cost import (
        _num,  # one number format for the table and the worked answer
    )

    i, prices = estimate.inputs, estimate.prices
    billed = "" if estimate.billed_ms == i.duration_ms else f" (billed {estimate.billed_ms:,} ms)"
    table = Table(
        title=f"PutRideRecord a month: {i.requests:,} requests, {_num(i.duration_ms)} ms{billed}, "
        f"{i.memory_mb:,} MB, {i.arch}",
        title_justify="left",
    )
    door = "API Gateway HTTP API" if i.http_api else "API Gateway REST API"
    table.add_column("Component")
    table.add_column("Arithmetic", style="dim")
    table.add_column(f"HTTP path\n{door} + Lambda", justify="right")
    table.add_column("SNS path\nSNS + Lambda", justify="right")
    for label, http_line, sns_line in estimate.rows():
        working = (http_line or sns_line).working
        table.add_row(label, working, _cell(http_line), _cell(sns_line))
    table.add_section()
    table.add_row("[bold]Total[/]", "", f"[bold]${estimate.http.total:,}[/]", f"[bold]${estimate.sns.total:,}[/]")
    console.print(table)
    console.print(
        f"The SNS path saves [bold green]${estimate.saving:,}[/] a month "
        f"({estimate.saving_percent}% of the HTTP path): Lambda costs the same, only the front door changes.",
        highlight=False,
    )
    notes = [
        f"Prices: {prices.region}, taken {prices.taken.isoformat()}, amounts rounded to the cent.",
        "Free tier applied." if i.free_tier else "No free tier (add --free-tier).",
    ]
    if not i.with_table:
        notes.append("DynamoDB writes left out, the same on both paths (add --with-table).")
    if not i.http_api:
        notes.append("Try --http-api for the cheaper API Gateway.")
    console.print(f"[dim]{' '.join(notes)}[/]", highlight=False)


def _cell(line) -> str:  # noqa: ANN001
    return "[dim]-[/]" if line is None else f"${line.billed:,}"
