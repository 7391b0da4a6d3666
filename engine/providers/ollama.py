"""A local model through ``ollama.AsyncClient``: fully offline.

The editor is a JSON-schema function tool with the same commands and parameter names
as Anthropic's. A model whose ``/api/show`` capabilities lack ``tools`` gets the
plain-text edit protocol of ``engine.providers.text_protocol`` instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

from engine.editor_tool import EDITOR_DESCRIPTION, EDITOR_JSON_SCHEMA
from engine.errors import ProviderError
from engine.providers import base as stream
from engine.providers import text_protocol
from engine.providers.base import FreeOfCharge, ProviderEvent, TransientError, read_tool_call
from engine.redact import redact
from engine.settings import DEFAULT_OLLAMA_HOST, DEFAULT_OLLAMA_MODEL, Settings

TOOL_NAME = "str_replace_editor"
#: The context scorechat asks for at most, unless OLLAMA_NUM_CTX says otherwise.
DEFAULT_NUM_CTX = 16_384
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": TOOL_NAME,
            "description": EDITOR_DESCRIPTION,
            "parameters": EDITOR_JSON_SCHEMA,
        },
    }
]


def to_ollama_messages(
    messages: list[dict[str, Any]], system: str, text_protocol_mode: bool
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [{"role": "system", "content": system}]
    for message in messages:
        role = message["role"]
        if role == "user":
            text = message.get("text") or ""
            out.append(
                {
                    "role": "user",
                    "content": f"{message['file']}\n\n{text}" if message.get("file") else text,
                }
            )
        elif role == "assistant":
            entry: dict[str, Any] = {"role": "assistant", "content": message.get("text") or ""}
            thought = "".join(p.get("thinking", "") for p in message.get("thinking") or [])
            if thought:
                entry["thinking"] = thought
            calls = message.get("tool_calls") or []
            if calls and text_protocol_mode:
                # The blocks were hidden from people, not from the model: it sees its own
                # edit blocks again, as it wrote them.
                entry["content"] = (entry["content"].rstrip() + "\n" + "".join(
                    text_protocol.as_block(c.get("input") or {}) for c in calls
                )).lstrip()  # fmt: skip
            if calls and not text_protocol_mode:
                # Calls made under another provider's tool name replay under ours.
                entry["tool_calls"] = [
                    {"function": {"name": TOOL_NAME, "arguments": c.get("input") or {}}}
                    for c in calls
                ]
            out.append(entry)
        elif role == "tool":
            results = message.get("results") or []
            if text_protocol_mode:
                out.append({"role": "user", "content": text_protocol.results_as_text(results)})
            else:
                for result in results:
                    out.append(
                        {
                            "role": "tool",
                            "content": result.get("content") or "",
                            "tool_name": TOOL_NAME,
                        }
                    )
    return out


class OllamaProvider(FreeOfCharge):
    name = "ollama"

    def __init__(
        self,
        model: str | None = None,
        *,
        host: str = DEFAULT_OLLAMA_HOST,
        timeout: float = 300.0,
        num_ctx: int = DEFAULT_NUM_CTX,
        thinking: str = "auto",
    ):
        self.model = model or DEFAULT_OLLAMA_MODEL
        self.host = host
        self.timeout = timeout
        self.max_num_ctx = num_ctx
        self.thinking = thinking
        """``auto`` (the model's default), ``on`` or ``off`` (Ollama's ``think``)."""
        """The largest context scorechat asks the server for (``OLLAMA_NUM_CTX``)."""
        self.context_window: int | None = None
        """The context sent as ``options.num_ctx``: the model's length, bounded by the
        setting. Without it the server uses its default (4k on small machines) and trims
        a longer prompt silently."""
        self.uses_text_protocol = False
        self._client: Any = None
        self._prepared = False

    def _get_client(self) -> Any:
        if self._client is None:
            import ollama

            self._client = ollama.AsyncClient(host=self.host, timeout=self.timeout)
        return self._client

    async def prepare(self) -> None:
        """Ask ``/api/show`` whether the model supports tools."""
        if self._prepared:
            return
        # Importing the SDK and building the client (its TLS context reads the CA bundle)
        # take long enough to stall a screen: do it off the event loop.
        client = self._client or await asyncio.to_thread(self._get_client)
        try:
            info = await client.show(self.model)
        except Exception as exc:
            raise _translate(exc, self.model, redact(self.host)) from None
        capabilities = list(getattr(info, "capabilities", None) or [])
        model_info = getattr(info, "modelinfo", None) or getattr(info, "model_info", None) or {}
        lengths = [
            int(v) for k, v in dict(model_info).items()
            if str(k).endswith(".context_length") and isinstance(v, int | float)
            and 0 < v < float("inf")  # not NaN, Infinity or a negative size
        ]  # fmt: skip
        self.context_window = min([*lengths, self.max_num_ctx]) if lengths else self.max_num_ctx
        # Servers that predate `capabilities` are assumed to support tools.
        self.uses_text_protocol = bool(capabilities) and "tools" not in capabilities
        self._prepared = True

    async def list_models(self) -> list[str]:
        client = self._get_client()
        try:
            listing = await client.list()
        except Exception as exc:
            raise _translate(exc, self.model, redact(self.host)) from None
        return [m.model for m in listing.models if m.model]

    async def aclose(self) -> None:
        if self._client is not None:
            with contextlib.suppress(Exception):
                await self._client.close()
            self._client = None

    async def stream(
        self, messages: list[dict[str, Any]], system: str
    ) -> AsyncIterator[ProviderEvent]:
        await self.prepare()
        client = self._get_client()
        if self.uses_text_protocol:
            system = system + "\n\n" + text_protocol.INSTRUCTIONS
        wire = to_ollama_messages(messages, system, self.uses_text_protocol)
        text_seen: list[str] = []
        thought: list[str] = []
        calls = 0
        done = False
        try:
            response = await client.chat(
                model=self.model,
                messages=wire,
                tools=None if self.uses_text_protocol else TOOLS,
                stream=True,
                options={
                    "num_predict": stream.MAX_REPLY_TOKENS,
                    **({"num_ctx": self.context_window} if self.context_window else {}),
                },
                think={"on": True, "off": False}.get(self.thinking),
            )
            shown = _ProtocolFilter() if self.uses_text_protocol else None
            async for part in response:
                message = part.message
                if getattr(message, "thinking", None):
                    thought.append(message.thinking)
                    yield stream.ThinkingChunk(message.thinking)
                if message.content:
                    text_seen.append(message.content)
                    visible = shown.feed(message.content) if shown else message.content
                    if visible:
                        yield stream.TextChunk(visible)
                for call in message.tool_calls or []:
                    calls += 1
                    yield _tool_call(call, calls)
                if part.done:
                    done = True
                    if thought:
                        yield stream.ThinkingBlock("".join(thought))
                    if shown is not None and (rest := shown.flush()):
                        yield stream.TextChunk(rest)
                    yield stream.UsageReport(part.prompt_eval_count or 0, part.eval_count or 0)
                    if self.uses_text_protocol:
                        for parsed in text_protocol.parse_edit_blocks("".join(text_seen)):
                            yield parsed
                    yield stream.Stop(part.done_reason or "stop")
                    break  # the reply is whole: whatever a server sends after it is not
            if not done:
                # The stream ended without its final `done` line: the reply is incomplete.
                raise TransientError(
                    f"the reply from Ollama at {redact(self.host)} stopped before it was complete"
                )
        except ProviderError:
            raise
        except Exception as exc:
            raise _translate(exc, self.model, redact(self.host)) from None


class _ProtocolFilter:
    """Hides the text protocol's ```` ```edit ```` blocks from the reply people read.

    The blocks are the model's tool calls; they run as tool calls and show as tool
    rows, so their raw JSON never appears in the conversation. Text passes through a
    line at a time (a fence can only be recognised at the start of a line).
    """

    def __init__(self) -> None:
        self._line = ""
        self._fence: str | None = None

    def feed(self, text: str) -> str:
        out: list[str] = []
        self._line += text
        while "\n" in self._line:
            line, self._line = self._line.split("\n", 1)
            if self._keep(line):
                out.append(line + "\n")
        return "".join(out)

    def flush(self) -> str:
        line, self._line = self._line, ""
        return line if line and self._keep(line) else ""

    def _keep(self, line: str) -> bool:
        stripped = line.strip()
        if self._fence is not None:
            if stripped.startswith(self._fence) and stripped.strip("`~") == "":
                self._fence = None
            return False
        if stripped.startswith(("```edit", "~~~edit")):
            self._fence = stripped[:3]
            return False
        return True


def _tool_call(call: Any, index: int) -> stream.ToolCall:
    function = call.function
    arguments = function.arguments
    # Unique within the session, not per round: a history replayed to Claude with
    # repeated ids is refused ("tool_use ids must be unique").
    call_id = getattr(call, "id", None) or f"call_{uuid.uuid4().hex[:16]}"
    return read_tool_call(call_id, function.name, arguments)


def _translate(exc: Exception, model: str, host: str) -> ProviderError:
    import httpx
    import ollama

    if isinstance(exc, ollama.ResponseError):
        status = exc.status_code
        if status == 404:
            return ProviderError(
                f"The model {model!r} is not in Ollama at {host}: run `ollama pull {model}` "
                "or choose another with --model."
            )
        if status == 429 or status >= 500 or status == -1:
            return TransientError(f"Ollama answered {status}: {exc.error}")
        return ProviderError(f"Ollama refused the request ({status}): {exc.error}.")
    if isinstance(exc, httpx.TimeoutException):
        return TransientError(f"Ollama at {host} did not answer in time")
    if isinstance(exc, ConnectionError | httpx.ConnectError):
        return TransientError(f"Ollama is not reachable at {host}")
    if isinstance(exc, httpx.TransportError):
        return TransientError(f"the connection to Ollama at {host} broke")
    if type(exc).__name__ == "ValidationError":  # pydantic: a chunk of the wrong shape
        return TransientError(
            "Ollama sent a reply that could not be read (malformed tool arguments)"
        )
    if isinstance(exc, ValueError):  # a malformed stream line
        return TransientError(f"Ollama sent a malformed stream line ({exc})")
    return ProviderError(f"Ollama request failed: {str(exc).strip() or type(exc).__name__}.")


def from_settings(settings: Settings, model: str | None) -> OllamaProvider:
    """The registry's factory (``registry.PROVIDERS``)."""
    return OllamaProvider(
        model or settings.ollama_model,
        host=settings.ollama_host,
        timeout=settings.ollama_timeout,
        num_ctx=settings.ollama_num_ctx,
        thinking=settings.thinking,
    )
