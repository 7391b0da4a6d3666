"""The options and arguments more than one command takes, written once; their help
comes from the settings' table where a setting stands behind them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from engine.settings import PLACE, setting_help


def place_option(name: str, *short: str) -> Any:
    """A global option naming where things are, as the settings' table describes it."""
    place = PLACE[name]
    return typer.Option(place.flag, *short, envvar=place.env[0], help=place.help)


JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]
ScoreArgument = Annotated[
    str, typer.Argument(metavar="SCORE", help="Name, key, id or a fragment of the score.")
]
SessionArgument = Annotated[
    str, typer.Argument(metavar="SESSION", help="Session id (or a unique prefix).")
]
ScorecardOption = Annotated[
    str | None, typer.Option("--scorecard", "-c", help="The scorecard (its name or a fragment).")
]
ProviderOption = Annotated[
    str | None, typer.Option("--provider", "-p", help=setting_help("provider"))
]
ModelOption = Annotated[str | None, typer.Option("--model", "-m", help=setting_help("model"))]
ScriptOption = Annotated[Path | None, typer.Option("--script", help=setting_help("script"))]
