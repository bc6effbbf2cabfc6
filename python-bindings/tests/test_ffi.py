"""The ctypes mirrors against the header: every size and field offset, as a
C compiler sees them (skipped without one)."""
import ctypes
import os
import shutil
import subprocess

import pytest

from h5cl import _ffi

HEADER_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                          os.pardir, os.pardir, "include")

# ctypes class -> C type name; ctypes field names that differ from C's
STRUCTS = {
    _ffi.DeviceInfo: "h5cl_device_info",
    _ffi.DatasetInfo: "h5cl_dataset_info",
    _ffi.Binding: "h5cl_binding",
    _ffi.RunOptions: "h5cl_run_options",
    _ffi.StatsState: "h5cl_stats_state",
    _ffi.RunSummary: "h5cl_run_summary",
    _ffi.TileTiming: "h5cl_tile_timing",
    _ffi.HistOptions: "h5cl_hist_options",
    _ffi.MapOptions: "h5cl_map_options",
    _ffi.CfInfo: "h5cl_cf_info",
}
C_FIELD = {"with_": "with"}
CONSTANTS = {"MAX_RANK": "H5CL_MAX_RANK", "STAGE_COUNT": "H5CL_STAGE_COUNT",
             "STATS_STATE_BYTES": "H5CL_STATS_STATE_BYTES",
             "CF_MAX_FILL": "H5CL_CF_MAX_FILL",
             "CF_VALID_MIN": "H5CL_CF_VALID_MIN",
             "CF_VALID_MAX": "H5CL_CF_VALID_MAX",
             "CF_VALID_RANGE": "H5CL_CF_VALID_RANGE"}


# _ffi.CF_FLAGS names -> the header's flag macros
CF_FLAG_MACROS = {
    "_Unsigned": "H5CL_CF_UNSIGNED", "HDF5 fill value": "H5CL_CF_FILL_HDF5",
    "_FillValue": "H5CL_CF_FILL_VALUE", "missing_value": "H5CL_CF_MISSING_VALUE",
    "valid_range": "H5CL_CF_VALID_RANGE", "valid_min": "H5CL_CF_VALID_MIN",
    "valid_max": "H5CL_CF_VALID_MAX", "scale_factor": "H5CL_CF_SCALE",
    "add_offset": "H5CL_CF_OFFSET"}


def _compiler():
    for cc in (os.environ.get("CC"), "cc", "gcc", "clang"):
        if cc and shutil.which(cc):
            return cc
    return None


@pytest.fixture(scope="module")
def c_layout(tmp_path_factory):
    cc = _compiler()
    if cc is None or not os.path.exists(os.path.join(HEADER_DIR, "h5cl.h")):
        pytest.skip("no C compiler or no include/h5cl.h")
    lines = ['#include <stdio.h>', '#include <stddef.h>', '#include "h5cl.h"',
             "int main(void) {"]
    for cls, cname in STRUCTS.items():
        lines.append('printf("%s size %%zu\\n", sizeof(%s));'
                     % (cls.__name__, cname))
        for f, _ in cls._fields_:
            c = C_FIELD.get(f, f)
            lines.append('printf("%s %s %%zu\\n", offsetof(%s, %s));'
                         % (cls.__name__, f, cname, c))
    for py, c in CONSTANTS.items():
        lines.append('printf("const %s %%d\\n", (int)%s);' % (py, c))
    for label, c in CF_FLAG_MACROS.items():
        lines.append('printf("cf_flag %s %%d\\n", (int)%s);'
                     % (label.replace(" ", "_"), c))
    lines.append("return 0; }")
    d = tmp_path_factory.mktemp("layout")
    src, exe = d / "layout.c", d / "layout"
    src.write_text("\n".join(lines) + "\n")
    subprocess.run([cc, "-std=c99", "-I", HEADER_DIR, "-o", str(exe),
                    str(src)], check=True, capture_output=True)
    out = subprocess.run([str(exe)], check=True, capture_output=True,
                         text=True).stdout
    return {tuple(line.split()[:-1]): int(line.split()[-1])
            for line in out.splitlines()}


@pytest.mark.parametrize("cls", list(STRUCTS), ids=lambda c: c.__name__)
def test_struct_layout(c_layout, cls):
    assert ctypes.sizeof(cls) == c_layout[(cls.__name__, "size")]
    for f, _ in cls._fields_:
        assert getattr(cls, f).offset == c_layout[(cls.__name__, f)], f


def test_constants(c_layout):
    for py in CONSTANTS:
        assert getattr(_ffi, py) == c_layout[("const", py)], py


def test_cf_flags(c_layout):
    assert {n for _, n in _ffi.CF_FLAGS} == set(CF_FLAG_MACROS)
    for value, name in _ffi.CF_FLAGS:
        assert value == c_layout[("cf_flag", name.replace(" ", "_"))], name


def test_expected_sizes_table():
    """The table _ffi checks at import covers every mirrored struct."""
    assert set(_ffi.EXPECTED_SIZES) == set(STRUCTS)
