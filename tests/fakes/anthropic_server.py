"""A loopback server that speaks Anthropic's Messages API as server-sent events.

``POST /v1/messages`` with ``stream: true``: ``message_start``, ``content_block_start``
(text and tool_use), ``text_delta``, ``input_json_delta`` in several fragments,
``content_block_stop``, ``message_delta`` (stop_reason, usage), ``message_stop``,
``ping`` and ``error`` events. Accepts ``x-api-key`` or ``Authorization: Bearer``.
Queue ``Step``s for replies and faults; otherwise ``brain.respond`` answers.
Run by hand: ``python -m tests.fakes.anthropic_server --port 8765``.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
from typing import Any

from tests.fakes.brain import respond
from tests.fakes.http import Request, Response, ServerThread, serve_by_hand
from tests.fakes.steps import Step, split_words


def sse(event: str, data: dict[str, Any]) -> str:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n"


class AnthropicFake(ServerThread):
    def __init__(self, port: int = 0, api_key: str | None = "test-key"):
        super().__init__(self._handle, port)
        self.api_key = api_key
        self.steps: list[Step] = []
        self.message_requests: list[dict[str, Any]] = []
        self._ids = 0
        self.thinking_sent: dict[str, dict[str, Any]] = {}
        """The thinking block sent with each tool_use id: the API wants it back unchanged."""
        self.cache: dict[str, int] = {}
        """Prompt-cache entries: a prefix's digest and its tokens."""
        self.previous: dict[str, dict[str, Any]] = {}
        """For preserved-thinking models, each conversation's last request."""
        self.usage_log: list[dict[str, int]] = []
        """The usage reported for each request, for the benchmark."""

    def queue(self, *steps: Step) -> None:
        self.steps.extend(steps)

    async def _handle(self, request: Request, response: Response) -> None:
        path = request.path.split("?")[0]
        key = request.headers.get("x-api-key") or request.headers.get(
            "authorization", ""
        ).removeprefix("Bearer ")
        if self.api_key is not None and key != self.api_key:
            await response.send(
                401,
                {
                    "type": "error",
                    "error": {"type": "authentication_error", "message": "invalid x-api-key"},
                },
            )
            return
        if path == "/v1/models":
            await response.send(
                200,
                {
                    "data": [
                        {
                            "type": "model",
                            "id": "claude-sonnet-5-5",
                            "display_name": "Claude Sonnet 5.5",
                            "created_at": "2026-10-07T00:00:00Z",
                        },
                        {
                            "type": "model",
                            "id": "claude-sonnet-4-6",
                            "display_name": "Claude Sonnet 4.6",
                            "created_at": "2026-02-17T00:00:00Z",
                        },
                        {
                            "type": "model",
                            "id": "claude-haiku-4-5",
                            "display_name": "Claude Haiku 4.5",
                            "created_at": "2025-10-01T00:00:00Z",
                        },
                    ],
                    "has_more": False,
                    "first_id": "claude-sonnet-5-5",
                    "last_id": "claude-haiku-4-5",
                },
            )
            return
        if path != "/v1/messages":
            await response.send(
                404, {"type": "error", "error": {"type": "not_found_error", "message": "Not found"}}
            )
            return
        body = request.json() or {}
        self.message_requests.append(body)
        problem = (
            _invalid_request(body) or self._thinking_problem(body) or self._prefix_problem(body)
        )
        model_problem = _model_problem(body)
        if model_problem:
            await response.send(
                404,
                {"type": "error", "error": {"type": "not_found_error", "message": model_problem}},
            )
            return
        if problem:
            # The real API refuses these with 400 before it streams anything.
            await response.send(
                400,
                {"type": "error", "error": {"type": "invalid_request_error", "message": problem}},
            )
            return
        step = self.steps.pop(0) if self.steps else self._brain_step(body)
        if step.first_byte_delay:
            await asyncio.sleep(step.first_byte_delay)
        if step.status != 200:
            kind = {
                429: "rate_limit_error",
                529: "overloaded_error",
                401: "authentication_error",
                404: "not_found_error",
                400: "invalid_request_error",
            }.get(step.status, step.error_type)
            await response.send(
                step.status,
                {"type": "error", "error": {"type": kind, "message": step.error}},
                headers=step.headers,
            )
            return
        await self._stream(body, step, response)

    async def _stream(self, body: dict[str, Any], step: Step, response: Response) -> None:
        usage = self._usage(body, step)
        self._ids += 1
        model = body.get("model", "claude-sonnet-5-5")
        await response.start_stream(
            content_type="text/event-stream", headers={"request-id": f"req_{self._ids}"}
        )
        pieces = split_words(step.text, step.words_per_chunk)
        await response.chunk(
            sse(
                "message_start",
                {
                    "type": "message_start",
                    "message": {
                        "id": f"msg_{self._ids}",
                        "type": "message",
                        "role": "assistant",
                        "content": [],
                        "model": model,
                        "stop_reason": None,
                        "stop_sequence": None,
                        "usage": {
                            "input_tokens": usage["input"],
                            "output_tokens": 1,
                            "cache_read_input_tokens": usage["read"],
                            "cache_creation_input_tokens": usage["write"],
                        },
                    },
                },
            )
        )
        index = 0
        sent = 0
        thinking_block: dict[str, Any] | None = None
        if step.thinking:
            self._ids += 1
            thinking_block = {
                "type": "thinking", "thinking": step.thinking, "signature": f"sig-{self._ids}"
            }  # fmt: skip
            await response.chunk(
                sse(
                    "content_block_start",
                    {
                        "type": "content_block_start",
                        "index": 0,
                        "content_block": {"type": "thinking", "thinking": "", "signature": ""},
                    },
                )
            )
            for piece in split_words(step.thinking, 2):
                await response.chunk(
                    sse(
                        "content_block_delta",
                        {
                            "type": "content_block_delta",
                            "index": 0,
                            "delta": {"type": "thinking_delta", "thinking": piece},
                        },
                    )
                )
            await response.chunk(
                sse(
                    "content_block_delta",
                    {
                        "type": "content_block_delta",
                        "index": 0,
                        "delta": {
                            "type": "signature_delta",
                            "signature": thinking_block["signature"],
                        },
                    },
                )
            )
            await response.chunk(
                sse("content_block_stop", {"type": "content_block_stop", "index": 0})
            )
            index = 1  # fmt: skip
        if pieces:
            await response.chunk(
                sse(
                    "content_block_start",
                    {
                        "type": "content_block_start",
                        "index": index,
                        "content_block": {"type": "text", "text": ""},
                    },
                )
            )
            await response.chunk(sse("ping", {"type": "ping"}))
            for piece in pieces:
                if step.drop_after is not None and sent >= step.drop_after:
                    response.drop()
                    return
                if step.mid_stream_error and sent == 2:
                    await response.chunk(
                        sse(
                            "error",
                            {
                                "type": "error",
                                "error": {"type": step.mid_stream_error, "message": "Overloaded"},
                            },
                        )
                    )
                    await response.end_stream()
                    return
                if step.malformed_after is not None and sent == step.malformed_after:
                    await response.chunk("event: content_block_delta\ndata: {not json\n\n")
                if step.stall and sent == 1:
                    await asyncio.sleep(step.stall)
                await response.chunk(
                    sse(
                        "content_block_delta",
                        {
                            "type": "content_block_delta",
                            "index": index,
                            "delta": {"type": "text_delta", "text": piece},
                        },
                    )
                )
                sent += 1
                if step.delay:
                    await asyncio.sleep(step.delay)
            await response.chunk(
                sse("content_block_stop", {"type": "content_block_stop", "index": index})
            )
            index += 1
        for call in step.tool_calls:
            self._ids += 1
            name = call.get("name") or "str_replace_based_edit_tool"
            await response.chunk(
                sse(
                    "content_block_start",
                    {
                        "type": "content_block_start",
                        "index": index,
                        "content_block": {
                            "type": "tool_use",
                            "id": f"toolu_{self._ids:04d}",
                            "name": name,
                            "input": {},
                        },
                    },
                )
            )
            if thinking_block is not None:
                self.thinking_sent[f"toolu_{self._ids:04d}"] = thinking_block
            raw = call.get("input")
            text = json.dumps(raw) if isinstance(raw, dict) else str(raw)
            size = max(len(text) // 3, 1)
            last_call = call is step.tool_calls[-1]
            if step.cut_tool_call and last_call:
                text = text[: len(text) // 2]
            starts = range(0, len(text), size)
            if step.forever and last_call:
                starts = itertools.chain(starts, itertools.repeat(len(text)))
                text += " " * size  # past the JSON's end, more arguments without end
            for start in starts:
                await response.chunk(
                    sse(
                        "content_block_delta",
                        {
                            "type": "content_block_delta",
                            "index": index,
                            "delta": {
                                "type": "input_json_delta",
                                "partial_json": text[start : start + size],
                            },
                        },
                    )
                )
            if step.cut_tool_call and last_call:
                break  # the block is never closed: the reply stopped inside it
            await response.chunk(
                sse("content_block_stop", {"type": "content_block_stop", "index": index})
            )
            index += 1
        out_tokens = (
            step.output_tokens
            if step.output_tokens is not None
            else len(pieces) + 10 * len(step.tool_calls)
        )
        await response.chunk(
            sse(
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {
                        "stop_reason": step.stop_reason
                        or ("tool_use" if step.tool_calls else "end_turn"),
                        "stop_sequence": None,
                    },
                    "usage": {"output_tokens": out_tokens},
                },
            )
        )
        if step.end_early:
            await response.end_stream()  # a clean end, but no message_stop
            return
        await response.chunk(sse("message_stop", {"type": "message_stop"}))
        if step.more_after_end:
            for extra, call in enumerate(step.tool_calls, start=index):
                block = {"type": "tool_use", "id": f"toolu_after_{extra}", "input": {},
                         "name": call.get("name") or "str_replace_based_edit_tool"}  # fmt: skip
                delta = {"type": "input_json_delta", "partial_json": json.dumps(call["input"])}
                await response.chunk(
                    sse(
                        "content_block_start",
                        {"type": "content_block_start", "index": extra, "content_block": block},
                    )
                )
                await response.chunk(
                    sse(
                        "content_block_delta",
                        {"type": "content_block_delta", "index": extra, "delta": delta},
                    )
                )
                await response.chunk(sse("content_block_stop", {
                    "type": "content_block_stop", "index": extra}))  # fmt: skip
            await response.chunk(sse("message_stop", {"type": "message_stop"}))
        await response.end_stream()

    def _usage(self, body: dict[str, Any], step: Step) -> dict[str, int]:
        """Prompt tokens (4 characters each), split as the API splits them with caching:
        the longest cached prefix is read, the prefix up to the last cache_control
        breakpoint is written, the rest is plain input."""
        tools, system = body.get("tools") or [], body.get("system") or ""
        messages = _strip_cache(body.get("messages") or [])
        pieces: list[Any] = [tools, _strip_cache(system)]
        breakpoints: list[int] = []
        if isinstance(system, list) and any("cache_control" in b for b in system):
            breakpoints.append(2)
        for index, message in enumerate(body.get("messages") or []):
            pieces.append(messages[index])
            content = message.get("content")
            if isinstance(content, list) and any("cache_control" in b for b in content):
                breakpoints.append(len(pieces))

        def tokens(n: int) -> int:
            return len(json.dumps(pieces[:n], sort_keys=True)) // 4

        def digest(n: int) -> str:
            return json.dumps([body.get("model"), pieces[:n]], sort_keys=True)

        total = max(tokens(len(pieces)), step.input_tokens if not breakpoints else 0)
        # Like the API, a hit is looked for at every earlier block boundary, not only at
        # this request's breakpoints.
        read = (
            max(
                (tokens(n) for n in range(1, len(pieces) + 1) if digest(n) in self.cache), default=0
            )
            if breakpoints
            else 0
        )
        write = 0
        if breakpoints and digest(breakpoints[-1]) not in self.cache:
            write = tokens(breakpoints[-1]) - read
        for n in breakpoints:
            self.cache[digest(n)] = tokens(n)
        usage = {"input": total - read - write, "read": read, "write": write}
        self.usage_log.append(usage)
        return usage

    def _prefix_problem(self, body: dict[str, Any]) -> str | None:
        """Models that preserve thinking refuse a request whose system prompt, tools or
        earlier messages changed since the conversation's previous request."""
        model = str(body.get("model", ""))
        if not model.startswith(PRESERVED_THINKING):
            return None
        messages = _strip_cache(body.get("messages") or [])
        if not messages:
            return None
        key = json.dumps(messages[0], sort_keys=True)
        now = {"system": _strip_cache(body.get("system")), "tools": body.get("tools"),
               "messages": messages}  # fmt: skip
        before = self.previous.get(key)
        self.previous[key] = now
        if before is None:
            return None
        if before["system"] != now["system"] or before["tools"] != now["tools"]:
            return "the system prompt or tools changed within a conversation (preserved thinking)"
        if messages[: len(before["messages"])] != before["messages"]:
            return "earlier messages changed within a conversation (preserved thinking)"
        return None

    def _thinking_problem(self, body: dict[str, Any]) -> str | None:
        """Within a tool loop, Claude wants its thinking block back first and unchanged."""
        for index, message in enumerate(body.get("messages") or []):
            content = message.get("content")
            if message.get("role") != "assistant" or not isinstance(content, list):
                continue
            for block in content:
                sent = (
                    self.thinking_sent.get(block.get("id", ""))
                    if block.get("type") == "tool_use"
                    else None
                )
                if sent is None:
                    continue
                first = content[0]
                if first.get("type") != "thinking":
                    return (
                        f"messages.{index}.content.0.type: Expected `thinking` or "
                        f"`redacted_thinking`, but found `{first.get('type')}`."
                    )
                if (
                    first.get("signature") != sent["signature"]
                    or first.get("thinking") != sent["thinking"]
                ):
                    return f"messages.{index}.content.0: Invalid `signature` in `thinking` block"
        return None

    def _brain_step(self, body: dict[str, Any]) -> Step:
        system = body.get("system", "")
        if isinstance(system, list):
            system = "\n".join(b.get("text", "") for b in system)
        messages = body.get("messages") or []
        last = messages[-1] if messages else {}
        tool_result = None
        last_user = ""
        content = last.get("content", "")
        if isinstance(content, list):
            results = [b for b in content if b.get("type") == "tool_result"]
            if results:
                raw = results[-1].get("content", "")
                tool_result = (
                    raw if isinstance(raw, str) else " ".join(b.get("text", "") for b in raw)
                )
            else:
                last_user = "\n".join(b.get("text", "") for b in content if b.get("type") == "text")
        else:
            last_user = str(content)
        tool_name = next(
            (t.get("name") for t in body.get("tools") or []), "str_replace_based_edit_tool"
        )
        reply = respond(system, last_user, tool_result)
        calls = [{"name": tool_name, "input": c["input"]} for c in reply.tool_calls]
        return Step(text=reply.text, tool_calls=calls)


#: Models that keep their thinking across turns and so want an unchanged prefix.
PRESERVED_THINKING = ("claude-opus-5", "claude-sonnet-5", "claude-fable-5", "claude-mythos")


def _strip_cache(value: Any) -> Any:
    """``value`` without cache_control markers, which may move between requests."""
    if isinstance(value, list):
        return [_strip_cache(v) for v in value]
    if isinstance(value, dict):
        return {k: _strip_cache(v) for k, v in value.items() if k != "cache_control"}
    return value


def _model_problem(body: dict[str, Any]) -> str | None:
    """Unknown and retired model ids answer 404, as the API does."""
    model = str(body.get("model", ""))
    if not model.startswith("claude-") or model.startswith(
        ("claude-3", "claude-2", "claude-instant")
    ):
        return f"model: {model}"
    return None


def _tool_problem(body: dict[str, Any]) -> str | None:
    model = str(body.get("model", ""))
    wanted = "text_editor_20250124" if model.startswith("claude-3-7") else "text_editor_20250728"
    for tool in body.get("tools") or []:
        kind = tool.get("type", "")
        if kind.startswith("text_editor_") and kind != wanted:
            return f"tools.0: the tool type {kind} is not supported by {model}; use {wanted}"
    return None


def _invalid_request(body: dict[str, Any]) -> str | None:
    """What the real Messages API rejects in a conversation, as its error message."""
    if problem := _tool_problem(body):
        return problem
    seen_ids: set[str] = set()
    declared = {t.get("name") for t in body.get("tools") or []}
    messages = body.get("messages") or []
    for index, message in enumerate(messages):
        content = message.get("content")
        blocks = content if isinstance(content, list) else [{"type": "text", "text": content}]
        for block in blocks:
            if block.get("type") == "text" and not str(block.get("text", "")).strip():
                return f"messages.{index}: text content blocks must contain non-whitespace text"
            if block.get("type") == "tool_use":
                if declared and block.get("name") not in declared:
                    return f"messages.{index}: tool_use names a tool that is not declared"
                if block.get("id") in seen_ids:
                    return f"messages.{index}: `tool_use` ids must be unique"
                seen_ids.add(block.get("id"))
        if message.get("role") == "assistant":
            wanted = {b.get("id") for b in blocks if b.get("type") == "tool_use"}
            if wanted:
                following = messages[index + 1] if index + 1 < len(messages) else None
                given = {
                    b.get("tool_use_id")
                    for b in (following or {}).get("content") or []
                    if isinstance(b, dict) and b.get("type") == "tool_result"
                }
                if not wanted <= given:
                    return (
                        f"messages.{index + 1}: `tool_use` ids were found without `tool_result` "
                        "blocks immediately after"
                    )
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description="A loopback Anthropic-protocol server.")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--api-key", default=None, help="Require this key (default: accept any).")
    args = parser.parse_args()
    serve_by_hand(AnthropicFake(args.port, api_key=args.api_key), "Anthropic", args.port)


if __name__ == "__main__":
    main()
