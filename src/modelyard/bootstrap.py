"""The composition root: Settings in, wired services out. The only place adapters are chosen."""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import Engine

from modelyard.config import Settings
from modelyard.services.experiments import Experiments
from modelyard.services.projects import Projects
from modelyard.services.runs import Runs
from modelyard.stores.sql.engine import make_engine
from modelyard.stores.sql.schema import ensure_current
from modelyard.stores.sql.uow import SqlUnitOfWorkFactory


def now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(frozen=True)
class Container:
    settings: Settings
    engine: Engine
    projects: Projects
    experiments: Experiments
    runs: Runs

    def close(self) -> None:
        self.engine.dispose()


def build(settings: Settings, *, initialise: bool = True) -> Container:
    """Connect to the database and wire the services.

    Raises:
        StaleDatabase: the schema is not at this release's revision (``initialise`` creates it
            when the database is empty).
    """
    engine = make_engine(
        settings.backend_store_uri,
        pool_size=settings.db_pool_size,
        busy_timeout_ms=settings.sqlite_busy_timeout_ms,
    )
    if initialise:
        try:
            ensure_current(engine)
        except BaseException:
            engine.dispose()
            raise
    uow = SqlUnitOfWorkFactory(engine)
    return Container(
        settings=settings,
        engine=engine,
        projects=Projects(uow, now_ms),
        experiments=Experiments(uow, now_ms),
        runs=Runs(uow, now_ms),
    )
