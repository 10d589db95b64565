"""Sweeps (neuraldigits.book.sweep, --jobs, --cluster): the results of a serial run."""

import re
import sys

import numpy as np
import pytest
from distributed import LocalCluster
from support.data import synthetic_digits

from neuraldigits.book import reproduce, sweep
from neuraldigits.book.experiments import output_encoding
from neuraldigits.cli import main


def flat(n, seed):
    images, labels = synthetic_digits(n, seed)
    return images.reshape(n, -1), labels.astype(np.int64)


def weighted_sum(images, labels, *, seed, scale):
    """A job: deterministic in its seed, reading the shared arrays."""
    rng = np.random.default_rng(seed)
    return float(scale * (images @ rng.random(images.shape[1])).sum() + labels.sum())


@pytest.fixture(scope="module")
def scheduler():
    """A Dask scheduler with two worker threads in this process, reachable over TCP."""
    with LocalCluster(
        n_workers=1, threads_per_worker=2, processes=False, protocol="tcp", host="127.0.0.1",
        dashboard_address="127.0.0.1:0",
    ) as cluster:  # fmt: skip
        yield cluster.scheduler_address


def test_jobs_return_in_order_with_progress_wherever_they_run(scheduler):
    data = flat(40, 0)
    jobs = [dict(seed=seed, scale=s) for seed in range(4) for s in (1.0, 2.0)]
    expected = [weighted_sum(*data, **job) for job in jobs]
    for where in (dict(), dict(workers=2), dict(cluster=scheduler)):
        heard = []
        results = sweep.run_jobs(
            weighted_sum, jobs, data=data, on_done=lambda *args, heard=heard: heard.append(args),
            **where,
        )  # fmt: skip
        assert results == expected, where
        assert [done for _, _, done, _ in heard] == list(range(1, 9))
        assert {total for *_, total in heard} == {8}
        assert sorted((index, result) for index, result, *_ in heard) == list(enumerate(expected))


@pytest.fixture(scope="module")
def sets():
    return flat(300, 1), flat(60, 3), flat(100, 2)


def same_measurements(a, b):
    assert [(r.key, r.correct, r.final, r.first, r.total) for r in a.rows] == [
        (r.key, r.correct, r.final, r.first, r.total) for r in b.rows
    ]
    for w, v in zip(a.best_net30.weights, b.best_net30.weights):
        np.testing.assert_array_equal(w, v)


def test_reproduce_over_processes_and_a_cluster_equals_the_serial_run(sets, scheduler):
    settings = dict(seeds=(0, 1), epochs=1, svm=False)
    serial = reproduce.run(*sets, **settings)
    heard = []
    on_cluster = reproduce.run(*sets, cluster=scheduler, on_progress=heard.append, **settings)
    same_measurements(serial, on_cluster)
    jobs = 2 * len(reproduce.TRAINING_SPECS + reproduce.CHAPTER3_SPECS)
    assert sum(text.startswith(f"[{jobs}/{jobs}] ") for text in heard) == 1
    same_measurements(serial, reproduce.run(*sets, workers=2, **settings))


def without_times(text):
    """A results file with its measured seconds and minutes taken out."""
    text = re.sub(r"\| \d+ s \|", "| s |", text)
    return re.sub(r"in \d+ minutes", "in minutes", text)


def test_cli_reproduce_on_a_cluster_writes_the_serial_accuracies(
    tiny_mnist_dir, tmp_path, scheduler, capsys
):
    args = ["reproduce", "--seeds", "2", "--epochs", "1", "--no-svm", "--data", str(tiny_mnist_dir)]
    assert main([*args, "--out", str(tmp_path / "serial.md")]) == 0
    assert main([*args, "--cluster", scheduler, "--out", str(tmp_path / "cluster.md")]) == 0
    assert main([*args, "--jobs", "2", "--out", str(tmp_path / "jobs.md")]) == 0
    printed = capsys.readouterr().out
    assert "[22/22] Chapter" in printed
    serial = without_times((tmp_path / "serial.md").read_text())
    assert "| Experiment | Book |" in serial
    for name in ("cluster.md", "jobs.md"):
        # The command recorded differs only in --out: the options of where to run are not
        # part of what was measured.
        text = without_times((tmp_path / name).read_text())
        assert text == serial.replace("serial.md", name)


def test_an_unreachable_scheduler_is_a_clear_error(tiny_mnist_dir, capsys, monkeypatch):
    monkeypatch.setattr(sweep, "CONNECT_SECONDS", 1)
    code = main(["reproduce", "--seeds", "1", "--epochs", "1", "--no-svm",
                 "--data", str(tiny_mnist_dir), "--cluster", "tcp://127.0.0.1:9"])  # fmt: skip
    assert code == 1
    err = capsys.readouterr().err
    assert "cannot reach the Dask scheduler at 'tcp://127.0.0.1:9'" in err


@pytest.mark.parametrize("option", [["--jobs", "2"], ["--cluster", "tcp://127.0.0.1:9"]])
def test_a_missing_joblib_is_refused_naming_the_extra(option, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "joblib", None)  # import joblib now raises ImportError
    assert main(["reproduce", "--data", str(tmp_path / "no-data"), *option]) == 1
    assert "needs joblib, the cluster extra: " in capsys.readouterr().err


def test_jobs_and_cluster_are_one_or_the_other(capsys):
    with pytest.raises(SystemExit):
        main(["reproduce", "--jobs", "2", "--cluster", "tcp://127.0.0.1:9"])
    assert "not allowed with argument" in capsys.readouterr().err
    with pytest.raises(ValueError, match="not both"):
        sweep.run_jobs(weighted_sum, [], workers=2, cluster="tcp://127.0.0.1:9")


def test_output_encoding_over_processes_and_a_cluster_equals_the_serial_run(sets, scheduler):
    training, _, test = sets
    settings = dict(hidden=10, epochs=2, seeds=(0, 1))
    serial = output_encoding.run(training, test, **settings)
    heard = []
    on_cluster = output_encoding.run(
        training, test, cluster=scheduler, on_progress=heard.append, **settings
    )
    assert on_cluster == serial  # every run's correct answers per epoch, and the bit layer
    assert sorted(text[:5] for text in heard) == ["[1/4]", "[2/4]", "[3/4]", "[4/4]"]
    assert output_encoding.run(training, test, workers=2, **settings) == serial


def test_cli_experiment_output_encoding_takes_jobs(tiny_mnist_dir, capsys):
    args = ["experiment", "output-encoding", "--data", str(tiny_mnist_dir), "--seeds", "2"]
    assert main([*args, "--epochs", "1", "--hidden", "10"]) == 0
    serial = capsys.readouterr().out
    assert main([*args, "--epochs", "1", "--hidden", "10", "--jobs", "2"]) == 0
    parallel = capsys.readouterr().out
    assert "[4/4] seed" in parallel

    def table(out):
        return out[out.index("Final test accuracy") :]

    assert table(parallel) == table(serial)


@pytest.mark.parametrize("address", ["nonsense", "http://10.0.0.5:8786", "tcp://10.0.0.5"])
def test_a_malformed_address_is_refused_before_any_data_is_read(address, tmp_path, capsys):
    missing = tmp_path / "no-data"  # never looked at: the address is refused first
    args = ["reproduce", "--data", str(missing), "--cluster", address]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert f"{address!r} is not a Dask scheduler address" in err and "tcp://HOST:PORT" in err
