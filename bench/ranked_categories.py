"""Many-valued categories for the boosters: native categories against ranks (values
sorted as text), LightGBM and XGBoost at their defaults with early stopping, 3 x 5-fold
cross-validation, on the tables of bench/realdata.py that have a category column of more
than preprocess.CODED_ABOVE values (bench/RESULTS.md, "The large table side by side").

    python -m bench.ranked_categories mlc_churn lending_club hotel_rates
"""

from __future__ import annotations

import sys
import warnings

import lightgbm as lgb
import numpy as np
import pandas as pd
import xgboost as xgb
from sklearn.metrics import mean_squared_error, roc_auc_score
from sklearn.model_selection import KFold, StratifiedKFold

from bench import realdata
from modelyard.engine.training.preprocess import CODED_ABOVE, NativeFrame


def _fit(fam: str, task: str, A, ya, B, yb):
    if fam == "lgbm":
        cls = lgb.LGBMClassifier if task != "regression" else lgb.LGBMRegressor
        model = cls(n_estimators=2000, verbose=-1, n_jobs=2)
        model.fit(A, ya, eval_set=[(B, yb)], callbacks=[lgb.early_stopping(50, verbose=False)])
        return model
    cls = xgb.XGBClassifier if task != "regression" else xgb.XGBRegressor
    model = cls(n_estimators=2000, tree_method="hist", enable_categorical=True, n_jobs=2,
                early_stopping_rounds=50, max_cat_to_onehot=1)
    model.fit(A, ya, eval_set=[(B, yb)], verbose=False)
    return model


def compare(name: str) -> dict:
    frame, target, task = realdata.ALL[name]()
    X = frame.drop(columns=target)
    y = frame[target]
    y = (y == sorted(y.unique())[-1]).astype(int).to_numpy() if task != "regression" \
        else y.to_numpy(float)
    cats = [c for c in X.columns if not pd.api.types.is_numeric_dtype(X[c])]
    nums = [c for c in X.columns if c not in cats]
    out = {"table": name, "task": task}
    for label, above in (("categories", None), ("ranks", CODED_ABOVE)):
        for fam in ("lgbm", "xgb"):
            scores = []
            for seed in range(3):
                folds = (StratifiedKFold if task != "regression" else KFold)(
                    5, shuffle=True, random_state=seed)
                for tr, va in folds.split(X, y):
                    prep = NativeFrame(nums, cats, coded_above=above).fit(X.iloc[tr])
                    A, B = prep.transform(X.iloc[tr]), prep.transform(X.iloc[va])
                    model = _fit(fam, task, A, y[tr], B, y[va])
                    scores.append(roc_auc_score(y[va], model.predict_proba(B)[:, 1])
                                  if task != "regression"
                                  else mean_squared_error(y[va], model.predict(B)) ** 0.5)
            out[f"{fam} {label}"] = round(float(np.mean(scores)), 4)
    return out


if __name__ == "__main__":
    warnings.filterwarnings("ignore")
    for table in sys.argv[1:] or ["mlc_churn", "lending_club", "hotel_rates"]:
        print(compare(table), flush=True)
