"""deploy/k8s (documentation, never applied here): every manifest parses, the kustomization
lists them all, and the pieces agree (the Deployment's config map, secret and ports exist; the
ingress exposes only what deploy/nginx.conf exposes)."""

from __future__ import annotations

from typing import Any

import yaml

from clinicbot.settings import PROJECT_ROOT

K8S = PROJECT_ROOT / "deploy" / "k8s"


def manifests() -> dict[str, dict[str, Any]]:
    found = {}
    for path in sorted(K8S.glob("*.yml")):
        document = yaml.safe_load(path.read_text())
        assert isinstance(document, dict) and document.get("kind"), path
        found[path.name] = document
    return found


def test_every_manifest_parses_and_is_listed() -> None:
    found = manifests()
    listed = found.pop("kustomization.yml")["resources"]
    assert sorted(listed) == sorted(found)


def test_the_deployment_uses_what_the_other_manifests_define() -> None:
    found = manifests()
    pod = found["deployment.yml"]["spec"]["template"]["spec"]
    containers = {c["name"]: c for c in pod["containers"]}
    assert set(containers) == {"rasa", "actions", "service"}
    secret = found["secret.example.yml"]["metadata"]["name"]
    assert all(c["envFrom"] == [{"secretRef": {"name": secret}}] for c in containers.values())
    assert pod["volumes"][0]["configMap"]["name"] == found["configmap.yml"]["metadata"]["name"]
    endpoints = yaml.safe_load(found["configmap.yml"]["data"]["endpoints.yml"])
    assert endpoints["lock_store"]["type"] == "clinicbot.rasa.stores.ConfiguredLockStore"
    assert {"DATABASE_URL", "REDIS_URL"} <= set(found["secret.example.yml"]["stringData"])
    ports = {p["name"] for c in containers.values() for p in c.get("ports", [])}
    service_ports = {p["targetPort"] for p in found["service.yml"]["spec"]["ports"]}
    assert service_ports == ports


def test_the_ingress_exposes_only_the_public_paths() -> None:
    ingress = manifests()["ingress.yml"]
    [rule] = ingress["spec"]["rules"]
    paths = {p["path"] for p in rule["http"]["paths"]}
    assert paths == {
        "/webhooks/zapi/webhook(/[^/]+)?$",
        "/webhooks/meta/webhook",
        "/staff/",
        "/dashboard/",
        "/api/v1/",
        "/health",
    }
