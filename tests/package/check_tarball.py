# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the built collection tarball holds: nothing of the development tree, everything a user
needs, a licence, metadata without placeholders, and Markdown links that resolve inside it.

    python check_tarball.py palisade-firewall-X.Y.Z.tar.gz [CHECKOUT]

With CHECKOUT (a git work tree), files that ship but are not tracked by git are named too (a
warning: a build from a fresh clone would not have them). Exit status 1 on any failure.
"""

from __future__ import annotations

import json
import posixpath
import re
import subprocess
import sys
import tarfile

# Development files that must never ship (patterns on the member's path inside the tarball).
FORBIDDEN = [
    (re.compile(r"^tests(/|$)"), "the test suite"),
    (re.compile(r"^lab(/|$)"), "the lab (development tool)"),
    (re.compile(r"^bench(/|$)"), "the benchmarks"),
    (re.compile(r"^extensions/molecule(/|$)"), "the molecule scenario (needs the lab)"),
    (re.compile(r"^\.venv(/|$)"), "a virtualenv"),
    (re.compile(r"^\.build(/|$)"), "the build tree"),
    (re.compile(r"^\.ci(/|$)"), "the CI scripts"),
    (re.compile(r"^\.ansible(/|$)"), "ansible-lint's local state"),
    (re.compile(r"(^|/)\.pytest_cache(/|$)"), "a pytest cache"),
    (re.compile(r"(^|/)__pycache__(/|$)"), "a __pycache__ directory"),
    (re.compile(r"\.py[co]$"), "compiled Python"),
    (re.compile(r"\.tar\.gz$"), "another tarball"),
    (re.compile(r"^(Makefile|pytest\.ini|galaxy\.yml)$"), "a development file"),
    (re.compile(r"^examples/inventory/90-lab\.yml$"), "the lab's generated inventory"),
    (re.compile(r"^changelogs/\.plugin-cache\.yaml$"), "antsibull-changelog's cache"),
]

# What a user of the collection needs (files, or directories with at least one file).
REQUIRED_FILES = [
    "COPYING",
    "README.md",
    "MANIFEST.json",
    "FILES.json",
    "meta/runtime.yml",
    "meta/execution-environment.yml",
    "changelogs/changelog.yaml",
]
REQUIRED_DIRS = ["docs", "roles", "playbooks", "plugins/modules", "plugins/action", "plugins/filter",
                 "plugins/plugin_utils", "plugins/module_utils"]

INLINE_LINK = re.compile(r"!?\[(?:[^\]\\]|\\.)*\]\(\s*<?([^)\s>]+)>?(?:\s+[\"'(][^)]*)?\)")
REFERENCE_DEF = re.compile(r"^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)")
HTML_LINK = re.compile(r"""<(?:a|img)\b[^>]*\b(?:href|src)\s*=\s*["']([^"']+)["']""", re.I)
SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def fail(problems: list[str], message: str) -> None:
    problems.append(message)
    print(f"FAIL {message}")


def markdown_targets(text: str):
    """(line number, target) of every link outside fenced code blocks and code spans."""
    fence = None
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.lstrip()
        marker = re.match(r"(`{3,}|~{3,})", stripped)
        if marker:
            if fence is None:
                fence = marker.group(1)[0] * len(marker.group(1))
            elif stripped.startswith(fence):
                fence = None
            continue
        if fence is not None:
            continue
        prose = re.sub(r"(`+).*?\1", "", line)
        for pattern in (INLINE_LINK, REFERENCE_DEF, HTML_LINK):
            for match in pattern.finditer(prose):
                yield number, match.group(1)


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 3):
        print(__doc__)
        return 2
    tarball = argv[1]
    problems: list[str] = []
    with tarfile.open(tarball) as archive:
        members = archive.getmembers()
        names = {m.name.rstrip("/").removeprefix("./") for m in members}
        files = {m.name.removeprefix("./") for m in members if m.isfile()}

        by_name = {m.name.removeprefix("./"): m for m in members}
        reported: list[str] = []
        for name in sorted(names):
            if any(name.startswith(parent + "/") for parent in reported):
                continue  # inside a directory already named
            for pattern, what in FORBIDDEN:
                if pattern.search(name):
                    fail(problems, f"{name} ships ({what})")
                    reported.append(name)
                    break
        for member in members:
            if member.issym() or member.islnk():
                fail(problems, f"{member.name} is a link ({member.linkname})")
            if member.name.startswith("/") or ".." in member.name.split("/"):
                fail(problems, f"{member.name}: a path outside the collection")

        for name in REQUIRED_FILES:
            if name not in files:
                fail(problems, f"{name} is missing")
        for directory in REQUIRED_DIRS:
            if not any(f.startswith(directory + "/") for f in files):
                fail(problems, f"{directory}/ is missing or empty")

        def read(name: str) -> str:
            return archive.extractfile(by_name[name]).read().decode("utf-8")

        if "COPYING" in files:
            licence = read("COPYING")
            if "GNU GENERAL PUBLIC LICENSE" not in licence or "Version 3, 29 June 2007" not in licence:
                fail(problems, "COPYING is not the GNU GPL version 3 text")
            if "END OF TERMS AND CONDITIONS" not in licence:
                fail(problems, "COPYING is not the full GPL text")

        if "MANIFEST.json" in files:
            info = json.loads(read("MANIFEST.json"))["collection_info"]
            if (info.get("namespace"), info.get("name")) != ("palisade", "firewall"):
                fail(problems, f"MANIFEST.json names {info.get('namespace')}.{info.get('name')}")
            if info.get("license") != ["GPL-3.0-or-later"] or info.get("license_file"):
                fail(problems, f"MANIFEST.json licence: license={info.get('license')} "
                               f"license_file={info.get('license_file')} (want GPL-3.0-or-later only)")
            for key in ("repository", "documentation", "homepage", "issues"):
                value = info.get(key) or ""
                if "example." in value or "invalid" in value:
                    fail(problems, f"MANIFEST.json {key} is a placeholder: {value}")
            for author in info.get("authors") or []:
                if not re.search(r"\(@[A-Za-z0-9-]+\)$", author):
                    fail(problems, f"MANIFEST.json author {author!r} is not 'Name (@handle)'")

        # The EE metadata may only name files that ship.
        if "meta/execution-environment.yml" in files:
            import yaml  # the venv's PyYAML (ansible-core's requirement)

            ee = yaml.safe_load(read("meta/execution-environment.yml"))
            for kind, path in (ee.get("dependencies") or {}).items():
                if path not in files:
                    fail(problems, f"meta/execution-environment.yml: {kind} file {path} does not ship")

        markdown = sorted(f for f in files if f.endswith(".md"))
        links = 0
        for name in markdown:
            for number, target in markdown_targets(read(name)):
                if SCHEME.match(target) or target.startswith("#") or target.startswith("//"):
                    continue
                links += 1
                path = target.split("#", 1)[0].split("?", 1)[0]
                if path.startswith("/"):
                    fail(problems, f"{name}:{number}: absolute link {target}")
                    continue
                resolved = posixpath.normpath(posixpath.join(posixpath.dirname(name), path))
                if resolved.startswith("../") or resolved == "..":
                    fail(problems, f"{name}:{number}: {target} points outside the collection")
                elif resolved not in names:
                    fail(problems, f"{name}:{number}: {target} does not ship ({resolved})")
        print(f"ok   {len(markdown)} Markdown files, {links} relative links checked")

    if len(argv) == 3:
        tracked = subprocess.run(["git", "-C", argv[2], "ls-files"], capture_output=True, text=True, check=False)
        if tracked.returncode == 0:
            known = set(tracked.stdout.splitlines())
            for name in sorted(files - known - {"MANIFEST.json", "FILES.json"}):
                print(f"WARN {name} ships but is not tracked by git")

    if problems:
        print(f"{len(problems)} problem(s) in {tarball}")
        return 1
    print(f"ok   {tarball}: {len(files)} files, nothing of the development tree, all required parts")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
