"""examples/quickstart.ipynb runs headless and fails the test on any cell
error: through a real Jupyter kernel with nbclient (which `make deps`
installs), else, where nbclient is missing, by executing its code cells in
order in one namespace with matplotlib's Agg backend."""
import json
import os
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
PACKAGE_ROOT = os.path.normpath(os.path.join(HERE, os.pardir))
NOTEBOOK = os.path.join(PACKAGE_ROOT, "examples", "quickstart.ipynb")


def code_cells(nb):
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] == "code":
            src = cell["source"]
            yield i, src if isinstance(src, str) else "".join(src)


def run_with_nbclient(nbclient, tmp_path, monkeypatch):
    import nbformat
    nb = nbformat.read(NOTEBOOK, as_version=4)
    # the kernel is a fresh process in tmp_path: it finds the package (and
    # H5CL_LIBRARY, set by make) through its environment
    path = os.environ.get("PYTHONPATH", "")
    monkeypatch.setenv("PYTHONPATH", PACKAGE_ROOT + (os.pathsep + path if path else ""))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    client = nbclient.NotebookClient(nb, timeout=120, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()  # raises CellExecutionError on the first failing cell


def run_with_exec(tmp_path, monkeypatch):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    monkeypatch.chdir(tmp_path)
    with open(NOTEBOOK, encoding="utf-8") as fh:
        nb = json.load(fh)
    ns = {"__name__": "__main__"}
    try:
        for i, src in code_cells(nb):
            try:
                exec(compile(src, "quickstart.ipynb cell %d" % i, "exec"), ns)
            except Exception as e:
                raise AssertionError("cell %d failed: %r\n%s" % (i, e, src)) from e
    finally:
        plt.close("all")


def test_quickstart_notebook(tmp_path, monkeypatch):
    pytest.importorskip("h5py")
    with open(NOTEBOOK, encoding="utf-8") as fh:
        nb = json.load(fh)
    assert nb["nbformat"] == 4
    cells = list(code_cells(nb))
    assert cells and not any(s.lstrip().startswith(("%", "!")) for _, s in cells)
    start = time.monotonic()
    try:
        import nbclient
    except ImportError:
        run_with_exec(tmp_path, monkeypatch)
    else:
        run_with_nbclient(nbclient, tmp_path, monkeypatch)
    assert (tmp_path / "speed.h5").exists()
    assert time.monotonic() - start < 120  # it is meant to take seconds
