"""The deployment: production settings (check --deploy), the Docker files, and gunicorn run
with docker/gunicorn.conf.py in production mode (request log, multiprocess /metrics,
the container health check).

No Docker engine runs here, so the image is never built: the files are parsed and everything
they name (files, manage.py commands, the gunicorn config, the health URL) is checked to exist
and work.
"""
from __future__ import annotations

import http.client
import os
import re
import secrets
import shlex
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from django.core.management import get_commands
from django.db import connection
from django.urls import resolve
from dockerfile_parse import DockerfileParser
from loguru import logger
from prometheus_client.parser import text_string_to_metric_families

from content.views.health import health

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "docker-compose.yml"
DOCKERFILE = REPO / "docker" / "Dockerfile"
HOST = "songs.example.org"
# Settings whose production defaults the tests check: an inherited value must not hide them.
HARDENING = ("SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "SECURE_SSL_REDIRECT",
             "SECURE_HSTS_SECONDS", "SECURE_HSTS_INCLUDE_SUBDOMAINS", "SECURE_HSTS_PRELOAD",
             "TRUST_PROXY_HEADERS")


def production_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment of a production run: DEBUG=False, a strong key, real host names."""
    env = {key: value for key, value in os.environ.items() if key not in HARDENING}
    (tmp_path / "library" / "Songs").mkdir(parents=True, exist_ok=True)
    env.update(DEBUG="False", SECRET_KEY=secrets.token_urlsafe(50), ALLOWED_HOSTS=HOST,
               CSRF_TRUSTED_ORIGINS=f"https://{HOST}", LIBRARY_ROOT=str(tmp_path / "library"),
               SCRATCH_ROOT=str(tmp_path / "scratch"), LOG_LEVEL="INFO", **extra)
    return env


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "manage.py", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)


# --- production settings ----------------------------------------------------------------------

def test_check_deploy_passes_in_production(tmp_path):
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=production_env(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_check_deploy_fails_with_the_hardening_turned_off(tmp_path):
    env = production_env(tmp_path, SESSION_COOKIE_SECURE="False", SECURE_HSTS_SECONDS="0")
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=env)
    assert result.returncode != 0
    assert "security.W004" in result.stderr and "security.W012" in result.stderr


def test_production_without_a_secret_key_stops_with_a_clear_error(tmp_path):
    env = production_env(tmp_path)
    del env["SECRET_KEY"]
    result = manage("check", env=env)
    assert result.returncode != 0
    assert ("ImproperlyConfigured: SECRET_KEY is not set and DEBUG=False (production)"
            in result.stderr)


def test_the_secret_key_can_come_from_a_file(tmp_path):
    env = production_env(tmp_path)
    key = tmp_path / "secret_key"
    key.write_text(env.pop("SECRET_KEY"))
    result = manage("check", "--deploy", "--fail-level", "WARNING",
                    env={**env, "SECRET_KEY_FILE": str(key)})
    assert result.returncode == 0, result.stdout + result.stderr


# --- logging ----------------------------------------------------------------------------------

@pytest.mark.django_db
def test_each_request_is_logged_once_with_method_path_status_and_ms(client):
    lines: list[str] = []
    sink = logger.add(lines.append, level="INFO", format="{name}: {message}")
    try:
        client.get("/no-such-page/?q=private")
    finally:
        logger.remove(sink)
    logged = [line for line in lines if line.startswith("chmanager.request_log")]
    assert len(logged) == 1
    assert re.fullmatch(r"chmanager\.request_log: GET /no-such-page/ 404 \d+\.\dms\n", logged[0])


def test_the_log_goes_to_stdout_at_the_level_from_the_environment(tmp_path):
    code = ("import django, logging; django.setup(); from loguru import logger; "
            "logger.info('info line'); logger.warning('warning line'); "
            "logging.getLogger('django.request').warning('routed line')")
    run = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                         env={**production_env(tmp_path), "LOG_LEVEL": "WARNING",
                              "DJANGO_SETTINGS_MODULE": "chmanager.settings"}, timeout=60)
    assert run.returncode == 0, run.stderr
    assert "warning line" in run.stdout and "info line" not in run.stdout
    assert re.search(r"WARNING django\.request: routed line$", run.stdout, re.MULTILINE)


def test_logged_tracebacks_leave_out_local_values(tmp_path):
    code = ("import django; django.setup(); from loguru import logger\n"
            "def connect(app_password='s3cret-app-password'):\n"
            "    raise ConnectionError('refused' + app_password[:0])\n"
            "try:\n    connect()\nexcept ConnectionError:\n    logger.exception('sync failed')\n")
    run = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                         env={**production_env(tmp_path),
                              "DJANGO_SETTINGS_MODULE": "chmanager.settings"}, timeout=60)
    assert "ConnectionError: refused" in run.stdout
    assert "s3cret-app-password" not in run.stdout + run.stderr


# --- docker-compose.yml -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def manage_commands(service: dict) -> list[str]:
    command = service.get("command") or []
    command = shlex.split(command) if isinstance(command, str) else command
    return [command[2]] if command[:2] == ["python", "manage.py"] else []


def test_compose_has_the_services_and_the_redis_profile(compose):
    services = compose["services"]
    assert {"db", "migrate", "app", "worker", "redis", "rqworker"} <= set(services)
    assert services["redis"]["profiles"] == ["redis"] == services["rqworker"]["profiles"]
    assert not any("profiles" in services[name] for name in ("db", "migrate", "app", "worker"))
    assert services["rqworker"]["environment"]["TASKS_BACKEND"] == "rq"
    assert "db:/var/lib/postgresql/data" in services["db"]["volumes"]
    assert "db" in compose["volumes"]


def test_migrations_run_once_before_app_and_workers(compose):
    services = compose["services"]
    migrating = [name for name, service in services.items()
                 if "migrate" in manage_commands(service)]
    assert migrating == ["migrate"]
    assert services["migrate"]["restart"] == "no"
    for name in ("app", "worker", "rqworker"):
        depends = services[name]["depends_on"]
        assert depends["migrate"] == {"condition": "service_completed_successfully"}, name
        assert depends["db"] == {"condition": "service_healthy"}, name
    assert services["rqworker"]["depends_on"]["redis"] == {"condition": "service_healthy"}


def test_every_service_waited_on_has_a_healthcheck(compose):
    services = compose["services"]
    for name, service in services.items():
        for target, rule in service.get("depends_on", {}).items():
            if rule["condition"] == "service_healthy":
                assert "test" in services[target].get("healthcheck", {}), (name, target)


def test_the_manage_py_commands_compose_runs_exist(compose):
    commands = [c for service in compose["services"].values() for c in manage_commands(service)]
    assert {"migrate", "db_worker", "rqworker"} <= set(commands)
    available = get_commands()
    assert [c for c in commands if c not in available] == []


def test_the_app_runs_gunicorn_with_a_config_that_loads(compose, tmp_path):
    app = compose["services"]["app"]
    assert app["command"] == ["gunicorn", "-c", "docker/gunicorn.conf.py"]
    result = subprocess.run([sys.executable, "-m", "gunicorn", "--check-config", "-c",
                             "docker/gunicorn.conf.py"], cwd=REPO, env=production_env(tmp_path),
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_health_checks_run_a_script_that_asks_the_health_url(compose):
    app = compose["services"]["app"]
    assert app["healthcheck"]["test"] == ["CMD", "python", "docker/healthcheck.py"]
    script = (REPO / "docker/healthcheck.py").read_text()
    path = re.search(r'request\("GET", "([^"]+)"', script).group(1)
    assert resolve(path).func is health
    for name in ("migrate", "worker", "rqworker"):  # they serve no HTTP
        assert compose["services"][name]["healthcheck"] == {"disable": True}


def test_every_variable_is_documented_in_env_example():
    documented = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", (REPO / ".env.example").read_text(),
                                re.MULTILINE))
    settings_py = (REPO / "chmanager/settings.py").read_text()
    used = set(re.findall(r'env\.\w+\(\s*"([A-Z][A-Z0-9_]*)"', settings_py))
    for path in ("docker/gunicorn.conf.py", "docker/healthcheck.py"):
        used |= set(re.findall(r'environ(?:\.get\(|\[)"([A-Z][A-Z0-9_]*)"',
                               (REPO / path).read_text()))
    used |= set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", COMPOSE.read_text()))
    assert len(used) > 40
    assert sorted(used - documented) == []


@pytest.mark.skipif(subprocess.run(["docker", "compose", "version"], capture_output=True)
                    .returncode != 0 if shutil.which("docker") else True,
                    reason="the docker client here has no compose plugin (no `docker compose`)")
def test_docker_compose_config_accepts_the_file(tmp_path):
    env = {**os.environ, "POSTGRES_PASSWORD": "secret"}
    shutil.copy(REPO / ".env.example", tmp_path / ".env")
    result = subprocess.run(["docker", "compose", "--project-directory", str(tmp_path), "-f",
                             str(COMPOSE), "--profile", "redis", "config", "--quiet"],
                            env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


# --- docker/Dockerfile ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def dockerfile() -> list[dict]:
    return DockerfileParser(path=str(DOCKERFILE)).structure


def instructions(dockerfile, name: str) -> list[str]:
    return [line["value"] for line in dockerfile if line["instruction"] == name]


def test_the_image_builds_in_two_slim_stages(dockerfile):
    stages = instructions(dockerfile, "FROM")
    assert [s.split(" AS ")[1] for s in stages] == ["build", "runtime"]
    assert all(s.startswith("python:${PYTHON_VERSION}-slim") for s in stages)
    assert instructions(dockerfile, "ARG") == ["PYTHON_VERSION=3.13"]  # the README recommends it


def test_the_runtime_has_the_tools_and_runs_unprivileged(dockerfile):
    runtime = dockerfile[next(i for i, line in enumerate(dockerfile)
                              if line["instruction"] == "FROM" and "runtime" in line["value"]):]
    apt = " ".join(run for run in instructions(runtime, "RUN") if "apt-get install" in run)
    assert {"unar", "libsndfile1", "ffmpeg"} <= set(apt.split())
    assert instructions(runtime, "USER")[-1] not in ("root", "0")
    assert any("manage.py collectstatic" in run for run in instructions(runtime, "RUN"))
    assert instructions(runtime, "CMD") == ['["gunicorn", "-c", "docker/gunicorn.conf.py"]']
    assert instructions(runtime, "HEALTHCHECK")[0].endswith(
        'CMD ["python", "docker/healthcheck.py"]')


def test_the_image_gets_every_package_and_the_build_context_holds_it(dockerfile):
    sources = [source for value in instructions(dockerfile, "COPY")
               if not value.startswith("--from=") for source in value.split()[:-1]]
    assert all((REPO / source).exists() for source in sources), sources
    packages = {init.parent.name for init in REPO.glob("*/__init__.py")} - {"tests", "bench"}
    assert packages <= set(sources), "a package the app imports is missing from the image"
    ignore = (REPO / "docker/Dockerfile.dockerignore").read_text().splitlines()
    assert "*" in ignore  # everything not listed stays out of the build context
    assert [s for s in sources if f"!{s}" not in ignore] == [], "excluded from the context"


# --- gunicorn in production mode --------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def database_url() -> str:
    """The test database as a DATABASE_URL, for a server started from the test."""
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    return f"postgres://{db['USER']}{password}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"


def get(port: int, path: str, **headers: str) -> tuple[int, dict[str, str], str]:
    client = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    try:
        client.request("GET", path, headers={"Host": HOST, **headers})
        response = client.getresponse()
        return response.status, dict(response.getheaders()), response.read().decode()
    finally:
        client.close()


@pytest.fixture
def server(tmp_path, db):
    """gunicorn with docker/gunicorn.conf.py, 2 workers, production settings, on the test
    database. Yields (port, env, metrics folder, log file); stopped and waited for after."""
    port, metrics_dir, log = free_port(), tmp_path / "metrics", tmp_path / "stdout.log"
    metrics_dir.mkdir()
    (metrics_dir / "counter_1.db").write_bytes(b"left by an earlier run")
    env = production_env(tmp_path, DATABASE_URL=database_url(), METRICS_TOKEN="t0ken",
                         GUNICORN_BIND=f"127.0.0.1:{port}", WEB_CONCURRENCY="2",
                         GUNICORN_THREADS="2", PROMETHEUS_MULTIPROC_DIR=str(metrics_dir),
                         DB_CONN_MAX_AGE="0")
    with log.open("w") as out:
        process = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c",
                                    "docker/gunicorn.conf.py"], cwd=REPO, env=env, stdout=out,
                                   stderr=subprocess.PIPE, text=True)
    try:
        yield port, env, metrics_dir, log, process
    finally:
        process.terminate()
        process.communicate(timeout=60)


def wait_healthy(env: dict[str, str], process) -> None:
    """Run the container's health check until it passes (30 s at most)."""
    deadline = time.monotonic() + 30
    while True:
        check = subprocess.run([sys.executable, "docker/healthcheck.py"], cwd=REPO, env=env,
                               capture_output=True, text=True, timeout=30)
        if check.returncode == 0:
            return
        assert process.poll() is None, f"gunicorn exited: {process.communicate()[1]}"
        assert time.monotonic() < deadline, check.stdout
        time.sleep(0.3)


def scrape(port: int) -> dict[tuple[str, frozenset], float]:
    status, headers, body = get(port, "/metrics", Authorization="Bearer t0ken")
    assert status == 200, body
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(body) for s in family.samples}


def request_count(figures, view: str, status: str) -> float:
    return figures.get(("chmanager_http_request_duration_seconds_count", frozenset(
        {"view": view, "method": "GET", "status": status}.items())), 0)


def test_gunicorn_serves_production_with_one_log_line_per_request_and_shared_metrics(server):
    port, env, metrics_dir, log, process = server
    wait_healthy(env, process)
    assert not (metrics_dir / "counter_1.db").exists(), "figures of an earlier run were kept"
    for _ in range(6):
        assert get(port, "/health")[0] == 200
    status, headers, _ = get(port, "/songs/")
    assert status == 301 and headers["Location"] == f"https://{HOST}/songs/"

    # Each scrape may land on either worker; all of them see every worker's requests.
    for scrapes_before in range(4):
        figures = scrape(port)
        assert request_count(figures, "health", "200") == 7  # 6 + the health check's
        assert request_count(figures, "metrics", "200") == scrapes_before
    assert figures[("chmanager_library_songs", frozenset())] == 0
    assert len(list(metrics_dir.glob("histogram_*.db"))) >= 1

    process.terminate()
    process.communicate(timeout=60)
    lines = log.read_text().splitlines()
    health_lines = [line for line in lines
                    if re.search(r" INFO +chmanager\.request_log: GET /health 200 [\d.]+ms$",
                                 line)]
    assert len(health_lines) == 7, lines
    assert any(re.search(r"GET /songs/ 301 [\d.]+ms$", line) for line in lines)
    assert not any("HTTP/1.1" in line for line in lines), "gunicorn's access log is on too"
