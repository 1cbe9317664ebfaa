"""`workshop ride` and `workshop logs`."""


from typing import Annotated

import typer

from workshop.cli.application import app
from workshop.cli.common import JsonOpt, WorkspaceOpt, open_session


@app.command()
def ride(
    ctx: typer.Context,
    count: Annotated[int, typer.Option("--count", "-n", help="How many rides to request (1-100).")] = 1,
    pickup: Annotated[str | None, typer.Option("--pickup", help="Pickup location as LAT,LON.", show_default=False)] = None,
    workspace_dir: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Request rides through the deployed API and follow each one into DynamoDB (which path recorded it, how fast)."""
    from workshop.cli import render
    from workshop.deploy import targets
    from workshop.instructor import rides

    where = rides.parse_request(count, pickup)
    session = open_session(ctx, workspace_dir)
    shown = rides.request_rides(session, count, where, on_ride=None if as_json else _print_ride)
    if as_json:
        public = [{k: v for k, v in r.items() if k != "fix"} for r in shown]
        render.print_json({"target": targets.resolve(session.state.target).to_json(), "rides": public})
    failures = [r for r in shown if not r["recorded"]]
    if count > 1 and not as_json:
        render.ride_spreads(rides.spreads(shown), len(shown) - len(failures), len(shown))
    if failures and not as_json:
        render.error_line(f"{len(failures)} of {len(shown)} rides did not make it into the table: {failures[0]['fix']}")
    raise typer.Exit(1 if failures else 0)


def _print_ride(j: dict) -> None:
    from workshop.cli import render

    out = render.out_console()
    if j["recorded"]:
        from workshop.instructor import rides

        out.print(f"[green]201[/] ride {render.esc(j['ride_id'])} ({render.esc(j['unicorn'])}): answered in {j['http_ms']} ms, "
                  f"in DynamoDB after {j['record_ms']} ms, recorded via [bold]{render.esc((j['path'] or 'unknown').upper())}[/] "
                  f"({render.esc(rides.how_known(j['evidence']))})", highlight=False)
    else:
        from rich.markup import escape

        out.print(f"[red]{escape(str(j['status']))}[/] {escape(j['problem'] or '')}", highlight=False)


@app.command()
def logs(
    ctx: typer.Context,
    function: Annotated[str, typer.Argument(help="RequestRide, PutRideRecord, PutRideRecordHttp or PutRideRecordSns.", show_default=False)],
    since: Annotated[str, typer.Option("--since", help="How far back: 30s, 5m, 2h, 1d.")] = "5m",
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing new lines until Ctrl-C.")] = False,
    workspace_dir: WorkspaceOpt = None,
) -> None:
    """Show a function's log lines from the target (CloudWatch Logs, or the emulator's copy of them)."""
    import datetime as _dt

    from workshop.cli import render
    from workshop.deploy import targets
    from workshop.instructor import rides

    seconds = rides.parse_since(since)
    session = open_session(ctx, workspace_dir)
    target = targets.resolve(session.state.target)
    name = rides.function_name(target, function)
    out = render.out_console()
    shown = 0
    try:
        for line in rides.log_lines(targets.connect(session.root, target), f"/aws/lambda/{name}", seconds, follow=follow):
            stamp = _dt.datetime.fromtimestamp(line.timestamp / 1000).strftime("%H:%M:%S.%f")[:-3]
            out.print(f"[dim]{stamp}[/] {render.esc(line.message)}", highlight=False, soft_wrap=True)
            shown += 1
    except KeyboardInterrupt:
        return
    if shown == 0 and (gone := rides.gone_function(session.root, target, function)):
        render.note(gone)
    elif shown == 0:
        render.note(f"No log lines from {name} in the last {since}. Request a ride (`workshop ride`) or widen `--since`.")
