"""Interactive message parts for Z-API's ``send-option-list`` and ``send-button-list``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ZapiOption:
    """One row of an option list; its ``id`` comes back as ``selectedRowId`` when tapped."""

    id: str
    title: str
    description: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "description": self.description}


@dataclass(frozen=True)
class ZapiButton:
    """One reply button; ``id`` comes back as ``buttonId`` when the patient taps it."""

    id: str
    label: str

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "label": self.label}
