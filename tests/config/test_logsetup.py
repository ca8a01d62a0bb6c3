"""``configure_logging``: JSON lines or text on stderr, at the configured level."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from drift.config.settings import LogFormat, LogSettings
from drift.logsetup import configure_logging

RFC3339_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\Z")


@pytest.fixture(autouse=True)
def restore_root_logger() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    for handler in root.handlers[:]:
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)
    logging.captureWarnings(False)


def lines(capsys: pytest.CaptureFixture[str]) -> list[str]:
    captured = capsys.readouterr()
    assert captured.out == ""
    return captured.err.splitlines()


def test_json_lines_carry_the_fields_and_extras(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(LogSettings(level="info", format=LogFormat.JSON))
    logger = logging.getLogger("drift.test")
    logger.info("pushed %s", "a/b", extra={"repo": "a/b", "bytes": 12, "path": Path("/x")})
    (line,) = lines(capsys)
    record = orjson.loads(line)
    assert RFC3339_UTC.match(record.pop("ts"))
    assert record == {
        "level": "info",
        "logger": "drift.test",
        "msg": "pushed a/b",
        "repo": "a/b",
        "bytes": 12,
        "path": "/x",
    }


def test_json_exception_stays_on_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(LogSettings(level="info", format=LogFormat.JSON))
    try:
        raise ZeroDivisionError("boom")
    except ZeroDivisionError:
        logging.getLogger("drift.test").exception("failed")
    (line,) = lines(capsys)
    record = orjson.loads(line)
    assert record["level"] == "error"
    assert "ZeroDivisionError: boom" in record["exc"]


def test_extras_cannot_replace_the_core_fields(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(LogSettings(level="info", format=LogFormat.JSON))
    logging.getLogger("drift.test").warning("real", extra={"ts": "fake", "level": "fake"})
    record = orjson.loads(lines(capsys)[0])
    assert record["level"] == "warning"
    assert record["ts"] != "fake"


@pytest.mark.parametrize(
    ("level", "shown"),
    [
        ("error", ["error"]),
        ("warning", ["error", "warning"]),
        ("info", ["error", "warning", "info"]),
        ("debug", ["error", "warning", "info", "debug"]),
        ("trace", ["error", "warning", "info", "debug"]),
    ],
)
def test_levels(capsys: pytest.CaptureFixture[str], level: str, shown: list[str]) -> None:
    configure_logging(LogSettings(level=level, format=LogFormat.JSON))
    logger = logging.getLogger("drift.test")
    logger.error("e")
    logger.warning("w")
    logger.info("i")
    logger.debug("d")
    assert [orjson.loads(line)["level"] for line in lines(capsys)] == shown


def test_text_format(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(LogSettings(level="info", format=LogFormat.TEXT))
    logging.getLogger("drift.test").info("listening", extra={"port": 5000})
    (line,) = lines(capsys)
    timestamp, rest = line.split(" ", 1)
    assert RFC3339_UTC.match(timestamp)
    assert rest.split() == ["INFO", "drift.test:", "listening", "port=5000"]


def test_reconfiguring_replaces_the_handler(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(LogSettings(level="info", format=LogFormat.JSON))
    configure_logging(LogSettings(level="info", format=LogFormat.TEXT))
    logging.getLogger("drift.test").info("once")
    (line,) = lines(capsys)
    assert line.endswith("drift.test: once")
