"""signpipe's Celery app, configured from Settings: Redis as broker and result backend.

One app per Redis URL: the worker builds one from its own settings, and a process that
only dispatches builds (and caches) one for the Redis it talks to. The pipeline task
is a shared task, so every app made here knows it.
"""

from __future__ import annotations

import concurrent.futures
import logging
import ssl
import threading
from typing import Any
from urllib.parse import parse_qs, urlsplit

from celery import Celery

from .connection import redact, redis_url
from .settings import Settings

logger = logging.getLogger(__name__)

RUN_PIPELINE_TASK = "signpipe.run_pipeline"
PIPELINE_QUEUE = "signpipe.pipeline"

# Extra time the hard limit gives the task after the soft one, to write its status.
HARD_LIMIT_GRACE = 60
# How long Celery keeps a task's result in Redis; status.json is the lasting record.
RESULT_EXPIRES = 7 * 86400
# Publishing gives up after about two seconds, so a dispatch never hangs.
PUBLISH_RETRY_POLICY = {
    "max_retries": 3,
    "interval_start": 0,
    "interval_step": 0.5,
    "interval_max": 1.0,
}


_apps_lock = threading.Lock()


class SignpipeCelery(Celery):
    """A Celery app that carries the signpipe Settings it was made from."""

    settings: Settings
    _publisher: concurrent.futures.ThreadPoolExecutor | None = None

    def publisher(self) -> concurrent.futures.ThreadPoolExecutor:
        """The one thread that publishes tasks, so Celery reuses its connections."""
        with _apps_lock:
            if self._publisher is None:
                self._publisher = concurrent.futures.ThreadPoolExecutor(
                    max_workers=1, thread_name_prefix="signpipe-dispatch"
                )
            return self._publisher

    def close(self) -> None:
        if self._publisher is not None:
            self._publisher.shutdown(wait=False, cancel_futures=True)
        super().close()


def celery_config(settings: Settings, url: str) -> dict[str, Any]:
    """Celery's settings for signpipe on the Redis at ``url``."""
    socket_options = {
        "socket_timeout": settings.redis_socket_timeout,
        "socket_connect_timeout": settings.redis_connect_timeout,
        "socket_keepalive": True,
    }
    transport_options = {
        "visibility_timeout": settings.visibility_timeout,
        # A message left by a dead worker is looked for every few seconds, so it is
        # re-delivered soon after its visibility timeout, not minutes later.
        "unacked_restore_interval": _restore_interval(settings.visibility_timeout),
        "unacked_restore_throttle": 1,
        **socket_options,
    }
    soft_limit = settings.pipeline_time_limit
    config: dict[str, Any] = {
        "broker_url": url,
        "result_backend": url,
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "result_accept_content": ["json"],
        "timezone": "UTC",
        "enable_utc": True,
        # A task is acknowledged when it ends, and given back when its worker dies.
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        # A Redis blip must not kill an hour-long run: it goes on, and its lock and
        # status.json keep a redelivered copy of its message from running it twice.
        "worker_cancel_long_running_tasks_on_connection_loss": False,
        "worker_prefetch_multiplier": 1,
        "task_default_queue": PIPELINE_QUEUE,
        "task_track_started": True,
        "task_soft_time_limit": soft_limit,
        "task_time_limit": soft_limit + HARD_LIMIT_GRACE,
        "result_expires": RESULT_EXPIRES,
        "result_extended": True,
        "broker_transport_options": transport_options,
        "result_backend_transport_options": {
            "visibility_timeout": settings.visibility_timeout,
            "retry_policy": dict(PUBLISH_RETRY_POLICY),
        },
        "redis_socket_timeout": settings.redis_socket_timeout,
        "redis_socket_connect_timeout": settings.redis_connect_timeout,
        "redis_socket_keepalive": True,
        "redis_backend_health_check_interval": 30,
        "broker_connection_timeout": settings.redis_connect_timeout,
        "broker_connection_retry_on_startup": True,
        "broker_connection_max_retries": None,
        "task_publish_retry": True,
        "task_publish_retry_policy": dict(PUBLISH_RETRY_POLICY),
        "worker_hijack_root_logger": False,
        "worker_send_task_events": False,
    }
    config.update(_ssl_options(url))
    return config


def create_app(settings: Settings, url: str | None = None) -> SignpipeCelery:
    """A new Celery app for ``settings`` (the embedded Redis unless a URL is set)."""
    # The task module registers the shared task on every app created after it.
    from . import tasks  # noqa: F401

    url = url or redis_url(settings)
    app = SignpipeCelery("signpipe", set_as_current=False)
    app.settings = settings
    app.conf.update(celery_config(settings, url))
    if settings.visibility_timeout <= settings.pipeline_time_limit:
        logger.warning(
            "visibility_timeout=%s is not longer than pipeline_time_limit=%s: a long "
            "run's message may be given to a second worker while it runs",
            settings.visibility_timeout,
            settings.pipeline_time_limit,
        )
    logger.debug("Celery app for %s", redact(url))
    return app


_apps: dict[tuple[Any, ...], SignpipeCelery] = {}


def app_for(settings: Settings) -> SignpipeCelery:
    """The cached app for these settings' Redis, for dispatching from this process."""
    url = redis_url(settings)
    key = (
        url,
        settings.visibility_timeout,
        settings.pipeline_time_limit,
        settings.redis_socket_timeout,
        settings.redis_connect_timeout,
    )
    with _apps_lock:
        app = _apps.get(key)
        if app is None:
            app = _apps[key] = create_app(settings, url)
        return app


def forget_apps() -> None:
    """Close and drop the cached apps (after the Redis settings changed)."""
    with _apps_lock:
        apps = list(_apps.values())
        _apps.clear()
    for app in apps:
        app.close()


def _restore_interval(visibility_timeout: int) -> int:
    return int(min(60, max(1, visibility_timeout // 5)))


def _ssl_options(url: str) -> dict[str, Any]:
    """TLS options for a rediss:// URL that does not say how to check certificates.

    Celery refuses a rediss:// URL without ``ssl_cert_reqs``; the safe default is to
    require a valid certificate, as a browser would.
    """
    parts = urlsplit(url)
    if parts.scheme != "rediss" or "ssl_cert_reqs" in parse_qs(parts.query):
        return {}
    options = {"ssl_cert_reqs": ssl.CERT_REQUIRED}
    return {"broker_use_ssl": options, "redis_backend_use_ssl": dict(options)}
