"""The server's parts without a server: what the CLI imports at start, addresses, the row
schema built from a bundle's columns, and the column checks on odd rows (a real bundle,
tests/serve/bundles.py)."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest

from modelyard.engine.training.bundle import Predictor
from modelyard.serve import columns, rows
from modelyard.serve.rows import RequestProblem
from modelyard.serve.server import is_loopback
from tests.serve.bundles import prices_bundle


@pytest.fixture(scope="module")
def prices(tmp_path_factory):
    return Predictor.load(prices_bundle(tmp_path_factory.mktemp("units") / "prices"))


def test_the_cli_starts_without_the_server_libraries():
    code = ("import sys, modelyard.app.cli as c, modelyard.app.workspace; c.build_parser(); "
            "print(sorted(m for m in ('fastapi', 'uvicorn', 'starlette') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


def test_loopback_addresses():
    assert all(map(is_loopback, ["127.0.0.1", "127.0.0.2", "localhost", "::1"]))
    assert not any(map(is_loopback, ["0.0.0.0", "192.168.1.5", "::", "example.org"]))


def test_the_row_schema_is_the_columns_whatever_their_names(prices):
    odd = Predictor(prices.pipeline, {**prices.meta, "numeric": ["size_m2", "model_config"]})
    schema = columns.row_model(odd, "two words").model_json_schema(by_alias=True)
    assert schema["title"] == "TwoWordsRow" and schema["additionalProperties"] is False
    assert set(schema["properties"]) == {"size_m2", "model_config", "town"}
    assert schema["properties"]["town"]["anyOf"][0]["type"] == "string"


def test_true_false_and_whole_numbers_are_read_as_training_read_them(prices):
    for values, read in (([50, 60], [50.0, 60.0]), ([True, False], [1.0, 0.0])):
        body = json.dumps([{"size_m2": v, "town": "north"} for v in values]).encode()
        frame = rows.parse(body, "application/json; charset=utf-8")
        assert rows.check(prices, frame, strict=True) == []
        ready = rows.ready(prices, frame)
        assert ready["size_m2"].tolist() == read
        made = rows.records(prices.predict_frame(ready))
        assert len(made) == 2 and all(isinstance(r["price"], float) for r in made)


def test_a_column_some_rows_leave_out_is_named_with_the_rows(prices):
    frame = rows.parse(json.dumps([{"size_m2": 50, "town": "north"}, {"size_m2": 60},
                                   {"size_m2": 70}]).encode(), "application/json")
    with pytest.raises(RequestProblem) as refused:
        rows.check(prices, frame, strict=True)
    assert refused.value.status == 422 and "“town”: row 1, 2 lack it" in refused.value.message
    assert rows.check(prices, frame, strict=False) == [
        "town: row 1, 2 lack it → treated as unknown in those rows"]


def test_no_model_column_at_all_is_422_listing_what_to_send(prices):
    frame = pd.DataFrame({"colour": ["red"]})
    with pytest.raises(RequestProblem) as refused:
        rows.check(prices, frame, strict=False)
    assert refused.value.status == 422 and "None of the model's columns" in \
        refused.value.message
    assert [p["column"] for p in refused.value.problems] == ["size_m2", "town"]


def test_missing_values_come_back_as_null():
    frame = pd.DataFrame({"a": [1.5, float("nan")], "b": ["x", None]})
    assert rows.records(frame) == [{"a": 1.5, "b": "x"}, {"a": None, "b": None}]
