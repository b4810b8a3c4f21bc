"""A character-level encoder-decoder transformer trained from scratch (torch).

Budget policy: it trains until its deadline (the Run's budget, shared with the other
families), scoring the held-out pairs by greedy decoding every `eval_seconds` and keeping
the best weights; it stops early when that score has not improved for `patience`
evaluations or is perfect. After every evaluation it writes a checkpoint (weights,
optimiser, best weights so far) beside the Run, renamed into place whole, so a worker that
dies loses at most one evaluation interval, and the next session resumes from it.

The bundle holds `weights.pt` (a state dict: tensors only, read with weights_only) and
`text_model.json` (vocabulary and shape): no pickle.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from modelyard.engine.errors import BadInputError
from modelyard.storage.files import write_json_atomic

PAD, BOS, EOS, UNK = 0, 1, 2, 3
SPECIALS = 4
# The longest output the network writes (and the longest input it reads); longer
# outputs are refused with this number, longer inputs are cut.
MAX_OUTPUT_CHARS = 200
MAX_INPUT_CHARS = 200
# Small on purpose: on a CPU a step of this network on 32 pairs takes ~0.15 s, so a
# few minutes are a few thousand steps (a network twice as wide learnt less in the same
# time here).
DEFAULTS: dict[str, Any] = {"d_model": 64, "heads": 4, "layers": 2, "ff": 192,
                            "dropout": 0.1, "learning_rate": 2e-3, "batch_size": 32}
# Held-out pairs decoded at each evaluation: decoding one costs about as much as a
# training step on a third of a batch, so more would eat the training time.
EVAL_ROWS = 64


def require_torch():
    try:
        import torch
    except ImportError as exc:
        raise BadInputError("The character model needs torch, which is not installed.",
                            "Install it with `pip install 'modelyard[text]'`, or leave "
                            "the family out of the plan.") from exc
    return torch


def idle_threads(wanted: int) -> int:
    """At most `wanted` threads, and no more than the cores left idle: on a busy machine
    torch's spinning threads fight the other processes (measured on a loaded 2-core
    machine: a step took 0.15 s on one thread and 0.9 s on two)."""
    try:
        busy = os.getloadavg()[0]
    except OSError:
        busy = 0.0
    return max(1, min(wanted, int((os.cpu_count() or 1) - busy)))


def check_lengths(outputs: list[str], column: str = "the target") -> None:
    """Refuse outputs longer than the network writes, naming the cap."""
    longest = max((len(y) for y in outputs), default=0)
    if longest > MAX_OUTPUT_CHARS:
        raise BadInputError(
            f"Some outputs in {column} are {longest} characters long; the character model "
            f"writes at most {MAX_OUTPUT_CHARS}.",
            "Shorten or split the outputs, or leave the character model out of the plan.")


def _network(torch, vocab_size: int, p: dict[str, Any]):
    nn = torch.nn

    class CharSeq2Seq(nn.Module):
        def __init__(self):
            super().__init__()
            d = p["d_model"]
            self.embed = nn.Embedding(vocab_size, d, padding_idx=PAD)
            self.src_pos = nn.Embedding(MAX_INPUT_CHARS + 2, d)
            self.tgt_pos = nn.Embedding(MAX_OUTPUT_CHARS + 2, d)
            self.core = nn.Transformer(d, p["heads"], p["layers"], p["layers"], p["ff"],
                                       p["dropout"], batch_first=True)
            # Nested tensors only speed up padded inference on GPUs, and warn on a CPU.
            self.core.encoder.enable_nested_tensor = False
            self.out = nn.Linear(d, vocab_size)
            self.scale = math.sqrt(d)

        def encode(self, src):
            pos = torch.arange(src.shape[1], device=src.device)
            x = self.embed(src) * self.scale + self.src_pos(pos)
            return self.core.encoder(x, src_key_padding_mask=src == PAD)

        def decode(self, tgt, memory, src):
            n = tgt.shape[1]
            pos = torch.arange(n, device=tgt.device)
            y = self.embed(tgt) * self.scale + self.tgt_pos(pos)
            causal = torch.triu(torch.ones(n, n, dtype=torch.bool, device=tgt.device), 1)
            h = self.core.decoder(y, memory, tgt_mask=causal,
                                  tgt_key_padding_mask=tgt == PAD,
                                  memory_key_padding_mask=src == PAD)
            return self.out(h)

        def forward(self, src, tgt):
            return self.decode(tgt, self.encode(src), src)

    return CharSeq2Seq()


def _batches(outputs: list[str], size: int, gen, torch) -> list[list[int]]:
    """Shuffled batches of pairs of similar output lengths: padding is compute spent on
    nothing (about half of it with shuffled batches of these lengths)."""
    order = torch.randperm(len(outputs), generator=gen).tolist()
    chunk = size * 20
    batches = []
    for start in range(0, len(order), chunk):
        part = sorted(order[start:start + chunk], key=lambda i: len(outputs[i]))
        batches += [part[i:i + size] for i in range(0, len(part), size)]
    return [batches[i] for i in torch.randperm(len(batches), generator=gen).tolist()]


class CharTransformer:
    """fit(inputs, outputs, deadline=...) then predict(inputs), like the baselines."""

    kind = "char_transformer"

    def __init__(self, params: dict[str, Any] | None = None, *, seed: int = 0,
                 threads: int = 1):
        self.params = {**DEFAULTS, **(params or {})}
        self.seed, self.threads = seed, threads
        self.chars: list[str] = []
        self.net = None
        self.epochs = 0
        self.resumed = False
        # Decoding stops here: a little past the longest output seen in training.
        self.max_out = MAX_OUTPUT_CHARS
        self.device = "cpu"  # "cuda" while training where a GPU is there

    # -- text <-> ids ------------------------------------------------------------------
    def _ids(self, text: str, cap: int) -> list[int]:
        index = self._index
        return [index.get(c, UNK) for c in text[:cap]]

    def _batch(self, texts: list[str], cap: int, wrap: bool):
        torch = require_torch()
        rows = [([BOS] if wrap else []) + self._ids(t, cap) + ([EOS] if wrap else [])
                for t in texts]
        width = max(1, max(len(r) for r in rows))
        return torch.tensor([r + [PAD] * (width - len(r)) for r in rows], dtype=torch.long,
                            device=self.device)

    def _set_chars(self, chars: list[str]) -> None:
        self.chars = chars
        self._index = {c: i + SPECIALS for i, c in enumerate(chars)}

    # -- training ---------------------------------------------------------------------
    def fit(self, inputs: list[str], outputs: list[str], *, deadline: float,
            valid: tuple[list[str], list[str]] | None = None,
            checkpoint: Path | None = None, patience: int = 8,
            on_eval: Callable[[int, float], None] | None = None) -> CharTransformer:
        """Train until `deadline` (time.time()), keeping the weights that decode the most
        `valid` pairs exactly; resume from `checkpoint` when it matches this data."""
        torch = require_torch()
        check_lengths(outputs)
        torch.manual_seed(self.seed)
        torch.set_num_threads(idle_threads(self.threads))
        self._set_chars(sorted({c for t in [*inputs, *outputs] for c in t}))
        self.max_out = min(MAX_OUTPUT_CHARS, max(len(y) for y in outputs) + 10)
        p = self.params
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        self.net = _network(torch, len(self.chars) + SPECIALS, p).to(self.device)
        opt = torch.optim.AdamW(self.net.parameters(), lr=p["learning_rate"])
        best_state, best, stale, step = None, -1.0, 0, 0
        state = self._resume(torch, checkpoint, opt)
        if state is not None:
            best_state, best, step = state["best_state"], state["best"], state["step"]
        loss_fn = torch.nn.CrossEntropyLoss(ignore_index=PAD)
        eval_every = max(3.0, (deadline - time.time()) / 8)
        last_eval = time.time()
        gen = torch.Generator().manual_seed(self.seed + self.epochs)
        while True:
            self.net.train()
            for idx in _batches(outputs, p["batch_size"], gen, torch):
                src = self._batch([inputs[i] for i in idx], MAX_INPUT_CHARS, wrap=False)
                tgt = self._batch([outputs[i] for i in idx], MAX_OUTPUT_CHARS, wrap=True)
                warm = min(1.0, (step + 1) / 100)
                for group in opt.param_groups:
                    group["lr"] = p["learning_rate"] * warm
                logits = self.net(src, tgt[:, :-1])
                loss = loss_fn(logits.reshape(-1, logits.shape[-1]), tgt[:, 1:].reshape(-1))
                opt.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(self.net.parameters(), 1.0)
                opt.step()
                step += 1
                if time.time() >= deadline:
                    break
            self.epochs += 1
            at_end = time.time() >= deadline
            if time.time() - last_eval < eval_every and not at_end:
                continue
            last_eval = time.time()
            score = self._score(valid) if valid else -float(loss.item())
            if score > best:
                best, stale = score, 0
                best_state = {k: v.detach().clone() for k, v in self.net.state_dict().items()}
            else:
                stale += 1
            if on_eval:
                on_eval(self.epochs, score)
            if checkpoint is not None:
                self._checkpoint(torch, checkpoint, opt, best_state, best, step)
            if at_end or best >= 1.0 or stale >= patience:
                break
        if best_state is not None:
            self.net.load_state_dict(best_state)
        self.net.eval()
        return self

    def _score(self, valid: tuple[list[str], list[str]]) -> float:
        inputs, outputs = valid[0][:EVAL_ROWS], valid[1][:EVAL_ROWS]
        predicted = self.predict(inputs)
        return sum(a == b for a, b in zip(predicted, outputs, strict=True)) / max(1, len(outputs))

    def _signature(self) -> dict[str, Any]:
        return {"chars": "".join(self.chars), "params": self.params, "seed": self.seed}

    def _checkpoint(self, torch, path: Path, opt, best_state, best, step) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".partial")
        torch.save({"signature": json.dumps(self._signature(), sort_keys=True),
                    "state": self.net.state_dict(), "optimizer": opt.state_dict(),
                    "best_state": best_state, "best": best, "step": step,
                    "epochs": self.epochs}, partial)
        os.replace(partial, path)

    def _resume(self, torch, path: Path | None, opt) -> dict[str, Any] | None:
        if path is None or not path.exists():
            return None
        try:
            saved = torch.load(path, map_location="cpu", weights_only=True)
        except Exception:  # a checkpoint torn by a crash: start afresh
            return None
        if saved.get("signature") != json.dumps(self._signature(), sort_keys=True):
            return None
        self.net.load_state_dict(saved["state"])
        opt.load_state_dict(saved["optimizer"])
        self.epochs, self.resumed = int(saved["epochs"]), True
        return saved

    # -- predicting -------------------------------------------------------------------
    def predict(self, inputs: list[str], batch: int = 256) -> list[str]:
        """Greedy decoding, one character at a time, for every input."""
        torch = require_torch()
        self.net.eval()
        out: list[str] = []
        with torch.no_grad():
            for start in range(0, len(inputs), batch):
                out += self._greedy(torch, inputs[start:start + batch])
        return out

    def _greedy(self, torch, texts: list[str]) -> list[str]:
        if not texts:
            return []
        src = self._batch(texts, MAX_INPUT_CHARS, wrap=False)
        memory = self.net.encode(src)
        ys = torch.full((len(texts), 1), BOS, dtype=torch.long, device=self.device)
        done = torch.zeros(len(texts), dtype=torch.bool, device=self.device)
        for _ in range(self.max_out + 1):
            nxt = self.net.decode(ys, memory, src)[:, -1].argmax(-1)
            nxt = torch.where(done, torch.full_like(nxt, PAD), nxt)
            ys = torch.cat([ys, nxt[:, None]], dim=1)
            done |= nxt == EOS
            if bool(done.all()):
                break
        chars = self.chars
        result = []
        for row in ys[:, 1:].tolist():
            text = []
            for i in row:
                if i in (EOS, PAD):
                    break
                if i >= SPECIALS:
                    text.append(chars[i - SPECIALS])
            result.append("".join(text))
        return result

    # -- bundle -----------------------------------------------------------------------
    def save(self, folder: Path) -> None:
        torch = require_torch()
        folder = Path(folder)
        torch.save({k: v.cpu() for k, v in self.net.state_dict().items()},
                   folder / "weights.pt")
        write_json_atomic(folder / "text_model.json",
                          {"kind": self.kind, "params": self.params, "chars": self.chars,
                           "max_output_chars": self.max_out})

    @classmethod
    def load(cls, folder: Path) -> CharTransformer:
        torch = require_torch()
        folder = Path(folder)
        data = json.loads((folder / "text_model.json").read_text(encoding="utf-8"))
        model = cls(data["params"])
        model._set_chars(list(data["chars"]))
        model.max_out = int(data.get("max_output_chars", MAX_OUTPUT_CHARS))
        model.net = _network(torch, len(model.chars) + SPECIALS, model.params)
        model.net.load_state_dict(torch.load(folder / "weights.pt", map_location="cpu",
                                             weights_only=True))
        model.net.eval()
        return model
