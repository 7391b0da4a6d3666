"""The scorechat engine: workspace, editor tool, store, providers and the agent turn loop.

This package never imports the user interface (``textual`` or ``tui``); front ends
consume the typed events it emits.
"""

__version__ = "0.1.0"
