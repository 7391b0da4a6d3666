"""``python -m tui.cli``: the same as the ``scorechat`` command."""

from tui.cli import main

main()
