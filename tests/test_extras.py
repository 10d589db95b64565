"""Install hints name a command that works for this copy (neuraldigits is not on PyPI)."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from importlib import metadata

import pytest

from neuraldigits import extras

REQUIRES = [
    "numpy>=1.24",
    'fastapi>=0.100; extra == "web"',
    'scipy>=1.9; extra == "web"',
    'numba>=0.59; extra == "numba"',
    'neuraldigits[numba]; extra == "bench"',
    'torch==2.13.0; extra == "bench"',
    'neuraldigits[bench,web]; extra == "test"',
    'neuraldigits[test]; extra == "loop"',
    'neuraldigits[loop]; extra == "test"',
]


class FakeDistribution:
    def __init__(self, direct_url):
        self.direct_url = direct_url
        self.requires = REQUIRES

    def read_text(self, name):
        assert name == "direct_url.json"
        return None if self.direct_url is None else json.dumps(self.direct_url)


@pytest.fixture
def installed(monkeypatch):
    def install(direct_url):
        monkeypatch.setattr(metadata, "distribution", lambda name: FakeDistribution(direct_url))

    return install


def test_from_a_checkout_the_hint_names_the_checkout(installed, tmp_path):
    (tmp_path / "pyproject.toml").write_text("")
    url = tmp_path.as_uri()
    installed({"url": url, "dir_info": {}})
    assert extras.install_hint("web") == "pip install " + shlex.quote(f"{tmp_path}[web]")
    installed({"url": url, "dir_info": {"editable": True}})
    assert extras.install_hint("web") == "pip install -e " + shlex.quote(f"{tmp_path}[web]")


@pytest.mark.parametrize(
    "direct_url",
    [
        None,  # from a wheel or an index
        {"url": "https://example.org/neuraldigits.tar.gz", "archive_info": {}},
        {"url": "file:///nowhere/any/more", "dir_info": {}},  # the checkout has gone
    ],
)
def test_elsewhere_the_hint_lists_the_extras_requirements(installed, direct_url):
    installed(direct_url)
    assert extras.install_hint("web") == "pip install 'fastapi>=0.100' 'scipy>=1.9'"
    # Extras naming extras are expanded, once each, even in a loop.
    assert extras.install_hint("test") == (
        "pip install 'numba>=0.59' torch==2.13.0 'fastapi>=0.100' 'scipy>=1.9'"
    )


def test_without_metadata_the_hint_is_the_checkout_form(monkeypatch):
    def missing(name):
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "distribution", missing)
    assert extras.install_hint("plot") == 'pip install ".[plot]" (in a checkout of neuraldigits)'


def test_no_message_suggests_installing_from_pypi():
    # The hint every "needs the X extra" message uses; never `pip install 'neuraldigits[X]'`.
    code = "from neuraldigits.extras import install_hint; print(install_hint('web'))"
    hint = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout
    assert hint.startswith("pip install ") and "neuraldigits[web]" not in shlex.split(hint)
