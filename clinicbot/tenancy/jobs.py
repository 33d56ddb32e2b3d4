"""The clinic service's scheduled jobs, run for every active clinic.

Each pass walks the active clinics; for each it runs the job body of
:class:`~clinicbot.services.scheduler.Jobs` built from that clinic's settings (its agenda, time
zone, reminder and quiet hours) while acting for it, so every query and every message of the
pass is that clinic's. A clinic whose job fails is logged and the others still run. The
message log's partitions and retention are one job for the whole database.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy.engine import Engine

from clinicbot.clock import Clock
from clinicbot.db.engine import session_scope
from clinicbot.db.types import utcnow
from clinicbot.gestaods.client import GestaoDSClient
from clinicbot.services.scheduler import Jobs
from clinicbot.settings import Settings
from clinicbot.tenancy.context import acting_for
from clinicbot.tenancy.registry import ClinicConfig, active_clinics

logger = logging.getLogger(__name__)


class ClinicJobs:
    """The same job methods as :class:`Jobs`, each run once per active clinic."""

    def __init__(
        self,
        settings: Settings,
        *,
        engine: Engine,
        clock: Clock = utcnow,
        make_agenda: Callable[[Settings], GestaoDSClient] = GestaoDSClient.from_settings,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.clock = clock
        self._make_agenda = make_agenda
        self._jobs: dict[int, tuple[ClinicConfig, Jobs]] = {}
        self._shared = Jobs(settings, engine=engine, agenda=make_agenda(settings), clock=clock)

    def clinics(self) -> list[ClinicConfig]:
        with session_scope(self.engine) as session:
            return active_clinics(session, self.settings)

    def jobs_for(self, clinic: ClinicConfig) -> Jobs:
        """The clinic's job bodies, rebuilt when its configuration changed."""
        known = self._jobs.get(clinic.id)
        if known is not None and known[0] == clinic:
            return known[1]
        if clinic.is_default:
            jobs = self._shared
        else:
            settings = clinic.settings(self.settings)
            agenda = self._make_agenda(settings)
            jobs = Jobs(settings, engine=self.engine, agenda=agenda, clock=self.clock)
        self._jobs[clinic.id] = (clinic, jobs)
        return jobs

    def _each(self, job: str) -> None:
        for clinic in self.clinics():
            with acting_for(clinic.id):
                try:
                    getattr(self.jobs_for(clinic), job)()
                except Exception:
                    logger.exception("%s failed for clinic %s", job, clinic.slug)

    def seed_templates(self) -> None:
        self._each("seed_templates")

    def tick(self) -> None:
        self._each("tick")

    def poll_availability(self) -> None:
        self._each("poll_availability")

    def maintain_message_log(self) -> None:
        self._shared.maintain_message_log()

    def close_idle_conversations(self) -> None:
        """Installation-wide: every clinic's conversations share the session timeout."""
        self._shared.close_idle_conversations()

    def backup(self) -> None:
        """Installation-wide: one backup holds every clinic."""
        self._shared.backup()

    def evaluate_alerts(self) -> None:
        """Each clinic's alerts, from its own rows and services, told to its own contacts
        (:meth:`~clinicbot.tenancy.registry.ClinicConfig.settings`); the backup's, of the whole
        installation, to the default clinic's."""
        self._each("evaluate_alerts")

    def check_bookings(self) -> None:
        """Each clinic's uncertain bookings, checked in its own agenda."""
        self._each("check_bookings")

    def surveys_and_exposures(self) -> None:
        """Each clinic's satisfaction surveys and A/B exposures."""
        self._each("surveys_and_exposures")
