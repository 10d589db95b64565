"""digits data download against a local HTTP server: verified, atomic, resumable, honest errors."""

from __future__ import annotations

import hashlib
import http.server
import os
import shutil
import socket
import threading
from contextlib import contextmanager
from pathlib import Path

import pytest
from support.data import synthetic_digits, write_mnist_dir

from neuraldigits.cli import main
from neuraldigits.data.download import (
    MIRRORS,
    OFFICIAL,
    DownloadError,
    FileSpec,
    check_file,
    default_mirrors,
    download_mnist,
)
from neuraldigits.data.idx import write_idx
from neuraldigits.data.mnist import FILES, load_mnist


class _Handler(http.server.BaseHTTPRequestHandler):
    """Serves ``server.files``; ``server.modes[name]`` makes it misbehave on purpose."""

    def do_GET(self):  # noqa: N802 - the name http.server dispatches on
        name = self.path.rsplit("/", 1)[-1]
        self.server.requests.append((name, self.headers.get("Range")))
        body = self.server.files.get(name)
        mode = self.server.modes.get(name, "ok")
        if body is None or mode == "404":
            self.send_error(404)
            return
        if mode == "corrupt":
            body = body[:-1] + bytes([body[-1] ^ 1])
        start = 0
        ranged = self.headers.get("Range")
        if ranged and mode in ("drop_once", "ok"):
            start = int(ranged.split("=")[1].rstrip("-"))
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(body) - start))
        self.end_headers()
        if mode == "drop" or (mode == "drop_once" and not ranged):
            # Half the file, then the connection goes away.
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.wfile.write(body[start:])

    def log_message(self, *args):
        pass


@contextmanager
def serving(files: dict[str, bytes], modes: dict[str, str] | None = None):
    """A mirror on 127.0.0.1 serving ``files``; yields (base URL, server)."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.files, server.modes, server.requests = files, dict(modes or {}), []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/mnist/", server
    finally:
        server.shutdown()
        server.server_close()


def closed_port_url() -> str:
    """A URL on 127.0.0.1 where nothing listens: connection refused at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/mnist/"


@pytest.fixture(scope="module")
def small_files(tmp_path_factory) -> tuple[dict[str, bytes], dict[str, FileSpec]]:
    """Four small synthetic MNIST-format .gz files and specs carrying their real hashes."""
    directory = write_mnist_dir(tmp_path_factory.mktemp("mirror"), n_train=300, n_test=60)
    files, specs = {}, {}
    for key, name in FILES.items():
        body = (directory / (name + ".gz")).read_bytes()
        files[name + ".gz"] = body
        specs[key] = FileSpec(name + ".gz", len(body), hashlib.sha256(body).hexdigest())
    return files, specs


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


def test_good_run_verifies_and_reports_progress(small_files, tmp_path):
    files, specs = small_files
    seen = []
    with serving(files) as (url, _):
        results = download_mnist(
            tmp_path / "cache", mirrors=[url], files=specs, progress=lambda *a: seen.append(a)
        )
    assert [r.url for r in results] == [url + s.name for s in specs.values()]
    assert leftovers(tmp_path / "cache") == sorted(files)  # no temporary files left
    for spec in specs.values():
        assert (tmp_path / "cache" / spec.name).read_bytes() == files[spec.name]
        done = [d for name, d, total in seen if name == spec.name]
        assert done == sorted(done) and done[-1] == spec.size
    (train_x, _), _, (test_x, _) = load_mnist(tmp_path / "cache")
    assert train_x.shape == (250, 784) and test_x.shape == (60, 784)


def test_rerun_keeps_verified_files_and_replaces_corrupt_ones(small_files, tmp_path):
    files, specs = small_files
    cache = tmp_path / "cache"
    with serving(files) as (url, server):
        download_mnist(cache, mirrors=[url], files=specs)
        broken = cache / specs["test_labels"].name
        broken.write_bytes(b"version https://git-lfs.github.com/spec/v1\n")
        server.requests.clear()
        results = download_mnist(cache, mirrors=[url], files=specs)
    assert [name for name, _ in server.requests] == [specs["test_labels"].name]
    assert [r.url is None for r in results] == [True, True, True, False]
    assert broken.read_bytes() == files[broken.name]


def test_corrupt_file_is_refused_and_the_next_mirror_used(small_files, tmp_path):
    files, specs = small_files
    name = specs["train_images"].name
    logged = []
    with serving(files, {name: "corrupt"}) as (bad, _), serving(files) as (good, _):
        results = download_mnist(tmp_path, mirrors=[bad, good], files=specs, log=logged.append)
    assert results[0].url == good + name
    assert (tmp_path / name).read_bytes() == files[name]
    assert len(logged) == 1 and "corrupt" in logged[0] and "SHA-256" in logged[0]


def test_corrupt_everywhere_leaves_nothing_in_the_cache(small_files, tmp_path):
    files, specs = small_files
    name = specs["train_images"].name
    with serving(files, {name: "corrupt"}) as (url, _):
        with pytest.raises(DownloadError, match="corrupt, SHA-256") as e:
            download_mnist(tmp_path / "cache", mirrors=[url], files=specs)
    assert name in str(e.value)
    assert leftovers(tmp_path / "cache") == []  # neither the file nor a temporary one


def test_connection_dropped_mid_transfer_leaves_no_partial_file(small_files, tmp_path):
    files, specs = small_files
    name = specs["train_images"].name
    with serving(files, {name: "drop"}) as (url, server):
        with pytest.raises(DownloadError, match="connection") as e:
            download_mnist(tmp_path / "cache", mirrors=[url], files=specs)
    assert url + name in str(e.value)
    assert leftovers(tmp_path / "cache") == []
    # It tried to resume (a Range request) before giving up on the mirror.
    assert any(r for n, r in server.requests if n == name)


def test_dropped_connection_is_resumed_with_a_range_request(small_files, tmp_path):
    files, specs = small_files
    name = specs["train_images"].name
    with serving(files, {name: "drop_once"}) as (url, server):
        download_mnist(tmp_path, mirrors=[url], files=specs)
    half = len(files[name]) // 2
    assert [r for n, r in server.requests if n == name] == [None, f"bytes={half}-"]
    assert (tmp_path / name).read_bytes() == files[name]


def test_every_mirror_failing_lists_what_was_tried(small_files, tmp_path):
    files, specs = small_files
    name = specs["train_images"].name
    refused = closed_port_url()
    with (
        serving(files, {name: "404"}) as (missing, _),
        serving(files, {name: "drop"}) as (
            dropping,
            _,
        ),
    ):
        with pytest.raises(DownloadError) as e:
            download_mnist(tmp_path / "c", mirrors=[refused, missing, dropping], files=specs)
    message = str(e.value)
    assert "from any of 3 mirrors" in message
    assert f"{refused}{name}: unreachable" in message
    assert f"{missing}{name}: HTTP 404" in message
    assert f"{dropping}{name}: connection" in message
    assert leftovers(tmp_path / "c") == []


def test_a_server_sending_the_wrong_size_is_refused(small_files, tmp_path):
    files, specs = small_files
    name = specs["test_labels"].name
    longer = {**files, name: files[name] + b"\0" * 10}
    with serving(longer) as (url, _):
        with pytest.raises(DownloadError, match="official file has"):
            download_mnist(tmp_path, mirrors=[url], files=specs)
    assert not (tmp_path / name).exists()


def test_mirrors_must_be_http_urls(tmp_path):
    with pytest.raises(DownloadError, match="http"):
        download_mnist(tmp_path, mirrors=["ftp://example.org/"])


def test_mirrors_from_the_environment(monkeypatch):
    monkeypatch.setenv("NEURALDIGITS_MIRRORS", "http://127.0.0.1:1/a/ http://127.0.0.1:1/b/")
    assert default_mirrors() == ["http://127.0.0.1:1/a/", "http://127.0.0.1:1/b/"]
    monkeypatch.delenv("NEURALDIGITS_MIRRORS")
    assert default_mirrors() == list(MIRRORS)


def test_check_file_tells_official_readable_and_bad(tmp_path, mnist_dir):
    for key, spec in OFFICIAL.items():
        assert check_file(mnist_dir / spec.name, key).status == "official"
    # The same content un-gzipped is still recognised as official.
    raw = tmp_path / "t10k-labels-idx1-ubyte"
    import gzip

    raw.write_bytes(gzip.decompress((mnist_dir / OFFICIAL["test_labels"].name).read_bytes()))
    assert check_file(raw, "test_labels").status == "official"
    images, labels = synthetic_digits(5)
    write_idx(tmp_path / "other", labels)
    assert check_file(tmp_path / "other", "test_labels").status == "readable"
    (tmp_path / "bad").write_bytes(b"\0\0\x08\x01\0\0\0\x09abc")
    check = check_file(tmp_path / "bad", "test_labels")
    assert check.status == "bad" and "truncated" in check.detail


def test_real_files_through_the_cli(mnist_dir, tmp_path, capsys):
    files = {spec.name: (mnist_dir / spec.name).read_bytes() for spec in OFFICIAL.values()}
    with serving(files) as (url, _):
        assert main(["data", "download", "--dir", str(tmp_path), "--mirror", url]) == 0
    out = capsys.readouterr().out
    assert out.count("verified, downloaded from") == 4
    (train_x, _), _, (test_x, _) = load_mnist(tmp_path)
    assert train_x.shape == (50_000, 784) and test_x.shape == (10_000, 784)


def test_info_verify_flags_a_bad_file(tmp_path, monkeypatch, capsys, mnist_dir):
    data = tmp_path / "data"
    data.mkdir()
    for spec in OFFICIAL.values():
        os.symlink(mnist_dir / spec.name, data / spec.name)
    monkeypatch.setenv("NEURALDIGITS_DATA", str(data))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert main(["data", "info", "--verify"]) == 0
    out = capsys.readouterr().out
    assert out.count("OFFICIAL") == 4 and str(data) in out and "no such directory" in out
    (data / OFFICIAL["test_labels"].name).unlink()
    shutil.copy(mnist_dir / OFFICIAL["test_labels"].name, data / OFFICIAL["test_labels"].name)
    with open(data / OFFICIAL["test_labels"].name, "r+b") as f:
        f.truncate(1000)
    assert main(["data", "info", "--verify"]) == 1
    out = capsys.readouterr().out
    assert "BAD:" in out and "failed verification" in out


def test_info_without_verify_lists_what_is_missing(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("NEURALDIGITS_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    cache = tmp_path / "neuraldigits" / "mnist"
    cache.mkdir(parents=True)
    images, _ = synthetic_digits(3)
    write_idx(cache / "train-images-idx3-ubyte.gz", images, compress=True)
    assert main(["data", "info"]) == 0
    out = capsys.readouterr().out
    assert "train-images-idx3-ubyte.gz" in out and "missing: train-labels-idx1-ubyte[.gz]" in out
    assert "Download mirrors" in out and MIRRORS[0] in out
