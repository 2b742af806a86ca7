"""databay-http is found through the databay entry points, without importing requests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import databay_http


def test_names_resolve_through_the_registry() -> None:
    from databay.inlets import HttpInlet
    from databay.inlets.http_inlet import HttpInlet as CompatInlet
    from databay.outlets import HttpOutlet

    assert HttpInlet is CompatInlet is databay_http.HttpInlet
    assert HttpOutlet is databay_http.HttpOutlet
    from databay import plugins

    assert plugins.registry("inlet")["HttpInlet"].plugin == "http"
    info = {p.name: p for p in plugins.plugins()}["http"]
    assert info.distribution == "databay-http" and info.error is None
    assert info.provides == {"inlet": ["HttpInlet"], "outlet": ["HttpOutlet"]}


def test_loading_the_plugin_does_not_import_requests() -> None:
    code = (
        "import sys, databay.plugins as p, databay_http\n"
        "p.plugins()\n"
        "assert 'HttpInlet' in p.available('inlet')\n"
        "assert 'requests' not in sys.modules, 'requests imported too early'\n"
        "from databay.inlets import HttpInlet\n"
        "assert 'requests' in sys.modules\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_package_is_typed_and_exports_its_api() -> None:
    assert (Path(databay_http.__file__).parent / "py.typed").exists()
    assert set(databay_http.__all__) >= {"HttpInlet", "HttpOutlet", "HttpError",
                                         "HttpStatusError", "HttpDeliveryError"}
    assert "HttpInlet" in dir(databay_http)
