"""Widgets: they render what they are given and post messages up (never the store)."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message
from textual.widget import Widget


@dataclass
class WidgetMessage(Message):
    """A message about the widget that posts it: ``control`` is that widget (so
    ``@on(Type, "#id")`` selectors match it)."""

    widget: Widget

    @property
    def control(self) -> Widget:
        return self.widget
