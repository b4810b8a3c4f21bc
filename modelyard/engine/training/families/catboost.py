"""CatBoost: gradient-boosted oblivious trees with native categorical columns.

Categories. The "native" preparation hands categories over as pandas categories with
missing values left missing (as LightGBM and XGBoost take them). CatBoost refuses NaN
among categorical values and wants strings or integers, so `CatBoostModel` turns each
categorical column into plain strings, a missing value into MISSING, the same way at
fit, at prediction and for the row explanations. Categories unseen in training are
already missing by then (`NativeFrame`), so they too meet the model as MISSING.

Text. Free-text columns reach CatBoost as they are (the "native_text" preparation) and
are read by its own text processing (TEXT_PROCESSING): lower-cased words and word pairs
seen at least three times, in dictionaries of at most 5,000 entries each, turned into
numbers by a bag of words over the 500 most telling entries and, for classes, a naive
Bayes estimate per class. CatBoost 1.2.10 takes text for regression too (checked: RMSE
fits), but its naive Bayes and BM25 estimators need classes, so a regression gets the bag
of words alone. CatBoost's defaults (dictionaries of 50,000 entries) took 384 s against
69 s for the SVD features on 3,000 food reviews here, at no gain; the smaller dictionaries
keep it near the other boosters' time. A model that read text cannot go to ONNX: CatBoost
saves text features only in its own format (the export says so).

Rounds. The number of trees is learnt, not searched: on a fold, the fit stops
EARLY_STOPPING_ROUNDS rounds after the validation loss last improved (at most
MAX_ROUNDS), and the mean best round count over the folds becomes the final model's
`iterations` (`learnt_params`). A fit with no validation rows and nothing learnt takes
DEFAULT_ROUNDS, CatBoost's own default.

Deadline. On the CPU a callback ends the fit after the round that passes the deadline
and the fit raises `OutOfTime`. CatBoost runs no Python callbacks on the GPU, so there
the family gives no deadline hook and the trainer guards its fits instead (a child
process killed past the budget). The GPU path is used only where NVML sees a GPU; it is
untested on this CPU-only machine.

The fitted model (`catboost_model.py`) lives apart, imported when a model is built, so
that reading the registry imports neither pandas nor scikit-learn.
"""

from __future__ import annotations

from modelyard.engine.training.families import portfolio as proven
from modelyard.engine.training.families.base import (
    CLASS_WEIGHT,
    FitContext,
    Float,
    Int,
    ModelFamily,
    Space,
    columns,
    cuda_available,
    shrink,
    tree_pros_cons,
)
from modelyard.schemas import ColumnKind

MISSING = "(missing)"  # what a missing category is called, as in the "scaled" preparation
MAX_ROUNDS = 5000
EARLY_STOPPING_ROUNDS = 50
DEFAULT_ROUNDS = 1000
ONE_HOT_MAX = 10
# CatBoost's text processing for free-text columns (see Text above): its option values
# are strings, as its documentation writes them.
TEXT_PROCESSING = {
    "tokenizers": [{"tokenizer_id": "Space", "separator_type": "ByDelimiter",
                    "delimiter": " ", "lowercasing": "true"}],
    "dictionaries": [
        {"dictionary_id": "Word", "gram_order": "1", "max_dictionary_size": "5000",
         "occurrence_lower_bound": "3"},
        {"dictionary_id": "BiGram", "gram_order": "2", "max_dictionary_size": "5000",
         "occurrence_lower_bound": "3"},
    ],
    "feature_processing": {"default": [
        {"dictionaries_names": ["Word", "BiGram"], "tokenizers_names": ["Space"],
         "feature_calcers": ["BoW:top_tokens_count=500"]},
        {"dictionaries_names": ["Word", "BiGram"], "tokenizers_names": ["Space"],
         "feature_calcers": ["NaiveBayes"]},
    ]},
}

class CatBoost(ModelFamily):
    name = "catboost"
    preprocessing = "native_text"
    title = "CatBoost"
    summary = ("gradient-boosted symmetric trees with native categorical columns and its "
               "own reading of free text")
    speed = "moderate; slower than LightGBM on large tables"
    accuracy = "often the best on tables at its defaults"
    interpretability = "medium: feature importances"
    memory = "moderate"
    why = ("Gradient-boosted trees that are strong at their defaults and use categorical "
           "columns as they are, with little risk of overfitting them.")
    pros = ("often the most accurate family on tables at its defaults",
            "learns its number of trees on each validation fold")
    cons = ("harder to explain than a linear model",)
    flexible = True
    learnt = ("iterations",)
    cuts_short = True
    hold_back = {"depth": "at most", "l2_leaf_reg": "at least"}
    hold_back_words = ("shallower trees (depth), a stronger l2_leaf_reg and a lower "
                       "learning_rate (the number of trees is learnt on the folds)")
    explains_rows = True
    packages = ("catboost",)
    portfolio = proven.CATBOOST

    def pros_cons(self, profile):
        pros, cons = tree_pros_cons(self, profile)
        n_cat = sum(c.kind is ColumnKind.categorical for c in profile.columns)
        if n_cat:
            pros = [f"uses the {n_cat} categorical column{'s' if n_cat > 1 else ''} as "
                    "they are", *pros][:3]
        n_text = sum(c.kind is ColumnKind.text for c in profile.columns)
        if n_text:
            pros = [f"reads the {n_text} text column{'s' if n_text > 1 else ''} itself, "
                    "word by word and in word pairs", *pros][:3]
        if profile.n_rows > 100_000:
            cons = [*cons, f"slower than LightGBM on {profile.n_rows} rows"][:3]
        return pros, cons

    def own_importance(self, model):
        return model.feature_importances_, "prediction change (CatBoost)"

    def row_contributions(self, model, prepared, n_out: int):
        return model.contributions(prepared)[0].reshape(n_out, -1)

    def search_space(self, ctx: FitContext) -> Space:
        weights = {"class_weight": CLASS_WEIGHT} if ctx.task.is_classification else {}
        return weights | {
            "learning_rate": Float(0.01, 0.3, log=True),
            "depth": Int(3, 10),
            "l2_leaf_reg": Float(0.5, 30.0, log=True),
            "random_strength": Float(0.01, 10.0, log=True),
            "subsample": Float(0.5, 1.0),
        }

    def default_params(self, ctx: FitContext) -> dict:
        # CatBoost's own defaults, except the learning rate: its default is chosen from
        # the data at fit time, and 0.05 with early stopping is AutoGluon's choice.
        weights = {"class_weight": "none"} if ctx.task.is_classification else {}
        return weights | {"learning_rate": 0.05, "depth": 6, "l2_leaf_reg": 3.0,
                          "random_strength": 1.0, "subsample": 0.8}

    def memory_bytes(self, params: dict, ctx: FitContext, data_bytes: int) -> int:
        # The data and its quantised copy (a byte per value); histograms of 254 borders
        # per feature for each leaf of the current depth; the trees (one leaf value per
        # output, 2^depth leaves each) up to the most rounds a fit may take.
        leaves = 2 ** params.get("depth", 6)
        outputs = ctx.n_classes if ctx.n_classes > 2 else 1
        rounds = params.get("iterations", MAX_ROUNDS)
        return 4 * data_bytes + leaves * columns(ctx, data_bytes) * 256 * 16 \
            + rounds * leaves * outputs * 8

    def smaller(self, params: dict, ctx: FitContext) -> dict | None:
        return shrink(params, self.search_space(ctx), depth=0.75)

    def fit_params(self, deadline: float | None, valid=None, until: float | None = None
                   ) -> dict:
        more = {} if valid is None else {"eval_set": valid}
        if not cuda_available():  # no callbacks on the GPU
            if deadline is not None:
                more["deadline"] = deadline
            if until is not None:
                more["until"] = until
        return more

    def learnt_params(self, model) -> dict:
        rounds = getattr(model, "best_rounds_", None)
        return {} if rounds is None else {"iterations": rounds}

    def build(self, params: dict, ctx: FitContext):
        classification = ctx.task.is_classification
        if classification:
            loss = "MultiClass" if ctx.n_classes > 2 else "Logloss"
        else:
            loss = "RMSE"
        native = {k: v for k, v in params.items() if k not in ("class_weight", "iterations")}
        if params.get("class_weight") == "balanced":
            native["auto_class_weights"] = "Balanced"
        gpu = cuda_available()
        device = {"task_type": "GPU", "devices": "0"} if gpu else {}
        # The searched subsample needs a bootstrap that takes one: MVS (CatBoost's CPU
        # default) where it applies, else Bernoulli (the GPU's and MultiClass's default,
        # Bayesian, refuses a subsample).
        native["bootstrap_type"] = "Bernoulli" if gpu or loss == "MultiClass" else "MVS"
        native |= {"loss_function": loss, "thread_count": ctx.n_jobs,
                   "random_seed": ctx.seed, "verbose": False,
                   # Categories of up to ONE_HOT_MAX levels one-hot rather than as target
                   # statistics and their combinations: several times faster on tables
                   # with many small categorical columns (measured: 7x on telco churn).
                   "one_hot_max_size": ONE_HOT_MAX,
                   # Otherwise it writes catboost_info/ into the working directory.
                   "allow_writing_files": False, **device}
        from modelyard.engine.training.families.catboost_model import (
            CatBoostClassifierModel,
            CatBoostRegressorModel,
        )

        cls = CatBoostClassifierModel if classification else CatBoostRegressorModel
        return cls(params=native, iterations=params.get("iterations"))
