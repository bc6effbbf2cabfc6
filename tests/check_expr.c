/*
 * The expression language (lib/expr.h and h5cl_expr_check): the default
 * result type, precedence and associativity, every function's value, the
 * shape of the generated OpenCL C, each error with its exact column, the
 * variable list's checks, the limits, and fuzzing with random bytes, token
 * soups and random valid expressions against an independent reference.
 * The host evaluator is the tree's reference semantics; one test builds
 * every construct on the device and compares its values with it.
 */
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_util.h"
#include "common.h"
#include "expr.h"

/* The variables most tests bind, and their values for evaluation. */
static const char *const std_names[] = {"x", "y", "z", "w", "u", "b"};
static const h5cl_dtype std_dtypes[] = {H5CL_FLOAT32, H5CL_INT16,
                                        H5CL_INT32,   H5CL_FLOAT64,
                                        H5CL_UINT64,  H5CL_UINT8};
static const double std_values[] = {3, -2, 0.5, 10, 4, 1};
#define N_STD 6

/* The context that receives the messages (no device: parsing needs none),
 * made by the fixture. */
static h5cl_ctx *ectx;

static void expr_setup(void)
{
    tu_setup();
    ck_assert_int_eq(h5cl_ctx_create(&ectx), H5CL_OK);
}

static void expr_teardown(void)
{
    h5cl_ctx_destroy(ectx);
    ectx = NULL;
    tu_teardown();
}

/* Parses over the standard variables; fails the test on error.  The
 * caller frees the result. */
static h5cl_expr *parse_ok(const char *text)
{
    h5cl_expr *e = NULL;
    int rc = h5cl_expr_parse(ectx, text, std_names, std_dtypes, N_STD, &e);
    ck_assert_msg(rc == H5CL_OK && e, "'%.200s': %s: %s", text, h5cl_errname(rc),
                  h5cl_ctx_errmsg(ectx));
    return e;
}

static double value(const char *text)
{
    h5cl_expr *e = parse_ok(text);
    double v = h5cl_expr_eval_host(e, std_values);
    h5cl_expr_free(e);
    return v;
}

static int same(double a, double b)
{
    return (isnan(a) && isnan(b)) || a == b;
}

/* The generated code of text in buf. */
static void code_of(const char *text, char *buf, size_t size)
{
    h5cl_expr *e = parse_ok(text);
    char *code = h5cl_expr_to_opencl(e);
    h5cl_expr_free(e);
    ck_assert_ptr_nonnull(code);
    ck_assert(strlen(code) < size);
    strcpy(buf, code);
    free(code);
}

/* ---- checks of generated code and of messages --------------------------- */

static const char *const cl_idents[] = {
    "EV", "NAN", "INFINITY", "h5cl_mod", "h5cl_clamp", "fabs", "sqrt", "cbrt",
    "exp", "exp2", "expm1", "log", "log2", "log10", "log1p", "sin", "cos",
    "tan", "asin", "acos", "atan", "sinh", "cosh", "tanh", "floor", "ceil",
    "rint", "trunc", "isnan", "isinf", "isfinite", "pow", "atan2", "fmin",
    "fmax"};

static int is_ident_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
           (c >= '0' && c <= '9');
}

static int allowed_ident(const char *s, size_t n)
{
    if (n >= 2 && s[0] == 'v') {
        size_t i = 1;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == n)
            return 1;
    }
    for (size_t k = 0; k < sizeof cl_idents / sizeof cl_idents[0]; k++)
        if (strlen(cl_idents[k]) == n && strncmp(cl_idents[k], s, n) == 0)
            return 1;
    return 0;
}

/* Length of the numeric literal at s: digits, '.', an exponent. */
static size_t number_len(const char *s)
{
    size_t i = 0;
    while ((s[i] >= '0' && s[i] <= '9') || s[i] == '.')
        i++;
    if (s[i] == 'e' || s[i] == 'E') {
        i++;
        if (s[i] == '+' || s[i] == '-')
            i++;
        while (s[i] >= '0' && s[i] <= '9')
            i++;
    }
    return i;
}

/* Generated code: only the allowed characters, identifiers and literals,
 * balanced parentheses no deeper than expr.h promises.  what: the source. */
static void check_code(const char *code, const char *what)
{
    int depth = 0, max_depth = 0;
    for (const char *s = code; *s;) {
        if (strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_", *s)) {
            size_t n = 0;
            while (is_ident_char(s[n]))
                n++;
            ck_assert_msg(allowed_ident(s, n), "identifier '%.*s' in %s (%s)",
                          (int)n, s, code, what);
            s += n;
        } else if (*s >= '0' && *s <= '9') {
            size_t n = number_len(s);
            ck_assert_msg(!is_ident_char(s[n]), "literal at '%s' (%s)", s, what);
            s += n;
        } else {
            ck_assert_msg(*s && strchr(" ().,+-*/<>=!&|?:", *s),
                          "character 0x%02X in %s (%s)", (unsigned char)*s,
                          code, what);
            depth += *s == '(' ? 1 : *s == ')' ? -1 : 0;
            ck_assert_msg(depth >= 0, "unbalanced ')' in %s (%s)", code, what);
            if (depth > max_depth)
                max_depth = depth;
            s++;
        }
    }
    ck_assert_msg(depth == 0, "unbalanced '(' in %s (%s)", code, what);
    ck_assert_msg(!strstr(code, "--") && !strstr(code, "++"),
                  "'--' or '++' in %s (%s)", code, what);
    ck_assert_msg(max_depth <= 2 * H5CL_EXPR_MAX_DEPTH + 3,
                  "%d nested parentheses (%s)", max_depth, what);
}

static char shown(unsigned char c)
{
    if (c == ' ' || (c >= '\t' && c <= '\r'))
        return ' ';
    return (c >= 0x20 && c < 0x7f) ? (char)c : '?';
}

/* A parse error's message: "expression column <col>: ..." then the text
 * around the column and a caret under it; printable ASCII only.  Returns
 * the column. */
static size_t check_message(const char *msg, const char *text, size_t len)
{
    size_t col = 0;
    int used = 0;
    ck_assert_msg(sscanf(msg, "expression column %zu: %n", &col, &used) == 1 &&
                      used > 0,
                  "message '%s'", msg);
    ck_assert_msg(col >= 1 && col <= len + 1, "column %zu of %zu", col, len);
    for (const char *s = msg; *s; s++)
        ck_assert_msg(*s == '\n' || (*s >= 0x20 && *s < 0x7f),
                      "byte 0x%02X in message", (unsigned char)*s);
    const char *l2 = strchr(msg, '\n');
    ck_assert_ptr_nonnull(l2);
    const char *l3 = strchr(l2 + 1, '\n');
    ck_assert_ptr_nonnull(l3);
    ck_assert_msg(strncmp(l2 + 1, "  ", 2) == 0 && strncmp(l3 + 1, "  ", 2) == 0,
                  "indent in '%s'", msg);
    const char *caret = strchr(l3 + 1, '^');
    ck_assert_msg(caret && caret[1] == '\0', "caret line in '%s'", msg);
    size_t at = (size_t)(caret - (l3 + 1));
    size_t line_len = (size_t)(l3 - (l2 + 1));
    if (col - 1 < len) {
        ck_assert_msg(at < line_len && l2[1 + at] == shown((unsigned char)text[col - 1]),
                      "caret not under column %zu in '%s'", col, msg);
    } else {
        ck_assert_msg(at == line_len, "caret not after the end in '%s'", msg);
    }
    return col;
}

/* text over the standard variables is invalid at column col, the message
 * containing needle (and not containing not, unless NULL). */
static void check_error(const char *text, size_t col, const char *needle,
                        const char *not)
{
    h5cl_expr *e = (h5cl_expr *)&e;
    int rc = h5cl_expr_parse(ectx, text, std_names, std_dtypes, N_STD, &e);
    const char *msg = h5cl_ctx_errmsg(ectx);
    ck_assert_msg(rc == H5CL_ERR_EXPRESSION, "'%.200s' gave %s", text,
                  h5cl_errname(rc));
    ck_assert_ptr_null(e);
    size_t got = check_message(msg, text, strlen(text));
    ck_assert_msg(got == col, "'%s': column %zu, want %zu: %s", text, got, col,
                  msg);
    ck_assert_msg(strstr(msg, needle), "'%s': '%s' lacks '%s'", text, msg,
                  needle);
    ck_assert_msg(!not || !strstr(msg, not), "'%s': '%s' has '%s'", text, msg,
                  not);
}

/* ---- valid programs ------------------------------------------------------ */

START_TEST(test_result_dtype)
{
    static const struct {
        const char *text;
        h5cl_dtype want;
        int is_bool;
    } cases[] = {
        {"x", H5CL_FLOAT32, 0},
        {"y", H5CL_FLOAT32, 0},          /* int16 */
        {"b * 2", H5CL_FLOAT32, 0},      /* uint8 */
        {"x + y", H5CL_FLOAT32, 0},
        {"z", H5CL_FLOAT64, 0},          /* int32 */
        {"x + z", H5CL_FLOAT64, 0},
        {"w", H5CL_FLOAT64, 0},
        {"u", H5CL_FLOAT64, 0},          /* uint64 */
        {"1 + 2", H5CL_FLOAT32, 0},
        {"nan", H5CL_FLOAT32, 0},
        {"x > 0", H5CL_UINT8, 1},
        {"w < 1", H5CL_UINT8, 1},        /* boolean beats float64 */
        {"isnan(w)", H5CL_UINT8, 1},
        {"isinf(x) || isfinite(u)", H5CL_UINT8, 1},
        {"!x", H5CL_UINT8, 1},
        {"x && y", H5CL_UINT8, 1},
        {"(x > 0) * 2", H5CL_FLOAT32, 0},
        {"-(x > 0)", H5CL_FLOAT32, 0},
        {"where(x > 0, 1, 0)", H5CL_FLOAT32, 0},
        {"where(x > 0, x < 1, y < 2)", H5CL_UINT8, 1},
        {"x > 0 ? x < 1 : 2", H5CL_FLOAT32, 0},
        {"x ? w : 1", H5CL_FLOAT64, 0},
        {"+(x < 1)", H5CL_UINT8, 1},
        {"abs(x < 1)", H5CL_FLOAT32, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        h5cl_expr *e = parse_ok(cases[i].text);
        ck_assert_msg(h5cl_expr_result_dtype(e) == cases[i].want,
                      "'%s': %s, want %s", cases[i].text,
                      h5cl_dtype_name(h5cl_expr_result_dtype(e)),
                      h5cl_dtype_name(cases[i].want));
        ck_assert_msg(h5cl_expr_is_bool(e) == cases[i].is_bool, "'%s' bool",
                      cases[i].text);
        h5cl_expr_free(e);
    }
}
END_TEST

START_TEST(test_uses)
{
    h5cl_expr *e = parse_ok("x + 2 * w + (w > z)");
    static const int want[N_STD] = {1, 0, 1, 1, 0, 0};
    for (size_t i = 0; i < N_STD; i++)
        ck_assert_int_eq(!!h5cl_expr_uses(e, i), want[i]);
    ck_assert_int_eq(h5cl_expr_uses(e, N_STD), 0);
    ck_assert_int_eq(h5cl_expr_uses(e, (size_t)-1), 0);
    h5cl_expr_free(e);
    e = parse_ok("1 + 2");
    for (size_t i = 0; i < N_STD; i++)
        ck_assert_int_eq(h5cl_expr_uses(e, i), 0);
    h5cl_expr_free(e);
}
END_TEST

/* The public entry point: argument checks, the result, the message. */
START_TEST(test_expr_check)
{
    h5cl_ctx *ctx = ectx;
    h5cl_dtype dt = H5CL_INT8;
    ck_assert_int_eq(h5cl_expr_check(NULL, "x", std_names, std_dtypes, N_STD, &dt),
                     H5CL_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(h5cl_expr_check(ctx, NULL, std_names, std_dtypes, N_STD, &dt),
                     H5CL_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(h5cl_expr_check(ctx, "x", NULL, std_dtypes, N_STD, &dt),
                     H5CL_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(h5cl_expr_check(ctx, "x", std_names, NULL, N_STD, &dt),
                     H5CL_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(dt, H5CL_INT8);
    ck_assert_int_eq(h5cl_expr_check(ctx, "x +", std_names, std_dtypes, N_STD, &dt),
                     H5CL_ERR_EXPRESSION);
    ck_assert_int_eq(h5cl_ctx_errcode(ctx), H5CL_ERR_EXPRESSION);
    ck_assert(strstr(h5cl_ctx_errmsg(ctx), "column 4"));
    ck_assert_int_eq(dt, H5CL_INT8);
    ck_assert_int_eq(h5cl_expr_check(ctx, "sqrt(x*x + w*w)", std_names,
                                     std_dtypes, N_STD, &dt), H5CL_OK);
    ck_assert_int_eq(dt, H5CL_FLOAT64);
    ck_assert_int_eq(h5cl_ctx_errcode(ctx), H5CL_OK);
    ck_assert_str_eq(h5cl_ctx_errmsg(ctx), "");
    ck_assert_int_eq(h5cl_expr_check(ctx, "x > 1", std_names, std_dtypes, N_STD,
                                     NULL), H5CL_OK);
    ck_assert_int_eq(h5cl_expr_check(ctx, "2 * 3", NULL, NULL, 0, &dt), H5CL_OK);
    ck_assert_int_eq(dt, H5CL_FLOAT32);
}
END_TEST

/* ---- precedence and associativity --------------------------------------- */

static const struct {
    const char *text;
    double want;
} precedence_cases[] = {
    {"2+3*4", 14},
    {"(2+3)*4", 20},
    {"2*3+4", 10},
    {"-2**2", -4},        /* ** above unary minus, as Python */
    {"(-2)**2", 4},
    {"2**3**2", 512},     /* right-associative */
    {"(2**3)**2", 64},
    {"2**-1", 0.5},       /* a unary minus on the right of ** */
    {"-2**-2", -0.25},
    {"-x**2", -9},
    {"10 - 2 * 3 ** 2", -8},
    {"2 * 3 ** 2", 18},
    {"1-2-3", -4},        /* left-associative */
    {"8/2/2", 2},
    {"2*7%4", 2},         /* (2*7)%4 */
    {"2+7%4", 5},
    {"1 + 2 < 4", 1},
    {"1 < 2 + 3", 1},
    {"1 < 2 == 1", 1},    /* C: (1<2) == 1 */
    {"2 == 2 < 1", 0},    /* C: 2 == (2<1) */
    {"3 > 2 > 1", 0},     /* C, not Python's chain: (3>2) > 1 */
    {"1 == 1 != 0", 1},
    {"1 || 0 && 0", 1},   /* && above || */
    {"0 && 1 || 1", 1},
    {"0 && 0 || 0", 0},
    {"1 < 2 && 3 < 4", 1},
    {"!0 + 1", 2},        /* ! is unary */
    {"!1 == 0", 1},
    {"!!5", 1},
    {"!x", 0},
    {"- -2", 2},
    {"--x", 3},
    {"2--2", 4},
    {"+-+2", -2},
    {"1 ? 2 : 3", 2},
    {"0 ? 2 : 3", 3},
    {"1 ? 2 : 0 ? 3 : 4", 2}, /* right-associative */
    {"0 ? 2 : 0 ? 3 : 4", 4},
    {"0 ? 2 : 1 ? 3 : 4", 3},
    {"1 ? 0 ? 5 : 6 : 7", 6},
    {"0 || 1 ? 2 : 3", 2},    /* ?: below || */
    {"1 + 1 ? 2 : 3", 2},
    {"x > 2 ? y : z", -2},
    {"0.5 ? 1 : 2", 1},       /* nonzero is true */
    {"nan ? 1 : 2", 1},       /* numpy: bool(nan) is True */
    {"(x < 4) + (y < 0) + (z > 1)", 2},
    {"(1 < 2) * 5", 5},
    {"3 && 4", 1},
    {"0 || -1", 1},
    {"y % 3", 1},             /* -2 % 3: Python gives 1 */
    {"-7 % 3", 2},
    {"7 % -3", -2},
    {"-7 % -3", -1},
    {"7 % 3", 1},
    {"-7.5 % 2", 0.5},
    {"7.5 % -2", -0.5},
    {"5.5 % 1.5", 1},
    {"-1e-20 % 1", 1},        /* Python: 1.0 (the sum rounds) */
    {"3 % inf", 3},
    {"-3 % inf", INFINITY},   /* Python: inf */
    {"1e-3", 0.001},
    {"2.5E+4", 25000},
    {"2.5e4", 25000},
    {"1E-2", 0.01},
    {".5", 0.5},
    {"5.", 5},
    {"0001.50", 1.5},
    {"1e400", INFINITY},
    {"1e-400", 0},
    {"inf", INFINITY},
    {"-inf", -INFINITY},
    {"w / u", 2.5},
    {"b + u * w", 41},
};

START_TEST(test_precedence)
{
    for (size_t i = 0; i < sizeof precedence_cases / sizeof precedence_cases[0]; i++) {
        double got = value(precedence_cases[i].text);
        ck_assert_msg(same(got, precedence_cases[i].want), "'%s' = %.17g, want %.17g",
                      precedence_cases[i].text, got, precedence_cases[i].want);
    }
    ck_assert(isnan(value("nan")));
    ck_assert(isnan(value("5 % 0")));
    ck_assert(isnan(value("inf % 2")));
    ck_assert(isnan(value("nan % 2")));
    /* a zero remainder has the divisor's sign, as in Python and numpy */
    ck_assert(value("6 % -3") == 0 && signbit(value("6 % -3")));
    ck_assert(value("-6 % 3") == 0 && !signbit(value("-6 % 3")));
}
END_TEST

/* ---- functions ------------------------------------------------------------ */

static const char *const all_functions[] = {
    "abs", "sqrt", "cbrt", "exp", "exp2", "expm1", "log", "log2", "log10",
    "log1p", "sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh",
    "tanh", "floor", "ceil", "round", "trunc", "isnan", "isinf", "isfinite",
    "pow", "atan2", "fmin", "fmax", "clamp", "where"};

static const struct {
    const char *text;
    double want;
} function_cases[] = {
    {"abs(-2.5)", 2.5},         {"abs(y)", 2},
    {"sqrt(16)", 4},            {"sqrt(-1)", NAN},
    {"cbrt(-27)", -3},          {"exp(0)", 1},
    {"exp(1)", M_E},            {"exp2(10)", 1024},
    {"expm1(0)", 0},            {"log(1)", 0},
    {"log(0)", -INFINITY},      {"log2(8)", 3},
    {"log10(1000)", 3},         {"log1p(0)", 0},
    {"sin(0)", 0},              {"cos(0)", 1},
    {"tan(0)", 0},              {"asin(1)", M_PI / 2},
    {"acos(1)", 0},             {"atan(1)", M_PI / 4},
    {"sinh(0)", 0},             {"cosh(0)", 1},
    {"tanh(0)", 0},             {"floor(-1.5)", -2},
    {"ceil(-1.5)", -1},         {"round(2.5)", 2},  /* half to even */
    {"round(3.5)", 4},          {"round(-2.5)", -2},
    {"round(0.5)", 0},          {"round(1.5)", 2},
    {"round(2.6)", 3},          {"round(-0.4)", 0},
    {"trunc(-1.7)", -1},        {"trunc(1.7)", 1},
    {"isnan(nan)", 1},          {"isnan(1)", 0},
    {"isnan(inf)", 0},          {"isinf(-inf)", 1},
    {"isinf(1e308 * 10)", 1},   {"isinf(nan)", 0},
    {"isfinite(inf)", 0},       {"isfinite(nan)", 0},
    {"isfinite(1)", 1},         {"pow(2, 10)", 1024},
    {"pow(x, 2)", 9},           {"pow(-8, 1/3)", NAN},
    {"atan2(1, -1)", 3 * M_PI / 4},
    {"atan2(0, 1)", 0},         {"fmin(1, 2)", 1},
    {"fmin(1, nan)", 1},        {"fmax(nan, 2)", 2},
    {"fmax(1, 2)", 2},          {"clamp(5, 0, 3)", 3},
    {"clamp(-1, 0, 3)", 0},     {"clamp(2, 0, 3)", 2},
    {"clamp(nan, 0, 1)", NAN},  /* numpy's clip keeps NaN */
    {"clamp(1, nan, 2)", NAN},  {"clamp(1, 0, nan)", NAN},
    {"clamp(1, 3, 0)", 0},      /* lo > hi: hi, as numpy */
    {"where(1, 2, 3)", 2},      {"where(0, 2, 3)", 3},
    {"where(nan, 2, 3)", 2},    {"where(x > y, x, y)", 3},
    {"sqrt(x*x + 16)", 5},      {"pow(2, pow(1, 5))", 2},
};

START_TEST(test_functions)
{
    for (size_t i = 0; i < sizeof function_cases / sizeof function_cases[0]; i++) {
        double got = value(function_cases[i].text);
        double want = function_cases[i].want;
        ck_assert_msg(same(got, want) || fabs(got - want) <= 1e-15 * fabs(want),
                      "'%s' = %.17g, want %.17g", function_cases[i].text, got,
                      want);
    }
    /* every function of the grammar is covered above */
    for (size_t k = 0; k < sizeof all_functions / sizeof all_functions[0]; k++) {
        size_t n = strlen(all_functions[k]), i;
        for (i = 0; i < sizeof function_cases / sizeof function_cases[0]; i++)
            if (strncmp(function_cases[i].text, all_functions[k], n) == 0 &&
                function_cases[i].text[n] == '(')
                break;
        ck_assert_msg(i < sizeof function_cases / sizeof function_cases[0],
                      "%s has no value test", all_functions[k]);
    }
}
END_TEST

/* ---- generated code ------------------------------------------------------- */

START_TEST(test_codegen_shape)
{
    static const struct {
        const char *text, *want;
    } cases[] = {
        {"x", "v0"},
        {"b", "v5"},
        {"x + 1", "(v0 + ((EV)1))"},
        {"x + y * z", "(v0 + (v1 * v2))"},
        {"(x + y) * z", "((v0 + v1) * v2)"},
        {"0.1", "((EV)0.10000000000000001)"},
        {"2.5e-3", "((EV)0.0025000000000000001)"},
        {"1e400", "((EV)INFINITY)"},
        {"nan", "((EV)NAN)"},
        {"-inf", "(-((EV)INFINITY))"},
        {"-x**2", "(-pow(v0, ((EV)2)))"},
        {"--x", "(-(-v0))"},
        {"x % y", "h5cl_mod(v0, v1)"},
        {"abs(x)", "fabs(v0)"},
        {"round(x)", "rint(v0)"},
        {"clamp(x, 0, 1)", "h5cl_clamp(v0, ((EV)0), ((EV)1))"},
        {"x < y", "((EV)(v0 < v1))"},
        {"!x", "((EV)!(v0 != (EV)0))"},
        {"x && y", "((EV)((v0 != (EV)0) && (v1 != (EV)0)))"},
        {"x < y || isnan(z)", "((EV)((v0 < v1) || isnan(v2)))"},
        {"isnan(x)", "((EV)isnan(v0))"},
        {"(x < y) + 1", "((EV)(v0 < v1) + ((EV)1))"},
        {"x ? y : 2", "((v0 != (EV)0) ? v1 : ((EV)2))"},
        {"where(x < y, x, y)", "((v0 < v1) ? v0 : v1)"},
        {"x < y ? y < z : isinf(x)", "((EV)((v0 < v1) ? (v1 < v2) : isinf(v0)))"},
        {"sqrt(x < y)", "sqrt((EV)(v0 < v1))"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char code[256];
        code_of(cases[i].text, code, sizeof code);
        ck_assert_msg(strcmp(code, cases[i].want) == 0, "'%s' gave '%s', want '%s'",
                      cases[i].text, code, cases[i].want);
        check_code(code, cases[i].text);
    }
}
END_TEST

/* Every literal is re-printed so that it reads back to the same double. */
START_TEST(test_codegen_literals_roundtrip)
{
    tu_rng r;
    tu_rng_seed(&r, 77);
    for (int k = 0; k < 2000; k++) {
        double v;
        uint64_t bits = tu_rng_u64(&r) & 0x7fffffffffffffffULL;
        memcpy(&v, &bits, sizeof v);
        if (!isfinite(v))
            continue;
        char text[64], want_code[80], code[128];
        snprintf(text, sizeof text, "%.17g", v);
        code_of(text, code, sizeof code);
        ck_assert_int_eq(sscanf(code, "((EV)%79[^)])", want_code), 1);
        ck_assert_msg(strtod(want_code, NULL) == v, "%s became %s", text, code);
        ck_assert(same(value(text), v));
    }
}
END_TEST

/* ---- invalid programs ----------------------------------------------------- */

/* The example of expr.h, word for word. */
START_TEST(test_error_message_exact)
{
    static const char *const names[] = {"u", "v"};
    static const h5cl_dtype dts[] = {H5CL_FLOAT32, H5CL_FLOAT32};
    h5cl_ctx *ctx = ectx;
    h5cl_expr *e;
    ck_assert_int_eq(h5cl_expr_parse(ctx, "sqrt(uu*uu + v*v)", names, dts, 2, &e),
                     H5CL_ERR_EXPRESSION);
    ck_assert_ptr_null(e);
    ck_assert_str_eq(h5cl_ctx_errmsg(ctx),
                     "expression column 6: unknown variable 'uu' (did you mean 'u'?)\n"
                     "  sqrt(uu*uu + v*v)\n"
                     "       ^");
    /* no context: the status alone */
    ck_assert_int_eq(h5cl_expr_parse(NULL, "sqrt(uu)", names, dts, 2, &e),
                     H5CL_ERR_EXPRESSION);
    ck_assert_ptr_null(e);
    ck_assert_int_eq(h5cl_expr_parse(NULL, "sqrt(u)", names, dts, 2, &e), H5CL_OK);
    h5cl_expr_free(e);
    h5cl_expr_free(NULL);
}
END_TEST

static const struct {
    const char *text;
    size_t col;
    const char *needle, *not;
} error_cases[] = {
    {"sqr(x)", 1, "unknown function 'sqr' (did you mean 'sqrt'?)", NULL},
    {"lg(x)", 1, "unknown function 'lg' (did you mean 'log'?)", NULL},
    {"SQRT(x)", 1, "(did you mean 'sqrt'?)", NULL},
    {"sqtr(x)", 1, "(did you mean 'sqrt'?)", NULL},
    {"bar(x)", 1, "unknown function 'bar'", "did you mean"},
    {"nan(1)", 1, "unknown function 'nan'", NULL},
    {"x(2)", 1, "'x' is a variable, not a function", NULL},
    {"sqrt + 1", 1, "'sqrt' is a function: call it as sqrt(...)", NULL},
    {"xx + 1", 1, "unknown variable 'xx' (did you mean 'x'?)", NULL},
    {"1 + NaN", 5, "unknown variable 'NaN' (did you mean 'nan'?)", NULL},
    {"q", 1, "unknown variable 'q'", "did you mean"},
    {"sqrt(x, y)", 1, "sqrt takes 1 argument, got 2", NULL},
    {"x + pow(x)", 5, "pow takes 2 arguments, got 1", NULL},
    {"clamp()", 1, "clamp takes 3 arguments, got 0", NULL},
    {"where(x, y)", 1, "where takes 3 arguments, got 2", NULL},
    {"abs(1, 2, 3, 4, 5)", 1, "abs takes 1 argument, got 5", NULL},
    {"(x + y", 1, "unmatched '('", NULL},
    {"x + (y * (z - 1)", 5, "unmatched '('", NULL},
    {"((x)", 1, "unmatched '('", NULL},
    {"sqrt(x", 5, "unmatched '('", NULL},
    {"pow(x, y", 4, "unmatched '('", NULL},
    {"pow(x,", 7, "unexpected end of expression (expected a value)", NULL},
    {"x + y)", 6, "unmatched ')'", NULL},
    {"(x))", 4, "unmatched ')'", NULL},
    {")", 1, "unexpected ')' (expected a value)", NULL},
    {"()", 2, "unexpected ')' (expected a value)", NULL},
    {"x +", 4, "unexpected end of expression (expected a value)", NULL},
    {"x + * y", 5, "unexpected '*' (expected a value)", NULL},
    {"x y", 3, "unexpected name 'y' (expected an operator)", NULL},
    {"1 2", 3, "unexpected number '2' (expected an operator)", NULL},
    {"x (y)", 1, "'x' is a variable, not a function", NULL},
    {"2 (y)", 3, "unexpected '(' (expected an operator)", NULL},
    {"(x y)", 4, "unexpected name 'y' (expected an operator or ')')", NULL},
    {"sqrt(x y)", 8, "unexpected name 'y' (expected ',' or ')')", NULL},
    {"x ? y", 6, "unexpected end of expression (expected ':' for the '?' at column 3)", NULL},
    {"x ? y , z", 7, "unexpected ',' (expected ':' for the '?' at column 3)", NULL},
    {"x ? y : ", 9, "unexpected end of expression", NULL},
    {"x : y", 3, "unexpected ':' (expected an operator)", NULL},
    {"x, y", 2, "unexpected ','", NULL},
    {"", 1, "empty expression", NULL},
    {" \t\n ", 1, "empty expression", NULL},
    {"1e+", 1, "bad number literal '1e+'", NULL},
    {"1e", 1, "bad number literal '1e'", NULL},
    {"x + 3.4.5", 5, "bad number literal '3.4.5'", NULL},
    {"1..2", 1, "bad number literal '1..2'", NULL},
    {"2x", 1, "bad number literal '2x'", NULL},
    {"0x1F", 1, "bad number literal '0x1F'", NULL},
    {"1_000", 1, "bad number literal '1_000'", NULL},
    {"1.5f", 1, "bad number literal '1.5f'", NULL},
    {"x = y", 3, "unexpected character '=' (did you mean '=='?)", NULL},
    {"x & y", 3, "unexpected character '&' (did you mean '&&'?)", NULL},
    {"x | y", 3, "unexpected character '|' (did you mean '||'?)", NULL},
    {"x ^ 2", 3, "unexpected character '^' (powers are written '**')", NULL},
    {"x $ y", 3, "unexpected character '$'", NULL},
    {"x ; y", 3, "unexpected character ';'", NULL},
    {"x /* c */", 4, "unexpected '*' (expected a value)", NULL},
    {"# x", 1, "unexpected character '#'", NULL},
    {"x \\ y", 3, "unexpected character '\\'", NULL},
    {"\"x\"", 1, "unexpected character '\"'", NULL},
    {"'x'", 1, "unexpected character '''", NULL},
    {".", 1, "unexpected character '.'", NULL},
    {"x\x01", 2, "unexpected byte 0x01", NULL},
    {"\xc3\xbc + 1", 1, "unexpected byte 0xC3", NULL},
    {"x\x7f", 2, "unexpected byte 0x7F", NULL},
    {"x\xff", 2, "unexpected byte 0xFF", NULL},
};

START_TEST(test_errors)
{
    for (size_t i = 0; i < sizeof error_cases / sizeof error_cases[0]; i++)
        check_error(error_cases[i].text, error_cases[i].col,
                    error_cases[i].needle, error_cases[i].not);
}
END_TEST

/* With no variables bound, the message says so. */
START_TEST(test_error_no_variables)
{
    h5cl_ctx *ctx = ectx;
    h5cl_expr *e;
    ck_assert_int_eq(h5cl_expr_parse(ctx, "2 * x", NULL, NULL, 0, &e),
                     H5CL_ERR_EXPRESSION);
    ck_assert_msg(strstr(h5cl_ctx_errmsg(ctx), "column 5: unknown variable 'x' "
                                               "(no variables are bound)"),
                  "%s", h5cl_ctx_errmsg(ctx));
}
END_TEST

/* A long name is cut in the message; a long text is shown around the
 * column, with the caret under it. */
START_TEST(test_error_long_text)
{
    char *text = tu_alloc(2000);
    memset(text, ' ', 1000);
    memset(text + 1000, 'q', 300);
    check_error(text, 1001, "unknown variable 'qqqq", NULL);
    const char *msg = h5cl_ctx_errmsg(ectx);
    ck_assert_msg(strlen(msg) < 400, "%s", msg);
    ck_assert_msg(strstr(msg, "qqq...'\n  ...   ") && strstr(msg, "qqq...\n"),
                  "%s", msg);
    /* of unclosed parentheses, the innermost */
    strcpy(text, "x + ");
    memset(text + 4, '(', 50);
    strcpy(text + 54, "y");
    check_error(text, 54, "unmatched '('", NULL);
}
END_TEST

/* Nesting: 100 levels of each kind are fine, 101 are refused at the
 * token that opens the 101st. */
START_TEST(test_depth_limits)
{
    enum { D = H5CL_EXPR_MAX_DEPTH };
    char *t = tu_alloc(8 * D + 64);
    size_t k;

    for (k = 0; k < D; k++) /* parentheses */
        t[k] = '(';
    strcpy(t + D, "x");
    memset(t + D + 1, ')', D);
    t[2 * D + 1] = '\0';
    ck_assert(same(value(t), 3));
    memmove(t + 1, t, strlen(t) + 1);
    strcat(t, ")");
    check_error(t, D + 1, "nested too deeply", NULL);

    memset(t, '-', D); /* unary minus */
    strcpy(t + D, "x");
    ck_assert(same(value(t), 3));
    memmove(t + 1, t, strlen(t) + 1);
    check_error(t, D + 1, "nested too deeply", NULL);

    strcpy(t, "x"); /* a left-associative chain */
    for (k = 0; k < D; k++)
        strcat(t, "+x");
    ck_assert(same(value(t), 3 * (D + 1)));
    strcat(t, "+x");
    check_error(t, 2 * (D + 1), "nested too deeply", NULL);

    strcpy(t, "z"); /* a right-associative chain */
    for (k = 0; k < D; k++)
        strcat(t, "**z");
    h5cl_expr_free(parse_ok(t));
    strcat(t, "**z");
    check_error(t, 3 * D + 2, "nested too deeply", NULL);

    t[0] = '\0'; /* calls */
    for (k = 0; k < D; k++)
        strcat(t, "abs(");
    strcat(t, "y");
    for (k = 0; k < D; k++)
        strcat(t, ")");
    ck_assert(same(value(t), 2));
    memmove(t + 4, t, strlen(t) + 1);
    memcpy(t, "abs(", 4);
    strcat(t, ")");
    check_error(t, 4 * D + 4, "nested too deeply", NULL);
}
END_TEST

START_TEST(test_length_limit)
{
    char *t = tu_alloc(H5CL_EXPR_MAX_LEN + 2);
    memset(t, ' ', H5CL_EXPR_MAX_LEN - 1);
    t[H5CL_EXPR_MAX_LEN - 1] = 'x';
    ck_assert(same(value(t), 3));
    memset(t, ' ', H5CL_EXPR_MAX_LEN);
    t[H5CL_EXPR_MAX_LEN] = 'x';
    check_error(t, H5CL_EXPR_MAX_LEN + 1, "longer than 65536 bytes", NULL);
    /* a literal of 60000 digits is read, not refused */
    memset(t, '9', 60000);
    t[60000] = '\0';
    ck_assert(same(value(t), INFINITY));
}
END_TEST

/* Literals are read and printed with a decimal point whatever the
 * process's LC_NUMERIC.  Skipped where no decimal-comma locale exists. */
START_TEST(test_decimal_comma_locale)
{
    static const char *const locales[] = {"de_DE.UTF-8", "de_DE.utf8",
                                          "fr_FR.UTF-8", "fr_FR.utf8"};
    const char *set = NULL;
    for (size_t i = 0; !set && i < sizeof locales / sizeof locales[0]; i++)
        set = setlocale(LC_NUMERIC, locales[i]);
    if (!set)
        return;
    char printed[16];
    snprintf(printed, sizeof printed, "%.1f", 2.5);
    h5cl_expr *e;
    int rc = h5cl_expr_parse(ectx, "2.5 + 0.125e1", NULL, NULL, 0, &e);
    char *code = rc == H5CL_OK ? h5cl_expr_to_opencl(e) : NULL;
    double v = rc == H5CL_OK ? h5cl_expr_eval_host(e, NULL) : NAN;
    setlocale(LC_NUMERIC, "C");
    h5cl_expr_free(e);
    tu_defer(free, code);
    ck_assert_str_eq(printed, "2,5"); /* the locale is in effect */
    ck_assert_int_eq(rc, H5CL_OK);
    ck_assert(v == 3.75);
    ck_assert_str_eq(code, "(((EV)2.5) + ((EV)1.25))");
}
END_TEST

/* ---- the variable list ---------------------------------------------------- */

START_TEST(test_names)
{
    static const struct {
        const char *name;
        int status;
        const char *needle;
    } cases[] = {
        {"sqrt", H5CL_ERR_EXPRESSION, "'sqrt' is reserved"},
        {"where", H5CL_ERR_EXPRESSION, "'where' is reserved"},
        {"nan", H5CL_ERR_EXPRESSION, "'nan' is reserved"},
        {"inf", H5CL_ERR_EXPRESSION, "'inf' is reserved"},
        {"2x", H5CL_ERR_EXPRESSION, "'2x' is not an identifier"},
        {"a-b", H5CL_ERR_EXPRESSION, "not an identifier"},
        {"", H5CL_ERR_EXPRESSION, "not an identifier"},
        {"a b", H5CL_ERR_EXPRESSION, "not an identifier"},
        {"\xc3\xa9t\xc3\xa9", H5CL_ERR_EXPRESSION, "'?\?t?\?' is not an identifier"},
        {"x", H5CL_ERR_EXPRESSION, "'x' is bound twice"},
        {NULL, H5CL_ERR_INVALID_ARGUMENT, "NULL name"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *names[2] = {"x", cases[i].name};
        h5cl_dtype dts[2] = {H5CL_FLOAT32, H5CL_FLOAT32};
        h5cl_ctx *ctx = ectx;
        h5cl_expr *e;
        int rc = h5cl_expr_parse(ctx, "x", names, dts, 2, &e);
        ck_assert_msg(rc == cases[i].status, "name %zu: %s", i, h5cl_errname(rc));
        ck_assert_ptr_null(e);
        ck_assert_msg(strstr(h5cl_ctx_errmsg(ctx), cases[i].needle), "'%s'",
                      h5cl_ctx_errmsg(ctx));
    }
    /* names that only look like the generated code's are fine */
    static const char *const odd[] = {"v0", "EV", "NAN", "_", "h5cl_mod", "Sqrt"};
    static const h5cl_dtype f[] = {H5CL_FLOAT32, H5CL_FLOAT32, H5CL_FLOAT32,
                                   H5CL_FLOAT32, H5CL_FLOAT32, H5CL_FLOAT64};
    h5cl_ctx *ctx = ectx;
    h5cl_dtype dt;
    ck_assert_int_eq(h5cl_expr_check(ctx, "v0 + EV * NAN - _ + h5cl_mod + Sqrt",
                                     odd, f, 6, &dt), H5CL_OK);
    ck_assert_int_eq(dt, H5CL_FLOAT64);
    /* bad arguments */
    h5cl_dtype bad[1] = {(h5cl_dtype)H5CL_DTYPE_COUNT};
    h5cl_expr *e;
    ck_assert_int_eq(h5cl_expr_parse(ctx, "x", odd, bad, 1, &e),
                     H5CL_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(h5cl_expr_parse(ctx, NULL, odd, f, 1, &e),
                     H5CL_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(h5cl_expr_parse(ctx, "x", NULL, f, 1, &e),
                     H5CL_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(h5cl_expr_parse(ctx, "x", odd, f, 1, NULL),
                     H5CL_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(h5cl_expr_parse(ctx, "1", NULL, NULL, 0, &e), H5CL_OK);
    h5cl_expr_free(e);
}
END_TEST

/* ---- fuzzing ---------------------------------------------------------------- */

/* Parses text (len bytes): OK with well-formed code and a finite-or-not
 * value, or H5CL_ERR_EXPRESSION with a well-formed message.  Returns
 * whether it parsed. */
static int fuzz_one(const char *text)
{
    h5cl_expr *e;
    int rc = h5cl_expr_parse(ectx, text, std_names, std_dtypes, N_STD, &e);
    ck_assert_msg(rc == H5CL_OK || rc == H5CL_ERR_EXPRESSION, "%s for '%s'",
                  h5cl_errname(rc), text);
    if (rc != H5CL_OK) {
        ck_assert_ptr_null(e);
        check_message(h5cl_ctx_errmsg(ectx), text, strlen(text));
        return 0;
    }
    char *code = h5cl_expr_to_opencl(e);
    ck_assert_ptr_nonnull(code);
    check_code(code, text);
    free(code);
    (void)h5cl_expr_eval_host(e, std_values);
    h5cl_expr_free(e);
    return 1;
}

START_TEST(test_fuzz_bytes)
{
    tu_rng r;
    char text[64];
    tu_rng_seed(&r, 1000 + (uint64_t)_i);
    for (int k = 0; k < 3000; k++) {
        size_t n = tu_rng_below(&r, sizeof text);
        for (size_t i = 0; i < n; i++) {
            /* half the time printable ASCII, where the grammar lives */
            text[i] = (char)(tu_rng_below(&r, 2) ? 1 + tu_rng_below(&r, 255)
                                                 : 0x20 + tu_rng_below(&r, 95));
        }
        text[n] = '\0';
        fuzz_one(text);
    }
}
END_TEST

static const char *const soup[] = {
    "x", "y", "w", "u", "b", "1", "2.5", "1e-3", ".5", "3.", "nan", "inf",
    "+", "-", "*", "/", "%", "**", "<", "<=", ">", ">=", "==", "!=", "&&",
    "||", "!", "?", ":", "(", ")", ",", " ", "  ", "sqrt(", "pow(", "clamp(",
    "where(", "isnan(", "abs(", "round(", "atan2(", "sqr", "xx", ";", "/*",
    "*/", "#", "\\", "\"", "'", "\xff", "\xc3\xa9", "1e", "=", "&", "|", "^",
    "0x1", "..", "\t", "\n", "(x)", "-x", "x ? y : w", "1e308", "1e400",
};

START_TEST(test_fuzz_tokens)
{
    tu_rng r;
    char text[512];
    int ok = 0;
    tu_rng_seed(&r, 2000 + (uint64_t)_i);
    for (int k = 0; k < 4000; k++) {
        size_t ntok = 1 + tu_rng_below(&r, 24);
        text[0] = '\0';
        for (size_t t = 0; t < ntok; t++)
            strcat(text, soup[tu_rng_below(&r, sizeof soup / sizeof soup[0])]);
        ok += fuzz_one(text);
    }
    ck_assert_msg(ok >= 50, "only %d valid soups", ok); /* not vacuous */
}
END_TEST

/* ---- random valid expressions against an independent reference ---------- */

typedef struct gen {
    tu_rng r;
    char *s;
    size_t n, cap;
} gen;

static void gput(gen *g, const char *t)
{
    size_t k = strlen(t);
    ck_assert(g->n + k < g->cap);
    memcpy(g->s + g->n, t, k + 1);
    g->n += k;
}

/* Python's float %, written from its definition. */
static double ref_mod(double a, double b)
{
    if (isnan(a) || isnan(b) || isinf(a) || b == 0)
        return NAN;
    double r = fmod(a, b);
    if (r == 0)
        return copysign(0.0, b);
    return ((r < 0) != (b < 0)) ? r + b : r;
}

static double ref_clamp(double x, double lo, double hi)
{
    if (isnan(x) || isnan(lo) || isnan(hi))
        return NAN;
    return fmin(fmax(x, lo), hi);
}

static const struct {
    const char *name;
    double (*f)(double);
} ref1[] = {
    {"abs", fabs}, {"sqrt", sqrt}, {"cbrt", cbrt}, {"exp", exp}, {"exp2", exp2},
    {"expm1", expm1}, {"log", log}, {"log2", log2}, {"log10", log10},
    {"log1p", log1p}, {"sin", sin}, {"cos", cos}, {"tan", tan}, {"asin", asin},
    {"acos", acos}, {"atan", atan}, {"sinh", sinh}, {"cosh", cosh},
    {"tanh", tanh}, {"floor", floor}, {"ceil", ceil}, {"round", nearbyint},
    {"trunc", trunc},
};

static double gen_expr(gen *g, int depth);

static double gen_leaf(gen *g)
{
    static const struct {
        const char *text;
        double v;
    } leaves[] = {{"x", 3}, {"y", -2}, {"z", 0.5}, {"0", 0}, {"1", 1},
                  {"2.5", 2.5}, {"1e-3", 1e-3}, {".5", .5}, {"3.", 3},
                  {"nan", NAN}, {"inf", INFINITY}};
    size_t k = tu_rng_below(&g->r, sizeof leaves / sizeof leaves[0]);
    gput(g, leaves[k].text);
    return leaves[k].v;
}

/* "(A)" */
static double gen_paren(gen *g, int depth)
{
    gput(g, "(");
    double v = gen_expr(g, depth);
    gput(g, ")");
    return v;
}

static double gen_binary(gen *g, int depth)
{
    static const char *const ops[] = {"+", "-", "*", "/", "%", "**", "<", "<=",
                                      ">", ">=", "==", "!=", "&&", "||"};
    size_t op = tu_rng_below(&g->r, sizeof ops / sizeof ops[0]);
    double a = gen_paren(g, depth);
    gput(g, " ");
    gput(g, ops[op]);
    gput(g, " ");
    double b = gen_paren(g, depth);
    switch (op) {
    case 0: return a + b;
    case 1: return a - b;
    case 2: return a * b;
    case 3: return a / b;
    case 4: return ref_mod(a, b);
    case 5: return pow(a, b);
    case 6: return a < b;
    case 7: return a <= b;
    case 8: return a > b;
    case 9: return a >= b;
    case 10: return a == b;
    case 11: return a != b;
    case 12: return a != 0 && b != 0;
    default: return a != 0 || b != 0;
    }
}

static double gen_call(gen *g, int depth)
{
    size_t k = tu_rng_below(&g->r, sizeof ref1 / sizeof ref1[0] + 9);
    if (k < sizeof ref1 / sizeof ref1[0]) {
        gput(g, ref1[k].name);
        return ref1[k].f(gen_paren(g, depth));
    }
    static const char *const many[] = {"pow(", "atan2(", "fmin(", "fmax(",
                                       "clamp(", "where(", "isnan(", "isinf(",
                                       "isfinite("};
    k -= sizeof ref1 / sizeof ref1[0];
    gput(g, many[k]);
    double a = gen_expr(g, depth), b = 0, c = 0;
    if (k < 6) {
        gput(g, ", ");
        b = gen_expr(g, depth);
    }
    if (k == 4 || k == 5) {
        gput(g, ", ");
        c = gen_expr(g, depth);
    }
    gput(g, ")");
    double v[] = {pow(a, b), atan2(a, b), fmin(a, b), fmax(a, b),
                  ref_clamp(a, b, c), a != 0 ? b : c, isnan(a), isinf(a),
                  isfinite(a)};
    return v[k];
}

static double gen_expr(gen *g, int depth)
{
    if (depth == 0)
        return gen_leaf(g);
    switch (tu_rng_below(&g->r, 7)) {
    case 0: return gen_leaf(g);
    case 1: gput(g, "-"); return -gen_paren(g, depth - 1);
    case 2: gput(g, "!"); return gen_paren(g, depth - 1) == 0;
    case 3: {
        double c = gen_paren(g, depth - 1), a, b;
        gput(g, " ? ");
        a = gen_paren(g, depth - 1);
        gput(g, " : ");
        b = gen_paren(g, depth - 1);
        return c != 0 ? a : b;
    }
    case 4: return gen_call(g, depth - 1);
    default: return gen_binary(g, depth - 1);
    }
}

START_TEST(test_random_valid)
{
    gen g;
    h5cl_ctx *ctx = ectx;
    g.cap = 1 << 16;
    g.s = tu_alloc(g.cap);
    tu_rng_seed(&g.r, 3000 + (uint64_t)_i);
    for (int k = 0; k < 1500; k++) {
        g.n = 0;
        g.s[0] = '\0';
        double want = gen_expr(&g, 1 + (int)tu_rng_below(&g.r, 6));
        h5cl_expr *e;
        int rc = h5cl_expr_parse(ctx, g.s, std_names, std_dtypes, N_STD, &e);
        ck_assert_msg(rc == H5CL_OK, "'%s': %s", g.s, h5cl_ctx_errmsg(ctx));
        double got = h5cl_expr_eval_host(e, std_values);
        ck_assert_msg(same(got, want), "'%s' = %.17g, want %.17g", g.s, got, want);
        char *code = h5cl_expr_to_opencl(e);
        ck_assert_ptr_nonnull(code);
        check_code(code, g.s);
        free(code);
        h5cl_expr_free(e);
    }
}
END_TEST

/* ---- on the device ---------------------------------------------------------- */

/* Expressions as deep as the limit allows, in the shapes that nest the
 * generated code's parentheses the most; each written to a tu_alloc'd
 * string. */
static const char *deep_expr(int shape)
{
    static const char *const open[] = {"abs(x && ", "!sqrt(", "-(x + ",
                                       "where(x < ", "(x < "};
    static const char *const close[] = {")", ")", ")", ", x, y)", ")"};
    static const int levels[] = {2, 2, 2, 2, 1}; /* tree levels per wrapper */
    size_t per = strlen(open[shape]) + strlen(close[shape]);
    char *t = tu_alloc(per * H5CL_EXPR_MAX_DEPTH + 8);
    int n = H5CL_EXPR_MAX_DEPTH / levels[shape];
    for (int k = 0; k < n; k++)
        strcat(t, open[shape]);
    strcat(t, "z");
    for (int k = 0; k < n; k++)
        strcat(t, close[shape]);
    return t;
}
#define N_DEEP 5

static const char *const device_exprs[] = {
    "x + y", "x - y", "x * y", "x / y", "x % y", "x ** 2", "y ** x", "-x",
    "+x", "!x", "x < y", "x <= y", "x > y", "x >= y", "x == y", "x != y",
    "x && y", "x || y", "x ? y : z", "x > y ? x < z : y < z", "(x + y) * z",
    "-x**2", "2**-x", "nan", "inf", "-inf", "1e-3 * 2.5E+4 + .5 + 5.",
    "abs(y)", "sqrt(abs(x))", "cbrt(y)", "exp(x)", "exp2(y)", "expm1(x)",
    "log(abs(x))", "log2(abs(y))", "log10(abs(z))", "log1p(abs(x))",
    "sin(x)", "cos(x)", "tan(x)", "asin(x / 8)", "acos(x / 8)", "atan(y)",
    "sinh(x)", "cosh(x)", "tanh(y)", "floor(y)", "ceil(y)", "round(y)",
    "round(x)", "trunc(y)", "isnan(x)", "isinf(x)", "isfinite(x)",
    "pow(x, y)", "atan2(x, y)", "fmin(x, y)", "fmax(x, y)", "clamp(x, y, z)",
    "where(x > y, x, y)", "where(x, x < y, y < z)", "isnan(x) + (x < y) * 2",
    "!(x < y) || isnan(y)", "!(x + y)", "-(x < y)", "sqrt(x < y)",
};
#define N_DEVICE_EXPRS (sizeof device_exprs / sizeof device_exprs[0])
#define N_EXPRS (N_DEVICE_EXPRS + N_DEEP)

/* Input rows (x, y, z), exact in float. */
static const double rows[][3] = {
    {0.5, -1.25, 2}, {-3, 0.75, 0}, {0, 0, -2.5}, {NAN, 1, INFINITY},
    {INFINITY, -INFINITY, 1}, {2.5, 2.5, -1}, {7, -3, 4}, {-0.5, 3.5, 0.25},
};
#define N_ROWS (sizeof rows / sizeof rows[0])

static const char *const xyz[] = {"x", "y", "z"};

static void expr_free(void *p) { h5cl_expr_free(p); }
static void release_program(void *p) { clReleaseProgram(p); }
static void release_kernel(void *p) { clReleaseKernel(p); }
static void release_mem(void *p) { clReleaseMemObject(p); }

static const char *expr_text(size_t k)
{
    return k < N_DEVICE_EXPRS ? device_exprs[k] : deep_expr((int)(k - N_DEVICE_EXPRS));
}

/* The kernel: the prelude, then out[N_EXPRS * i + k] = expression k. */
static char *kernel_source(int fp64, h5cl_expr **exprs)
{
    static const h5cl_dtype dts[] = {H5CL_FLOAT32, H5CL_FLOAT32, H5CL_FLOAT32};
    size_t cap = 1 << 20, n = 0;
    char *src = tu_alloc(cap);
    n += (size_t)snprintf(src + n, cap - n, "%s",
                          fp64 ? "#pragma OPENCL EXTENSION cl_khr_fp64 : enable\n"
                                 "typedef double EV;\n"
                               : "typedef float EV;\n");
    n += (size_t)snprintf(src + n, cap - n, "%s", h5cl_expr_prelude());
    n += (size_t)snprintf(src + n, cap - n,
                          "__kernel void run(__global const EV *in, __global EV *out)\n"
                          "{\n"
                          "    size_t i = get_global_id(0);\n"
                          "    EV v0 = in[3 * i], v1 = in[3 * i + 1], v2 = in[3 * i + 2];\n");
    for (size_t k = 0; k < N_EXPRS; k++) {
        int rc = h5cl_expr_parse(tu_ctx, expr_text(k), xyz, dts, 3, &exprs[k]);
        ck_assert_msg(rc == H5CL_OK, "'%s': %s", expr_text(k), h5cl_ctx_errmsg(tu_ctx));
        tu_defer(expr_free, exprs[k]);
        char *code = h5cl_expr_to_opencl(exprs[k]);
        ck_assert_ptr_nonnull(code);
        check_code(code, expr_text(k));
        n += (size_t)snprintf(src + n, cap - n, "    out[%zu * i + %zu] = %s;\n",
                              (size_t)N_EXPRS, k, code);
        free(code);
        ck_assert(n < cap);
    }
    snprintf(src + n, cap - n, "}\n");
    return src;
}

static cl_program build(h5cl_ctx *ctx, const char *src)
{
    cl_int err;
    cl_program prog = clCreateProgramWithSource(ctx->dev.context, 1, &src, NULL, &err);
    ck_assert_int_eq(err, CL_SUCCESS);
    tu_defer(release_program, prog);
    err = clBuildProgram(prog, 1, &ctx->dev.id, "-cl-std=CL1.2", NULL, NULL);
    if (err != CL_SUCCESS) {
        size_t n = 0;
        clGetProgramBuildInfo(prog, ctx->dev.id, CL_PROGRAM_BUILD_LOG, 0, NULL, &n);
        char *log = tu_alloc(n + 1);
        clGetProgramBuildInfo(prog, ctx->dev.id, CL_PROGRAM_BUILD_LOG, n, log, NULL);
        ck_abort_msg("build failed (%s):\n%.3000s", h5cl_cl_errname(err), log);
    }
    return prog;
}

/* Runs the kernel over rows; the results as doubles in out. */
static void run_kernel(h5cl_ctx *ctx, cl_program prog, int fp64, double *out)
{
    size_t es = fp64 ? sizeof(double) : sizeof(float);
    unsigned char *in = tu_alloc(N_ROWS * 3 * es), *res = tu_alloc(N_ROWS * N_EXPRS * es);
    for (size_t i = 0; i < N_ROWS * 3; i++) {
        double d = rows[i / 3][i % 3];
        float f = (float)d;
        memcpy(in + i * es, fp64 ? (void *)&d : (void *)&f, es);
    }
    cl_int err;
    cl_kernel k = clCreateKernel(prog, "run", &err);
    ck_assert_int_eq(err, CL_SUCCESS);
    tu_defer(release_kernel, k);
    cl_mem bin = clCreateBuffer(ctx->dev.context, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR,
                                N_ROWS * 3 * es, in, &err);
    ck_assert_int_eq(err, CL_SUCCESS);
    tu_defer(release_mem, bin);
    cl_mem bout = clCreateBuffer(ctx->dev.context, CL_MEM_WRITE_ONLY,
                                 N_ROWS * N_EXPRS * es, NULL, &err);
    ck_assert_int_eq(err, CL_SUCCESS);
    tu_defer(release_mem, bout);
    ck_assert_int_eq(clSetKernelArg(k, 0, sizeof bin, &bin), CL_SUCCESS);
    ck_assert_int_eq(clSetKernelArg(k, 1, sizeof bout, &bout), CL_SUCCESS);
    size_t global = N_ROWS;
    ck_assert_int_eq(clEnqueueNDRangeKernel(ctx->dev.comp, k, 1, NULL, &global, NULL,
                                            0, NULL, NULL), CL_SUCCESS);
    ck_assert_int_eq(clEnqueueReadBuffer(ctx->dev.comp, bout, CL_TRUE, 0,
                                         N_ROWS * N_EXPRS * es, res, 0, NULL, NULL),
                     CL_SUCCESS);
    for (size_t i = 0; i < N_ROWS * N_EXPRS; i++) {
        float f;
        memcpy(fp64 ? (void *)&out[i] : (void *)&f, res + i * es, es);
        if (!fp64)
            out[i] = f;
    }
}

/* Every construct, and the deepest expressions, built by the device's
 * compiler (EV double on devices with fp64, and float), run on a few rows
 * and compared with the host evaluator. */
START_TEST(test_device_build_and_run)
{
    int fp64 = _i == 0;
    if (fp64 && !tu_dev.has_fp64)
        return; /* the float pass covers such devices */
    h5cl_expr *exprs[N_EXPRS];
    cl_program prog = build(tu_ctx, kernel_source(fp64, exprs));
    double *out = tu_alloc(N_ROWS * N_EXPRS * sizeof *out);
    run_kernel(tu_ctx, prog, fp64, out);
    double tol = fp64 ? 1e-12 : 2e-5;
    for (size_t i = 0; i < N_ROWS; i++) {
        for (size_t k = 0; k < N_EXPRS; k++) {
            double got = out[i * N_EXPRS + k];
            double want = h5cl_expr_eval_host(exprs[k], rows[i]);
            int ok = same(got, want) ||
                     (isfinite(want) && fabs(got - want) <= tol * (1 + fabs(want)));
            ck_assert_msg(ok, "%s, row %zu: '%.60s' = %.17g on the device, %.17g on "
                          "the host", fp64 ? "double" : "float", i, expr_text(k),
                          got, want);
        }
    }
}
END_TEST

Suite *expr_suite(void)
{
    Suite *s = suite_create("expr");
    TCase *tc = tcase_create("language");
    tcase_add_checked_fixture(tc, expr_setup, expr_teardown);
    tcase_add_test(tc, test_result_dtype);
    tcase_add_test(tc, test_uses);
    tcase_add_test(tc, test_expr_check);
    tcase_add_test(tc, test_precedence);
    tcase_add_test(tc, test_functions);
    tcase_add_test(tc, test_codegen_shape);
    tcase_add_test(tc, test_codegen_literals_roundtrip);
    tcase_add_test(tc, test_decimal_comma_locale);
    suite_add_tcase(s, tc);

    tc = tcase_create("errors");
    tcase_add_checked_fixture(tc, expr_setup, expr_teardown);
    tcase_add_test(tc, test_error_message_exact);
    tcase_add_test(tc, test_errors);
    tcase_add_test(tc, test_error_no_variables);
    tcase_add_test(tc, test_error_long_text);
    tcase_add_test(tc, test_depth_limits);
    tcase_add_test(tc, test_length_limit);
    tcase_add_test(tc, test_names);
    suite_add_tcase(s, tc);

    tc = tcase_create("fuzz");
    tcase_add_checked_fixture(tc, expr_setup, expr_teardown);
    tcase_set_timeout(tc, TU_TIMEOUT);
    tcase_add_loop_test(tc, test_fuzz_bytes, 0, 3);
    tcase_add_loop_test(tc, test_fuzz_tokens, 0, 3);
    tcase_add_loop_test(tc, test_random_valid, 0, 3);
    suite_add_tcase(s, tc);

    tc = tcase_create("device");
    tcase_add_checked_fixture(tc, tu_ctx_setup, tu_ctx_teardown);
    tcase_set_timeout(tc, TU_TIMEOUT);
    tcase_add_loop_test(tc, test_device_build_and_run, 0, 2);
    suite_add_tcase(s, tc);
    return s;
}
