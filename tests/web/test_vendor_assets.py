"""The vendored front-end files match the manifest that scripts/vendor_assets.sh writes.

VENDOR.md is generated together with the files; a hand edit, a partial re-vendor or a
corrupted checkout shows up here as a size or SHA-256 mismatch.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import defchain.web

STATIC = Path(defchain.web.__file__).resolve().parent / "static"
VENDOR_MD = STATIC / "VENDOR.md"
SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "vendor_assets.sh"
VENDORED_DIRS = ("uswds", "htmx", "chartjs")

# | package | `file` | bytes | `sha256` |
FILE_ROW = re.compile(r"^\| ([^|]+?) \| `([^`]+)` \| (\d+) \| `([0-9a-f]{64})` \|$")
# | `package` | version | tarball url | `tarball sha256` | `integrity` | license |
PACKAGE_ROW = re.compile(
    r"^\| `([^`]+)` \| ([^ |]+) \| [^|]+ \| `[0-9a-f]{64}` \| `(sha512-[^`]+)` \|"
)


def _section(name: str) -> list[str]:
    text = VENDOR_MD.read_text(encoding="utf-8")
    _, _, rest = text.partition(f"\n## {name}\n")
    assert rest, f"VENDOR.md has no '## {name}' section"
    return rest.split("\n## ", 1)[0].splitlines()


def _file_rows() -> dict[str, tuple[str, int, str]]:
    rows: dict[str, tuple[str, int, str]] = {}
    for line in _section("Files"):
        match = FILE_ROW.match(line)
        if match:
            package, rel, size, digest = match.groups()
            assert rel not in rows, f"{rel} listed twice"
            rows[rel] = (package, int(size), digest)
    return rows


def test_every_listed_file_exists_with_matching_size_and_sha256() -> None:
    rows = _file_rows()
    assert len(rows) > 10
    problems = []
    for rel, (_, size, digest) in rows.items():
        path = (STATIC / rel).resolve()
        assert path.is_relative_to(STATIC), rel
        if not path.is_file():
            problems.append(f"{rel}: missing")
            continue
        data = path.read_bytes()
        if len(data) != size:
            problems.append(f"{rel}: {len(data)} bytes, VENDOR.md says {size}")
        if hashlib.sha256(data).hexdigest() != digest:
            problems.append(f"{rel}: SHA-256 differs from VENDOR.md")
    assert not problems, "\n".join(problems)


def test_every_vendored_file_is_listed() -> None:
    listed = set(_file_rows())
    on_disk = {
        path.relative_to(STATIC).as_posix()
        for sub in VENDORED_DIRS
        for path in (STATIC / sub).rglob("*")
        if path.is_file()
    }
    assert on_disk - listed == set(), "vendored files missing from VENDOR.md"


def test_chartjs_umd_build_is_vendored() -> None:
    rows = _file_rows()
    assert rows["chartjs/chart.umd.min.js"][0] == "chart.js"
    assert "chartjs/LICENSE.md" in rows
    packages = {m[1]: m[2] for m in map(PACKAGE_ROW.match, _section("Packages")) if m}
    version = packages["chart.js"]
    assert version.startswith("4.")
    head = (STATIC / "chartjs" / "chart.umd.min.js").read_bytes()[:200].decode()
    assert f"Chart.js v{version}" in head


def test_manifest_matches_the_pins_in_the_script() -> None:
    if not SCRIPT.is_file():  # installed package without the repo's scripts/
        return
    script = SCRIPT.read_text(encoding="utf-8")
    pins = dict(re.findall(r'^([A-Z]+_(?:VERSION|INTEGRITY))="([^"]*)"', script, re.M))
    packages = {m[1]: (m[2], m[3]) for m in map(PACKAGE_ROW.match, _section("Packages")) if m}
    for package, prefix in (
        ("@uswds/uswds", "USWDS"),
        ("htmx.org", "HTMX"),
        ("chart.js", "CHARTJS"),
    ):
        assert packages[package] == (pins[f"{prefix}_VERSION"], pins[f"{prefix}_INTEGRITY"]), (
            package
        )
