"""``scorechat scores list|show`` and ``scorechat check``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tui.cli.common import Group, fail, print_json, print_rows, settings
from tui.cli.options import JsonOption, ScoreArgument, ScorecardOption
from tui.timefmt import counted

app = Group(help="List and show the scores of the workspace.")


@app.command("list")
def scores_list(as_json: JsonOption = False, scorecard: ScorecardOption = None) -> None:
    """List every score of the workspace."""
    from engine.workspace import Workspace

    workspace = Workspace(settings().workspace)
    refs = workspace.scores()
    if scorecard:
        card = workspace.resolve_scorecard(scorecard)
        refs = [r for r in refs if r.scorecard == card]
    if print_rows(refs, as_json, f"No scores in {workspace.root}."):
        return
    width = max(len(r.scorecard) for r in refs)
    for ref in refs:
        lines = counted(ref.lines, "line")
        typer.echo(f"{ref.scorecard:<{width}}  {ref.score}  [{ref.cls or '?'}, {lines}]")


@app.command("show")
def scores_show(score: ScoreArgument, scorecard: ScorecardOption = None) -> None:
    """Print a score's YAML."""
    from engine.workspace import Workspace, read_text

    ref = Workspace(settings().workspace).resolve_score(score, scorecard)
    typer.echo(read_text(ref.path), nl=False)


def check(
    target: Annotated[
        str, typer.Argument(help="A score (name, key, id, fragment) or a path to a YAML file.")
    ],
    scorecard: ScorecardOption = None,
    as_json: JsonOption = False,
) -> None:
    """Check a score's YAML and shape: warnings exit 0, invalid YAML exits 1."""
    from engine.errors import NotFoundError
    from engine.workspace import Workspace, read_text
    from engine.yaml_text import check_text

    path = Path(target).expanduser()
    named_a_file = target.endswith((".yaml", ".yml"))
    if not (named_a_file and path.is_file()):
        try:
            path = Workspace(settings().workspace).resolve_score(target, scorecard).path
        except NotFoundError:
            if not named_a_file:
                raise
            what = "is not a regular file" if path.exists() else "does not exist"
            raise NotFoundError(f"{target} {what}, and no score has that name.") from None
    result = check_text(read_text(path))
    if as_json:
        print_json(
            {
                "path": str(path),
                "ok": result.ok,
                "error": str(result.error) if result.error else None,
                "warnings": result.warnings,
            }
        )
        if not result.ok:
            raise typer.Exit(1)
        return
    if result.error:
        raise fail(f"{path.name}: {result.error}", 1)
    for warning in result.warnings:
        typer.echo(f"warning: {warning}")
    count = len(result.warnings)
    typer.echo(
        f"{path.name}: valid YAML"
        + (f", {count} warning{'s' * (count != 1)}." if count else ", no warnings.")
    )


#: Top-level commands of this group.
COMMANDS = {"check": check}
