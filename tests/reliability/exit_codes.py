#!/usr/bin/env python3
"""One error-code list for C, the CLI and Python: the X-macro list of
include/h5cl.h, the CLI's exit statuses (`h5cl exit-codes`), README's
"Exit statuses" table and python-bindings/h5cl/errors.py must agree, and
a real failure must exit with its listed status.

Usage: tests/reliability/exit_codes.py BUILD_DIR   (from the repository root)
"""

import os
import re
import subprocess
import sys

BEGIN = "<!-- exit-codes: the output of `h5cl exit-codes` -->"
END = "<!-- /exit-codes -->"


def main():
    build = sys.argv[1]
    h5cl = os.path.join(build, "h5cl")
    failures = []

    def fail(what):
        failures.append(what)
        print("FAIL " + what)

    header = open("include/h5cl.h").read()
    c_list = [("H5CL_" + n, int(v)) for n, v in re.findall(
        r"X\((\w+), (-?\d+), \"", header)]
    table = subprocess.run([h5cl, "exit-codes"], stdout=subprocess.PIPE,
                           check=True).stdout.decode()
    rows = [[c.strip() for c in r.strip().strip("|").split("|")]
            for r in table.splitlines()]
    cli = [(r[0], int(r[1])) for r in rows if r[0].startswith("H5CL_")]
    if cli != c_list:
        fail("h5cl exit-codes lists %r, include/h5cl.h %r" % (cli, c_list))
    exits = {r[0]: int(r[2]) for r in rows if r[0].startswith("H5CL_")}
    used = sorted(exits.values())
    if len(set(used)) != len(used):
        fail("two statuses share an exit status: %r" % used)
    reserved = {1, 2, 143} | set(range(128 + 1, 128 + 65)) - {130}
    if reserved & set(v for k, v in exits.items() if k != "H5CL_OK"):
        fail("an exit status collides with 1, 2 or a signal's 128+n")

    readme = open("README.md").read()
    if BEGIN not in readme or END not in readme:
        fail("README.md lacks the exit-codes table markers")
    else:
        block = readme.split(BEGIN, 1)[1].split(END, 1)[0].strip()
        if block != table.strip():
            fail("README.md's exit-codes table differs from `h5cl "
                 "exit-codes` (paste its output between the markers)")

    env = dict(os.environ, H5CL_LIBRARY=os.path.abspath(
        os.path.join(build, "libh5cl.so")))
    code = ("import json, h5cl; from h5cl import errors, _ffi; "
            "print(json.dumps({n: [c.code, errors.class_for(c.code).__name__]"
            " for n, c in errors.BY_NAME.items()}))")
    p = subprocess.run([sys.executable, "-c", code], stdout=subprocess.PIPE,
                       env=env, cwd="python-bindings", check=True)
    import json
    py = json.loads(p.stdout.decode())
    want = {n: v for n, v in c_list if n != "H5CL_OK"}
    if set(py) != set(want):
        fail("errors.BY_NAME names %r, C %r" % (sorted(py), sorted(want)))
    for n, (v, cls) in py.items():
        if want.get(n) != v:
            fail("Python %s (%s) has code %r, C %r" % (cls, n, v, want.get(n)))

    # real failures exit with their listed status
    for args, name in ((["info", "/nonexistent/x.h5"],
                        "H5CL_ERR_FILE_NOT_FOUND"),
                       (["info", "README.md"], "H5CL_ERR_NOT_HDF5"),
                       (["frobnicate"], None)):
        p = subprocess.run([h5cl] + args, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE)
        want_code = exits[name] if name else 2
        if p.returncode != want_code or (name and name not in
                                         p.stderr.decode()):
            fail("h5cl %s: exit %d, want %d" % (" ".join(args), p.returncode,
                                                 want_code))
    print("FIGURE exit_codes_checked %d" % len(c_list))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
