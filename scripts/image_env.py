"""Host settings for `make image` (scripts/image.sh): which pip indexes the Bento's lock may name,
and whether podman needs a containers.conf on this host.

Indexes: the lock that `bentoml build` writes (uv pip compile --emit-index-url) names the index the
image installs from. uv reads no pip config, so it would name https://pypi.org/simple; instead the
user's pip config (`pip config list`) is passed to uv as UV_INDEX_URL / UV_EXTRA_INDEX_URL /
UV_FIND_LINKS. Only http(s) URLs pass: a file path (file:///opt/pypi/simple, /opt/wheels) exists on
the host, not inside the image build, so it is skipped and reported.

containers.conf: podman's OCI runtime raises RLIMIT_NOFILE/NPROC for the container; a host that can
only lower them (hard nofile below 1048576) needs default_ulimits within the hard limits, and a
host on cgroup v1/hybrid needs runc (crun refuses "cgroups in hybrid mode"). Written only if needed.
"""

from __future__ import annotations

import re
import resource
import sys
from pathlib import Path

PODMAN_NOFILE = 1048576  # what podman asks for by default


def is_url(location: str) -> bool:
    return re.match(r"https?://", location) is not None


def parse_pip_config(text: str) -> dict[str, list[str]]:
    """`pip config list` lines (scope.key='value') -> key -> locations; as in pip, the
    environment (:env:) wins over files, and a later file over an earlier one."""
    found: dict[str, list[str]] = {}
    from_env: set[str] = set()
    for line in text.splitlines():
        match = re.match(r"^([^.=]*)\.([a-z-]+)='(.*)'$", line.strip())
        if not match or match.group(2) not in ("index-url", "extra-index-url", "find-links"):
            continue
        key = match.group(2)
        if match.group(1) == ":env:":
            from_env.add(key)
        elif key in from_env:
            continue
        found[key] = match.group(3).split()
    return found


def uv_index_env(config: dict[str, list[str]]) -> tuple[dict[str, str], list[str]]:
    """uv environment for the lock, and the locations skipped because they are not URLs."""
    env: dict[str, str] = {}
    skipped: list[str] = []
    names = {
        "index-url": "UV_INDEX_URL",
        "extra-index-url": "UV_EXTRA_INDEX_URL",
        "find-links": "UV_FIND_LINKS",
    }
    for key, var in names.items():
        urls = [loc for loc in config.get(key, []) if is_url(loc)]
        skipped += [loc for loc in config.get(key, []) if not is_url(loc)]
        if urls:
            env[var] = urls[0] if key == "index-url" else " ".join(urls)
    return env, skipped


def containers_conf(hard_nofile: int, hard_nproc: int, cgroup2: bool) -> str | None:
    """The containers.conf this host needs, or None when podman's defaults work."""
    lines = []
    limited = 0 <= hard_nofile < PODMAN_NOFILE
    if limited:
        nofile = min(hard_nofile, 20000)
        nproc = hard_nproc if hard_nproc >= 0 else 32768
        nproc = min(nproc, 32768)
        lines += [
            "[containers]",
            f'default_ulimits = ["nofile={nofile}:{nofile}", "nproc={nproc}:{nproc}"]',
        ]
    if not cgroup2:
        lines += ["[engine]", 'runtime = "runc"']
    return "\n".join(lines) + "\n" if lines else None


def main(argv: list[str]) -> int:
    if argv[:1] == ["index"]:  # stdin: `pip config list`; stdout: shell exports
        env, skipped = uv_index_env(parse_pip_config(sys.stdin.read()))
        for var, value in env.items():
            sys.stdout.write(f"export {var}='{value}'\n")
        for loc in skipped:
            sys.stderr.write(
                f"image: pip index {loc} is a local path, not visible to the image build; skipped\n"
            )
        return 0
    if argv[:1] == ["containers-conf"] and len(argv) == 2:  # prints the path when one is needed
        hard_nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        hard_nproc = resource.getrlimit(resource.RLIMIT_NPROC)[1]
        cgroup2 = Path("/sys/fs/cgroup/cgroup.controllers").is_file()
        text = containers_conf(hard_nofile, hard_nproc, cgroup2)
        if text:
            Path(argv[1]).parent.mkdir(parents=True, exist_ok=True)
            Path(argv[1]).write_text(text)
            sys.stdout.write(argv[1] + "\n")
        return 0
    sys.stderr.write("usage: image_env.py index < pip-config | containers-conf PATH\n")
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
