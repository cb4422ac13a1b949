"""GET /, /healthz, /readyz, CORS and methods against real PostgreSQL and Redis."""

from concurrent.futures import ThreadPoolExecutor

from fastapi.testclient import TestClient
from redis import Redis

from app.settings import Settings
from tests.integration.conftest import sql


def current_views(redis_client: Redis, settings: Settings) -> int:
    return int(redis_client.get(settings.counter_key) or 0)


def test_root_lists_the_students_with_the_counter(
    client: TestClient, redis_client: Redis, settings: Settings
) -> None:
    before = current_views(redis_client, settings)
    response = client.get("/")
    assert response.status_code == 200
    students = response.json()
    expected = sql(settings, "SELECT id, nom, promo FROM students ORDER BY id")
    assert [(s["id"], s["nom"], s["promo"]) for s in students] == expected
    assert len(students) >= 10
    # One INCR per request, the same value on every card.
    assert {s["views"] for s in students} == {before + 1}
    assert current_views(redis_client, settings) == before + 1


def test_each_request_counts_once(client: TestClient) -> None:
    first = client.get("/").json()[0]["views"]
    second = client.get("/").json()[0]["views"]
    assert second == first + 1


def test_concurrent_requests_lose_no_increment(
    client: TestClient, redis_client: Redis, settings: Settings
) -> None:
    before = current_views(redis_client, settings)
    with ThreadPoolExecutor(max_workers=16) as pool:
        statuses = list(pool.map(lambda _: client.get("/").status_code, range(200)))
    assert statuses.count(200) == 200
    assert current_views(redis_client, settings) == before + 200


def test_health_endpoints_never_touch_the_counter(
    client: TestClient, redis_client: Redis, settings: Settings
) -> None:
    before = current_views(redis_client, settings)
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ok", "database": "up", "redis": "up"}
    assert current_views(redis_client, settings) == before


def test_cors_allows_the_frontend_origin_only(client: TestClient) -> None:
    allowed = client.get("/", headers={"Origin": "http://localhost:8080"})
    assert allowed.headers["access-control-allow-origin"] == "http://localhost:8080"
    assert "access-control-allow-credentials" not in allowed.headers
    other = client.get("/", headers={"Origin": "http://evil.example"})
    assert "access-control-allow-origin" not in other.headers
    preflight = client.options(
        "/", headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "GET"}
    )
    assert preflight.status_code == 400


def test_only_get_is_served(client: TestClient) -> None:
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        response = client.request(method, "/")
        assert response.status_code == 405, method
        assert response.json() == {"detail": "Method Not Allowed"}


def test_unknown_path_is_a_json_404(client: TestClient) -> None:
    response = client.get("/../etc/passwd")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"
