import logging

from leadpipe.shared.logs import RedactAccessLog


def test_access_lines_lose_the_client_ip_and_the_query() -> None:
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("203.0.113.9:5123", "GET", "/v1/leads?email=max%40example.com", "1.1", 200),
        None,
    )
    assert RedactAccessLog().filter(record)
    line = record.getMessage()
    assert line == '- - "GET /v1/leads HTTP/1.1" 200'
