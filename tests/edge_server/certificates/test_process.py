"""Certificates through real processes (`kioskctl central-sim`, `kioskctl edge`, as the Stack
runs them): the edge makes its development CA beside its data key, a kiosk's certificate is
fetched by the phone's download link, and poppler checks its signature; and an edge pointed at
provisioning's CA (`kioskctl provision ca ...`) signs with that office instead."""

import subprocess

import httpx

from simulators.stack import services
from tests.edge_server.support import HALL_SECRET, card_body, headers, new_key
from tests.harness.stack import supervised


def _certificate(central_url: str, edge_url: str) -> dict:
    citizen = httpx.get(f"{central_url}/sim/v1/citizens",
                        params={"limit": 1, "card_status": "normal"}).json()["items"][0]
    opened = httpx.post(f"{edge_url}/api/v1/sessions", json=card_body(citizen),
                        headers=headers(key=new_key()), timeout=10)
    assert opened.status_code == 201, opened.text
    sid = opened.json()["session_id"]
    r = httpx.post(f"{edge_url}/api/v1/sessions/{sid}/certificates",
                   json={"kind": "rights-record"}, headers=headers(key=new_key()), timeout=30)
    assert r.status_code == 201, r.text
    return r.json()


def test_a_real_edge_issues_and_verifies_with_its_development_ca(tmp_path):
    with supervised(tmp_path / "logs") as sup:
        central = services.central_sim(population=50)
        sup.start(central.spec)
        edge = services.edge(tmp_path / "edge", central_url=central.url, hall_secret=HALL_SECRET)
        sup.start(edge.spec)
        view = _certificate(central.url, edge.url)
        assert (tmp_path / "edge" / "certificates" / "office.key.pem").stat().st_mode & 0o077 == 0
        assert view["verify_url"].startswith("http://127.0.0.1:")
        phone = httpx.get(view["download_url"], timeout=10)  # no credential
        assert phone.status_code == 200
        pdf = tmp_path / "got.pdf"
        pdf.write_bytes(phone.content)
        out = subprocess.run(["pdfsig", str(pdf)], capture_output=True, text=True, timeout=30,
                             check=False).stdout
        assert "Signature is Valid." in out
        check = httpx.post(f"{edge.url}/verify/pdf", content=phone.content, timeout=30,
                           headers={"Content-Type": "application/pdf"}).json()
        assert check["genuine"] and check["code"] == view["code"]
        page = httpx.get(view["verify_url"], timeout=10)
        assert page.status_code == 200 and "真实有效" in page.text


def test_a_real_edge_signs_with_the_office_provisioning_issued(tmp_path):
    ca, office = tmp_path / "ca", tmp_path / "office"
    for argv in (["provision", "ca", "init", "--dir", str(ca), "--name", "示例省人社厅"],
                 ["provision", "ca", "issue-office", "--dir", str(ca), "--office-id", "110100",
                  "--name", "示例市社保中心", "--out-dir", str(office)]):
        subprocess.run(services.kioskctl(*argv), check=True, capture_output=True, timeout=60)
    with supervised(tmp_path / "logs") as sup:
        central = services.central_sim(population=50)
        sup.start(central.spec)
        edge = services.edge(
            tmp_path / "edge", central_url=central.url, hall_secret=HALL_SECRET, extra_env={
                "EDGE_CERTIFICATE_OFFICE_KEY_FILE": str(office / "office.key.pem"),
                "EDGE_CERTIFICATE_OFFICE_CERT_FILE": str(office / "office.cert.pem"),
                "EDGE_CERTIFICATE_ROOT_FILE": str(office / "root.cert.pem"),
                "EDGE_CERTIFICATE_VERIFY_BASE_URL": "https://verify.example.gov.cn",
            })
        sup.start(edge.spec)
        view = _certificate(central.url, edge.url)
        assert view["verify_url"] == f"https://verify.example.gov.cn/verify/{view['code']}"
        pdf = httpx.get(f"{edge.url}{view['pdf_url']}", headers=headers(), timeout=10).content
        check = httpx.post(f"{edge.url}/verify/pdf", content=pdf, timeout=30,
                           headers={"Content-Type": "application/pdf"}).json()
        assert check["genuine"] and check["signer"] == "110100 电子印章"
        assert not (tmp_path / "edge" / "certificates").exists()
        info = httpx.get(f"{edge.url}/verify/{view['code']}", timeout=10,
                         headers={"Accept": "application/json"}).json()
        assert info["certificate"]["issuer"] == "示例市社保中心"
