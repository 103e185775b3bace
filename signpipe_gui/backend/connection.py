"""Connecting to signpipe's Redis: the lab's by URL, or the embedded one."""

from __future__ import annotations

import logging

import redis

from .redis_server import ensure_embedded_redis
from .settings import Settings

logger = logging.getLogger(__name__)


def redis_url(settings: Settings) -> str:
    """The Redis URL to use, starting the embedded server when none is configured."""
    if settings.redis_url:
        return settings.redis_url
    return ensure_embedded_redis(settings.data_dir).url


def connect(settings: Settings, url: str | None = None) -> redis.Redis:
    """A client with explicit timeouts, so no call can hang on a dead server."""
    url = url or redis_url(settings)
    client = redis.Redis.from_url(
        url,
        socket_timeout=settings.redis_socket_timeout,
        socket_connect_timeout=settings.redis_connect_timeout,
        health_check_interval=30,
        decode_responses=False,
    )
    logger.debug("Redis client for %s", redact(url))
    return client


def describe(settings: Settings) -> str:
    """Words for the status bar and logs: 'embedded' or the URL without password."""
    if settings.uses_embedded_redis:
        return "embedded"
    return redact(settings.redis_url)


def redact(url: str) -> str:
    """The URL with any password replaced, safe for logs and the window.

    Read as text rather than parsed: a password holding '/' or '?' that was not
    percent-encoded makes a URL parser put part of it in the path, where it would
    be shown.
    """
    scheme, sep, rest = url.partition("://")
    credentials, at, location = rest.rpartition("@")
    if not sep or not at:
        return url.partition("?")[0]
    user = credentials.partition(":")[0] if ":" in credentials else ""
    shown = f"{user}:***" if user else "***"
    return f"{scheme}://{shown}@{location.partition('?')[0]}"
