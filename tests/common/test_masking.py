from common.masking import mask_account, mask_card_number, mask_citizen_id, mask_name, redact


def test_masked_forms():
    assert mask_citizen_id("11010519491231002X") == "110105********002X"
    assert mask_name("张三") == "张*"
    assert mask_name("欧阳娜娜") == "欧***"
    assert mask_name("王") == "*"
    assert mask_name("阿卜杜热合曼·买买提艾力") == "阿***"
    assert mask_card_number("A12345678") == "A******78"
    assert mask_account("6222020200001234") == "6222****1234"


def test_redact_masks_ids_inside_text_but_leaves_short_numbers():
    text = "read card of 11010519491231002X in 42 ms, port 35963"
    out = redact(text)
    assert "11010519491231002X" not in out
    assert "110105********002X" in out
    assert "42 ms, port 35963" in out


def test_redact_masks_lower_case_x_fifteen_digit_and_adjacent_ids():
    out = redact("ids=11010519491231002x,110105491231002;")
    assert "19491231" not in out and "491231" not in out.split(",")[1]


def test_redact_keeps_hex_and_timestamps():
    text = "atr 3B6800004A434F503331563232 at 1763800000123"
    assert redact(text) == text


def test_redact_masks_han_runs_which_are_data_in_english_log_lines():
    assert redact("citizen 张三丰 identified") == "citizen 张** identified"
    assert redact("name=阿卜杜·买买提") == "name=阿******"
