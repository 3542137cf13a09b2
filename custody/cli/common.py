"""What every `custody` command does when it cannot go on: one line on standard error and an
exit status, never a traceback."""

from __future__ import annotations

import sys

import click

from custody.domain.errors import DomainError


def stop(message: str) -> None:
    """A start-up or input problem: each line said as an error, exit status 2."""
    for line in message.splitlines():
        click.echo(f"error: {line}", err=True)
    sys.exit(2)


def fail(error: DomainError, exit_code: int = 2) -> None:
    """A refusal from the services, in their words."""
    click.echo(f"error: {error.message}", err=True)
    sys.exit(exit_code)
