"""Text to text: detection, plan, scores, baselines, the character transformer and the
T5 loading path, on pairs spelled out by num2words (bench/text_pairs.py)."""

from __future__ import annotations

import json
import time

import polars as pl
import pytest

from bench.text_pairs import pairs, split
from modelyard.engine.errors import BadInputError
from modelyard.engine.intake.profile import profile_table
from modelyard.engine.planning.problems import plan_problems
from modelyard.engine.planning.rules import rule_plan
from modelyard.engine.text_to_text.baselines import CopyInput, FrequentOutput
from modelyard.engine.text_to_text.pairs import Pairs, holdout, read_pairs
from modelyard.engine.text_to_text.score import cer, edits, exact_match
from modelyard.schemas import Metric, Plan, Task

TINY = {"d_model": 16, "heads": 2, "layers": 1, "ff": 32, "dropout": 0.0,
        "learning_rate": 3e-3, "batch_size": 16}


@pytest.fixture(scope="module")
def table():
    return pairs(200, seed=3)


def _profile(frame, target=None):
    return profile_table(pl.from_pandas(frame).lazy(), target)


def test_a_pair_of_text_columns_is_text_to_text_not_classification(table):
    for target in (None, "spoken"):
        profile = _profile(table, target)
        assert profile.modality == "text_to_text"
        assert profile.target.column == "spoken"
        assert profile.target.task is Task.text_to_text
        assert profile.findings["text_to_text"] == {"input": "written"}
        codes = {(w.code, w.column) for w in profile.warnings}
        assert ("text_to_text", "spoken") in codes and ("id_like", "written") not in codes
    plan = rule_plan(profile, "d1")
    assert plan.task is Task.text_to_text and plan.input_column == "written"
    assert plan.metric is Metric.exact_match
    assert [f.family for f in plan.families] == ["copy_input", "frequent_output",
                                                 "char_transformer"]
    assert plan_problems(plan, profile) == []


def test_a_text_column_beside_a_class_stays_classification():
    reviews = pl.DataFrame({
        "review": [f"the product number {i} was {'great' if i % 2 else 'awful'} really"
                   for i in range(200)],
        "label": ["good" if i % 2 else "bad" for i in range(200)]})
    profile = profile_table(reviews.lazy())
    assert profile.modality != "text_to_text"
    assert profile.target.task is Task.binary
    assert "text_to_text" not in profile.findings


def test_older_plans_load_and_a_text_plan_needs_its_input():
    old = {"dataset_id": "d", "target": "y", "task": "binary", "metric": "roc_auc",
           "families": [{"family": "linear"}]}
    assert Plan.model_validate(old).input_column is None
    with pytest.raises(ValueError, match="input_column"):
        Plan.model_validate({**old, "task": "text_to_text", "metric": "exact_match"})
    assert not Task.text_to_text.is_classification
    assert Metric.exact_match.greater_is_better and not Metric.cer.greater_is_better


def test_outputs_longer_than_the_cap_are_refused_naming_it(table):
    long = table.copy()
    long.loc[:5, "spoken"] = "x" * 250
    profile = _profile(long, "spoken")
    plan = rule_plan(profile, "d1")
    assert "char_transformer" not in [f.family for f in plan.families]
    assert "at most 200" in plan.rationale
    forced = plan.model_copy(update={"families": [*plan.families,
                                                  plan.families[0].model_copy(
                                                      update={"family": "char_transformer"})]})
    assert any("at most 200" in p for p in plan_problems(forced, profile))


def test_empty_outputs_are_named(tmp_path):
    frame = pl.DataFrame({"written": [str(i) for i in range(20)], "spoken": [""] * 20})
    frame.write_parquet(tmp_path / "t.parquet")
    with pytest.raises(BadInputError, match="Only 0 rows have an output text in “spoken”"):
        read_pairs(tmp_path / "t.parquet", "written", "spoken")


def test_scores():
    assert edits("kitten", "sitting") == 3
    assert exact_match(["a", "b"], ["a", "c"]) == 0.5
    assert cer(["abc", ""], ["abc", "de"]) == pytest.approx(2 / 5)


def test_holdout_keeps_each_input_on_one_side():
    data = Pairs(["a", "a", "b", "c", "d", "e"] * 3, ["x"] * 18, list(range(18)))
    train, valid = holdout(data, 0.4, seed=0)
    assert set(train.inputs).isdisjoint(valid.inputs) and len(train) + len(valid) == 18


def test_baselines(tmp_path):
    freq = FrequentOutput().fit(["1", "1", "1", "2"], ["one", "one", "won", "two"])
    assert freq.predict(["1", "2", "3"]) == ["one", "two", "3"]
    freq.save(tmp_path)
    assert FrequentOutput.load(tmp_path).predict(["1"]) == ["one"]
    assert CopyInput().predict(["Dec 5th"]) == ["Dec 5th"]


def test_character_transformer_trains_saves_loads_and_resumes(tmp_path):
    from modelyard.engine.text_to_text.charformer import CharTransformer

    train, test = split(120, 20, seed=1)
    ckpt = tmp_path / "ckpt.pt"
    seen = []
    model = CharTransformer(TINY, threads=1).fit(
        train.written.tolist(), train.spoken.tolist(), deadline=time.time() + 2,
        valid=(test.written.tolist(), test.spoken.tolist()), checkpoint=ckpt,
        on_eval=lambda epoch, score: seen.append(score))
    assert seen and ckpt.exists()
    predicted = model.predict(test.written.tolist())
    assert len(predicted) == len(test) and all(isinstance(p, str) for p in predicted)
    (tmp_path / "bundle").mkdir()
    model.save(tmp_path / "bundle")
    again = CharTransformer.load(tmp_path / "bundle")
    assert again.predict(test.written.tolist()) == predicted
    resumed = CharTransformer(TINY, threads=1).fit(
        train.written.tolist(), train.spoken.tolist(), deadline=time.time() + 1,
        valid=(test.written.tolist(), test.spoken.tolist()), checkpoint=ckpt)
    assert resumed.resumed and resumed.epochs > model.epochs - 1


def _tiny_t5(folder):
    transformers = pytest.importorskip("transformers")
    config = transformers.T5Config(vocab_size=384, d_model=16, d_ff=32, d_kv=8,
                                   num_layers=1, num_decoder_layers=1, num_heads=2,
                                   decoder_start_token_id=0, pad_token_id=0,
                                   eos_token_id=1)
    transformers.T5ForConditionalGeneration(config).save_pretrained(folder)
    transformers.ByT5Tokenizer().save_pretrained(folder)


def test_t5_fine_tunes_from_a_local_folder_only(tmp_path):
    from modelyard.engine.text_to_text.plan import t5_weights_present
    from modelyard.engine.text_to_text.t5 import T5Model, weights_dir

    weights = tmp_path / "weights"
    model = T5Model({"batch_size": 8}, source=weights_dir(weights))
    with pytest.raises(BadInputError, match="no local weights.*t5-small"):
        model.fit(["1"], ["one"], deadline=time.time() + 1)
    assert not t5_weights_present(weights)
    _tiny_t5(weights_dir(weights))
    assert t5_weights_present(weights)
    train, test = split(40, 10, seed=2)
    model.fit(train.written.tolist(), train.spoken.tolist(), deadline=time.time() + 2,
              valid=(test.written.tolist(), test.spoken.tolist()))
    predicted = model.predict(test.written.tolist())
    assert len(predicted) == len(test)
    (tmp_path / "bundle").mkdir()
    model.save(tmp_path / "bundle")
    assert json.loads((tmp_path / "bundle" / "text_model.json").read_text())["kind"] == "t5_small"
    assert T5Model.load(tmp_path / "bundle").predict(test.written.tolist()) == predicted
