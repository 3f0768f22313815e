import pytest
from pydantic import ValidationError

from leadpipe.routing.adapters.repository import conditions_of
from leadpipe.routing.domain.reps import LeadProfile
from leadpipe.routing.entrypoints.api.schemas import ConditionsIn


def lead(country: str | None) -> LeadProfile:
    return LeadProfile(lead_id="l1", stage="sql", country=country)


def test_a_region_condition_matches_its_countries() -> None:
    conditions = conditions_of(ConditionsIn.model_validate({"region": "DACH; benelux"}).stored())
    assert conditions.unmet(lead("AT")) is None
    assert conditions.unmet(lead("nl")) is None
    assert conditions.unmet(lead("FR")) == "country FR not in region benelux, dach"
    assert conditions.unmet(lead(None)) == "country unknown, so no region"


def test_an_unknown_region_is_refused_by_name() -> None:
    with pytest.raises(ValidationError) as error:
        ConditionsIn.model_validate({"region": ["mars"]})
    assert error.value.errors()[0]["loc"] == ("region", 0)
