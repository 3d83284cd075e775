"""What every `portico` command group is made of: plain help, and one error style.

This module, and every command module, imports only typer and the standard library at the
top: `portico --help` and `portico <group> --help` build the command tree and nothing else
(bench/cli.py holds them to it). A command imports the application, the adapters and the
database driver inside its function, when it runs.

Every error is one line on stderr, `portico: <what is wrong>; <what to do>`, with the exit
codes of docs/operations.md: the parser's own usage errors (an unknown option, a missing
value, a number out of range) exit 2 like a bad setting, never in a boxed panel. An
exception no command expected is a bug: one line naming it and exit 1, its traceback only
under `portico -v`.
"""

import sys
import traceback
from collections.abc import Sequence
from typing import Any, NoReturn

import typer

# The parser's classes, which typer vendors and does not re-export:
# tests/unit/test_cli_tree.py::test_the_parser_errors_are_where_the_tree_expects_them
from typer._click.core import Command, Context, Parameter
from typer._click.exceptions import NoArgsIsHelpError, NoSuchOption, UsageError
from typer.core import TyperCommand, TyperGroup

from entrypoints.cli.exit_codes import ExitCode

_verbose = [False]


def fail(message: str, code: ExitCode) -> NoReturn:
    """Print `portico: <message>` as one line on stderr and exit with `code`; no traceback.

    `message` is `<what is wrong>; <what to do>`; a line break in it (a driver's message
    quoted whole) becomes a space.
    """
    print(f"portico: {_one_line(message)}", file=sys.stderr)  # noqa: T201 - the CLI's error channel
    raise typer.Exit(int(code))


def with_hint(problem: str, hint: str) -> str:
    """`<problem>; <hint>`, unless the problem, written elsewhere, already says what to do."""
    return problem if "; " in problem else f"{problem}; {hint}"


def unexpected_error_line(exc: BaseException, *, traceback_shown: bool) -> str:
    """The one line for an exception no command expected: a bug, with how to report it."""
    first_lines = str(exc).strip().splitlines()
    what = f"{type(exc).__name__}: {first_lines[0]}" if first_lines else type(exc).__name__
    if traceback_shown:
        how = "report it with the traceback above"
    else:
        how = "rerun with -v for the traceback and report it"
    return f"unexpected error ({what}); this is a bug: {how}"


def _one_line(text: str) -> str:
    return " ".join(line.strip() for line in text.splitlines() if line.strip())


def set_verbose(verbose: bool) -> None:  # noqa: FBT001 - mirrors the flag
    """Remember `portico -v`: lifecycle lines at INFO, and a bug's traceback printed."""
    _verbose[0] = verbose


def lifecycle_level() -> str:
    """The log level of lifecycle lines: INFO under `-v`, else DEBUG."""
    return "INFO" if _verbose[0] else "DEBUG"


def usage_line(exc: UsageError, command_path: str) -> str:
    """The parser's error as one line, with where to read the usage."""
    if isinstance(exc, NoSuchOption) and exc.possibilities:
        what = f"{exc.message} (did you mean {', '.join(sorted(exc.possibilities))}?)"
    else:
        what = exc.format_message()
    what = " ".join(what.split()).rstrip(".")
    command = exc.ctx.command_path if exc.ctx is not None else command_path
    return f"{what}; see '{command} --help'"


def _command_path(group: TyperGroup, prog_name: str, args: Sequence[str]) -> str:
    """`portico db downgrade` for `db downgrade -x`: the commands named in `args`."""
    path: list[str] = [prog_name]
    command: Command = group
    for arg in args:
        if arg.startswith("-"):
            continue
        found = command.commands.get(arg) if isinstance(command, TyperGroup) else None
        if found is None:
            break
        path.append(arg)
        command = found
    return " ".join(path)


def _flags_default_to_false(params: list[Parameter]) -> list[Parameter]:
    """The parameters, with unset flags False and arguments shown by their name alone.

    typer converts a parameter's value with pydantic unless it is a flag's bool, and the
    `--help` and completion flags default to None: every command would import pydantic,
    which costs as much as importing typer (bench/cli.py). A command with options of
    other types still imports it when it runs.
    """
    for param in params:
        if getattr(param, "is_flag", False) and param.default is None:
            param.default = False
        if param.param_type_name == "argument":
            # the help names an argument by its metavar, with no `<str>` after it
            setattr(param, "display_type_rich", _no_type)  # noqa: B010 - an instance's method
    return params


def _no_type(ctx: Context) -> None:  # noqa: ARG001 - typer passes it by name
    return None


class PorticoCommand(TyperCommand):
    """A `portico` command."""

    def get_params(self, ctx: Context) -> list[Parameter]:
        """The parameters, flags defaulting to False."""
        return _flags_default_to_false(super().get_params(ctx))


class PorticoSubgroup(TyperGroup):
    """A `portico <group>`."""

    def get_params(self, ctx: Context) -> list[Parameter]:
        """The parameters, flags defaulting to False."""
        return _flags_default_to_false(super().get_params(ctx))


class PorticoGroup(TyperGroup):
    """The root group: runs the command tree and turns the parser's errors into one line."""

    def get_params(self, ctx: Context) -> list[Parameter]:
        """The parameters, flags defaulting to False."""
        return _flags_default_to_false(super().get_params(ctx))

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,  # noqa: FBT001, FBT002 - click's signature
        windows_expand_args: bool = True,  # noqa: FBT001, FBT002 - click's signature
        **extra: Any,
    ) -> Any:
        """Like click's standalone mode, with every error as one line."""
        if not standalone_mode:
            return super().main(
                args, prog_name, complete_var, standalone_mode, windows_expand_args, **extra
            )
        prog_name = prog_name or "portico"
        try:
            result = super().main(
                args,
                prog_name,
                complete_var,
                standalone_mode=False,
                windows_expand_args=windows_expand_args,
                **extra,
            )
        except NoArgsIsHelpError as exc:
            exc.show()
            sys.exit(int(ExitCode.CONFIGURATION))
        except UsageError as exc:
            path = _command_path(self, prog_name, sys.argv[1:] if args is None else args)
            print(f"portico: {usage_line(exc, path)}", file=sys.stderr)  # noqa: T201
            sys.exit(int(ExitCode.CONFIGURATION))
        except typer.TyperException as exc:
            path = _command_path(self, prog_name, sys.argv[1:] if args is None else args)
            line = with_hint(" ".join(exc.format_message().split()), f"see '{path} --help'")
            print(f"portico: {line}", file=sys.stderr)  # noqa: T201
            sys.exit(exc.exit_code)
        except typer.Abort:
            print("portico: aborted; nothing was changed", file=sys.stderr)  # noqa: T201
            sys.exit(int(ExitCode.FAILURE))
        except Exception as exc:  # noqa: BLE001 - a bug: one line, the traceback under -v
            if _verbose[0]:
                traceback.print_exception(exc, file=sys.stderr)
            line = unexpected_error_line(exc, traceback_shown=_verbose[0])
            print(f"portico: {_one_line(line)}", file=sys.stderr)  # noqa: T201
            sys.exit(int(ExitCode.FAILURE))
        sys.exit(result if isinstance(result, int) else int(ExitCode.OK))


class PorticoTyper(typer.Typer):
    """A typer app whose commands are PorticoCommands."""

    def command(self, *args: Any, **kwargs: Any) -> Any:
        """Register a command, of class PorticoCommand unless told otherwise."""
        kwargs.setdefault("cls", PorticoCommand)
        return super().command(*args, **kwargs)


def command_group(help_text: str) -> typer.Typer:
    """A `portico <group>` with plain help (no panels, no type noise) and defaults shown."""
    return PorticoTyper(
        cls=PorticoSubgroup,
        help=help_text,
        no_args_is_help=True,
        rich_markup_mode=None,
        pretty_exceptions_enable=False,
        context_settings={"show_default": True},
    )
