"""The local contact-center API (real uvicorn on 127.0.0.1): the token, no CORS, clean 4xx for a
client's mistakes, simulated calls with redeliveries (nothing lost, nothing doubled), and the agent's
page in Debian's chromium driven by Selenium: it renders, a call's score appears and changes while
events arrive, an offer button changes the risk, and the console stays free of errors."""

from __future__ import annotations

import json
import shutil
import time
import urllib.error
import urllib.request

import contact_center_run
import pytest

from rfmkit.contact_center import events, simulator

CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")


@pytest.fixture(scope="module")
def running(tmp_path_factory):
    setup = contact_center_run.start(tmp_path_factory.mktemp("cc-server"))
    addresses = setup.center.deploy("rfmkit-contact-center", setup.runtime)
    setup.addresses = {**addresses, "page": setup.center.page_url}
    yield setup
    contact_center_run.stop(setup)


def request(url: str, *, method: str = "GET", body: bytes | None = None, headers: dict | None = None):
    call = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(call, timeout=30) as answer:
            return answer.status, dict(answer.headers), answer.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def authorised(running) -> dict:
    return {"Authorization": f"Bearer {running.addresses['token']}", "Content-Type": "application/json"}


def test_binds_loopback_and_records_itself_privately(running):
    assert running.addresses["api"].startswith("http://127.0.0.1:")
    assert "#token=" in running.addresses["page"]  # in the fragment: browsers never send it
    record = next((running.kit.cfg.run_dir / "serving").glob("contact-center-*.json"))
    assert record.stat().st_mode & 0o077 == 0 and str(record) == running.addresses["page address with its token"]
    assert json.loads(record.read_text())["page"] == running.addresses["page"]


def test_every_data_route_needs_the_token(running):
    api = running.addresses["api"]
    for method, path in (("GET", "/contacts"), ("GET", "/contacts/x/history"), ("POST", "/events"),
                         ("POST", "/connect/customer_lookup"), ("POST", "/contacts/x/contract")):
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": running.addresses["token"]}):
            status, _, _ = request(api + path, method=method, body=b"{}" if method == "POST" else None,
                                   headers=headers)
            assert status == 401, (method, path, headers)


def test_no_cors_and_a_locked_down_page(running):
    api = running.addresses["api"]
    status, headers, _ = request(api + "/contacts", headers={**authorised(running), "Origin": "https://evil.example"})
    assert status == 200 and not any(h.lower().startswith("access-control-") for h in headers)
    status, headers, _ = request(api + "/contacts", method="OPTIONS",
                                 headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"})
    assert status == 405 and not any(h.lower().startswith("access-control-") for h in headers)
    status, headers, page = request(api + "/agent")
    assert status == 200 and "script-src 'nonce-" in headers["content-security-policy"]
    assert running.addresses["token"].encode() not in page and b"<script src" not in page


@pytest.mark.parametrize("method, path, body", [
    ("POST", "/events", b"{not json"), ("POST", "/events", b"[]"), ("POST", "/events", b""),
    ("POST", "/events", json.dumps({"detail-type": "Something Else", "source": "aws.connect"}).encode()),
    ("POST", "/events", json.dumps(events.sentiment_event("nobody", "negative")).encode()),
    ("POST", "/events", b"\xff\xfe\x00"), ("POST", "/events", b"{" * 100_000),
    ("POST", "/events", b"[" * 100_000 + b"]" * 100_000),
    ("POST", "/contacts/x/contract", b"[" * 100_000 + b"]" * 100_000),
    ("POST", "/events", b'{"a": "' + b"x" * 300_000 + b'"}'),
    ("POST", "/connect/nothing", b"{}"), ("POST", "/connect/customer_lookup", b"{not json"),
    ("POST", "/contacts/nobody/contract", b'{"months": 12}'),
    ("POST", "/contacts/bad%2Fid/contract", b'{"months": 12}'),
    ("GET", "/contacts/nobody/history", None), ("DELETE", "/contacts", None)])
def test_a_clients_mistake_is_a_4xx_with_a_reason(running, method, path, body):
    status, _, answer = request(running.addresses["api"] + path, method=method, body=body,
                                headers=authorised(running))
    assert 400 <= status < 500, (status, answer[:200])
    if status != 405:
        assert json.loads(answer).get("error") or json.loads(answer).get("detail")


def test_a_bad_contact_flow_event_is_a_clean_not_found(running):
    status, _, answer = request(running.addresses["api"] + "/connect/customer_lookup", method="POST",
                                body=b'{"Details": 5}', headers=authorised(running))
    assert status == 200 and json.loads(answer)["found"] == "false"


def test_simulated_calls_lose_nothing_and_predict_once_per_event(running):
    plans = simulator.plan_calls(list(running.profiles.index), 4, events_per_call=5, seed=3, offer_share=1.0)
    result = simulator.simulate(running.center.api_client, plans, rate=20, redeliver_share=0.5, seed=3)
    assert result.lost == 0 and result.duplicated == 0 and result.redelivered > 0
    assert len(result.latencies_ms) == 20 and all(call["ended"] for call in result.calls)
    trajectories = result.trajectories()
    per_call = trajectories.groupby("contact_id")["event"].apply(list)
    for sequence in per_call:  # call started, 5 sentiment scores with one offer among them
        assert sequence[0] == "call started" and sequence.count("sentiment") == 5
        assert sequence.count("contract offer") == 1 and len(sequence) == 7
    assert result.summary().startswith("4 calls, 20 sentiment events")
    effects = result.effects().set_index("event")
    assert effects["events"].sum() == len(trajectories) - 4  # every score but each call's first
    assert effects.loc["contract offer", "events"] == 4 and set(effects.index) <= {
        "positive", "neutral", "negative", "contract offer"}


def test_the_simulator_refuses_impossible_plans(running):
    with pytest.raises(simulator.SimulationError, match="customers"):
        simulator.plan_calls(["+12015550100"], 2)
    with pytest.raises(simulator.SimulationError, match="events_per_call"):
        simulator.plan_calls(["+12015550100"], 1, events_per_call=0)
    with pytest.raises(simulator.SimulationError, match="rate"):
        simulator.simulate(running.center.api_client, [], rate=0)


# -- the agent's page in a real browser ---------------------------------------------------------
@pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER), reason="Debian's chromium and chromium-driver are not "
                    "installed (apt-get install chromium chromium-driver; .ci/run does it as root)")
def test_agent_page_in_chromium_updates_live_and_offers_change_the_risk(running, tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    phone = running.prepared.profiles.sort_values("churn_risk").iloc[10]["phone"]
    profile = running.profiles.loc[phone]
    api = running.center.api_client()
    api.lookup(events.contact_flow_event("browser-call", phone))

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 f"--user-data-dir={tmp_path / 'profile'}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        driver.get(running.addresses["page"] + "&contact=browser-call")
        wait = WebDriverWait(driver, 30)

        def text(element_id: str) -> str:
            return driver.find_element(By.ID, element_id).text

        wait.until(lambda _: text("customer-name") == f"{profile['first_name']} {profile['last_name']}")
        assert text("score-count") == "1" and text("churn-score").endswith("%")
        first_score = text("churn-score")

        for _ in range(4):
            api.send(events.sentiment_event("browser-call", "negative"))
        wait.until(lambda _: text("score-count") == "5")
        assert text("count-negative") == "4" and text("current-sentiment") == "negative"
        assert text("churn-score") != first_score  # four angry moments move the risk
        points = driver.find_element(By.ID, "trajectory").get_attribute("points").split()
        assert len(points) == 5

        before = text("churn-score")
        driver.find_element(By.ID, "offer-36").click()
        wait.until(lambda _: "36-month extension" in text("offer-result"))
        wait.until(lambda _: text("score-count") == "6")
        assert float(text("contract")) == profile["contract_months"] + 36 and text("churn-score") != before
        assert before in text("offer-result")

        api.send(events.disconnected_event("browser-call"))
        wait.until(lambda _: text("call-state") == "call ended")
        time.sleep(0.6)  # one more poll after the call ended
        problems = [entry for entry in driver.get_log("browser") if entry["level"] in ("SEVERE", "WARNING")]
        assert not problems, problems
    finally:
        driver.quit()
        api.close()


@pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER), reason="Debian's chromium and chromium-driver are not installed")
def test_the_page_says_so_when_the_token_is_wrong(running, tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", f"--user-data-dir={tmp_path / 'profile'}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        driver.get(running.addresses["api"] + "/agent#token=wrong")
        WebDriverWait(driver, 30).until(
            lambda d: "missing or wrong token" in d.find_element(By.ID, "status").text)
    finally:
        driver.quit()


def test_notebook_99_stops_the_api_process(running, tmp_path):
    from rfmkit import cleanup
    from rfmkit.config import RunConfig
    from rfmkit.contact_center.local import LocalContactCenter

    center = LocalContactCenter(tmp_path)
    api = center.deploy("rfmkit-contact-center", running.runtime)["api"]
    process = center.process
    done = cleanup.local(RunConfig(run_dir=tmp_path), progress=lambda _: None).frame()
    outcomes = dict(zip(done["what"], done["outcome"], strict=True))
    assert outcomes[f"contact-center API {api} (process {process.pid})"] == "stopped"
    assert process.wait(timeout=30) is not None and not list((tmp_path / "serving").glob("contact-center-*"))
    again = cleanup.local(RunConfig(run_dir=tmp_path), progress=lambda _: None).frame()
    assert list(again["outcome"])[0] == "none running"
    center.close()  # already stopped: nothing to do, no error
