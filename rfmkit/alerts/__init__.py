"""Churn alerts: who needs contacting now, ranked by value at risk, and telling someone.

`alert_list` builds the churn_alerts mart in SQL (sql/115-117: distance to churn against each
customer's own cadence, and P(alive)); `run_alerts` routes the customers who need contacting to
recipient lists, leaves out anyone alerted within the cooldown, writes one HTML and one text
message per list into the run folder, and with send=True sends them with the backend's notifier
and records every customer sent in notification_audit. A list goes out once per as_of day (a
re-run or a second cron call for the same data sends nothing), and nobody is alerted twice
within the cooldown.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

import pandas as pd

from rfmkit.alerts.notify import Message
from rfmkit.warehouse.base import Warehouse

PARAMETERS_SQL, TABLE_SQL, MODEL_SQL = ("115_alert_parameters.sql", "116_churn_alerts.sql",
                                        "117_churn_alerts_model.sql")
AUDIT_SQL = "120_notification_audit.sql"
TABLE, AUDIT = "churn_alerts", "notification_audit"
# status → recipient list
ROUTES = {"critical": "critical", "alert": "alert", "low P(alive)": "alert"}
DEFAULT_RECIPIENTS = {"critical": ["retention-lead@example.com"], "alert": ["crm-team@example.com"]}


@dataclass
class AlertSettings:
    p_alive_threshold: float = 0.5
    alert_ratio: float = 0.8
    critical_ratio: float = 1.0
    churned_ratio: float = 1.2
    cooldown_days: int = 14
    max_per_message: int = 50
    recipients: dict[str, list[str]] = field(default_factory=lambda: dict(DEFAULT_RECIPIENTS))

    def check(self) -> AlertSettings:
        if not 0 < self.p_alive_threshold < 1:
            raise ValueError(f"parameter p_alive_threshold={self.p_alive_threshold!r}: use a "
                             f"probability strictly between 0 and 1")
        if not 0 < self.alert_ratio <= self.critical_ratio <= self.churned_ratio:
            raise ValueError(f"parameters alert_ratio={self.alert_ratio}, critical_ratio="
                             f"{self.critical_ratio}, churned_ratio={self.churned_ratio}: need "
                             f"0 < alert ≤ critical ≤ churned (e.g. 0.8, 1.0, 1.2)")
        if int(self.cooldown_days) < 0 or int(self.max_per_message) < 1:
            raise ValueError(f"parameters cooldown_days={self.cooldown_days!r} (≥ 0) and "
                             f"max_per_message={self.max_per_message!r} (≥ 1)")
        unknown = set(self.recipients) - set(ROUTES.values())
        if unknown:
            raise ValueError(f"parameter recipients: unknown list(s) {sorted(unknown)}; the lists "
                             f"are {sorted(set(ROUTES.values()))}")
        for name, addresses in self.recipients.items():
            if isinstance(addresses, str) or not all("@" in a for a in addresses):
                raise ValueError(f"parameter recipients[{name!r}]={addresses!r}: a list of "
                                 f"e-mail addresses")
        return self


def alert_list(warehouse: Warehouse, settings: AlertSettings, as_of: date | None = None
               ) -> pd.DataFrame:
    """(Re)build churn_alerts for `as_of` (default: the calibration end of customer_value) and
    return every customer's row, best-ranked value at risk first."""
    if not warehouse.table_exists("customer_value"):
        raise ValueError("table customer_value not found: run notebook 05 (customer value) first")
    if as_of is None:
        as_of = pd.Timestamp(warehouse.query(
            "SELECT MAX(calibration_end) AS d FROM customer_value")["d"].iloc[0]).date()
    warehouse.run_file(PARAMETERS_SQL)
    warehouse.execute(
        "INSERT INTO alert_parameters VALUES (CAST(:as_of AS DATE), :p_alive_threshold, "
        ":alert_ratio, :critical_ratio, :churned_ratio)",
        {"as_of": as_of.isoformat(), "p_alive_threshold": float(settings.p_alive_threshold),
         "alert_ratio": float(settings.alert_ratio), "critical_ratio": float(settings.critical_ratio),
         "churned_ratio": float(settings.churned_ratio)})
    warehouse.run_file(TABLE_SQL)
    warehouse.run_file(MODEL_SQL)
    frame = warehouse.query(f"SELECT * FROM {TABLE} ORDER BY value_rank")
    frame["as_of"] = as_of
    return frame


def _why(row) -> str:
    if row.status in ("alert", "critical"):
        return (f"{row.days_since_last} days since the last purchase, "
                f"{row.overdue_ratio:.2f}× their critical gap of {row.critical_gap_days:.0f} days")
    return f"P(alive) {row.p_alive:.2f} is below the threshold"


@dataclass
class AlertRun:
    as_of: date
    table: pd.DataFrame            # every customer's distance to churn (churn_alerts)
    contacts: pd.DataFrame         # who needs contacting, after the cooldown, by list
    in_cooldown: int
    messages: dict[str, Path]      # list → the HTML file written
    sent: pd.DataFrame             # audit rows written this run (empty unless sent)
    channel: str = ""
    already_sent: list[str] = field(default_factory=list)  # lists sent before for this as_of

    def __str__(self) -> str:
        counts = self.table["status"].value_counts()
        status = ", ".join(f"{counts.get(s, 0):,} {s}" for s in ("active", "alert", "critical",
                                                                 "churned"))
        needs = int(self.table["needs_contact"].sum())
        action = (f"sent {len(self.sent):,} customer alert(s) in {self.sent['message_id'].nunique()} "
                  f"message(s) by {self.channel}" if len(self.sent) else "nothing sent")
        if self.already_sent:
            action += f"; list(s) {', '.join(self.already_sent)} already sent for {self.as_of}"
        return (f"as of {self.as_of}: {status}; {needs:,} need contacting, {self.in_cooldown:,} "
                f"of them alerted within the cooldown; {len(self.contacts):,} in this run's "
                f"messages; {action}")


def run_alerts(warehouse: Warehouse, backend, settings: AlertSettings | None = None, *,
               send: bool = False, now: datetime | None = None, notifier=None) -> AlertRun:
    """Build the list, apply the cooldown, write the messages, and (send=True) send and audit."""
    settings = (settings or AlertSettings()).check()
    now = now or datetime.now().replace(microsecond=0)
    table = alert_list(warehouse, settings)
    as_of = table["as_of"].iloc[0] if len(table) else date.today()
    warehouse.run_file(AUDIT_SQL)
    recent = set(warehouse.query(
        f"SELECT DISTINCT customer_id FROM {AUDIT} WHERE sent_at >= CAST(:since AS TIMESTAMP)",
        {"since": (now - timedelta(days=int(settings.cooldown_days))).isoformat(sep=" ")}
    )["customer_id"])
    already = set(warehouse.query(
        f"SELECT DISTINCT recipient_list FROM {AUDIT} WHERE as_of = CAST(:as_of AS DATE)",
        {"as_of": str(as_of)})["recipient_list"])
    needs = table[table["needs_contact"]].copy()
    needs["list_name"] = needs["reason"].map(ROUTES)
    needs["why"] = [_why(r) for r in needs.itertuples()]
    cooled = needs["customer_id"].isin(recent)
    open_lists = [name for name in settings.recipients if name not in already]
    fresh = needs[~cooled & needs["list_name"].isin(open_lists)]
    contacts = fresh.groupby("list_name", group_keys=False).head(int(settings.max_per_message))
    folder = backend.cfg.run_dir / "alerts" / str(as_of)
    messages = {name: _message(name, settings.recipients[name], rows, as_of, needs, settings)
                for name, rows in contacts.groupby("list_name")}
    written = {name: _write(folder, name, m) for name, m in messages.items()}
    sent = pd.DataFrame()
    channel = ""
    if send and messages:
        notifier = notifier or backend.notifier()
        channel = notifier.channel
        try:
            sent = _send_and_audit(warehouse, backend, notifier, messages, contacts, as_of, now)
        finally:
            notifier.close()
    return AlertRun(as_of, table, contacts, int(cooled.sum()), written, sent, channel,
                    sorted(already & set(settings.recipients)))


def _message(name: str, recipients: list[str], rows: pd.DataFrame, as_of: date,
             needs: pd.DataFrame, settings: AlertSettings) -> Message:
    from jinja2 import Environment, PackageLoader

    waiting = int((needs["list_name"] == name).sum())
    subject = f"[rfmkit] {len(rows)} customer(s) to contact ({name}) as of {as_of}"
    intro = (f"{waiting:,} customer(s) on the '{name}' list need contacting; these are the "
             f"{len(rows)} with the most value at risk (CLV × (1 − P(alive))) not alerted in "
             f"the last {settings.cooldown_days} days. Total value at risk here: "
             f"{rows['value_at_risk'].sum():,.2f}.")
    footer = (f"Status by days since the last purchase over the customer's critical gap: alert at "
              f"{settings.alert_ratio}×, critical at {settings.critical_ratio}×, churned at "
              f"{settings.churned_ratio}× (churned customers are left to win-back campaigns). "
              f"Sent by rfmkit; every alert is recorded in {AUDIT}.")
    context = {"subject": subject, "intro": intro, "footer": footer,
               "rows": list(rows.itertuples())}
    # customer ids and reasons are data: escaped in the HTML part, verbatim in the text part
    html, text = (Environment(loader=PackageLoader("rfmkit", "templates"), autoescape=escape)
                  for escape in (True, False))
    return Message(name, list(recipients), subject,
                   text.get_template("churn_alerts.txt.j2").render(context),
                   html.get_template("churn_alerts.html.j2").render(context))


def _write(folder: Path, name: str, message: Message) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.txt").write_text(message.text, encoding="utf-8")
    path = folder / f"{name}.html"
    path.write_text(message.html, encoding="utf-8")
    return path


def _send_and_audit(warehouse: Warehouse, backend, notifier, messages: dict[str, Message],
                    contacts: pd.DataFrame, as_of: date, now: datetime) -> pd.DataFrame:
    """Send list by list; each list's rows are audited right after its message went out, so a
    failure part-way leaves the audit true to what was sent."""
    written = []
    folder = backend.cfg.run_dir / "alerts" / str(as_of)
    for name, message in messages.items():
        message_id = notifier.send(message)
        rows = contacts[contacts["list_name"] == name]
        audit = pd.DataFrame({
            "customer_id": rows["customer_id"], "status": rows["reason"], "reason": rows["why"],
            "recipient_list": name, "channel": notifier.channel, "message_id": message_id,
            "value_at_risk": rows["value_at_risk"].astype(float), "as_of": as_of,
            "sent_at": now.isoformat(sep=" ")})
        staged = folder / f"audit-{name}-{now:%Y%m%dT%H%M%S}.csv"
        audit.to_csv(staged, index=False)
        report = warehouse.load_csv(AUDIT, staged, mode="append", max_errors=0)
        if report.rows_loaded != len(audit):
            raise RuntimeError(f"{AUDIT}: {len(audit)} rows sent but {report.rows_loaded} "
                               f"recorded; see load_rejects")
        written.append(audit)
    return pd.concat(written, ignore_index=True)
