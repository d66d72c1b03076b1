"""scripts/image_env.py: what `make image` passes to the lock as indexes, and when podman gets a
containers.conf (docs/deploy.md, "Building the images")."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

REPO_ROOT = Path(__file__).resolve().parents[2]


def load() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "image_env", REPO_ROOT / "scripts" / "image_env.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["image_env"] = module
    spec.loader.exec_module(module)
    return module


image_env = load()

THIS_HOST = """\
:env:.cert='/etc/ssl/certs/ca-certificates.crt'
:env:.find-links='/opt/wheels'
global.constraint='/etc/xdg/pip/constraints.txt'
global.extra-index-url='file:///opt/pypi/simple https://mirror.example/extra/simple'
global.find-links='/opt/wheels https://mirror.example/wheels/'
user.index-url='https://mirror.example/simple'
"""


def test_url_indexes_pass_to_uv_and_local_paths_are_skipped() -> None:
    env, skipped = image_env.uv_index_env(image_env.parse_pip_config(THIS_HOST))
    assert env == {
        "UV_INDEX_URL": "https://mirror.example/simple",
        "UV_EXTRA_INDEX_URL": "https://mirror.example/extra/simple",
    }  # the environment's find-links (/opt/wheels) wins over the file's, and is a path
    assert skipped == ["file:///opt/pypi/simple", "/opt/wheels"]


def test_the_environment_wins_over_config_files() -> None:
    config = image_env.parse_pip_config(
        ":env:.index-url='https://env.example/simple'\nglobal.index-url='https://file.example/simple'\n"
    )
    assert config == {"index-url": ["https://env.example/simple"]}


def test_no_pip_config_sets_nothing() -> None:
    assert image_env.uv_index_env(image_env.parse_pip_config("")) == ({}, [])


def test_containers_conf_only_where_needed() -> None:
    assert image_env.containers_conf(1048576, 4000000, cgroup2=True) is None
    limited = image_env.containers_conf(20000, 96362, cgroup2=True)
    assert limited is not None
    assert 'default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]' in limited
    assert "runc" not in limited
    hybrid = image_env.containers_conf(-1, -1, cgroup2=False)  # RLIM_INFINITY
    assert hybrid == '[engine]\nruntime = "runc"\n'


def test_lower_hard_limits_are_respected() -> None:
    text = image_env.containers_conf(4096, 1024, cgroup2=True)
    assert text is not None and '"nofile=4096:4096", "nproc=1024:1024"' in text
