"""LOG_LEVEL and LOG_FORMAT: every process logs at the configured level, as text or JSON lines."""

from __future__ import annotations

import dataclasses
import importlib
import io
import json
import logging
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from clinicbot.logs import JsonFormatter, configure_logging, rasa_logging_config
from clinicbot.settings import read_settings
from clinicbot.stack import Ports, Stack


@pytest.fixture
def isolated_logger() -> Iterator[str]:
    name = "clinicbot.test_logs"
    yield name
    logger = logging.getLogger(name)
    logger.handlers.clear()
    logger.setLevel(logging.NOTSET)


def capture(name: str, monkeypatch: pytest.MonkeyPatch, **settings: str) -> io.StringIO:
    stream = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)  # StreamHandler() writes to sys.stderr
    configure_logging(dataclasses.replace(read_settings(), **settings), name)
    return stream


def test_json_lines_carry_level_logger_message_and_exception(
    isolated_logger: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    stream = capture(isolated_logger, monkeypatch, log_format="json", log_level="INFO")
    logger = logging.getLogger(isolated_logger)
    logger.debug("not shown at INFO")
    logger.info("consulta marcada para %s", "55319****7777")
    try:
        raise ValueError("boom")
    except ValueError:
        logger.exception("falhou")
    lines = [json.loads(line) for line in stream.getvalue().splitlines() if line.startswith("{")]
    assert [(line["level"], line["message"]) for line in lines] == [
        ("INFO", "consulta marcada para 55319****7777"),
        ("ERROR", "falhou"),
    ]
    assert all(line["logger"] == isolated_logger and line["time"] for line in lines)
    assert "ValueError: boom" in lines[1]["exception"]


def test_text_at_the_configured_level_and_no_handler_twice(
    isolated_logger: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    capture(isolated_logger, monkeypatch, log_level="DEBUG")
    stream = capture(isolated_logger, monkeypatch, log_level="WARNING")  # configured again
    logger = logging.getLogger(isolated_logger)
    logger.info("hidden")
    logger.warning("shown")
    assert stream.getvalue().count("shown") == 1 and "hidden" not in stream.getvalue()
    assert " WARNING clinicbot.test_logs shown" in stream.getvalue()
    assert len(logging.getLogger(isolated_logger).handlers) == 1


def test_rasa_gets_a_json_logging_config_only_when_asked(tmp_path: Path) -> None:
    ports = Ports(rasa=15005, actions=15055, service=18000, sandbox=18088)
    stack = Stack(ports=ports, env={"LOG_FORMAT": "json"}, log_dir=tmp_path)
    [rasa] = [service for service in stack.plan(tmp_path) if service.name == "rasa"]
    config_file = Path(rasa.argv[rasa.argv.index("--logging-config-file") + 1])
    assert yaml.safe_load(config_file.read_text()) == rasa_logging_config()
    factory = rasa_logging_config()["formatters"]["json"]["()"]
    module, _, name = factory.rpartition(".")
    assert getattr(importlib.import_module(module), name) is JsonFormatter
    text_stack = Stack(ports=ports, env={"LOG_FORMAT": "text"}, log_dir=tmp_path)
    [rasa] = [service for service in text_stack.plan(tmp_path) if service.name == "rasa"]
    assert "--logging-config-file" not in rasa.argv
