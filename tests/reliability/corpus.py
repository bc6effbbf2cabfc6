#!/usr/bin/env python3
"""The corpus suite: every file of ../shared/corpus (real hostile and unusual
files nobody on the team wrote; MANIFEST.md there says what each holds)
through the CLI (info, then stats of the readable datasets, hist of a few)
and through Python (h5cl.open + stats), each run in a subprocess with a
timeout and a memory limit, in both modes (H5CL_ISOLATE=0 and =1).

Usage: tests/reliability/corpus.py BUILD_DIR   (from the repository root)

The expected outcome of every file is the table EXPECT below: a result
whose values equal h5py's (h5py bundles a newer HDF5 and reads in its own
subprocess), a specific H5CL_ERR_* code, or a known crash or hang inside
Debian's libhdf5 1.10.8, which is an expected failure in-process and must
become a clean error once the CLI has isolation (`--isolate` in its help).
Anything else fails the suite: a wrong value, another error, a crash or a
hang of h5cl.  Without the corpus the suite says it was skipped and passes.

Prints FIGURE lines (tests/reliability conventions) and exits non-zero on
any failure.
"""

import concurrent.futures
import copy
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile

TIMEOUT_S = 30
CRASH_TIMEOUT_S = 3      # files known to hang libhdf5, run in-process
MEMORY_BYTES = 4 << 30   # cve-2018-11202 allocates without bound in 1.10.8
SAMPLE = 6               # datasets run per file unless the row says "all"

# Known crashes and hangs inside libhdf5 1.10.8 (MANIFEST.md): the reason.
CRASH = "libhdf5 1.10.8"

# file -> {"info": "list" (the listing succeeds) or the error of the whole
#          file, "ds": {dataset: expected outcome}, "all": run every
#          dataset, "select": {dataset: selection}, "twins": [(a, b)]
#          datasets whose results must be equal, "hist": [datasets],
#          "values": "h5py" (compare with h5py; the default for "ok") or
#          "no" (h5py's newer HDF5 reads this damaged file differently),
#          "same_as": a damaged copy of that corpus file: each dataset
#          gives its twin's values, a warning or a clean error
#          ("faithful"), except those in "silent": damage libhdf5 1.10.8
#          decodes without any error and h5cl cannot see (reported)}
# A dataset not named gets "ok" (or "faithful") when the listing calls it
# supported, else H5CL_ERR_UNSUPPORTED_TYPE ("default" overrides).
# "crash" anywhere means CRASH above.
BE = ["Array", "Deflate_float_data", "Fletcher_float_data",
      "Scale_offset_char_data", "Scale_offset_double_data",
      "Scale_offset_float_data", "Scale_offset_int_data",
      "Scale_offset_long_long_data", "Scale_offset_short_data",
      "Shuffle_float_data", "Szip_float_data"]
BE_TWINS = [("/%s_be" % n, "/%s_le" % n) for n in BE]
NBIT = {"/Nbit_float_data_be": "H5CL_ERR_UNSUPPORTED_TYPE",
        "/Nbit_float_data_le": "H5CL_ERR_UNSUPPORTED_TYPE"}

EXPECT = {
    # A. CVE and fuzzer files
    "cve-2018-13867.h5": {"info": "crash"},
    "cve-2019-9152.h5": {"info": "list", "values": "no"},
    "cve-2024-29165.h5": {"info": "list"},
    "cve-2024-32615.h5": {"info": "list"},
    "cve-2024-32614.h5": {"info": "list", "all": True, "ds": dict(NBIT),
                          "same_as": "be_data.h5",
                          "silent": ["/Scale_offset_short_data_le"]},
    # its one dataset's name is not UTF-8: the JSON listing shows U+FFFD
    # for the bad bytes, so that name is not found (and never crashes)
    "cve-2026-26200.h5": {"info": "list",
                          "default": "H5CL_ERR_DATASET_NOT_FOUND"},
    "gh-4434-poc-09.h5": {"info": "crash"},
    "cve-2018-15671.h5": {"info": "crash"},
    "cve-2018-11202.h5": {"info": "H5CL_ERR_CORRUPT"},
    "cve-2025-44904.h5": {"info": "list", "all": True, "ds": dict(NBIT),
                          "same_as": "be_data.h5",
                          "silent": ["/Scale_offset_float_data_le"]},
    # damaged chunk index and filter data: a chunk whose lookup fails is
    # warned about (strict mode refuses it, checked below) or an error;
    # damaged scale-offset and shuffled bytes decode silently in 1.10.8
    "cve-2025-44905.h5": {"info": "list", "all": True, "ds": dict(NBIT),
                          "same_as": "be_data.h5",
                          "silent": ["/Scale_offset_int_data_le",
                                     "/Scale_offset_long_long_data_le",
                                     "/Scale_offset_short_data_be",
                                     "/Shuffle_float_data_be"]},
    "cve-2025-6816.h5": {"info": "H5CL_ERR_HDF5"},
    "cve-2020-10810.h5": {"info": "H5CL_ERR_HDF5"},
    "cve-2021-37501.h5": {"info": "list"},
    "gh-4585.h5": {"info": "H5CL_ERR_NOT_HDF5"},
    # B. malformed or newer-format test files
    "tmisc38a.h5": {"info": "list", "all": True, "ds": dict(NBIT),
                    "same_as": "be_data.h5",
                    "silent": ["/Scale_offset_short_data_le"]},
    "tattr2.h5": {"info": "list"},
    "bad_compound.h5": {"info": "list"},
    "tbogus.h5": {"info": "H5CL_ERR_HDF5"},
    "tmisc38b.h5": {"info": "list"},
    "3790_infinite_loop.h5": {"info": "H5CL_ERR_HDF5"},
    "h5clear_status_noclose.h5": {"info": "H5CL_ERR_HDF5"},
    "tcomplex.h5": {"info": "list"},
    # C. unusual datatypes: n-bit floats are refused (see README)
    "be_data.h5": {"info": "list", "all": True, "twins": BE_TWINS,
                   "hist": ["/Array_be", "/Array_le"], "ds": dict(NBIT)},
    "vlen_string_s390x.h5": {"info": "list", "all": True,
                             "twins": [("/DSBEfloat", "/DSLEfloat")]},
    "tfloat16_be.h5": {"info": "list"},
    "tldouble.h5": {"info": "list"},
    "tvms.h5": {"info": "list"},
    "tnestedcmpddt.h5": {"info": "list"},
    "compound-dtype-complex.h5": {"info": "list"},
    "tvlstr.h5": {"info": "list"},
    "tarray1.h5": {"info": "list"},
    "tbitfields.h5": {"info": "list"},
    "h5diff_enum_invalid_values.h5": {"info": "list"},
    "times-nested-be.h5": {"info": "list"},
    # D. filters
    "tfilters.h5": {"info": "list", "all": True,
                    "ds": {"/myfilter": "H5CL_ERR_FILTER",
                           "/external": "H5CL_ERR_MISSING_DATA",
                           "/nbit": "H5CL_ERR_UNSUPPORTED_TYPE"}},
    "h5ex_d_zstd.h5": {"info": "list", "ds": {"/DS1": "H5CL_ERR_FILTER"}},
    "tudfilter.h5": {"info": "list", "ds": {"/dynlibud": "H5CL_ERR_FILTER"}},
    "filter_fail.h5": {"info": "list",
                       "ds": {"/dset_fail": "H5CL_ERR_FILTER"}},
    # E. zero-size, huge and extendible shapes: huge ones are read over a
    # selection that crosses 2^32 (the count is checked by info)
    "zerodim.h5": {"info": "list"},
    "tnullspace.h5": {"info": "list"},
    "tempty.h5": {"info": "list"},
    "tbigdims.h5": {"info": "list",
                    "select": {"/dset4gb": "4294966000:"}},
    "ref_tst_dims.nc": {"info": "list", "select": {"/lat": "4294967000:"}},
    "tlayouto.h5": {"info": "list", "ds": {"/Dataset": "H5CL_ERR_TOO_LARGE"}},
    "h5repack_objs.h5": {"info": "list", "all": True},
    "tdset_idx.h5": {"info": "list", "all": True,
                     "twins": [("/dset_btree", "/dset_fixed"),
                               ("/dset_btree", "/dset_filter")]},
    # F. external storage, virtual datasets, links
    "h5repack_ext.h5": {"info": "list",
                        "ds": {"/external": "H5CL_ERR_MISSING_DATA"}},
    "4_vds.h5": {"info": "list", "hist": ["/vds_dset"]},
    "4_0.h5": {"info": "list"},
    "4_1.h5": {"info": "list"},
    "4_2.h5": {"info": "list"},
    "textlink.h5": {"info": "list"},
    "tsoftlinks.h5": {"info": "list"},
    "tloop.h5": {"info": "list"},
    # G. netCDF and real data
    "20171025_2056.Cloud_Top_Height.nc": {"info": "list", "hist": ["/HT"]},
    "issue671.nc": {"info": "list"},
    "ref_hdf5_compat1.nc": {"info": "list"},
    "ubyte.nc": {"info": "H5CL_ERR_NOT_HDF5"},
    "bad_cdf5_begin.nc": {"info": "H5CL_ERR_NOT_HDF5"},
}

# Values the MANIFEST states for CF-decoded variables (--cf), beyond what
# h5py gives raw: (file, dataset, valid count, mean, max).
CF_CHECKS = [
    ("20171025_2056.Cloud_Top_Height.nc", "/HT", 92568, 7429.053, 15430.49),
    ("issue671.nc", "/soil_moisture", 50367, 50.50, 100.0),
]

# Attributes are looked up by name only, but HDF5 1.10 decodes an object's
# attribute messages to find one: a type it cannot decode is a clean error
# (iterating them all would crash it at close: tattr2.h5's row).
CF_ERRORS = [("tattr2.h5", "/dset", "H5CL_ERR_UNSUPPORTED_TYPE")]

# Derived inputs, made at test time: (name, how, expected outcome of info
# or of stats of dataset).
EXPECTED_DERIVED = {
    "4_vds.h5 alone": "H5CL_ERR_MISSING_DATA",
    "a directory": "H5CL_ERR_NOT_HDF5",
    "a FIFO": "H5CL_ERR_NOT_HDF5",
    "be_data.h5 truncated to 512 bytes": "clean",
    "be_data.h5 truncated to half": "clean",
}


class Outcome:
    """What one subprocess run ended in."""

    def __init__(self, kind, name=None, out="", err=""):
        self.kind = kind  # "ok", "error", "signal", "hang", "other"
        self.name = name  # error name or signal name
        self.out = out
        self.err = err

    def label(self):
        return self.name if self.kind in ("error", "signal") else self.kind


def limits():
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_BYTES, MEMORY_BYTES))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def run(cmd, env, timeout=TIMEOUT_S):
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=timeout, preexec_fn=limits, env=env)
    except subprocess.TimeoutExpired:
        return Outcome("hang")
    out = p.stdout.decode("utf-8", "replace")
    err = p.stderr.decode("utf-8", "replace")
    if p.returncode < 0:
        return Outcome("signal", signal.Signals(-p.returncode).name, out, err)
    if p.returncode == 0:
        return Outcome("ok", None, out, err)
    names = [w.rstrip(":") for w in err.split() if w.startswith("H5CL_ERR_")]
    if names and EXIT.get(names[0]) == p.returncode:
        return Outcome("error", names[0], out, err)
    return Outcome("other", "exit %d" % p.returncode, out, err)


class Suite:
    def __init__(self, build, corpus):
        self.bin = os.path.abspath(os.path.join(build, "h5cl"))
        self.lib = os.path.abspath(os.path.join(build, "libh5cl.so"))
        self.corpus = corpus
        self.failures = []
        self.fig = dict(inputs_tried=0, clean_errors=0, results_ok=0,
                        h5cl_crashes=0, h5cl_hangs=0,
                        libhdf5_crashes_contained=0, corpus_xfail_libhdf5=0,
                        corpus_values_checked=0, corpus_warnings=0,
                        corpus_known_silent=0)
        self.isolation = "--isolate" in subprocess.run(
            [self.bin, "--help"], stdout=subprocess.PIPE).stdout.decode()
        self.refs = {}
        self.lines = []

    def fail(self, what, detail):
        self.failures.append(what)
        self.say("FAIL %s: %s" % (what, detail))

    def say(self, line):
        self.lines.append(line)

    def task(self):
        """A copy for one file's runs (in a worker thread): its own
        figures, failures and lines, merged in file order afterwards."""
        t = copy.copy(self)
        t.fig = dict.fromkeys(self.fig, 0)
        t.failures, t.lines, t.refs = [], [], {}
        return t

    def merge(self, t):
        for k, v in t.fig.items():
            self.fig[k] += v
        self.failures += t.failures
        for line in t.lines:
            print(line, flush=True)

    def env(self, mode):
        # an isolated run must end by the reader's own wall-clock limit,
        # well inside this script's TIMEOUT_S
        e = dict(os.environ, H5CL_ISOLATE=mode,
                 H5CL_READER_TIMEOUT=str(TIMEOUT_S // 3))
        e.setdefault("H5CL_CACHE_DIR", os.path.abspath("build/test-cache"))
        e["H5CL_LIBRARY"] = self.lib
        e["PYTHONPATH"] = os.path.abspath("python-bindings")
        return e

    # -- judging one outcome against its expectation
    def judge(self, what, got, want, mode):
        """want: "ok", "H5CL_ERR_X", "crash" or "clean" (any error).
        Returns True when got is a result to compare values of."""
        self.fig["inputs_tried"] += 1
        if got.kind == "error":
            self.fig["clean_errors"] += 1
            self.fig["corpus_warnings"] += got.err.count("h5cl: warning:")
        elif got.kind == "ok":
            self.fig["results_ok"] += 1
            self.fig["corpus_warnings"] += got.err.count("h5cl: warning:")
        if want == "crash":
            isolated = mode == "1" and self.isolation
            if got.kind in ("signal", "hang"):
                if isolated:
                    self.count_bad(got)
                    self.fail(what, "isolated run ended in %s, not a clean "
                                    "error" % got.label())
                else:
                    self.fig["corpus_xfail_libhdf5"] += 1
                    self.say("xfail %s: %s (%s)" % (what, got.label(),
                                                    CRASH))
            elif got.kind == "error":
                if isolated and got.name in ("H5CL_ERR_CRASHED",
                                             "H5CL_ERR_TIMEOUT",
                                             "H5CL_ERR_LIMIT"):
                    self.fig["libhdf5_crashes_contained"] += 1
            elif got.kind == "other":
                self.fail(what, "%s: %s" % (got.label(), got.err.strip()))
            return False
        if got.kind in ("signal", "hang"):
            self.count_bad(got)
            self.fail(what, "%s in h5cl" % got.label())
            return False
        if want == "clean":
            if got.kind != "error":
                self.fail(what, "expected a clean error, got %s" % got.label())
            return False
        if want == "ok":
            if got.kind != "ok":
                self.fail(what, "expected a result, got %s: %s"
                          % (got.label(), got.err.strip()[-300:]))
                return False
            return True
        if got.kind != "error" or got.name != want:
            self.fail(what, "expected %s, got %s: %s"
                      % (want, got.label(), got.err.strip()[-300:]))
        return False

    def timeout(self, want, mode):
        """Known libhdf5 hangs get a short limit while they run in-process;
        an isolated run must end by its own limit, so gets the full one."""
        if want == "crash" and not (mode == "1" and self.isolation):
            return CRASH_TIMEOUT_S
        return TIMEOUT_S

    def count_bad(self, got):
        self.fig["h5cl_hangs" if got.kind == "hang" else "h5cl_crashes"] += 1

    # -- reference values from h5py, in a subprocess of their own
    def reference(self, path, dsets, selects):
        key = (path, tuple(dsets))
        if key not in self.refs:
            self.refs[key] = self.h5py_values(path, dsets, selects)
        return self.refs[key]

    def h5py_values(self, path, dsets, selects):
        code = r"""
import json, sys, numpy as np, h5py
path, dsets, selects = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
out = {}
with h5py.File(path, "r") as f:
    for d in dsets:
        try:
            ds = f[d]
            sel = selects.get(d)
            if sel:
                a = ds[int(sel.split(":")[0]):]
            elif ds.shape is None:
                a = np.zeros(0)
            else:
                a = ds[()]
            a = np.asarray(a, dtype=np.float64).ravel()
            out[d] = {"count": int(a.size), "nan": int(np.isnan(a).sum()),
                      "sum": float(np.nansum(a)),
                      "min": float(np.nanmin(a)) if a.size else None,
                      "max": float(np.nanmax(a)) if a.size else None,
                      "values": a.tolist() if a.size <= 4096 else None}
        except Exception as e:
            out[d] = {"error": repr(e)}
print(json.dumps(out))
"""
        try:
            p = subprocess.run([sys.executable, "-c", code, path,
                                json.dumps(dsets), json.dumps(selects)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               timeout=120, preexec_fn=limits)
            return json.loads(p.stdout.decode()) if p.returncode == 0 else {}
        except (subprocess.TimeoutExpired, ValueError):
            return {}

    def compare(self, what, got, ref, quiet=False):
        """h5cl's count (NaNs apart), sum, min and max against h5py's."""
        if not ref or "error" in ref:
            self.fail(what, "h5py cannot read it for a reference: %r" % ref)
            return
        if not quiet:
            self.fig["corpus_values_checked"] += 1
        for k in ("count", "sum", "min", "max"):
            g, r = got.get(k), ref[k]
            if k == "count":
                r = ref["count"] - ref["nan"]
            if r is None and g is None:
                continue
            if r is None or g is None or \
                    abs(g - r) > 1e-6 * max(1.0, abs(r)):
                if quiet:
                    self.failures.append(what)
                else:
                    self.fail(what, "%s %r, h5py %r" % (k, g, r))
                return

    # -- one file
    def run_file(self, name, mode):
        spec = EXPECT[name]
        path = os.path.join(self.corpus, name)
        env = self.env(mode)
        tag = "[isolate=%s] %s" % (mode, name)
        want_info = spec["info"]
        info = run([self.bin, "info", "--json", path], env,
                   self.timeout(want_info, mode))
        listing = None
        if want_info == "list":
            try:
                listing = json.loads(info.out)["datasets"]
            except (ValueError, KeyError, TypeError):
                self.judge(tag + " info", info, "ok", mode)
                return
            self.fig["inputs_tried"] += 1
            self.fig["results_ok"] += 1
        else:
            self.judge(tag + " info", info, want_info, mode)
            self.python_run(tag, path, [], {}, {}, want_info, env, mode)
            return
        expected = {}
        good = "faithful" if "same_as" in spec else "ok"
        for d in listing:
            want = spec.get("ds", {}).get(d["path"], spec.get("default"))
            if want is None:
                want = good if d["supported"] else "H5CL_ERR_UNSUPPORTED_TYPE"
            expected[d["path"]] = want
            if d.get("error") and want not in (d["error"], "crash"):
                self.fail(tag + " info " + d["path"],
                          "listed with %s, expected %s" % (d["error"], want))
        named = list(spec.get("ds", {}))
        rest = [p for p in expected if p not in named]
        chosen = [p for p in named if p in expected] + \
            (rest if spec.get("all") else rest[:SAMPLE])
        selects = spec.get("select", {})
        want_values = spec.get("values", "h5py") == "h5py"
        ok_paths = [p for p in chosen if expected[p] in ("ok", "faithful")]
        ref_file = os.path.join(self.corpus, spec.get("same_as", name))
        refs = self.reference(ref_file, ok_paths, selects) \
            if want_values and ok_paths else {}
        results = {}
        for p in chosen:
            args = [self.bin, "stats", "--json", "-q", path, p]
            if p in selects:
                args += ["--select", selects[p]]
            got = run(args, env, self.timeout(expected[p], mode))
            what = "%s stats %s" % (tag, p)
            if expected[p] == "faithful":
                self.faithful(what, got, refs.get(p), p in spec.get(
                    "silent", []), mode)
                continue
            if self.judge(what, got, expected[p], mode):
                try:
                    results[p] = json.loads(got.out)
                except ValueError:
                    self.fail("%s stats %s" % (tag, p), "output is not JSON")
                    continue
                if want_values:
                    self.compare("%s stats %s" % (tag, p), results[p],
                                 refs.get(p))
        for a, b in spec.get("twins", []):
            if a in results and b in results:
                for k in ("count", "sum", "min", "max", "argmin", "argmax"):
                    if results[a].get(k) != results[b].get(k):
                        self.fail("%s twins %s %s" % (tag, a, b),
                                  "%s %r != %r" % (k, results[a].get(k),
                                                   results[b].get(k)))
                        break
        for p in spec.get("hist", []):
            self.hist(tag, path, p, env, mode)
        self.python_run(tag, path, chosen, expected, refs, "list", env, mode)

    def faithful(self, what, got, ref, silent, mode):
        """A damaged copy: the twin's values, or a warning, or a clean
        error; silently different values only where listed as silent."""
        if got.kind == "error":
            self.judge(what, got, got.name, mode)
            return
        if not self.judge(what, got, "ok", mode):
            return
        try:
            j = json.loads(got.out)
        except ValueError:
            self.fail(what, "output is not JSON")
            return
        before = len(self.failures)
        self.compare(what, j, ref, quiet=True)
        differs = len(self.failures) > before
        del self.failures[before:]
        if not differs:
            return
        if "h5cl: warning:" in got.err:
            return
        if silent:
            self.fig["corpus_known_silent"] += 1
            self.say("known: %s differs from its twin without any error "
                  "(damage libhdf5 1.10.8 decodes silently)" % what)
            return
        self.fail(what, "values differ from its undamaged twin, silently")

    def hist(self, tag, path, p, env, mode):
        got = run([self.bin, "hist", "--json", "-q", "--bins", "16", path, p],
                  env)
        if not self.judge("%s hist %s" % (tag, p), got, "ok", mode):
            return
        j = json.loads(got.out)
        ref = self.reference(path, [p], {}).get(p, {})
        vals = ref.get("values")
        if vals is None:
            return
        import numpy as np
        want, _ = np.histogram(np.asarray(vals), bins=np.asarray(j["edges"]))
        if list(want) != j["counts"]:
            self.fail("%s hist %s" % (tag, p), "counts %r, numpy %r"
                      % (j["counts"], list(want)))

    def python_run(self, tag, path, chosen, expected, refs, want_open, env,
                   mode):
        """h5cl.open + stats of the chosen datasets, in one subprocess."""
        code = r"""
import json, sys, warnings, h5cl
path, dsets, whole = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3] == "1"
out = {"open": "ok", "ds": {}, "first_error": None}
warnings.simplefilter("ignore")
try:
    f = h5cl.open(path)
except h5cl.H5clError as e:
    out["open"] = e.name
    print(json.dumps(out)); sys.exit(0)
if whole:  # the CLI failed on the file: the first dataset that fails
    for d in f.keys():
        try:
            f[d].stats(progress=False)
        except h5cl.H5clError as e:
            out["first_error"] = e.name
            break
for d in dsets:
    try:
        s = f[d].stats(progress=False)
        out["ds"][d] = {"count": int(s.count), "nan_count": int(s.nan_count),
                        "sum": float(s.sum), "min": None if s.count == s.nan_count else float(s.min),
                        "max": None if s.count == s.nan_count else float(s.max)}
    except h5cl.H5clError as e:
        out["ds"][d] = e.name
f.close()
print(json.dumps(out))
"""
        # huge selections are the CLI's part; Python reads the same files
        dsets = [p for p in chosen
                 if p not in EXPECT[os.path.basename(path)].get("select", {})]
        want_any = want_open == "crash" or any(expected.get(p) == "crash"
                                               for p in dsets)
        got = run([sys.executable, "-c", code, path, json.dumps(dsets),
                   "0" if want_open == "list" else "1"], env,
                  self.timeout("crash" if want_any else "ok", mode))
        what = tag + " python"
        if want_any:
            self.judge(what, got, "crash", mode)
            return
        if got.kind != "ok":
            self.judge(what, got, "ok", mode)
            return
        self.fig["inputs_tried"] += 1
        try:
            res = json.loads(got.out)
        except ValueError:
            self.fail(what, "no JSON: %r" % got.out[-300:])
            return
        if want_open != "list":
            if want_open not in (res["open"], res["first_error"]):
                self.fail(what, "open: %s, first error %s, expected %s"
                          % (res["open"], res["first_error"], want_open))
            else:
                self.fig["clean_errors"] += 1
            return
        if res["open"] != "ok":
            self.fail(what, "open: %s" % res["open"])
            return
        self.fig["results_ok"] += 1
        for p in dsets:
            r, want = res["ds"].get(p), expected[p]
            if want == "faithful":
                continue  # the CLI's run of the same file judges values
            if want == "ok":
                if not isinstance(r, dict):
                    self.fail("%s %s" % (what, p), "expected a result, got %r"
                              % (r,))
                elif p in refs:
                    self.compare("%s %s" % (what, p), r, refs[p])
            elif r != want:
                self.fail("%s %s" % (what, p), "expected %s, got %r"
                          % (want, r))

    # -- CF values, strict mode, derived inputs
    def cf_checks(self, mode):
        env = self.env(mode)
        for name, p, count, mean, vmax in CF_CHECKS:
            path = os.path.join(self.corpus, name)
            got = run([self.bin, "stats", "--json", "-q", "--cf", path, p],
                      env)
            what = "[isolate=%s] %s stats --cf %s" % (mode, name, p)
            if not self.judge(what, got, "ok", mode):
                continue
            j = json.loads(got.out)
            n = j["count"]  # masked values are NaN, counted apart
            if n != count or abs(j["mean"] - mean) > 1e-3 * abs(mean) or \
                    abs(j["max"] - vmax) > 1e-3 * abs(vmax):
                self.fail(what, "valid %r mean %r max %r; MANIFEST: %r %r %r"
                          % (n, j["mean"], j["max"], count, mean, vmax))
        for name, p, want in CF_ERRORS:
            path = os.path.join(self.corpus, name)
            for opt in ("--cf", "--mask-fill"):
                got = run([self.bin, "stats", "-q", opt, path, p], env)
                self.judge("[isolate=%s] %s stats %s %s" % (mode, name, opt,
                                                             p),
                           got, want, mode)

    def strict_checks(self, mode):
        """Promise 5 on real files: damaged chunk indexes (cve-2025-44905)
        and a sparse dataset (tbigdims) warn by default, fail with
        --strict."""
        env = self.env(mode)
        for name, p in (("cve-2025-44905.h5", "/Fletcher_float_data_be"),
                        ("tbigdims.h5", "/dset4gb")):
            path = os.path.join(self.corpus, name)
            what = "[isolate=%s] %s %s" % (mode, name, p)
            got = run([self.bin, "info", path, p], env)
            if self.judge(what + " info warns", got, "ok", mode) and \
                    "h5cl: warning:" not in got.err:
                self.fail(what + " info warns", "no warning: %r" % got.err)
            got = run([self.bin, "stats", "--strict", "-q", path, p], env)
            self.judge(what + " stats --strict", got, "H5CL_ERR_MISSING_DATA",
                       mode)

    def derived(self, mode, tmp):
        env = self.env(mode)
        alone = os.path.join(tmp, "alone")
        os.makedirs(alone, exist_ok=True)
        shutil.copy(os.path.join(self.corpus, "4_vds.h5"), alone)
        fifo = os.path.join(tmp, "fifo.h5")
        if not os.path.exists(fifo):
            os.mkfifo(fifo)
        be = os.path.join(self.corpus, "be_data.h5")
        size = os.path.getsize(be)
        cases = [("4_vds.h5 alone",
                  ["stats", "-q", os.path.join(alone, "4_vds.h5"),
                   "/vds_dset"]),
                 ("a directory", ["info", tmp]),
                 ("a FIFO", ["info", fifo])]
        for label, n in (("be_data.h5 truncated to 512 bytes", 512),
                         ("be_data.h5 truncated to half", size // 2)):
            t = os.path.join(tmp, "trunc%d.h5" % n)
            with open(be, "rb") as src, open(t, "wb") as dst:
                dst.write(src.read(n))
            cases.append((label, ["stats", "-q", t, "/Array_le"]))
        for label, args in cases:
            got = run([self.bin] + args, env)
            self.judge("[isolate=%s] %s" % (mode, label), got,
                       EXPECTED_DERIVED[label], mode)


def exit_codes(bin_path):
    table = {}
    out = subprocess.run([bin_path, "exit-codes"], stdout=subprocess.PIPE,
                         check=True).stdout.decode()
    for row in out.splitlines():
        cells = [c.strip() for c in row.strip().strip("|").split("|")]
        if cells[0].startswith("H5CL_ERR_"):
            table[cells[0]] = int(cells[2])
    return table


def print_figures(fig):
    for k, v in fig.items():
        print("FIGURE %s %d" % (k, v))


# What must stay 0 in every check (the aggregator's rule, tests/reliability/run.sh).
MUST_BE_ZERO = ("h5cl_crashes", "h5cl_hangs", "leaked_objects", "files_changed")


def report(name, failures, fig):
    """Prints a script's failures and figures; its exit status."""
    for f in failures:
        print("%s: FAIL %s" % (name, f))
    print_figures(fig)
    return 1 if failures or any(fig.get(k) for k in MUST_BE_ZERO) else 0


def main():
    global EXIT
    if len(sys.argv) != 2:
        sys.exit("usage: %s BUILD_DIR" % sys.argv[0])
    build = sys.argv[1]
    corpus = os.environ.get("H5CL_CORPUS",
                            os.path.join(os.getcwd(), os.pardir, "shared",
                                         "corpus"))
    corpus = os.path.abspath(corpus)
    if not os.path.exists(os.path.join(corpus, "MANIFEST.md")):
        print("SKIPPED corpus suite: no corpus at %s (set H5CL_CORPUS)"
              % corpus)
        print("FIGURE corpus_skipped 1")
        return 0
    EXIT = exit_codes(os.path.join(build, "h5cl"))
    suite = Suite(build, corpus)
    files = sorted(f for f in os.listdir(corpus) if f != "MANIFEST.md")
    unknown = [f for f in files if f not in EXPECT]
    for f in unknown:
        suite.fail(f, "in the corpus but not in EXPECT (add its row)")
    print("corpus: %d files, isolation %s" % (
        len(files), "available" if suite.isolation else
        "not in this build (isolated mode runs in-process)"), flush=True)
    def one_file(f):
        t = suite.task()
        for mode in ("0", "1"):
            t.run_file(f, mode)
        return t

    # two at a time: most of a run is process start-up, not CPU
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        for t in pool.map(one_file, [f for f in files if f in EXPECT]):
            suite.merge(t)
    with tempfile.TemporaryDirectory(prefix="h5cl-corpus.") as tmp:
        for mode in ("0", "1"):
            suite.cf_checks(mode)
            suite.strict_checks(mode)
            suite.derived(mode, tmp)
    for line in suite.lines:
        print(line, flush=True)
    print_figures(suite.fig)
    print("corpus: %d checks failed" % len(suite.failures))
    return 1 if suite.failures else 0


EXIT = {}

if __name__ == "__main__":
    sys.exit(main())
