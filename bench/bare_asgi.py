"""The baselines for ingest's request rate, served exactly as the services serve themselves
(``uvicorn.run(app, host=..., port=..., log_config=None)``):

- ``python -m bench.bare_asgi PORT``: an ASGI app that reads the body and answers 202 with a
  JSON body of ingest's size, and nothing else, so the ratio isolates what ingest does per
  request: parsing, the event, its envelope and the Kafka ack;
- ``python -m bench.bare_asgi PORT BOOTSTRAP TOPIC``: the same app, but each post's body goes to
  Kafka first as one record, with ingest's producer and send path (``make_producer``,
  ``GroupedSends``), and is answered after the ack. No parsing, no validation, no event: the
  floor of any ingest served by uvicorn that answers after aiokafka's acknowledgement."""

from __future__ import annotations

import itertools
import sys
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import uvicorn
from aiokafka import AIOKafkaProducer

from leadpipe.shared.kafka import GroupedSends, Outgoing, make_producer

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

BODY = b'{"success":true,"event_id":"00000000-0000-4000-8000-000000000000"}'
KEYS = 5000  # record keys in turn, so the records spread over the partitions as leads do


async def _answer(send: Send, status: int) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(BODY)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": BODY})


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    more = True
    while more:
        message = await receive()
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    return b"".join(chunks)


async def _lifespan(
    receive: Receive,
    send: Send,
    startup: Callable[[], Awaitable[None]],
    shutdown: Callable[[], Awaitable[None]],
) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await startup()
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await shutdown()
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _nothing() -> None:
    return None


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        await _lifespan(receive, send, _nothing, _nothing)
        return
    await _read_body(receive)
    await _answer(send, 200 if scope["path"] == "/readyz" else 202)


class _KafkaSends:
    """The producer and its send path, made at startup: in the server's event loop."""

    def __init__(self, bootstrap: str) -> None:
        self._bootstrap = bootstrap
        self._producer: AIOKafkaProducer | None = None
        self.sends: GroupedSends | None = None

    async def start(self) -> None:
        self._producer = make_producer(self._bootstrap, client_id="leadpipe-bench-bare-kafka")
        await self._producer.start()
        self.sends = GroupedSends(self._producer)

    async def stop(self) -> None:
        if self._producer is not None:
            await self._producer.stop()


def kafka_app(bootstrap: str, topic: str) -> App:
    """The bare app, with each post's body sent to ``topic`` before it is answered."""
    keys = itertools.cycle([f"lead-{n}@bench.example".encode() for n in range(KEYS)])
    kafka = _KafkaSends(bootstrap)

    async def serve(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send, kafka.start, kafka.stop)
            return
        body = await _read_body(receive)
        if scope["path"] == "/readyz":
            await _answer(send, 200)
            return
        assert kafka.sends is not None, "started by the lifespan"
        await kafka.sends.send([Outgoing(topic, next(keys), body, [])])
        await _answer(send, 202)

    return serve


def run() -> None:
    port = int(sys.argv[1])
    served = kafka_app(sys.argv[2], sys.argv[3]) if len(sys.argv) > 3 else app
    uvicorn.run(served, host="127.0.0.1", port=port, log_config=None)


if __name__ == "__main__":
    run()
