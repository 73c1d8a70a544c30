"""Pose, mouth and eye measures on real landmarks, and the planar test on a 3D face model."""

from __future__ import annotations

import numpy as np

from drivers.camera.interface import Frame
from drivers.face.dlib_engine import DlibFaceEngine
from drivers.face.measures import measure, planar_fit, upright
from tests.drivers.face.synthetic import pose


def _measures(engine: DlibFaceEngine, frame: Frame):  # type: ignore[no-untyped-def]
    box = engine.detect_fast(frame)[0]
    return measure(engine.landmarks(frame, box))


def test_measures_on_real_landmarks(engine: DlibFaceEngine,
                                    photo_frames: dict[str, Frame]) -> None:
    frontal = _measures(engine, photo_frames["a0"])
    assert abs(frontal.yaw) < 0.08
    assert 0.02 < frontal.mouth < 0.3  # closed (a slight smile)
    assert 0.15 < frontal.ear < 0.42  # open eyes (vision-notes: 0.155-0.415)
    turned = _measures(engine, photo_frames["a1"])  # photo A #2: turned to his right, speaking
    assert turned.yaw < -0.15
    assert turned.mouth > frontal.mouth + 0.1
    # Mirroring flips the yaw's sign (and keeps the rest).
    mirrored = Frame(np.ascontiguousarray(photo_frames["a1"].pixels[:, ::-1]), 0, 0.0)
    flipped = _measures(engine, mirrored)
    assert flipped.yaw > 0.15
    assert abs(flipped.yaw + turned.yaw) < 0.06


def test_yaw_sign_and_roll_normalisation() -> None:
    base = measure(pose())
    assert measure(pose(yaw_deg=20)).yaw - base.yaw > 0.12  # their left: nose to image right
    assert measure(pose(yaw_deg=-20)).yaw - base.yaw < -0.12
    assert measure(pose(pitch_deg=15)).pitch - base.pitch > 0.06
    rolled = measure(pose(roll_deg=20))
    assert abs(rolled.yaw - base.yaw) < 0.01 and abs(rolled.pitch - base.pitch) < 0.01
    opened = measure(pose(mouth=0.5))
    assert opened.mouth > 0.6 and abs(opened.pitch - base.pitch) < 0.01  # no nod
    assert measure(pose(eyes_closed=1)).ear < 0.3 * base.ear
    level = upright(pose(roll_deg=25))
    assert abs(level[36:42, 1].mean() - level[42:48, 1].mean()) < 1e-6


def test_a_turning_head_is_not_planar_and_a_tilted_photo_is() -> None:
    base = pose()
    head = planar_fit(base, pose(yaw_deg=20))
    photo = planar_fit(pose(flat=True), pose(yaw_deg=30, flat=True))
    assert head.deformation > 0.05 and head.planar_share > 0.5
    assert photo.deformation > 0.05 and photo.planar_share < 0.25
    moved = planar_fit(base, pose(dx=12, dy=-5, roll_deg=10))
    assert moved.deformation < 0.005  # a similarity: no deformation at all
