"""The global options (``--url``, ``--api-key``, ``--json``, ``--timeout``) accepted after the
command as well as before it: ``facereid compare a.jpg b.jpg --url X`` is what people type.

Each subcommand gets hidden copies of the options, parsed by click itself (so a value such as
``--subject --json`` stays a value); one given after the command overrides the one before it.
"""

from __future__ import annotations

from typing import Any

import click

# (flags, attribute of the CLI's Options, is a flag)
GLOBALS = (
    (("--url",), "url", False),
    (("--api-key",), "api_key", False),
    (("--json", "as_json"), "as_json", True),
    (("--timeout", "timeout_s"), "timeout_s", False),
)


def _override(attribute: str, is_flag: bool) -> Any:
    def callback(ctx: click.Context, _param: click.Parameter, value: Any) -> None:
        if value is None or (is_flag and not value):
            return
        if ctx.obj is not None:
            setattr(ctx.obj, attribute, value)

    return callback


def _options() -> list[click.Option]:
    made = []
    for decls, attribute, is_flag in GLOBALS:
        made.append(
            click.Option(
                list(decls),
                is_flag=is_flag,
                default=None if not is_flag else False,
                type=float if attribute == "timeout_s" else None,
                expose_value=False,
                hidden=True,
                callback=_override(attribute, is_flag),
            )
        )
    return made


def accept_after_command(group: click.Group) -> None:
    """Give every command under ``group`` (nested groups included) the global options."""
    for command in group.commands.values():
        command.params.extend(_options())
        if isinstance(command, click.Group):
            accept_after_command(command)
