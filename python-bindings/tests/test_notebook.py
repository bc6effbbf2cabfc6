"""examples/quickstart.ipynb runs headless, without Jupyter: its code cells
are executed in order in one namespace, in a temporary folder, with
matplotlib's Agg backend."""
import json
import os
import time

import pytest

NOTEBOOK = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir,
                        "examples", "quickstart.ipynb")


def code_cells(path):
    with open(path, encoding="utf-8") as fh:
        nb = json.load(fh)
    assert nb["nbformat"] == 4
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] == "code":
            src = cell["source"]
            yield i, src if isinstance(src, str) else "".join(src)


def test_quickstart_notebook(tmp_path, monkeypatch):
    pytest.importorskip("h5py")
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    monkeypatch.chdir(tmp_path)
    cells = list(code_cells(NOTEBOOK))
    assert cells and not any(s.lstrip().startswith(("%", "!")) for _, s in cells)
    ns = {"__name__": "__main__"}
    start = time.monotonic()
    try:
        for i, src in cells:
            try:
                exec(compile(src, "quickstart.ipynb cell %d" % i, "exec"), ns)
            except Exception as e:
                raise AssertionError("cell %d failed: %r\n%s" % (i, e, src)) from e
    finally:
        plt.close("all")
    assert (tmp_path / "speed.h5").exists()
    assert time.monotonic() - start < 30  # it is meant to take a few seconds
