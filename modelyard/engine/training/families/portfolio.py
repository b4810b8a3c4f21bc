"""Proven starting configurations for the boosters, tried before the search's own.

The settings are facts taken from AutoGluon's zero-shot portfolio of 2023
(`hyperparameter_portfolio_zeroshot_2023`, learnt with TabRepo over ~200 data sets:
https://github.com/autogluon/tabrepo), renamed to our settings and limited to what our
search spaces hold (settings we do not search, such as LightGBM's extra_trees or
CatBoost's grow_policy, are left out; the rest come from the family's defaults). The
number of trees is not among them: early stopping learns it on each fold.

Of each library's highest-priority configurations, those that cost about as much as the
defaults come first and those that cost three to six times more are left out: a short
budget runs the first few only. Checked by 5-fold CV at the defaults' side on five real
tables (credit, telco, mlc churn, hitters, penguins): each kept configuration scored
better than the defaults on at least three of the five, which the left-out ones
("Large" LightGBM, depth-8 CatBoost, depth-10 XGBoost at a 0.018 rate) did not.
"""

from __future__ import annotations

LIGHTGBM = (
    {"learning_rate": 0.0471, "num_leaves": 89, "colsample_bytree": 0.625,
     "min_child_samples": 56},
    {"learning_rate": 0.0121, "num_leaves": 53, "colsample_bytree": 0.702,
     "min_child_samples": 14},
)

XGBOOST = (
    {"learning_rate": 0.0878, "max_depth": 5, "colsample_bytree": 0.663,
     "min_child_weight": 0.629},
)

CATBOOST = (
    {"learning_rate": 0.0686, "depth": 6, "l2_leaf_reg": 2.15},
)
