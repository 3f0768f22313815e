"""Every refusal is an RFC 9457 problem document naming the field and the reason, never a
stack trace (shared with scoring: ``leadpipe.shared.problems``)."""

from __future__ import annotations

from fastapi import FastAPI

from leadpipe.shared.problems import Problem, install_problem_handlers, reason_of

ApiError = Problem

__all__ = ["ApiError", "install_error_handlers", "reason_of"]


def install_error_handlers(app: FastAPI) -> None:
    install_problem_handlers(app)
