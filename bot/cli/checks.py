"""What ``orderdesk doctor`` prints: one verdict per check, with the steps that fix a failure."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Status(Enum):
    OK = "✓"
    FAILED = "✗"
    WARNING = "!"  # works, but not as the operator probably means it to: shown with fixes, exit status unchanged
    SKIPPED = "–"


@dataclass(frozen=True)
class Check:
    """One printed verdict; ``fixes`` are the steps that turn a failure green."""

    name: str
    status: Status
    detail: str
    fixes: tuple[str, ...] = ()

    def lines(self) -> list[str]:
        return [f"{self.status.value} {self.name}: {self.detail}", *(f"  fix: {fix}" for fix in self.fixes)]


def ok(name: str, detail: str) -> Check:
    return Check(name, Status.OK, detail)


def failed(name: str, detail: str, *fixes: str) -> Check:
    return Check(name, Status.FAILED, detail, fixes)


def skipped(name: str, because: str) -> Check:
    return Check(name, Status.SKIPPED, f"skipped: {because}")


def warning(name: str, detail: str, *fixes: str) -> Check:
    return Check(name, Status.WARNING, detail, fixes)
