"""The providers scorechat knows, in one table.

Each entry names a provider, where its factory lives (imported on first use, so that
listing providers imports no SDK), where its price table lives and what it can do.
Adding a provider is one module with a ``from_settings(settings, model)`` factory and
one line here. Nothing outside ``engine/providers/`` tests a provider's name.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine.providers.base import Provider
    from engine.settings import Settings


@dataclass(frozen=True)
class ProviderSpec:
    name: str
    factory: str
    """``module:function`` building the provider from the settings and a model name."""
    summary: str
    prices: str | None = None
    """``module:NAME`` of its price table (US dollars per million tokens), if it bills."""
    auto: bool = True
    """May be chosen when no provider is named (the scripted one never is)."""
    capabilities: frozenset[str] = frozenset()
    """``remote`` (needs the network), ``local`` (runs offline), ``thinking``,
    ``native-editor`` (the model has the text editor tool built in), ``text-protocol``
    (models without tools edit through fenced blocks), ``replay`` (plays a script)."""

    def load(self) -> Callable[[Settings, str | None], Provider]:
        module, _, name = self.factory.partition(":")
        return getattr(importlib.import_module(module), name)  # type: ignore[no-any-return]

    def price_table(self) -> dict[str, Any]:
        if self.prices is None:
            return {}
        module, _, name = self.prices.partition(":")
        return dict(getattr(importlib.import_module(module), name))


PROVIDERS: dict[str, ProviderSpec] = {
    spec.name: spec
    for spec in (
        ProviderSpec(
            "ollama", "engine.providers.ollama:from_settings",
            "A local model served by Ollama: fully offline.",
            capabilities=frozenset({"local", "thinking", "text-protocol"}),
        ),
        ProviderSpec(
            "anthropic", "engine.providers.anthropic:from_settings",
            "Claude through the Anthropic API (ANTHROPIC_API_KEY).",
            prices="engine.providers.anthropic:PRICES",
            capabilities=frozenset({"remote", "thinking", "native-editor"}),
        ),
        ProviderSpec(
            "scripted", "engine.providers.scripted:from_settings",
            "Replays a JSON script (--script): for demos and tests.",
            auto=False, capabilities=frozenset({"local", "replay"}),
        ),
    )
}  # fmt: skip


def provider_names() -> tuple[str, ...]:
    return tuple(PROVIDERS)
