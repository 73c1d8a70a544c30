"""The capture thread's frame checks on an injected clock: frozen and too-dark take their time."""

from __future__ import annotations

import numpy as np

from drivers.camera.capture import CaptureCamera, FrameChecks


def grey(level: int, seed: int | None = None) -> np.ndarray:
    if seed is None:
        return np.full((120, 160, 3), level, dtype=np.uint8)
    rng = np.random.default_rng(seed)
    return np.clip(level + rng.normal(0, 3, size=(120, 160, 3)), 0, 255).astype(np.uint8)


def checks() -> FrameChecks:
    return FrameChecks(frozen_after_s=3.0, dark_after_s=2.0, dark_luma=25.0)


def test_the_same_frame_is_frozen_only_after_frozen_after_s() -> None:
    judge, frame = checks(), grey(120, seed=1)
    codes = [judge.observe(frame.copy(), t).code for t in (0.0, 1.0, 2.9, 4.0)]
    assert codes == ["ok", "ok", "ok", "frozen"]  # identical since t=1.0: frozen from 4.0
    assert judge.observe(grey(120, seed=2), 4.1).code == "ok"  # one new frame clears it


def test_sensor_noise_on_a_still_scene_is_not_frozen() -> None:
    judge = checks()
    assert {judge.observe(grey(120, seed=i), i * 0.5).code for i in range(20)} == {"ok"}


def test_dark_frames_are_too_dark_after_dark_after_s_and_before_frozen() -> None:
    judge = checks()
    codes = [judge.observe(grey(10), t).code for t in (0.0, 1.0, 2.0, 5.0)]
    assert codes == ["ok", "ok", "too-dark", "too-dark"]
    assert judge.observe(grey(40, seed=3), 5.1).code == "ok"


def test_one_dark_frame_is_no_darkness() -> None:
    judge = checks()
    for i in range(10):
        frame = grey(10) if i % 2 else grey(120, seed=i)
        assert judge.observe(frame, i * 1.0).code == "ok"


def test_frames_carry_the_injected_clock() -> None:
    class OneImage:
        description, paced = "one", False  # paced by the loop at fps

        def open(self) -> None: ...
        def read(self) -> np.ndarray:
            return grey(120, seed=0)
        def close(self) -> None: ...
        def interrupt(self) -> None: ...

    camera = CaptureCamera(OneImage, description="one", clock=lambda: 1234.5)
    camera.start()
    try:
        frame = camera.next_frame(timeout_s=5.0)
        assert frame is not None and frame.captured_at == 1234.5
    finally:
        camera.stop()
