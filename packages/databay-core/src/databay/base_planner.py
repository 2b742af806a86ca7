"""BasePlanner: the interface every planner implements, and the start/shutdown logic
they share."""

from __future__ import annotations

import atexit
import logging
import threading
import warnings
import weakref
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

from databay._validate import flag
from databay.errors import MissingLinkError
from databay.link import Link, _fire

__all__ = ["BasePlanner"]

_LOGGER = logging.getLogger("databay.BasePlanner")


class BasePlanner(ABC):
    """Schedules links. Subclasses implement the four scheduling hooks below.

    ``start()`` starts every link's nodes, runs the immediate transfers, then calls
    ``_start_planner()`` (which may block). ``shutdown()`` stops scheduling, then shuts
    the nodes down. When a link fails and ``ignore_exceptions`` is False, the error is
    logged with the link and the planner shuts down cleanly: every node that was
    started gets ``on_shutdown``.

    :param links: a Link or a list of them.
    :param ignore_exceptions: log failing transfers and go on, instead of shutting down.
    :param immediate_transfer: transfer each link once at start (if the link agrees).
    :param shutdown_at_exit: shut the planner down when the interpreter exits.
    :param catch_exceptions: deprecated alias of ``ignore_exceptions``.
    """

    def __init__(
        self,
        links: Link | Sequence[Link] | None = None,
        ignore_exceptions: bool = False,
        immediate_transfer: bool = True,
        shutdown_at_exit: bool = False,
        *,
        catch_exceptions: bool | None = None,
    ) -> None:
        owner = type(self).__name__
        if catch_exceptions is not None:
            warnings.warn(
                f"{owner}(catch_exceptions=...) is deprecated, use ignore_exceptions=...",
                DeprecationWarning, stacklevel=3,
            )
            ignore_exceptions = catch_exceptions
        self._links: list[Link] = []
        self._ignore_exceptions = flag(ignore_exceptions, owner, "ignore_exceptions")
        self.immediate_transfer = flag(immediate_transfer, owner, "immediate_transfer")
        self._shutdown_at_exit = flag(shutdown_at_exit, owner, "shutdown_at_exit")
        self._lifecycle_lock = threading.RLock()
        self._stopping = False
        if shutdown_at_exit:
            ref = weakref.ref(self)

            def _at_exit() -> None:
                planner = ref()
                if planner is not None and planner.running:
                    planner.shutdown(True)

            atexit.register(_at_exit)
        if links is not None:
            self.add_links(links)

    @property
    def links(self) -> list[Link]:
        """The links this planner schedules."""
        return self._links

    @property
    def ignore_exceptions(self) -> bool:
        return self._ignore_exceptions

    @property
    def shutdown_at_exit(self) -> bool:
        return self._shutdown_at_exit

    # -- links ----------------------------------------------------------------------

    @staticmethod
    def _as_links(links: Any) -> list[Link]:
        items = list(links) if isinstance(links, (list, tuple, set)) else [links]
        for link in items:
            if not isinstance(link, Link):
                raise TypeError(
                    f"planner links must be Link instances, got {type(link).__name__}: {link!r}"
                )
        return items

    def add_links(self, links: Link | Sequence[Link]) -> None:
        """Add and schedule links; allowed while running. A link that cannot be
        scheduled is not kept."""
        for link in self._as_links(links):
            if link in self._links:
                raise ValueError(f"{link!r} is already in this planner")
            self._links.append(link)
            try:
                self._schedule(link)
            except BaseException:
                self._links.remove(link)
                raise
            _LOGGER.info("Added link: %s", link)

    def remove_links(self, links: Link | Sequence[Link]) -> None:
        """Unschedule and remove links; allowed while running."""
        for link in self._as_links(links):
            if link not in self._links:
                raise MissingLinkError(f"{link!r} is not in this planner")
            if link.job is not None:
                self._unschedule(link)
            self._links.remove(link)

    def purge(self) -> None:
        """Unschedule and remove every link."""
        for link in list(self._links):
            if link.job is not None:
                self._unschedule(link)
            self._links.remove(link)

    # -- running --------------------------------------------------------------------

    def start(self) -> None:
        """Start the links' nodes, run the immediate transfers, then schedule (blocking
        in the built-in planners). Returns when the planner is shut down; when a link
        fails at start and exceptions are not ignored, it returns at once after a
        clean shutdown."""
        self._stopping = False
        for link in list(self._links):
            try:
                link.on_start()
            except Exception as exc:
                self._on_exception(exc, link)
                if not self._ignore_exceptions:
                    self._stop_nodes()
                    return
        if self.immediate_transfer:
            for link in list(self._links):
                if not link.immediate_transfer or self._stopping:
                    continue
                try:
                    link.transfer()
                except Exception as exc:
                    self._on_exception(exc, link)
                    if not self._ignore_exceptions:
                        self._stop_nodes()
                        return
        if self._stopping:  # shutdown() was called during the immediate transfers
            self._stop_nodes()
            return
        _fire("databay_planner_started", planner=self)
        self._start_planner()

    def shutdown(self, wait: bool = True) -> None:
        """Stop scheduling and shut down every node once. With ``wait``, transfers in
        flight finish first. Harmless when called twice or before ``start()``."""
        with self._lifecycle_lock:
            self._stopping = True
            if self.running:
                self._shutdown_planner(wait)
        self._stop_nodes()

    def _stop_nodes(self) -> None:
        for link in list(self._links):
            try:
                link.on_shutdown()
            except Exception as exc:
                _LOGGER.exception("shutting down %s raised: %s", link, exc)
        _fire("databay_planner_stopped", planner=self)

    def force_transfer(self) -> None:
        """Transfer every link now, in the calling thread."""
        for link in list(self._links):
            try:
                link.transfer()
            except Exception as exc:
                self._on_exception(exc, link)

    def _on_exception(self, exception: BaseException, link: Link | None = None) -> None:
        """Log a failure with the link it came from; shut down unless ignoring."""
        where = f" when executing {link!r}" if link is not None else ""
        _LOGGER.error("%s raised%s: %r", type(exception).__name__, where, exception,
                      exc_info=exception)
        if not self._ignore_exceptions and self.running:
            self.shutdown(wait=False)

    # -- what a planner implements ---------------------------------------------------

    @property
    @abstractmethod
    def running(self) -> bool:
        """True while the planner schedules transfers."""

    @abstractmethod
    def _schedule(self, link: Link) -> None:
        """Schedule ``link`` to transfer every ``link.interval``; call ``link.set_job``."""

    @abstractmethod
    def _unschedule(self, link: Link) -> None:
        """Stop scheduling ``link``; call ``link.set_job(None)``."""

    @abstractmethod
    def _start_planner(self) -> None:
        """Begin scheduling. The built-in planners block here until shut down."""

    @abstractmethod
    def _shutdown_planner(self, wait: bool = True) -> None:
        """Stop scheduling; with ``wait``, let running transfers finish."""
