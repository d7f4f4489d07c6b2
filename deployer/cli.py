"""The `deployer` command line. Errors end as one message on stderr and exit 1."""

from __future__ import annotations

import functools
import signal
import sys
from typing import Any, Callable

import click

from deployer import __version__, interrupts
from deployer.errors import DeployerError

EXIT_ERROR = 1


class _Group(click.Group):
    """Turns every failure into one clear message and exit code 1."""

    def main(self, args: Any = None, *rest: Any, **kwargs: Any) -> Any:
        kwargs["standalone_mode"] = False
        args, flags = global_flags(sys.argv[1:] if args is None else list(args))
        debug = "--debug" in flags
        from deployer import console

        console.set_no_color("--no-color" in flags)  # per invocation: tests run many in one process
        try:
            return super().main(args, *rest, **kwargs)
        except click.exceptions.Exit as exc:
            sys.exit(exc.exit_code)
        except click.Abort:
            if interrupts.received:  # click turns a signal met in Python code into Abort
                _interrupted(interrupts.received)
            click.echo("error: aborted", err=True)
        except click.ClickException as exc:  # usage errors: exit 1, not click's 2 (2 means "changes")
            click.echo(f"error: {exc.format_message()}", err=True)
            if isinstance(exc, click.UsageError) and exc.ctx is not None:
                click.echo(f"Try '{exc.ctx.command_path} --help'.", err=True)
        except DeployerError as exc:
            if interrupts.received:  # the signal ended a statement first: not an engine error
                _interrupted(interrupts.received)
            if debug:
                import traceback

                traceback.print_exc()
            click.echo(_prefix(exc), err=True)
        except KeyboardInterrupt as exc:
            _interrupted(getattr(exc, "signum", None) or interrupts.received or signal.SIGINT)
        except Exception as exc:  # a bug: still one line, the traceback on --debug
            if interrupts.received:
                _interrupted(interrupts.received)
            if debug:
                import traceback

                traceback.print_exc()
            click.echo(f"error: internal error: {type(exc).__name__}: {exc} (run with --debug for details)", err=True)
        sys.exit(EXIT_ERROR)


def _interrupted(signum: int) -> None:
    """SIGINT: `error: interrupted`, exit 130; SIGTERM/SIGHUP name the signal, exit 143/129."""
    shown = "" if signum == signal.SIGINT else f" ({interrupts.name(signum)})"
    click.echo(f"error: interrupted{shown}", err=True)
    sys.exit(interrupts.exit_code(signum))


GLOBAL_FLAGS = ("--debug", "--no-color")


def global_flags(args: list[str]) -> tuple[list[str], set[str]]:
    """Take --debug and --no-color from anywhere before `--`, as Terraform users expect:
    `deployer plan --debug` works like `deployer --debug plan`."""
    end = args.index("--") if "--" in args else len(args)
    found = {a for a in args[:end] if a in GLOBAL_FLAGS}
    return [a for i, a in enumerate(args) if i >= end or a not in GLOBAL_FLAGS], found


def _prefix(exc: DeployerError) -> str:
    """Every error starts with `error:`; each of a manifest's problems is one such line."""
    from deployer.errors import ManifestError

    lines = [str(p) for p in exc.problems] if isinstance(exc, ManifestError) else [str(exc)]
    return "\n".join(line if line.startswith("error:") else f"error: {line}" for line in lines)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="deployer")
@click.option("--debug", is_flag=True, help="Show Python tracebacks on errors (anywhere on the command line).")
@click.option("--no-color", is_flag=True, help="Plain text even on a terminal (as does NO_COLOR=1).")
def cli(debug: bool, no_color: bool) -> None:
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
        ctx = click.get_current_context(silent=True)

        def loader() -> Any:
            state = load_manifest(file, target=target, overrides=overrides)
            _started()
            seconds = ctx.meta.get("deployer.udf_timeout") if ctx is not None else None
            if seconds:  # --udf-timeout: for this command, over the target's setting
                from dataclasses import replace

                state = replace(state, target=replace(state.target, udf_timeout=seconds))
            return state

        from deployer.artifacts import one_pass

        with one_pass():  # each model file's real path looked up once per command
            return func(loader, **kwargs)

    return wrapper


def _no_cache(ctx: Any, param: Any, value: bool) -> None:
    if value:
        ctx.meta["deployer.preflight_cache"] = False


def _udf_timeout(ctx: Any, param: Any, value: float | None) -> None:
    if value is not None:
        ctx.meta["deployer.udf_timeout"] = value


def preflight_option(func: Callable[..., Any]) -> Callable[..., Any]:
    func = click.option("--udf-timeout", type=click.FloatRange(0, 86400, min_open=True), metavar="SECONDS",
                        expose_value=False, callback=_udf_timeout,
                        help="Seconds one batch of a model may run locally (preflight, local "
                             "engine) before it is stopped; over the target's udf_timeout "
                             "(defaults: 60 in preflight, 180 otherwise).")(func)
    func = click.option("--no-cache", is_flag=True, expose_value=False, callback=_no_cache,
                        help="Run preflight for every model, even those whose exact inputs passed before.")(func)
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


def grouped_notes(notes: list[str], models: set[str]) -> list[str]:
    """One line per distinct note: "M1, M2, M3 and 497 more: <note>" for the same note about
    many models (500 models preflighted with --no-isolated-env said the same thing 500 times)."""
    names: dict[tuple[bool, str], list[str]] = {}  # in order of first appearance
    for note in notes:
        model, sep, rest = note.partition(": ")
        about_model = bool(sep) and model in models
        who = names.setdefault((about_model, rest if about_model else note), [])
        if about_model and model not in who:
            who.append(model)
    out = []
    for (about_model, text), who in names.items():
        if about_model:
            text = ", ".join(who[:3]) + (f" and {len(who) - 3} more" if len(who) > 3 else "") + ": " + text
        out.append(text)
    return out


def run_preflight(state: Any, resolution: Any = None, steps: Any = None) -> None:
    """Run each model's handler locally, as Snowflake will, before any target is touched."""
    from deployer.console import Steps
    from deployer.errors import ManifestError
    from deployer.preflight import run_preflight as check

    steps = steps or Steps()
    ctx = click.get_current_context(silent=True)
    use_cache = ctx is None or ctx.meta.get("deployer.preflight_cache", True)
    with steps.step("running preflight"):
        report = check(state, resolution=resolution, progress=steps.say, on_step=steps.update, use_cache=use_cache)
    for note in grouped_notes(report.notes, {m.name for m in state.models}):
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
@click.argument("artifacts", nargs=-1, required=True, type=click.Path())
@click.option("-f", "--file", "file", default="deploy.yaml", show_default=True, type=click.Path(dir_okay=False),
              help="The manifest to write; never overwritten.")
@click.option("--database", default="ML", show_default=True)
@click.option("--schema", "schema_name", default="DATA_MODEL", show_default=True)
@click.option("--stage", default="MLOPS_STAGE", show_default=True)
@preflight_option
def init(artifacts: tuple[str, ...], file: str, database: str, schema_name: str, stage: str,
         no_preflight: bool, no_isolated_env: bool) -> None:
    """Write a commented deploy.yaml from the ARTIFACTS (Keras, scikit-learn, MLflow), then validate it."""
    from pathlib import Path

    from deployer import console
    from deployer import init as starter
    from deployer.manifest.load import load_manifest
    from deployer.manifest.schema import schema_text

    _started()  # no manifest to load first: inspecting the artifacts may load frameworks
    target = Path(file)
    if target.exists():
        raise DeployerError(f"{file} exists; init never overwrites a manifest (pass -f NEW.yaml)")
    isolation(no_isolated_env)
    root = target.resolve().parent
    steps = console.Steps()
    found = []
    for artifact in artifacts:
        with steps.step(f"inspecting {artifact}"):
            found.append(starter.inspect(Path(artifact), root))
    names = [f.name for f in found]
    if len(set(names)) != len(names):
        raise DeployerError(f"two artifacts give the same function name ({', '.join(names)}); rename a file")
    text = starter.manifest_text(found, database=database, schema=schema_name, stage=stage)
    schema_path = root / starter.SCHEMA_FILE  # for the editor's completion (the file's first line)
    schema_path.parent.mkdir(parents=True, exist_ok=True)
    schema_path.write_text(schema_text(), encoding="utf-8")
    try:
        with open(target, "x", encoding="utf-8") as fh:
            fh.write(text)
    except OSError as exc:
        raise DeployerError(f"{file}: cannot write: {exc.strerror}") from None
    click.echo(f"{file}: written ({len(found)} model{'s' if len(found) != 1 else ''})")
    for f in found:
        click.echo(f"  {f.name}: {f.framework}, {len(f.features)} features -> {f.output}; "
                   f"smoke test expects {f.expect!r}")
    try:
        state = load_manifest(str(target))
        resolution = resolve_packages(state)
        if not no_preflight:
            run_preflight(state, resolution, steps)
    except DeployerError as exc:
        lines = [f"{file} was written but does not validate (edit it, then run deployer validate):",
                 *str(exc).splitlines()]
        raise DeployerError("\n".join(f"error: {line}" for line in lines)) from None
    click.echo(f"{file}: valid; next: deployer plan")


@cli.command()
def schema() -> None:
    """Print the manifest's JSON Schema."""
    from deployer.manifest.schema import schema_text

    click.echo(schema_text(), nl=False)


def _open(state: Any, command: str, log_sql: str | None = None) -> Any:
    from deployer.targets import open_session

    return open_session(state, command, log_sql)


def log_sql_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--log-sql", "log_sql", type=click.Path(dir_okay=False), default=None,
                        help="Append one JSON object per statement sent to the target to this file.")(func)


def verify_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--verify", is_flag=True,
                        help="Fetch and hash every staged file against the digest in its path (one GET each).")(func)


def candidate_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--no-candidate", is_flag=True,
                        help="Replace functions directly, without first testing a candidate beside them.")(func)


@cli.command()
@manifest_options
@preflight_option
@click.option("--format", "fmt", type=click.Choice(["text", "json", "markdown", "sql"]), default="text",
              show_default=True, help="text for people, json for machines, markdown for pull requests, sql for auditors.")
@click.option("--out", "out", type=click.Path(dir_okay=False), help="Also save the plan as JSON, for apply --plan.")
@click.option("--detailed-exitcode", is_flag=True, help="Exit 0 when there are no changes, 2 when there are.")
@click.option("-v", "--verbose", is_flag=True,
              help="Text format: show each change's statements, and the handler diff of each update.")
@click.option("--refresh", is_flag=True, help="Also DESCRIBE each managed function, to catch hand edits that kept its comment.")
@candidate_option
@verify_option
@log_sql_option
def plan(load: Callable[[], Any], no_preflight: bool, no_isolated_env: bool, fmt: str, out: str | None,
         detailed_exitcode: bool, verbose: bool, refresh: bool, no_candidate: bool, verify: bool,
         log_sql: str | None) -> None:
    """Show what apply would change on the target; change nothing."""
    from deployer import console, planfmt
    from deployer.workflow import make_plan

    isolation(no_isolated_env)
    steps = console.Steps()
    with steps.step("reading the manifest"):
        state = load()
    with _open(state, "plan", log_sql) as session:
        with steps.step("resolving packages"):
            resolution = resolve_packages(state, session)  # one query; preflight runs these pins
        if not no_preflight:
            run_preflight(state, resolution, steps)
        with steps.step(f"reading the state of target {state.target.name}"):
            the_plan, functions, current = make_plan(state, session, refresh=refresh, candidates=not no_candidate,
                                                     resolution=resolution, verify=verify)
        diffs = {}
        if (verbose and fmt == "text") or fmt == "markdown":
            from deployer.diffs import handler_diffs

            with steps.step("reading the handlers of updated functions"):
                diffs = handler_diffs(session, state, the_plan, functions, current)
    if out:
        _write(out, planfmt.as_json(the_plan))
    if fmt == "text":
        shown = planfmt.text(the_plan, verbose=verbose, diffs=diffs, color=console.color_enabled())
    elif fmt == "markdown":
        shown = planfmt.markdown(the_plan, diffs=diffs)
    else:
        shown = planfmt.FORMATS[fmt](the_plan)
    click.echo(shown, nl=False)
    if detailed_exitcode and the_plan.has_changes:
        sys.exit(2)


def _color() -> bool:
    from deployer import console

    return console.color_enabled()


def _write(path: str, text: str) -> None:
    try:
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(text)
    except OSError as exc:
        raise DeployerError(f"{path}: cannot write: {exc.strerror}") from None


def _confirm(auto_approve: bool, what: str) -> None:
    if auto_approve:
        return
    if not sys.stdin.isatty():
        raise DeployerError(f"refusing to {what} without confirmation: stdin is not a terminal (pass --auto-approve)")
    answer = click.prompt(f"Do you want to {what}? Only 'yes' will be accepted", default="", show_default=False)
    if answer.strip() != "yes":
        raise DeployerError(f"{what} cancelled")


def _carry_out(session: Any, state: Any, the_plan: Any, verb: str, steps: Any = None) -> int:
    """Check the target has what the plan needs, then run it, showing each step, test and its time."""
    import time

    from deployer import console, planfmt, readiness
    from deployer.execute import execute

    if the_plan.tests_on_target:
        readiness.check_warehouse(session, state)
    steps = steps or console.Steps()
    color = console.color_enabled()
    started = [time.perf_counter()]

    def done(change: Any) -> None:
        took = time.perf_counter() - started[0]
        steps.tally(change.type, f"{change.type} {change.name}", took)
        symbol = console.style(f"{SYMBOLS_TEXT[change.actions]}", planfmt.COLORS[change.actions]) if color else \
            SYMBOLS_TEXT[change.actions]
        steps.echo(f"  {symbol} {change.type} {change.name}: {verb} ({console.seconds(took)})")
        started[0] = time.perf_counter()

    def tested(result: Any) -> None:
        line = f"    {result.describe()}"
        steps.echo(console.style(line, "green" if result.passed else "bold red") if color else line)

    shown = console.ShowUploads(session, steps, state.root, steps.echo)
    with steps.step("applying", timed=False):  # each change is timed on its own
        return execute(shown, the_plan, on_change=done, on_test=tested,
                       on_op=lambda change, op: steps.update(f"{change.type} {change.name}: {op.op}"))


SYMBOLS_TEXT = {("create",): "+", ("update",): "~", ("delete",): "-", ("delete", "create"): "-/+"}


@cli.command()
@manifest_options
@preflight_option
@click.option("--auto-approve", is_flag=True, help="Apply without asking for confirmation.")
@click.option("--plan", "plan_file", type=click.Path(dir_okay=False), help="Apply only if this saved plan still matches the target.")
@candidate_option
@verify_option
@log_sql_option
def apply(load: Callable[[], Any], no_preflight: bool, no_isolated_env: bool, auto_approve: bool,
          plan_file: str | None, no_candidate: bool, verify: bool, log_sql: str | None) -> None:
    """Upload what changed; test each new function as a candidate, then replace the live one."""
    from deployer import console, lock, planfmt, readiness
    from deployer.plan import check_saved, read_saved
    from deployer.targets import set_query_tag
    from deployer.workflow import make_plan, start_ahead

    isolation(no_isolated_env)
    saved = read_saved(plan_file) if plan_file else None
    steps = console.Steps()
    with steps.step("reading the manifest"):
        state = load()
    with _open(state, "apply", log_sql) as session:
        readiness.check_schema(session, state)
        with steps.step("resolving packages"):
            resolution = resolve_packages(state, session)  # before anything is uploaded
        start_ahead(session, state, resolution)  # a worker's start overlaps what comes before its first test
        if not no_preflight:
            run_preflight(state, resolution, steps)
        with lock.held(session, state, "apply"):
            with steps.step(f"reading the state of target {state.target.name}"):
                the_plan, _, _ = make_plan(state, session, candidates=not no_candidate, resolution=resolution,
                                           verify=verify)
            set_query_tag(session, state, "apply", the_plan.state_fingerprint)
            if saved is not None:
                check_saved(plan_file, saved, the_plan)
            click.echo(planfmt.text(the_plan, color=console.color_enabled()), nl=False)
            if not the_plan.has_changes:
                return
            if saved is None:
                _confirm(auto_approve, f"apply these changes to target {state.target.name}")
            applied = _carry_out(session, state, the_plan, "done", steps)
    click.echo(console.style(f"Apply complete: {applied} change(s).", "bold green") if console.color_enabled()
               else f"Apply complete: {applied} change(s).")
    # Where the time went, step by step (the confirmation prompt is not a step).
    click.echo(f"Time: {console.seconds(sum(t for _, t in steps.times))} ({steps.summary()})")


@cli.command()
@manifest_options
@click.option("--auto-approve", is_flag=True, help="Destroy without asking for confirmation.")
@log_sql_option
def destroy(load: Callable[[], Any], auto_approve: bool, log_sql: str | None) -> None:
    """Remove every function and artifact this manifest manages on the target, nothing else."""
    from deployer import lock, planfmt
    from deployer.execute import execute
    from deployer.targets import set_query_tag
    from deployer.workflow import make_plan

    state = load()
    with _open(state, "destroy", log_sql) as session, lock.held(session, state, "destroy"):
        the_plan, _, _ = make_plan(state, session, destroy=True)
        set_query_tag(session, state, "destroy", the_plan.state_fingerprint)
        click.echo(planfmt.text(the_plan, color=_color()), nl=False)
        if not the_plan.has_changes:
            return
        _confirm(auto_approve, f"destroy these objects on target {state.target.name}")
        applied = execute(session, the_plan)
    click.echo(f"Destroy complete: {applied} object(s) removed.")


@cli.command()
@manifest_options
@click.argument("model", required=False)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@log_sql_option
def history(load: Callable[[], Any], model: str | None, fmt: str, log_sql: str | None) -> None:
    """The releases of each model (or MODEL) on the target, newest first, marking the live one."""
    import json

    from deployer import rollback as rb

    state = load()
    with _open(state, "history", log_sql) as session:
        entries = rb.history(state, session, model)
    click.echo(json.dumps(entries, indent=2) if fmt == "json" else rb.history_text(state, entries))


@cli.command()
@manifest_options
@click.argument("model")
@click.option("--to", "release_id", help="The release to go back to (default: the one before the live one).")
@click.option("--auto-approve", is_flag=True, help="Roll back without asking for confirmation.")
@candidate_option
@log_sql_option
def rollback(load: Callable[[], Any], model: str, release_id: str | None, auto_approve: bool,
             no_candidate: bool, log_sql: str | None) -> None:
    """Re-create MODEL's function from an earlier release, through the same candidate check; no upload."""
    from deployer import lock, planfmt, readiness
    from deployer import rollback as rb
    from deployer.targets import set_query_tag

    state = load()
    with _open(state, "rollback", log_sql) as session:
        readiness.check_schema(session, state)
        with lock.held(session, state, "rollback"):
            the_plan, release = rb.plan_rollback(state, session, model, release_id, candidates=not no_candidate)
            set_query_tag(session, state, "rollback", the_plan.state_fingerprint)
            click.echo(planfmt.text(the_plan, color=_color()), nl=False)
            _confirm(auto_approve, f"roll {release.model} back to release {release.id} on target {state.target.name}")
            _carry_out(session, state, the_plan, "rolled back")
    click.echo(f"Rollback complete: {release.model} is release {release.id} again. The manifest still declares "
               f"another version: `deployer plan` shows the difference until the manifest is changed to match.")


@cli.command()
@manifest_options
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--detailed-exitcode", is_flag=True,
              help="Exit 0 when everything is deployed and in sync, 2 when anything drifted or is missing.")
@verify_option
@log_sql_option
def status(load: Callable[[], Any], fmt: str, detailed_exitcode: bool, verify: bool, log_sql: str | None) -> None:
    """What is deployed: each managed function, its artifacts, when and from what, whether it drifted."""
    import json

    from deployer import console
    from deployer.status import as_text, collect, out_of_sync

    state = load()
    with _open(state, "status", log_sql) as session, \
            console.Steps().step(f"reading the state of target {state.target.name}"):
        entries = collect(state, session, verify=verify)
    click.echo(json.dumps(entries, indent=2) if fmt == "json" else as_text(state, entries, console.color_enabled()))
    if detailed_exitcode and out_of_sync(entries):
        sys.exit(2)


@cli.command()
@manifest_options
@click.argument("model", required=False)
@click.option("--since", "since_text", default="1h", show_default=True, metavar="DURATION",
              help="Only records newer than this: 30s, 15m, 1h, 2d, 1w.")
@click.option("--level", default=None, metavar="LEVEL",
              help="Only records at this severity or above: trace, debug, info, warn, error, fatal.")
@click.option("--follow", is_flag=True, help="Keep printing new records until Ctrl-C.")
@click.option("--limit", default=1000, show_default=True, type=click.IntRange(1, 100_000),
              help="At most this many records per read.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@log_sql_option
def logs(load: Callable[[], Any], model: str | None, since_text: str, level: str | None, follow: bool,
         limit: int, fmt: str, log_sql: str | None) -> None:
    """Log records and errors of each model's function (or MODEL's), from the target's event table."""
    import json
    import time
    from datetime import timedelta

    from deployer import console
    from deployer import logs as lg

    after = lg.since(lg.parse_since(since_text))
    wanted_level = lg.parse_level(level) if level else None
    state = load()
    names = [_model_named(state, model).name] if model else [m.name for m in state.models]
    color = console.color_enabled()

    def show(records: list) -> None:
        for record in records:
            click.echo(json.dumps(record.to_json(), default=str) if fmt == "json" else lg.line(record, color))

    local = state.target.type == "local"
    tail = lg.Tail(after, timedelta(0) if local else lg.INGEST_DELAY)
    with _open(state, "logs", log_sql) as session, console.Steps().step("reading the event table"):
        table = lg.event_table(session)
        records = tail.new(lg.read(session, state, table, names, after=after, level=wanted_level, limit=limit))
    show(records)
    if not records and not follow:
        click.echo(f"note: no records in {table} for {', '.join(names)} since {since_text} ago"
                   + (f" at {wanted_level} or above" if wanted_level else "")
                   + ("" if local else
                      "; Snowflake records only what LOG_LEVEL lets through (log_level in the manifest) "
                      "and ingests events within a minute or two"), err=True)
    if not follow:
        return

    def poll(session: Any) -> None:
        time.sleep(2)
        show(tail.new(lg.read(session, state, table, names, after=tail.since(), level=wanted_level, limit=limit)))

    try:
        if local:
            while True:  # reopened for each read, so the engine's lock never blocks other commands
                with _open(state, "logs", log_sql) as session:
                    poll(session)
        with _open(state, "logs", log_sql) as session:  # one login to Snowflake for the whole follow
            while True:
                poll(session)
    except KeyboardInterrupt as exc:
        # Ctrl-C is how --follow ends (exit 0); SIGTERM or SIGHUP ends it like any command (128+N)
        if getattr(exc, "signum", signal.SIGINT) != signal.SIGINT:
            raise


def _model_named(state: Any, name: str) -> Any:
    from deployer import identifiers

    try:
        wanted = identifiers.normalize(name)
    except identifiers.IdentifierError as exc:
        raise DeployerError(f"MODEL: {exc}") from None
    for m in state.models:
        if m.name == wanted:
            return m
    raise DeployerError(f"no model named {name} (models: {', '.join(m.name for m in state.models)})")


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
            click.echo(PutFile(staged.local_path, staged.stage_dir, root=state.root).statement() + ";")
        click.echo(f"\n{function.sql};\n")


@cli.command()
@manifest_options
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table", show_default=True)
@click.argument("query")
@log_sql_option
def sql(load: Callable[[], Any], fmt: str, query: str, log_sql: str | None) -> None:
    """Run one SQL statement on the target and print the rows."""
    from deployer.output import format_rows

    state = load()
    with _open(state, "sql", log_sql) as session:
        result = session.run(query)
    click.echo(format_rows(result, fmt), nl=False)


@cli.command()
@manifest_options
@click.option("--force", is_flag=True, help="Break the lock even though its holder may still be running.")
@log_sql_option
def unlock(load: Callable[[], Any], force: bool, log_sql: str | None) -> None:
    """Break a stale deployment lock left on a Snowflake target by a process that died."""
    from deployer import lock

    state = load()
    if state.target.type == "local":
        click.echo(f"Target {state.target.name} is local: its file lock is freed when its holder exits; nothing to unlock.")
        return
    with _open(state, "unlock", log_sql) as session:
        held = lock.read(session, state)
        if held is None:
            click.echo(f"Target {state.target.name} is not locked.")
            return
        who = lock.describe_holder(held)
        if not force:
            raise DeployerError(f"target {state.target.name} is locked by {who}; pass --force to break the lock "
                                "if that deployment is no longer running")
        lock.release(session, state)
    click.echo(f"Lock of target {state.target.name} held by {who} broken.")


@cli.command()
@manifest_options
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; anything but loopback exposes the engine to the network.")
@click.option("--port", default=8910, show_default=True, type=click.IntRange(0, 65535),
              help="Port to listen on; 0 picks a free one.")
def serve(load: Callable[[], Any], host: str, port: int) -> None:
    """Serve the local target's engine to Snowflake clients (connector, Snowpark, dbt) until Ctrl-C."""
    from deployer.server.cli import serve as run_server

    state = load()
    if state.target.type != "local":
        raise DeployerError(f"target {state.target.name} is of type {state.target.type}; "
                            "serve needs a local target (pass -t with one)")
    run_server(state.target.path, state.database, state.schema, host, port, click.echo)


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
    with _open(state, "packages", log_sql=None) as session:
        snapshot = channel.refresh(session, names, f"target {state.target.name} (connection "
                                   f"{state.target.connection or 'default'})", out)
    count = len({n for runtime in snapshot.runtimes.values() for n in runtime})
    click.echo(f"{snapshot.path}: {count} packages for Python {', '.join(sorted(snapshot.runtimes))}, "
               f"taken {snapshot.taken} from {snapshot.source}")


@cli.group()
def engine() -> None:
    """Inspect and repair a local target's engine folder."""


def _engine_folder(load: Callable[[], Any]) -> Any:
    state = load()
    if state.target.type != "local":
        raise DeployerError(f"target {state.target.name} is not local: engine check and repair "
                            "work on a local target's folder (pass -t with one)")
    return state.target.path


def _report(findings: list, folder: Any) -> None:
    for finding in findings:
        click.echo(str(finding))
    if findings:
        raise DeployerError(f"the local engine at {folder} has {len(findings)} problem(s)")
    click.echo(f"The local engine at {folder} is healthy.")


@engine.command("check")
@manifest_options
def engine_check(load: Callable[[], Any]) -> None:
    """Report what is wrong with the local engine's files; exit 1 if anything is."""
    from deployer.engine import doctor

    folder = _engine_folder(load)
    _report(doctor.check(folder), folder)


@engine.command("repair")
@manifest_options
def engine_repair(load: Callable[[], Any]) -> None:
    """Rebuild what can be rebuilt (catalog, event table); move unreadable files aside, never delete them."""
    from deployer.engine import doctor

    folder = _engine_folder(load)
    done, left = doctor.repair(folder)
    for line in done:
        click.echo(f"repaired: {line}")
    _report(left, folder)


_STARTING: list[bool] = []  # [True] from main() until the command has loaded its manifest


def _started() -> None:
    """The command's startup is over (the manifest and the modules that read it are loaded):
    keep what is alive now out of every later collection, and collect again as usual."""
    if _STARTING:
        import gc

        _STARTING.clear()
        gc.freeze()
        gc.enable()


def main() -> None:
    # Startup imports allocate tens of thousands of long-lived objects and almost no garbage:
    # collecting during them only rescans the same modules (~40 ms of a no-op plan). Only for
    # a real process: tests run many commands in one, and frozen objects are never freed.
    import gc

    gc.disable()
    _STARTING.append(True)
    interrupts.install()
    cli()


if __name__ == "__main__":
    main()
