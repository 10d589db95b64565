"""docs/tour.ipynb runs top to bottom in a real kernel: executed by nbclient, not just parsed.

The kernel is this interpreter (ipykernel's own spec for sys.executable), never
whatever ``python3`` kernel a user or system directory happens to hold.  The
data is what the notebook's ``load_data(download=False)`` finds: real MNIST
where ``$NEURALDIGITS_DATA`` is set (CI), else the sample shipped in the package.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat", reason="the test extra is not installed")
nbclient = pytest.importorskip("nbclient", reason="the test extra is not installed")
pytest.importorskip("ipykernel", reason="the notebook extra is not installed")

from ipykernel.kernelspec import RESOURCES, get_kernel_dict  # noqa: E402
from jupyter_client.kernelspec import KernelSpec, KernelSpecManager  # noqa: E402
from jupyter_client.manager import AsyncKernelManager  # noqa: E402
from traitlets import default  # noqa: E402

NOTEBOOK = Path(__file__).resolve().parent.parent / "docs" / "tour.ipynb"


class ThisPython(KernelSpecManager):
    """Every kernel name means ipykernel on the interpreter running the tests."""

    def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
        return KernelSpec(resource_dir=RESOURCES, **get_kernel_dict())


class ThisPythonKernel(AsyncKernelManager):
    """nbclient's kernel manager, with :class:`ThisPython`'s spec.  Given as a class, not an
    instance, so that nbclient owns it and shuts the kernel and its sockets down."""

    @default("kernel_spec_manager")
    def _this_python(self) -> KernelSpecManager:
        return ThisPython()


def _outputs(cell, kind: str) -> list:
    return [o for o in cell.get("outputs", []) if kind in o.get("data", {})]


def _text(cell) -> str:
    outputs = cell.get("outputs", [])
    return "".join(o.get("text", "") or o.get("data", {}).get("text/plain", "") for o in outputs)


def test_the_tour_is_stored_without_outputs():
    # Outputs are made by running it; stored ones would go stale (and bloat the repository).
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(not c.outputs and c.execution_count is None for c in code)


def test_the_tour_runs_top_to_bottom(tmp_path):
    nb = nbformat.read(NOTEBOOK, as_version=4)
    assert ThisPythonKernel(kernel_name="python3").kernel_spec.argv[0] == sys.executable
    client = nbclient.NotebookClient(
        nb,
        kernel_manager_class=ThisPythonKernel,
        kernel_name="python3",
        timeout=300,
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()  # raises CellExecutionError, with the cell and its traceback, on any error
    code = [c for c in nb.cells if c.cell_type == "code"]
    by_source = {c.source.splitlines()[-1]: c for c in code}
    assert "Network([784, 30, 10], cost='quadratic'" in _text(by_source["net"])
    assert "23,860 parameters" in _text(by_source["net.summary()"])
    assert "Trained: 3 epochs, mini-batch size 10, η = 3, seed 0" in _text(
        by_source["load(path).summary()"]
    )
    # The figures show inline, as pictures.
    assert _outputs(by_source["learning_curve(history)"], "image/png")
    assert _outputs(by_source["hidden_weights(net)"], "image/png")
    training = next(c for c in code if "progress=True" in c.source)
    assert "Epoch 2: " in _text(training)
    # tqdm.auto draws a widget where ipywidgets is installed (the notebook extra).
    if _has_ipywidgets():
        assert _outputs(training, "application/vnd.jupyter.widget-view+json")
    assert "the label says" in _text(code[-1])


def _has_ipywidgets() -> bool:
    try:
        import ipywidgets  # noqa: F401
    except ImportError:
        return False
    return True
