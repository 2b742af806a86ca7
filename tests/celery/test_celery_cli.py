"""`databay run PIPELINE --planner celery --role beat|worker`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from _celery_support import RedisServer, process_env, processes, wait_until, write_pipeline


def test_beat_and_second_beat_through_the_databay_command(
    redis_server: RedisServer, prefix: str, workdir: Path
) -> None:
    db = workdir / "ticks.sqlite"
    pipeline = write_pipeline(workdir / "pipeline.toml", db, ["one"])
    env = process_env(redis_server.url, pipeline, prefix)
    client = redis_server.client()
    command = [sys.executable, "-m", "databay", "run", str(pipeline), "--planner", "celery",
               "--role", "beat", "--status", "lines"]
    with processes(workdir, env) as procs:
        beat = procs.spawn("beat", *command[1:])
        wait_until(lambda: client.get(f"{prefix}:last:one"), 20,
                   "the beat started by 'databay run --role beat' to publish")
        second = subprocess.run(command, env=env, cwd=workdir, capture_output=True,
                                text=True, timeout=60)
        assert beat.poll() is None, procs.dump()
    assert second.returncode == 2, second.stderr
    errors = [line for line in second.stderr.splitlines() if line.startswith("databay: error:")]
    assert len(errors) == 1 and "Traceback" not in second.stderr, second.stderr


def test_role_on_a_planner_without_roles_is_a_usage_error(workdir: Path) -> None:
    pipeline = workdir / "p.toml"
    pipeline.write_text('[planner]\ntype = "SchedulePlanner"\n\n[[links]]\nname = "a"\n'
                        'interval = "1s"\n[[links.inlets]]\ntype = "NullInlet"\n'
                        '[[links.outlets]]\ntype = "NullOutlet"\n')
    done = subprocess.run([sys.executable, "-m", "databay", "run", str(pipeline), "--role",
                           "beat"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip() == ("databay: error: --role: SchedulePlanner has no roles (only "
                                   "planners with a 'role' keyword, such as CeleryPlanner, "
                                   "take --role)")
    done = subprocess.run([sys.executable, "-m", "databay", "run", str(pipeline), "--planner",
                           "NoSuchPlanner"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "installed planners: " in done.stderr
    assert "SchedulePlanner" in done.stderr
