import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="session", autouse=True)
def cache_dir(tmp_path_factory):
    """Kernel binaries go to a temporary cache, never to $HOME."""
    old = os.environ.get("H5CL_CACHE_DIR")
    os.environ["H5CL_CACHE_DIR"] = str(tmp_path_factory.mktemp("h5cl-cache"))
    yield os.environ["H5CL_CACHE_DIR"]
    if old is None:
        os.environ.pop("H5CL_CACHE_DIR", None)
    else:
        os.environ["H5CL_CACHE_DIR"] = old


@pytest.fixture(autouse=True)
def no_bars():
    import h5cl
    h5cl.set_progress(False)
    yield
    h5cl.set_progress(None)


@pytest.fixture(autouse=True)
def no_run_left_behind():
    """A run's worker thread must have ended when its call returns or
    raises: one left running would use a context that is being freed."""
    import threading
    yield
    alive = [t.name for t in threading.enumerate() if t.name == "h5cl-run"]
    assert not alive, "h5cl-run threads still alive: %r" % alive
