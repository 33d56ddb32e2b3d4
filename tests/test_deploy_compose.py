"""deploy/docker-compose.yml and the Dockerfile, checked without Docker (these machines cannot
build images): the structure a clinic relies on, and that every command, file and module the
containers use exists in this project."""

from __future__ import annotations

import importlib.util
import re
from typing import Any

import pytest
import yaml

from clinicbot import production
from clinicbot.settings import PROJECT_ROOT
from clinicbot.stack import MODEL_PATH

DEPLOY = PROJECT_ROOT / "deploy"
ASSISTANT = ("migrate", "rasa", "actions", "service")
SHARED_NAMESPACE = ("actions", "service", "nginx", "prometheus")
VARIABLE = re.compile(r"\$\{([A-Z_]+)")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    return document


def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = compose["services"]
    return found


def test_the_services_and_their_images(compose: dict[str, Any]) -> None:
    found = services(compose)
    assert set(found) == {*ASSISTANT, "postgres", "redis", "nginx", "prometheus"}
    assert found["postgres"]["image"] == "postgres:15"
    assert found["redis"]["image"] == "redis:7"
    assert found["redis"]["command"] == ["redis-server", "--appendonly", "yes"]
    for name, path in (("postgres", "/var/lib/postgresql/data"), ("redis", "/data")):
        [volume] = found[name]["volumes"]
        named, mounted = volume.split(":")
        assert mounted == path and named in compose["volumes"]
    for name in ("postgres", "redis"):
        assert found[name]["healthcheck"]["test"]
    assert found["prometheus"]["profiles"] == ["monitoring"]


def test_the_assistant_runs_from_the_projects_image_in_production(
    compose: dict[str, Any],
) -> None:
    found = services(compose)
    for name in ASSISTANT:
        service = found[name]
        assert (PROJECT_ROOT / "deploy" / service["build"]["context"]).resolve() == PROJECT_ROOT
        assert (PROJECT_ROOT / service["build"]["dockerfile"]).is_file()
        environment = service["environment"]
        assert environment["APP_ENV"] == "production"
        assert environment["DATABASE_URL"].startswith("postgresql://clinicbot:")
        assert environment["DATABASE_URL"].endswith("@postgres:5432/clinicbot")
        assert environment["REDIS_URL"] == "redis://redis:6379/1"
        assert service["env_file"] == "../.env"


def test_only_nginx_is_reachable_from_outside(compose: dict[str, Any]) -> None:
    found = services(compose)
    published = {name: service.get("ports") for name, service in found.items()}
    assert published.pop("rasa") == ["80:80", "443:443"]  # nginx listens in rasa's namespace
    assert not any(published.values()), published
    for name in SHARED_NAMESPACE:
        assert found[name]["network_mode"] == "service:rasa"
    nginx_conf = DEPLOY / "nginx.conf"
    assert "./nginx.conf:/etc/clinicbot/nginx.conf:ro" in found["nginx"]["volumes"]
    assert "server 127.0.0.1:5005;" in nginx_conf.read_text()
    rasa = found["rasa"]["command"]
    assert rasa[rasa.index("--interface") + 1] == "127.0.0.1"


def test_every_command_exists_in_the_project(compose: dict[str, Any]) -> None:
    found = services(compose)
    for name in ("migrate", "actions", "service"):
        command = found[name]["command"]
        assert command[:2] == ["python", "-m"], command
        assert importlib.util.find_spec(command[2]) is not None, command
    rasa = found["rasa"]["command"]
    assert rasa[:2] == ["rasa", "run"]
    assert PROJECT_ROOT / rasa[rasa.index("--model") + 1] == MODEL_PATH
    assert "--enable-api" in rasa
    credentials = yaml.safe_load((PROJECT_ROOT / rasa[rasa.index("--credentials") + 1]).read_text())
    assert set(credentials) == {"clinicbot.whatsapp.zapi.connector.ZapiInput"}  # no REST channel
    endpoints = yaml.safe_load((PROJECT_ROOT / rasa[rasa.index("--endpoints") + 1]).read_text())
    local = yaml.safe_load((PROJECT_ROOT / "endpoints.yml").read_text())
    for key in ("tracker_store", "lock_store", "event_broker"):
        assert endpoints[key] == local[key]
    assert endpoints["action_endpoint"] == {
        "url": "http://127.0.0.1:5055/webhook",
        "token": "${ACTION_SERVER_TOKEN}",
    }
    order = {name: found[name].get("depends_on") for name in ("migrate", "rasa")}
    assert order["migrate"] == {"postgres": {"condition": "service_healthy"}}
    assert order["rasa"]["migrate"] == {"condition": "service_completed_successfully"}


def test_the_dockerfile_builds_the_model_and_runs_unprivileged() -> None:
    dockerfile = (PROJECT_ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.10", dockerfile, re.MULTILINE)
    assert "rasa train --force --fixed-model-name clinicbot --out models" in dockerfile
    assert re.search(r"^USER clinicbot$", dockerfile, re.MULTILINE)
    for source in re.findall(r"^COPY (\S+)", dockerfile, re.MULTILINE):
        if source != ".":
            assert (PROJECT_ROOT / source).exists(), source
    ignored = (PROJECT_ROOT / ".dockerignore").read_text().split()
    assert {".env", ".venv", "models", ".git"} <= set(ignored)


def test_every_variable_is_documented_and_production_accepts_the_setup(
    compose: dict[str, Any],
) -> None:
    text = (DEPLOY / "docker-compose.yml").read_text() + (DEPLOY / "endpoints.yml").read_text()
    example = (PROJECT_ROOT / ".env.example").read_text()
    documented = set(re.findall(r"^([A-Z_0-9]+)=", example, re.MULTILINE))
    assert set(VARIABLE.findall(text)) <= documented
    # The assistant's environment, as compose gives it, with a clinic's own secrets.
    environment = {
        **services(compose)["service"]["environment"],
        "GESTAODS_TOKEN": "clinic-agenda-token",
        "ZAPI_INSTANCE_ID": "3C0FFEE0000000000000000000000001",
        "ZAPI_INSTANCE_TOKEN": "clinic-instance-token",
        "ZAPI_CLIENT_TOKEN": "clinic-client-token",
        "STAFF_TOKEN": "clinic-staff-token",
    }
    assert production.problems(environment) == []
