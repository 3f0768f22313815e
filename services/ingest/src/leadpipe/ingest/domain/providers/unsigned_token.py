"""For senders that cannot sign (``--unsigned``): a random token in the URL or as the Basic
password, kept only as its hash. Used by providers whose senders may lack signing."""

from __future__ import annotations

import secrets

from leadpipe.ingest.domain.providers.contract import Credential, WebhookRequest
from leadpipe.ingest.domain.refusals import Unauthorised
from leadpipe.ingest.domain.sources import Source


def new_token() -> Credential:
    return Credential(secrets.token_urlsafe(32), "token (?token=… or Basic password)", hashed=True)


def verify_token(request: WebhookRequest, source: Source) -> None:
    if not request.token:
        raise Unauthorised("token", "is required in the URL (?token=…) or as Basic password")
    if not source.accepts_token(request.token):
        raise Unauthorised("token", "is not this source's token")
