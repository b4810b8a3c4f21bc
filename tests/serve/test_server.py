"""`modelyard serve` answering real HTTP requests (httpx) on a free port: good rows, bad
rows, bad bodies, no token, several models, many threads at once."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
import pandas as pd
import pytest

from modelyard.engine.training.bundle import Predictor
from tests.serve.bundles import prices_frame
from tests.serve.conftest import MAX_BODY_MB, TOKEN

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def client(server):
    with httpx.Client(base_url=server.url, headers=AUTH, timeout=60) as found:
        yield found


@pytest.fixture(scope="module")
def wine(trained):
    """The run's model loaded here, and the test rows (with their id column)."""
    predictor = Predictor.load(trained.home / "runs" / trained.run_id)
    return predictor, pd.read_csv(trained.test)


def as_json_rows(frame: pd.DataFrame) -> list[dict]:
    return json.loads(frame.to_json(orient="records", double_precision=15))


def same(answer: list[dict], expected: pd.DataFrame) -> None:
    got = pd.DataFrame(answer)
    assert list(got.columns) == list(expected.columns)
    for column in expected.columns:
        if pd.api.types.is_float_dtype(expected[column]):
            np.testing.assert_allclose(got[column].to_numpy(float),
                                       expected[column].to_numpy(float), rtol=1e-9, atol=1e-12)
        else:
            assert got[column].astype(str).tolist() == expected[column].astype(str).tolist()


def problem(response: httpx.Response, status: int, *needles: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) <= {"detail", "problems"} and "Traceback" not in response.text
    for needle in needles:
        assert needle in body["detail"], (needle, body["detail"])
    return body


# -- good requests -------------------------------------------------------------------------
def test_one_row_is_predicted_as_in_python(client, wine):
    predictor, rows = wine
    response = client.post("/predict", json=as_json_rows(rows.head(1))[0])
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model"] == "wine" and body["rows"] == 1 and body["notes"] == []
    same(body["predictions"], predictor.predict_frame(rows.head(1)))
    assert body["predictions"][0]["lot_code"] == rows["lot_code"].iloc[0]


def test_a_batch_and_a_csv_body(client, wine, trained):
    predictor, rows = wine
    expected = predictor.predict_frame(rows)
    batch = client.post("/predict", json=as_json_rows(rows))
    assert batch.status_code == 200, batch.text
    same(batch.json()["predictions"], expected)
    csv = client.post("/predict", content=trained.test.read_bytes(),
                      headers={"Content-Type": "text/csv"})
    assert csv.status_code == 200, csv.text
    assert csv.json()["rows"] == len(rows)
    same(csv.json()["predictions"], expected)


def test_two_more_models_under_their_names(client, wine, bundles):
    predictor, rows = wine
    named = client.post("/models/wine/predict", json=as_json_rows(rows.head(3)))
    same(named.json()["predictions"], predictor.predict_frame(rows.head(3)))
    prices = prices_frame().head(5)
    answer = client.post("/models/prices/predict",
                         json=as_json_rows(prices[["size_m2", "town"]]))
    assert answer.status_code == 200, answer.text
    same(answer.json()["predictions"],
         Predictor.load(bundles["prices"]).predict_frame(prices[["size_m2", "town"]]))
    assert client.get("/models/prices/metadata").json()["target"] == "price"
    assert [m["name"] for m in client.get("/models").json()["models"]] == \
        ["wine", "prices", "broken"]
    problem(client.post("/models/nope/predict", json={}), 404, "There is no /models/nope/predict",
            "/models/<name>/predict")


def test_many_threads_at_once_each_get_their_own_answer(client, wine, bundles):
    predictor, rows = wine
    prices = prices_frame()[["size_m2", "town"]]
    expected_prices = Predictor.load(bundles["prices"]).predict_frame(prices)
    expected_wine = predictor.predict_frame(rows)

    def ask(i: int):
        if i % 2:
            k = i % len(prices)
            return "prices", k, client.post("/models/prices/predict",
                                            json=as_json_rows(prices.iloc[[k]])[0])
        k = i % len(rows)
        return "wine", k, client.post("/predict", json=as_json_rows(rows.iloc[[k]])[0])

    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(ask, range(160)))
    assert all(r.status_code == 200 for _, _, r in answers), \
        [r.text for _, _, r in answers if r.status_code != 200][:3]
    for model, k, response in answers:
        expected = expected_wine if model == "wine" else expected_prices
        same(response.json()["predictions"], expected.iloc[[k]].reset_index(drop=True))


def test_metadata_names_the_columns_and_the_score(client, wine):
    predictor, _ = wine
    meta = client.get("/metadata").json()
    assert [f["name"] for f in meta["features"]] == predictor.features
    assert {f["type"] for f in meta["features"]} == {"number"}
    assert meta["classes"] == predictor.classes and meta["target"] == "cultivar"
    assert meta["metric"] == predictor.meta["metric"]
    assert meta["cv_score"] == pytest.approx(predictor.meta["cv_score"])
    assert meta["versions"]["scikit-learn"] and meta["id_column"] == "lot_code"


def test_the_openapi_schema_is_each_models_columns(client, wine):
    predictor, _ = wine
    paths = client.get("/openapi.json").json()["paths"]
    body = paths["/predict"]["post"]["requestBody"]["content"]
    row = body["application/json"]["schema"]["oneOf"][0]
    assert set(predictor.features) <= set(row["properties"])
    assert row["properties"]["alcohol"]["anyOf"][0]["type"] == "number"
    assert "text/csv" in body
    prices = paths["/models/prices/predict"]["post"]["requestBody"]["content"]
    fields = prices["application/json"]["schema"]["oneOf"][0]["properties"]
    assert set(fields) == {"size_m2", "town"} and fields["town"]["anyOf"][0]["type"] == "string"


def test_the_docs_page_loads_nothing_from_the_internet(client):
    page = client.get("/docs")
    assert page.status_code == 200 and "alcohol" in page.text and "town" in page.text
    assert "<script" not in page.text and "cdn" not in page.text.lower()


# -- the columns, checked as the Predict page checks a file -----------------------------------
def test_a_missing_column_is_refused_naming_it(client, wine):
    _, rows = wine
    row = as_json_rows(rows.drop(columns="alcohol").head(1))
    body = problem(client.post("/predict", json=row), 422, "“alcohol”", "the request lacks it",
                   "send a number", "strict=false")
    assert body["problems"] == [{
        "column": "alcohol", "problem": "missing", "detail": "the model uses this column; the "
        "request lacks it", "what will happen": "treated as unknown in every row: predictions "
        "are less reliable", "what to send": "a number (null when unknown)"}]


def test_an_extra_column_is_refused_naming_it(client, wine):
    _, rows = wine
    row = {**as_json_rows(rows.head(1))[0], "vineyard": "north"}
    body = problem(client.post("/predict", json=row), 422, "“vineyard”", "not used by the model",
                   "leave it out")
    assert [p["column"] for p in body["problems"]] == ["vineyard"]


def test_a_wrongly_typed_column_is_refused_naming_it(client, wine):
    _, rows = wine
    row = {**as_json_rows(rows.head(1))[0], "proline": "plenty"}
    problem(client.post("/predict", json=row), 422, "“proline”", "numbers expected",
            "'plenty'", "send a number")
    nested = {**as_json_rows(rows.head(1))[0], "hue": [1, 2]}
    problem(client.post("/predict", json=nested), 422, "column “hue”", "one value expected")


def test_not_strict_predicts_and_says_what_was_done(client, wine):
    predictor, rows = wine
    row = as_json_rows(rows.drop(columns="alcohol").head(1))
    response = client.post("/predict", params={"strict": "false"}, json=row)
    assert response.status_code == 200, response.text
    assert response.json()["notes"] == ["alcohol: the model uses this column; the request "
                                        "lacks it → treated as unknown in every row: "
                                        "predictions are less reliable"]
    problem(client.post("/predict", params={"strict": "perhaps"}, json=row), 400,
            "neither true nor false")


# -- bad bodies, no token -----------------------------------------------------------------------
def test_malformed_bodies_are_400(client):
    problem(client.post("/predict", content=b'{"alcohol": 1,',
                        headers={"Content-Type": "application/json"}), 400,
            "not valid JSON", "Send one row as a JSON object")
    problem(client.post("/predict", json=[]), 400, "no rows")
    problem(client.post("/predict", json="alcohol"), 400, "is a text, not rows")
    problem(client.post("/predict", json=[{"alcohol": 1}, 3]), 400,
            "Row 1 is a number, not an object")
    problem(client.post("/predict", content=b"\xff\xfe{", headers={
        "Content-Type": "application/json"}), 400, "not UTF-8")


def test_an_oversize_body_is_413(client, wine):
    _, rows = wine
    cap = MAX_BODY_MB * 2**20
    many = as_json_rows(rows) * int(1.3 * cap / len(json.dumps(as_json_rows(rows))) + 1)
    size = len(json.dumps(many))
    assert cap < size < 2 * cap
    problem(client.post("/predict", json=many), 413, "over this server's cap of 51.2 KB",
            "--max-body-mb")
    # Sent in chunks, without a declared length: cut off as it passes the cap.
    chunks = (json.dumps(many)[i:i + 4096].encode() for i in range(0, size, 4096))
    problem(client.post("/predict", content=chunks, headers={
        "Content-Type": "application/json"}), 413, "over this server's cap")


def test_a_wrong_content_type_is_415(client):
    problem(client.post("/predict", content=b"alcohol=1",
                        headers={"Content-Type": "application/x-www-form-urlencoded"}), 415,
            "reads JSON or CSV", "application/x-www-form-urlencoded", "text/csv")
    problem(client.post("/predict", content=b"x"), 415, "no content type")


def test_every_route_but_health_needs_the_token(server):
    with httpx.Client(base_url=server.url, timeout=30) as anonymous:
        health = anonymous.get("/health")
        assert health.status_code == 200 and health.json()["status"] == "ok"
        for method, path in (("POST", "/predict"), ("GET", "/metadata"), ("GET", "/models"),
                             ("GET", "/openapi.json"), ("GET", "/docs"),
                             ("POST", "/models/prices/predict")):
            refused = anonymous.request(method, path, json={"alcohol": 1})
            problem(refused, 401, "needs a token", "Authorization: Bearer")
            assert refused.headers["www-authenticate"] == "Bearer"
        wrong = anonymous.get("/metadata", headers={"Authorization": "Bearer nope"})
        problem(wrong, 401, "needs a token")


def test_an_unexpected_error_is_a_plain_500_and_logged(client, server):
    response = client.post("/models/broken/predict", json={"size_m2": 50.0})
    problem(response, 500, "The server failed on this request", "Broken", "logged")
    assert "always fails" not in response.text
    log = server.log.read_text()
    assert "Traceback" in log and "a step of this pipeline always fails" in log
    # ... and the server goes on answering.
    assert client.get("/health").status_code == 200
