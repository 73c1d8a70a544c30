import os
import stat

import pytest

from edge_server.crypto import DataCipher, DataKeyError, SealError, load_or_create_key


def test_key_is_created_once_with_0600(tmp_path):
    path = tmp_path / "keys" / "data.key"
    key = load_or_create_key(path)
    assert len(key) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_key(path) == key, "the same key on the next start"
    assert [p.name for p in path.parent.iterdir()] == ["data.key"], "no temporary file left"


def test_a_key_of_the_wrong_size_refuses_to_start(tmp_path):
    path = tmp_path / "data.key"
    path.write_bytes(b"short")
    os.chmod(path, 0o600)
    with pytest.raises(DataKeyError):
        load_or_create_key(path)


def test_seal_and_open_bound_to_their_row():
    cipher = DataCipher(b"k" * 32)
    sealed = cipher.seal_json({"name": "张三"}, "row:1")
    assert "张三".encode() not in sealed.ciphertext
    assert cipher.open_json(sealed, "row:1") == {"name": "张三"}
    with pytest.raises(SealError):
        cipher.open_json(sealed, "row:2")
    flipped = sealed.ciphertext[:-1] + bytes([sealed.ciphertext[-1] ^ 1])
    with pytest.raises(SealError):
        cipher.open(type(sealed)(sealed.key_id, sealed.nonce, flipped), "row:1")
    with pytest.raises(SealError):
        DataCipher(b"j" * 32).open(sealed, "row:1")


def test_nonces_are_fresh():
    cipher = DataCipher(b"k" * 32)
    assert cipher.seal(b"x", "a").nonce != cipher.seal(b"x", "a").nonce


def test_citizen_key_is_keyed_and_normalised():
    a, b = DataCipher(b"k" * 32), DataCipher(b"j" * 32)
    cid = "11010519491231002X"
    assert a.citizen_key(cid) == a.citizen_key(" 11010519491231002x ")
    assert a.citizen_key(cid) != b.citizen_key(cid), "a hash without the key is useless"
    assert cid not in a.citizen_key(cid) and len(a.citizen_key(cid)) == 64
