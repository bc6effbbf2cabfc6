"""Exceptions raised for h5cl status codes.

Every status in the C library's H5CL_STATUS_LIST maps to a class below.  The
map is keyed by the C symbolic name (h5cl_errname), so numbers are never
repeated here: _ffi.install() builds {code: class} from the loaded library.
"""

import re


class H5clError(Exception):
    """A failed h5cl call.  .code is the status, .name its C name
    ("H5CL_ERR_..."), .message the library's detailed message."""

    code = None
    name = None

    def __init__(self, message, code=None, name=None):
        Exception.__init__(self, message)
        self.message = message
        if code is not None:
            self.code = code
        if name is not None:
            self.name = name

    def __str__(self):  # KeyError would repr() the message otherwise
        return self.message


class InvalidArgument(H5clError, ValueError):
    pass


class OutOfMemory(H5clError, MemoryError):
    pass


class DeviceError(H5clError):
    """Anything about the OpenCL platform or device."""


class NoPlatform(DeviceError):
    pass


class DeviceNotFound(DeviceError):
    pass


class OpenCLError(DeviceError):
    pass


class BuildError(DeviceError):
    pass


class DeviceMemoryError(DeviceError, MemoryError):
    pass


class UnsupportedDevice(DeviceError):
    pass


class FileNotFound(H5clError, FileNotFoundError):
    pass


class NotHDF5(H5clError, OSError):
    pass


class DatasetNotFound(H5clError, KeyError):
    pass


class UnsupportedType(H5clError, TypeError):
    pass


class HDF5Error(H5clError, OSError):
    pass


class SelectionError(H5clError, IndexError, ValueError):
    pass


class AxisError(H5clError, ValueError, IndexError):
    pass


class Cancelled(H5clError):
    pass


class SumOverflow(H5clError, OverflowError):
    pass


class IOFailure(H5clError, OSError):
    pass


class BadState(H5clError, ValueError):
    pass


class ThreadError(H5clError, RuntimeError):
    pass


class TooLarge(H5clError, OverflowError):
    pass


class CorruptFile(H5clError, OSError):
    pass


class Busy(H5clError, RuntimeError):
    """The context is running in another thread."""


class ExpressionError(H5clError, ValueError):
    """The expression does not parse or type-check; the message names the
    column (and shows it under the text).  .column is that column, 1-based
    (None when the message names none)."""

    @property
    def column(self):
        m = re.search(r"column (\d+)", self.message or "")
        return int(m.group(1)) if m else None


class OutputExists(H5clError, FileExistsError):
    """The output dataset exists and overwrite was not asked for."""


class ShapeMismatch(H5clError, ValueError):
    """The inputs of a map or fused reduction differ in shape."""


class LinalgError(H5clError, RuntimeError):
    """A CLBlast or LAPACK call failed; the message names the routine and
    its status (CLBlastInvalidLeadDimA, a LAPACK info code...)."""


class FilterUnavailable(H5clError, OSError):
    """The dataset needs an HDF5 filter this build cannot decode; the message
    names the filter id."""


class MissingData(H5clError, OSError):
    """Data the dataset refers to is absent: a virtual-dataset source, an
    external file, unallocated data without a fill value."""


class ReaderCrashed(H5clError, OSError):
    """The isolated reader process died (libhdf5 crashed on the file); the
    message names the file and the signal."""


class TimeLimit(H5clError, TimeoutError):
    pass


class ResourceLimit(H5clError, MemoryError):
    """The isolated reader hit its memory or CPU limit."""


class OutputIsInput(H5clError, ValueError):
    """The output resolves to an input file (symlinks and hard links too)."""


class MPIError(H5clError, RuntimeError):
    pass


class MissingDataWarning(UserWarning):
    """Data a dataset reads would not come from the file (no data written
    and no fill value, chunks missing from the file, a short external
    file); strict=True makes it a MissingData error instead."""


BY_NAME = {
    "H5CL_ERR_INVALID_ARGUMENT": InvalidArgument,
    "H5CL_ERR_NO_MEMORY": OutOfMemory,
    "H5CL_ERR_NO_PLATFORM": NoPlatform,
    "H5CL_ERR_DEVICE_NOT_FOUND": DeviceNotFound,
    "H5CL_ERR_OPENCL": OpenCLError,
    "H5CL_ERR_BUILD": BuildError,
    "H5CL_ERR_DEVICE_MEMORY": DeviceMemoryError,
    "H5CL_ERR_FILE_NOT_FOUND": FileNotFound,
    "H5CL_ERR_NOT_HDF5": NotHDF5,
    "H5CL_ERR_DATASET_NOT_FOUND": DatasetNotFound,
    "H5CL_ERR_UNSUPPORTED_TYPE": UnsupportedType,
    "H5CL_ERR_UNSUPPORTED_DEVICE": UnsupportedDevice,
    "H5CL_ERR_HDF5": HDF5Error,
    "H5CL_ERR_SELECTION": SelectionError,
    "H5CL_ERR_AXIS": AxisError,
    "H5CL_ERR_CANCELLED": Cancelled,
    "H5CL_ERR_OVERFLOW": SumOverflow,
    "H5CL_ERR_IO": IOFailure,
    "H5CL_ERR_BAD_STATE": BadState,
    "H5CL_ERR_THREAD": ThreadError,
    "H5CL_ERR_TOO_LARGE": TooLarge,
    "H5CL_ERR_CORRUPT": CorruptFile,
    "H5CL_ERR_BUSY": Busy,
    "H5CL_ERR_EXPRESSION": ExpressionError,
    "H5CL_ERR_EXISTS": OutputExists,
    "H5CL_ERR_SHAPE": ShapeMismatch,
    "H5CL_ERR_LINALG": LinalgError,
    "H5CL_ERR_FILTER": FilterUnavailable,
    "H5CL_ERR_MISSING_DATA": MissingData,
    "H5CL_ERR_CRASHED": ReaderCrashed,
    "H5CL_ERR_TIMEOUT": TimeLimit,
    "H5CL_ERR_LIMIT": ResourceLimit,
    "H5CL_ERR_OUTPUT_IS_INPUT": OutputIsInput,
    "H5CL_ERR_MPI": MPIError,
}

_BY_CODE = {}  # filled by install()
_NAMES = {}
_strerror = None


def install(names, strerror):
    """Called once by _ffi with {code: C name} from the library."""
    global _strerror
    _strerror = strerror
    _NAMES.update(names)
    for code, name in names.items():
        cls = BY_NAME.get(name)
        if cls is not None:
            cls.code, cls.name = code, name
            _BY_CODE[code] = cls


def class_for(code):
    return _BY_CODE.get(code, H5clError)


def from_status(code, message=None):
    """The exception for a negative status, with the detailed message."""
    if not message:
        message = _strerror(code) if _strerror else "h5cl status %d" % code
    return class_for(code)(message, code, _NAMES.get(code, "H5CL_UNKNOWN_STATUS"))
