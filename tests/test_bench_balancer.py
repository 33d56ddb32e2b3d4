"""The scale benchmark's nginx (bench/balancer.py): the generated config is valid nginx, keeps
everything in its own directory, and spreads webhooks over the instances it names."""

from __future__ import annotations

import shutil
from pathlib import Path

from bench.balancer import Balancer, balancer_config
from tests.support.services import service_unavailable


def test_nginx_accepts_the_generated_config(tmp_path: Path) -> None:
    if shutil.which("nginx") is None and not Path("/usr/sbin/nginx").exists():
        service_unavailable("nginx", "nginx", "not installed", "apt-get install nginx-light")
    result = Balancer({18081: [15005], 18082: [15005, 15006]}, tmp_path).check()
    assert result.returncode == 0, result.stderr


def test_each_port_proxies_webhooks_to_its_instances_only(tmp_path: Path) -> None:
    config = balancer_config({18081: [15005], 18082: [15005, 15006]}, tmp_path)
    one, two = config.split("upstream rasa_18082", 1)
    assert "server 127.0.0.1:15005;" in one and "15006" not in one
    assert "server 127.0.0.1:15005;" in two and "server 127.0.0.1:15006;" in two
    assert config.count("location /webhooks/ {") == 2
    assert "listen 127.0.0.1:18081;" in config and "listen 127.0.0.1:18082;" in config
    # Nothing outside its directory: pid, logs and temporary files.
    paths = [line.split()[1].rstrip(";") for line in config.splitlines() if "_path " in line]
    paths += [line.split()[1].rstrip(";") for line in config.splitlines() if line.strip().
              startswith(("pid ", "error_log ", "access_log "))]  # fmt: skip
    assert paths and all(path.startswith(str(tmp_path)) for path in paths)
