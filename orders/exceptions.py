"""The errors of the domain: each carries a rule code, a French message and the reference of the rule it applies."""

from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Any


@dataclass(frozen=True)
class RuleViolation:
    code: str
    message: str
    reference: str
    field: str = ""
    details: dict[str, Any] = dataclass_field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "reference": self.reference, "field": self.field}


class BusinessRuleError(Exception):
    """One or more rules refuse an action; nothing was changed. The same object feeds the admin, API and portal."""

    def __init__(self, violations: list[RuleViolation]) -> None:
        if not violations:
            raise ValueError("BusinessRuleError needs at least one violation")
        self.violations = violations
        super().__init__(self.message)

    @property
    def message(self) -> str:
        return " ".join(violation.message for violation in self.violations)

    @property
    def codes(self) -> list[str]:
        return [violation.code for violation in self.violations]

    @classmethod
    def single(cls, code: str, message: str, reference: str, field: str = "") -> "BusinessRuleError":
        return cls([RuleViolation(code, message, reference, field=field)])


def raise_if(violations: list[RuleViolation]) -> None:
    if violations:
        raise BusinessRuleError(violations)
