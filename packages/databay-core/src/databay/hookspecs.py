"""Hook specifications of the ``databay`` plugin system.

A plugin is a module (or object) holding functions decorated with
:data:`databay.hookimpl`, named after the specs below. Distributions expose it through
the ``databay`` entry-point group::

    [project.entry-points.databay]
    myplugin = "databay_myplugin.plugin"

Hooks are grouped by phase. Observability hooks must be cheap and must not raise; an
exception from one is logged and does not disturb the transfer.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    import argparse

    from databay.base_planner import BasePlanner
    from databay.link import Link
    from databay.pipeline import Pipeline
    from databay.update import TransferResult, Update

__all__ = ["hookimpl", "hookspec"]

hookspec = pluggy.HookspecMarker("databay")
hookimpl = pluggy.HookimplMarker("databay")

#: What a registration hook may return for each class it provides: the class itself,
#: or a lazy reference ``"package.module:ClassName"`` imported only when first used.
Provided = Iterable[Any]


# -- Registration hooks -------------------------------------------------------------


@hookspec
def databay_register_inlets() -> Provided:
    """Return the inlet classes this plugin provides.

    Called once when the registry is built. Return classes or lazy references
    ``"module:ClassName"``; a lazy reference keeps heavy imports out of plugin loading.
    The name users import is the class name (the part after ``:``).
    """
    return ()


@hookspec
def databay_register_outlets() -> Provided:
    """Return the outlet classes this plugin provides (see :func:`databay_register_inlets`)."""
    return ()


@hookspec
def databay_register_planners() -> Provided:
    """Return the planner classes this plugin provides (see :func:`databay_register_inlets`)."""
    return ()


@hookspec
def databay_register_state_stores() -> Provided:
    """Return the checkpoint state stores (subclasses of
    :class:`databay.delivery.StateStore`) this plugin provides."""
    return ()


# -- Planner lifecycle hooks --------------------------------------------------------


@hookspec
def databay_planner_started(planner: BasePlanner) -> None:
    """Called when ``planner`` has started its links and begins scheduling."""


@hookspec
def databay_planner_stopped(planner: BasePlanner) -> None:
    """Called when ``planner`` has stopped and its links' nodes were shut down."""


@hookspec
def databay_link_start_failed(link: Link, error: BaseException) -> None:
    """Called when starting ``link`` (its nodes' ``on_start``) raised ``error``, by a
    planner or by ``databay run``. Whether the run goes on depends on the link's and the
    planner's ``ignore_exceptions``."""


# -- Command-line hooks -------------------------------------------------------------


@hookspec
def databay_cli_run_options(parser: argparse.ArgumentParser) -> None:
    """Add options to ``databay run`` and ``databay demo`` (``parser.add_argument``).

    Called each time the command line is parsed. Options should be off by default; the
    plugin's module should stay light (import heavy libraries in
    :func:`databay_cli_run_starting`, when the option is given).
    """


@hookspec
def databay_cli_run_starting(
    options: argparse.Namespace, pipeline: Pipeline, planner: BasePlanner
) -> Any:
    """Called by ``databay run`` (and ``databay demo``) once ``planner`` is made, before
    its nodes start, with the parsed command line.

    Return None, or a service for the length of the run: an object with a ``close()``
    method, called once the planner has stopped (e.g. a web server started here for the
    options added by :func:`databay_cli_run_options`). Raise
    :class:`databay.errors.DatabayError` (or ``ValueError``/``OSError``) to refuse the run:
    its message is shown and the command exits with code 2.
    """


# -- Transfer hooks -----------------------------------------------------------------


@hookspec
def databay_transfer_started(link: Link, update: Update) -> None:
    """Called when ``link`` starts the transfer identified by ``update``.

    The three transfer hooks fire once per transfer, also when a streaming pull is
    delivered in many chunks (``result`` then counts across all of them); there is no
    per-chunk hook: a chunk's pushes are visible to outlets and their processors."""


@hookspec
def databay_transfer_finished(link: Link, update: Update, result: TransferResult) -> None:
    """Called when a transfer completed. ``result`` holds the records pulled, the
    records pushed per outlet, errors that were ignored and the duration."""


@hookspec
def databay_transfer_failed(
    link: Link, update: Update, error: BaseException, result: TransferResult
) -> None:
    """Called when a transfer raised ``error``. ``result`` holds what was done before it."""
