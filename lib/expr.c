/* The expression language (see expr.h): a recursive-descent parser that
 * builds a typed tree, the OpenCL C generator, and a host evaluator that is
 * the tree's reference semantics for the tests.
 *
 * Hostile text is expected (expressions come from command lines and
 * scripts): the text is bounded in length, recursion and tree depth are
 * bounded, every byte outside the grammar is an error, and the generated
 * code is built only from the tree (v<i>, re-printed literals, whitelisted
 * names), never from the user's bytes. */
#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "expr.h"

#define QUOTE_MAX 48   /* bytes of a name or literal quoted in a message */
#define WINDOW_HALF 40 /* bytes shown either side of an error's column   */

/* ---- tokens ------------------------------------------------------------ */

enum {
    T_END, T_NUM, T_NAME,
    T_LP, T_RP, T_COMMA, T_QUEST, T_COLON,
    T_ADD, T_SUB, T_MUL, T_DIV, T_MOD, T_POW,
    T_LT, T_LE, T_GT, T_GE, T_EQ, T_NE,
    T_AND, T_OR, T_NOT
};

/* Longest first, so "**" wins over "*". */
static const struct punct {
    const char *text;
    int tok;
} puncts[] = {
    {"**", T_POW}, {"<=", T_LE}, {">=", T_GE}, {"==", T_EQ}, {"!=", T_NE},
    {"&&", T_AND}, {"||", T_OR}, {"+", T_ADD}, {"-", T_SUB}, {"*", T_MUL},
    {"/", T_DIV}, {"%", T_MOD}, {"<", T_LT}, {">", T_GT}, {"!", T_NOT},
    {"(", T_LP}, {")", T_RP}, {",", T_COMMA}, {"?", T_QUEST}, {":", T_COLON},
};

static const char *punct_text(int tok)
{
    for (size_t i = 0; i < H5CL_ARRAY_LEN(puncts); i++)
        if (puncts[i].tok == tok)
            return puncts[i].text;
    return "?";
}

/* Binary operators from the loosest (0) to the tightest; -1: not binary.
 * `**` is handled apart: it is right-associative and above unary minus. */
static int binary_level(int tok)
{
    switch (tok) {
    case T_OR: return 0;
    case T_AND: return 1;
    case T_EQ: case T_NE: return 2;
    case T_LT: case T_LE: case T_GT: case T_GE: return 3;
    case T_ADD: case T_SUB: return 4;
    case T_MUL: case T_DIV: case T_MOD: return 5;
    }
    return -1;
}
#define BINARY_LEVELS 6

static int is_comparison(int tok)
{
    return binary_level(tok) == 2 || binary_level(tok) == 3;
}

/* ---- functions --------------------------------------------------------- */

static double host_isnan(double x) { return isnan(x) ? 1 : 0; }
static double host_isinf(double x) { return isinf(x) ? 1 : 0; }
static double host_isfinite(double x) { return isfinite(x) ? 1 : 0; }

/* numpy's (and Python's) float remainder: the sign of the divisor, a zero
 * result signed like the divisor.  The prelude's h5cl_mod is the same. */
static double host_mod(double a, double b)
{
    double r = fmod(a, b);
    if (r != 0)
        return ((r < 0) != (b < 0)) ? r + b : r;
    return copysign(0.0, b);
}

/* numpy's clip: max then min, a NaN in any argument propagates (unlike
 * OpenCL's clamp, which is undefined for lo > hi).  As h5cl_clamp. */
static double host_clamp(double x, double lo, double hi)
{
    double r = (x < lo || isnan(lo)) ? lo : x;
    return (r > hi || isnan(hi)) ? hi : r;
}

enum { F_WHERE = 0 }; /* index of `where` in fns: it becomes a ternary */

static const struct fn {
    const char *name;
    const char *cl; /* the OpenCL C function called */
    int arity;
    int is_bool;
    double (*f1)(double);
    double (*f2)(double, double);
    double (*f3)(double, double, double);
} fns[] = {
    {"where", NULL, 3, 0, NULL, NULL, NULL},
    {"abs", "fabs", 1, 0, fabs, NULL, NULL}, /* OpenCL's abs is for ints */
    {"sqrt", "sqrt", 1, 0, sqrt, NULL, NULL},
    {"cbrt", "cbrt", 1, 0, cbrt, NULL, NULL},
    {"exp", "exp", 1, 0, exp, NULL, NULL},
    {"exp2", "exp2", 1, 0, exp2, NULL, NULL},
    {"expm1", "expm1", 1, 0, expm1, NULL, NULL},
    {"log", "log", 1, 0, log, NULL, NULL},
    {"log2", "log2", 1, 0, log2, NULL, NULL},
    {"log10", "log10", 1, 0, log10, NULL, NULL},
    {"log1p", "log1p", 1, 0, log1p, NULL, NULL},
    {"sin", "sin", 1, 0, sin, NULL, NULL},
    {"cos", "cos", 1, 0, cos, NULL, NULL},
    {"tan", "tan", 1, 0, tan, NULL, NULL},
    {"asin", "asin", 1, 0, asin, NULL, NULL},
    {"acos", "acos", 1, 0, acos, NULL, NULL},
    {"atan", "atan", 1, 0, atan, NULL, NULL},
    {"sinh", "sinh", 1, 0, sinh, NULL, NULL},
    {"cosh", "cosh", 1, 0, cosh, NULL, NULL},
    {"tanh", "tanh", 1, 0, tanh, NULL, NULL},
    {"floor", "floor", 1, 0, floor, NULL, NULL},
    {"ceil", "ceil", 1, 0, ceil, NULL, NULL},
    /* numpy rounds half to even: rint (in the default rounding mode), not
     * C's round, which rounds half away from zero. */
    {"round", "rint", 1, 0, rint, NULL, NULL},
    {"trunc", "trunc", 1, 0, trunc, NULL, NULL},
    {"isnan", "isnan", 1, 1, host_isnan, NULL, NULL},
    {"isinf", "isinf", 1, 1, host_isinf, NULL, NULL},
    {"isfinite", "isfinite", 1, 1, host_isfinite, NULL, NULL},
    {"pow", "pow", 2, 0, NULL, pow, NULL},
    {"atan2", "atan2", 2, 0, NULL, atan2, NULL},
    {"fmin", "fmin", 2, 0, NULL, fmin, NULL},
    {"fmax", "fmax", 2, 0, NULL, fmax, NULL},
    {"clamp", "h5cl_clamp", 3, 0, NULL, NULL, host_clamp},
};

static const char *const constants[] = {"nan", "inf"};

static int find_name(const char *const *list, size_t n, const char *s,
                     size_t len)
{
    for (size_t i = 0; i < n; i++)
        if (strncmp(list[i], s, len) == 0 && list[i][len] == '\0')
            return (int)i;
    return -1;
}

static int find_fn(const char *s, size_t len)
{
    for (size_t i = 0; i < H5CL_ARRAY_LEN(fns); i++)
        if (strncmp(fns[i].name, s, len) == 0 && fns[i].name[len] == '\0')
            return (int)i;
    return -1;
}

const char *h5cl_expr_prelude(void)
{
    return "EV h5cl_mod(EV a, EV b)\n"
           "{\n"
           "    EV r = fmod(a, b);\n"
           "    if (r != (EV)0)\n"
           "        return ((r < (EV)0) != (b < (EV)0)) ? r + b : r;\n"
           "    return copysign((EV)0, b);\n"
           "}\n"
           "EV h5cl_clamp(EV x, EV lo, EV hi)\n"
           "{\n"
           "    EV r = (x < lo || isnan(lo)) ? lo : x;\n"
           "    return (r > hi || isnan(hi)) ? hi : r;\n"
           "}\n";
}

/* ---- the tree ---------------------------------------------------------- */

enum { N_NUM, N_VAR, N_NEG, N_NOT, N_BIN, N_COND, N_CALL };

typedef struct node {
    struct node *next; /* every node of a parse, for freeing */
    struct node *arg[3];
    double num;        /* N_NUM */
    size_t var;        /* N_VAR */
    size_t pos;        /* byte offset of its token, for messages */
    int kind;
    int op;            /* N_BIN: a token; N_CALL: an index into fns */
    int is_bool;
    int depth;         /* operator levels below and including this one */
} node;

struct h5cl_expr {
    node *root;
    node *nodes;
    size_t n;
    unsigned char *used; /* n flags */
    h5cl_dtype result;
};

static void free_nodes(node *n)
{
    while (n) {
        node *next = n->next;
        free(n);
        n = next;
    }
}

void h5cl_expr_free(h5cl_expr *e)
{
    if (!e)
        return;
    free_nodes(e->nodes);
    free(e->used);
    free(e);
}

/* ---- the parser -------------------------------------------------------- */

typedef struct parser {
    h5cl_ctx *ctx;
    const char *text;
    size_t len;
    const char *const *names;
    size_t n;
    unsigned char *used;
    node *nodes;
    locale_t c_numeric; /* made on the first literal */
    int status;
    int nesting;
    /* the current token */
    int tok;
    size_t pos, tlen;
    double num;
} parser;

static int is_alpha(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static int is_digit(int c)
{
    return c >= '0' && c <= '9';
}

static int is_space(int c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
           c == '\f';
}

/* A byte as shown in a message: control and non-ASCII bytes become '?'
 * so that the echo is plain text and the caret stays under its column. */
static char shown(unsigned char c)
{
    if (is_space(c))
        return ' ';
    return (c >= 0x20 && c < 0x7f) ? (char)c : '?';
}

/* Up to QUOTE_MAX bytes of s[0..len) in buf, "..." when cut. */
static const char *quote(const char *s, size_t len, char *buf)
{
    size_t k = len < QUOTE_MAX ? len : QUOTE_MAX;
    for (size_t i = 0; i < k; i++)
        buf[i] = shown((unsigned char)s[i]);
    strcpy(buf + k, len > k ? "..." : "");
    return buf;
}

/* The window of the text around pos in out (at least 2 * WINDOW_HALF + 7
 * bytes); returns the caret's offset in it. */
static size_t excerpt(const char *text, size_t len, size_t pos, char *out)
{
    size_t start = pos > WINDOW_HALF ? pos - WINDOW_HALF : 0;
    size_t end = start + 2 * WINDOW_HALF < len ? start + 2 * WINDOW_HALF : len;
    if (end - start < 2 * WINDOW_HALF)
        start = end > 2 * WINDOW_HALF ? end - 2 * WINDOW_HALF : 0;
    size_t k = 0;
    if (start > 0)
        k += (size_t)sprintf(out, "...");
    size_t caret = k + (pos - start);
    for (size_t i = start; i < end; i++)
        out[k++] = shown((unsigned char)text[i]);
    strcpy(out + k, end < len ? "..." : "");
    return caret;
}

/* Records the first error of a parse, at byte offset pos, as
 *   expression column <pos+1>: <what>
 *     <the text around pos>
 *     <caret>
 * and returns NULL for the parse functions to pass up. */
static node *fail_at(parser *p, size_t pos, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static node *fail_at(parser *p, size_t pos, const char *fmt, ...)
{
    if (p->status != H5CL_OK)
        return NULL;
    p->status = H5CL_ERR_EXPRESSION;
    if (!p->ctx)
        return NULL;
    char what[256], line[2 * WINDOW_HALF + 8];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    size_t caret = excerpt(p->text, p->len, pos, line);
    h5cl_fail(p->ctx, H5CL_ERR_EXPRESSION,
              "expression column %zu: %s\n  %s\n  %*s^", pos + 1, what, line,
              (int)caret, "");
    return NULL;
}

static node *fail_oom(parser *p)
{
    if (p->status == H5CL_OK)
        p->status = h5cl_fail(p->ctx, H5CL_ERR_NO_MEMORY,
                              "out of memory parsing an expression");
    return NULL;
}

/* "number '1.5'", "name 'x'", "'+'", "end of expression". */
static const char *describe(const parser *p, char *buf, size_t size)
{
    char q[QUOTE_MAX + 4];
    if (p->tok == T_END)
        snprintf(buf, size, "end of expression");
    else if (p->tok == T_NUM || p->tok == T_NAME)
        snprintf(buf, size, "%s '%s'", p->tok == T_NUM ? "number" : "name",
                 quote(p->text + p->pos, p->tlen, q));
    else
        snprintf(buf, size, "'%s'", punct_text(p->tok));
    return buf;
}

static node *fail_unexpected(parser *p, const char *expected)
{
    char d[QUOTE_MAX + 24];
    return fail_at(p, p->pos, "unexpected %s (expected %s)",
                   describe(p, d, sizeof d), expected);
}

/* Length of the literal at s (C syntax without suffixes or hex: 1 2.5 .5 5.
 * 1e-3), or 0 when it is malformed or runs into letters, digits or dots. */
static size_t scan_number(const char *s)
{
    size_t i = 0, digits = 0;
    for (; is_digit(s[i]); i++)
        digits++;
    if (s[i] == '.')
        for (i++; is_digit(s[i]); i++)
            digits++;
    if (digits == 0)
        return 0;
    if (s[i] == 'e' || s[i] == 'E') {
        size_t j = i + 1 + (s[i + 1] == '+' || s[i + 1] == '-');
        if (!is_digit(s[j]))
            return 0;
        for (i = j; is_digit(s[i]); i++)
            ;
    }
    return (is_alpha(s[i]) || is_digit(s[i]) || s[i] == '.') ? 0 : i;
}

/* The bytes a malformed literal spans, for the message: letters, digits,
 * dots, and signs after an exponent letter. */
static size_t bad_number_span(const char *s)
{
    size_t i = 0;
    while (is_alpha(s[i]) || is_digit(s[i]) || s[i] == '.' ||
           ((s[i] == '+' || s[i] == '-') && i > 0 &&
            (s[i - 1] == 'e' || s[i - 1] == 'E')))
        i++;
    return i;
}

/* The literal's value, read in the C locale whatever the process's
 * LC_NUMERIC (strtod alone would stop at '.' under a decimal comma). */
static int read_number(parser *p)
{
    if (!p->c_numeric)
        p->c_numeric = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
    char *copy = malloc(p->tlen + 1);
    if (!p->c_numeric || !copy) {
        free(copy);
        fail_oom(p);
        return 0;
    }
    memcpy(copy, p->text + p->pos, p->tlen);
    copy[p->tlen] = '\0';
    p->num = strtod_l(copy, NULL, p->c_numeric); /* overflow: inf, as numpy */
    free(copy);
    return 1;
}

static int lex_punct(parser *p)
{
    const char *s = p->text + p->pos;
    for (size_t i = 0; i < H5CL_ARRAY_LEN(puncts); i++) {
        size_t k = strlen(puncts[i].text);
        if (strncmp(s, puncts[i].text, k) == 0) {
            p->tok = puncts[i].tok;
            p->tlen = k;
            return 1;
        }
    }
    return 0;
}

static void fail_char(parser *p)
{
    unsigned char c = (unsigned char)p->text[p->pos];
    const char *hint = c == '=' ? " (did you mean '=='?)"
                       : c == '&' ? " (did you mean '&&'?)"
                       : c == '|' ? " (did you mean '||'?)"
                       : c == '^' ? " (powers are written '**')"
                                  : "";
    if (c >= 0x20 && c < 0x7f)
        fail_at(p, p->pos, "unexpected character '%c'%s", c, hint);
    else
        fail_at(p, p->pos, "unexpected byte 0x%02X", c);
}

/* Moves to the next token; 0 after recording an error. */
static int next(parser *p)
{
    size_t i = p->pos + p->tlen;
    while (i < p->len && is_space((unsigned char)p->text[i]))
        i++;
    p->pos = i;
    p->tlen = 0;
    const char *s = p->text + i;
    if (i >= p->len) {
        p->tok = T_END;
    } else if (is_alpha(*s)) {
        while (is_alpha(s[p->tlen]) || is_digit(s[p->tlen]))
            p->tlen++;
        p->tok = T_NAME;
    } else if (is_digit(*s) || (*s == '.' && is_digit(s[1]))) {
        p->tlen = scan_number(s);
        if (p->tlen == 0) {
            char q[QUOTE_MAX + 4];
            fail_at(p, i, "bad number literal '%s'",
                    quote(s, bad_number_span(s), q));
            return 0;
        }
        p->tok = T_NUM;
        return read_number(p);
    } else if (!lex_punct(p)) {
        fail_char(p);
        return 0;
    }
    return 1;
}

/* ---- names: validation and suggestions --------------------------------- */

static int lower(int c)
{
    return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c;
}

/* Optimal string alignment distance (edits and adjacent swaps), case
 * ignored; names longer than 64 bytes are never near anything. */
static size_t distance(const char *a, size_t na, const char *b, size_t nb)
{
    size_t d[3][66], *prev2 = d[0], *prev = d[1], *cur = d[2];
    if (na > 64 || nb > 64)
        return (size_t)-1;
    for (size_t j = 0; j <= nb; j++)
        prev[j] = j;
    for (size_t i = 1; i <= na; i++) {
        cur[0] = i;
        for (size_t j = 1; j <= nb; j++) {
            size_t cost = lower(a[i - 1]) != lower(b[j - 1]);
            size_t v = prev[j - 1] + cost;
            if (prev[j] + 1 < v)
                v = prev[j] + 1;
            if (cur[j - 1] + 1 < v)
                v = cur[j - 1] + 1;
            if (i > 1 && j > 1 && lower(a[i - 1]) == lower(b[j - 2]) &&
                lower(a[i - 2]) == lower(b[j - 1]) && prev2[j - 2] + 1 < v)
                v = prev2[j - 2] + 1;
            cur[j] = v;
        }
        size_t *t = prev2;
        prev2 = prev;
        prev = cur;
        cur = t;
    }
    return prev[nb];
}

/* Keeps in *best the candidate nearest to s[0..len) among those within a
 * third of their length: "uu" finds "u", "x" does not find "y". */
static void consider(const char *s, size_t len, const char *cand,
                     const char **best, size_t *best_d)
{
    size_t nc = strlen(cand);
    size_t longer = nc > len ? nc : len;
    size_t d = distance(s, len, cand, nc);
    if (d <= (longer + 1) / 3 && d < *best_d) {
        *best = cand;
        *best_d = d;
    }
}

static void suggestion(const char *best, char *buf, size_t size)
{
    if (best)
        snprintf(buf, size, " (did you mean '%s'?)", best);
    else
        buf[0] = '\0';
}

static node *fail_unknown_var(parser *p, size_t pos, size_t len)
{
    const char *best = NULL;
    size_t best_d = (size_t)-1;
    for (size_t i = 0; i < p->n; i++)
        consider(p->text + pos, len, p->names[i], &best, &best_d);
    for (size_t i = 0; i < H5CL_ARRAY_LEN(constants); i++)
        consider(p->text + pos, len, constants[i], &best, &best_d);
    char q[QUOTE_MAX + 4], hint[96];
    suggestion(best, hint, sizeof hint);
    if (!best && p->n == 0)
        snprintf(hint, sizeof hint, " (no variables are bound)");
    return fail_at(p, pos, "unknown variable '%s'%s",
                   quote(p->text + pos, len, q), hint);
}

static node *fail_unknown_fn(parser *p, size_t pos, size_t len)
{
    char q[QUOTE_MAX + 4], hint[96];
    quote(p->text + pos, len, q);
    if (find_name(p->names, p->n, p->text + pos, len) >= 0)
        return fail_at(p, pos, "'%s' is a variable, not a function", q);
    const char *best = NULL;
    size_t best_d = (size_t)-1;
    for (size_t i = 0; i < H5CL_ARRAY_LEN(fns); i++)
        consider(p->text + pos, len, fns[i].name, &best, &best_d);
    suggestion(best, hint, sizeof hint);
    return fail_at(p, pos, "unknown function '%s'%s", q, hint);
}

static int is_identifier(const char *s)
{
    if (!is_alpha(*s))
        return 0;
    while (is_alpha(*s) || is_digit(*s))
        s++;
    return *s == '\0';
}

/* The bound names must be identifiers, distinct, and not the name of a
 * function or constant, which would make the text ambiguous. */
static int check_names(parser *p, const h5cl_dtype *dtypes)
{
    char q[QUOTE_MAX + 4];
    for (size_t i = 0; i < p->n; i++) {
        const char *s = p->names[i];
        if (!s || (unsigned)dtypes[i] >= H5CL_DTYPE_COUNT)
            return h5cl_fail(p->ctx, H5CL_ERR_INVALID_ARGUMENT,
                             "expression variable %zu: %s", i,
                             s ? "invalid dtype" : "NULL name");
        quote(s, strlen(s), q);
        if (!is_identifier(s))
            return h5cl_fail(p->ctx, H5CL_ERR_EXPRESSION,
                             "variable name '%s' is not an identifier "
                             "(letters, digits and '_', not starting with "
                             "a digit)", q);
        if (find_fn(s, strlen(s)) >= 0 ||
            find_name(constants, H5CL_ARRAY_LEN(constants), s, strlen(s)) >= 0)
            return h5cl_fail(p->ctx, H5CL_ERR_EXPRESSION,
                             "variable name '%s' is reserved (a function "
                             "or constant of expressions)", q);
        if (find_name(p->names, i, s, strlen(s)) >= 0)
            return h5cl_fail(p->ctx, H5CL_ERR_EXPRESSION,
                             "variable name '%s' is bound twice", q);
    }
    return H5CL_OK;
}

/* ---- the grammar ------------------------------------------------------- */

static node *mk(parser *p, int kind, int op, size_t pos, node *a, node *b,
                node *c)
{
    node *n = calloc(1, sizeof *n);
    if (!n)
        return fail_oom(p);
    n->next = p->nodes;
    p->nodes = n;
    n->kind = kind;
    n->op = op;
    n->pos = pos;
    n->arg[0] = a;
    n->arg[1] = b;
    n->arg[2] = c;
    for (int i = 0; i < 3; i++)
        if (n->arg[i] && n->arg[i]->depth + 1 > n->depth)
            n->depth = n->arg[i]->depth + 1;
    /* The generated code nests at most two parentheses per level, and
     * clang-based OpenCL compilers refuse more than 256. */
    if (n->depth > H5CL_EXPR_MAX_DEPTH)
        return fail_at(p, pos, "expression nested too deeply (more than %d "
                       "levels of operators and calls)", H5CL_EXPR_MAX_DEPTH);
    if (kind == N_NOT || (kind == N_BIN && (is_comparison(op) ||
                                            op == T_AND || op == T_OR)))
        n->is_bool = 1;
    else if (kind == N_COND)
        n->is_bool = b->is_bool && c->is_bool;
    else if (kind == N_CALL)
        n->is_bool = fns[op].is_bool;
    return n;
}

static node *parse_ternary(parser *p);
static node *parse_unary(parser *p);

/* Calls fn one level deeper, so that no text can recurse without bound
 * (each level is a few stack frames); pos is the token that opens the
 * level, for the message. */
static node *nested(parser *p, node *(*fn)(parser *), size_t pos)
{
    if (p->nesting >= H5CL_EXPR_MAX_DEPTH)
        return fail_at(p, pos, "expression nested too deeply (more than "
                       "%d levels of parentheses, operators and calls)",
                       H5CL_EXPR_MAX_DEPTH);
    p->nesting++;
    node *n = fn(p);
    p->nesting--;
    return n;
}

/* At a ')' closing the '(' at open; moves past it. */
static int close_paren(parser *p, size_t open, const char *expected)
{
    if (p->tok == T_RP)
        return next(p);
    if (p->tok == T_END)
        fail_at(p, open, "unmatched '('");
    else
        fail_unexpected(p, expected);
    return 0;
}

/* Up to three arguments in args; the count, or -1 after an error. */
static int parse_args(parser *p, size_t open, node **args)
{
    int count = 0;
    if (p->tok == T_RP)
        return next(p) ? 0 : -1;
    for (;;) {
        node *a = nested(p, parse_ternary, open);
        if (!a)
            return -1;
        if (count < 3)
            args[count] = a;
        count++;
        if (p->tok != T_COMMA)
            break;
        if (!next(p))
            return -1;
    }
    return close_paren(p, open, "',' or ')'") ? count : -1;
}

/* name '(' args ')' with the name at pos; the current token is the '('. */
static node *parse_call(parser *p, size_t pos, size_t len)
{
    int f = find_fn(p->text + pos, len);
    if (f < 0)
        return fail_unknown_fn(p, pos, len);
    size_t open = p->pos;
    node *args[3] = {NULL, NULL, NULL};
    if (!next(p))
        return NULL;
    int count = parse_args(p, open, args);
    if (count < 0)
        return NULL;
    if (count != fns[f].arity)
        return fail_at(p, pos, "%s takes %d argument%s, got %d", fns[f].name,
                       fns[f].arity, fns[f].arity == 1 ? "" : "s", count);
    if (f == F_WHERE)
        return mk(p, N_COND, 0, pos, args[0], args[1], args[2]);
    return mk(p, N_CALL, f, pos, args[0], args[1], args[2]);
}

/* Whether the next non-blank byte after the current token is '('. */
static int paren_follows(const parser *p)
{
    size_t i = p->pos + p->tlen;
    while (i < p->len && is_space((unsigned char)p->text[i]))
        i++;
    return i < p->len && p->text[i] == '(';
}

static node *parse_name(parser *p)
{
    size_t pos = p->pos, len = p->tlen;
    const char *s = p->text + pos;
    char q[QUOTE_MAX + 4];
    if (paren_follows(p))
        return next(p) ? parse_call(p, pos, len) : NULL;
    int c = find_name(constants, H5CL_ARRAY_LEN(constants), s, len);
    int v = find_name(p->names, p->n, s, len);
    if (c < 0 && v < 0) {
        if (find_fn(s, len) >= 0)
            return fail_at(p, pos, "'%s' is a function: call it as %s(...)",
                           quote(s, len, q), q);
        return fail_unknown_var(p, pos, len);
    }
    node *n = mk(p, c >= 0 ? N_NUM : N_VAR, 0, pos, NULL, NULL, NULL);
    if (!n)
        return NULL;
    if (c >= 0) {
        n->num = c == 0 ? NAN : INFINITY;
    } else {
        n->var = (size_t)v;
        p->used[v] = 1;
    }
    return next(p) ? n : NULL;
}

static node *parse_primary(parser *p)
{
    if (p->tok == T_NAME)
        return parse_name(p);
    if (p->tok == T_NUM) {
        node *n = mk(p, N_NUM, 0, p->pos, NULL, NULL, NULL);
        if (!n)
            return NULL;
        n->num = p->num;
        return next(p) ? n : NULL;
    }
    if (p->tok == T_LP) {
        size_t open = p->pos;
        if (!next(p))
            return NULL;
        node *n = nested(p, parse_ternary, open);
        return (n && close_paren(p, open, "an operator or ')'")) ? n : NULL;
    }
    return fail_unexpected(p, "a value");
}

/* primary ['**' unary]: right-associative, and tighter than a unary minus
 * on its left (-2**2 is -4) but not on its right (2**-1 is 0.5). */
static node *parse_power(parser *p)
{
    node *base = parse_primary(p);
    if (!base || p->tok != T_POW)
        return base;
    size_t pos = p->pos;
    if (!next(p))
        return NULL;
    node *e = nested(p, parse_unary, pos);
    return e ? mk(p, N_BIN, T_POW, pos, base, e, NULL) : NULL;
}

static node *parse_unary(parser *p)
{
    int tok = p->tok;
    if (tok != T_SUB && tok != T_ADD && tok != T_NOT)
        return parse_power(p);
    size_t pos = p->pos;
    if (!next(p))
        return NULL;
    node *a = nested(p, parse_unary, pos);
    if (!a || tok == T_ADD)
        return a;
    return mk(p, tok == T_SUB ? N_NEG : N_NOT, 0, pos, a, NULL, NULL);
}

/* Left-associative binary operators of one level and tighter. */
static node *parse_binary(parser *p, int level)
{
    if (level == BINARY_LEVELS)
        return parse_unary(p);
    node *lhs = parse_binary(p, level + 1);
    while (lhs && binary_level(p->tok) == level) {
        int op = p->tok;
        size_t pos = p->pos;
        if (!next(p))
            return NULL;
        node *rhs = parse_binary(p, level + 1);
        lhs = rhs ? mk(p, N_BIN, op, pos, lhs, rhs, NULL) : NULL;
    }
    return lhs;
}

/* cond ? a : b, right-associative. */
static node *parse_ternary(parser *p)
{
    node *c = parse_binary(p, 0);
    if (!c || p->tok != T_QUEST)
        return c;
    size_t qpos = p->pos;
    if (!next(p))
        return NULL;
    node *a = nested(p, parse_ternary, qpos);
    if (!a)
        return NULL;
    if (p->tok != T_COLON) {
        char what[64];
        snprintf(what, sizeof what, "':' for the '?' at column %zu",
                 qpos + 1);
        return fail_unexpected(p, what);
    }
    if (!next(p))
        return NULL;
    node *b = nested(p, parse_ternary, qpos);
    return b ? mk(p, N_COND, 0, qpos, c, a, b) : NULL;
}

static node *parse_all(parser *p)
{
    if (!next(p))
        return NULL;
    if (p->tok == T_END)
        return fail_at(p, 0, "empty expression");
    node *root = parse_ternary(p);
    if (!root || p->tok == T_END)
        return root;
    if (p->tok == T_RP)
        return fail_at(p, p->pos, "unmatched ')'");
    return fail_unexpected(p, "an operator");
}

/* numpy's promotion: a float expression over an integer type wider than
 * 16 bits, or over a double, is computed in double. */
static h5cl_dtype result_dtype(const node *root, const unsigned char *used,
                               const h5cl_dtype *dtypes, size_t n)
{
    if (root->is_bool)
        return H5CL_UINT8;
    for (size_t i = 0; i < n; i++)
        if (used[i] && (dtypes[i] == H5CL_FLOAT64 || dtypes[i] == H5CL_INT32 ||
                        dtypes[i] == H5CL_UINT32 || dtypes[i] == H5CL_INT64 ||
                        dtypes[i] == H5CL_UINT64))
            return H5CL_FLOAT64;
    return H5CL_FLOAT32;
}

int h5cl_expr_parse(h5cl_ctx *ctx, const char *text, const char *const *names,
                    const h5cl_dtype *dtypes, size_t n, h5cl_expr **expr_ret)
{
    if (expr_ret)
        *expr_ret = NULL;
    if (!text || !expr_ret || (n > 0 && (!names || !dtypes)))
        return h5cl_fail(ctx, H5CL_ERR_INVALID_ARGUMENT,
                         "h5cl_expr_parse: NULL argument");
    parser p = {.ctx = ctx, .text = text, .names = names, .n = n};
    /* strnlen: a hostile text is not read far beyond the limit */
    p.len = strnlen(text, H5CL_EXPR_MAX_LEN + 1);
    int st = check_names(&p, dtypes);
    if (st != H5CL_OK)
        return st;
    if (p.len > H5CL_EXPR_MAX_LEN) {
        fail_at(&p, H5CL_EXPR_MAX_LEN, "expression longer than %d bytes",
                H5CL_EXPR_MAX_LEN);
        return p.status;
    }
    h5cl_expr *e = calloc(1, sizeof *e);
    p.used = calloc(n ? n : 1, 1);
    if (!e || !p.used) {
        free(e);
        free(p.used);
        return h5cl_fail(ctx, H5CL_ERR_NO_MEMORY,
                         "out of memory parsing an expression");
    }
    node *root = parse_all(&p);
    if (p.c_numeric)
        freelocale(p.c_numeric);
    if (!root) {
        free_nodes(p.nodes);
        free(p.used);
        free(e);
        return p.status;
    }
    *e = (h5cl_expr){root, p.nodes, n, p.used,
                     result_dtype(root, p.used, dtypes, n)};
    *expr_ret = e;
    return H5CL_OK;
}

h5cl_dtype h5cl_expr_result_dtype(const h5cl_expr *e)
{
    return e->result;
}

int h5cl_expr_is_bool(const h5cl_expr *e)
{
    return e->root->is_bool;
}

int h5cl_expr_uses(const h5cl_expr *e, size_t i)
{
    return i < e->n && e->used[i];
}

int h5cl_expr_check(h5cl_ctx *ctx, const char *expr, const char *const *names,
                    const h5cl_dtype *dtypes, size_t n,
                    h5cl_dtype *result_ret)
{
    if (!ctx)
        return H5CL_ERR_INVALID_ARGUMENT;
    if (!expr || (n > 0 && (!names || !dtypes)))
        return h5cl_fail(ctx, H5CL_ERR_INVALID_ARGUMENT,
                         "h5cl_expr_check: NULL argument");
    h5cl_expr *e;
    int st = h5cl_expr_parse(ctx, expr, names, dtypes, n, &e);
    if (st != H5CL_OK)
        return st;
    if (result_ret)
        *result_ret = h5cl_expr_result_dtype(e);
    h5cl_expr_free(e);
    return h5cl_ok(ctx);
}

/* ---- OpenCL C ---------------------------------------------------------- */

typedef struct sbuf {
    char *buf;
    size_t len, cap;
    int oom;
} sbuf;

static void put(sbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void put(sbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (b->oom || k < 0) {
        b->oom = 1;
        return;
    }
    if (b->len + (size_t)k + 1 > b->cap) {
        size_t cap = 2 * b->cap + (size_t)k + 64;
        char *nb = realloc(b->buf, cap);
        if (!nb) {
            b->oom = 1;
            return;
        }
        b->buf = nb;
        b->cap = cap;
    }
    va_start(ap, fmt);
    vsnprintf(b->buf + b->len, (size_t)k + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)k;
}

/* How an emitted piece binds: it is wrapped in parentheses wherever it is
 * the operand of something tighter.  Binary and ternary operands are
 * always wrapped, so the generated text relies on nothing of C's
 * precedence table beyond "unary binds tighter than binary"; wrapping no
 * more than that keeps the nesting under the compilers' limit. */
enum { C_PRIMARY, C_UNARY, C_COMPOUND };

static int code_class(const node *n, int want_bool)
{
    if (n->is_bool && !want_bool)
        return C_UNARY; /* (EV)x */
    if (!n->is_bool && want_bool)
        return C_COMPOUND; /* x != (EV)0 */
    if (n->kind == N_NUM || n->kind == N_VAR || n->kind == N_CALL ||
        (n->kind == N_BIN && (n->op == T_MOD || n->op == T_POW)))
        return C_PRIMARY; /* the last two are calls */
    return (n->kind == N_NEG || n->kind == N_NOT) ? C_UNARY : C_COMPOUND;
}

static void emit(sbuf *b, const node *n, int want_bool);

static void operand(sbuf *b, const node *n, int want_bool, int max_class)
{
    int wrap = code_class(n, want_bool) > max_class;
    put(b, "%s", wrap ? "(" : "");
    emit(b, n, want_bool);
    put(b, "%s", wrap ? ")" : "");
}

static void emit_call(sbuf *b, const char *name, const node *n, int nargs)
{
    put(b, "%s(", name);
    for (int i = 0; i < nargs; i++) {
        put(b, "%s", i ? ", " : "");
        emit(b, n->arg[i], 0);
    }
    put(b, ")");
}

/* `%` and `**` are calls; && and || take truth values, the others EVs. */
static void emit_binary(sbuf *b, const node *n)
{
    if (n->op == T_MOD || n->op == T_POW) {
        emit_call(b, n->op == T_MOD ? "h5cl_mod" : "pow", n, 2);
        return;
    }
    int logic = n->op == T_AND || n->op == T_OR;
    operand(b, n->arg[0], logic, C_UNARY);
    put(b, " %s ", punct_text(n->op));
    operand(b, n->arg[1], logic, C_UNARY);
}

static void emit_literal(sbuf *b, double v)
{
    if (isnan(v))
        put(b, "((EV)NAN)");
    else if (isinf(v))
        put(b, "((EV)INFINITY)"); /* literals are never negative */
    else
        put(b, "((EV)%.17g)", v); /* round-trips; C locale (see caller) */
}

static void emit_native(sbuf *b, const node *n)
{
    switch (n->kind) {
    case N_NUM:
        emit_literal(b, n->num);
        break;
    case N_VAR:
        put(b, "v%zu", n->var);
        break;
    case N_NEG: /* the operand is wrapped unless primary: never "--" */
        put(b, "-");
        operand(b, n->arg[0], 0, C_PRIMARY);
        break;
    case N_NOT:
        put(b, "!");
        operand(b, n->arg[0], 1, C_PRIMARY);
        break;
    case N_COND:
        operand(b, n->arg[0], 1, C_UNARY);
        put(b, " ? ");
        operand(b, n->arg[1], n->is_bool, C_UNARY);
        put(b, " : ");
        operand(b, n->arg[2], n->is_bool, C_UNARY);
        break;
    case N_CALL:
        emit_call(b, fns[n->op].cl, n, fns[n->op].arity);
        break;
    case N_BIN:
        emit_binary(b, n);
        break;
    }
}

/* n's code as an EV (want_bool 0) or as a C truth value (1): booleans
 * become EV 1 or 0, numbers are true when nonzero. */
static void emit(sbuf *b, const node *n, int want_bool)
{
    if (n->is_bool && !want_bool) {
        put(b, "(EV)");
        operand(b, n, 1, C_UNARY);
    } else if (!n->is_bool && want_bool) {
        operand(b, n, 0, C_UNARY);
        put(b, " != (EV)0");
    } else {
        emit_native(b, n);
    }
}

char *h5cl_expr_to_opencl(const h5cl_expr *e)
{
    /* Literals are printed in the C locale (a decimal point, never a
     * comma), switched for this thread only. */
    locale_t c = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
    if (!c)
        return NULL;
    locale_t old = uselocale(c);
    sbuf b = {NULL, 0, 0, 0};
    operand(&b, e->root, 0, C_PRIMARY);
    uselocale(old);
    freelocale(c);
    if (b.oom) {
        free(b.buf);
        return NULL;
    }
    return b.buf;
}

/* ---- the host evaluator ------------------------------------------------ */

static double eval(const node *n, const double *vars);

static double eval_bin(int op, double a, double b)
{
    switch (op) {
    case T_ADD: return a + b;
    case T_SUB: return a - b;
    case T_MUL: return a * b;
    case T_DIV: return a / b;
    case T_MOD: return host_mod(a, b);
    case T_POW: return pow(a, b);
    case T_LT: return a < b;
    case T_LE: return a <= b;
    case T_GT: return a > b;
    case T_GE: return a >= b;
    case T_EQ: return a == b;
    case T_NE: return a != b;
    case T_AND: return a != 0 && b != 0;
    case T_OR: return a != 0 || b != 0;
    }
    return NAN;
}

static double eval_call(const node *n, const double *vars)
{
    const struct fn *f = &fns[n->op];
    double a = eval(n->arg[0], vars);
    if (f->arity == 1)
        return f->f1(a);
    double b = eval(n->arg[1], vars);
    if (f->arity == 2)
        return f->f2(a, b);
    return f->f3(a, b, eval(n->arg[2], vars));
}

static double eval(const node *n, const double *vars)
{
    switch (n->kind) {
    case N_NUM: return n->num;
    case N_VAR: return vars[n->var];
    case N_NEG: return -eval(n->arg[0], vars);
    case N_NOT: return eval(n->arg[0], vars) == 0;
    case N_BIN:
        return eval_bin(n->op, eval(n->arg[0], vars), eval(n->arg[1], vars));
    case N_COND:
        return eval(n->arg[0], vars) != 0 ? eval(n->arg[1], vars)
                                           : eval(n->arg[2], vars);
    case N_CALL: return eval_call(n, vars);
    }
    return NAN;
}

double h5cl_expr_eval_host(const h5cl_expr *e, const double *vars)
{
    return eval(e->root, vars);
}
