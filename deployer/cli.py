"""The `deployer` command line. Errors end as one message on stderr and exit 1."""

from __future__ import annotations

import functools
import sys
import traceback
from typing import Any, Callable

import click

from deployer import __version__
from deployer.errors import DeployerError

EXIT_ERROR = 1


class _Group(click.Group):
    """Turns every failure into one clear message and exit code 1."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        kwargs["standalone_mode"] = False
        debug = "--debug" in sys.argv
        try:
            return super().main(*args, **kwargs)
        except click.exceptions.Exit as exc:
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("error: aborted", err=True)
        except click.ClickException as exc:  # usage errors: exit 1, not click's 2 (2 means "changes")
            click.echo(f"error: {exc.format_message()}", err=True)
            if isinstance(exc, click.UsageError) and exc.ctx is not None:
                click.echo(f"Try '{exc.ctx.command_path} --help'.", err=True)
        except DeployerError as exc:
            if debug:
                traceback.print_exc()
            click.echo(_prefix(str(exc)), err=True)
        except KeyboardInterrupt:
            click.echo("error: interrupted", err=True)
        except Exception as exc:  # a bug: still one line, the traceback on --debug
            if debug:
                traceback.print_exc()
            click.echo(f"error: internal error: {type(exc).__name__}: {exc} (run with --debug for details)", err=True)
        sys.exit(EXIT_ERROR)


def _prefix(message: str) -> str:
    return message if ":" in message.split("\n", 1)[0] else f"error: {message}"


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="deployer")
@click.option("--debug", is_flag=True, help="Show Python tracebacks on errors.")
def cli(debug: bool) -> None:
    """Deploy machine-learning models to Snowflake as Python UDFs, declaratively."""


def manifest_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """-f/--file, -t/--target and --var, shared by every command that reads a manifest."""

    @click.option("-f", "--file", "file", default="deploy.yaml", show_default=True,
                  type=click.Path(dir_okay=True), help="The manifest.")
    @click.option("-t", "--target", default=None, help="A target of the manifest (default: default_target, else local).")
    @click.option("--var", "variables", multiple=True, metavar="KEY=VALUE", help="Override a manifest variable (repeatable).")
    @functools.wraps(func)
    def wrapper(file: str, target: str | None, variables: tuple[str, ...], **kwargs: Any) -> Any:
        from deployer.manifest.load import load_manifest

        overrides = {}
        for item in variables:
            key, sep, value = item.partition("=")
            if not sep or not key.strip():
                raise click.BadParameter(f"expected KEY=VALUE, got {item!r}", param_hint="--var")
            overrides[key.strip()] = value
        loader = functools.partial(load_manifest, file, target=target, overrides=overrides)
        return func(loader, **kwargs)

    return wrapper


def preflight_option(func: Callable[..., Any]) -> Callable[..., Any]:
    func = click.option("--no-isolated-env", is_flag=True,
                        help="Run handlers (preflight, local engine) in this Python, not in an "
                             "environment with the resolved package versions.")(func)
    return click.option("--no-preflight", is_flag=True,
                        help="Skip loading the artifacts and running the handlers locally.")(func)


def isolation(no_isolated_env: bool) -> None:
    """--no-isolated-env: this process and the local engines it opens use this Python."""
    if no_isolated_env:
        import os

        from deployer import envs

        os.environ[envs.ENV_FLAG] = "0"
        click.echo(f"note: --no-isolated-env: handlers run in this Python ({sys.executable}), whatever "
                   "versions the functions pin", err=True)


def resolve_packages(state: Any, session: Any = None) -> Any:
    """Each model's exact PACKAGES, from the target's offering (one query) or the snapshot."""
    from deployer import pins

    return pins.resolve_state(state, session)


def run_preflight(state: Any, resolution: Any = None) -> None:
    """Run each model's handler locally, as Snowflake will, before any target is touched."""
    from deployer.errors import ManifestError
    from deployer.preflight import run_preflight as check

    report = check(state, resolution=resolution)
    for note in report.notes:
        click.echo(f"note: {note}", err=True)
    if report.problems:
        raise ManifestError(report.problems)


@cli.command()
@manifest_options
@preflight_option
def validate(load: Callable[[], Any], no_preflight: bool, no_isolated_env: bool) -> None:
    """Load, render and validate the manifest and the files it names; no connection."""
    isolation(no_isolated_env)
    state = load()
    resolution = resolve_packages(state)  # no connection: against the channel snapshot
    if state.target.type != "local":
        from deployer import channel

        click.echo(f"note: packages resolved against {channel.load_snapshot().describe()}; plan asks "
                   f"target {state.target.name}", err=True)
    for warning in resolution.warnings:
        click.echo(f"warning: {warning}", err=True)
    if not no_preflight:
        run_preflight(state, resolution)
    n = len(state.models)
    click.echo(f"{state.manifest_path.name}: valid ({n} model{'s' if n != 1 else ''}, target {state.target.name})")


@cli.command()
def schema() -> None:
    """Print the manifest's JSON Schema."""
    from deployer.manifest.schema import schema_text

    click.echo(schema_text(), nl=False)


def _open(state: Any) -> Any:
    from deployer.targets import open_session

    return open_session(state)


@cli.command()
@manifest_options
@preflight_option
@click.option("--format", "fmt", type=click.Choice(["text", "json", "markdown", "sql"]), default="text",
              show_default=True, help="text for people, json for machines, markdown for pull requests, sql for auditors.")
@click.option("--out", "out", type=click.Path(dir_okay=False), help="Also save the plan as JSON, for apply --plan.")
@click.option("--detailed-exitcode", is_flag=True, help="Exit 0 when there are no changes, 2 when there are.")
@click.option("-v", "--verbose", is_flag=True, help="Text format: show each change's statements.")
def plan(load: Callable[[], Any], no_preflight: bool, no_isolated_env: bool, fmt: str, out: str | None,
         detailed_exitcode: bool, verbose: bool) -> None:
    """Show what apply would change on the target; change nothing."""
    from deployer import planfmt
    from deployer.workflow import make_plan

    isolation(no_isolated_env)
    state = load()
    with _open(state) as session:
        resolution = resolve_packages(state, session)  # one query; preflight runs these pins
        if not no_preflight:
            run_preflight(state, resolution)
        the_plan, _ = make_plan(state, session, resolution=resolution)
    if out:
        _write(out, planfmt.as_json(the_plan))
    click.echo(planfmt.text(the_plan, verbose=verbose) if fmt == "text" else planfmt.FORMATS[fmt](the_plan), nl=False)
    if detailed_exitcode and the_plan.has_changes:
        sys.exit(2)


def _write(path: str, text: str) -> None:
    try:
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(text)
    except OSError as exc:
        raise DeployerError(f"{path}: cannot write: {exc.strerror}") from None


def _saved_plan(path: str) -> dict:
    import json

    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except OSError as exc:
        raise DeployerError(f"{path}: cannot read the saved plan: {exc.strerror}") from None
    except ValueError:
        raise DeployerError(f"{path}: not a JSON plan (write one with plan --out)") from None
    if not isinstance(data, dict) or data.get("format_version") != "1.0" or "state_fingerprint" not in data:
        raise DeployerError(f"{path}: not a deployer plan of format_version 1.0")
    return data


def _confirm(auto_approve: bool, what: str) -> None:
    if auto_approve:
        return
    if not sys.stdin.isatty():
        raise DeployerError(f"refusing to {what} without confirmation: stdin is not a terminal (pass --auto-approve)")
    answer = click.prompt(f"Do you want to {what}? Only 'yes' will be accepted", default="", show_default=False)
    if answer.strip() != "yes":
        raise DeployerError(f"{what} cancelled")


@cli.command()
@manifest_options
@preflight_option
@click.option("--auto-approve", is_flag=True, help="Apply without asking for confirmation.")
@click.option("--plan", "plan_file", type=click.Path(dir_okay=False), help="Apply only if this saved plan still matches the target.")
def apply(load: Callable[[], Any], no_preflight: bool, no_isolated_env: bool, auto_approve: bool,
          plan_file: str | None) -> None:
    """Upload what changed, create or replace functions, run the smoke tests."""
    from deployer import planfmt
    from deployer.execute import execute
    from deployer.smoke import smoke_tests
    from deployer.workflow import make_plan

    isolation(no_isolated_env)
    saved = _saved_plan(plan_file) if plan_file else None
    state = load()
    with _open(state) as session:
        resolution = resolve_packages(state, session)  # before anything is uploaded
        if not no_preflight:
            run_preflight(state, resolution)
        the_plan, functions = make_plan(state, session, resolution=resolution)
        if saved is not None:
            if saved["state_fingerprint"] != the_plan.state_fingerprint:
                raise DeployerError(f"{plan_file}: plan is stale: the target changed since it was made; run plan again")
            if saved.get("changes") != the_plan.to_json()["changes"] or saved.get("target") != the_plan.target:
                raise DeployerError(f"{plan_file}: plan does not match the manifest any more; run plan again")
        click.echo(planfmt.text(the_plan), nl=False)
        if not the_plan.has_changes:
            return
        if saved is None:
            _confirm(auto_approve, f"apply these changes to target {state.target.name}")
        applied = execute(session, the_plan,
                          on_change=lambda c: click.echo(f"  {'/'.join(c.actions)} {c.type} {c.name}: done"))
        click.echo(f"Apply complete: {applied} change(s).")
        results = smoke_tests(session, state, functions, only=the_plan.replaced_functions)
    for result in results:
        click.echo(result.describe())
    failed = [r for r in results if not r.passed]
    if failed:
        raise DeployerError(f"{len(failed)} of {len(results)} smoke test(s) failed on target {state.target.name}")


@cli.command()
@manifest_options
@click.option("--auto-approve", is_flag=True, help="Destroy without asking for confirmation.")
def destroy(load: Callable[[], Any], auto_approve: bool) -> None:
    """Remove every function and artifact this manifest manages on the target, nothing else."""
    from deployer import planfmt
    from deployer.execute import execute
    from deployer.workflow import make_plan

    state = load()
    with _open(state) as session:
        the_plan, _ = make_plan(state, session, destroy=True)
        click.echo(planfmt.text(the_plan), nl=False)
        if not the_plan.has_changes:
            return
        _confirm(auto_approve, f"destroy these objects on target {state.target.name}")
        applied = execute(session, the_plan)
    click.echo(f"Destroy complete: {applied} object(s) removed.")


@cli.command()
@manifest_options
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def status(load: Callable[[], Any], fmt: str) -> None:
    """What is deployed: each managed function, its artifacts, when and from what, whether it drifted."""
    import json

    from deployer.status import collect, as_text

    state = load()
    with _open(state) as session:
        entries = collect(state, session)
    click.echo(json.dumps(entries, indent=2) if fmt == "json" else as_text(state, entries))


@cli.command()
@manifest_options
@click.option("--model", "model_name", help="Only this model (its SQL function name).")
def render(load: Callable[[], Any], model_name: str | None) -> None:
    """Print the exact SQL and handler code that apply would send."""
    from deployer import identifiers
    from deployer.plan import PutFile
    from deployer.workflow import render_all

    state = load()
    models = state.models
    if model_name is not None:
        try:
            wanted = identifiers.normalize(model_name)
        except identifiers.IdentifierError as exc:
            raise DeployerError(f"--model: {exc}") from None
        models = tuple(m for m in state.models if m.name == wanted)
        if not models:
            names = ", ".join(m.name for m in state.models)
            raise DeployerError(f"--model: no model named {model_name} (models: {names})")
    from deployer import pins

    resolution = pins.resolve_state(state, None, models)  # no connection: the channel snapshot
    click.echo(f"note: packages resolved against {pins.channel.load_snapshot().describe()}"
               + ("" if state.target.type == "local" else f"; plan asks target {state.target.name}"), err=True)
    for warning in resolution.warnings:
        click.echo(f"warning: {warning}", err=True)
    stage_sql, functions = render_all(state, models, resolution=resolution)  # only the chosen model's files are hashed
    click.echo(f"{stage_sql};\n")
    for function in functions:
        click.echo("".join(f"-- {line}\n" for line in pins.describe(state, pins.Resolution(
            {function.model.name: resolution.models[function.model.name]}))), nl=False)
        for staged in function.files:
            click.echo(PutFile(staged.local_path, staged.stage_dir).statement() + ";")
        click.echo(f"\n{function.sql};\n")


@cli.command()
@manifest_options
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table", show_default=True)
@click.argument("query")
def sql(load: Callable[[], Any], fmt: str, query: str) -> None:
    """Run one SQL statement on the target and print the rows."""
    from deployer.output import format_rows

    state = load()
    with _open(state) as session:
        result = session.run(query)
    click.echo(format_rows(result, fmt), nl=False)


@cli.group()
def packages() -> None:
    """The package versions targets offer (Snowflake's channel)."""


@packages.command()
@manifest_options
@click.option("--out", "out", type=click.Path(dir_okay=False),
              help="Write the snapshot here instead of the one in use ($DEPLOYER_CHANNEL_SNAPSHOT or deployer's own).")
def refresh(load: Callable[[], Any], out: str | None) -> None:
    """Rewrite the channel snapshot from a Snowflake target's INFORMATION_SCHEMA.PACKAGES."""
    from deployer import channel, pins

    state = load()
    if state.target.type != "snowflake":
        raise DeployerError(f"target {state.target.name} is {state.target.type}: it answers from the snapshot "
                            "itself; refresh reads a Snowflake target (-t TARGET)")
    names = {n for runtime in channel.load_snapshot().runtimes.values() for n in runtime}
    names |= pins.requested_names(state)
    with _open(state) as session:
        snapshot = channel.refresh(session, names, f"target {state.target.name} (connection "
                                   f"{state.target.connection or 'default'})", out)
    count = len({n for runtime in snapshot.runtimes.values() for n in runtime})
    click.echo(f"{snapshot.path}: {count} packages for Python {', '.join(sorted(snapshot.runtimes))}, "
               f"taken {snapshot.taken} from {snapshot.source}")


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
