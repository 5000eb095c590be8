"""The ``voltlab`` command line (typer + rich).

A command's module is imported when that command is looked up, not when ``voltlab`` starts:
the simulated lab needs PyBaMM, campaigns need PyTorch and BoTorch, the API needs FastAPI,
and importing all of them took about 8 s before any command could even parse its arguments.
``voltlab sim`` now starts without PyTorch or FastAPI, and ``voltlab run`` (unless ``--sim``) and
the operator commands without PyBaMM or FastAPI. ``voltlab --help`` lists every command with its summary, so it still imports them all.
"""

import importlib
from collections.abc import Iterator, Mapping
from typing import Any

import typer
from typer.core import TyperGroup

COMMANDS: dict[str, str] = {
    "run": "voltlab.cli_campaign:run",
    "demo": "voltlab.cli_demo:demo",
    "status": "voltlab.cli_operator:status",
    "pause": "voltlab.cli_operator:pause",
    "resume": "voltlab.cli_operator:resume",
    "abort": "voltlab.cli_operator:abort",
    "approve": "voltlab.cli_operator:approve",
    "veto": "voltlab.cli_operator:veto",
    "exclude": "voltlab.cli_operator:exclude",
    "manual": "voltlab.cli_operator:manual",
    "report": "voltlab.cli_data:report",
    "export": "voltlab.cli_data:export",
    "replay": "voltlab.cli_data:replay",
    "serve": "voltlab.cli_serve:serve",
    "hash-token": "voltlab.cli_serve:hash_token_command",
    "sim": "voltlab.cli_sim:sim",
}
"""Command name -> ``module:function`` implementing it, in the order help lists them."""


class LazyCommands(Mapping[str, Any]):
    """Click commands by name, each built from its function on first lookup."""

    def __init__(self, where: Mapping[str, str]) -> None:
        self._where = where
        self._built: dict[str, Any] = {}

    def __getitem__(self, name: str) -> Any:
        if name not in self._built:
            module, _, function = self._where[name].partition(":")
            single = typer.Typer(add_completion=False)
            single.command(name)(getattr(importlib.import_module(module), function))
            self._built[name] = typer.main.get_command(single)
        return self._built[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._where)

    def __len__(self) -> int:
        return len(self._where)


class LazyGroup(TyperGroup):
    """The ``voltlab`` group, looking its commands up in :data:`COMMANDS` on demand."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        self.commands = LazyCommands(COMMANDS)  # type: ignore[assignment]


app = typer.Typer(cls=LazyGroup, no_args_is_help=True)


@app.callback()
def voltlab() -> None:
    """voltlab: a self-driving lab for battery materials."""


if __name__ == "__main__":
    app()
