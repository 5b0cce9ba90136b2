"""The offline HTML dashboard: what it draws from the exports, that it needs nothing from the
network, and (where Debian's chromium is installed) that a real browser renders every chart without
errors and that the segment filter works."""

import json
import re
import shutil
import subprocess
import sys

import exported_run
import numpy as np
import pandas as pd
import pytest

from rfmkit import backends, dashboard, marts
from rfmkit.config import RunConfig
from rfmkit.warehouse.duckdb import DuckDBWarehouse

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed "
                                                              "(apt-get install chromium; .ci/run does it as root)")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    cfg, warehouse = exported_run.build(tmp_path_factory.mktemp("dashboard") / "run")
    warehouse.close()
    return cfg


@pytest.fixture(scope="module")
def page(run):
    return dashboard.write(run)


def payload(html: str) -> dict:
    found = re.search(r'<script type="application/json" id="payload">(.*?)</script>', html, re.S)
    return json.loads(found.group(1))


def values(array) -> np.ndarray:
    """A plotly array: a plain list, or plotly 6's typed array ({"dtype", "bdata": base64})."""
    if isinstance(array, dict):
        import base64

        return np.frombuffer(base64.b64decode(array["bdata"]), dtype=array["dtype"])
    return np.asarray(array)


def test_self_contained_no_network_and_every_panel_present(page):
    html = page.read_text(encoding="utf-8")
    assert page.name == "dashboard.html"
    assert not re.search(r"<script[^>]+src=|<link[^>]+href=|@import|url\(https?:", html), "fetches something"
    figures = payload(html)["figures"]
    assert set(figures) == {"segment-sizes", "segment-revenue", "rfm-scatter", "churn-risk", "revenue-at-risk",
                            "cluster-profiles", "cluster-segments"}
    for key in figures:
        assert f'id="{key}"' in html
    # the log spend axis labels one tick per power of ten, with no unlabelled minor ticks
    spend_axis = figures["rfm-scatter"]["layout"]["yaxis"]
    assert spend_axis["type"] == "log" and spend_axis["dtick"] == 1 and spend_axis["tickformat"] == ",.0f"


def test_numbers_match_the_exports(run, page):
    scores = pd.read_csv(run.exports_dir / "customer_scores_000.csv")
    data = payload(page.read_text(encoding="utf-8"))
    table = pd.DataFrame(data["segments"]).set_index("segment")
    expected = scores.groupby("segment").agg(customers=("customer_id", "size"), revenue=("monetary", "sum"),
                                             revenue_at_risk=("revenue_at_risk", "sum"))
    pd.testing.assert_frame_equal(table[expected.columns].sort_index(), expected.sort_index(), check_dtype=False)
    sizes = data["figures"]["segment-sizes"]["data"]
    assert {t["legendgroup"]: t["y"][0] for t in sizes} == expected["customers"].to_dict()
    assert list(table.index[:2]) == ["Champions", "Loyal"]  # best segments first
    risk = {t["legendgroup"]: t for t in data["figures"]["churn-risk"]["data"]}
    lost = scores.loc[scores["segment"] == "Lost", "churn_probability"]
    assert risk["Lost"]["median"][0] == pytest.approx(lost.median())
    scatter = data["figures"]["rfm-scatter"]["data"]
    assert sum(len(values(t["x"])) for t in scatter) == min(len(scores), sum(
        min(n, dashboard.SCATTER_PER_SEGMENT) for n in expected["customers"]))
    lost_points = values(next(t for t in scatter if t["legendgroup"] == "Lost")["x"])
    assert set(lost_points) <= set(scores.loc[scores["segment"] == "Lost", "recency_days"])


def test_unapproved_scores_are_said_and_a_partial_run_still_draws(run, tmp_path):
    html = dashboard.render(dashboard.load(run))
    assert "not approved for production" in html
    partial = RunConfig(run_dir=tmp_path / "partial")  # what notebook 02 leaves: scores and summary
    with DuckDBWarehouse() as wh:
        wh.run_file("000_load_audit.sql")
        wh.execute(exported_run.RFM_DDL)
        wh.load_csv("rfm_scores", run.exports_dir / "rfm_scores_000.csv")
        kit = backends.get(partial)
        kit.exporter().export(wh, "rfm_scores", order_by="customer_id")
        marts.segment_summary(wh, kit)
    data = dashboard.load(partial)
    assert not data.has_churn and not data.has_clusters
    html = dashboard.render(data)
    assert set(payload(html)["figures"]) == {"segment-sizes", "segment-revenue", "rfm-scatter"}
    assert "run notebook 06" in html and "run notebook 03" in html
    with pytest.raises(dashboard.DashboardError, match="no rfm_scores export .* run notebook 02"):
        dashboard.load(RunConfig(run_dir=tmp_path / "empty"))


def test_command_line_writes_it(run, tmp_path):
    out = tmp_path / "d.html"
    done = subprocess.run([sys.executable, "-m", "rfmkit", "dashboard", "--run-dir", str(run.run_dir),
                           "--out", str(out)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert "works offline" in done.stdout and out.stat().st_size > 1_000_000
    missing = subprocess.run([sys.executable, "-m", "rfmkit", "dashboard", "--run-dir", str(tmp_path / "no")],
                             capture_output=True, text=True, check=False)
    assert missing.returncode == 2 and "no such run folder" in missing.stderr


# -- in a real browser -----------------------------------------------------------------------------
def chromium(url: str, tmp_path, *extra: str) -> subprocess.CompletedProcess:
    profile = tmp_path / f"profile-{len(list(tmp_path.iterdir()))}"
    command = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0",
               "--virtual-time-budget=20000", "--window-size=1366,2400", *extra, url]
    return subprocess.run(command, capture_output=True, text=True, timeout=900, check=False)


def body_tag(dom: str) -> str:
    return re.search(r"<body[^>]*>", dom).group(0)


def console_errors(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "CONSOLE" in line and ("Uncaught" in line or "Error" in line)]


@needs_chromium
def test_chromium_renders_every_chart_without_errors(page, tmp_path):
    done = chromium(page.as_uri(), tmp_path, "--dump-dom")
    dom = done.stdout
    assert 'data-rendered="7"' in body_tag(dom), done.stderr[-2000:]
    assert "data-errors" not in body_tag(dom) and not console_errors(done.stderr)
    assert dom.count('class="main-svg"') >= 7  # plotly drew an SVG in every chart
    assert re.search(r'id="kpi-customers">600<', dom)

    shot = tmp_path / "dashboard.png"
    done = chromium(page.as_uri(), tmp_path, f"--screenshot={shot}")
    from PIL import Image

    image = np.asarray(Image.open(shot).convert("RGB"), dtype=float)
    assert image.shape[:2] == (2400, 1366)
    colours = {tuple(c) for c in image[::8, ::8].reshape(-1, 3)}
    assert image.std() > 20 and len(colours) > 200, "the screenshot is (nearly) blank"


@needs_chromium
def test_chromium_segment_filter_updates_figures_table_and_charts(run, page, tmp_path):
    scores = pd.read_csv(run.exports_dir / "customer_scores_000.csv")
    chosen = ["Lost", "Champions"]
    dom = chromium(page.as_uri() + "#segments=" + ",".join(chosen), tmp_path, "--dump-dom").stdout
    expected = int(scores["segment"].isin(chosen).sum())
    assert re.search(rf'id="kpi-customers">{expected:,}<', dom)
    hidden = re.findall(r'<tr data-segment="([^"]+)" style="display: none;">', dom)
    assert sorted(hidden) == sorted(set(scores["segment"]) - set(chosen))
    # the cluster-profile heatmap follows the filter too: its rows count only the chosen segments,
    # and its cells show those customers' means (as dashboard.cluster_profile computes them)
    customers = dashboard.load(run).customers.dropna(subset=["cluster_label"])
    cells = dashboard.cluster_cells(customers)
    clusters = list(cells.groupby("cluster_label", sort=False)["customers"].sum().sort_values(ascending=False).index)
    _, text, rows = dashboard.cluster_profile(cells, clusters, set(chosen))
    _, all_text, all_rows = dashboard.cluster_profile(cells, clusters, set(cells["segment"]))
    assert rows != all_rows and text != all_text  # the filter makes a difference here
    for row in rows:
        assert f">{row}<" in dom.replace("&amp;", "&"), row
    for value in {v for line in text for v in line if v != "–"}:
        assert f">{value}<" in dom, value


@needs_chromium
def test_the_browser_check_catches_a_broken_page(page, tmp_path):
    broken = tmp_path / "broken.html"
    html = page.read_text(encoding="utf-8")
    broken.write_text(html.replace('id="payload">', 'id="payload">{not json', 1), encoding="utf-8")
    done = chromium(broken.as_uri(), tmp_path, "--dump-dom")
    assert "data-rendered" not in body_tag(done.stdout)
    assert 'data-errors="1"' in body_tag(done.stdout) or console_errors(done.stderr)
