"""Text to text: a table of input texts and the output texts made from them ("Dec 5th
2024" -> "december fifth twenty twenty four", spelling fixes, code conversions).

It follows the image branch: the profile names the set-up (`detect.py`), the rule plan
chooses the text-to-text families (`plan.py`), the worker hands the Run to `run.py`, and
the bundle is loaded by `predict.py` (`Predictor.load` dispatches on its kind). torch and
transformers are imported only inside the modules that train or load a network.
"""
