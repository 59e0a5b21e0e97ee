"""The Celery app: named queues, late acks and bounded time (STYLE rules 26-29)."""

import os

from celery import Celery
from celery.schedules import crontab
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("recado")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.task_queues = [Queue(name) for name in ("default", "messaging", "polling", "webhooks")]
# Each task is named "<app>.<task>" and picks its queue with `queue=` on its decorator;
# a task that names none lands on "default".
app.autodiscover_tasks()

# Periodic work (celery beat). Each entry fans out to per-company tasks.
app.conf.beat_schedule = {
    "instances.poll_due_instances": {
        "task": "instances.poll_due_instances",
        "schedule": 5.0,
        "options": {"queue": "polling", "expires": 5},
    },
    # A safety net: the hook wakes a drain after every stored event; this finds events whose task was lost.
    "instances.sweep_pending_inbound": {
        "task": "instances.sweep_pending_inbound",
        "schedule": 30.0,
        "options": {"queue": "default", "expires": 30},
    },
    # The same for queued sends: a drain's task lost with the broker or a worker (messaging/outbound.py).
    "messaging.sweep_outbox": {
        "task": "messaging.sweep_outbox",
        "schedule": 30.0,
        "options": {"queue": "default", "expires": 30},
    },
    "integrations.retry_due_deliveries": {
        "task": "integrations.retry_due_deliveries",
        "schedule": 30.0,
        "options": {"queue": "webhooks", "expires": 30},
    },
    "messaging.close_inactive_conversations": {
        "task": "messaging.close_inactive_conversations",
        "schedule": 600.0,
        "options": {"queue": "default", "expires": 600},
    },
    "integrations.resume_expired_bot_pauses": {
        "task": "integrations.resume_expired_bot_pauses",
        "schedule": 60.0,
        "options": {"queue": "default", "expires": 60},
    },
    # Retention: daily, at night; each run deletes in short, bounded batches per company.
    "integrations.purge_old_webhook_history": {
        "task": "integrations.purge_old_webhook_history",
        "schedule": crontab(hour=4, minute=10),
        "options": {"queue": "default", "expires": 3600},
    },
    "instances.purge_old_inbound_events": {
        "task": "instances.purge_old_inbound_events",
        "schedule": crontab(hour=4, minute=20),
        "options": {"queue": "default", "expires": 3600},
    },
    "messaging.sweep_orphan_media": {
        "task": "messaging.sweep_orphan_media",
        "schedule": crontab(hour=4, minute=30),
        "options": {"queue": "default", "expires": 3600},
    },
}
