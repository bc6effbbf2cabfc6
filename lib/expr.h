/* The expression language: the user's text is parsed into a tree,
 * type-checked against the bound variables, and translated into an OpenCL C
 * expression.  The user's text never reaches the compiler: identifiers are
 * looked up in the variable list and the function whitelist, literals are
 * re-printed from their parsed values.  Pure host code: no OpenCL calls. */
#ifndef H5CL_EXPR_H
#define H5CL_EXPR_H

#include "common.h"

typedef struct h5cl_expr h5cl_expr;

/* Longest text accepted, in bytes. */
#define H5CL_EXPR_MAX_LEN 65536
/* Deepest nesting: levels of operators and calls in the tree, and of
 * parentheses, operators and calls in the text.  The generated code nests
 * at most 2 * H5CL_EXPR_MAX_DEPTH + 3 parentheses, under the 256 that
 * clang-based OpenCL compilers accept, leaving room for the kernel's own. */
#define H5CL_EXPR_MAX_DEPTH 100

/* Parses text over n variables (names[i] of dtypes[i]).  On failure
 * returns H5CL_ERR_EXPRESSION (or H5CL_ERR_NO_MEMORY) with a message like
 *   expression column 6: unknown variable 'uu' (did you mean 'u'?)
 *     sqrt(uu*uu + v*v)
 *          ^
 * recorded on ctx (which may be NULL: then only the status is returned). */
int h5cl_expr_parse(h5cl_ctx *ctx, const char *text, const char *const *names,
                    const h5cl_dtype *dtypes, size_t n, h5cl_expr **expr_ret);
void h5cl_expr_free(h5cl_expr *e);

/* The default output type (see h5cl_expr_check in h5cl.h). */
h5cl_dtype h5cl_expr_result_dtype(const h5cl_expr *e);
/* Nonzero when the expression's value is a boolean. */
int h5cl_expr_is_bool(const h5cl_expr *e);
/* Nonzero when variable i appears in the expression. */
int h5cl_expr_uses(const h5cl_expr *e, size_t i);

/* OpenCL C source of one expression over the variables v0 .. v{n-1}, which
 * the caller declares with type EV (double or float), as are the literals
 * and the value.  Booleans are EV 1 or 0.  Returns a malloc'd string, NULL
 * when out of memory.  The text is a primary expression (parenthesised
 * when compound), so it can stand anywhere; it calls the helpers of
 * h5cl_expr_prelude(). */
char *h5cl_expr_to_opencl(const h5cl_expr *e);

/* OpenCL C definitions of the helpers that generated code calls: h5cl_mod
 * (`%`: numpy's remainder, the sign of the divisor) and h5cl_clamp
 * (numpy's clip, NaN propagating).  They use EV: the kernel source defines
 * EV first, then this text once, then the kernels.  The program must keep
 * IEEE semantics (no -cl-fast-relaxed-math or -cl-finite-math-only): NaN
 * tests and comparisons rely on them. */
const char *h5cl_expr_prelude(void);

/* The tree's value computed on the host in double, vars[i] being variable
 * i; booleans are 1 or 0.  The reference semantics of the generated code,
 * against which the tests check parsing and the device's results. */
double h5cl_expr_eval_host(const h5cl_expr *e, const double *vars);

#endif
