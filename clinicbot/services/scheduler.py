"""The clinic service's scheduled jobs: notifications, waiting-list offers, availability poll,
the nightly backup, the alert checks and the uncertain bookings.

Every job only reads and writes the database (and GestãoDS), so any number of clinic-service
instances may run them at once: the services' row claiming makes each message go out once.
APScheduler's asyncio scheduler runs these synchronous jobs in the event loop's thread pool, so
they never block the Sanic server.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from datetime import datetime, timedelta, timezone
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sanic import Sanic
from sqlalchemy.engine import Engine

from clinicbot.clock import Clock
from clinicbot.db.engine import make_engine, session_scope
from clinicbot.db.partitions import drop_partitions_older_than, ensure_partitions
from clinicbot.db.types import utcnow
from clinicbot.gestaods.client import GestaoDSClient
from clinicbot.gestaods.errors import GestaoDSError
from clinicbot.messages import ab_tests
from clinicbot.messages.satisfaction import FeedbackPolicy, ask_due
from clinicbot.messages.store import seed as seed_templates
from clinicbot.services import api_log, lifecycle
from clinicbot.services.alerts.evaluator import AlertEvaluator
from clinicbot.services.backups.runner import BackupRunner
from clinicbot.services.backups.schedule import backup_trigger
from clinicbot.services.booking_checks import BookingChecker
from clinicbot.services.notifications.composing import APPOINTMENT_MESSAGES
from clinicbot.services.notifications.dispatch import NotificationDispatcher
from clinicbot.services.notifications.policy import NotificationPolicy
from clinicbot.services.retention import purge_expired
from clinicbot.services.waiting_list import OFFER_MESSAGES, WaitingListService
from clinicbot.settings import Settings
from clinicbot.tenancy import DEFAULT_CLINIC_ID
from clinicbot.tenancy.context import current_clinic_id

logger = logging.getLogger(__name__)

PARTITIONS_AHEAD = 3  # months of conversation_messages partitions kept ready


class Jobs:
    """The job bodies, bound to one engine, agenda client and clock."""

    def __init__(
        self,
        settings: Settings,
        *,
        engine: Engine,
        agenda: GestaoDSClient,
        clock: Clock = utcnow,
    ) -> None:
        policy = NotificationPolicy.from_settings(settings)
        self.engine = engine
        self.clock = clock
        self.retention_months = settings.message_retention_months
        self.api_log_retention_days = settings.api_log_retention_days
        self.notifications = NotificationDispatcher(
            {**APPOINTMENT_MESSAGES, **OFFER_MESSAGES}, engine=engine, policy=policy, clock=clock
        )
        self.waiting_list = WaitingListService(
            agenda=agenda, engine=engine, policy=policy, clock=clock
        )
        self.backups = BackupRunner.from_settings(settings, engine=engine, clock=clock)
        self.alerts = AlertEvaluator(
            settings,
            engine=engine,
            clock=clock,
            breaker_open=lambda: bool(agenda.breaker.current_state == "open"),
        )
        self.feedback = FeedbackPolicy.from_settings(settings)
        self.booking_checker = BookingChecker.from_settings(
            settings, agenda=agenda, engine=engine, clock=clock
        )

    def seed_templates(self) -> None:
        with session_scope(self.engine) as session:
            seed_templates(session)

    def tick(self) -> None:
        """Lapse unanswered offers (passing them on), then send what is due."""
        self.waiting_list.expire_offers()
        sent = self.notifications.dispatch_due()
        if sent:
            logger.info("notifications dispatched: %s", sent)

    def surveys_and_exposures(self) -> None:
        """Ask the satisfaction surveys due; record A/B exposures WhatsApp accepted since."""
        with session_scope(self.engine) as session:
            asked = ask_due(session, self.feedback, now=self.clock())
            exposed = ab_tests.record_exposures(session)
        if asked or exposed:
            logger.info("surveys asked: %d; A/B exposures recorded: %d", asked, exposed)

    def maintain_message_log(self) -> None:
        """Create the coming months' partitions; drop messages past the retention age."""
        created = ensure_partitions(self.engine, months_ahead=PARTITIONS_AHEAD)
        result = drop_partitions_older_than(self.engine, self.retention_months)
        logger.info("message log: partitions created %s; retention %s", created, result)
        purge_expired(self.engine, self.retention_months, self.clock())
        purged = api_log.purge_old(self.engine, self.api_log_retention_days, self.clock())
        logger.info(
            "api_call_logs: %d row(s) past %d days deleted", purged, self.api_log_retention_days
        )

    def close_idle_conversations(self) -> None:
        """End the conversations idle for the Rasa session timeout (their outcome is final)."""
        closed = lifecycle.close_idle(self.engine, self.clock())
        if closed:
            logger.info("conversations closed after inactivity: %d", closed)

    def check_bookings(self) -> None:
        """Look for the bookings the agenda did not confirm; tell their patients the outcome."""
        outcomes = self.booking_checker.check_due()
        if outcomes:
            logger.info("uncertain bookings checked: %s", outcomes)

    def poll_availability(self) -> None:
        try:
            offered = self.waiting_list.poll_availability()
        except GestaoDSError as error:  # the agenda is down: the next poll tries again
            logger.warning("availability poll failed: %s", error)
            return
        if offered:
            logger.info("availability poll: %d slot(s) offered", offered)

    def backup(self) -> None:
        """The nightly backup; its result (a failure too) lands in ``backup_runs``."""
        self.backups.run()

    def evaluate_alerts(self) -> None:
        """The alerts of the clinic acted for (the default clinic when none is)."""
        result = self.alerts.evaluate(clinic_id=current_clinic_id() or DEFAULT_CLINIC_ID)
        if result.opened or result.resolved or result.failed:
            logger.info(
                "alerts: opened %s, resolved %s, notices failed %s",
                result.opened,
                result.resolved,
                result.failed,
            )


def build_scheduler(
    settings: Settings,
    jobs: Any,
    *,
    loop: asyncio.AbstractEventLoop | None = None,
) -> AsyncIOScheduler:
    """An (unstarted) scheduler running ``jobs`` (:class:`Jobs`, or
    :class:`clinicbot.tenancy.jobs.ClinicJobs` for every clinic) at the configured intervals.

    APScheduler fires on the system clock; the jobs themselves read the project clock.
    """
    scheduler = AsyncIOScheduler(event_loop=loop, timezone=timezone.utc)
    started = datetime.now(timezone.utc)
    common = {"max_instances": 1, "coalesce": True}
    scheduler.add_job(jobs.seed_templates, id="seed_templates", **common)
    scheduler.add_job(
        jobs.tick,
        "interval",
        seconds=settings.scheduler_poll_seconds,
        next_run_time=started + timedelta(seconds=1),
        id="notifications_tick",
        **common,
    )
    scheduler.add_job(
        jobs.surveys_and_exposures,
        "interval",
        seconds=max(settings.scheduler_poll_seconds, 30),
        id="surveys_and_exposures",
        **common,
    )
    scheduler.add_job(
        jobs.maintain_message_log,
        "interval",
        hours=24,
        next_run_time=started + timedelta(seconds=5),
        id="maintain_message_log",
        **common,
    )
    scheduler.add_job(
        jobs.close_idle_conversations,
        "interval",
        minutes=1,
        next_run_time=started + timedelta(seconds=2),
        id="close_idle_conversations",
        **common,
    )
    scheduler.add_job(
        jobs.check_bookings,
        "interval",
        seconds=settings.booking_check_interval_seconds,
        id="booking_checks",
        **common,
    )
    scheduler.add_job(
        jobs.poll_availability,
        "interval",
        minutes=settings.availability_poll_minutes,
        id="availability_poll",
        **common,
    )
    nightly = backup_trigger(settings)
    if nightly is not None:  # BACKUP_SCHEDULE, on the clinic's wall clock
        scheduler.add_job(jobs.backup, nightly, id="backup", misfire_grace_time=3600, **common)
    if settings.alerts_enabled:
        scheduler.add_job(
            jobs.evaluate_alerts,
            "interval",
            seconds=settings.alert_check_seconds,
            next_run_time=started + timedelta(seconds=min(10, settings.alert_check_seconds)),
            id="alerts",
            **common,
        )
    return scheduler


def install_scheduler(app: Sanic) -> None:
    """Run the jobs while the clinic service runs (unless ``SCHEDULER_ENABLED`` is off)."""
    settings: Settings = app.ctx.settings
    if not settings.scheduler_enabled:
        return

    @app.after_server_start
    async def start_scheduler(app: Sanic, loop: asyncio.AbstractEventLoop) -> None:
        # Imported here: clinicbot.tenancy.jobs builds on this module's Jobs.
        from clinicbot.tenancy.jobs import ClinicJobs

        engine = make_engine(settings.database_url)
        jobs = ClinicJobs(
            settings,
            engine=engine,
            make_agenda=functools.partial(
                GestaoDSClient.from_settings, on_call=api_log.record_api_call
            ),
        )
        app.ctx.scheduler = build_scheduler(settings, jobs, loop=loop)
        app.ctx.scheduler_engine = engine
        app.ctx.scheduler.start()

    @app.before_server_stop
    async def stop_scheduler(app: Sanic, _loop: asyncio.AbstractEventLoop) -> None:
        app.ctx.scheduler.shutdown(wait=False)
        app.ctx.scheduler_engine.dispose()
