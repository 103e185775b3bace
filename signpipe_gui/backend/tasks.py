"""The Celery task that runs the pipeline on one recording.

The task takes only a recording id. It resolves the folder from the worker's own store
setting (workers on other machines mount the store elsewhere), and leaves every check
and the run itself to :func:`pipeline_runner.run_recording`.
"""

from __future__ import annotations

from typing import Any

import redis
from celery import Task, shared_task
from celery.utils.log import get_task_logger

from .celery_app import RUN_PIPELINE_TASK
from .connection import connect
from .pipeline_runner import PipelineFailed, PipelineInputError, RunLater, run_recording
from .settings import Settings

logger = get_task_logger(__name__)

# Redis errors that pass: the task is sent again with growing delays.
TRANSIENT_ERRORS = (redis.ConnectionError, redis.TimeoutError)
# How often a delivery waits for an earlier delivery's lock before giving up.
MAX_LOCK_WAITS = 20


@shared_task(
    bind=True,
    name=RUN_PIPELINE_TASK,
    autoretry_for=TRANSIENT_ERRORS,
    retry_backoff=2,
    retry_backoff_max=60,
    retry_jitter=True,
    max_retries=MAX_LOCK_WAITS,
    # Expected failures: reported as failed, logged without a traceback.
    throws=(PipelineInputError, PipelineFailed),
)
def run_pipeline_task(self: Task, recording_id: str) -> dict[str, Any]:
    """Run the pipeline on ``recording_id`` from this worker's store."""
    settings = worker_settings(self)
    client = connect(settings)
    try:
        result = run_recording(
            settings,
            recording_id,
            task_id=str(self.request.id),
            client=client,
            worker=self.request.hostname,
        )
    except RunLater as wait:
        logger.info(
            "Pipeline of %s waits for its earlier delivery, retry in %.0f s",
            recording_id,
            wait.countdown,
        )
        raise self.retry(countdown=wait.countdown, exc=wait) from None
    finally:
        client.close()
    return result.as_dict()


def worker_settings(task: Task) -> Settings:
    """The Settings of the app running ``task`` (the worker's own), else loaded."""
    settings = getattr(task.app, "settings", None)
    if isinstance(settings, Settings):
        return settings
    return Settings.load()
