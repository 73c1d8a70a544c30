"""EspeakVoice: one subprocess per prompt, the previous one cut off, nothing when muted.

The cut-off is tested with a stand-in program that speaks "forever" (a real process, killed
for real); the real espeak-ng is tested for what only it can show: the Mandarin and English
voices exist and turn text into audio (measured by sox), louder at a higher volume step.
"""

from __future__ import annotations

import re
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from kiosk.settings import KioskSettings
from kiosk.voice import AMPLITUDES, EspeakVoice, SilentVoice, Tunable, make_voice
from tests.harness.waiting import wait_for

# Writes its argv and what it reads on stdin to files named by its pid, then "speaks" until
# it is killed.
STAND_IN = """#!/bin/sh
echo "$@" > "{out}/$$.args"
cat > "{out}/$$.text"
exec sleep 60
"""


@pytest.fixture
def stand_in(tmp_path: Path) -> tuple[Path, Path]:
    out = tmp_path / "spoken"
    out.mkdir()
    program = tmp_path / "espeak-stand-in"
    program.write_text(STAND_IN.format(out=out))
    program.chmod(program.stat().st_mode | stat.S_IXUSR)
    return program, out


def _spoken(out: Path, pid: int) -> str:
    path = out / f"{pid}.text"
    return path.read_text(encoding="utf-8") if path.exists() else ""


def test_a_second_prompt_kills_the_first_process(stand_in: tuple[Path, Path]) -> None:
    program, out = stand_in
    voice = EspeakVoice(str(program))
    try:
        voice.say("capture.title", "请正对屏幕")
        first = wait_for(lambda: voice.process, "the first prompt's process")
        wait_for(lambda: _spoken(out, first.pid) == "请正对屏幕", "the first text on stdin")
        voice.say("certify.challenge.nod", "请点点头")
        wait_for(lambda: first.poll() is not None, "the first process to be cut off")
        second = wait_for(lambda: voice.process if voice.process is not first else None,
                          "the second prompt's process")
        wait_for(lambda: _spoken(out, second.pid) == "请点点头", "the second text on stdin")
        assert first.returncode < 0  # ended by a signal, not by finishing
        assert second.poll() is None
        args = (out / f"{second.pid}.args").read_text()
        assert "-v cmn" in args and "请点点头" not in args  # the text never goes in argv
        voice.stop()
        wait_for(lambda: second.poll() is not None, "stop() to end the prompt")
        assert voice.spoken == 2
    finally:
        voice.close()


def test_say_returns_at_once_while_the_previous_one_is_being_killed(
        stand_in: tuple[Path, Path]) -> None:
    program, _out = stand_in
    voice = EspeakVoice(str(program))
    try:
        for i in range(20):  # a burst of screen changes: only the last is spoken at the end
            voice.say(f"k{i}", f"第{i}句")
        last = wait_for(lambda: voice.process if voice.process is not None
                        and voice.spoken >= 1 else None, "a prompt process")
        voice.say("last", "最后一句")
        wait_for(lambda: last.poll() is not None, "the earlier prompt cut off")
        final = wait_for(lambda: voice.process if voice.process is not last else None,
                         "the last prompt's process")
        assert final.poll() is None
        assert voice.spoken <= 21
    finally:
        voice.close()
    assert final.poll() is not None  # close() ends the one still speaking


def test_muted_it_starts_no_process(stand_in: tuple[Path, Path]) -> None:
    program, out = stand_in
    voice = EspeakVoice(str(program), muted=True)
    try:
        voice.say("capture.title", "请正对屏幕")  # muted: nothing is handed to the speaker
        assert voice._wanted is None and voice.spoken == 0
        voice.set_muted(False)
        voice.say("capture.body", "按提示做动作")
        speaking = wait_for(lambda: voice.process, "a prompt once unmuted")
        wait_for(lambda: len(list(out.glob("*.text"))) == 1, "its text on stdin")
        voice.set_muted(True)  # muting mid-prompt silences it at once
        wait_for(lambda: speaking.poll() is not None, "muting to stop the prompt")
        voice.say("certify.challenge.nod", "请慢慢点一下头")
        assert voice._wanted is None and voice.spoken == 1
        assert [p.read_text() for p in out.glob("*.text")] == ["按提示做动作"]
    finally:
        voice.close()


def test_a_missing_program_is_logged_not_raised(tmp_path: Path) -> None:
    voice = EspeakVoice(str(tmp_path / "no-such-espeak"))
    try:
        voice.say("capture.title", "请正对屏幕")
        voice.stop()
        assert voice.process is None
    finally:
        voice.close()


def test_the_settings_choose_the_voice(stand_in: tuple[Path, Path]) -> None:
    program, _out = stand_in
    assert isinstance(make_voice(KioskSettings(voice="silent")), SilentVoice)
    assert isinstance(make_voice(KioskSettings(voice_executable="/no/such/espeak-ng")),
                      SilentVoice)
    chosen = make_voice(KioskSettings(voice_executable=str(program), voice_muted=True))
    try:
        assert isinstance(chosen, EspeakVoice) and chosen.muted
    finally:
        chosen.close()


def test_volume_and_language_change_the_next_command(stand_in: tuple[Path, Path]) -> None:
    program, out = stand_in
    voice = EspeakVoice(str(program), voices={"zh_CN": "cmn", "en": "en-us"})
    assert isinstance(voice, Tunable) and not isinstance(SilentVoice(), Tunable)
    try:
        voice.say("attract.title", "请插入社会保障卡")
        first = wait_for(lambda: voice.process, "the Mandarin prompt")
        wait_for((out / f"{first.pid}.args").exists, "its argv")
        assert (out / f"{first.pid}.args").read_text().split()[:6] == [
            "-v", "cmn", "-s", "150", "-a", str(AMPLITUDES[2])]
        voice.set_language("en")
        voice.set_volume(5)
        voice.say("attract.title", "Please insert your card")
        second = wait_for(lambda: voice.process if voice.process is not first else None,
                          "the English prompt")
        wait_for(lambda: _spoken(out, second.pid) == "Please insert your card", "its text")
        args = (out / f"{second.pid}.args").read_text().split()
        assert args[:6] == ["-v", "en-us", "-s", "150", "-a", str(AMPLITUDES[4])]
        voice.set_volume(99)  # beyond the last step: the loudest, never past espeak's 200
        assert voice.argv[voice.argv.index("-a") + 1] == str(AMPLITUDES[-1]) == "190"
    finally:
        voice.close()


def test_the_settings_give_each_language_its_voice(stand_in: tuple[Path, Path]) -> None:
    program, _out = stand_in
    voice = make_voice(KioskSettings(voice_executable=str(program), voice_name_en="en-gb",
                                     voice_volume=1))
    try:
        assert isinstance(voice, EspeakVoice)
        assert voice.argv[1:3] == ["-v", "cmn"] and "40" in voice.argv
        voice.set_language("en")
        assert voice.argv[1:3] == ["-v", "en-gb"]
        voice.set_language("fr")  # not a kiosk language: the main voice
        assert voice.argv[1:3] == ["-v", "cmn"]
    finally:
        voice.close()


def _espeak() -> str:
    executable = shutil.which("espeak-ng")
    assert executable, "espeak-ng is not installed: run scripts/setup (Debian espeak-ng)"
    return executable


def _speak_to_wav(wav: Path, language: str, text: str, volume: int = 3) -> None:
    """The kiosk's own EspeakVoice, with -w: the real espeak-ng writes the prompt to `wav`."""
    voice = EspeakVoice(_espeak(), extra_args=["-w", str(wav)], volume=volume)
    voice.set_language(language)
    try:
        voice.say("prompt", text)
        process = wait_for(lambda: voice.process, "espeak-ng to start")
        wait_for(lambda: process.poll() is not None, "espeak-ng to finish writing")
    finally:
        voice.close()
    assert process.returncode == 0


def _sox_stat(wav: Path) -> dict[str, float]:
    """`sox WAV -n stat`: its length in seconds and RMS amplitude (0..1)."""
    assert shutil.which("sox"), "sox is not installed: run scripts/setup (Debian sox)"
    report = subprocess.run(["sox", str(wav), "-n", "stat"], capture_output=True, text=True,
                            timeout=20, check=True).stderr
    found = {name: float(value) for name, value in
             re.findall(r"^(Length \(seconds\)|RMS\s+amplitude):\s+([0-9.]+)$", report, re.M)}
    return {"seconds": found["Length (seconds)"], "rms": found["RMS     amplitude"]}


@pytest.mark.parametrize(("language", "espeak_voice", "text"), [
    ("zh_CN", "cmn", "请慢慢点一下头"),
    ("en", "en-us", "Please insert your social security card"),
])
def test_the_real_espeak_ng_speaks_each_language(tmp_path: Path, language: str,
                                                 espeak_voice: str, text: str) -> None:
    voices = subprocess.run([_espeak(), f"--voices={espeak_voice.partition('-')[0]}"],
                            capture_output=True, text=True, timeout=10, check=True).stdout
    assert espeak_voice in voices
    wav = tmp_path / "prompt.wav"
    _speak_to_wav(wav, language, text)
    audio = _sox_stat(wav)
    # A sentence of speech, not silence, not garbage (silence measures RMS 0.000000).
    assert 0.5 < audio["seconds"] < 10, audio
    assert audio["rms"] > 0.02, audio


def test_a_higher_volume_step_is_measurably_louder(tmp_path: Path) -> None:
    quiet, loud = tmp_path / "quiet.wav", tmp_path / "loud.wav"
    _speak_to_wav(quiet, "zh_CN", "请插入社会保障卡", volume=1)
    _speak_to_wav(loud, "zh_CN", "请插入社会保障卡", volume=5)
    q, lo = _sox_stat(quiet), _sox_stat(loud)
    assert abs(q["seconds"] - lo["seconds"]) < 0.1  # the same words, only louder
    assert lo["rms"] > 2.5 * q["rms"], (q, lo)
