"""Churn alerts: the distance-to-churn SQL (given/expect), the notifier against a real SMTP server
on 127.0.0.1, the cooldown and idempotent re-runs, SNS request shapes, and bad settings."""

import email
from datetime import date, datetime, timedelta

import pytest
from test_churn import orders_warehouse

from rfmkit import alerts, backends
from rfmkit.alerts.notify import MailSink, Message, NotifyError, SmtpNotifier, SnsNotifier
from rfmkit.warehouse.duckdb import DuckDBWarehouse

AS_OF = date(2020, 12, 31)


def purchases(customer, *days):
    return [(customer, f"{customer}{i}", d, 10, True) for i, d in enumerate(days)]


# Gaps after the first purchase (customers with a second one): 10, 10, 20, 30, 40, 100 days
# → 95th percentile 85 days (interpolated). After the second purchase: m's 200-day gap only.
ORDERS = [*purchases("g1", "2020-01-01", "2020-01-11"), *purchases("g2", "2020-01-01", "2020-01-21"),
          *purchases("g3", "2020-01-01", "2020-01-31"), *purchases("g4", "2020-01-01", "2020-02-10"),
          *purchases("g5", "2020-01-01", "2020-04-10"),
          *purchases("m", "2020-01-01", "2020-01-11", "2020-07-29"),   # own longest gap 200 days
          ("one", "one0", "2020-10-20", 10, True),   # 72 days ago: 72 / 85 = 0.85 → alert
          ("two", "two0", "2020-10-04", 10, True),   # 88 days: 1.04 → critical
          ("old", "old0", "2020-01-01", 10, True),   # 365 days: churned
          ("new", "new0", "2020-12-30", 10, True)]   # 1 day: active


def alerts_warehouse(orders=ORDERS, as_of=AS_OF, p_alive=None):
    warehouse = orders_warehouse(orders)
    warehouse.run_file("110_customer_value.sql")
    customers = sorted({row[0] for row in orders})
    for rank, customer in enumerate(customers):
        alive = (p_alive or {}).get(customer, 0.9)
        clv = 100.0 + rank
        warehouse.execute(
            "INSERT INTO customer_value VALUES (:c, 0, 0, 0, :p, 0, 0, 0, 50, :clv, :var, :risk, 0, "
            "'MBG/NBD + Gamma-Gamma', 'days', 12, CAST(:as_of AS DATE))",
            {"c": customer, "p": alive, "clv": clv, "var": clv * (1 - alive), "risk": 1 - alive,
             "as_of": as_of.isoformat()})
    return warehouse


def test_116_distance_to_churn_given_expect():
    with alerts_warehouse(p_alive={"new": 0.2, "g1": 0.1}) as warehouse:
        table = alerts.alert_list(warehouse, alerts.AlertSettings()).set_index("customer_id")
    assert table.loc["one", "p95_gap_days"] == pytest.approx(85.0)
    assert table.loc["one", ["days_since_last", "status"]].tolist() == [72, "alert"]
    assert table.loc["two", "status"] == "critical" and table.loc["old", "status"] == "churned"
    assert table.loc["new", "status"] == "active"
    # m: three purchases; the norm after the 3rd falls back to the deepest one (after the 2nd:
    # 200 days), and m's own longest gap is 200 days too; 155 days since → 0.775 → active
    assert table.loc["m", ["critical_gap_days", "days_since_last", "status"]].tolist() == [200.0, 155, "active"]
    # g1: two purchases, own longest gap 10 but the norm after the 2nd purchase (200) rules;
    # 355 days since → churned: left to win-back, even with a low P(alive)
    assert table.loc["g1", ["critical_gap_days", "status"]].tolist() == [200.0, "churned"]
    contact = table[table["needs_contact"]]
    assert set(contact.index) == {"one", "two", "new"}  # 'new' by its P(alive)
    assert contact.loc["new", "reason"] == "low P(alive)"
    assert list(contact.sort_values("value_rank").index) == ["new", "two", "one"]  # value at risk


def test_alert_settings_are_checked():
    for settings, message in [
        (alerts.AlertSettings(alert_ratio=1.1), "alert ≤ critical ≤ churned"),
        (alerts.AlertSettings(p_alive_threshold=0), "p_alive_threshold=0"),
        (alerts.AlertSettings(recipients={"vip": ["a@b.c"]}), "unknown list"),
        (alerts.AlertSettings(recipients={"alert": "crm@example.com"}), "a list of e-mail"),
        (alerts.AlertSettings(max_per_message=0), "max_per_message=0"),
    ]:
        with pytest.raises(ValueError, match=message):
            settings.check()


def test_without_customer_value_the_error_says_which_notebook(tmp_path):
    with DuckDBWarehouse(":memory:") as warehouse, pytest.raises(ValueError, match="notebook 05"):
        alerts.alert_list(warehouse, alerts.AlertSettings())


def mails(folder):
    return [email.message_from_bytes(p.read_bytes()) for p in sorted(folder.glob("*.eml"))]


def test_send_cooldown_and_idempotent_reruns_against_a_real_smtp_server(tmp_path):
    kit = backends.for_run("local", run_dir=tmp_path / "run")
    settings = alerts.AlertSettings(cooldown_days=14, max_per_message=1)
    now = datetime(2021, 1, 1, 7, 0)
    with alerts_warehouse() as warehouse:
        first = alerts.run_alerts(warehouse, kit, settings, send=True, now=now)
        # one per list: 'two' is critical; 'one' (alert) - the most value at risk of its list
        assert sorted(first.sent["customer_id"]) == ["one", "two"] and first.channel == "smtp"
        received = mails(tmp_path / "run" / "mail")
        assert len(received) == 2
        assert {m["X-Rfmkit-List"] for m in received} == {"alert", "critical"}
        assert {m["Message-ID"] for m in received} == set(first.sent["message_id"])
        critical = next(m for m in received if m["X-Rfmkit-List"] == "critical")
        assert critical["To"] == "retention-lead@example.com"
        parts = {p.get_content_type(): p.get_payload(decode=True).decode() for p in critical.walk()
                 if not p.is_multipart()}
        assert "two" in parts["text/plain"] and "<table" in parts["text/html"]
        audit = warehouse.query("SELECT * FROM notification_audit ORDER BY customer_id")
        assert list(audit["customer_id"]) == ["one", "two"]
        assert set(audit["channel"]) == {"smtp"} and audit["reason"].str.contains("days since").all()

        # the same day's data again (a re-run, a second cron call): nothing is sent
        again = alerts.run_alerts(warehouse, kit, settings, send=True, now=now + timedelta(hours=1))
        assert again.sent.empty and again.already_sent == ["alert", "critical"]
        assert len(mails(tmp_path / "run" / "mail")) == 2

        # new data a week later: the cooldown keeps 'one' and 'two' out; m is now overdue
        # (161 days / 200 = 0.805) and is the only one sent
        warehouse.execute("UPDATE customer_value SET calibration_end = CAST('2021-01-07' AS DATE)")
        week = alerts.run_alerts(warehouse, kit, settings, send=True, now=now + timedelta(days=7))
        assert week.in_cooldown == 2 and list(week.sent["customer_id"]) == ["m"]

        # after the cooldown 'one' and 'two' may be alerted again; m (sent a week ago) may not
        warehouse.execute("UPDATE customer_value SET calibration_end = CAST('2021-01-20' AS DATE)")
        later = alerts.run_alerts(warehouse, kit, settings, send=True, now=now + timedelta(days=20))
        assert later.in_cooldown == 1 and "m" not in set(later.sent["customer_id"])
        assert not later.sent.empty
        assert warehouse.row_count("notification_audit") == 3 + len(later.sent)


def test_without_send_the_messages_are_written_and_nothing_is_recorded(tmp_path):
    kit = backends.for_run("local", run_dir=tmp_path / "run")
    with alerts_warehouse(orders=[*ORDERS, ("<b>x</b>", "x0", "2020-10-04", 10, True)]) as warehouse:
        run = alerts.run_alerts(warehouse, kit, alerts.AlertSettings(), send=False)
        assert run.sent.empty and warehouse.row_count("notification_audit") == 0
    assert not (tmp_path / "run" / "mail").exists()
    html = run.messages["critical"].read_text()
    assert "&lt;b&gt;x&lt;/b&gt;" in html and "<b>x</b>" not in html  # customer ids are escaped
    assert (run.messages["critical"].with_suffix(".txt")).read_text().startswith("[rfmkit] 2 customer(s)")


def test_the_mail_sink_listens_on_loopback_only(tmp_path):
    with MailSink(tmp_path) as sink:
        assert sink.host == "127.0.0.1"
        notifier = SmtpNotifier(sink.host, sink.port)
        notifier.send(Message("alert", ["a@example.com"], "subject", "text", "<p>html</p>"))
        assert len(sink.messages()) == 1
    with pytest.raises(NotifyError, match="failed"):
        SmtpNotifier("127.0.0.1", sink.port).send(Message("alert", ["a@example.com"], "s", "t", "h"))


def test_sns_publish_request_shape_and_limits():
    import boto3
    from botocore.stub import Stubber

    client = boto3.client("sns", region_name="eu-west-1", aws_access_key_id="test",
                          aws_secret_access_key="test")
    topic = "arn:aws:sns:eu-west-1:123456789012:rfmkit-alerts"
    subject = "[rfmkit] 50 customer(s) to contact (critical) – " + "x" * 120
    with Stubber(client) as stub:
        stub.add_response("publish", {"MessageId": "m-1"}, {
            "TopicArn": topic, "Subject": subject.replace("–", "?")[:96] + "...",  # ASCII, < 100
            "Message": "text",
            "MessageAttributes": {"list": {"DataType": "String", "StringValue": "critical"}}})
        notifier = SnsNotifier(client, topic)
        assert notifier.send(Message("critical", ["ignored@example.com"], subject, "text", "<p/>")) == "m-1"
        stub.assert_no_pending_responses()
    with pytest.raises(NotifyError, match="256 KB"):
        notifier.send(Message("critical", [], "s", "x" * 300_000, ""))
    with pytest.raises(NotifyError, match="AlertsTopicArn"):
        SnsNotifier(client, "")


def test_the_aws_backend_hands_out_the_sns_notifier(tmp_path):
    import boto3

    from rfmkit.backends.aws import AwsBackend
    from rfmkit.config import AwsSettings, RunConfig

    cfg = RunConfig(run_dir=tmp_path, backend="aws")
    cfg.aws = AwsSettings(region="eu-west-1", alerts_topic_arn="arn:aws:sns:eu-west-1:1:t")
    session = boto3.Session(region_name="eu-west-1", aws_access_key_id="test", aws_secret_access_key="test")
    notifier = AwsBackend(cfg, boto_session=session).notifier()
    assert isinstance(notifier, SnsNotifier) and notifier.channel == "sns"
