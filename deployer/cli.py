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
    return click.option("--no-preflight", is_flag=True,
                        help="Skip loading the artifacts and running the handlers locally.")(func)


def run_preflight(state: Any) -> None:
    """Run each model's handler locally, as Snowflake will, before any target is touched."""
    from deployer.errors import ManifestError
    from deployer.preflight import preflight

    problems = preflight(state)
    if problems:
        raise ManifestError(problems)


@cli.command()
@manifest_options
@preflight_option
def validate(load: Callable[[], Any], no_preflight: bool) -> None:
    """Load, render and validate the manifest and the files it names; no connection."""
    state = load()
    if not no_preflight:
        run_preflight(state)
    n = len(state.models)
    click.echo(f"{state.manifest_path.name}: valid ({n} model{'s' if n != 1 else ''}, target {state.target.name})")


@cli.command()
def schema() -> None:
    """Print the manifest's JSON Schema."""
    from deployer.manifest.schema import schema_text

    click.echo(schema_text(), nl=False)


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
