"""The load generator, run as its own process (``python -m bench.loadgen SPEC OUT``) so that
it never shares an event loop or a core's time slice accounting with what it measures.

A minimal HTTP/1.1 keep-alive client on asyncio streams (with uvloop): pre-built request bytes,
no per-request object churn, so one core drives far more requests than the services under test
answer. It reports its own CPU use: a figure taken while the generator used most of a core is
flagged, because then the generator, not the server, may have set the pace.
"""

from __future__ import annotations

import asyncio
import base64
import resource
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import uvloop

from bench.data import FormPost, mixed_posts, routed_posts


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def build_request(host: str, port: int, post: FormPost) -> bytes:
    body = orjson.dumps(post.fields)
    head = (
        f"POST /v1/forms/{post.form_id} HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def build_batch_requests(
    host: str, port: int, posts: list[FormPost], write_key: str, batch_size: int
) -> list[bytes]:
    """Segment ``/v1/batch`` requests of ``batch_size`` track calls each, the write key as the
    Basic user, as analytics-python and RudderStack's SDK send them."""
    auth = base64.b64encode(f"{write_key}:".encode()).decode()
    requests = []
    for start in range(0, len(posts) - batch_size + 1, batch_size):
        calls = [
            {
                "type": "track",
                "event": "Form Submitted",
                "userId": post.email,
                "messageId": f"bench-{start + n}",
                "properties": {"form_id": post.form_id, **post.fields},
            }
            for n, post in enumerate(posts[start : start + batch_size])
        ]
        body = orjson.dumps({"batch": calls})
        head = (
            f"POST /v1/batch HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Basic {auth}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        requests.append(head.encode() + body)
    return requests


# uvicorn closes a keep-alive connection idle for 5 s (its timeout_keep_alive); a request
# written on one it already closed fails without an answer. A client reuses no connection idle
# for that long, as HTTP client pools do.
KEEP_ALIVE_S = 4.0


class Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self.idle_since = time.monotonic()

    @classmethod
    async def open(cls, host: str, port: int) -> Connection:
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer)

    async def send(self, request: bytes) -> int:
        """Send one request and read its whole response; returns the status code."""
        self._writer.write(request)
        head = await self._reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = None
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        if length is None:
            raise RuntimeError("response without Content-Length; the generator reads only those")
        if length:
            await self._reader.readexactly(length)
        self.idle_since = time.monotonic()
        return status

    @property
    def stale(self) -> bool:
        return time.monotonic() - self.idle_since > KEEP_ALIVE_S

    def close(self) -> None:
        self._writer.close()


@dataclass
class ClosedLoopResult:
    completed: int = 0
    errors: int = 0
    statuses: dict[int, int] = field(default_factory=dict)


def posts_for(spec: dict[str, Any]) -> list[FormPost]:
    posts = spec["posts"]
    make = routed_posts if posts["kind"] == "routed" else mixed_posts
    return make(posts["seed"], posts["stream"], posts["count"])


async def closed_loop(spec: dict[str, Any]) -> dict[str, Any]:
    """``connections`` clients, each sending its next request as soon as the last was answered;
    only answers that arrive inside the measuring window (after the warm-up) are counted."""
    host, port = spec["host"], spec["port"]
    batch = spec.get("batch")
    if batch:
        requests = build_batch_requests(
            host, port, posts_for(spec), batch["write_key"], batch["size"]
        )
    else:
        requests = [build_request(host, port, post) for post in posts_for(spec)]
    events_per_request = batch["size"] if batch else 1
    warmup_s, duration_s = spec["warmup_s"], spec["duration_s"]
    result = ClosedLoopResult()
    start = time.monotonic()
    window_start, window_end = start + warmup_s, start + warmup_s + duration_s
    marks: dict[str, float] = {}
    counter = 0

    async def client(index: int) -> None:
        nonlocal counter
        connection = await Connection.open(host, port)
        try:
            while True:
                now = time.monotonic()
                if now >= window_end:
                    return
                if "cpu_start" not in marks and now >= window_start:
                    marks["cpu_start"] = cpu_seconds()
                request = requests[counter % len(requests)]
                counter += 1
                try:
                    status = await connection.send(request)
                except (OSError, asyncio.IncompleteReadError, RuntimeError):
                    result.errors += 1
                    connection.close()
                    connection = await Connection.open(host, port)
                    continue
                done = time.monotonic()
                if window_start <= done < window_end:
                    result.statuses[status] = result.statuses.get(status, 0) + 1
                    if 200 <= status < 300:
                        result.completed += 1
                    else:
                        result.errors += 1
        finally:
            connection.close()

    await asyncio.gather(*(client(i) for i in range(spec["connections"])))
    cpu_used = cpu_seconds() - marks.get("cpu_start", cpu_seconds())
    return {
        "completed": result.completed,
        "errors": result.errors,
        "statuses": {str(k): v for k, v in result.statuses.items()},
        "window_s": duration_s,
        "per_s": result.completed / duration_s,
        "events_per_s": result.completed * events_per_request / duration_s,
        "generator_cpu_share": cpu_used / duration_s,
    }


async def open_loop(spec: dict[str, Any]) -> dict[str, Any]:
    """Requests sent on a fixed schedule (``rate`` per second) whatever the answers take, each
    on an idle keep-alive connection or a new one: the offered rate does not bend to latency."""
    host, port, rate = spec["host"], spec["port"], spec["rate"]
    posts = posts_for(spec)
    requests = [build_request(host, port, post) for post in posts]
    idle: list[Connection] = [await Connection.open(host, port) for _ in range(8)]
    sent: list[tuple[str, float, float, int]] = []
    tasks: set[asyncio.Task[None]] = set()

    async def one(post: FormPost, request: bytes) -> None:
        while idle and idle[0].stale:  # the longest idle are first: idle.pop() takes the last
            idle.pop(0).close()
        connection = idle.pop() if idle else await Connection.open(host, port)
        t_send = time.monotonic()
        try:
            status = await connection.send(request)
        except (OSError, asyncio.IncompleteReadError, RuntimeError):
            connection.close()
            sent.append((post.email, t_send, time.monotonic(), 0))
            return
        sent.append((post.email, t_send, time.monotonic(), status))
        idle.append(connection)

    cpu_start = cpu_seconds()
    start = time.monotonic()
    max_lag = 0.0
    for i, (post, request) in enumerate(zip(posts, requests, strict=True)):
        due = start + i / rate
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        max_lag = max(max_lag, time.monotonic() - due)
        task = asyncio.create_task(one(post, request))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    last_scheduled = time.monotonic()
    if tasks:
        await asyncio.wait(tasks, timeout=spec.get("answer_timeout_s", 30.0))
    elapsed = max(last_scheduled - start, 1e-9)
    for connection in idle:
        connection.close()
    return {
        "offered_per_s": rate,
        "sent": len(posts),
        "achieved_per_s": (len(posts) - 1) / elapsed if len(posts) > 1 else 0.0,
        "max_schedule_lag_s": max_lag,
        "generator_cpu_share": (cpu_seconds() - cpu_start) / max(time.monotonic() - start, 1e-9),
        "requests": sent,
    }


def main() -> None:
    spec_path, out_path = Path(sys.argv[1]), Path(sys.argv[2])
    spec = orjson.loads(spec_path.read_bytes())
    run = closed_loop if spec["mode"] == "closed" else open_loop
    result = uvloop.run(run(spec))
    out_path.write_bytes(orjson.dumps(result))


if __name__ == "__main__":
    main()
