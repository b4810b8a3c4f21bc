"""Feature preparation per family: what each estimator needs and nothing more."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.preprocessing import (
    FunctionTransformer,
    OneHotEncoder,
    OrdinalEncoder,
    StandardScaler,
)

# A category column keeps at most this many of its commonest values; the others become
# missing.
MAX_NATIVE_CATEGORIES = 1000
# A category column with more values than this reaches the boosters as numbers: each value
# its rank in sorted order (see NativeFrame).
CODED_ABOVE = 32
# ...keeping at most this many of its commonest values.
MAX_CODED_VALUES = 100_000


class NativeFrame(TransformerMixin, BaseEstimator):
    """Numeric columns as float, categorical ones as pandas categories with the
    categories fixed at fit time; missing values stay missing. For LightGBM/XGBoost.

    A categorical column with more than `coded_above` values in training is handed over
    as a number instead: each value's rank among its values sorted as text (unseen and
    missing: NaN), split on like any number. The boosters' own splits on a category
    choose a subset of its values, which on hundreds of values fits noise: on the
    245,509 flights (tail number 3,986 values, destination 103), LightGBM at its defaults
    scored ROC AUC 0.756 on held-out flights with both as categories and 0.798 with both
    as ranks, the 16 carriers and 3 airports still categories. (Sorted text keeps what
    order the values have: "A1" < "A2" < "B1" in a loan's sub-grade, the tail numbers'
    prefixes.) `coded_above=None`: every category column stays a category (CatBoost,
    whose ordered target statistics are made for many values)."""

    coded_above: int | None = None  # what a NativeFrame pickled before it existed reads

    def __init__(self, numeric: list[str], categorical: list[str],
                 coded_above: int | None = None):
        self.numeric = numeric
        self.categorical = categorical
        self.coded_above = coded_above

    def fit(self, X: pd.DataFrame, y=None):
        self.categories_ = {}
        self.coded_ = []  # the columns handed over as ranks; categories_ in rank order
        for col in self.categorical:
            counts = X[col].dropna().astype(str).value_counts()
            if self.coded_above is not None and len(counts) > self.coded_above:
                self.coded_.append(col)
                self.categories_[col] = sorted(counts.index[:MAX_CODED_VALUES])
            else:
                self.categories_[col] = list(counts.index[:MAX_NATIVE_CATEGORIES])
        # LightGBM refuses JSON punctuation in feature names.
        self.names_ = {c: re.sub(r'[",:\[\]{}]', "_", str(c))
                       for c in self.numeric + self.categorical}
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        out = {}
        for col in self.numeric:
            out[self.names_[col]] = pd.to_numeric(X[col], errors="coerce").astype("float64")
        coded = set(getattr(self, "coded_", ()))  # a model pickled before there were any
        for col in self.categorical:
            values = X[col].astype(object).where(X[col].notna(), None)
            values = values.map(lambda v: None if v is None else str(v))
            known = values.isin(self.categories_[col])  # unseen categories become missing
            found = pd.Categorical(values.where(known, None),
                                   categories=self.categories_[col])
            if col in coded:
                ranks = found.codes.astype("float64")
                ranks[found.codes < 0] = np.nan
                out[self.names_[col]] = ranks
            else:
                out[self.names_[col]] = found
        return pd.DataFrame(out, index=X.index)

    def get_feature_names_out(self, input_features=None):
        return np.array([self.names_[c] for c in self.numeric + self.categorical], dtype=object)


class NativeTextFrame(NativeFrame):
    """`NativeFrame` plus each free-text column as plain strings (missing → empty), for a
    model that reads text itself (CatBoost's own tokenizers and dictionaries)."""

    def __init__(self, numeric: list[str], categorical: list[str], texts: list[str]):
        super().__init__(numeric, categorical)
        self.texts = texts

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        out = super().transform(X)
        for col in self.texts:
            out[col] = X[col].fillna("").astype(str).astype(object).to_numpy()
        return out

    def get_feature_names_out(self, input_features=None):
        return np.array([*super().get_feature_names_out(), *self.texts], dtype=object)


class AsObject(TransformerMixin, BaseEstimator):
    """Categorical columns as plain Python strings (missing → NaN) for scikit-learn's
    imputers and encoders, which do not all accept pandas' string dtype."""

    def fit(self, X, y=None):
        return self

    def transform(self, X):
        frame = pd.DataFrame(X)
        return frame.apply(lambda s: s.map(lambda v: v if pd.isna(v) else str(v))).astype(object)

    def get_feature_names_out(self, input_features=None):
        return np.asarray(input_features, dtype=object)


class _ColumnParts(TransformerMixin, BaseEstimator):
    """Each of `columns` becomes the numbers named PARTS, as "column__part"; nothing is
    learnt in fitting."""

    PARTS: tuple[str, ...] = ()

    def __init__(self, columns: list[str]):
        self.columns = columns

    def fit(self, X, y=None):
        return self

    @classmethod
    def names(cls, columns: list[str]) -> list[str]:
        return [f"{c}__{p}" for c in columns for p in cls.PARTS]


class DateParts(_ColumnParts):
    """Each date column becomes numbers a model can split on: year, month, day of month,
    day of week, hour, and days since 1970 (for trends)."""

    PARTS = ("year", "month", "day", "dayofweek", "hour", "epoch_days")

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        out = X.drop(columns=self.columns)
        for col in self.columns:
            # Times with a zone count in UTC, as intake stores them.
            when = pd.to_datetime(X[col], errors="coerce", utc=True).dt.tz_localize(None)
            parts = {"year": when.dt.year, "month": when.dt.month, "day": when.dt.day,
                     "dayofweek": when.dt.day_of_week, "hour": when.dt.hour,
                     "epoch_days": (when - pd.Timestamp(0)).dt.total_seconds() / 86400}
            for part in self.PARTS:
                out[f"{col}__{part}"] = parts[part].astype("float64")
        return out


def _tfidf() -> FeatureUnion:
    """Word 1-2-grams and character 2-5-grams within words: robust to typos and to
    languages without spaces, bounded in size."""
    return FeatureUnion([
        ("words", TfidfVectorizer(ngram_range=(1, 2), min_df=2, max_features=20_000,
                                  sublinear_tf=True)),
        ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), min_df=2,
                                  max_features=20_000, sublinear_tf=True)),
    ])


class TextColumn(TransformerMixin, BaseEstimator):
    """One free-text column as a 1-D array of strings (missing → empty)."""

    def fit(self, X, y=None):
        return self

    def transform(self, X):
        series = X.iloc[:, 0] if isinstance(X, pd.DataFrame) else pd.Series(np.ravel(X))
        return series.fillna("").astype(str).to_numpy()

    def get_feature_names_out(self, input_features=None):
        # The column passes through as it is: the model explanations name it so.
        return np.asarray(input_features, dtype=object)


class TextStats(_ColumnParts):
    """The shape of each text, as numbers: its length in characters and words, lines and
    links, the share of capitals, lower case, digits, spaces, punctuation and non-ASCII
    letters, and how often each common symbol occurs. Words reduced to a few components
    lose these, and they often tell most: on dslabs' tweets, which device sent a tweet
    (length, links, capitals and quote marks changed with the phone), LightGBM's log loss
    on a fifth of the rows held out went from 0.428 with the components alone to 0.302
    with these next to them (AutoGluon's LightGBM, with its own text statistics and
    n-grams: 0.297); on Amazon fine-food reviews from 0.477 to 0.454."""

    SHARES = {"capitals": r"[A-Z]", "lower": r"[a-z]", "digits": r"\d", "spaces": r"\s",
              "punctuation": r"[^\w\s]", "non_ascii": r"[^\x00-\x7f]"}
    SYMBOLS = {"excl": "!", "quest": "?", "at": "@", "hash": "#", "dot": ".", "comma": ",",
               "colon": ":", "semicolon": ";", "dquote": '"', "squote": "'", "paren": "(",
               "slash": "/", "dash": "-", "amp": "&", "dollar": "$", "percent": "%"}
    PARTS = ("chars", "words", "lines", "links", *(f"{k}_share" for k in SHARES),
             *(f"n_{k}" for k in SYMBOLS))

    @classmethod
    def of(cls, text: pd.Series) -> dict[str, np.ndarray]:
        """The parts of one text column (missing → empty), each a float column."""
        s = pd.Series(text).fillna("").astype(str)
        chars = s.str.len().to_numpy(dtype="float64")
        parts = {"chars": chars,
                 "words": s.str.count(r"\S+").to_numpy(dtype="float64"),
                 "lines": s.str.count("\n").to_numpy(dtype="float64"),
                 "links": s.str.count(r"https?://|www\.").to_numpy(dtype="float64")}
        for name, pattern in cls.SHARES.items():
            parts[f"{name}_share"] = (s.str.count(pattern).to_numpy(dtype="float64")
                                      / np.maximum(chars, 1.0))
        for name, symbol in cls.SYMBOLS.items():
            parts[f"n_{name}"] = s.str.count(re.escape(symbol)).to_numpy(dtype="float64")
        return parts

    def transform(self, X) -> pd.DataFrame:
        frame = X if isinstance(X, pd.DataFrame) else pd.DataFrame(X, columns=self.columns)
        out = {}
        for col in self.columns:
            for part, values in self.of(frame[col]).items():
                out[f"{col}__{part}"] = values
        return pd.DataFrame(out, index=frame.index)

    def get_feature_names_out(self, input_features=None):
        return np.asarray(self.names(list(self.columns)), dtype=object)


class TextComponents(TransformerMixin, BaseEstimator):
    """Each text column becomes a few dense numbers (TF-IDF reduced by truncated SVD) and
    its shape (`TextStats`), for models that want a dense table: trees and boosters."""

    def __init__(self, columns: list[str], n_components: int = 32, stats: bool = True):
        self.columns = columns
        self.n_components = n_components
        self.stats = stats

    def fit(self, X: pd.DataFrame, y=None):
        self.steps_ = {}
        for col in self.columns:
            text = X[col].fillna("").astype(str)
            tfidf = _tfidf().fit(text)
            matrix = tfidf.transform(text)
            k = max(1, min(self.n_components, matrix.shape[1] - 1, len(text) - 1))
            self.steps_[col] = (tfidf, TruncatedSVD(k, random_state=0).fit(matrix))
        return self

    @classmethod
    def names(cls, columns: list[str], n_components: int = 32, stats: bool = True
              ) -> list[str]:
        return [name for c in columns
                for name in ([f"{c}__text{i}" for i in range(n_components)]
                             + (TextStats.names([c]) if stats else []))]

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        out = X.drop(columns=self.columns)
        for col in self.columns:
            tfidf, svd = self.steps_[col]
            parts = svd.transform(tfidf.transform(X[col].fillna("").astype(str)))
            for i in range(self.n_components):
                out[f"{col}__text{i}"] = parts[:, i] if i < parts.shape[1] else 0.0
            # A model fitted before the statistics existed was fitted without them.
            if getattr(self, "stats", False):
                for part, values in TextStats.of(X[col]).items():
                    out[f"{col}__{part}"] = values
        return out


def build_preprocessor(kind: str, numeric: list[str], categorical: list[str],
                       dates: list[str] | None = None, texts: list[str] | None = None):
    if kind == "none":  # a model that ignores its features (the baseline)
        return FunctionTransformer(feature_names_out="one-to-one")
    if dates:
        return Pipeline([
            ("dates", DateParts(list(dates))),
            ("features", build_preprocessor(kind, numeric + DateParts.names(dates),
                                            categorical, texts=texts)),
        ])
    if texts and kind == "native_text":
        return NativeTextFrame(numeric, categorical, list(texts))
    if texts and kind != "scaled":
        return Pipeline([
            ("text", TextComponents(list(texts))),
            ("features", _build(kind, numeric + TextComponents.names(list(texts)),
                                categorical)),
        ])
    return _build(kind, numeric, categorical, texts or [])


def _build(kind: str, numeric: list[str], categorical: list[str],
           texts: list[str] | None = None):
    """The preprocessing a family asked for, fitted per fold inside its pipeline:
    "native" (categories kept for LightGBM/XGBoost; "native_text" also keeps free text as
    strings, for CatBoost), "ordinal" (category codes for
    scikit-learn trees) or "scaled" (imputed, scaled, one-hot for linear/distance models);
    "none" (see `build_preprocessor`) leaves the columns as they are."""
    if kind == "native":
        return NativeFrame(numeric, categorical, coded_above=CODED_ABOVE)
    if kind == "native_text":  # CatBoost's, with text or without
        return NativeFrame(numeric, categorical)
    if kind == "ordinal":
        # Trees split on codes as well as on one-hot columns, at a fraction of the width;
        # missing numbers stay NaN (scikit-learn's trees route them natively).
        parts = [("num", "passthrough", numeric)] if numeric else []
        if categorical:
            parts.append(("cat", Pipeline([
                ("strings", AsObject()),
                ("codes", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1,
                                         encoded_missing_value=-2)),
            ]), categorical))
        return ColumnTransformer(parts, remainder="drop")
    if kind != "scaled":
        raise ValueError(f"unknown preprocessing {kind!r}")
    parts = []
    if numeric:
        parts.append(("num", Pipeline([
            ("impute", SimpleImputer(strategy="median", add_indicator=True,
                                     keep_empty_features=True)),
            ("scale", StandardScaler()),
        ]), numeric))
    if categorical:
        parts.append(("cat", Pipeline([
            ("strings", AsObject()),
            ("impute", SimpleImputer(strategy="constant", fill_value="(missing)")),
            ("onehot", OneHotEncoder(handle_unknown="infrequent_if_exist", max_categories=30,
                                     sparse_output=False)),
        ]), categorical))
    for col in texts or []:
        # Linear and distance models take the full sparse TF-IDF, and the text's shape
        # scaled (its counts on a log scale: a few long texts must not dominate).
        parts.append((f"text_{col}", Pipeline([("column", TextColumn()), ("tfidf", _tfidf())]),
                      [col]))
        parts.append((f"shape_{col}", Pipeline([
            ("stats", TextStats([col])),
            ("log", FunctionTransformer(np.log1p, feature_names_out="one-to-one")),
            ("scale", StandardScaler()),
        ]), [col]))
    return ColumnTransformer(parts, remainder="drop", sparse_threshold=0.3)
