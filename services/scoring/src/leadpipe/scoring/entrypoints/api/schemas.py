"""Request and response models of the rules API (the read models answer in `service/views.py`)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class RulesText(BaseModel):
    text: str = Field(description="The rules file's YAML text.")
    file: str = Field("rules.yaml", description="Name used in error messages.")


class RulesProblemOut(BaseModel):
    file: str
    path: str
    reason: str


class RulesVersionOut(BaseModel):
    version: str
    framework: str
    signals: int
    active: bool
