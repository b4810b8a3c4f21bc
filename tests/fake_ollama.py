"""A fake Ollama server for the tests: a real HTTP server on 127.0.0.1 speaking the parts of
Ollama's API the planner uses, with scripted chat replies.

    GET  /api/version   {"version": ...}
    GET  /api/tags      the installed models
    POST /api/show      a model's details; 404 for a model not installed
    POST /api/chat      the next scripted Reply: streamed NDJSON (`stream: true`, the
                        client's default for stream=True) or one JSON object; 404 for an
                        unknown model

Token counts in the final chunk are estimated as characters / 4, as a stand-in for a
real tokenizer; durations are the fake's own wall-clock time.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    """One scripted answer to /api/chat."""

    content: str | Callable[[dict[str, Any]], str] = ""
    delay: float = 0.0  # seconds of silence before the first byte
    status: int = 200
    error: str = ""
    chunk: int = 48  # characters per streamed chunk
    pace: float = 0.0  # seconds between streamed chunks
    done_reason: str = "stop"


@dataclass
class FakeOllama:
    models: list[str] = field(default_factory=lambda: ["llama3.2:3b", "qwen2.5:7b"])
    version: str = "0.12.6"
    replies: list[Reply] = field(default_factory=list)
    requests: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.release = threading.Event()  # ends every pending delay at shutdown
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.server.daemon_threads = True
        self.server.fake = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.05,),
                                        daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeOllama:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()

    def script(self, *replies: Reply | str) -> None:
        self.replies.extend(r if isinstance(r, Reply) else Reply(r) for r in replies)

    def chats(self) -> list[dict[str, Any]]:
        return [body for method, path, body in self.requests if path == "/api/chat"]


class JsonHandler(BaseHTTPRequestHandler):
    """Quiet, and answers JSON: what this fake and the real model's endpoint
    (tests/llama_ollama.py) share."""

    def log_message(self, format, *args):  # noqa: A002 - quiet in test output
        pass

    def _send(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class _Handler(JsonHandler):
    server_version = "FakeOllama/1"

    @property
    def fake(self) -> FakeOllama:
        return self.server.fake  # type: ignore[attr-defined]

    def do_GET(self):  # noqa: N802 - http.server's naming
        self.fake.requests.append(("GET", self.path, {}))
        if self.path == "/api/version":
            self._send(200, {"version": self.fake.version})
        elif self.path == "/api/tags":
            self._send(200, {"models": [_tag(name) for name in self.fake.models]})
        else:
            self._send(404, {"error": "not found"})

    def do_POST(self):  # noqa: N802
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        self.fake.requests.append(("POST", self.path, body))
        model = body.get("model")
        if self.path in ("/api/show", "/api/chat") and model not in self.fake.models:
            self._send(404, {"error": f"model '{model}' not found"})
        elif self.path == "/api/show":
            self._send(200, _show(model))
        elif self.path == "/api/chat":
            self._chat(body)
        else:
            self._send(404, {"error": "not found"})

    def _chat(self, body: dict[str, Any]) -> None:
        if not self.fake.replies:
            self._send(500, {"error": "the fake has no scripted reply left"})
            return
        reply = self.fake.replies.pop(0)
        began = time.monotonic_ns()
        if reply.delay:
            self.fake.release.wait(reply.delay)
        if reply.status != 200:
            self._send(reply.status, {"error": reply.error or "scripted failure"})
            return
        content = reply.content(body) if callable(reply.content) else reply.content
        prompt_chars = sum(len(m.get("content") or "") for m in body.get("messages", []))
        final = {
            "model": body["model"], "created_at": _now(), "done": True,
            "done_reason": reply.done_reason, "total_duration": 0, "load_duration": 0,
            "prompt_eval_count": max(1, prompt_chars // 4), "prompt_eval_duration": 0,
            "eval_count": max(1, len(content) // 4), "eval_duration": 0,
        }
        if not body.get("stream", True):
            final["message"] = {"role": "assistant", "content": content}
            final["total_duration"] = time.monotonic_ns() - began
            self._send(200, final)
            return
        # HTTP/1.0 without a length: the body ends when the connection closes, as a
        # streamed answer of unknown length may.
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.end_headers()
        for start in range(0, len(content), reply.chunk):
            if reply.pace and start:
                self.fake.release.wait(reply.pace)
            piece = {"model": body["model"], "created_at": _now(), "done": False,
                     "message": {"role": "assistant", "content": content[start:start
                                                                         + reply.chunk]}}
            self.wfile.write(json.dumps(piece).encode() + b"\n")
            self.wfile.flush()
        final["message"] = {"role": "assistant", "content": ""}
        final["total_duration"] = time.monotonic_ns() - began
        self.wfile.write(json.dumps(final).encode() + b"\n")
        self.wfile.flush()


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _tag(name: str) -> dict[str, Any]:
    return {"name": name, "model": name, "modified_at": "2026-01-01T00:00:00Z",
            "size": 2_019_393_189, "digest": "a80c4f17acd5" + "0" * 52,
            "details": {"parent_model": "", "format": "gguf", "family": "llama",
                        "families": ["llama"], "parameter_size": "3.2B",
                        "quantization_level": "Q4_K_M"}}


def _show(name: str) -> dict[str, Any]:
    return {"modelfile": f"FROM {name}", "parameters": "stop \"<|eot_id|>\"",
            "template": "{{ .Prompt }}", "details": _tag(name)["details"],
            "model_info": {"general.architecture": "llama", "llama.context_length": 131072},
            "capabilities": ["completion", "tools"], "modified_at": "2026-01-01T00:00:00Z"}


# -- replies a test can script -----------------------------------------------------------
def draft(target: str = "churn", **changes: Any) -> dict[str, Any]:
    """A valid plan draft for a binary target, with `changes` applied."""
    raw = {
        "goal_reading": f"You want to know the value of “{target}” for each row.",
        "target": target, "target_reason": f"“{target}” is what you asked about.",
        "task": "binary", "task_reason": "It has two values.",
        "metric": "roc_auc", "metric_reason": "It judges how well cases are ranked.",
        "validation": "stratified_kfold", "n_splits": 5, "validation_column": "",
        "validation_reason": "Every row is scored by a model that did not see it.",
        "excluded_columns": [], "excluded_reason": "Nothing needs leaving out.",
        "families": [
            {"family": "dummy", "max_trials": 1, "reason": "The score to beat.",
             "pros": ["instant"], "cons": ["ignores the features"]},
            {"family": "lightgbm", "max_trials": 30, "reason": "Strong on tables.",
             "pros": ["accurate"], "cons": ["harder to explain"]},
            {"family": "linear", "max_trials": 10, "reason": "Simple and clear.",
             "pros": ["easy to explain"], "cons": ["misses interactions"]},
        ],
        "rationale": "Predict the target with boosted trees and a linear model.",
    }
    raw.update(changes)
    return raw


def draft_json(target: str = "churn", **changes: Any) -> str:
    return json.dumps(draft(target, **changes))
