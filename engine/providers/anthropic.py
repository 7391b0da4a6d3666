"""Claude through the ``anthropic`` SDK, with Anthropic's native text editor tool.

The SDK is imported only when a request is made: importing it costs over a second,
which must never delay the app's first frame.

We read the raw event stream (``messages.create(stream=True)``, the same SSE wire
protocol as ``messages.stream``) and accumulate tool input ourselves: the SDK's
accumulator raises on malformed tool JSON and ends the whole stream, whereas we turn
a malformed tool call into a tool error the model can correct.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from engine.errors import ProviderError
from engine.providers import base as stream
from engine.providers.base import ProviderEvent, TransientError, parse_retry_after, read_tool_call
from engine.settings import DEFAULT_ANTHROPIC_MODEL, Settings

#: When the price table below was last checked against Anthropic's pricing page
#: (platform.claude.com/docs/en/about-claude/pricing).
PRICES_AS_OF = "2026-12-01"
#: USD per million tokens (input, output), matched by model-name prefix, longest first.
#: Cache writes cost 1.25x the input price and cache reads 0.1x (the 5-minute cache).
#: Retired models (Claude 3.x) are not listed: they cost nothing here because they
#: answer nothing.
PRICES: dict[str, tuple[float, float]] = {
    "claude-fable-5": (10.0, 50.0),
    "claude-mythos-5": (10.0, 50.0),
    "claude-opus-5-5": (4.0, 20.0),
    "claude-opus-5": (5.0, 25.0),
    "claude-opus-4-8": (5.0, 25.0),
    "claude-opus-4-7": (5.0, 25.0),
    "claude-opus-4-6": (5.0, 25.0),
    "claude-opus-4-5": (5.0, 25.0),
    "claude-opus-4-1": (15.0, 75.0),
    "claude-opus-4-0": (15.0, 75.0),
    "claude-opus-4-2": (15.0, 75.0),  # claude-opus-4-20250514, the first Opus 4
    "claude-sonnet-5": (2.0, 10.0),
    "claude-sonnet-4": (3.0, 15.0),
    "claude-haiku-5": (0.10, 0.50),
    "claude-haiku-4": (1.0, 5.0),
}
CACHE_WRITE_FACTOR = 1.25
CACHE_READ_FACTOR = 0.10


def cost_usd(
    model: str,
    input_tokens: int,
    output_tokens: int,
    cache_write_tokens: int = 0,
    cache_read_tokens: int = 0,
) -> float:
    """The price of a call, from the one price table; 0.0 for a model it does not list.

    ``input_tokens`` are the uncached input tokens; cache writes and reads are priced
    at their own factors of the input price.
    """
    for prefix in sorted(PRICES, key=len, reverse=True):
        if model.startswith(prefix):
            price_in, price_out = PRICES[prefix]
            return (
                input_tokens * price_in
                + cache_write_tokens * price_in * CACHE_WRITE_FACTOR
                + cache_read_tokens * price_in * CACHE_READ_FACTOR
                + output_tokens * price_out
            ) / 1_000_000
    return 0.0


#: Models that think adaptively (``{"type": "adaptive"}``); older Claude 4 models take a
#: token budget instead, and the newest reject a budget (400).
ADAPTIVE_THINKING = ("claude-opus-4-6", "claude-sonnet-4-6", "claude-opus-4-7",
                     "claude-opus-4-8", "claude-opus-5", "claude-sonnet-5", "claude-haiku-5",
                     "claude-fable-5", "claude-mythos")  # fmt: skip
THINKING_BUDGET = 8_192


def thinking_config(model: str, setting: str) -> dict[str, Any] | None:
    """The ``thinking`` parameter for ``setting`` (auto/on/off), or ``None`` to send none.

    ``auto`` leaves the model's default (the newest models think by default).
    """
    if setting == "off":
        return {"type": "disabled"}
    if setting == "on":
        if model.startswith(ADAPTIVE_THINKING):
            return {"type": "adaptive"}
        return {"type": "enabled", "budget_tokens": THINKING_BUDGET}
    return None


def editor_tool_for(model: str) -> dict[str, str]:
    """The native text editor tool type that matches the model's family."""
    if model.startswith("claude-3-7"):
        return {"type": "text_editor_20250124", "name": "str_replace_editor"}
    if model.startswith("claude-3-5") or model.startswith("claude-3-"):
        return {"type": "text_editor_20241022", "name": "str_replace_editor"}
    return {"type": "text_editor_20250728", "name": "str_replace_based_edit_tool"}


def to_anthropic_messages(
    messages: list[dict[str, Any]], tool_name: str = "str_replace_based_edit_tool"
) -> list[dict[str, Any]]:
    """Neutral history to Anthropic's alternating user/assistant content blocks.

    Tool calls replay under ``tool_name``, the editor tool declared for this model,
    whatever provider made them.
    """
    out: list[dict[str, Any]] = []

    def push(role: str, blocks: list[dict[str, Any]]) -> None:
        if not blocks:
            return
        if out and out[-1]["role"] == role:
            out[-1]["content"].extend(blocks)
        else:
            out.append({"role": role, "content": blocks})

    for message in messages:
        role = message["role"]
        if role == "user":
            text = message.get("text") or ""
            said = [{"type": "text", "text": message["file"]}] if message.get("file") else []
            said.append({"type": "text", "text": text if text.strip() else "(empty message)"})
            push("user", said)
        elif role == "assistant":
            # Thinking first, exactly as it came (Claude checks the signature).
            blocks: list[dict[str, Any]] = [
                dict(part) for part in message.get("thinking") or [] if part.get("signature")
                or part.get("type") == "redacted_thinking"
            ]  # fmt: skip
            # The API rejects empty and whitespace-only text blocks (400), and models such
            # as Qwen write "\n\n" before a tool call: such text is dropped.
            if (message.get("text") or "").strip():
                blocks.append({"type": "text", "text": message["text"]})
            for call in message.get("tool_calls") or []:
                blocks.append(
                    {
                        "type": "tool_use",
                        "id": call["id"],
                        "name": tool_name,
                        "input": call.get("input") or {},
                    }
                )
            push("assistant", blocks)
        elif role == "tool":
            push(
                "user",
                [
                    {
                        "type": "tool_result",
                        "tool_use_id": r["tool_use_id"],
                        "content": r.get("content")
                        if (r.get("content") or "").strip()
                        else "(no output)",
                        "is_error": bool(r.get("is_error")),
                    }
                    for r in message.get("results") or []
                ],
            )
    if out and out[0]["role"] != "user":
        out.insert(0, {"role": "user", "content": [{"type": "text", "text": "(continued)"}]})
    return out


#: The context window of the Claude models (tokens), matched by prefix, longest first:
#: the 4.6 and later Opus and Sonnet models and the 5.x family read 1M tokens.
CONTEXT_WINDOWS: dict[str, int] = {
    "claude-opus-4-6": 1_000_000, "claude-sonnet-4-6": 1_000_000,
    "claude-opus-4-7": 1_000_000, "claude-opus-4-8": 1_000_000,
    "claude-opus-5": 1_000_000, "claude-sonnet-5": 1_000_000,
    "claude-fable-5": 1_000_000, "claude-mythos": 1_000_000,
    "claude-": 200_000,
}  # fmt: skip


class AnthropicProvider:
    name = "anthropic"
    uses_text_protocol = False
    warm_import: str | None = "anthropic"  # importing the SDK costs over a second

    def __init__(
        self,
        model: str | None = None,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: float = 120.0,
        thinking: str = "auto",
        cache: bool = True,
    ):
        self.model = model or DEFAULT_ANTHROPIC_MODEL
        self.thinking = thinking
        self.cache = cache
        """Mark the stable prefix and the conversation with ``cache_control``."""
        """``auto`` (the model's default), ``on`` or ``off``."""
        self.context_window: int | None = next(
            (
                CONTEXT_WINDOWS[prefix]
                for prefix in sorted(CONTEXT_WINDOWS, key=len, reverse=True)
                if self.model.startswith(prefix)
            ),
            None,
        )
        self._api_key = api_key
        self._base_url = base_url
        self._timeout = timeout
        self._client: Any = None

    def cost(
        self, input_tokens: int, output_tokens: int, cache_write: int, cache_read: int
    ) -> float:
        return cost_usd(self.model, input_tokens, output_tokens, cache_write, cache_read)

    @property
    def tool_name(self) -> str:
        return editor_tool_for(self.model)["name"]

    def _get_client(self) -> Any:
        if self._client is None:
            if not self._api_key:
                raise ProviderError(
                    "No Anthropic API key: set ANTHROPIC_API_KEY, or use Ollama (--provider ollama)."
                )
            import anthropic  # deferred: the import costs over a second

            self._client = anthropic.AsyncAnthropic(
                api_key=self._api_key,
                base_url=self._base_url,
                timeout=self._timeout,
                max_retries=0,  # the agent retries, and tells the user each time
            )
        return self._client

    async def prepare(self) -> None:
        # Importing the SDK and building the client (its TLS context reads the CA bundle)
        # take long enough to stall a screen: do it off the event loop.
        if self._client is None:
            await asyncio.to_thread(self._get_client)

    async def list_models(self) -> list[str]:
        client = self._get_client()
        try:
            page = await client.models.list(limit=100)
        except Exception as exc:
            raise _translate(exc, self.model) from None
        return [m.id for m in page.data]

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None

    async def stream(
        self, messages: list[dict[str, Any]], system: str
    ) -> AsyncIterator[ProviderEvent]:
        client = self._get_client()
        try:
            extra: dict[str, Any] = {}
            if (thinking := thinking_config(self.model, self.thinking)) is not None:
                extra["thinking"] = thinking
            wire = to_anthropic_messages(messages, self.tool_name)
            if self.cache and wire:
                # The stable prefix (tools and system) and the conversation so far are
                # cached: the next round reads them instead of paying for them again.
                last = wire[-1]["content"][-1]
                wire[-1]["content"][-1] = {**last, "cache_control": {"type": "ephemeral"}}
            response = await client.messages.create(
                model=self.model,
                max_tokens=stream.MAX_REPLY_TOKENS,
                system=(
                    [{"type": "text", "text": system, "cache_control": {"type": "ephemeral"}}]
                    if self.cache
                    else system
                ),
                messages=wire,
                tools=[editor_tool_for(self.model)],
                stream=True,
                **extra,
            )
            usage_in = usage_out = cache_read = cache_write = 0
            tool: dict[str, Any] | None = None
            think: dict[str, Any] | None = None
            stop = "end_turn"
            complete = False
            async with response:
                async for event in response:
                    kind = event.type
                    if kind == "message_start":
                        usage = event.message.usage
                        cache_read = getattr(usage, "cache_read_input_tokens", 0) or 0
                        cache_write = getattr(usage, "cache_creation_input_tokens", 0) or 0
                        usage_in = (usage.input_tokens or 0) + cache_read + cache_write
                        usage_out = usage.output_tokens or 0
                    elif kind == "content_block_start":
                        block = event.content_block
                        if block.type == "tool_use":
                            tool = {"id": block.id, "name": block.name, "json": ""}
                        elif block.type == "thinking":
                            think = {"text": getattr(block, "thinking", "") or "",
                                     "signature": getattr(block, "signature", None)}  # fmt: skip
                        elif block.type == "redacted_thinking":
                            yield stream.ThinkingBlock(redacted_data=getattr(block, "data", ""))
                        elif block.type == "text" and getattr(block, "text", ""):
                            yield stream.TextChunk(block.text)
                    elif kind == "content_block_delta":
                        delta = event.delta
                        if delta.type == "text_delta":
                            yield stream.TextChunk(delta.text)
                        elif delta.type == "input_json_delta" and tool is not None:
                            tool["json"] += delta.partial_json
                            if len(tool["json"]) > stream.MAX_ARGUMENT_CHARS:
                                complete, stop = True, "max_tokens"
                                break  # a call no edit needs: the rest is not read
                        elif delta.type == "thinking_delta" and think is not None:
                            think["text"] += delta.thinking
                            yield stream.ThinkingChunk(delta.thinking)
                        elif delta.type == "signature_delta" and think is not None:
                            think["signature"] = (think["signature"] or "") + delta.signature
                    elif kind == "content_block_stop":
                        if tool is not None:
                            yield _tool_call(tool)
                            tool = None
                        if think is not None:
                            yield stream.ThinkingBlock(think["text"], think["signature"])
                            think = None
                    elif kind == "message_delta":
                        stop = event.delta.stop_reason or stop
                        if event.usage is not None and event.usage.output_tokens is not None:
                            usage_out = event.usage.output_tokens
                    elif kind == "message_stop":
                        complete = True
                        break  # the reply is whole: whatever a server sends after it is not
            if not complete:
                # A stream that ends cleanly but early: what arrived is not the reply.
                raise TransientError("the reply from Anthropic stopped before it was complete")
            if tool is not None:
                yield stream.ToolCall(
                    tool["id"], tool["name"], None,
                    "the tool call was cut off before its arguments were complete",
                )  # fmt: skip
            yield stream.UsageReport(usage_in, usage_out, cache_read, cache_write)
            yield stream.Stop(stop)
        except ProviderError:
            raise
        except Exception as exc:
            raise _translate(exc, self.model) from None


def _tool_call(tool: dict[str, Any]) -> stream.ToolCall:
    return read_tool_call(tool["id"], tool["name"], tool["json"])


def _translate(exc: Exception, model: str) -> ProviderError:
    """An SDK or transport error as a transient (retry) or final error with one sentence."""
    import anthropic

    if isinstance(exc, anthropic.APIStatusError):
        status = exc.status_code
        body = exc.body if isinstance(exc.body, dict) else {}
        error = body.get("error", body) if isinstance(body, dict) else {}
        kind = error.get("type") if isinstance(error, dict) else None
        detail = error.get("message") if isinstance(error, dict) else None
        retry_after = parse_retry_after(exc.response.headers.get("retry-after"))
        if kind == "overloaded_error" or status == 529:
            return TransientError("Anthropic is overloaded", retry_after)
        if status == 429 or kind == "rate_limit_error":
            return TransientError("Anthropic rate limit reached", retry_after)
        if status < 400:  # an `error` event in the middle of a 200 stream
            return TransientError(f"Anthropic stream error ({kind or 'unknown'})", retry_after)
        if status >= 500 or kind == "api_error":
            return TransientError(f"Anthropic server error ({status})", retry_after)
        if status == 401:
            return ProviderError("Anthropic rejected the API key (401): check ANTHROPIC_API_KEY.")
        if status == 403:
            return ProviderError("The Anthropic API key may not use this model (403).")
        if status == 404:
            return ProviderError(
                f"Anthropic does not know the model {model!r} (404): choose another with --model."
            )
        return ProviderError(f"Anthropic refused the request ({status}): {detail or exc.message}.")
    kinds = _transport_kinds(exc)
    if isinstance(exc, anthropic.APITimeoutError) or "TimeoutException" in kinds:
        return TransientError("the request to Anthropic timed out")
    if "RemoteProtocolError" in kinds or "ReadError" in kinds:
        return TransientError("the connection to Anthropic broke in the middle of the reply")
    if isinstance(exc, anthropic.APIConnectionError) or "TransportError" in kinds:
        return TransientError("the connection to Anthropic failed")
    if isinstance(exc, ValueError):  # json.JSONDecodeError: a malformed stream line
        return TransientError("Anthropic sent a stream line that could not be read")
    if isinstance(exc, anthropic.APIError):
        return TransientError(f"Anthropic stream error: {_reason(exc)}")
    return ProviderError(f"Anthropic request failed: {_reason(exc)}.")


def _transport_kinds(exc: BaseException) -> set[str]:
    """The class names of an HTTP-library exception and its bases, wherever it comes from.

    The SDK has moved between HTTP libraries (``httpx``, then ``httpx2``), whose
    exception classes share names but not identities: they are recognised by what they
    are, not by which module defined them.
    """
    names: set[str] = set()
    for cls in type(exc).__mro__:
        root = cls.__module__.split(".")[0]
        if root.startswith(("httpx", "httpcore", "h11")):
            names.add(cls.__name__)
    return names


def _reason(exc: BaseException) -> str:
    """The exception's message, or its kind when it has none (never an empty reason)."""
    text = str(exc).strip()
    return text or type(exc).__name__


def from_settings(settings: Settings, model: str | None) -> AnthropicProvider:
    """The registry's factory (``registry.PROVIDERS``)."""
    return AnthropicProvider(
        model,
        api_key=settings.anthropic_api_key,
        base_url=settings.anthropic_base_url,
        thinking=settings.thinking,
    )
