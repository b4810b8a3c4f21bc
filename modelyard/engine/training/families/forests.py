"""Random forest and extra trees: robust, little tuning, good uncertainty of their own."""

from __future__ import annotations

from modelyard.engine.training.families.base import (
    CLASS_WEIGHT,
    Choice,
    FitContext,
    Float,
    Int,
    ModelFamily,
    Space,
    class_weight,
    shrink,
    tree_pros_cons,
    without,
)

# The rows a bootstrapped tree draws, at most (see `_sample_share`).
TREE_ROWS = 100_000
# One leaf per this many rows at the least (see `_leaf_floor`).
ROWS_PER_LEAF_FLOOR = 50_000
# The most a searched forest's trees may hold by `memory_bytes` (see `_most_trees`).
FOREST_BYTES = 512 << 20
# The searched number of trees: at most this many, and at the least...
MOST_TREES = 500
# ...this many even where their estimate is over FOREST_BYTES (the default's 200).
FEWEST_MOST_TREES = 200


class _Forest(ModelFamily):
    preprocessing = "ordinal"
    interpretability = "medium: feature importances"
    memory = "large"
    pros = ("robust with little tuning",)
    cons = ("large in memory: hundreds of deep trees",)
    flexible = True
    # Sorting each node's rows: n log n, about n ** 1.15 over the sizes that matter.
    time_exponent = 1.15
    hold_back = {"min_samples_leaf": "at least"}
    hold_back_words = ("more rows per leaf (min_samples_leaf) and fewer columns per split "
                       "(max_features)")
    classifier: str  # sklearn.ensemble names, imported when built (see linear.py)
    regressor: str

    def search_space(self, ctx: FitContext) -> Space:
        weights = {"class_weight": CLASS_WEIGHT} if ctx.task.is_classification else {}
        # On many rows every tree draws a sample (see `_sample_share`), which needs the
        # bootstrap.
        bootstrap = (True,) if ctx.n_rows > TREE_ROWS else (True, False)
        return weights | {
            "n_estimators": Int(50, _most_trees(ctx), log=True),
            "max_features": Float(0.1, 1.0),
            "min_samples_leaf": Int(_leaf_floor(ctx), 20 * _leaf_floor(ctx), log=True),
            "bootstrap": Choice(bootstrap),
        }

    def default_params(self, ctx: FitContext) -> dict:
        leaf = _leaf_floor(ctx)
        if ctx.task.is_classification:
            return {"class_weight": "none", "n_estimators": 200, "max_features": 0.3,
                    "min_samples_leaf": leaf, "bootstrap": True}
        return {"n_estimators": 200, "max_features": 0.5, "min_samples_leaf": leaf,
                "bootstrap": True}

    def memory_bytes(self, params: dict, ctx: FitContext, data_bytes: int) -> int:
        # Fully grown trees on a bootstrap sample (63% of the rows distinct): at most
        # two nodes per distinct row and leaf size, each a 64-byte record plus a value
        # per class. Measured on 50,000 flights (binary, one row a leaf): 46 bytes a
        # row and tree, against 104 here.
        per_tree = _tree_bytes(params, ctx)
        return 4 * data_bytes + params.get("n_estimators", 100) * per_tree

    def smaller(self, params: dict, ctx: FitContext) -> dict | None:
        # Half the trees, each with at least twice the rows per leaf: about a quarter.
        return shrink(params, self.search_space(ctx), n_estimators=0.5, min_samples_leaf=2)

    def pros_cons(self, profile):
        return tree_pros_cons(self, profile)

    def build(self, params: dict, ctx: FitContext):
        from sklearn import ensemble  # see linear.py

        share = _sample_share(params, ctx)
        more = {} if share is None else {"max_samples": share}
        if ctx.task.is_classification:
            return getattr(ensemble, self.classifier)(
                **without(params, "class_weight"), class_weight=class_weight(params),
                n_jobs=ctx.n_jobs, random_state=ctx.seed, **more)
        return getattr(ensemble, self.regressor)(**params, n_jobs=ctx.n_jobs,
                                                 random_state=ctx.seed, **more)


def _leaf_floor(ctx: FitContext) -> int:
    """The fewest rows a leaf may hold: 1 up to 50,000 rows, then one more per 50,000.
    Fully grown trees are a forest's memory: on 245,000 flights 200 of them held 2.3 GB
    (four times what FLAML's whole run used) for a trial that did not beat LightGBM; at
    5 rows a leaf they hold a fifth of that, and averaged probabilities lose next to
    nothing when each leaf sees a few rows."""
    return max(1, -(-ctx.n_rows // ROWS_PER_LEAF_FLOOR))


def _tree_bytes(params: dict, ctx: FitContext) -> int:
    """One fully grown tree (see `memory_bytes`)."""
    leaf = params.get("min_samples_leaf", 1)
    rows = ctx.n_rows if _sample_share(params, ctx) is None else TREE_ROWS
    return int(1.3 * rows / leaf * (64 + 8 * max(1, ctx.n_classes)))


def _most_trees(ctx: FitContext) -> int:
    """The most trees the search offers: as many of the largest trees it may grow (the
    fewest rows a leaf, drawn as on many rows) as fit in FOREST_BYTES, between
    FEWEST_MOST_TREES and MOST_TREES. On 245,000 flights a searched forest made the
    Run's peak 1.75 GB, three times FLAML's whole run, for a model that did not beat the
    boosters (a tree of 100,000 drawn rows, 4 a leaf, takes 2.1 MiB: 500 of them are a
    gigabyte); past a few hundred trees a forest's score barely moves while its size
    grows with every tree."""
    largest = {"min_samples_leaf": _leaf_floor(ctx), "bootstrap": True}
    fit = FOREST_BYTES // max(1, _tree_bytes(largest, ctx))
    return int(min(MOST_TREES, max(FEWEST_MOST_TREES, fit)))


def _sample_share(params: dict, ctx: FitContext) -> float | None:
    """On many rows each bootstrapped tree draws about TREE_ROWS of them rather than all:
    fully grown trees on 245,000 flights took 2.3 GB and two minutes for 200 trees;
    drawn from 100,000 they are a third of that, and a forest of trees that each saw
    fewer rows is no worse for it (more varied trees). None: every row."""
    if not params.get("bootstrap", True) or ctx.n_rows <= TREE_ROWS:
        return None
    return TREE_ROWS / ctx.n_rows


class RandomForest(_Forest):
    name = "random_forest"
    title = "Random forest"
    summary = "many independent deep trees, averaged"
    speed = "moderate"
    accuracy = "robust, rarely the worst"
    why = "Many independent trees: robust with little tuning, rarely the worst."
    classifier = "RandomForestClassifier"
    regressor = "RandomForestRegressor"


class ExtraTrees(_Forest):
    name = "extra_trees"
    title = "Extra trees"
    summary = "many randomised trees, averaged"
    speed = "fast"
    accuracy = "a useful second opinion for the ensemble"
    why = "Randomised trees: fast, and a useful different opinion for the ensemble."
    classifier = "ExtraTreesClassifier"
    regressor = "ExtraTreesRegressor"
