"""A loopback server that speaks Ollama's HTTP API, for tests, demos and benchmarks.

Endpoints: ``/api/chat`` (NDJSON stream or one JSON), ``/api/tags``, ``/api/show``
(``model_info`` and ``capabilities``), ``/api/version``; errors as ``{"error": ...}``.
Queue ``Step``s to script replies and faults; with an empty queue it answers with
``brain.respond``. Run by hand: ``python -m tests.fakes.ollama_server --port 11434``.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import time
from typing import Any

from tests.fakes.brain import respond, split_user
from tests.fakes.http import Request, Response, ServerThread, serve_by_hand
from tests.fakes.steps import Step, split_words

DEFAULT_MODELS = {
    "qwen3:8b": ["completion", "tools", "thinking"],
    "llama3.2:1b": ["completion"],
    "tiny:4k": ["completion", "tools"],
}
#: Each model's own context length (``/api/show`` ``model_info``); 40,960 unless listed.
CONTEXT_LENGTHS = {"tiny:4k": 4096}
#: The server's context when a request sets no ``options.num_ctx`` (small machines).
SERVER_DEFAULT_NUM_CTX = 4096


class OllamaFake(ServerThread):
    def __init__(self, port: int = 0, models: dict[str, list[str]] | None = None):
        super().__init__(self._handle, port)
        self.models = dict(models or DEFAULT_MODELS)
        self.steps: list[Step] = []
        self.chat_requests: list[dict[str, Any]] = []
        self._calls = 0
        self.trimmed: list[bool] = []
        """Whether each request's prompt was over its context (and so trimmed)."""
        self.show_delays: list[float] = []
        """Seconds the next ``/api/show`` requests wait before answering, one each."""

    def queue(self, *steps: Step) -> None:
        self.steps.extend(steps)

    async def _handle(self, request: Request, response: Response) -> None:
        path = request.path.split("?")[0]
        if path == "/api/version":
            await response.send(200, {"version": "0.12.3"})
        elif path == "/api/tags":
            await response.send(200, {"models": [self._model_entry(m) for m in self.models]})
        elif path == "/api/show":
            if self.show_delays:
                await asyncio.sleep(self.show_delays.pop(0))
            name = (request.json() or {}).get("model", "")
            if self._resolve(name) is None:
                await response.send(404, {"error": f"model '{name}' not found"})
                return
            await response.send(200, self._show(self._resolve(name) or name))
        elif path == "/api/chat":
            await self._chat(request, response)
        else:
            await response.send(404, {"error": "404 page not found"}, content_type="text/plain")

    def _resolve(self, name: str) -> str | None:
        if name in self.models:
            return name
        if f"{name}:latest" in self.models:
            return f"{name}:latest"
        return None

    def _model_entry(self, name: str) -> dict[str, Any]:
        return {
            "name": name,
            "model": name,
            "modified_at": "2026-01-01T00:00:00Z",
            "size": 5_000_000_000,
            "digest": "0" * 64,
            "details": {
                "format": "gguf",
                "family": "qwen3",
                "parameter_size": "8.2B",
                "quantization_level": "Q4_K_M",
            },
        }

    def _show(self, name: str) -> dict[str, Any]:
        return {
            "modelfile": f"FROM {name}",
            "parameters": "",
            "template": "{{ .Prompt }}",
            "details": {
                "format": "gguf",
                "family": "qwen3",
                "parameter_size": "8.2B",
                "quantization_level": "Q4_K_M",
            },
            "model_info": {
                "general.architecture": "qwen3",
                "qwen3.context_length": CONTEXT_LENGTHS.get(name, 40960),
            },
            "capabilities": self.models[name],
        }

    async def _chat(self, request: Request, response: Response) -> None:
        body = request.json() or {}
        self.chat_requests.append(body)
        model = body.get("model", "")
        if self._resolve(model) is None:
            await response.send(404, {"error": f"model '{model}' not found, try pulling it first"})
            return
        if body.get("tools") and "tools" not in self.models.get(self._resolve(model) or "", []):
            await response.send(400, {"error": f"{model} does not support tools"})
            return
        step = self.steps.pop(0) if self.steps else self._brain_step(body)
        if step.first_byte_delay:
            await asyncio.sleep(step.first_byte_delay)
        if step.status != 200:
            await response.send(step.status, {"error": step.error}, headers=step.headers)
            return
        stream = body.get("stream", True)
        created = "2026-01-01T00:00:00.000Z"
        pieces = split_words(step.text, step.words_per_chunk)
        self._calls += len(step.tool_calls)
        calls = [
            {
                "id": f"call_{self._calls - len(step.tool_calls) + n:04d}",
                "function": {
                    "index": n,
                    "name": c.get("name") or "str_replace_editor",
                    "arguments": c.get("input"),
                },
            }
            for n, c in enumerate(step.tool_calls)
        ]
        # As the server does: a prompt longer than the context is trimmed, silently;
        # prompt_eval_count then reports the context's size.
        num_ctx = int((body.get("options") or {}).get("num_ctx") or SERVER_DEFAULT_NUM_CTX)
        prompt_tokens = max(len(json.dumps(body.get("messages") or [])) // 4, step.input_tokens)
        self.trimmed.append(prompt_tokens > num_ctx)
        final = {
            "model": model,
            "created_at": created,
            "message": {"role": "assistant", "content": ""},
            "done": True,
            "done_reason": step.stop_reason or "stop",
            "total_duration": 1000,
            "load_duration": 10,
            "prompt_eval_count": min(prompt_tokens, num_ctx),
            "prompt_eval_duration": 100,
            "eval_count": step.output_tokens
            if step.output_tokens is not None
            else len(pieces) + len(calls),
            "eval_duration": 900,
        }
        if not stream:
            message: dict[str, Any] = {"role": "assistant", "content": step.text}
            if calls:
                message["tool_calls"] = calls
            await response.send(200, {**final, "message": message})
            return
        await response.start_stream()
        for thought in split_words(step.thinking, 2) if step.thinking else []:
            chunk = {"model": model, "created_at": created, "done": False,
                     "message": {"role": "assistant", "content": "", "thinking": thought}}  # fmt: skip
            await response.chunk(json.dumps(chunk) + "\n")
        for index, piece in enumerate(itertools.cycle(pieces) if step.forever else pieces):
            if step.drop_after is not None and index >= step.drop_after:
                response.drop()
                return
            if step.malformed_after is not None and index == step.malformed_after:
                await response.chunk("{this is not json\n")
            if step.mid_stream_error and index == 2:
                await response.chunk(json.dumps({"error": step.mid_stream_error}) + "\n")
                await response.end_stream()
                return
            if step.stall and index == 1:
                await asyncio.sleep(step.stall)
            chunk = {
                "model": model,
                "created_at": created,
                "message": {"role": "assistant", "content": piece},
                "done": False,
            }
            await response.chunk(json.dumps(chunk) + "\n")
            if step.delay:
                await asyncio.sleep(step.delay)
        if calls:
            await response.chunk(
                json.dumps(
                    {
                        "model": model,
                        "created_at": created,
                        "message": {"role": "assistant", "content": "", "tool_calls": calls},
                        "done": False,
                    }
                )
                + "\n"
            )
        if step.end_early:
            await response.end_stream()  # a clean end, but no `done` line
            return
        await response.chunk(json.dumps(final) + "\n")
        if step.more_after_end:
            for piece in pieces:
                chunk = {"model": model, "created_at": created, "done": False,
                         "message": {"role": "assistant", "content": piece}}  # fmt: skip
                await response.chunk(json.dumps(chunk) + "\n")
            await response.chunk(json.dumps(final) + "\n")
        await response.end_stream()

    def _brain_step(self, body: dict[str, Any]) -> Step:
        messages = body.get("messages") or []
        system = next((m.get("content", "") for m in messages if m.get("role") == "system"), "")
        last = messages[-1] if messages else {}
        tool_result = None
        if last.get("role") == "tool":
            tool_result = last.get("content", "")
        elif last.get("role") == "user" and str(last.get("content", "")).startswith("[edit result"):
            tool_result = str(last.get("content", "")).split("\n", 1)[-1]
        last_user = next(
            (m.get("content", "") for m in reversed(messages) if m.get("role") == "user"), ""
        )
        # Like a model reading its history: the latest file snapshot the user messages
        # carried (a follow-up on an unchanged file carries none of its own).
        snapshot = next(
            (
                split_user(str(m.get("content", "")))[0]
                for m in reversed(messages)
                if m.get("role") == "user" and "</file>" in str(m.get("content", ""))
            ),
            "",
        )
        reply = respond(system + "\n" + snapshot, last_user, tool_result)
        if not body.get("tools") and reply.tool_calls:
            # A model without tool support answers in the text edit protocol.
            blocks = "".join(
                "\n```edit\n" + json.dumps(c["input"]) + "\n```\n" for c in reply.tool_calls
            )
            return Step(text=reply.text + blocks, words_per_chunk=3)
        return Step(text=reply.text, tool_calls=reply.tool_calls, words_per_chunk=1)


def main() -> None:
    parser = argparse.ArgumentParser(description="A loopback Ollama-protocol server.")
    parser.add_argument("--port", type=int, default=11434)
    args = parser.parse_args()
    serve_by_hand(OllamaFake(args.port), "Ollama", args.port)


if __name__ == "__main__":
    time.sleep(0)
    main()
