"""Model providers and how one is chosen.

Choice: an explicit provider (flag, env or config); else Ollama if it answers; else
Anthropic if ``ANTHROPIC_API_KEY`` is set; else ``NoModelError`` saying how to connect one.
The scripted provider is never chosen silently.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING

from engine.errors import ProviderError, UsageError
from engine.providers.base import Provider, TransientError
from engine.providers.registry import PROVIDERS, ProviderSpec
from engine.redact import redact

if TYPE_CHECKING:
    import httpx

    from engine.settings import Settings

__all__ = [
    "PROVIDERS", "NoModelError", "Provider", "ProviderSpec", "TransientError", "choose_provider",
    "make_provider",
]  # fmt: skip

HOW_TO_CONNECT = (
    "No model is available: start Ollama and pull a model (`ollama serve`, then "
    "`ollama pull qwen3:8b`), or set ANTHROPIC_API_KEY to use Claude."
)


class NoModelError(ProviderError):
    """Neither Ollama nor Anthropic can be used; the message says how to connect one."""


def make_provider(settings: Settings, name: str, model: str | None = None) -> Provider:
    """Build a provider by name (see ``registry.PROVIDERS``) without contacting it."""
    spec = PROVIDERS.get(name)
    if spec is None:
        raise UsageError(f"Unknown provider {name!r}: choose one of {', '.join(PROVIDERS)}.")
    return spec.load()(settings, model or settings.model)


async def http_client(timeout: float) -> httpx.AsyncClient:
    """A client for asking a model server, built off the event loop: importing httpx and
    loading the certificate store it sets up take tens of milliseconds, which the app's
    first keys, typed while the server is probed at launch, would otherwise wait for."""

    def build() -> httpx.AsyncClient:
        import httpx

        return httpx.AsyncClient(timeout=timeout, trust_env=False)

    return await asyncio.to_thread(build)


async def ollama_models(host: str, timeout: float = 0.75) -> list[str] | None:
    """The models an Ollama server lists, or ``None`` when it does not answer."""
    client = await http_client(timeout)
    import httpx  # loaded by now, off the loop

    try:
        async with client:
            response = await client.get(host.rstrip("/") + "/api/tags")
            response.raise_for_status()
            return [m.get("model") or m.get("name") for m in response.json().get("models", [])]
    except (httpx.HTTPError, ValueError):
        return None


@dataclass(frozen=True)
class ModelInfo:
    """What the model picker shows about a model."""

    capabilities: tuple[str, ...] = ()
    """``tools``, ``thinking``... (Ollama's ``/api/show``)."""
    context: int | None = None

    def label(self) -> str:
        bits = []
        if self.context:
            bits.append(f"{self.context // 1000:,}k context")
        if self.capabilities:
            bits.append("tools" if "tools" in self.capabilities else "no tools: text edits")
            if "thinking" in self.capabilities:
                bits.append("thinking")
        return f" ({', '.join(bits)})" if bits else ""


async def ollama_capabilities(
    host: str, names: list[str], timeout: float = 2.0
) -> dict[str, ModelInfo]:
    """What each Ollama model can do (``/api/show``: capabilities and context length)."""
    client = await http_client(timeout)
    import httpx  # loaded by now, off the loop

    found: dict[str, ModelInfo] = {}
    try:
        async with client:
            for name in names:
                response = await client.post(host.rstrip("/") + "/api/show", json={"model": name})
                if response.status_code == 200:
                    data = response.json()
                    lengths = [
                        v for k, v in (data.get("model_info") or {}).items()
                        if k.endswith(".context_length") and isinstance(v, int)
                    ]  # fmt: skip
                    found[name] = ModelInfo(
                        tuple(data.get("capabilities") or []), min(lengths) if lengths else None
                    )
    except (httpx.HTTPError, ValueError):
        pass
    return found


async def choose_provider(settings: Settings) -> Provider:
    """The provider to use, by the rules above."""
    if settings.provider:
        return make_provider(settings, settings.provider)
    models = await ollama_models(settings.ollama_host)
    if models is not None:
        wanted = settings.model or settings.ollama_model
        if wanted is None:
            from engine.settings import DEFAULT_OLLAMA_MODEL

            wanted = (
                DEFAULT_OLLAMA_MODEL if DEFAULT_OLLAMA_MODEL in models or not models else models[0]
            )
        if models or settings.model:
            return make_provider(settings, "ollama", wanted)
    if settings.anthropic_api_key:
        return make_provider(settings, "anthropic")
    if models is not None:
        raise NoModelError(
            f"Ollama is running at {redact(settings.ollama_host)} but has no models: run "
            "`ollama pull qwen3:8b`, or set ANTHROPIC_API_KEY to use Claude."
        )
    raise NoModelError(HOW_TO_CONNECT)
