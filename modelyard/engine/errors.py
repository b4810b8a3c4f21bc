"""Modelyard's exceptions, translated into messages at one boundary (pages, CLI).

    ModelyardError            anything we raise on purpose; `str()` is for a person
    ├── BadInputError         the person's data or request is wrong: exit code 2
    │   ├── IntakeError       a file could not be taken in
    │   └── PlanError         a Plan does not fit its data
    ├── NotFoundError         no dataset/run/plan by that id or name: exit code 2
    └── RunFailedError        a Run ended failed: exit code 1

Each carries `hint`, the next step a person can take.
"""

from __future__ import annotations


class ModelyardError(Exception):
    exit_code = 1

    def __init__(self, message: str, hint: str = ""):
        super().__init__(message)
        self.hint = hint

    def __str__(self) -> str:
        text = super().__str__().strip()
        if not self.hint:
            return text
        if text and text[-1] not in ".!?:":
            text += "."
        return f"{text} {self.hint}"


class BadInputError(ModelyardError):
    exit_code = 2


class IntakeError(BadInputError):
    pass


class PlanError(BadInputError):
    pass


class NotFoundError(ModelyardError):
    exit_code = 2


class RunFailedError(ModelyardError):
    exit_code = 1


def did_you_mean(name: str, names: list[str]) -> str:
    """“Did you mean “x”? ” when one of `names` is `name` written another way (case,
    spaces, a typo), else an empty string: for the hint of an unknown column."""
    import difflib

    def norm(text: str) -> str:
        return "".join(ch for ch in text.casefold() if ch.isalnum())

    same = [n for n in names if norm(n) == norm(name)]
    close = same or difflib.get_close_matches(name, names, n=1, cutoff=0.8)
    return f"Did you mean “{close[0]}”? " if len(close) == 1 else ""
