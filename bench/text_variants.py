"""Text handling compared on one real table with text, 75/25 split (seed 0), a fifth of the
training rows held out for early stopping: the linear model on the full TF-IDF, LightGBM and
CatBoost on its SVD components, CatBoost reading the text itself (its defaults, or the
family's smaller TEXT_PROCESSING as "cb_text_small"), and two-model averages.

    python -m bench.text_variants tweets linear,cb_svd,cb_text_small,blend:linear+cb_text_small

Prints one JSON line per variant (accuracy, log loss, seconds). Used for RESULTS.md's
"CatBoost's own text features" section.
"""

import json
import sys
import time

import numpy as np
import pandas as pd
import polars as pl
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, log_loss
from sklearn.model_selection import train_test_split

from bench import realdata
from modelyard.engine.intake.profile import profile_table
from modelyard.engine.training.families.catboost import TEXT_PROCESSING
from modelyard.engine.training.preprocess import build_preprocessor
from modelyard.schemas import ColumnKind

name = sys.argv[1]
variants = sys.argv[2].split(",")
frame, target, task = getattr(realdata, name)()
prof = profile_table(pl.from_pandas(frame).lazy(), target=target)
kinds = {c.name: c.kind for c in prof.columns}
num = [c for c, k in kinds.items() if c != target and k in (ColumnKind.numeric, ColumnKind.boolean)]
cat = [c for c, k in kinds.items() if c != target and k is ColumnKind.categorical]
txt = [c for c, k in kinds.items() if c != target and k is ColumnKind.text]
print(name, {c: k.value for c, k in kinds.items()}, flush=True)
y_all = pd.factorize(frame[target], sort=True)[0]
tr, te = train_test_split(np.arange(len(frame)), test_size=0.25, random_state=0, stratify=y_all)
X = frame.drop(columns=[target])
Xtr, Xte, ytr, yte = X.iloc[tr], X.iloc[te], y_all[tr], y_all[te]
fit_i, val_i = train_test_split(np.arange(len(tr)), test_size=0.2, random_state=0, stratify=ytr)
K = len(np.unique(y_all))
out = {}


def report(v, p, t):
    out[v] = p
    print(
        json.dumps(
            {
                "table": name,
                "variant": v,
                "acc": round(accuracy_score(yte, p.argmax(1)), 4),
                "logloss": round(log_loss(yte, p, labels=range(K)), 4),
                "s": round(t, 1),
            }
        ),
        flush=True,
    )


def catboost(kind, text_processing=None, extra=None):
    from catboost import CatBoostClassifier

    pre = build_preprocessor(kind, num, cat, texts=txt) if isinstance(kind, str) else kind
    A = pre.fit_transform(Xtr.iloc[fit_i], ytr[fit_i])
    B = pre.transform(Xtr.iloc[val_i])
    C = pre.transform(Xte)

    def fr(D):
        D = D.copy()
        cats = [c for c in D.columns if isinstance(D[c].dtype, pd.CategoricalDtype)]
        for c in cats:
            D[c] = D[c].astype(object).where(D[c].notna(), "(missing)").map(str).astype(object)
        texts = [c for c in D.columns if c not in cats and not pd.api.types.is_numeric_dtype(D[c])]
        return D, cats, texts

    (A, cats, texts), (B, _, _), (C, _, _) = fr(A), fr(B), fr(C)
    kw = dict(
        learning_rate=0.05,
        depth=6,
        iterations=5000,
        loss_function="MultiClass" if K > 2 else "Logloss",
        thread_count=2,
        verbose=False,
        allow_writing_files=False,
        random_seed=0,
        one_hot_max_size=10,
    )
    if text_processing:
        kw["text_processing"] = text_processing
    kw |= extra or {}
    m = CatBoostClassifier(**kw, cat_features=cats, text_features=texts or None)
    m.fit(A, ytr[fit_i], eval_set=(B, ytr[val_i]), early_stopping_rounds=50, use_best_model=True)
    print("  rounds", m.get_best_iteration(), "texts", texts, flush=True)
    return m.predict_proba(C)


def native_text_frame(D):
    D = D.copy()
    for c in txt:
        D[c] = D[c].fillna("").astype(str).astype(object)
    return D


for v in variants:
    t0 = time.time()
    if v == "linear":
        pre = build_preprocessor("scaled", num, cat, texts=txt)
        A = pre.fit_transform(Xtr, ytr)
        best = None
        for C in (0.3, 1, 3, 10):
            m = LogisticRegression(C=C, max_iter=2000)
            pre2 = build_preprocessor("scaled", num, cat, texts=txt)
            a = pre2.fit_transform(Xtr.iloc[fit_i])
            m.fit(a, ytr[fit_i])
            s = log_loss(
                ytr[val_i], m.predict_proba(pre2.transform(Xtr.iloc[val_i])), labels=range(K)
            )
            if best is None or s < best[0]:
                best = (s, C)
        m = LogisticRegression(C=best[1], max_iter=2000).fit(A, ytr)
        print("  C", best[1])
        report(v, m.predict_proba(pre.transform(Xte)), time.time() - t0)
    elif v == "lgbm_svd":
        import lightgbm as lgb

        pre = build_preprocessor("native", num, cat, texts=txt)
        A = pre.fit_transform(Xtr.iloc[fit_i])
        B = pre.transform(Xtr.iloc[val_i])
        C = pre.transform(Xte)
        m = lgb.LGBMClassifier(n_estimators=5000, learning_rate=0.05, verbose=-1, n_jobs=2)
        m.fit(
            A,
            ytr[fit_i],
            eval_set=[(B, ytr[val_i])],
            callbacks=[lgb.early_stopping(50, verbose=False)],
        )
        report(v, m.predict_proba(C), time.time() - t0)
    elif v == "cb_svd":
        report(v, catboost("native"), time.time() - t0)
    elif v.startswith("cb_text"):
        # raw text columns next to native numeric/categorical
        import modelyard.engine.training.preprocess as P

        class F(P.NativeFrame):
            def transform(self, X):
                out = super().transform(X)
                for c in txt:
                    out[c] = X[c].fillna("").astype(str).astype(object).to_numpy()
                return out

        tp = None
        if v == "cb_text_small":  # what the family uses
            tp = TEXT_PROCESSING
        if v == "cb_text_lower":  # the same words, ten times the dictionaries, plain BoW
            tp = {**TEXT_PROCESSING,
                  "dictionaries": [d | {"max_dictionary_size": "50000"}
                                   for d in TEXT_PROCESSING["dictionaries"]],
                  "feature_processing": {"default": [
                      {"dictionaries_names": ["Word", "BiGram"], "feature_calcers": ["BoW"],
                       "tokenizers_names": ["Space"]},
                      {"dictionaries_names": ["Word"], "feature_calcers": ["NaiveBayes"],
                       "tokenizers_names": ["Space"]}]}}
        report(v, catboost(F(num, cat), tp), time.time() - t0)
    elif v.startswith("blend"):
        a, b = v.split(":")[1].split("+")
        p = (out[a] + out[b]) / 2
        report(v, p, 0)
