"""What the doctor reports: findings, each with a fix."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ERROR, WARNING, INFO = "error", "warning", "info"


@dataclass(frozen=True)
class Fix:
    """A concrete remedy: what to do, the command that does it, and whether the doctor can apply it itself."""

    action: str
    description: str
    command: str
    applicable: bool = False
    params: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"action": self.action, "description": self.description, "command": self.command,
                "applicable": self.applicable}  # fmt: skip


@dataclass(frozen=True)
class Finding:
    code: str
    severity: str
    message: str
    fix: Fix
    person: str

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "severity": self.severity, "message": self.message,
                "fix": self.fix.as_dict(), "person": self.person}  # fmt: skip
