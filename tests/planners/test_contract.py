"""Both planners pass the planner contract of databay.testing.planners."""

from __future__ import annotations

from typing import Any

from databay import BasePlanner, Link
from databay.planners import ApsPlanner, SchedulePlanner
from databay.testing.planners import PlannerContract


class TestApsPlannerContract(PlannerContract):
    def make_planner(self, links: list[Link], **options: Any) -> BasePlanner:
        return ApsPlanner(links, threads=4, **options)


class TestSchedulePlannerContract(PlannerContract):
    def make_planner(self, links: list[Link], **options: Any) -> BasePlanner:
        return SchedulePlanner(links, threads=4, **options)
