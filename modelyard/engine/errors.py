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
