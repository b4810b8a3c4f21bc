"""The planner with a real small language model: SmolLM2-135M-Instruct run by
llama-cpp-python behind an Ollama-compatible endpoint (tests/llama_ollama.py). A fake
server never makes a real model's mistakes; this one does. Needs `make llm` (the compile
takes minutes); skipped, with the reason, where it has not been run."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from modelyard.engine.planning.llm import server_status
from tests.llama_ollama import MODEL_NAME, N_CTX, available

pytestmark = [pytest.mark.llm, pytest.mark.slow,
              pytest.mark.skipif(available() is not None, reason=str(available()))]


@pytest.fixture(scope="module")
def llama():
    from tests.llama_ollama import LlamaOllama

    server = LlamaOllama().start()
    yield server
    server.stop()


def _propose(ws, path, llama, goal=None):
    dataset = ws.ingest(path)["id"]
    return ws.propose_plan(dataset, goal=goal, planner="ollama", host=llama.url,
                           model=MODEL_NAME, budget_seconds=60)


def test_the_real_model_answers_as_ollama_does(llama):
    status = server_status(llama.url)
    assert status["reachable"] and status["version"]
    assert [m["name"] for m in status["models"]] == [MODEL_NAME]


def test_a_plan_from_the_real_model_is_kept_or_mended_and_names_the_goals_target(
        ws, tmp_path, llama):
    from sklearn.datasets import load_breast_cancer

    frame = load_breast_cancer(as_frame=True).frame
    frame["diagnosis"] = np.where(frame.pop("target") == 0, "malignant", "benign")
    path = tmp_path / "tumours.csv"
    frame.to_csv(path, index=False)  # 30 measurements, then the outcome
    doc = _propose(ws, path, llama, goal="is this tumour cancerous")
    prov = doc["provenance"]
    assert doc["planner"] == "ollama", prov.get("fallback_reason")
    assert doc["plan"]["target"] == "diagnosis" and doc["plan"]["task"] == "binary"
    # What happened is recorded: every try with its seconds, tokens and mends.
    assert prov["attempts"] and all(a["seconds"] > 0 for a in prov["attempts"])
    assert 0 < prov["prompt_tokens"] < N_CTX
    assert prov["mends"] == prov["attempts"][-1]["mends"]


def test_the_prompt_of_a_wide_table_fits_the_models_context(ws, tmp_path, llama):
    # 86 columns, as the insurance table whose prompt once overflowed 8,192 tokens.
    rng = np.random.default_rng(0)
    n = 300
    frame = pd.DataFrame({f"MOSTYPE_{i:02d}": rng.integers(0, 10, n) for i in range(85)})
    frame["Purchase"] = rng.choice(["No", "Yes"], n, p=[0.9, 0.1])
    path = tmp_path / "wide.csv"
    frame.to_csv(path, index=False)
    doc = _propose(ws, path, llama, goal="who will buy the insurance")
    prov = doc["provenance"]
    errors = (prov.get("llm_error") or {}).get("message", "")
    assert "context" not in errors, errors
    first = prov["attempts"][0]
    assert first["prompt_tokens"] + 1536 < N_CTX
