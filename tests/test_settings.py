from __future__ import annotations

from pathlib import Path

from signpipe_gui.backend.settings import Settings


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
