"""The whole gallery matrix, for a person to review: every walk in both languages, both themes
and both orientations, as PNG files and one HTML page.

    python -m tests.kiosk.gallery_all OUT [--jobs 2] [--walk basics ...] [--quick]

Each combination is one `python -m tests.kiosk.gallery` process (Kivy's window is one per
process) writing OUT/<walk>/<language>-<theme>-<orientation>/. OUT/index.html shows every
picture under its walk and variant, with its step name and whatever the screen checks found
next to it. Exits non-zero when any walk or check failed; prints the index's path.
"""

from __future__ import annotations

import argparse
import html
import importlib.util
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.kiosk.gallery import WALKS

ROOT = Path(__file__).resolve().parents[2]
LANGUAGES = ("zh_CN", "en")
THEMES = ("normal", "elder")
SIZES = {"portrait": "1080x1920", "landscape": "1920x1080"}
RUN_TIMEOUT_S = 300  # a wedged renderer, not a speed limit: one walk takes 15-60 s


def kivy_env(home: Path) -> dict[str, str]:
    """The environment a gallery or kiosk process renders offscreen in, with its own Kivy home."""
    return {
        **os.environ,
        "SDL_VIDEODRIVER": "offscreen", "KIVY_WINDOW": "sdl2", "KIVY_NO_ARGS": "1",
        "KIVY_NO_CONFIG": "1", "KIVY_NO_FILELOG": "1", "KIVY_HOME": str(home),
    }


def available_walks() -> list[str]:
    """Every walk whose module is there (the modes walk is being written separately)."""
    return [w for w in WALKS
            if w != "modes" or importlib.util.find_spec("tests.kiosk.modes_gallery") is not None]


@dataclass(frozen=True)
class Variant:
    walk: str
    language: str
    theme: str
    orientation: str

    @property
    def name(self) -> str:
        return f"{self.language}-{self.theme}-{self.orientation}"

    def args(self, out: Path) -> list[str]:
        return [str(out), "--walk", self.walk, "--language", self.language,
                "--theme", self.theme, "--size", SIZES[self.orientation]]


@dataclass
class Result:
    variant: Variant
    out: Path
    returncode: int
    error: str = ""  # the walk's own failure (a step that did not work), not the checks'
    shots: dict[str, Any] = field(default_factory=dict)

    @property
    def check_failures(self) -> int:
        return sum(len(s.get("failures", [])) for s in self.shots.values())


def run_one(variant: Variant, root: Path) -> Result:
    out = root / variant.walk / variant.name
    out.mkdir(parents=True, exist_ok=True)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "tests.kiosk.gallery", *variant.args(out)], cwd=ROOT,
            env=kivy_env(out / "kivy"), capture_output=True, text=True,
            timeout=RUN_TIMEOUT_S, check=False,
        )
        code, stderr = done.returncode, done.stderr
    except subprocess.TimeoutExpired:
        code, stderr = -1, f"no answer within {RUN_TIMEOUT_S} s"
    manifest = out / "gallery.json"
    shots = json.loads(manifest.read_text()) if manifest.is_file() else {}
    result = Result(variant, out, code, shots=shots)
    if code != 0 and not result.check_failures:
        result.error = stderr[-3000:]
    elif code != 0 and "Traceback" in stderr:
        result.error = stderr[stderr.index("Traceback"):][-3000:]
    (out / "run.log").write_text(stderr)
    print(f"{variant.walk} {variant.name}: exit {code}, {len(shots)} screens, "
          f"{result.check_failures} check failures", flush=True)
    return result


def matrix(walks: list[str], quick: bool = False) -> list[Variant]:
    if quick:  # one variant a walk: a fast look, not the review
        return [Variant(w, "en", "normal", "landscape") for w in walks]
    return [Variant(w, lang, theme, orient) for w in walks for lang in LANGUAGES
            for theme in THEMES for orient in SIZES]


# The page ---------------------------------------------------------------------------------

_STYLE = """
body { font-family: sans-serif; margin: 1.5em; background: #f5f2ea; color: #1b2430; }
h2 { border-top: 3px solid #123f63; padding-top: .4em; }
.shots { display: flex; flex-wrap: wrap; gap: 1em; }
figure { margin: 0; background: #fff; padding: .5em; border: 2px solid #d8d2c4; }
figure.bad { border-color: #a34a00; }
figure img { display: block; max-width: 270px; max-height: 270px; }
figcaption { max-width: 270px; font-size: 13px; }
.fail { color: #8a2b00; margin: .2em 0; }
pre.error { background: #fff0e0; padding: .5em; white-space: pre-wrap; max-width: 100%; }
td, th { padding: .2em .6em; text-align: left; }
"""


def _figure(step: str, shot: dict[str, Any], root: Path) -> str:
    rel = html.escape(os.path.relpath(shot["path"], root))
    failures = shot.get("failures", [])
    notes = "".join(f'<p class="fail">{html.escape(f)}</p>' for f in failures)
    return (f'<figure class="{"bad" if failures else "ok"}"><a href="{rel}">'
            f'<img src="{rel}" loading="lazy" alt="{html.escape(step)}"></a>'
            f"<figcaption><b>{html.escape(step)}</b> ({html.escape(shot['screen'])})"
            f"{notes}</figcaption></figure>")


def write_index(root: Path, results: list[Result]) -> Path:
    rows, sections = [], []
    for r in results:
        v = r.variant
        anchor = f"{v.walk}-{v.name}"
        status = "walk failed" if r.error else (
            f"{r.check_failures} check failures" if r.check_failures else "ok")
        rows.append(f'<tr><td><a href="#{anchor}">{v.walk}</a></td><td>{v.language}</td>'
                    f"<td>{v.theme}</td><td>{v.orientation}</td><td>{len(r.shots)}</td>"
                    f"<td>{html.escape(status)}</td></tr>")
        body = "".join(_figure(step, shot, root) for step, shot in r.shots.items())
        error = f'<pre class="error">{html.escape(r.error)}</pre>' if r.error else ""
        sections.append(f'<h2 id="{anchor}">{v.walk}: {v.language}, {v.theme} theme, '
                        f"{v.orientation} ({SIZES[v.orientation]})</h2>{error}"
                        f'<div class="shots">{body}</div>')
    page = (f'<!doctype html><html><head><meta charset="utf-8"><title>Kiosk gallery</title>'
            f"<style>{_STYLE}</style></head><body><h1>Kiosk gallery</h1>"
            f"<table><tr><th>walk</th><th>language</th><th>theme</th><th>orientation</th>"
            f"<th>screens</th><th>result</th></tr>{''.join(rows)}</table>"
            f"{''.join(sections)}</body></html>")
    index = root / "index.html"
    index.write_text(page, encoding="utf-8")
    return index


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--jobs", type=int, default=2, help="gallery processes at a time")
    parser.add_argument("--walk", action="append", choices=WALKS,
                        help="only these walks (repeatable); default: every walk there is")
    parser.add_argument("--quick", action="store_true",
                        help="one variant a walk (English, normal, landscape)")
    args = parser.parse_args(argv)
    root: Path = args.out.resolve()
    root.mkdir(parents=True, exist_ok=True)
    walks = [w for w in available_walks() if not args.walk or w in args.walk]
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        results = list(pool.map(lambda v: run_one(v, root), matrix(walks, args.quick)))
    index = write_index(root, results)
    bad = [r for r in results if r.returncode != 0]
    print(f"{len(results)} runs, {len(bad)} failed, "
          f"{sum(r.check_failures for r in results)} check failures")
    print(index)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
