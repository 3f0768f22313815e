from pathlib import Path

import pytest
import yaml

from leadpipe.scoring.rules.loader import (
    RulesError,
    default_rules,
    default_rules_text,
    load_rules_file,
    parse_rules,
)


def _edited(**changes: object) -> str:
    document = yaml.safe_load(default_rules_text())
    for dotted, value in changes.items():
        *parents, last = dotted.split("__")
        node = document
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value
    return yaml.safe_dump(document, allow_unicode=True)


def _problems(text: str) -> list[str]:
    with pytest.raises(RulesError) as error:
        parse_rules(text, "draft.yaml")
    return [str(p) for p in error.value.problems]


def test_the_shipped_default_rules_are_valid_bant_for_dach() -> None:
    rules = default_rules()
    assert rules.framework == "BANT"
    assert [c.key for c in rules.criteria] == ["budget", "authority", "need", "timeline"]
    assert all(c.question.endswith("?") for c in rules.criteria)
    assert sum(c.cap for c in rules.categories.values()) <= 100


def test_the_repository_rules_file_is_the_shipped_default() -> None:
    repo_file = Path(__file__).parents[3] / "rules" / "default.yaml"
    assert load_rules_file(repo_file) == default_rules()


def test_a_schema_error_names_file_path_and_reason() -> None:
    problems = _problems(_edited(engagement__signals__0__points=500))
    assert problems == [
        "draft.yaml: engagement.signals[0].points: 500 is greater than the maximum of 100"
    ]


def test_all_problems_are_reported_at_once() -> None:
    text = _edited(temperature={"hot": "very"}, version="has spaces")
    problems = _problems(text)
    assert any(p.startswith("draft.yaml: version: ") for p in problems)
    assert any("temperature: 'warm' is a required property" in p for p in problems)
    assert any("temperature.hot: 'very' is not of type 'integer'" in p for p in problems)


def test_a_signal_in_an_unknown_category_is_refused() -> None:
    problems = _problems(_edited(engagement__signals__0__category="social"))
    assert len(problems) == 1
    assert problems[0].startswith(
        "draft.yaml: engagement.signals[0].category: unknown category 'social'"
    )


def test_caps_that_could_exceed_100_are_refused() -> None:
    document = yaml.safe_load(default_rules_text())
    document["engagement"]["categories"]["email"]["cap"] = 60
    problems = _problems(yaml.safe_dump(document))
    assert problems == [
        "draft.yaml: engagement.categories: the caps add up to 150; at most 100 allowed"
    ]


def test_fit_rules_whose_best_parts_exceed_100_are_refused() -> None:
    document = yaml.safe_load(default_rules_text())
    document["fit"]["title"][0]["points"] = 60
    assert _problems(yaml.safe_dump(document)) == [
        "draft.yaml: fit: the best rules of all attributes add up to 115; at most 100"
    ]


def test_broken_yaml_names_the_line() -> None:
    problems = _problems("version: x\nfit: [unclosed\n")
    assert len(problems) == 1
    assert problems[0].startswith("draft.yaml: line 3, column 1: is not valid YAML")


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(RulesError, match=r"missing\.yaml: \(top level\): cannot be read"):
        load_rules_file(tmp_path / "missing.yaml")


def test_champ_is_accepted_as_framework() -> None:
    document = yaml.safe_load(default_rules_text())
    document["qualification"]["framework"] = "CHAMP"
    document["qualification"]["criteria"] = [
        {"key": k, "label": k, "points": 25, "question": f"What about {k}?"}
        for k in ("challenges", "authority", "money", "prioritization")
    ]
    rules = parse_rules(yaml.safe_dump(document), "champ.yaml")
    assert rules.framework == "CHAMP"
    assert rules.criterion("money") is not None
