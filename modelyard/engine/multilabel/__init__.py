"""Multi-label classification: several yes/no labels per row.

The labels are several 0/1 columns, or one column of delimited labels ("drama|comedy").
One estimator per label over shared preprocessing (scikit-learn's MultiOutputClassifier),
or a classifier chain (ClassifierChain: each label also sees the labels before it),
around the registered tabular families' estimators. Each label gets its own decision
threshold, chosen on the out-of-fold predictions.

Why not the tabular `Trainer`: its pool, ensembler, memory guard, pruning and fold cache
all hold one target vector and one probability matrix; teaching each of them a label
matrix would thread a special case through every part. Like images, this kind has its
own search (`search.py`) behind the one worker dispatch, and shares the rest: the plan,
the journal (trials on the same leaderboard), the run folder, the sealed bundle, the
`Predictor`.
"""
