"""Settings, construction-time checks and plugin registration (no server needed)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from databay import plugins
from databay_celery import CeleryPlanner, Settings
from databay_celery._settings import redact


def test_settings_from_env_arguments_win_over_environment() -> None:
    env = {"DATABAY_CELERY_BROKER": "redis://envhost:6379/1", "DATABAY_CELERY_QUEUE": "q1",
           "DATABAY_CELERY_LOCK_LEASE": "12.5"}
    settings = Settings.from_env(env, queue="q2")
    assert settings.broker_url == "redis://envhost:6379/1"
    assert settings.redis_url == settings.broker_url  # Redis broker: locks live there too
    assert settings.queue == "q2"
    assert settings.lock_lease == 12.5
    assert Settings.from_env({"CELERY_BROKER_URL": "redis://b:1/0"}).broker_url == "redis://b:1/0"


def test_settings_missing_broker_says_which_variable() -> None:
    with pytest.raises(ValueError, match="DATABAY_CELERY_BROKER.*CELERY_BROKER_URL"):
        Settings.from_env({})


def test_settings_other_broker_needs_a_redis_url() -> None:
    with pytest.raises(ValueError, match="DATABAY_CELERY_REDIS"):
        Settings.from_env({"DATABAY_CELERY_BROKER": "amqp://user:secret@rabbit//"})
    settings = Settings.from_env({"DATABAY_CELERY_BROKER": "amqp://user:secret@rabbit//",
                                  "DATABAY_CELERY_REDIS": "rediss://:pw@redis:6380/0"})
    assert settings.redis_url.startswith("rediss://")


@pytest.mark.parametrize(("given", "match"), [
    ({"lock_lease": 0}, "lock_lease.*positive"),
    ({"lock_lease": 0.5}, "at least 1 second"),
    ({"poll": "fast"}, "poll.*positive"),
    ({"queue": "a queue"}, "queue"),
    ({"broker_url": "http://x"}, "unsupported URL"),
    ({"broker_url": "redis://[bad"}, r"'broker_url': invalid URL 'redis://\[bad': Invalid IPv6"),
    ({"broker_url": "redis://h:99999/0"}, "'broker_url': invalid URL.*Port out of range"),
    ({"broker_url": "redis://h/zero"}, "'broker_url'.*Redis database must be a number"),
    ({"broker_url": "sentinel://h:1;sentinel://h:x"}, "invalid URL 'sentinel://h:x'"),
    ({"redis_url": "redis://[bad"}, r"'redis_url': invalid URL"),
    ({"record_ttl": 100}, "record_ttl.*longer than visibility_timeout"),
    ({"lead": -1}, "'lead'.*from 0"),
    ({"lead": 300}, "'lead'.*below visibility_timeout"),
])
def test_settings_refuse_bad_values(given: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        Settings.from_env({"DATABAY_CELERY_BROKER": "redis://h:1/0"}, **given)


def test_bad_number_in_environment_names_the_variable() -> None:
    with pytest.raises(ValueError, match="DATABAY_CELERY_RECORD_TTL.*'a day'"):
        Settings.from_env({"DATABAY_CELERY_BROKER": "redis://h/0",
                           "DATABAY_CELERY_RECORD_TTL": "a day"})


def test_credentials_never_in_reprs_or_errors() -> None:
    settings = Settings.from_env({"DATABAY_CELERY_BROKER": "redis://:s3cret@h:6379/0"})
    assert "s3cret" not in repr(settings)
    assert redact("amqp://user:s3cret@host:5672//") == "amqp://***@host:5672//"
    with pytest.raises(ValueError) as info:
        Settings.from_env({"DATABAY_CELERY_BROKER": "amqp://user:s3cret@rabbit//"})
    assert "s3cret" not in str(info.value)


@pytest.mark.parametrize(("kwargs", "error", "match"), [
    ({"role": "scheduler"}, ValueError, "role=.*worker, beat.*'scheduler'"),
    ({"pool": "prefork"}, ValueError, "pool=.*threads, solo"),
    ({"concurrency": 0}, ValueError, "concurrency=.*positive int"),
    ({"settings": {"lock_lease": -1}}, ValueError, "lock_lease"),
    ({"settings": {"leese": 3}}, TypeError, "accepts: .*lock_lease"),
    ({"standby": "yes"}, TypeError, "standby"),
    ({"pipeline": 3}, TypeError, "pipeline"),
])
def test_planner_checks_its_arguments_at_construction(kwargs: dict[str, object],
                                                      error: type[Exception],
                                                      match: str) -> None:
    with pytest.raises(error, match=match):
        CeleryPlanner(**kwargs)  # type: ignore[arg-type]


def test_planner_construction_needs_no_broker(monkeypatch: pytest.MonkeyPatch) -> None:
    # pipeline files are validated where no broker variable is set
    monkeypatch.delenv("DATABAY_CELERY_BROKER", raising=False)
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)
    planner = CeleryPlanner(role="beat", queue="pipeline-a")
    assert planner.role == "beat"
    assert not planner.runs_transfers and CeleryPlanner().runs_transfers
    with pytest.raises(ValueError, match="DATABAY_CELERY_BROKER"):
        planner.settings()


def test_registered_as_planner_through_entry_point() -> None:
    assert plugins.resolve("planner", "CeleryPlanner") is CeleryPlanner
    from databay.planners import CeleryPlanner as FromNamespace

    assert FromNamespace is CeleryPlanner


def test_plugin_loading_does_not_import_celery_or_redis() -> None:
    code = ("import sys, databay.plugins as p; p.registry('planner'); "
            "import databay_celery; from databay_celery import current_tick; "
            "print(sorted(m for m in ('celery', 'redis', 'kombu') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


def test_pipeline_file_planner_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                        ) -> None:
    from databay_celery._settings import pipeline_settings

    monkeypatch.setenv("ORDERS_QUEUE", "orders")
    path = tmp_path / "p.toml"
    path.write_text('[planner]\ntype = "CeleryPlanner"\nqueue = "${ORDERS_QUEUE}"\n'
                    'role = "beat"\nsettings = { lock_lease = 30 }\n')
    assert pipeline_settings(path) == {"queue": "orders", "lock_lease": 30}
    path.write_text('[planner]\ntype = "ApsPlanner"\nqueue = "x"\n')
    assert pipeline_settings(path) == {}
    path.write_text('[planner]\ntype = "CeleryPlanner"\nprefix = "${NOT_SET_ANYWHERE}"\n')
    with pytest.raises(ValueError, match="NOT_SET_ANYWHERE"):
        pipeline_settings(path)
