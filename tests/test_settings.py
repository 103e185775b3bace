from __future__ import annotations

from pathlib import Path

import pytest

from signpipe_gui.backend.settings import Settings, SettingsError, check_redis_url


def test_environment_overrides_file_overrides_defaults(tmp_path: Path) -> None:
    config = tmp_path / "settings.toml"
    config.write_text('concurrent_extractions = 4\nredis_url = "redis://file:6379/0"\n')

    settings = Settings.load(
        env={"SIGNPIPE_REDIS_URL": "redis://env:6379/1", "SIGNPIPE_RUN_WORKER": "no"},
        config_file=config,
    )

    assert settings.redis_url == "redis://env:6379/1"
    assert settings.concurrent_extractions == 4
    assert settings.run_worker is False
    assert settings.job_ttl_days == 30


def test_store_defaults_under_data_folder(tmp_path: Path) -> None:
    settings = Settings.load(
        env={"SIGNPIPE_DATA_DIR": str(tmp_path)}, config_file=tmp_path / "none.toml"
    )

    assert settings.store_path == tmp_path / "recordings"
    assert settings.uses_embedded_redis


def test_save_round_trips(tmp_path: Path) -> None:
    config = tmp_path / "cfg" / "settings.toml"
    saved = Settings(data_dir=tmp_path, store=tmp_path / "s", concurrent_extractions=3)

    saved.save(config)
    loaded = Settings.load(env={}, config_file=config)

    assert loaded.store_path == tmp_path / "s"
    assert loaded.concurrent_extractions == 3


def test_unreadable_file_falls_back_to_defaults(tmp_path: Path) -> None:
    config = tmp_path / "settings.toml"
    config.write_text("this is = = not toml")

    settings = Settings.load(env={}, config_file=config)

    assert settings.concurrent_extractions == 2


@pytest.mark.parametrize(
    "url",
    [
        "redis://:s3cret@127.0.0.1:6379/0",
        "rediss://lab:s3%2Fcret@redis.lab.example:6380/2",
        "redis://redis.lab.example",
        "unix:///run/redis/redis.sock?password=s3cret",
    ],
)
def test_usable_redis_urls_pass(url: str) -> None:
    check_redis_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "redis://:ab/cd@127.0.0.1:6379/0",  # "/" ends the host: no host is left
        "redis://:ab?cd@127.0.0.1:6379/0",
        "redis://:a#b@lab/0",
        "redis://lab:63x9/0",
        "redis://lab:6379/zero",
        "http://lab:6379/0",
        "unix://?password=s3cret",
    ],
)
def test_unusable_redis_urls_are_refused_without_showing_them(url: str) -> None:
    with pytest.raises(SettingsError) as caught:
        check_redis_url(url)
    assert "percent-encoded" in str(caught.value)
    assert url not in str(caught.value)


def test_a_number_setting_that_is_no_number_names_its_variable(tmp_path: Path) -> None:
    env = {"SIGNPIPE_CONCURRENT_EXTRACTIONS": "two", "SIGNPIPE_DATA_DIR": str(tmp_path)}
    with pytest.raises(SettingsError, match="SIGNPIPE_CONCURRENT_EXTRACTIONS"):
        Settings.load(env=env, config_file=tmp_path / "none.toml")
