"""Asking a local Ollama server for a plan: the call, the streamed progress, the repairs.

    ask_for_plan(messages, read, config, ...)   -> Plan, or LLMError
      1. GET /api/version   reachable? new enough for JSON-schema output (>= 0.5)?
      2. GET /api/tags      which models are installed; pick one
      3. POST /api/show     the model's details (and a 404 for an unknown model)
      4. POST /api/chat     streamed, format = the flattened draft schema, temperature 0,
                            a fixed seed, capped num_predict; `read` checks the reply and
                            its problems go back to the model, at most `max_repairs` times

Everything that happens is written into `record` (the plan's provenance) as it happens,
so a failure is as well explained as a success.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import ollama

from modelyard.engine.planning.prompt import repair_message
from modelyard.engine.settings import DEFAULT_TIMEOUT, normalize_host
from modelyard.schemas import Plan

# A full draft is 400-900 tokens; the cap stops a model that repeats itself.
NUM_PREDICT = 1536
# Ollama's context defaults to a few thousand tokens and silently drops the start of a
# longer prompt (the rules!): ask for room for the whole conversation and the answer.
MIN_CTX, MAX_CTX = 4096, 32768
MAX_REPAIRS = 2
_TICK = 0.2
# What a call to the server can raise (ValueError covers a malformed answer).
_FAILURES = (ollama.ResponseError, ConnectionError, httpx.HTTPError, ValueError)


class LLMError(Exception):
    """The language model gave no usable plan. `sentence` is for a person; `headline` is
    the same without any words quoted from the model's reply (what a page may render);
    `kind` is one of unreachable, too_old, no_model, unknown_model, timeout, server_error,
    invalid, cancelled."""

    def __init__(self, kind: str, sentence: str, detail: str = "", headline: str = ""):
        super().__init__(sentence)
        self.kind = kind
        self.sentence = sentence
        self.detail = detail
        self.headline = headline or sentence
        self.partial = ""  # what the model had written when a try was stopped


@dataclass(frozen=True)
class Progress:
    """One tick of a running request, for a progress line."""

    model: str
    attempt: int
    attempts: int
    elapsed: float
    chars: int
    tail: str
    phase: str  # "connecting", "waiting", "writing", "checking"

    def line(self) -> str:
        step = "" if self.attempt == 1 else f" (repair {self.attempt - 1})"
        what = {"connecting": "connecting to Ollama", "waiting": f"waiting for {self.model}",
                "writing": f"{self.model} is writing the plan: {self.chars} characters",
                "checking": "checking the plan"}[self.phase]
        return f"[{self.elapsed:5.1f}s] {what}{step}"


@dataclass
class LLMConfig:
    host: str
    model: str | None = None  # asked for by name: used as is
    default_model: str | None = None  # remembered: used if installed
    timeout: float = DEFAULT_TIMEOUT
    num_predict: int = NUM_PREDICT
    seed: int = 0
    max_repairs: int = MAX_REPAIRS

    def options(self, messages: list[dict[str, str]] | None = None) -> dict[str, Any]:
        """Sampling options: deterministic, capped, with a context that fits `messages`
        and every repair round (one size for all rounds: a new size reloads the model)."""
        # About 3 characters a token for this mix of words, numbers and JSON: generous.
        rounds = (self.max_repairs + 1) * (self.num_predict + 100)
        need = sum(len(m["content"]) for m in messages or []) // 3 + rounds + 256
        num_ctx = MIN_CTX
        while num_ctx < need and num_ctx < MAX_CTX:
            num_ctx *= 2
        return {"temperature": 0, "seed": self.seed, "num_predict": self.num_predict,
                "num_ctx": num_ctx}


def _version_tuple(version: str) -> tuple[int, ...]:
    parts = []
    for piece in version.split("-")[0].split(".")[:3]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)


def server_status(host: str, timeout: float = 3.0) -> dict[str, Any]:
    """Whether Ollama answers at `host`, its version and its installed models."""
    host = normalize_host(host)
    status: dict[str, Any] = {"host": host, "reachable": False, "version": None, "models": []}
    try:
        reply = httpx.get(f"{host}/api/version", timeout=timeout)
        reply.raise_for_status()
        status["version"] = reply.json().get("version")
        status["reachable"] = True
        with ollama.Client(host=host, timeout=timeout) as client:
            status["models"] = [_model_row(m) for m in client.list().models]
    except _FAILURES as exc:
        status["error"] = f"{type(exc).__name__}: {exc}"
    return status


def _model_row(m: Any) -> dict[str, Any]:
    details = m.details
    return {"name": m.model, "size_gb": round((m.size or 0) / 1e9, 2),
            "parameter_size": getattr(details, "parameter_size", None),
            "family": getattr(details, "family", None),
            "quantization": getattr(details, "quantization_level", None)}


def _translate(exc: BaseException, config: LLMConfig, model: str | None) -> LLMError:
    """A transport or server failure as a sentence (the technical text kept as detail)."""
    detail = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, LLMError):
        return exc
    if isinstance(exc, httpx.TimeoutException):
        return LLMError("timeout", f"The model “{model}” did not answer within "
                                   f"{config.timeout:g} s", detail)
    if isinstance(exc, ConnectionError | httpx.ConnectError):
        return LLMError("unreachable", f"Ollama is not reachable at {config.host}", detail)
    if isinstance(exc, ollama.ResponseError) and exc.status_code == 404:
        return LLMError("unknown_model", f"The model “{model}” is not installed in Ollama "
                                         f"(install it with `ollama pull {model}`)", detail)
    return LLMError("server_error", f"Ollama answered with an error ({exc})", detail)


def _connect(client: ollama.Client, config: LLMConfig, record: dict[str, Any]) -> str:
    """Check the server and pick the model; fills `record`; returns the model name."""
    try:
        reply = httpx.get(f"{config.host}/api/version", timeout=min(5.0, config.timeout))
        reply.raise_for_status()
        version = str(reply.json().get("version") or "")
    except (httpx.HTTPError, ValueError) as exc:
        if isinstance(exc, httpx.HTTPStatusError | ValueError):
            # Something answers, but not as Ollama does.
            raise LLMError("unreachable", f"No Ollama server answers at {config.host}",
                           f"{type(exc).__name__}: {exc}") from None
        raise _translate(exc, config, config.model) from None
    record["server_version"] = version
    if version and _version_tuple(version) < (0, 5, 0):
        raise LLMError("too_old", f"Ollama {version} is too old for structured output "
                                  "(it needs 0.5 or newer)")
    try:
        installed = [m.model for m in client.list().models if m.model]
    except _FAILURES as exc:
        raise _translate(exc, config, config.model) from None
    record["installed_models"] = installed
    if config.model:
        model = config.model
    elif config.default_model in installed:
        model = config.default_model
    elif installed:
        model = installed[0]
    else:
        raise LLMError("no_model", "Ollama has no model installed (install one with "
                                   "`ollama pull llama3.2`)")
    record["model"] = model
    try:
        shown = client.show(model)
    except _FAILURES as exc:
        raise _translate(exc, config, model) from None
    info = dict(shown.modelinfo or {})
    details = shown.details
    record["model_details"] = {
        "family": getattr(details, "family", None),
        "parameter_size": getattr(details, "parameter_size", None),
        "quantization": getattr(details, "quantization_level", None),
        "context_length": next((v for k, v in info.items() if k.endswith(".context_length")),
                               None),
        "capabilities": list(shown.capabilities or []),
    }
    return model


def _stream(client: ollama.Client, model: str, messages: list[dict[str, str]],
            schema: dict[str, Any], options: dict[str, Any], config: LLMConfig, attempt: int,
            on_progress: Callable[[Progress], None] | None,
            cancel_event: threading.Event | None) -> tuple[str, Any, float]:
    """One streamed chat call; returns (content, last chunk, seconds).

    The request runs in a helper thread so that this thread can tick the progress, notice
    a cancel, and keep an overall deadline (httpx's timeout only bounds each read, and a
    model trickling tokens would never trip it).
    """
    parts: queue.Queue = queue.Queue()

    def pump() -> None:
        try:
            for chunk in client.chat(model=model, messages=messages, format=schema,
                                     options=options, stream=True):
                parts.put(("chunk", chunk))
            parts.put(("end", None))
        except BaseException as exc:  # handed to the caller's thread
            parts.put(("error", exc))

    started = time.monotonic()
    threading.Thread(target=pump, daemon=True, name="ollama-chat").start()
    text: list[str] = []
    last = None
    chars = 0
    done = False
    told = 0.0  # when progress was last reported: a model streams a chunk per token
    try:
        while True:
            stop = None
            if cancel_event is not None and cancel_event.is_set():
                stop = LLMError("cancelled", "You stopped the language model")
            elapsed = time.monotonic() - started
            if elapsed > config.timeout:
                stop = LLMError("timeout", f"The model “{model}” did not answer within "
                                           f"{config.timeout:g} s")
            if stop is not None:
                stop.partial = "".join(text)
                raise stop
            try:
                kind, value = parts.get(timeout=_TICK)
            except queue.Empty:
                kind, value = "tick", None
            if kind == "error":
                error = _translate(value, config, model)
                error.partial = "".join(text)
                raise error
            if kind == "end":
                done = True
                return "".join(text), last, time.monotonic() - started
            if kind == "chunk":
                last = value
                piece = value.message.content or ""
                text.append(piece)
                chars += len(piece)
            if on_progress is not None and (kind == "tick" or elapsed - told >= _TICK):
                told = elapsed
                joined = "".join(text[-40:])
                on_progress(Progress(model, attempt, config.max_repairs + 1, elapsed, chars,
                                     joined[-300:], "writing" if chars else "waiting"))
    finally:
        if not done:
            # Stop reading; the helper thread ends at its next read or its timeout.
            client.close()


def ask_for_plan(
    messages: list[dict[str, str]],
    read: Callable[[str], tuple[Plan | None, list[str], list[str]]],
    config: LLMConfig,
    schema: dict[str, Any],
    record: dict[str, Any],
    *,
    on_progress: Callable[[Progress], None] | None = None,
    cancel_event: threading.Event | None = None,
) -> Plan:
    """A Plan from the model, repaired at most `config.max_repairs` times; else LLMError.

    `read(text)` turns a reply into (Plan or None, problems, mends): what has one
    obvious mend is mended there, and only the problems go back to the model.
    """
    record.update({"host": config.host, "options": config.options(messages),
                   "timeout_seconds": config.timeout, "prompt": list(messages),
                   "attempts": [], "validation_errors": [], "repairs": 0, "mends": []})
    began = time.monotonic()
    if on_progress is not None:
        on_progress(Progress(config.model or "the model", 1, config.max_repairs + 1, 0.0, 0,
                             "", "connecting"))
    client = ollama.Client(host=config.host, timeout=config.timeout)
    try:
        model = _connect(client, config, record)
        history = list(messages)
        problems: list[str] = []
        for attempt in range(1, config.max_repairs + 2):
            record["repairs"] = attempt - 1
            began_try = time.monotonic()
            try:
                text, last, seconds = _stream(client, model, history, schema,
                                              record["options"], config, attempt,
                                              on_progress, cancel_event)
            except LLMError as exc:  # the stopped try is recorded with what it wrote
                record["attempts"].append({
                    "raw": exc.partial, "seconds": round(time.monotonic() - began_try, 3),
                    "prompt_tokens": None, "reply_tokens": None, "done_reason": exc.kind,
                    "problems": [exc.sentence], "mends": []})
                raise
            cut_off = getattr(last, "done_reason", None) == "length"
            if on_progress is not None:
                on_progress(Progress(model, attempt, config.max_repairs + 1,
                                     time.monotonic() - began, len(text), text[-300:],
                                     "checking"))
            plan, problems, mends = read(text)
            if cut_off and problems:
                problems = [f"the reply was cut off after {config.num_predict} tokens",
                            *problems]
            record["attempts"].append({
                "raw": text, "seconds": round(seconds, 3),
                "prompt_tokens": getattr(last, "prompt_eval_count", None),
                "reply_tokens": getattr(last, "eval_count", None),
                "done_reason": getattr(last, "done_reason", None),
                "problems": problems, "mends": mends,
            })
            record["raw_reply"] = text
            if problems:
                record["validation_errors"].append(problems)
            if plan is not None:
                record["mends"] = mends  # those of the reply that was kept
                return plan
            history += [{"role": "assistant", "content": text},
                        repair_message(problems, cut_off)]
        tries = config.max_repairs + 1
        # The last problem may quote the reply (the model's words, steerable by the data):
        # the terminal prints it, a page renders only the headline.
        headline = f"The model “{model}” gave no usable plan in {tries} tries"
        raise LLMError("invalid", f"{headline} (last problem: {problems[0]})",
                       "\n".join(problems), headline=headline)
    finally:
        client.close()
        record["latency_seconds"] = round(time.monotonic() - began, 3)
        attempts = record["attempts"]
        record["prompt_tokens"] = sum(a["prompt_tokens"] or 0 for a in attempts)
        record["reply_tokens"] = sum(a["reply_tokens"] or 0 for a in attempts)
