import datetime as dt
import json
import stat

import pytest
from typer.testing import CliRunner

from kioskctl.cli import app
from provisioning import staff

NOW = dt.datetime(2026, 12, 2, 8, 0, tzinfo=dt.UTC)
CHEAP = staff.MIN_N  # fast hashes for tests


def test_add_stores_a_salted_hash_and_an_expiry_never_the_pin(tmp_path):
    path = tmp_path / "staff.json"
    staff.add(path, "S-1001", "246810", valid_days=7, now=NOW, n=CHEAP)
    staff.add(path, "S-1002", "246810", valid_days=7, now=NOW, n=CHEAP)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    assert "246810" not in text
    creds = staff.load(path)
    a, b = creds["S-1001"], creds["S-1002"]
    assert a.salt != b.salt and a.digest != b.digest  # same PIN, different salts
    assert a.matches("246810") and not a.matches("246811") and not a.matches("x")
    assert a.expires_at == NOW + dt.timedelta(days=7)
    assert not a.expired(NOW) and a.expired(NOW + dt.timedelta(days=7))
    assert "digest" not in repr(a) and a.digest.hex() not in repr(a)


def test_replacing_a_staff_member_changes_the_pin(tmp_path):
    path = tmp_path / "staff.json"
    staff.add(path, "S-1001", "111111", now=NOW, n=CHEAP)
    staff.add(path, "S-1001", "222222", now=NOW, n=CHEAP)
    creds = staff.load(path)
    assert list(creds) == ["S-1001"]
    assert creds["S-1001"].matches("222222") and not creds["S-1001"].matches("111111")
    assert staff.remove(path, "S-1001") and staff.load(path) == {}


@pytest.mark.parametrize("staff_id,pin", [("S", "123456"), ("S 1", "123456"),
                                          ("S-1", "12345"), ("S-1", "12345a")])
def test_bad_ids_and_pins_are_refused(tmp_path, staff_id, pin):
    with pytest.raises(staff.StaffFileError):
        staff.add(tmp_path / "s.json", staff_id, pin, n=CHEAP)


@pytest.mark.parametrize("content", [
    b"", b"[]", b'{"format": "other"}', b'{"format": "hrss-staff-credentials/1", "staff": 1}',
    b'{"format": "hrss-staff-credentials/1", "staff": [{"staff_id": "S-1"}]}',
    b'{"format": "hrss-staff-credentials/1", "staff": [{"staff_id": "S-1", "salt": "AA==",'
    b' "hash": "AA==", "n": 3, "r": 8, "p": 1, "expires_at": "2027-01-01T00:00:00Z"}]}',
    b"{" * 100_000, b" " * (staff.MAX_FILE_BYTES + 2),
])
def test_a_hostile_file_is_refused_as_data(tmp_path, content):
    path = tmp_path / "staff.json"
    path.write_bytes(content)
    with pytest.raises(staff.StaffFileError):
        staff.load(path)


def test_cli_add_and_list(tmp_path):
    path = tmp_path / "staff.json"
    runner = CliRunner()
    r = runner.invoke(app, ["provision", "staff", "add", "--staff-id", "S-2001", "--file",
                            str(path), "--valid-days", "3"], input="135790\n135790\n")
    assert r.exit_code == 0, r.output
    assert staff.load(path)["S-2001"].matches("135790")
    r = runner.invoke(app, ["provision", "staff", "list", "--file", str(path)])
    assert r.exit_code == 0 and "S-2001" in r.output and "valid" in r.output
    assert "135790" not in r.output and json.loads(path.read_text())["staff"][0]["hash"] not in (
        r.output)
    r = runner.invoke(app, ["provision", "staff", "add", "--staff-id", "S 1", "--file",
                            str(path), "--pin", "135790"])
    assert r.exit_code == 2
