"""Every file in deploy/ is checked here, offline, with tools installed from PyPI (no container engine
on this machine): Kubernetes manifests against the API schemas of the version we support, the compose
file against the Compose specification, the Dockerfile with hadolint, and all of them against the
settings coproduce actually reads, so a misspelt variable or secret fails here and not in production.
Each validator is also shown a broken file, to prove it can fail."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import kubernetes_validate
import pytest
import yaml

from coproduce.web.serve import bind_of, trusted_proxies
from workers.settings import Settings

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
KUBERNETES_VERSION = "1.31.0"
SETTINGS = {f"COPRODUCE_{name.upper()}" for name in Settings.model_fields} | {"COPRODUCE_SECRETS_DIR"}
MANIFESTS = sorted((DEPLOY / "k8s").glob("*.yaml"))


def documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def compose() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


@pytest.mark.parametrize("path", MANIFESTS, ids=[p.name for p in MANIFESTS])
def test_kubernetes_manifests_match_the_api_schemas_strictly(path: Path) -> None:
    for doc in documents(path):
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_the_kubernetes_validator_rejects_a_misspelt_field() -> None:
    deployment = documents(DEPLOY / "k8s" / "worker-deployment.yaml")[0]
    deployment["spec"]["replica"] = deployment["spec"].pop("replicas")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


def _env_names(value: Any) -> set[str]:
    return {k for k in (value or {}) if k.startswith("COPRODUCE_")}


def test_manifests_only_set_variables_coproduce_reads_and_mount_its_secrets() -> None:
    config = documents(DEPLOY / "k8s" / "configmap.yaml")[0]
    assert _env_names(config["data"]) <= SETTINGS
    secrets = {d["metadata"]["name"]: d for d in documents(DEPLOY / "k8s" / "secret.example.yaml")}
    for key in secrets["coproduce"]["stringData"]:  # files read through COPRODUCE_SECRETS_DIR
        assert key.upper() in SETTINGS, key
    for name in ("worker-deployment.yaml", "migrate-job.yaml", "web-deployment.yaml"):
        doc = documents(DEPLOY / "k8s" / name)[0]
        pod = doc["spec"]["template"]["spec"]
        [container] = pod["containers"]
        for volume in (v["secret"] for v in pod["volumes"] if "secret" in v):
            assert volume["secretName"] in secrets, name
            for item in volume.get("items", []):  # a key the secret lacks would stop the pod starting
                assert item["key"] in secrets[volume["secretName"]]["stringData"], (name, item["key"])
                assert item["path"] == item["key"]  # read by the variable it is named after
        mount = next(m for m in container["volumeMounts"] if m["name"] == "secrets")
        assert mount["mountPath"] == config["data"]["COPRODUCE_SECRETS_DIR"]
        assert container["args"][0] in ("worker", "db", "web")
        assert {e["name"] for e in container.get("env", [])} <= SETTINGS, name
    hpa = documents(DEPLOY / "k8s" / "worker-hpa.yaml")[0]
    pdb = documents(DEPLOY / "k8s" / "worker-pdb.yaml")[0]
    assert pdb["spec"]["minAvailable"] < hpa["spec"]["minReplicas"]  # a drain can always proceed


def test_the_web_app_runs_hardened_is_probed_on_healthz_and_served_over_https() -> None:
    k8s = DEPLOY / "k8s"
    config = documents(k8s / "configmap.yaml")[0]["data"]
    deployment = documents(k8s / "web-deployment.yaml")[0]
    pod = deployment["spec"]["template"]["spec"]
    [container] = pod["containers"]
    env = {e["name"]: e["value"] for e in container["env"]}
    _, port = bind_of(env["COPRODUCE_WEB_BIND"])
    assert container["args"] == ["web"]
    assert {p["name"]: p["containerPort"] for p in container["ports"]} == {"http": port}
    assert container["readinessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert "livenessProbe" in container
    assert pod["securityContext"]["runAsNonRoot"] and pod["securityContext"]["runAsUser"] == 10001
    hardened = container["securityContext"]
    assert hardened["readOnlyRootFilesystem"] and not hardened["allowPrivilegeEscalation"]
    assert hardened["capabilities"]["drop"] == ["ALL"]
    assert set(container["resources"]) == {"requests", "limits"}
    [secret] = [v["secret"] for v in pod["volumes"] if "secret" in v]
    keys = {item["key"] for item in secret["items"]}
    assert {"coproduce_database_url", "coproduce_writer_key", "coproduce_smtp_url"} <= keys
    assert "coproduce_checkpoint_key" not in keys  # a public-facing pod cannot sign checkpoints

    labels = deployment["spec"]["template"]["metadata"]["labels"]
    service = documents(k8s / "web-service.yaml")[0]
    assert service["spec"]["selector"].items() <= labels.items()
    [service_port] = service["spec"]["ports"]
    assert service_port["targetPort"] == "http"
    pdb = documents(k8s / "web-pdb.yaml")[0]
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert pdb["spec"]["minAvailable"] < deployment["spec"]["replicas"]  # a drain can always proceed

    ingress = documents(k8s / "web-ingress.yaml")[0]["spec"]
    public = urlsplit(config["COPRODUCE_WEB_URL"])
    assert public.scheme == "https"  # sign-in links and passkeys are for the address behind TLS
    [rule] = ingress["rules"]
    assert rule["host"] == public.hostname
    assert any(public.hostname in tls["hosts"] and tls["secretName"] for tls in ingress["tls"])
    [path] = rule["http"]["paths"]
    assert path["backend"]["service"] == {
        "name": service["metadata"]["name"],
        "port": {"name": service_port["name"]},
    }
    # what the configmap says to trust is addresses or networks `coproduce web` accepts
    trusted_proxies(Settings(web_trusted_proxies=config["COPRODUCE_WEB_TRUSTED_PROXIES"]))


def test_the_compose_file_matches_the_compose_specification() -> None:
    schema = yaml.safe_load((DEPLOY / "schemas" / "compose-spec.json").read_text())
    validator = jsonschema.Draft201909Validator(schema)  # the draft the specification names
    validator.validate(compose())
    broken = compose()
    broken["services"]["worker"]["replica"] = 2
    with pytest.raises(jsonschema.ValidationError):
        validator.validate(broken)


def test_the_compose_services_are_wired_to_what_exists() -> None:
    spec = compose()
    services, secrets = spec["services"], spec["secrets"]
    for name, service in services.items():
        for needed in service.get("depends_on") or {}:
            assert needed in services, f"{name} depends on unknown {needed}"
        for secret in service.get("secrets", []):
            source = secret if isinstance(secret, str) else secret["source"]
            assert source in secrets, f"{name} mounts unknown secret {source}"
            target = secret if isinstance(secret, str) else secret.get("target", source)
            if name in ("worker", "cli", "web"):
                assert f"COPRODUCE_{target.upper().removeprefix('COPRODUCE_')}" in SETTINGS, target
        assert _env_names(service.get("environment")) <= SETTINGS, name
    assert services["worker"]["deploy"]["replicas"] >= 2
    assert services["migrate"]["command"][:2] == ["db", "migrate"]
    assert services["worker"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"


def test_the_compose_web_service_has_its_address_its_secrets_and_a_health_check() -> None:
    web = compose()["services"]["web"]
    assert web["command"] == ["web"]
    assert web["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    env = web["environment"]
    assert env["COPRODUCE_WEB_URL"].startswith("${COPRODUCE_WEB_URL:?")  # never a guessed address
    _, port = bind_of(env["COPRODUCE_WEB_BIND"])
    targets = {secret["target"] for secret in web["secrets"]}
    assert targets == {
        "coproduce_database_url", "coproduce_writer_key", "coproduce_master_key", "coproduce_payload_keys",
        "coproduce_smtp_url",
    }  # fmt: skip
    check = " ".join(web["healthcheck"]["test"])
    assert f"127.0.0.1:{port}/healthz" in check
    assert any(str(published).endswith(f":{port}") for published in web["ports"])


def test_make_secrets_creates_every_secret_compose_mounts_privately(tmp_path: Path) -> None:
    copy = tmp_path / "deploy"
    copy.mkdir()
    shutil.copy(DEPLOY / "make-secrets.sh", copy)
    shutil.copy(DEPLOY / "compose.yaml", copy)
    env = {k: v for k, v in os.environ.items() if not k.startswith("COPRODUCE_")}  # no address given
    env["PATH"] = f"{Path(sys.executable).parent}:{os.environ['PATH']}"
    env["PYTHONPATH"] = str(DEPLOY.parent)
    done = subprocess.run(
        ["sh", str(copy / "make-secrets.sh")], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    for secret in compose()["secrets"].values():
        path = copy / secret["file"]
        assert path.stat().st_size > 0, path
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert (copy / "secrets" / "checkpoint_key").read_text().startswith("PRIVATE+KEY+coproduce/eventlog+")
    # compose refuses to start without the web app's address; the script starts .env with one to edit
    settings = (copy / ".env").read_text().splitlines()
    assert "COPRODUCE_WEB_URL=http://localhost:8000" in settings and settings[0].startswith("TEMPORAL_DB_")
    assert stat.S_IMODE((copy / ".env").stat().st_mode) == 0o600
    assert "secrets/smtp_url" in done.stdout  # the mail server's URL is a placeholder until filled in
    before = (copy / "secrets" / "writer_password").read_text()
    (copy / ".env").write_text(settings[0] + "\n")  # an .env made before the web app was deployed
    again = subprocess.run(
        ["sh", str(copy / "make-secrets.sh")], env=env, capture_output=True, text=True, timeout=60
    )
    assert again.returncode == 0 and (copy / "secrets" / "writer_password").read_text() == before
    assert (copy / ".env").read_text().splitlines() == settings  # the missing setting added, nothing lost


def _hadolint() -> str:
    return str(Path(sysconfig.get_path("scripts")) / "hadolint")


def test_the_dockerfile_passes_hadolint() -> None:
    done = subprocess.run(
        [_hadolint(), str(DEPLOY / "Dockerfile")], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr
    text = (DEPLOY / "Dockerfile").read_text()
    assert "USER 10001" in text and 'ENTRYPOINT ["coproduce"]' in text
    broken = subprocess.run(
        [_hadolint(), "-"], input="FROM python\nRUN cd /tmp && apt-get install curl\n",
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert broken.returncode != 0 and "DL" in broken.stdout


def test_the_temporal_helm_values_use_external_postgres_and_no_bundled_databases() -> None:
    values = yaml.safe_load((DEPLOY / "temporal-helm-values.yaml").read_text())
    for store in ("default", "visibility"):
        assert values["server"]["config"]["persistence"][store]["sql"]["driver"] == "postgres12"
    assert not any(values[name]["enabled"] for name in ("cassandra", "mysql", "postgresql", "elasticsearch"))
