"""Reading a rules file: YAML → JSON Schema → consistency checks → :class:`Rules`.

Every problem is reported with the file, the path inside the document and the reason, and all
problems are reported at once so that one edit round fixes them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, cast

import yaml
from jsonschema import Draft202012Validator

from leadpipe.scoring.domain.rules import (
    Category,
    Condition,
    Criterion,
    FitRule,
    Grade,
    GradeBand,
    Rules,
    Signal,
)

DEFAULT_RULES_NAME = "default.yaml"


@dataclass(frozen=True)
class RulesProblem:
    file: str
    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.file}: {self.path or '(top level)'}: {self.reason}"


class RulesError(ValueError):
    def __init__(self, problems: list[RulesProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def _schema() -> dict[str, Any]:
    text = resources.files("leadpipe.scoring.rules").joinpath("schema.json").read_text("utf-8")
    return cast("dict[str, Any]", json.loads(text))


def _path(parts: list[str | int]) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def default_rules_text() -> str:
    return resources.files("leadpipe.scoring.rules").joinpath(DEFAULT_RULES_NAME).read_text("utf-8")


def default_rules() -> Rules:
    return parse_rules(default_rules_text(), DEFAULT_RULES_NAME)


def load_rules_file(path: Path) -> Rules:
    try:
        text = path.read_text("utf-8")
    except OSError as exc:
        raise RulesError([RulesProblem(str(path), "", f"cannot be read: {exc.strerror}")]) from exc
    return parse_rules(text, str(path))


def parse_document(text: str, file: str) -> dict[str, Any]:
    """The validated document (plain JSON data) of a rules file's text."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        reason = getattr(exc, "problem", None) or str(exc)
        raise RulesError([RulesProblem(file, where, f"is not valid YAML: {reason}")]) from exc
    if not isinstance(document, dict):
        raise RulesError([RulesProblem(file, "", "must be a mapping with version, fit, …")])
    errors = sorted(
        Draft202012Validator(_schema()).iter_errors(document),
        key=lambda e: [str(p) for p in e.absolute_path],
    )
    if errors:
        raise RulesError(
            [RulesProblem(file, _path(list(e.absolute_path)), e.message) for e in errors]
        )
    problems = _consistency(document, file)
    if problems:
        raise RulesError(problems)
    return document


def parse_rules(text: str, file: str) -> Rules:
    return rules_from_document(parse_document(text, file))


def _consistency(doc: dict[str, Any], file: str) -> list[RulesProblem]:
    """What a schema cannot say: references, sums and orderings."""
    problems: list[RulesProblem] = []
    categories: dict[str, Any] = doc["engagement"]["categories"]
    caps = sum(int(c["cap"]) for c in categories.values())
    if caps > 100:
        problems.append(
            RulesProblem(
                file, "engagement.categories", f"the caps add up to {caps}; at most 100 allowed"
            )
        )
    seen: set[str] = set()
    for index, signal in enumerate(doc["engagement"]["signals"]):
        where = f"engagement.signals[{index}]"
        if signal["category"] not in categories:
            known = ", ".join(sorted(categories))
            problems.append(
                RulesProblem(
                    file,
                    f"{where}.category",
                    f"unknown category '{signal['category']}' (known: {known})",
                )
            )
        if signal["id"] in seen:
            problems.append(RulesProblem(file, f"{where}.id", f"'{signal['id']}' is used twice"))
        seen.add(signal["id"])
    best = sum(max(int(r["points"]) for r in rules) for rules in doc["fit"].values())
    if best > 100:
        problems.append(
            RulesProblem(
                file, "fit", f"the best rules of all attributes add up to {best}; at most 100"
            )
        )
    for attribute, rules in doc["fit"].items():
        for index, rule in enumerate(rules):
            low_high = rule.get("between")
            if low_high is not None and low_high[0] > low_high[1]:
                problems.append(
                    RulesProblem(
                        file,
                        f"fit.{attribute}[{index}].between",
                        "the lower bound is above the upper",
                    )
                )
    criteria = doc["qualification"]["criteria"]
    keys = [c["key"] for c in criteria]
    for index, key in enumerate(keys):
        if key in keys[:index]:
            problems.append(
                RulesProblem(file, f"qualification.criteria[{index}].key", f"'{key}' is used twice")
            )
    total = sum(int(c["points"]) for c in criteria)
    if total > 100:
        problems.append(
            RulesProblem(
                file, "qualification.criteria", f"the points add up to {total}; at most 100"
            )
        )
    nurture = doc["lifecycle"].get("nurture")
    if (
        nurture is not None
        and nurture["below_engagement"] > doc["lifecycle"]["mql"]["min_engagement"]
    ):
        problems.append(
            RulesProblem(
                file,
                "lifecycle.nurture.below_engagement",
                "must not be above lifecycle.mql.min_engagement (leads would flip back and forth)",
            )
        )
    if doc["temperature"]["warm"] > doc["temperature"]["hot"]:
        problems.append(RulesProblem(file, "temperature.warm", "must not be above hot"))
    return problems


def _words(raw: Any) -> tuple[str, ...]:
    return tuple(str(word) for word in raw or ())


def rules_from_document(doc: dict[str, Any]) -> Rules:
    """Build :class:`Rules` from a document that passed :func:`parse_document`."""
    fit = {
        attribute: tuple(
            FitRule(
                reason=str(rule["reason"]),
                points=int(rule["points"]),
                contains_any=_words(rule.get("contains_any")),
                equals_any=_words(rule.get("equals_any")),
                between=(float(rule["between"][0]), float(rule["between"][1]))
                if "between" in rule
                else None,
            )
            for rule in rules
        )
        for attribute, rules in doc["fit"].items()
    }
    engagement = doc["engagement"]
    lifecycle = doc["lifecycle"]
    return Rules(
        version=str(doc["version"]),
        description=str(doc.get("description", "")),
        fit=fit,
        categories={
            name: Category(name, int(c["cap"]), float(c["half_life_days"]))
            for name, c in engagement["categories"].items()
        },
        signals=tuple(
            Signal(
                id=str(s["id"]),
                reason=str(s["reason"]),
                event=str(s["event"]),
                category=str(s["category"]),
                points=int(s["points"]),
                when=tuple(
                    Condition(
                        field=str(c["field"]),
                        any_of=_words(c.get("any_of")),
                        contains=_words(c.get("contains")),
                    )
                    for c in s.get("when", ())
                ),
                hand_raiser=bool(s.get("hand_raiser", False)),
            )
            for s in engagement["signals"]
        ),
        framework=doc["qualification"]["framework"],
        criteria=tuple(
            Criterion(
                key=str(c["key"]),
                label=str(c["label"]),
                points=int(c["points"]),
                question=str(c["question"]),
                form_field=c.get("form_field"),
                confirmed_by_title=_words(c.get("confirmed_by_title")),
            )
            for c in doc["qualification"]["criteria"]
        ),
        mql_min_fit=int(lifecycle["mql"]["min_fit"]),
        mql_min_engagement=int(lifecycle["mql"]["min_engagement"]),
        sql_min_fit=int(lifecycle["sql"]["min_fit"]),
        sql_min_qualification=int(lifecycle["sql"]["min_qualification"]),
        nurture_below_engagement=int(lifecycle["nurture"]["below_engagement"])
        if "nurture" in lifecycle
        else None,
        grade_bands=tuple(
            GradeBand(
                grade=cast("Grade", b["grade"]),
                min_fit=int(b["min_fit"]),
                min_qualification=int(b["min_qualification"]),
                max_negative=b.get("max_negative"),
            )
            for b in doc["grade"]["bands"]
        ),
        grade_fallback=doc["grade"]["fallback"],
        hot_from=int(doc["temperature"]["hot"]),
        warm_from=int(doc["temperature"]["warm"]),
    )
