"""deploy/nginx.conf is valid nginx, and exposes only the webhooks, the staff area and the
public API."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from clinicbot.settings import PROJECT_ROOT
from tests.support.services import service_unavailable

CONFIG = PROJECT_ROOT / "deploy" / "nginx.conf"


def test_nginx_accepts_the_config(tmp_path: Path) -> None:
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists():
        service_unavailable("nginx", nginx, "not installed", "apt-get install nginx-light")
    key, cert = tmp_path / "privkey.pem", tmp_path / "fullchain.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=clinic.example.com", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    config = (
        CONFIG.read_text()
        .replace("/etc/clinicbot/tls/privkey.pem", str(key))
        .replace("/etc/clinicbot/tls/fullchain.pem", str(cert))
        .replace("/run/clinicbot-nginx.pid", str(tmp_path / "nginx.pid"))
        .replace("/var/log/nginx/", f"{tmp_path}/")
    )
    (tmp_path / "nginx.conf").write_text(config)
    result = subprocess.run(
        [nginx, "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr


def test_only_webhooks_staff_public_api_and_liveness_are_proxied() -> None:
    text = CONFIG.read_text()
    locations = re.findall(r"^\s*location\s+(.+?)\s*\{", text, flags=re.MULTILINE)
    assert locations == [
        r"~ ^/webhooks/zapi/webhook(/[^/]+)?$",
        "= /webhooks/meta/webhook",
        "/staff/",
        "/api/v1/",
        "/dashboard/",
        "= /health",
        "/",
    ]
    catch_all = text.split("location / {", 1)[1].split("}", 1)[0]
    assert "return 404" in catch_all
    assert "client_max_body_size 64k;" in text


@pytest.mark.parametrize("internal", ["5055", "/metrics", "/health/detailed", "/model"])
def test_internal_ports_and_paths_are_never_proxied(internal: str) -> None:
    proxied = re.findall(r"location[^{]*\{[^}]*proxy_pass", CONFIG.read_text())
    assert not any(internal in block for block in proxied)
