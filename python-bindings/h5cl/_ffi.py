"""The one module that touches ctypes: loading libh5cl, struct mirrors of the
public header, and a prototype (argtypes/restype/errcheck) for every function.

Everything else in the package goes through the names defined here.
"""

import ctypes
import ctypes.util
import os

from . import errors

# ---------------------------------------------------------------------------
# Loading the library

_HERE = os.path.dirname(os.path.abspath(__file__))
_SONAMES = ("libh5cl.so", "libh5cl.so.0")


def _candidates():
    """Where the library is looked for, in order: (description, path)."""
    env = os.environ.get("H5CL_LIBRARY")
    if env:
        yield "$H5CL_LIBRARY", env
    for name in _SONAMES:
        yield "package folder", os.path.join(_HERE, name)
    build = os.path.normpath(os.path.join(_HERE, os.pardir, os.pardir, "build"))
    for name in _SONAMES:
        yield "source tree build folder", os.path.join(build, name)
    found = ctypes.util.find_library("h5cl")
    if found:
        yield "system path (find_library)", found
    yield "system path", "libh5cl.so.0"


def _load():
    tried = []
    for what, path in _candidates():
        if os.sep in path and not os.path.exists(path):
            tried.append("%s: %s (missing)" % (what, path))
            continue
        try:
            return ctypes.CDLL(path), path
        except OSError as e:
            tried.append("%s: %s (%s)" % (what, path, e))
    raise ImportError(
        "h5cl: cannot load libh5cl. Build it with `make` in the source tree, "
        "install it, or set H5CL_LIBRARY to its path. Looked in:\n  "
        + "\n  ".join(tried))


lib, library_path = _load()

# ---------------------------------------------------------------------------
# Constants mirrored from include/h5cl.h

MAX_RANK = 32
STAGE_COUNT = 6
STATS_STATE_BYTES = 96
# H5CL_FIG_*: the figures of a statistics run (h5cl_run_options.figures)
FIG_COUNT, FIG_SUM, FIG_VAR, FIG_MINMAX, FIG_ARG = 0x01, 0x02, 0x04, 0x08, 0x10
FIG_ALL = 0x1f
KIND_FLOAT, KIND_SIGNED, KIND_UNSIGNED = 0, 1, 2

# h5cl_dtype enum order
DTYPE_NAMES = ("int8", "uint8", "int16", "uint16", "int32", "uint32",
               "int64", "uint64", "float32", "float64")

# ---------------------------------------------------------------------------
# Opaque handle types, one per C handle


class CtxPtr(ctypes.c_void_p):
    pass


class DatasetPtr(ctypes.c_void_p):
    """An h5cl_dataset*; carries .ctx (its CtxPtr) so errors get the message."""


class StatsPtr(ctypes.c_void_p):
    pass


class HistPtr(ctypes.c_void_p):
    pass


class CovPtr(ctypes.c_void_p):
    pass


class PcaPtr(ctypes.c_void_p):
    pass


# ---------------------------------------------------------------------------
# Structures, field order and types exactly as in the header


class DeviceInfo(ctypes.Structure):
    _fields_ = [
        ("platform_index", ctypes.c_uint),
        ("device_index", ctypes.c_uint),
        ("type", ctypes.c_int),  # h5cl_device_type
        ("platform_name", ctypes.c_char * 128),
        ("device_name", ctypes.c_char * 128),
        ("vendor", ctypes.c_char * 128),
        ("driver_version", ctypes.c_char * 64),
        ("opencl_version", ctypes.c_char * 64),
        ("has_fp64", ctypes.c_int),
        ("host_unified_memory", ctypes.c_int),
        ("compute_units", ctypes.c_uint),
        ("global_mem_bytes", ctypes.c_uint64),
        ("max_alloc_bytes", ctypes.c_uint64),
        ("max_work_group_size", ctypes.c_size_t),
        ("is_default", ctypes.c_int),
    ]


class DatasetInfo(ctypes.Structure):
    _fields_ = [
        ("file", ctypes.c_char * 1024),
        ("path", ctypes.c_char * 1024),
        ("dtype", ctypes.c_int),  # h5cl_dtype
        ("big_endian", ctypes.c_int),
        ("rank", ctypes.c_int),
        ("dims", ctypes.c_uint64 * MAX_RANK),
        ("layout", ctypes.c_int),  # h5cl_layout
        ("chunk_dims", ctypes.c_uint64 * MAX_RANK),
        ("filters", ctypes.c_char * 256),
        ("element_count", ctypes.c_uint64),
        ("nbytes", ctypes.c_uint64),
        ("storage_bytes", ctypes.c_uint64),
    ]


PROGRESS_FN = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_uint64, ctypes.c_uint64,
                               ctypes.c_uint64, ctypes.c_void_p)
VISIT_FN = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_char_p, ctypes.c_int,
                            ctypes.c_void_p)


class Binding(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("ds", ctypes.c_void_p)]


class RunOptions(ctypes.Structure):
    # Fields are only ever appended; a library older than a field sets a
    # smaller struct_size in h5cl_run_options_init() and never reads it.
    _fields_ = [
        ("struct_size", ctypes.c_size_t),
        ("tile_bytes", ctypes.c_uint64),
        ("slots", ctypes.c_uint),
        ("axis", ctypes.c_int),
        ("select", ctypes.c_char_p),
        ("trace_path", ctypes.c_char_p),
        ("progress", PROGRESS_FN),
        ("progress_user", ctypes.c_void_p),
        ("timeline", ctypes.c_int),
        ("expr", ctypes.c_char_p),
        ("name", ctypes.c_char_p),
        ("with_", ctypes.POINTER(Binding)),
        ("nwith", ctypes.c_size_t),
        ("mask_fill", ctypes.c_int),
        ("cf", ctypes.c_int),
        ("figures", ctypes.c_uint),
    ]


class HistOptions(ctypes.Structure):
    _fields_ = [
        ("struct_size", ctypes.c_size_t),
        ("bins", ctypes.c_uint32),
        ("range_set", ctypes.c_int),
        ("lo", ctypes.c_double),
        ("hi", ctypes.c_double),
        ("range_state", ctypes.c_void_p),  # const h5cl_stats_state *
    ]


class MapOptions(ctypes.Structure):
    _fields_ = [
        ("struct_size", ctypes.c_size_t),
        ("out_file", ctypes.c_char_p),
        ("out_path", ctypes.c_char_p),
        ("dtype", ctypes.c_int),  # an h5cl_dtype; -1: the expression's
        ("gzip", ctypes.c_int),
        ("shuffle", ctypes.c_int),
        ("overwrite", ctypes.c_int),
        ("chunk_rank", ctypes.c_int),
        ("chunk_dims", ctypes.c_uint64 * MAX_RANK),
    ]


class Scalar(ctypes.Union):
    _fields_ = [("f", ctypes.c_double), ("i", ctypes.c_int64),
                ("u", ctypes.c_uint64)]


class StatsState(ctypes.Structure):
    _fields_ = [
        ("kind", ctypes.c_int32),
        ("overflow", ctypes.c_int32),
        ("count", ctypes.c_uint64),
        ("nan_count", ctypes.c_uint64),
        ("sum", Scalar),
        ("sum_comp", ctypes.c_double),
        ("sum_hi", ctypes.c_int64),
        ("mean", ctypes.c_double),
        ("m2", ctypes.c_double),
        ("min", Scalar),
        ("max", Scalar),
        ("argmin", ctypes.c_uint64),
        ("argmax", ctypes.c_uint64),
        ("missing", ctypes.c_uint32),
    ]


class RunSummary(ctypes.Structure):
    _fields_ = [
        ("bytes", ctypes.c_uint64),
        ("bytes_written", ctypes.c_uint64),
        ("tiles", ctypes.c_uint64),
        ("tile_bytes", ctypes.c_uint64),
        ("slots", ctypes.c_uint),
        ("seconds", ctypes.c_double),
        ("stage_seconds", ctypes.c_double * STAGE_COUNT),
        ("overlap", ctypes.c_double),
        ("zero_copy", ctypes.c_int),
        ("masked", ctypes.c_uint64),
        ("bytes_direct", ctypes.c_uint64),
        ("read_threads", ctypes.c_uint),
        ("bytes_mapped", ctypes.c_uint64),
    ]


CF_MAX_FILL = 8
# h5cl_cf_info.flags, in the order the CLI names them
CF_FLAGS = (
    (0x100, "_Unsigned"),
    (0x001, "HDF5 fill value"),
    (0x002, "_FillValue"),
    (0x004, "missing_value"),
    (0x020, "valid_range"),
    (0x008, "valid_min"),
    (0x010, "valid_max"),
    (0x040, "scale_factor"),
    (0x080, "add_offset"),
)
CF_VALID_MIN, CF_VALID_MAX, CF_VALID_RANGE = 0x008, 0x010, 0x020


class CfInfo(ctypes.Structure):
    _fields_ = [
        ("flags", ctypes.c_uint),
        ("dtype", ctypes.c_int),
        ("raw_dtype", ctypes.c_int),
        ("value_dtype", ctypes.c_int),
        ("nfill", ctypes.c_uint),
        ("fill", Scalar * CF_MAX_FILL),
        ("fill_from", ctypes.c_uint * CF_MAX_FILL),
        ("valid_min", Scalar),
        ("valid_max", Scalar),
        ("scale_factor", ctypes.c_double),
        ("add_offset", ctypes.c_double),
    ]


class TileTiming(ctypes.Structure):
    _fields_ = [
        ("tile", ctypes.c_uint64),
        ("bytes", ctypes.c_uint64),
        ("begin", ctypes.c_double * STAGE_COUNT),
        ("end", ctypes.c_double * STAGE_COUNT),
    ]


# Sizes on LP64 (x86_64, aarch64 Linux), computed by hand from the header and
# checked by tests/test_ffi.py against a C compiler where one exists.
EXPECTED_SIZES = {
    DeviceInfo: 568,
    DatasetInfo: 2864,
    RunOptions: 112,  # 56 before `timeline`, 64 before `expr`, 96 before
                      # `mask_fill`, 104 before `figures`
    Binding: 16,
    StatsState: 104,  # 96 before `missing` (the byte form stays 96)
    RunSummary: 144,  # 136 before `bytes_mapped`
    CfInfo: 152,
    TileTiming: 112,
    HistOptions: 40,  # 32 before `range_state`
    MapOptions: 304,
}


def _check_sizes():
    if ctypes.sizeof(ctypes.c_void_p) != 8 or ctypes.sizeof(ctypes.c_long) != 8:
        return  # not LP64: the table does not apply
    for cls, size in EXPECTED_SIZES.items():
        if ctypes.sizeof(cls) != size:
            raise ImportError("h5cl: ctypes mirror %s is %d bytes, expected %d;"
                              " the bindings do not match the header"
                              % (cls.__name__, ctypes.sizeof(cls), size))


_check_sizes()

# ---------------------------------------------------------------------------
# Prototypes


def _message_for(args):
    """The context's detailed message for a failed call with these args."""
    for a in args:
        ctx = a if isinstance(a, CtxPtr) else getattr(a, "ctx", None)
        if isinstance(ctx, CtxPtr) and ctx.value:
            msg = lib.h5cl_ctx_errmsg(ctx)
            if msg:
                return msg.decode("utf-8", "replace")
    return None


def _errcheck_status(result, func, args):
    if result < 0:
        raise errors.from_status(result, _message_for(args))
    return result


def _proto(name, restype, argtypes, status=False, optional=False):
    """Declares one function; status=True raises on a negative return."""
    try:
        fn = getattr(lib, name)
    except AttributeError:
        if optional:
            return None
        raise ImportError("h5cl: %s lacks %s; rebuild the library"
                          % (library_path, name))
    fn.restype = restype
    fn.argtypes = argtypes
    if status:
        fn.errcheck = _errcheck_status
    return fn


_c = ctypes
P = ctypes.POINTER
_int, _cstr = _c.c_int, _c.c_char_p

h5cl_version = _proto("h5cl_version", _cstr, [])
h5cl_strerror = _proto("h5cl_strerror", _cstr, [_int])
h5cl_errname = _proto("h5cl_errname", _cstr, [_int])
h5cl_dtype_name = _proto("h5cl_dtype_name", _cstr, [_int])
h5cl_dtype_size = _proto("h5cl_dtype_size", _c.c_size_t, [_int])
h5cl_device_type_name = _proto("h5cl_device_type_name", _cstr, [_int])
h5cl_layout_name = _proto("h5cl_layout_name", _cstr, [_int])
h5cl_stage_name = _proto("h5cl_stage_name", _cstr, [_int])

h5cl_ctx_create = _proto("h5cl_ctx_create", _int, [P(CtxPtr)], status=True)
h5cl_ctx_destroy = _proto("h5cl_ctx_destroy", None, [CtxPtr])
h5cl_ctx_errmsg = _proto("h5cl_ctx_errmsg", _cstr, [CtxPtr])
h5cl_ctx_errcode = _proto("h5cl_ctx_errcode", _int, [CtxPtr])
h5cl_ctx_list_devices = _proto(
    "h5cl_ctx_list_devices", _int,
    [CtxPtr, P(DeviceInfo), _c.c_size_t, P(_c.c_size_t)], status=True)
h5cl_ctx_use_device = _proto("h5cl_ctx_use_device", _int, [CtxPtr, _cstr],
                             status=True)
h5cl_ctx_device = _proto("h5cl_ctx_device", _int, [CtxPtr, P(DeviceInfo)],
                         status=True)
h5cl_ctx_build_programs = _proto("h5cl_ctx_build_programs", _int, [CtxPtr],
                                 status=True)
h5cl_cancel = _proto("h5cl_cancel", None, [CtxPtr])

h5cl_dataset_open = _proto("h5cl_dataset_open", _int,
                           [CtxPtr, _cstr, _cstr, P(DatasetPtr)], status=True)
h5cl_dataset_close = _proto("h5cl_dataset_close", None, [DatasetPtr])
h5cl_dataset_get_info = _proto("h5cl_dataset_get_info", _int,
                               [DatasetPtr, P(DatasetInfo)], status=True)
h5cl_file_list_datasets = _proto("h5cl_file_list_datasets", _int,
                                 [CtxPtr, _cstr, VISIT_FN, _c.c_void_p],
                                 status=True)
h5cl_dataset_selection = _proto(
    "h5cl_dataset_selection", _int,
    [DatasetPtr, _cstr, P(_int), P(_c.c_uint64)], status=True)

h5cl_run_options_init = _proto("h5cl_run_options_init", None, [P(RunOptions)])

h5cl_stats_state_init = _proto("h5cl_stats_state_init", None,
                               [P(StatsState), _int])
h5cl_stats_state_merge = _proto("h5cl_stats_state_merge", _int,
                                [P(StatsState), P(StatsState)], status=True)
h5cl_stats_state_serialize = _proto("h5cl_stats_state_serialize", None,
                                    [P(StatsState), P(_c.c_ubyte)])
h5cl_stats_state_deserialize = _proto(
    "h5cl_stats_state_deserialize", _int,
    [P(_c.c_ubyte), _c.c_size_t, P(StatsState)], status=True)
h5cl_stats_state_sum = _proto("h5cl_stats_state_sum", _c.c_double,
                              [P(StatsState)])
h5cl_stats_state_mean = _proto("h5cl_stats_state_mean", _c.c_double,
                               [P(StatsState)])
h5cl_stats_state_var = _proto("h5cl_stats_state_var", _c.c_double,
                              [P(StatsState), _c.c_uint])
h5cl_stats_state_std = _proto("h5cl_stats_state_std", _c.c_double,
                              [P(StatsState), _c.c_uint])
h5cl_stats_state_min = _proto("h5cl_stats_state_min", _c.c_double,
                              [P(StatsState)])
h5cl_stats_state_max = _proto("h5cl_stats_state_max", _c.c_double,
                              [P(StatsState)])

h5cl_stats_compute = _proto("h5cl_stats_compute", _int,
                            [DatasetPtr, P(RunOptions), P(StatsPtr)],
                            status=True)
h5cl_stats_free = _proto("h5cl_stats_free", None, [StatsPtr])
h5cl_stats_count = _proto("h5cl_stats_count", _c.c_size_t, [StatsPtr])
h5cl_stats_shape = _proto("h5cl_stats_shape", _int,
                          [StatsPtr, P(_c.c_uint64)])
h5cl_stats_get = _proto("h5cl_stats_get", P(StatsState),
                        [StatsPtr, _c.c_size_t])
h5cl_stats_summary = _proto("h5cl_stats_summary", P(RunSummary), [StatsPtr])
# Newer than 0.1.0: None when the loaded library lacks it.
h5cl_stats_timeline = _proto("h5cl_stats_timeline", _c.c_size_t,
                             [StatsPtr, P(P(TileTiming))], optional=True)

HAS_TIMELINE = h5cl_stats_timeline is not None

# Expressions, histograms, quantiles, maps.  Declared optional so that the
# statistics still work with a library that predates them; need() names
# the missing function when one of these is called.
_u64p = P(_c.c_uint64)
h5cl_expr_check = _proto(
    "h5cl_expr_check", _int,
    [CtxPtr, _cstr, P(_cstr), P(_int), _c.c_size_t, P(_int)],
    status=True, optional=True)
h5cl_hist_options_init = _proto("h5cl_hist_options_init", None,
                                [P(HistOptions)], optional=True)
h5cl_hist_compute = _proto(
    "h5cl_hist_compute", _int,
    [DatasetPtr, P(RunOptions), P(HistOptions), P(HistPtr)],
    status=True, optional=True)
h5cl_hist_free = _proto("h5cl_hist_free", None, [HistPtr], optional=True)
h5cl_hist_bins = _proto("h5cl_hist_bins", _c.c_uint32, [HistPtr],
                        optional=True)
h5cl_hist_range = _proto(
    "h5cl_hist_range", None,
    [HistPtr, P(_c.c_double), P(_c.c_double), P(_int)], optional=True)
h5cl_hist_count = _proto("h5cl_hist_count", _c.c_size_t, [HistPtr],
                         optional=True)
h5cl_hist_shape = _proto("h5cl_hist_shape", _int, [HistPtr, _u64p],
                         optional=True)
h5cl_hist_counts = _proto("h5cl_hist_counts", _u64p, [HistPtr, _c.c_size_t],
                          optional=True)
h5cl_hist_outside = _proto(
    "h5cl_hist_outside", _int,
    [HistPtr, _c.c_size_t, _u64p, _u64p, _u64p], status=True, optional=True)
h5cl_hist_summary = _proto("h5cl_hist_summary", P(RunSummary), [HistPtr],
                           optional=True)
h5cl_hist_merge = _proto("h5cl_hist_merge", _int, [HistPtr, HistPtr],
                         status=True, optional=True)
h5cl_hist_serialized_size = _proto("h5cl_hist_serialized_size",
                                   _c.c_size_t, [HistPtr], optional=True)
h5cl_hist_serialize = _proto(
    "h5cl_hist_serialize", _int, [HistPtr, P(_c.c_ubyte), _c.c_size_t],
    status=True, optional=True)
h5cl_hist_deserialize = _proto(
    "h5cl_hist_deserialize", _int,
    [P(_c.c_ubyte), _c.c_size_t, P(HistPtr)], status=True, optional=True)
h5cl_quantile_compute = _proto(
    "h5cl_quantile_compute", _int,
    [DatasetPtr, P(RunOptions), P(_c.c_double), _c.c_size_t,
     P(_c.c_double), P(_c.c_uint)], status=True, optional=True)
h5cl_map_options_init = _proto("h5cl_map_options_init", None,
                               [P(MapOptions)], optional=True)
h5cl_map_run = _proto(
    "h5cl_map_run", _int,
    [DatasetPtr, P(RunOptions), P(MapOptions), P(RunSummary)],
    status=True, optional=True)
h5cl_dataset_cf_info = _proto(
    "h5cl_dataset_cf_info", _int, [DatasetPtr, _int, _int, P(CfInfo)],
    status=True, optional=True)
h5cl_stats_masked = _proto("h5cl_stats_masked", _c.c_uint64, [StatsPtr],
                           optional=True)

# Covariance, PCA, projections (optional like the above).
_dp = P(_c.c_double)
h5cl_cov_compute = _proto("h5cl_cov_compute", _int,
                          [DatasetPtr, P(RunOptions), P(CovPtr)],
                          status=True, optional=True)
h5cl_cov_free = _proto("h5cl_cov_free", None, [CovPtr], optional=True)
h5cl_cov_rows = _proto("h5cl_cov_rows", _c.c_uint64, [CovPtr], optional=True)
h5cl_cov_columns = _proto("h5cl_cov_columns", _c.c_size_t, [CovPtr],
                          optional=True)
h5cl_cov_mean = _proto("h5cl_cov_mean", _dp, [CovPtr], optional=True)
h5cl_cov_comoment = _proto("h5cl_cov_comoment", _dp, [CovPtr],
                           optional=True)
h5cl_cov_summary = _proto("h5cl_cov_summary", P(RunSummary), [CovPtr],
                          optional=True)
h5cl_cov_merge = _proto("h5cl_cov_merge", _int, [CovPtr, CovPtr],
                        status=True, optional=True)
h5cl_cov_serialized_size = _proto("h5cl_cov_serialized_size", _c.c_size_t,
                                  [CovPtr], optional=True)
h5cl_cov_serialize = _proto(
    "h5cl_cov_serialize", _int, [CovPtr, P(_c.c_ubyte), _c.c_size_t],
    status=True, optional=True)
h5cl_cov_deserialize = _proto(
    "h5cl_cov_deserialize", _int, [P(_c.c_ubyte), _c.c_size_t, P(CovPtr)],
    status=True, optional=True)
h5cl_pca_compute = _proto("h5cl_pca_compute", _int,
                          [CtxPtr, CovPtr, _c.c_size_t, P(PcaPtr)],
                          status=True, optional=True)
h5cl_pca_free = _proto("h5cl_pca_free", None, [PcaPtr], optional=True)
h5cl_pca_k = _proto("h5cl_pca_k", _c.c_size_t, [PcaPtr], optional=True)
h5cl_pca_columns = _proto("h5cl_pca_columns", _c.c_size_t, [PcaPtr],
                          optional=True)
h5cl_pca_components = _proto("h5cl_pca_components", _dp, [PcaPtr],
                             optional=True)
h5cl_pca_explained_variance = _proto("h5cl_pca_explained_variance", _dp,
                                     [PcaPtr], optional=True)
h5cl_pca_explained_variance_ratio = _proto(
    "h5cl_pca_explained_variance_ratio", _dp, [PcaPtr], optional=True)
h5cl_pca_mean = _proto("h5cl_pca_mean", _dp, [PcaPtr], optional=True)
h5cl_pca_project = _proto(
    "h5cl_pca_project", _int,
    [DatasetPtr, P(RunOptions), PcaPtr, P(MapOptions), P(RunSummary)],
    status=True, optional=True)


def need(*names):
    """Raises NotImplementedError when the loaded library lacks one of the
    named (optional) functions."""
    missing = [n for n in names if globals().get(n) is None]
    if missing:
        raise NotImplementedError(
            "the loaded libh5cl (%s, %s) lacks %s; rebuild it"
            % (version(), library_path, ", ".join(missing)))


def text(b):
    """C string (bytes or None) to str."""
    return b.decode("utf-8", "replace") if b else ""


def stage_names():
    return [text(h5cl_stage_name(i)) for i in range(STAGE_COUNT)]


def _status_names():
    """{code: "H5CL_ERR_..."} for every status the library knows."""
    unknown = h5cl_errname(-1000000)
    names = {}
    for code in range(0, -1000, -1):
        name = h5cl_errname(code)
        if name == unknown:
            break
        names[code] = text(name)
    return names


STATUS_NAMES = _status_names()
errors.install(STATUS_NAMES, lambda code: text(h5cl_strerror(code)))


# ---------------------------------------------------------------------------
# Thin Python-level wrappers: the rest of the package calls these and never
# sees a ctypes object other than the opaque handles.


def _struct_dict(s):
    out = {}
    for name, _ in s._fields_:
        v = getattr(s, name)
        if isinstance(v, bytes):
            v = text(v)
        elif isinstance(v, ctypes.Array):
            v = list(v)
        out[name] = v
    return out


def ctx_create():
    ctx = CtxPtr()
    h5cl_ctx_create(ctypes.byref(ctx))
    return ctx


def ctx_destroy(ctx):
    h5cl_ctx_destroy(ctx)


def cancel(ctx):
    h5cl_cancel(ctx)


def list_devices(ctx):
    n = ctypes.c_size_t(0)
    h5cl_ctx_list_devices(ctx, None, 0, ctypes.byref(n))
    arr = (DeviceInfo * max(n.value, 1))()
    h5cl_ctx_list_devices(ctx, arr, n.value, ctypes.byref(n))
    out = []
    for i in range(n.value):
        d = _struct_dict(arr[i])
        d["type"] = text(h5cl_device_type_name(arr[i].type))
        out.append(d)
    return out


def use_device(ctx, spec):
    h5cl_ctx_use_device(ctx, spec.encode() if spec is not None else None)


def ctx_device(ctx):
    info = DeviceInfo()
    h5cl_ctx_device(ctx, ctypes.byref(info))
    d = _struct_dict(info)
    d["type"] = text(h5cl_device_type_name(info.type))
    return d


def build_programs(ctx):
    h5cl_ctx_build_programs(ctx)


def dataset_open(ctx, file, path):
    ds = DatasetPtr()
    ds.ctx = ctx
    h5cl_dataset_open(ctx, os.fsencode(file), path.encode(), ctypes.byref(ds))
    return ds


def dataset_close(ds):
    h5cl_dataset_close(ds)


def dataset_info(ds):
    info = DatasetInfo()
    h5cl_dataset_get_info(ds, ctypes.byref(info))
    d = _struct_dict(info)
    r = info.rank
    d["dims"] = tuple(int(x) for x in info.dims[:r])
    d["chunk_dims"] = tuple(int(x) for x in info.chunk_dims[:r])
    d["dtype"] = DTYPE_NAMES[info.dtype] if 0 <= info.dtype < 10 else "unknown"
    d["layout"] = text(h5cl_layout_name(info.layout))
    return d


def selection_shape(ds, select):
    rank = ctypes.c_int(0)
    dims = (ctypes.c_uint64 * MAX_RANK)()
    h5cl_dataset_selection(ds, select.encode() if select else None,
                           ctypes.byref(rank), dims)
    return tuple(int(x) for x in dims[:rank.value])


def list_datasets(ctx, file):
    """[(path, supported)] in the library's order (depth-first, by name)."""
    found = []

    def visit(path, supported, user):
        found.append((text(path), bool(supported)))
        return 0

    cb = VISIT_FN(visit)
    h5cl_file_list_datasets(ctx, os.fsencode(file), cb, None)
    return found


def make_progress(fn):
    """C progress callback around fn(tiles_done, tiles_total, bytes_done)
    -> truthy to cancel.  Keep the returned object alive during the run."""
    def tramp(done, total, nbytes, user):
        return 1 if fn(done, total, nbytes) else 0
    return PROGRESS_FN(tramp)


def run_options(axis=-1, select=None, tile_bytes=0, slots=0, progress=None,
                timeline=False, trace_path=None, expr=None, name=None,
                bindings=(), mask_fill=False, cf=False, figures=0):
    """A filled RunOptions.  progress is a make_progress() object; bindings
    is a sequence of (name, DatasetPtr) bound besides the dataset the op
    runs on (itself bound to name); figures: FIG_* flags of a statistics
    run (0: all).  The returned struct references everything it points to
    (ctypes keeps the objects in its _objects)."""
    if (mask_fill or cf) and h5cl_dataset_cf_info is None:
        need("h5cl_dataset_cf_info")
    opts = RunOptions()
    h5cl_run_options_init(ctypes.byref(opts))
    opts.axis = axis
    opts.select = select.encode() if select else None
    opts.tile_bytes = tile_bytes
    opts.slots = slots
    opts.trace_path = os.fsencode(trace_path) if trace_path else None
    if progress is not None:
        opts.progress = progress
    if timeline and HAS_TIMELINE:
        opts.timeline = 1
    if expr is not None:
        opts.expr = expr.encode()
        opts.name = name.encode() if name else None
    opts.mask_fill = 1 if mask_fill else 0
    opts.cf = 1 if cf else 0
    opts.figures = figures
    if bindings:
        arr = (Binding * len(bindings))()
        for i, (n, ds) in enumerate(bindings):
            arr[i].name = n.encode()
            arr[i].ds = ds.value
        opts.with_ = arr
        opts.nwith = len(bindings)
    return opts


def stats_compute(ds, axis=-1, select=None, tile_bytes=0, slots=0,
                  progress=None, timeline=False, trace_path=None, expr=None,
                  name=None, bindings=(), mask_fill=False, cf=False,
                  figures=0):
    """Runs h5cl_stats_compute; progress is a make_progress() object.
    Blocks (the GIL is released); returns a StatsPtr to free."""
    opts = run_options(axis, select, tile_bytes, slots, progress, timeline,
                       trace_path, expr, name, bindings, mask_fill, cf,
                       figures)
    st = StatsPtr()
    h5cl_stats_compute(ds, ctypes.byref(opts), ctypes.byref(st))
    return st


def stats_free(st):
    h5cl_stats_free(st)


def _summary(ptr):
    """A P(RunSummary) (may be NULL) as a dict."""
    return _struct_dict(ptr.contents) if ptr else {}


def stats_read(st):
    """(shape, raw state bytes (count * sizeof(StatsState)), summary dict,
    timeline) of a
    result; timeline is None when the library has none."""
    n = h5cl_stats_count(st)
    dims = (ctypes.c_uint64 * MAX_RANK)()
    rank = h5cl_stats_shape(st, dims)
    shape = tuple(int(x) for x in dims[:max(rank, 0)])
    size = ctypes.sizeof(StatsState)
    chunks = []
    if n:
        first = ctypes.addressof(h5cl_stats_get(st, 0).contents)
        last = ctypes.addressof(h5cl_stats_get(st, n - 1).contents)
        if last - first == (n - 1) * size:  # one array: copy at once
            chunks.append(ctypes.string_at(first, n * size))
        else:
            for i in range(n):
                chunks.append(ctypes.string_at(
                    ctypes.addressof(h5cl_stats_get(st, i).contents), size))
    summary = _summary(h5cl_stats_summary(st))
    if h5cl_stats_masked is not None:
        summary["masked"] = int(h5cl_stats_masked(st))
    timeline = None
    if HAS_TIMELINE:
        ptr = P(TileTiming)()
        k = h5cl_stats_timeline(st, ctypes.byref(ptr))
        names = stage_names()
        timeline = {"tile": [], "bytes": []}
        for s in names:
            timeline[s + "_begin"] = []
            timeline[s + "_end"] = []
        for i in range(k if ptr else 0):
            t = ptr[i]
            timeline["tile"].append(int(t.tile))
            timeline["bytes"].append(int(t.bytes))
            for j, s in enumerate(names):
                timeline[s + "_begin"].append(float(t.begin[j]))
                timeline[s + "_end"].append(float(t.end[j]))
    return shape, b"".join(chunks), summary, timeline


def state_figures(raw, ddof=0):
    """The C library's own derived figures of one serialised-in-memory state
    (its raw struct bytes): used to cross-check the vectorised numpy path."""
    s = StatsState.from_buffer_copy(raw)
    p = ctypes.byref(s)
    return {"sum": h5cl_stats_state_sum(p), "mean": h5cl_stats_state_mean(p),
            "var": h5cl_stats_state_var(p, ddof),
            "std": h5cl_stats_state_std(p, ddof),
            "min": h5cl_stats_state_min(p), "max": h5cl_stats_state_max(p)}


# ---- expressions


def dtype_code(name):
    """The h5cl_dtype of a dtype name ("float32"); ValueError otherwise."""
    try:
        return DTYPE_NAMES.index(name)
    except ValueError:
        raise ValueError("h5cl has no element type %r; it reads and writes "
                         "%s" % (name, ", ".join(DTYPE_NAMES))) from None


def expr_check(ctx, expr, names, dtypes):
    """The default result dtype name of expr over names[i] of dtypes[i]
    (names); raises ExpressionError with the library's message."""
    need("h5cl_expr_check")
    n = len(names)
    c_names = (_cstr * max(n, 1))(*[x.encode() for x in names])
    c_types = (_int * max(n, 1))(*[dtype_code(t) for t in dtypes])
    result = _int(-1)
    h5cl_expr_check(ctx, expr.encode(), c_names, c_types, n,
                    ctypes.byref(result))
    return DTYPE_NAMES[result.value]


# ---- histograms


def hist_compute(ds, bins, lo_hi=None, range_state=None, **run):
    """Runs h5cl_hist_compute (run: run_options() arguments); returns a
    HistPtr to free.  lo_hi None: the range of the data, or the data rule
    applied to range_state (a StatsState: the whole selection's, when ds
    runs a share)."""
    need("h5cl_hist_compute", "h5cl_hist_options_init")
    opts = run_options(**run)
    hopts = HistOptions()
    h5cl_hist_options_init(ctypes.byref(hopts))
    hopts.bins = bins
    if lo_hi is not None:
        hopts.range_set = 1
        hopts.lo, hopts.hi = lo_hi
    elif range_state is not None:
        hopts.range_state = ctypes.addressof(range_state)
    h = HistPtr()
    h5cl_hist_compute(ds, ctypes.byref(opts), ctypes.byref(hopts),
                      ctypes.byref(h))
    return h


def hist_free(h):
    if h5cl_hist_free is not None:
        h5cl_hist_free(h)


def hist_read(h):
    """Everything in a histogram, copied out: a dict with bins, lo, hi,
    from_data, shape (of the positions), counts (raw native uint64 bytes,
    count * bins), nan/under/over (lists, one per position), summary
    (dict), state (the serialised bytes)."""
    bins = int(h5cl_hist_bins(h))
    lo, hi, from_data = _c.c_double(), _c.c_double(), _int()
    h5cl_hist_range(h, ctypes.byref(lo), ctypes.byref(hi),
                    ctypes.byref(from_data))
    n = h5cl_hist_count(h)
    dims = (_c.c_uint64 * MAX_RANK)()
    rank = h5cl_hist_shape(h, dims)
    row = bins * 8
    chunks = []
    if n and bins:
        first = ctypes.addressof(h5cl_hist_counts(h, 0).contents)
        last = ctypes.addressof(h5cl_hist_counts(h, n - 1).contents)
        if last - first == (n - 1) * row:  # one array: copy at once
            chunks.append(ctypes.string_at(first, n * row))
        else:
            for i in range(n):
                chunks.append(ctypes.string_at(
                    ctypes.addressof(h5cl_hist_counts(h, i).contents), row))
    nan, under, over = [], [], []
    a, b, c = _c.c_uint64(), _c.c_uint64(), _c.c_uint64()
    for i in range(n):
        h5cl_hist_outside(h, i, ctypes.byref(a), ctypes.byref(b),
                          ctypes.byref(c))
        nan.append(a.value)
        under.append(b.value)
        over.append(c.value)
    return {"bins": bins, "lo": lo.value, "hi": hi.value,
            "from_data": bool(from_data.value),
            "shape": tuple(int(x) for x in dims[:max(rank, 0)]),
            "counts": b"".join(chunks), "nan": nan, "under": under,
            "over": over, "summary": _summary(h5cl_hist_summary(h)),
            "state": hist_serialize(h)}


def _serialize(size_fn, write_fn, obj):
    """The bytes of a partial state (histogram, covariance)."""
    size = size_fn(obj)
    buf = (_c.c_ubyte * max(size, 1))()
    write_fn(obj, buf, size)
    return bytes(buf)[:size]


def _deserialize(name, read_fn, ptr_type, data):
    """A new handle of ptr_type (to free) from serialised bytes; BadState
    if they are not a valid state."""
    need(name)
    data = bytes(data)
    buf = (_c.c_ubyte * max(len(data), 1)).from_buffer_copy(data or b"\0")
    obj = ptr_type()
    read_fn(buf, len(data), ctypes.byref(obj))
    return obj


def hist_serialize(h):
    return _serialize(h5cl_hist_serialized_size, h5cl_hist_serialize, h)


def hist_deserialize(data):
    """A HistPtr (to free) from serialised bytes; BadState if invalid."""
    return _deserialize("h5cl_hist_deserialize", h5cl_hist_deserialize,
                        HistPtr, data)


def hist_merge(into, frm):
    h5cl_hist_merge(into, frm)


# ---- quantiles


def quantile_compute(ds, qs, **run):
    """(values, passes): exact quantiles of the fractions qs (floats)."""
    need("h5cl_quantile_compute")
    opts = run_options(**run)
    n = len(qs)
    q = (_c.c_double * max(n, 1))(*qs)
    out = (_c.c_double * max(n, 1))()
    passes = _c.c_uint(0)
    h5cl_quantile_compute(ds, ctypes.byref(opts), q, n, out,
                          ctypes.byref(passes))
    return [float(out[i]) for i in range(n)], int(passes.value)


# ---- maps


def map_run(ds, out_file, out_path, dtype=None, gzip=0, shuffle=False,
            overwrite=False, chunks=None, **run):
    """Runs h5cl_map_run (run: run_options() arguments, expr required);
    returns the run summary as a dict."""
    need("h5cl_map_run", "h5cl_map_options_init")
    opts = run_options(**run)
    m = MapOptions()
    h5cl_map_options_init(ctypes.byref(m))
    m.out_file = os.fsencode(out_file)
    m.out_path = out_path.encode()
    m.dtype = -1 if dtype is None else dtype_code(dtype)
    m.gzip = gzip
    m.shuffle = 1 if shuffle else 0
    m.overwrite = 1 if overwrite else 0
    if chunks is False:
        m.chunk_rank = -1  # contiguous
    elif chunks is not None:
        if len(chunks) > MAX_RANK:
            raise ValueError("chunks has more than %d dimensions" % MAX_RANK)
        m.chunk_rank = len(chunks)
        for i, c in enumerate(chunks):
            m.chunk_dims[i] = c
    summary = RunSummary()
    h5cl_map_run(ds, ctypes.byref(opts), ctypes.byref(m),
                 ctypes.byref(summary))
    return _struct_dict(summary)


# ---- covariance and PCA


def _doubles(ptr, n):
    """n doubles at ptr, copied out as raw native bytes."""
    return ctypes.string_at(ptr, 8 * n) if n else b""


def cov_compute(ds, **run):
    """Runs h5cl_cov_compute (run: run_options() arguments); returns a
    CovPtr to free."""
    need("h5cl_cov_compute")
    opts = run_options(**run)
    c = CovPtr()
    h5cl_cov_compute(ds, ctypes.byref(opts), ctypes.byref(c))
    return c


def cov_free(c):
    if h5cl_cov_free is not None:
        h5cl_cov_free(c)


def cov_read(c):
    """A state copied out: a dict with rows, columns, mean and comoment
    (raw native float64 bytes), summary (dict) and state (the serialised
    bytes)."""
    p = int(h5cl_cov_columns(c))
    return {"rows": int(h5cl_cov_rows(c)), "columns": p,
            "mean": _doubles(h5cl_cov_mean(c), p),
            "comoment": _doubles(h5cl_cov_comoment(c), p * p),
            "summary": _summary(h5cl_cov_summary(c)),
            "state": cov_serialize(c)}


def cov_serialize(c):
    return _serialize(h5cl_cov_serialized_size, h5cl_cov_serialize, c)


def cov_deserialize(data):
    """A CovPtr (to free) from serialised bytes; BadState if invalid."""
    return _deserialize("h5cl_cov_deserialize", h5cl_cov_deserialize,
                        CovPtr, data)


def cov_merge(into, frm):
    h5cl_cov_merge(into, frm)


def pca_compute(ctx, c, k):
    """A PcaPtr (to free) of k components of the CovPtr c."""
    need("h5cl_pca_compute")
    pca = PcaPtr()
    h5cl_pca_compute(ctx, c, k, ctypes.byref(pca))
    return pca


def pca_free(pca):
    if h5cl_pca_free is not None:
        h5cl_pca_free(pca)


def pca_read(pca):
    """k, columns, and components / explained_variance / ratio / mean as
    raw native float64 bytes."""
    k, p = int(h5cl_pca_k(pca)), int(h5cl_pca_columns(pca))
    return {"k": k, "columns": p,
            "components": _doubles(h5cl_pca_components(pca), k * p),
            "explained_variance": _doubles(h5cl_pca_explained_variance(pca),
                                           k),
            "explained_variance_ratio": _doubles(
                h5cl_pca_explained_variance_ratio(pca), k),
            "mean": _doubles(h5cl_pca_mean(pca), p)}


def pca_project(ds, pca, out_file, out_path, overwrite=False, **run):
    """Runs h5cl_pca_project; returns the run summary as a dict."""
    need("h5cl_pca_project", "h5cl_map_options_init")
    opts = run_options(**run)
    m = MapOptions()
    h5cl_map_options_init(ctypes.byref(m))
    m.out_file = os.fsencode(out_file)
    m.out_path = out_path.encode()
    m.overwrite = 1 if overwrite else 0
    summary = RunSummary()
    h5cl_pca_project(ds, ctypes.byref(opts), pca, ctypes.byref(m),
                     ctypes.byref(summary))
    return _struct_dict(summary)


# ---- fill values and CF conventions


def _scalar_value(v, dtype_code):
    """An h5cl_scalar as a Python number of the kind of dtype_code."""
    name = DTYPE_NAMES[dtype_code]
    if name.startswith("float"):
        return float(v.f)
    return int(v.u) if name.startswith("uint") else int(v.i)


def dataset_cf_info(ds, cf=True, mask_fill=False):
    """What a run with these options decodes (h5cl_dataset_cf_info), as a
    dict: applied (attribute names), dtype, raw_dtype, decoded_dtype (dtype
    names), fill_values [(value, [sources])], valid_min, valid_max (None
    when absent), scale_factor, add_offset."""
    need("h5cl_dataset_cf_info")
    info = CfInfo()
    h5cl_dataset_cf_info(ds, 1 if cf else 0, 1 if mask_fill else 0,
                         ctypes.byref(info))
    raw = info.raw_dtype
    flags = info.flags
    ranged = flags & CF_VALID_RANGE
    applied = [n for f, n in CF_FLAGS if flags & f and not (
        ranged and f in (CF_VALID_MIN, CF_VALID_MAX))]
    fills = [(_scalar_value(info.fill[k], raw),
              [n for f, n in CF_FLAGS if info.fill_from[k] & f])
             for k in range(info.nfill)]
    return {"applied": applied, "flags": int(flags),
            "dtype": DTYPE_NAMES[info.dtype],
            "raw_dtype": DTYPE_NAMES[raw],
            "decoded_dtype": DTYPE_NAMES[info.value_dtype],
            "fill_values": fills,
            "valid_min": _scalar_value(info.valid_min, raw)
            if flags & CF_VALID_MIN else None,
            "valid_max": _scalar_value(info.valid_max, raw)
            if flags & CF_VALID_MAX else None,
            "scale_factor": float(info.scale_factor),
            "add_offset": float(info.add_offset)}


def version():
    return text(h5cl_version())


# ---------------------------------------------------------------------------
# Guards: strict mode and the warnings of an opened dataset

h5cl_ctx_set_strict = _proto("h5cl_ctx_set_strict", _int, [CtxPtr, _int],
                             status=True)
h5cl_dataset_warnings = _proto("h5cl_dataset_warnings", _cstr, [DatasetPtr])


def ctx_set_strict(ctx, strict):
    h5cl_ctx_set_strict(ctx, 1 if strict else 0)


def dataset_warnings(ds):
    """The warnings found when ds was opened, one string each."""
    return [w for w in text(h5cl_dataset_warnings(ds)).split("\n") if w]


# Scaling out (h5cl.dask, h5cl.multi): shares of a selection, whole
# statistics results as bytes, several devices, virtual datasets

h5cl_ctx_set_share = _proto("h5cl_ctx_set_share", _int,
                            [CtxPtr, _c.c_uint64, _c.c_uint64], status=True,
                            optional=True)
h5cl_dataset_split = _proto(
    "h5cl_dataset_split", _int,
    [DatasetPtr, _cstr, _c.c_size_t, P(_c.c_uint64), P(_c.c_size_t)],
    status=True, optional=True)
h5cl_stats_merge = _proto("h5cl_stats_merge", _int, [StatsPtr, StatsPtr],
                          status=True, optional=True)
h5cl_stats_serialized_size = _proto("h5cl_stats_serialized_size",
                                    _c.c_size_t, [StatsPtr], optional=True)
h5cl_stats_serialize = _proto(
    "h5cl_stats_serialize", _int, [StatsPtr, P(_c.c_ubyte), _c.c_size_t],
    status=True, optional=True)
h5cl_stats_deserialize = _proto(
    "h5cl_stats_deserialize", _int,
    [P(_c.c_ubyte), _c.c_size_t, P(StatsPtr)], status=True, optional=True)
_CtxArray = P(CtxPtr)
h5cl_multi_stats = _proto(
    "h5cl_multi_stats", _int,
    [_CtxArray, _c.c_size_t, _cstr, _cstr, P(RunOptions), P(StatsPtr)],
    optional=True)
h5cl_multi_hist = _proto(
    "h5cl_multi_hist", _int,
    [_CtxArray, _c.c_size_t, _cstr, _cstr, P(RunOptions), P(HistOptions),
     P(HistPtr)], optional=True)
h5cl_multi_cov = _proto(
    "h5cl_multi_cov", _int,
    [_CtxArray, _c.c_size_t, _cstr, _cstr, P(RunOptions), P(CovPtr)],
    optional=True)
h5cl_map_join = _proto(
    "h5cl_map_join", _int,
    [CtxPtr, P(_cstr), _c.c_size_t, _cstr, P(MapOptions)], status=True,
    optional=True)


def ctx_set_share(ctx, start, stop):
    """Restricts the context's runs to rows [start, stop) of their
    selection's first axis (0, 2**64 - 1: everything)."""
    need("h5cl_ctx_set_share")
    h5cl_ctx_set_share(ctx, start, stop)


def dataset_split(ds, select, n):
    """At most n shares of the selection's rows, on chunk boundaries: the
    bounds (count + 1 row numbers)."""
    need("h5cl_dataset_split")
    bounds = (_c.c_uint64 * (n + 1))()
    count = _c.c_size_t()
    h5cl_dataset_split(ds, select.encode() if select else None, n, bounds,
                       ctypes.byref(count))
    return [int(b) for b in bounds[:count.value + 1]]


def stats_serialize(st):
    """The byte form of a whole statistics result (shape and states)."""
    need("h5cl_stats_serialize")
    return _serialize(h5cl_stats_serialized_size, h5cl_stats_serialize, st)


def stats_deserialize(data):
    """A StatsPtr (to free) from stats_serialize's bytes; BadState if
    invalid.  Its summary is zero."""
    return _deserialize("h5cl_stats_deserialize", h5cl_stats_deserialize,
                        StatsPtr, data)


def stats_merge(into, frm):
    need("h5cl_stats_merge")
    h5cl_stats_merge(into, frm)


def stats_first_state(data):
    """State 0 of stats_serialize's bytes, as a StatsState."""
    st = stats_deserialize(data)
    try:
        return StatsState.from_buffer_copy(h5cl_stats_get(st, 0).contents)
    finally:
        h5cl_stats_free(st)


def _multi(fn, fn_name, ctxs, file, path, out_type, *args, **run):
    need(fn_name)
    arr = (CtxPtr * len(ctxs))(*ctxs)
    opts = run_options(**run)
    out = out_type()
    st = fn(arr, len(ctxs), os.fsencode(file), path.encode(),
            ctypes.byref(opts), *args, ctypes.byref(out))
    if st < 0:  # recorded on the first context
        raise errors.from_status(st, text(h5cl_ctx_errmsg(ctxs[0])))
    return out


def multi_stats(ctxs, file, path, **run):
    """h5cl_multi_stats over the contexts: a StatsPtr to free."""
    return _multi(h5cl_multi_stats, "h5cl_multi_stats", ctxs, file, path,
                  StatsPtr, **run)


def multi_hist(ctxs, file, path, bins, lo_hi=None, **run):
    """h5cl_multi_hist: a HistPtr to free (lo_hi None: the data's range)."""
    hopts = HistOptions()
    h5cl_hist_options_init(ctypes.byref(hopts))
    hopts.bins = bins
    if lo_hi is not None:
        hopts.range_set = 1
        hopts.lo, hopts.hi = lo_hi
    return _multi(h5cl_multi_hist, "h5cl_multi_hist", ctxs, file, path,
                  HistPtr, ctypes.byref(hopts), **run)


def multi_cov(ctxs, file, path, **run):
    """h5cl_multi_cov: a CovPtr to free."""
    return _multi(h5cl_multi_cov, "h5cl_multi_cov", ctxs, file, path, CovPtr,
                  **run)


def map_join(ctx, files, path, out_file, out_path, overwrite=False):
    """Makes out_file:out_path a virtual dataset stacking dataset path of
    each of files along the first axis."""
    need("h5cl_map_join", "h5cl_map_options_init")
    names = (_cstr * len(files))(*[os.fsencode(f) for f in files])
    m = MapOptions()
    h5cl_map_options_init(ctypes.byref(m))
    m.out_file = os.fsencode(out_file)
    m.out_path = out_path.encode()
    m.overwrite = 1 if overwrite else 0
    h5cl_map_join(ctx, names, len(files), path.encode(), ctypes.byref(m))


# ---------------------------------------------------------------------------
# Isolated mode (h5cl_ctx_set_isolation): the HDF5 side in a child process


class Isolation(ctypes.Structure):
    _fields_ = [
        ("struct_size", ctypes.c_size_t),
        ("enabled", ctypes.c_int),
        ("memory_bytes", ctypes.c_uint64),
        ("cpu_seconds", ctypes.c_uint64),
        ("wall_seconds", ctypes.c_double),
    ]


h5cl_isolation_init = _proto("h5cl_isolation_init", None, [P(Isolation)],
                             optional=True)
h5cl_ctx_set_isolation = _proto("h5cl_ctx_set_isolation", _int,
                                [CtxPtr, P(Isolation)], status=True,
                                optional=True)
h5cl_ctx_get_isolation = _proto("h5cl_ctx_get_isolation", _int,
                                [CtxPtr, P(Isolation)], status=True,
                                optional=True)


def set_isolation(ctx, enabled, memory_bytes=0, cpu_seconds=0,
                  wall_seconds=0.0):
    """Turns isolated mode on or off for datasets ctx opens from now on;
    0 limits keep the library's defaults."""
    need("h5cl_ctx_set_isolation")
    o = Isolation()
    h5cl_isolation_init(ctypes.byref(o))
    o.enabled = 1 if enabled else 0
    o.memory_bytes = int(memory_bytes)
    o.cpu_seconds = int(cpu_seconds)
    o.wall_seconds = float(wall_seconds)
    h5cl_ctx_set_isolation(ctx, ctypes.byref(o))


def get_isolation(ctx):
    """The settings in force, defaults resolved, as a dict."""
    need("h5cl_ctx_get_isolation")
    o = Isolation()
    h5cl_ctx_get_isolation(ctx, ctypes.byref(o))
    d = _struct_dict(o)
    del d["struct_size"]
    d["enabled"] = bool(d["enabled"])
    return d


# The slot buffers a context keeps between runs (h5cl_ctx_trim).
h5cl_ctx_trim = _proto("h5cl_ctx_trim", None, [CtxPtr], optional=True)


def ctx_trim(ctx):
    """Frees the host slots and device buffers ctx keeps from its last
    run."""
    need("h5cl_ctx_trim")
    h5cl_ctx_trim(ctx)
