"""Text-to-text families: two baselines, a character transformer, and T5-small.

They are families like the others (a Plan names them, the registry describes them), but
the text-to-text branch (`engine/text_to_text/run.py`) fits them on pairs of texts, so
`build` returns a text model (`fit(inputs, outputs, ...)`, `predict(inputs)`, `save`)
rather than a scikit-learn estimator. torch and transformers are imported only inside
the models' `fit` and `load`.
"""

from __future__ import annotations

from typing import Any

from modelyard.engine.training.families.base import FitContext, ModelFamily, Space


class TextToTextFamily(ModelFamily):
    modality = "text_to_text"
    preprocessing = "none"  # the text models read the raw input text
    takes_limits = False  # each trains once, at settings of its own, within the budget
    memory = "small"

    def search_space(self, ctx: FitContext) -> Space:
        return {}

    def default_params(self, ctx: FitContext) -> dict[str, Any]:
        # Nothing searched: each model fills in its own settings (`model.params`).
        return {}


class CopyInput(TextToTextFamily):
    name = "copy_input"
    title = "Copy the input"
    summary = "writes every input back unchanged: the score of doing nothing"
    speed = "instant"
    accuracy = "right only where the output equals the input"
    interpretability = "complete"
    why = "The score of doing nothing, which every model must beat."
    pros = ("the floor every model must beat",)
    cons = ("changes nothing",)

    def build(self, params: dict[str, Any], ctx: FitContext) -> Any:
        from modelyard.engine.text_to_text.baselines import CopyInput as Model

        return Model()


class FrequentOutput(TextToTextFamily):
    name = "frequent_output"
    title = "Most frequent output per input"
    summary = "looks each input up in the training pairs; copies inputs it never saw"
    speed = "instant"
    accuracy = "right on inputs seen in training, nothing more"
    interpretability = "complete: a lookup table"
    why = "A lookup of the training pairs: shows how much is memorising."
    pros = ("exact on inputs it has seen",)
    cons = ("learns no rule: an unseen input is only copied",)

    def build(self, params: dict[str, Any], ctx: FitContext) -> Any:
        from modelyard.engine.text_to_text.baselines import FrequentOutput as Model

        return Model()


class CharTransformerFamily(TextToTextFamily):
    name = "char_transformer"
    title = "Character transformer"
    summary = "an encoder-decoder network that reads and writes one character at a time"
    speed = "minutes on a CPU, faster on a GPU"
    accuracy = "learns rules that carry over to inputs it never saw"
    interpretability = "low: a network of about a million weights"
    memory = "moderate"
    flexible = True
    why = "Learns the rewriting rules from the pairs, from scratch; nothing to download."
    pros = ("learns rules, not just the pairs it saw", "needs no pretrained weights")
    cons = ("needs a few thousand pairs and some minutes",
            "outputs are capped in length")

    def build(self, params: dict[str, Any], ctx: FitContext) -> Any:
        from modelyard.engine.text_to_text.charformer import CharTransformer

        return CharTransformer(params, seed=ctx.seed, threads=ctx.n_jobs)


class T5Small(TextToTextFamily):
    name = "t5_small"
    title = "T5-small (fine-tuned)"
    summary = "a pretrained text-to-text network, fine-tuned on the pairs"
    speed = "slow on a CPU"
    accuracy = "strong with few pairs, thanks to pretraining"
    interpretability = "low: 60 million weights"
    memory = "large"
    flexible = True
    why = "Pretrained on text, so it needs fewer pairs; used only from a local copy."
    pros = ("knows words and numbers before it sees the pairs",)
    cons = ("needs its weights in the weights folder (never downloaded)",
            "slow to fine-tune without a GPU")
    packages = ("torch", "transformers")

    def build(self, params: dict[str, Any], ctx: FitContext) -> Any:
        from modelyard.engine.text_to_text.t5 import T5Model

        return T5Model(params, seed=ctx.seed, threads=ctx.n_jobs)
