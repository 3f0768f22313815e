"""Sales regions as routing rules name them: named sets of ISO country codes."""

from __future__ import annotations

from typing import Literal

Region = Literal["dach", "benelux", "nordics", "uki", "france", "southern-europe", "cee", "na"]

REGIONS: dict[str, frozenset[str]] = {
    "dach": frozenset({"DE", "AT", "CH", "LI"}),
    "benelux": frozenset({"BE", "NL", "LU"}),
    "nordics": frozenset({"DK", "FI", "IS", "NO", "SE"}),
    "uki": frozenset({"GB", "IE"}),
    "france": frozenset({"FR", "MC"}),
    "southern-europe": frozenset({"ES", "PT", "IT", "GR", "MT", "CY", "SM", "VA", "AD"}),
    "cee": frozenset(
        {
            "PL",
            "CZ",
            "SK",
            "HU",
            "RO",
            "BG",
            "SI",
            "HR",
            "EE",
            "LV",
            "LT",
            "RS",
            "BA",
            "ME",
            "MK",
            "AL",
        }
    ),
    "na": frozenset({"US", "CA"}),
}


def in_regions(country: str, regions: frozenset[str]) -> bool:
    code = country.upper()
    return any(code in REGIONS.get(region, frozenset()) for region in regions)
