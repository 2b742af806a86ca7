"""``databay run`` and ``databay validate`` never print a secret, even one a careless
plugin or driver puts into an error, a log line or a traceback: the command's output goes
through databay.redact (log lines, status lines, errors, tracebacks with --debug)."""

from __future__ import annotations

from pathlib import Path

from _cli_support import cli_env, databay

S = "S3NT-cli-q7x9Z"

#: A careless plugin: its errors and a driver's log lines carry credentials.
CARELESS = '''
import logging
from databay import Inlet, Outlet

DRIVER = logging.getLogger("somedriver.connection")


class LeakyInlet(Inlet):
    def __init__(self, url, headers=None, metadata=None):
        super().__init__(metadata)
        if not isinstance(headers, dict):
            raise TypeError(f"headers must be a dict, got {headers!r}")
        self.url = url
        self.headers = headers

    def pull(self, update):
        DRIVER.warning("GET %s with %s", self.url, self.headers)
        raise ConnectionError(f"GET {self.url} failed; server said: Authorization: "
                              f"Bearer {self.headers['Authorization'].split()[-1]}")


class LeakyOutlet(Outlet):
    def __init__(self, uri, processors=None):
        super().__init__(processors)
        self.uri = uri

    def on_start(self):
        raise OSError(f"cannot connect to {self.uri}")

    def push(self, records, update):
        pass
'''

PIPELINE = f"""
[[links]]
name = "leaky"
interval = "1h"

[[links.inlets]]
type = "careless:LeakyInlet"
url = "http://127.0.0.1:9/data?page=1&access_token={S}-q"
headers = {{ Authorization = "Bearer {S}-h", Accept = "application/json" }}

[[links.outlets]]
type = "NullOutlet"
"""

STARTING = f"""
[[links]]
name = "starting"
interval = "1h"

[[links.inlets]]
type = "RandomIntInlet"

[[links.outlets]]
type = "careless:LeakyOutlet"
uri = "redis://:{S}-u@127.0.0.1:6379/0"
"""

BAD = f"""
[[links]]
name = "bad"
interval = "1h"

[[links.inlets]]
type = "careless:LeakyInlet"
url = "http://127.0.0.1:9/?token={S}-q"
headers = "Authorization: Bearer {S}-h"

[[links.outlets]]
type = "NullOutlet"
"""


def test_no_secret_in_run_or_validate_output(tmp_path: Path) -> None:
    (tmp_path / "careless.py").write_text(CARELESS)
    (tmp_path / "pipeline.toml").write_text(PIPELINE)
    (tmp_path / "starting.toml").write_text(STARTING)
    (tmp_path / "bad.toml").write_text(BAD)
    env = cli_env(pythonpath=tmp_path)
    runs = {
        "validate": databay("validate", "pipeline.toml", cwd=tmp_path, env=env),
        "run": databay("run", "pipeline.toml", "--once", cwd=tmp_path, env=env),
        "run-debug": databay("run", "pipeline.toml", "--once", "--debug", "--log-level",
                             "DEBUG", cwd=tmp_path, env=env),
        "starting": databay("run", "starting.toml", "--once", "--debug", cwd=tmp_path,
                            env=env),
        "bad": databay("validate", "bad.toml", cwd=tmp_path, env=env),
        "bad-debug": databay("run", "bad.toml", "--once", "--debug", cwd=tmp_path, env=env),
    }
    assert runs["validate"].returncode == 0, runs["validate"].stderr
    assert runs["run"].returncode == 1
    run_err = runs["run"].stderr
    assert "Authorization: Bearer ***" in run_err, run_err  # the failure line
    assert "access_token=***" in run_err  # the driver's log line and the failure line
    assert "leaky #0" in run_err  # the status line, with its error
    assert "Traceback" in runs["run-debug"].stderr
    assert runs["starting"].returncode != 0 and "redis://***@" in runs["starting"].stderr
    assert runs["bad"].returncode == 2 and "headers must be a dict" in runs["bad"].stderr
    assert "Traceback" in runs["bad-debug"].stderr
    for name, done in runs.items():
        out = done.stdout + done.stderr
        assert S not in out, f"{name} leaked: {out}"
