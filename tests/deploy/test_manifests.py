"""deploy/: the kustomize overlays render offline and every rendered object validates against
the Kubernetes OpenAPI schemas (kubernetes-validate bundles them, strict: unknown fields fail);
the compose files validate against the compose-spec schema that check-jsonschema vendors."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
K8S = REPO_ROOT / "deploy" / "k8s"
OVERLAYS = ("gpu", "cpu")
K8S_VERSION = "1.32.0"  # oldest minor we promise; autoscaling/v2 and friends are all GA there


def kustomize_command() -> list[str]:
    """A real kustomize: the standalone binary, or the one built into kubectl."""
    if shutil.which("kustomize"):
        return ["kustomize", "build"]
    if shutil.which("kubectl"):
        return ["kubectl", "kustomize"]
    pytest.skip("neither kustomize nor kubectl is on PATH; kustomize rendering needs one")


def render(overlay: str) -> list[dict[str, Any]]:
    out = subprocess.run(
        [*kustomize_command(), str(K8S / "overlays" / overlay)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


def by_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def container(deployment: dict[str, Any]) -> dict[str, Any]:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    only: dict[str, Any] = containers[0]
    return only


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_validates_against_kubernetes_schemas(overlay: str) -> None:
    import kubernetes_validate

    docs = render(overlay)
    kinds = sorted(d["kind"] for d in docs)
    assert kinds == sorted(
        ["Namespace", "ConfigMap", "Secret", "Service", "Service", "Deployment", "Deployment"]
        + ["HorizontalPodAutoscaler"] * 2
        + ["StatefulSet", "Service", "PersistentVolumeClaim"]  # the shared job store
        + ["StatefulSet", "Service", "NetworkPolicy"]  # the shared gallery store (Chroma)
    )
    for doc in docs:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def test_validator_rejects_a_broken_manifest() -> None:
    """The validator really checks: an unknown field and a wrong type both fail."""
    import kubernetes_validate

    deployment = by_kind(render("gpu"), "Deployment")["facereid"]
    container(deployment)["readinessProbe"]["httpGet"]["pathh"] = "/readyz"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, K8S_VERSION, strict=True)
    deployment = by_kind(render("gpu"), "Deployment")["facereid"]
    deployment["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, K8S_VERSION, strict=True)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_deployments_probe_configure_and_size(overlay: str) -> None:
    docs = render(overlay)
    deployments = by_kind(docs, "Deployment")
    assert set(deployments) == {"facereid", "clip-service"}
    configmap = next(d for d in docs if d["kind"] == "ConfigMap")
    secret = next(d for d in docs if d["kind"] == "Secret")
    assert configmap["data"]["CLIP_SERVICE_URL"] == "http://clip-service:8000"
    assert "API_KEYS" in secret["data"]
    for name, deployment in deployments.items():
        spec = container(deployment)
        assert spec["livenessProbe"]["httpGet"]["path"] == "/livez", name
        assert spec["readinessProbe"]["httpGet"]["path"] == "/readyz", name
        assert spec["resources"]["requests"]["memory"], name
        refs = {ref.get("configMapRef", {}).get("name") for ref in spec["envFrom"]}
        assert configmap["metadata"]["name"] in refs, name  # the generated, hashed name
        gpus = spec["resources"].get("limits", {}).get("nvidia.com/gpu")
        assert gpus == (1 if overlay == "gpu" else None), (name, spec["resources"])
        image = spec["image"]
        assert image.endswith("-cpu:latest") == (overlay == "cpu"), image
    face_refs = container(deployments["facereid"])["envFrom"]
    assert secret["metadata"]["name"] in {ref.get("secretRef", {}).get("name") for ref in face_refs}
    # The face service finds CLIP at the Service's name and port.
    clip_service = by_kind(docs, "Service")["clip-service"]
    assert clip_service["spec"]["ports"][0]["port"] == 8000
    clip_env = {e["name"]: e["value"] for e in container(deployments["clip-service"])["env"]}
    assert clip_env["BENTOML_PORT"] == "8000"
    hpas = by_kind(docs, "HorizontalPodAutoscaler")
    assert {h["spec"]["scaleTargetRef"]["name"] for h in hpas.values()} == set(deployments)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_replicas_share_the_job_store_and_data_dir(overlay: str) -> None:
    """Every face pod reaches the same Redis and mounts the same RWX volume at DATA_DIR, so
    any replica the HPA adds answers for jobs another one accepted (docs/video.md)."""
    docs = render(overlay)
    settings = next(d for d in docs if d["kind"] == "ConfigMap")["data"]
    redis = by_kind(docs, "StatefulSet")["facereid-redis"]
    redis_service = by_kind(docs, "Service")["facereid-redis"]
    assert settings["JOB_STORE_URL"] == "redis://facereid-redis:6379/0"
    assert redis_service["spec"]["ports"][0]["port"] == 6379
    assert "--appendonly" in container(redis)["args"]  # jobs survive a Redis restart
    claim = by_kind(docs, "PersistentVolumeClaim")["facereid-data"]
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]
    face = by_kind(docs, "Deployment")["facereid"]
    volumes = {v["name"]: v for v in face["spec"]["template"]["spec"]["volumes"]}
    mounts = {m["name"]: m["mountPath"] for m in container(face)["volumeMounts"]}
    assert volumes["data"]["persistentVolumeClaim"]["claimName"] == "facereid-data"
    assert mounts["data"] == settings["DATA_DIR"]


def served_port(service: dict[str, Any], workload: dict[str, Any], port: int) -> int:
    """The container port behind ``port`` of ``service``, which must select ``workload``'s pods."""
    pod_labels = workload["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    target = next(p for p in service["spec"]["ports"] if p["port"] == port)["targetPort"]
    ports = container(workload)["ports"]
    if isinstance(target, str):
        return int(next(p for p in ports if p["name"] == target)["containerPort"])
    assert target in {p["containerPort"] for p in ports}
    return int(target)


def probe_port(probe: dict[str, Any], workload: dict[str, Any]) -> int:
    port = probe["httpGet"]["port"]
    if isinstance(port, str):
        port = next(p for p in container(workload)["ports"] if p["name"] == port)["containerPort"]
    return int(port)


CHROMA_IMAGE = re.compile(r"chromadb/chroma:1\.\d+\.\d+")  # a pinned 1.x, like the client


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_replicas_share_the_gallery_store(overlay: str) -> None:
    """GALLERY_URI names the rendered Chroma Service and port, which reaches the StatefulSet's
    server; its data sits on a claim per pod, its probes ask the heartbeat on the served port,
    and only the face pods may connect (docs/gallery.md, docs/security.md)."""
    docs = render(overlay)
    settings = next(d for d in docs if d["kind"] == "ConfigMap")["data"]
    uri = urlsplit(settings["GALLERY_URI"])
    assert uri.scheme == "http"
    chroma = by_kind(docs, "StatefulSet")[uri.hostname or ""]  # KeyError: no such server
    service = by_kind(docs, "Service")[uri.hostname or ""]
    assert service["spec"].get("type", "ClusterIP") == "ClusterIP"  # no auth: never exposed
    assert uri.port is not None
    assert served_port(service, chroma, uri.port) == 8000  # the image's port
    server = container(chroma)
    assert CHROMA_IMAGE.fullmatch(server["image"]), server["image"]
    (claim,) = chroma["spec"]["volumeClaimTemplates"]  # a volume of its own, kept across restarts
    mounts = {m["name"]: m["mountPath"] for m in server["volumeMounts"]}
    assert mounts[claim["metadata"]["name"]] == "/data"  # the image's persist_path
    for kind in ("livenessProbe", "readinessProbe"):
        assert server[kind]["httpGet"]["path"] == "/api/v2/heartbeat", kind
        assert probe_port(server[kind], chroma) == 8000, kind
    assert server["resources"]["requests"]["memory"]
    assert chroma["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] is True
    # Only the face pods reach it.
    policy = by_kind(docs, "NetworkPolicy")[uri.hostname or ""]
    chroma_labels = chroma["spec"]["template"]["metadata"]["labels"]
    assert policy["spec"]["podSelector"]["matchLabels"].items() <= chroma_labels.items()
    face_labels = by_kind(docs, "Deployment")["facereid"]["spec"]["template"]["metadata"]["labels"]
    (rule,) = policy["spec"]["ingress"]
    (source,) = rule["from"]
    assert source["podSelector"]["matchLabels"].items() <= face_labels.items()
    assert [p["port"] for p in rule["ports"]] == [8000]


# KEDA's HTTP add-on CRD, vendored from kedacore/http-add-on v0.15.0 (header in the file).
HTTPSO_CRD = Path(__file__).resolve().parent / "crds" / "http.keda.sh_httpscaledobjects.yaml"
INTERCEPTOR = "keda-add-ons-http-interceptor-proxy.keda.svc.cluster.local"  # the add-on's name
INTERCEPTOR_PORT = 8080


def httpso_schema() -> dict[str, Any]:
    """The CRD's openAPIV3Schema for v1alpha1, made strict the way ``kubectl apply`` is with
    server-side field validation: an object with listed properties takes no others."""
    crd = next(d for d in yaml.safe_load_all(HTTPSO_CRD.read_text()) if d)
    (version,) = (v for v in crd["spec"]["versions"] if v["name"] == "v1alpha1")
    schema: dict[str, Any] = version["schema"]["openAPIV3Schema"]

    def strict(node: Any) -> None:
        if isinstance(node, dict):
            if "properties" in node and "additionalProperties" not in node:
                node["additionalProperties"] = False
            for value in node.values():
                strict(value)
        elif isinstance(node, list):
            for value in node:
                strict(value)

    strict(schema["properties"]["spec"])
    return schema


def validate_httpso(doc: dict[str, Any]) -> None:
    import jsonschema

    assert doc["apiVersion"] == "http.keda.sh/v1alpha1", doc["apiVersion"]
    jsonschema.validate(doc, httpso_schema())
    target = doc["spec"]["scaleTargetRef"]
    # The CRD's CEL rule (x-kubernetes-validations), which jsonschema does not run.
    assert ("port" in target) != ("portName" in target), target


def go_seconds(duration: str) -> float:
    """A Go duration as KEDA writes them (``5m``, ``120s``, ``1m30s``) in seconds."""
    parts = re.findall(r"(\d+(?:\.\d+)?)(h|m|s)", duration)
    assert parts and "".join(n + u for n, u in parts) == duration, duration
    return sum(float(n) * {"h": 3600, "m": 60, "s": 1}[u] for n, u in parts)


def test_scale_to_zero_overlay_validates() -> None:
    """Core objects against the Kubernetes schemas, the HTTPScaledObjects against the add-on's
    own CRD; a misspelt or mistyped field in one fails."""
    import jsonschema
    import kubernetes_validate

    docs = render("scale-to-zero")
    scaled = [d for d in docs if d["kind"] == "HTTPScaledObject"]
    assert len(scaled) == 2
    for doc in docs:
        if doc["kind"] == "HTTPScaledObject":
            validate_httpso(doc)
        else:
            kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
    broken = yaml.safe_load(yaml.safe_dump(scaled[0]))
    broken["spec"]["replicas"]["minReplicas"] = 0  # ScaledObject's name, not this CRD's
    with pytest.raises(jsonschema.ValidationError):
        validate_httpso(broken)
    broken = yaml.safe_load(yaml.safe_dump(scaled[0]))
    broken["spec"]["scaledownPeriod"] = "10m"
    with pytest.raises(jsonschema.ValidationError):
        validate_httpso(broken)


def test_scale_to_zero_targets_each_service() -> None:
    """Each service scales to zero through the interceptor: min 0, the right Deployment behind
    the right Service and port, traffic admitted on /readyz, nothing else owning the replica
    count, and a cold start allowed as long as the Deployment's own startup probe allows."""
    docs = render("scale-to-zero")
    deployments = by_kind(docs, "Deployment")
    services = by_kind(docs, "Service")
    scaled = by_kind(docs, "HTTPScaledObject")
    assert set(scaled) == {"facereid", "clip-service"} == set(deployments)
    assert by_kind(docs, "HorizontalPodAutoscaler") == {}  # KEDA makes its own; none to fight
    hosts: dict[str, str] = {}
    for name, obj in scaled.items():
        spec = obj["spec"]
        assert spec["replicas"]["min"] == 0, name
        assert spec["replicas"]["max"] >= 1, name
        target = spec["scaleTargetRef"]
        assert (target["apiVersion"], target["kind"]) == ("apps/v1", "Deployment"), name
        deployment = deployments[target["name"]]
        assert "replicas" not in deployment["spec"], name  # `kubectl apply` would undo a 0
        port = served_port(services[target["service"]], deployment, target["port"])
        readiness = container(deployment)["readinessProbe"]
        assert readiness["httpGet"]["path"] == "/readyz", name
        assert probe_port(readiness, deployment) == port, name
        startup = container(deployment)["startupProbe"]
        startup_budget = startup["periodSeconds"] * startup["failureThreshold"]
        assert go_seconds(spec["timeouts"]["conditionWait"]) >= startup_budget, name
        assert go_seconds(spec["timeouts"]["responseHeader"]) >= 30, name
        assert "requestRate" in spec["scalingMetric"], name  # stays active between requests
        for host in spec["hosts"]:
            hosts[host] = name
    # Each routed host is a name in the namespace that leads to the interceptor.
    for host in hosts:
        wake = services[host]
        assert wake["spec"]["type"] == "ExternalName"
        assert wake["spec"]["externalName"] == INTERCEPTOR
        assert [p["port"] for p in wake["spec"]["ports"]] == [INTERCEPTOR_PORT]
    # The face service calls CLIP through the interceptor, under CLIP's routed host.
    settings = next(d for d in docs if d["kind"] == "ConfigMap")["data"]
    clip_url = urlsplit(settings["CLIP_SERVICE_URL"])
    assert hosts[clip_url.hostname or ""] == "clip-service"
    assert clip_url.port == INTERCEPTOR_PORT


class _ComposeLoader(yaml.SafeLoader):  # type: ignore[misc]  # PyYAML has no stubs here
    """Compose's merge tags (!reset, !override) carry ordinary values."""


for _tag in ("!reset", "!override"):
    _ComposeLoader.add_constructor(
        _tag,
        lambda loader, node: (
            loader.construct_sequence(node)
            if isinstance(node, yaml.SequenceNode)
            else loader.construct_mapping(node)
            if isinstance(node, yaml.MappingNode)
            else loader.construct_scalar(node)
        ),
    )


def compose_schema() -> dict[str, Any]:
    from check_jsonschema.builtin_schemas import get_builtin_schema

    schema: dict[str, Any] = get_builtin_schema("vendor.compose-spec")
    return schema


@pytest.mark.parametrize("name", ["compose.yaml", "compose.cpu.yaml"])
def test_compose_file_validates_against_compose_spec(name: str) -> None:
    import jsonschema

    document = yaml.load((REPO_ROOT / "deploy" / name).read_text(), Loader=_ComposeLoader)
    jsonschema.validate(document, compose_schema())


def test_compose_wires_clip_and_gpus() -> None:
    import jsonschema

    compose = yaml.safe_load((REPO_ROOT / "deploy" / "compose.yaml").read_text())
    face, clip = compose["services"]["facereid"], compose["services"]["clip-service"]
    assert face["environment"]["CLIP_SERVICE_URL"] == "http://clip-service:8000"
    assert clip["environment"]["BENTOML_PORT"] == "8000"
    for service in (face, clip):
        assert "/readyz" in " ".join(service["healthcheck"]["test"])
        devices = service["deploy"]["resources"]["reservations"]["devices"]
        assert devices[0]["capabilities"] == ["gpu"]
    broken = {**compose, "services": {"facereid": {**face, "healthcheck": {"test": 5}}}}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, compose_schema())


def test_compose_shares_the_gallery_store() -> None:
    """The face service's default GALLERY_URI is the gallery-store service on its exposed port;
    the face service waits for its health check, and the galleries sit on a named volume."""
    compose = yaml.safe_load((REPO_ROOT / "deploy" / "compose.yaml").read_text())
    services = compose["services"]
    face = services["facereid"]
    default = re.fullmatch(r"\$\{GALLERY_URI:-(.+)\}", face["environment"]["GALLERY_URI"])
    assert default, face["environment"]["GALLERY_URI"]
    uri = urlsplit(default.group(1))
    store = services[uri.hostname or ""]  # KeyError: no such service
    assert str(uri.port) in store["expose"]
    assert "ports" not in store  # no auth: never published on the host
    assert face["depends_on"][uri.hostname]["condition"] == "service_healthy"
    assert CHROMA_IMAGE.fullmatch(store["image"]), store["image"]
    volume, path = next(v.split(":")[:2] for v in store["volumes"])
    assert volume in compose["volumes"] and path == "/data"  # a named volume at persist_path
    probe = " ".join(store["healthcheck"]["test"])
    assert f"/dev/tcp/127.0.0.1/{uri.port}" in probe and "/api/v2/heartbeat" in probe
    assert "curl" not in probe and "wget" not in probe  # the image has neither
