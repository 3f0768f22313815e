"""What the CLI prints of a service's refusal: the reasons of a problem document (RFC 9457,
scoring's and routing's error shape), else the body as it came."""

from __future__ import annotations

import httpx


def refusal(response: httpx.Response, limit: int = 2000) -> str:
    if response.headers.get("content-type", "").startswith("application/problem+json"):
        try:
            problem = response.json()
            errors = problem.get("errors") or []
            lines = [
                f"{error['field']}: {error['reason']}" if error.get("field") else error["reason"]
                for error in errors
            ]
            return "; ".join(lines) or str(problem.get("detail", ""))
        except (ValueError, KeyError, TypeError, AttributeError):
            pass
    return response.text[:limit]
