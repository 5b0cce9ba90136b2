"""Stream scoring on a real Kinesis-API server on 127.0.0.1: producer limits and retries, a
consumer that restarts (even after dying between delivering and checkpointing) with nothing lost
and nothing repeated, the Lambda handler on Kinesis events, and the checkpoint stores."""

import base64
import json

import boto3
import pytest
from botocore.stub import Stubber
from exported_run import contact_center_model

from rfmkit.serving.capture import CaptureWriter, read_events
from rfmkit.serving.inference import model_fn
from rfmkit.streaming import lambda_handler
from rfmkit.streaming.checkpoints import Checkpoint, DynamoDbCheckpoints, SqliteCheckpoints
from rfmkit.streaming.demo import requests_from
from rfmkit.streaming.kinesis import (
    MAX_RECORDS_PER_PUT,
    Consumer,
    Producer,
    SimulatedCrash,
    StreamError,
    batches,
    ensure_stream,
    put_all,
    read_all,
)
from rfmkit.streaming.local_server import LocalKinesis, stop_recorded


@pytest.fixture(scope="module")
def kinesis(tmp_path_factory):
    with LocalKinesis(tmp_path_factory.mktemp("run")) as server:
        yield server


@pytest.fixture(scope="module")
def churn(tmp_path_factory):
    _, parts, path = contact_center_model(tmp_path_factory.mktemp("model"), threshold=0.4)
    model = model_fn(path)
    return model, parts.x_test[model.columns].reset_index(drop=True)


def fresh_streams(client, name: str, shards: int = 2) -> tuple[str, str]:
    ensure_stream(client, f"{name}-requests", shards)
    ensure_stream(client, f"{name}-scores", 1)
    return f"{name}-requests", f"{name}-scores"


def answers_for(client, stream: str) -> list[dict]:
    return [a for a in read_all(client, stream) if "stream" in a.get("source", {})]


def test_the_local_server_speaks_the_kinesis_api_on_loopback(kinesis):
    assert kinesis.url.startswith("http://127.0.0.1:")
    client = kinesis.client()
    arn = ensure_stream(client, "probe", 1)
    assert arn.endswith(":stream/probe")
    summary = client.describe_stream_summary(StreamName="probe")["StreamDescriptionSummary"]
    assert summary["StreamStatus"] == "ACTIVE" and summary["OpenShardCount"] == 1


def test_a_consumer_that_dies_after_delivering_loses_nothing_and_repeats_nothing(kinesis, churn, tmp_path):
    model, rows = churn
    client = kinesis.client()
    requests, scores = fresh_streams(client, "crash")
    Producer(client, requests).send(requests_from(rows.head(400)))
    checkpoints = SqliteCheckpoints(tmp_path / "checkpoints.sqlite")
    first = Consumer(client, requests, scores, model, checkpoints, batch=50).start()
    assert first.poll().read > 0
    with pytest.raises(SimulatedCrash):
        first.poll(crash_after_put=True)
    second = Consumer(client, requests, scores, model, checkpoints, batch=50).start()
    assert second.recovered > 0  # it found the answers the first one delivered unrecorded
    second.run(idle_polls=2, pause=0)
    ids = [a["request_id"] for a in answers_for(client, scores)]
    assert len(ids) == 400 and len(set(ids)) == 400
    assert all(0 <= a["churn_probability"] <= 1 for a in answers_for(client, scores))


def test_a_restarted_consumer_resumes_after_its_checkpoint(kinesis, churn, tmp_path):
    model, rows = churn
    client = kinesis.client()
    requests, scores = fresh_streams(client, "resume", shards=1)
    Producer(client, requests).send(requests_from(rows.head(120), prefix="a"))
    checkpoints = SqliteCheckpoints(tmp_path / "checkpoints.sqlite")
    assert Consumer(client, requests, scores, model, checkpoints).run(idle_polls=1, pause=0).scored == 120
    Producer(client, requests).send(requests_from(rows.iloc[120:150], prefix="b"))
    later = Consumer(client, requests, scores, model, checkpoints).run(idle_polls=1, pause=0)
    assert later.read == 30  # only the new ones
    assert len(answers_for(client, scores)) == 150


def test_checkpoints_belong_to_one_incarnation_of_a_stream(kinesis, churn, tmp_path):
    model, rows = churn
    client = kinesis.client()
    requests, scores = fresh_streams(client, "reborn", shards=1)
    checkpoints = SqliteCheckpoints(tmp_path / "checkpoints.sqlite")
    Producer(client, requests).send(requests_from(rows.head(10)))
    Consumer(client, requests, scores, model, checkpoints).run(idle_polls=1, pause=0)
    client.delete_stream(StreamName=requests)
    client.get_waiter("stream_not_exists").wait(StreamName=requests, WaiterConfig={"Delay": 0.2})
    import time

    time.sleep(1.1)  # a new creation second: a new incarnation
    ensure_stream(client, requests, 1)
    Producer(client, requests).send(requests_from(rows.head(5), prefix="new"))
    assert Consumer(client, requests, scores, model, checkpoints).run(idle_polls=1, pause=0).read == 5


def test_stream_answers_are_captured_like_endpoint_requests(kinesis, churn, tmp_path):
    model, rows = churn
    client = kinesis.client()
    requests, scores = fresh_streams(client, "captured", shards=1)
    Producer(client, requests).send(requests_from(rows.head(12), prefix="cap"))
    capture = CaptureWriter(tmp_path / "capture")
    Consumer(client, requests, scores, model, SqliteCheckpoints(tmp_path / "c.sqlite"),
             capture=capture).run(idle_polls=1, pause=0)
    capture.close()
    events = read_events(tmp_path / "capture")
    assert len(events) == 12 and set(events["endpoint"]) == {f"stream-{requests}"}
    assert sorted(events["inference_id"]) == sorted(f"cap-{n}" for n in range(12))


def test_a_malformed_record_is_answered_with_its_error_and_the_rest_are_scored(kinesis, churn, tmp_path):
    model, rows = churn
    client = kinesis.client()
    requests, scores = fresh_streams(client, "malformed", shards=1)
    good = requests_from(rows.head(3), prefix="ok")
    bad_value = {**good[0], "request_id": "bad-value", "features": {**good[0]["features"], "Day_Mins": "lots"}}
    put_all(client, requests, [{"Data": json.dumps(r).encode(), "PartitionKey": "k"} for r in good]
            + [{"Data": b"not json", "PartitionKey": "k"},
               {"Data": json.dumps(bad_value).encode(), "PartitionKey": "k"}])
    done = Consumer(client, requests, scores, model, SqliteCheckpoints(tmp_path / "c.sqlite")).run(
        idle_polls=1, pause=0)
    assert (done.read, done.scored, done.errors) == (5, 3, 2)
    errors = {a.get("request_id"): a["error"] for a in answers_for(client, scores) if "error" in a}
    assert "not a JSON object" in errors[None] and "'lots' is not a number" in errors["bad-value"]


def test_put_records_batches_stay_within_the_service_limits():
    """500 records and 5 MiB per PutRecords, 1 MiB per record: limits botocore's Stubber does
    not check."""
    small = [{"Data": b"x" * 100, "PartitionKey": "k"} for _ in range(1201)]
    assert [len(b) for b in batches(small)] == [MAX_RECORDS_PER_PUT, MAX_RECORDS_PER_PUT, 201]
    large = [{"Data": b"x" * 900_000, "PartitionKey": "k"} for _ in range(12)]
    assert all(sum(len(e["Data"]) + 1 for e in b) <= 5 * 1024 * 1024 for b in batches(large))
    assert [len(b) for b in batches(large)] == [5, 5, 2]
    with pytest.raises(StreamError, match="record 2 is 1,048,577 bytes"):
        batches([small[0], {"Data": b"x" * 1_048_576, "PartitionKey": "k"}])


def test_records_the_service_refuses_are_sent_again_and_only_they():
    client = boto3.client("kinesis", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x")
    entries = [{"Data": f"r{n}".encode(), "PartitionKey": str(n)} for n in range(3)]
    with Stubber(client) as stub:
        stub.add_response("put_records", {"FailedRecordCount": 1, "Records": [
            {"SequenceNumber": "1", "ShardId": "shardId-000000000000"},
            {"ErrorCode": "ProvisionedThroughputExceededException", "ErrorMessage": "slow down"},
            {"SequenceNumber": "3", "ShardId": "shardId-000000000000"}]},
            {"StreamName": "s", "Records": entries})
        stub.add_response("put_records", {"Records": [
            {"SequenceNumber": "2", "ShardId": "shardId-000000000000"}]},
            {"StreamName": "s", "Records": [entries[1]]})
        results = put_all(client, "s", entries, sleep=lambda _: None)
    assert [r["SequenceNumber"] for r in results] == ["1", "2", "3"]


def kinesis_event(records: list[bytes]) -> dict:
    """Lambda's Kinesis event shape (Records[].kinesis.data, base64)."""
    return {"Records": [{"eventSource": "aws:kinesis", "eventVersion": "1.0",
                         "eventSourceARN": "arn:aws:kinesis:eu-west-1:123456789012:stream/requests",
                         "kinesis": {"kinesisSchemaVersion": "1.0", "partitionKey": f"k{n}",
                                     "sequenceNumber": f"4959{n:040d}",
                                     "data": base64.b64encode(data).decode()}}
                        for n, data in enumerate(records)]}


def test_the_lambda_handler_scores_kinesis_events_with_the_same_code(kinesis, churn):
    model, rows = churn
    client = kinesis.client()
    ensure_stream(client, "lambda-scores", 1)
    records = [json.dumps(r).encode() for r in requests_from(rows.head(4), prefix="lam")] + [b"\xff"]
    assert lambda_handler.handle(kinesis_event(records), model, client, "lambda-scores") == {"batchItemFailures": []}
    written = read_all(client, "lambda-scores")
    expected = model.predict(rows.head(4))["churn_probability"].tolist()
    assert [a["churn_probability"] for a in written[:4]] == pytest.approx(expected, abs=1e-12)
    assert "error" in written[4] and written[4]["source"]["sequence"] == f"4959{4:040d}"


def test_the_lambda_handler_reports_every_record_when_its_answers_cannot_be_written(churn):
    model, rows = churn
    client = boto3.client("kinesis", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x")
    event = kinesis_event([json.dumps(r).encode() for r in requests_from(rows.head(2))])
    with Stubber(client) as stub:
        stub.add_client_error("put_records", "ProvisionedThroughputExceededException")
        result = lambda_handler.handle(event, model, client, "scores")
    sequences = [r["kinesis"]["sequenceNumber"] for r in event["Records"]]
    assert result == {"batchItemFailures": [{"itemIdentifier": s} for s in sequences]}


def test_dynamodb_checkpoints_round_trip():
    moto = pytest.importorskip("moto")
    with moto.mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="eu-west-1")
        dynamodb.create_table(TableName="checkpoints", BillingMode="PAY_PER_REQUEST",
                              AttributeDefinitions=[{"AttributeName": "consumer", "AttributeType": "S"},
                                                    {"AttributeName": "shard", "AttributeType": "S"}],
                              KeySchema=[{"AttributeName": "consumer", "KeyType": "HASH"},
                                         {"AttributeName": "shard", "KeyType": "RANGE"}])
        store = DynamoDbCheckpoints(dynamodb, "checkpoints")
        assert store.get("c", "shardId-0") == Checkpoint()
        store.save("c", "shardId-0", Checkpoint("495", {"shardId-9": "777"}))
        assert store.get("c", "shardId-0") == Checkpoint("495", {"shardId-9": "777"})


def test_notebook_99_stops_the_recorded_kinesis_server(tmp_path):
    server = LocalKinesis(tmp_path).start()
    process = server.process
    assert stop_recorded(tmp_path) == [server.url]
    process.wait(timeout=30)
    assert not list(tmp_path.glob("serving/kinesis-*.json"))
