import zipfile

import boto3
import pytest
from moto import mock_aws

from rfmkit.data import olist
from rfmkit.data.olist import OlistSourceError


def test_folder_source_finds_nested_files(small_olist, tmp_path):
    nested = tmp_path / "download" / "archive"
    nested.mkdir(parents=True)
    for path in small_olist.values():
        (nested / path.name).write_bytes(path.read_bytes())
    found = olist.acquire(str(tmp_path / "download"), tmp_path / "out")
    assert set(found) == set(olist.TABLES)


def test_folder_missing_a_file_says_which(tmp_path):
    (tmp_path / "olist_orders_dataset.csv").write_text("x")
    with pytest.raises(OlistSourceError, match="missing olist_customers_dataset.csv, olist_order_payments"):
        olist.find_files(tmp_path)


def test_kaggle_zip_is_extracted(small_olist, tmp_path):
    archive = tmp_path / "brazilian-ecommerce.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in small_olist.values():
            zf.write(path, f"olist/{path.name}")
        zf.writestr("olist_sellers_dataset.csv", "not needed")
    found = olist.acquire(str(archive), tmp_path / "out")
    assert {p.name for p in found.values()} == {s.file_name for s in olist.TABLES.values()}
    assert found["olist_orders"].read_bytes() == small_olist["olist_orders"].read_bytes()


def test_zip_without_the_files(tmp_path):
    archive = tmp_path / "other.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("readme.txt", "x")
    with pytest.raises(OlistSourceError, match="the zip has no olist_customers_dataset.csv"):
        olist.acquire(str(archive), tmp_path / "out")


def test_kaggle_without_credentials_explains(monkeypatch, tmp_path):
    for var in ("KAGGLE_USERNAME", "KAGGLE_KEY", "KAGGLE_API_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("KAGGLE_CONFIG_DIR", str(tmp_path / "nothing"))
    with pytest.raises(OlistSourceError, match="no Kaggle credentials.*kaggle.json"):
        olist.acquire("kaggle", tmp_path)


def test_unknown_source_names_the_parameter(tmp_path):
    with pytest.raises(OlistSourceError, match="parameter source='nowhere'"):
        olist.acquire("nowhere", tmp_path)


@mock_aws
def test_s3_prefix_source(small_olist, tmp_path):
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="workshop")
    for path in small_olist.values():
        s3.upload_file(str(path), "workshop", f"raw/olist/{path.name}")
    found = olist.acquire("s3://workshop/raw/olist/", tmp_path / "out")
    assert found["olist_order_payments"].read_bytes() == small_olist["olist_order_payments"].read_bytes()
    with pytest.raises(OlistSourceError, match="no olist_customers"):
        s3.delete_object(Bucket="workshop", Key="raw/olist/olist_customers_dataset.csv")
        olist.acquire("s3://workshop/raw/olist/", tmp_path / "out2")
