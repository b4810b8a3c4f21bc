"""T5-small fine-tuned on the pairs, only from a local copy of its weights.

The weights are looked for in `$MODELYARD_HOME/weights/t5-small/` (a folder written by
`save_pretrained`: config.json, the weights and the tokenizer files); nothing is ever
downloaded (`local_files_only`). Without that folder the family's trial fails with a
message naming it, and the Run goes on with the other families.

Budget policy as the character model's: fine-tune until the deadline, score the held-out
pairs by greedy generation at intervals, keep the best weights. The bundle holds the
`save_pretrained` folder (safetensors: no pickle).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from modelyard.engine.errors import BadInputError
from modelyard.storage.files import write_json_atomic

WEIGHTS_FOLDER = "t5-small"
DEFAULTS: dict[str, Any] = {"learning_rate": 5e-4, "batch_size": 16}
MAX_NEW_TOKENS = 128
EVAL_ROWS = 100


def weights_dir(home_weights: Path) -> Path:
    return Path(home_weights) / WEIGHTS_FOLDER


def require_transformers():
    try:
        import torch
        import transformers
    except ImportError as exc:
        raise BadInputError("T5-small needs torch and transformers, which are not "
                            "installed.", "Install them with `pip install "
                            "'modelyard[text]'`, or leave T5-small out of the plan.") from exc
    return torch, transformers


def _check_folder(folder: Path) -> None:
    if not (folder / "config.json").exists():
        raise BadInputError(
            f"T5-small has no local weights: {folder} holds no config.json.",
            "Copy a T5-small folder (written by save_pretrained, tokenizer included) "
            "there, or leave T5-small out of the plan. Nothing is downloaded.")


class T5Model:
    kind = "t5_small"

    def __init__(self, params: dict[str, Any] | None = None, *, seed: int = 0,
                 threads: int = 1, source: Path | None = None):
        self.params = {**DEFAULTS, **(params or {})}
        self.seed, self.threads, self.source = seed, threads, source
        self.net = self.tokenizer = None
        self.epochs = 0

    def _open(self, folder: Path) -> None:
        torch, tf = require_transformers()
        _check_folder(folder)
        self.tokenizer = tf.AutoTokenizer.from_pretrained(folder, local_files_only=True)
        self.net = tf.T5ForConditionalGeneration.from_pretrained(folder,
                                                                 local_files_only=True)

    def fit(self, inputs: list[str], outputs: list[str], *, deadline: float,
            valid: tuple[list[str], list[str]] | None = None, checkpoint: Path | None = None,
            patience: int = 6, on_eval: Callable[[int, float], None] | None = None
            ) -> T5Model:
        """Fine-tune from `self.source` until `deadline`, keeping the best weights."""
        torch, _ = require_transformers()
        if self.source is None:
            raise BadInputError("T5-small was given no weights folder.", "")
        torch.manual_seed(self.seed)
        from modelyard.engine.text_to_text.charformer import idle_threads

        torch.set_num_threads(idle_threads(self.threads))
        self._open(Path(self.source))
        opt = torch.optim.AdamW(self.net.parameters(), lr=self.params["learning_rate"])
        best, best_state, stale = -1.0, None, 0
        eval_every = max(5.0, (deadline - time.time()) / 8)
        last_eval = time.time()
        gen = torch.Generator().manual_seed(self.seed)
        size = self.params["batch_size"]
        while True:
            self.net.train()
            order = torch.randperm(len(inputs), generator=gen).tolist()
            for start in range(0, len(order), size):
                idx = order[start:start + size]
                enc = self.tokenizer([inputs[i] for i in idx], return_tensors="pt",
                                     padding=True, truncation=True, max_length=256)
                labels = self.tokenizer([outputs[i] for i in idx], return_tensors="pt",
                                        padding=True, truncation=True,
                                        max_length=MAX_NEW_TOKENS).input_ids
                labels[labels == self.tokenizer.pad_token_id] = -100
                loss = self.net(**enc, labels=labels).loss
                opt.zero_grad()
                loss.backward()
                opt.step()
                if time.time() >= deadline:
                    break
            self.epochs += 1
            at_end = time.time() >= deadline
            if time.time() - last_eval < eval_every and not at_end:
                continue
            last_eval = time.time()
            score = -float(loss.item())
            if valid:
                got = self.predict(valid[0][:EVAL_ROWS])
                score = sum(a == b for a, b in zip(got, valid[1][:EVAL_ROWS], strict=True)
                            ) / max(1, min(EVAL_ROWS, len(valid[1])))
            if score > best:
                best, stale = score, 0
                best_state = {k: v.detach().clone() for k, v in self.net.state_dict().items()}
            else:
                stale += 1
            if on_eval:
                on_eval(self.epochs, score)
            if at_end or best >= 1.0 or stale >= patience:
                break
        if best_state is not None:
            self.net.load_state_dict(best_state)
        self.net.eval()
        return self

    def predict(self, inputs: list[str], batch: int = 64) -> list[str]:
        torch, _ = require_transformers()
        self.net.eval()
        out: list[str] = []
        with torch.no_grad():
            for start in range(0, len(inputs), batch):
                enc = self.tokenizer(inputs[start:start + batch], return_tensors="pt",
                                     padding=True, truncation=True, max_length=256)
                ids = self.net.generate(**enc, max_new_tokens=MAX_NEW_TOKENS, do_sample=False,
                                        num_beams=1)
                out += self.tokenizer.batch_decode(ids, skip_special_tokens=True)
        return out

    def save(self, folder: Path) -> None:
        target = Path(folder) / "t5"
        self.net.save_pretrained(target)
        self.tokenizer.save_pretrained(target)
        write_json_atomic(Path(folder) / "text_model.json",
                          {"kind": self.kind, "params": self.params})

    @classmethod
    def load(cls, folder: Path) -> T5Model:
        data = json.loads((Path(folder) / "text_model.json").read_text(encoding="utf-8"))
        model = cls(data.get("params"))
        model._open(Path(folder) / "t5")
        return model
