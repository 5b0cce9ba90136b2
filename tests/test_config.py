import json

import pytest

from rfmkit.config import ConfigError, RunConfig


def test_bad_backend_names_the_parameter(tmp_path):
    with pytest.raises(ConfigError, match="parameter backend='azure'"):
        RunConfig.resolve(backend="azure", run_dir=tmp_path)


def test_run_dir_from_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("RFMKIT_RUN_DIR", str(tmp_path / "env-run"))
    cfg = RunConfig.resolve()
    assert cfg.run_dir == (tmp_path / "env-run").resolve() and cfg.run_dir.is_dir()
    assert cfg.warehouse_path.name == "warehouse.duckdb"


def test_aws_settings_saved_by_setup_are_picked_up(tmp_path):
    cfg = RunConfig.resolve(backend="aws", run_dir=tmp_path, bucket="b", workgroup="wg", region="eu-west-1")
    cfg.save_aws_settings()
    later = RunConfig.resolve(backend="aws", run_dir=tmp_path)
    assert (later.aws.bucket, later.aws.workgroup, later.aws.region) == ("b", "wg", "eu-west-1")
    assert "password" not in json.loads((tmp_path / "aws.json").read_text())


def test_unknown_aws_setting(tmp_path):
    with pytest.raises(ConfigError, match="unknown AWS setting"):
        RunConfig.resolve(run_dir=tmp_path, colour="blue")
