import pytest

from common.device_id import InvalidDeviceId, check_device_id, is_device_id


@pytest.mark.parametrize("good", ["k1", "hall-07_terminal-3", "A" * 64])
def test_valid_device_ids(good):
    assert is_device_id(good) and check_device_id(good) == good


@pytest.mark.parametrize(
    "bad", ["", "-lead", "A" * 65, "k1\n", "k 1", "k/1", "k+1", "k#", "终端1", "ｋ1", "k1\x00"]
)
def test_invalid_device_ids(bad):
    assert not is_device_id(bad)
    with pytest.raises(InvalidDeviceId):
        check_device_id(bad)
