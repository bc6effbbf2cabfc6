/* h5cl-reader: the child process of isolated mode (lib/isolate.c).  It
 * serves the parent's requests on fd 3 with the library's ordinary
 * in-process code, under the limits the parent asks for:
 *
 *   h5cl-reader --serve FD --parent PID --memory BYTES --cpu SECONDS
 *
 * It is started by the library, never by people.  Before serving it ties
 * its life to the parent (PR_SET_PDEATHSIG, then a check that the parent
 * did not die first), closes every other descriptor it inherited, turns
 * off core dumps (a hostile file would leave one per crash), and sets
 * RLIMIT_AS and RLIMIT_CPU (soft: SIGXCPU, hard one second later).
 *
 * Tests: H5CL_READER_TEST=ACTION@N makes the Nth request (counted from 1,
 * of any kind) or, with ACTION@NAME, the first request named NAME ("open",
 * "read", "list", ...) crash (a real SIGSEGV), abort (SIGABRT), hang (sleep),
 * spin (burn CPU) or exit (status 3).  Only this program honours it. */
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <ucontext.h>
#include <unistd.h>

#include "isolate.h"
#include "isolate_proto.h"

/* ---- where a fatal signal struck ----
 * The handler runs in a process that has just crashed, so it only uses
 * async-signal-safe calls: it finds the mapping holding the faulting
 * instruction in /proc/self/maps (open/read, no dladdr and its loader
 * lock), sends its file's name to the parent as an ISO_CRASH_NOTE and
 * lets the signal kill the process as it would have. */

static int serve_fd = -1;
static h5cl_iso_rep crash_note; /* static: the alternate stack is small */
static char maps_buf[4096];

static uintptr_t fault_pc(const void *uctx)
{
    const ucontext_t *uc = uctx;
#if defined(__x86_64__)
    return (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
#elif defined(__aarch64__)
    return (uintptr_t)uc->uc_mcontext.pc;
#else
    (void)uc;
    return 0;
#endif
}

static uintptr_t hex(const char **p)
{
    uintptr_t v = 0;
    for (;; (*p)++) {
        char c = **p;
        int d = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                       : -1;
        if (d < 0)
            return v;
        v = v * 16 + (uintptr_t)d;
    }
}

/* Looks at one line of /proc/self/maps; names its file when it holds pc. */
static int site_in_line(const char *line, uintptr_t pc, char *out, size_t len)
{
    const char *p = line;
    uintptr_t lo = hex(&p);
    if (*p++ != '-')
        return 0;
    uintptr_t hi = hex(&p);
    if (pc < lo || pc >= hi)
        return 0;
    const char *path = strchr(p, '/');
    const char *base = path ? strrchr(path, '/') + 1 : "an anonymous mapping";
    size_t n = 0;
    while (base[n] && base[n] != '\n' && n + 1 < len) {
        out[n] = base[n];
        n++;
    }
    out[n] = '\0';
    return 1;
}

static void find_site(uintptr_t pc, char *out, size_t len)
{
    int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    size_t have = 0;
    for (;;) {
        ssize_t n = read(fd, maps_buf + have, sizeof maps_buf - 1 - have);
        if (n <= 0)
            break;
        have += (size_t)n;
        maps_buf[have] = '\0';
        char *line = maps_buf, *nl;
        while ((nl = strchr(line, '\n'))) {
            *nl = '\0';
            if (site_in_line(line, pc, out, len)) {
                close(fd);
                return;
            }
            line = nl + 1;
        }
        have = strlen(line);
        memmove(maps_buf, line, have);
    }
    close(fd);
}

static void on_fatal(int sig, siginfo_t *si, void *uctx)
{
    uintptr_t pc = fault_pc(uctx);
    /* raise() and abort() put the signal in libc: only faults have a
     * telling address */
    if (pc && si->si_code > 0 && serve_fd >= 0) {
        crash_note.status = ISO_CRASH_NOTE;
        find_site(pc, crash_note.msg, sizeof crash_note.msg);
        if (crash_note.msg[0])
            send(serve_fd, &crash_note, sizeof crash_note, MSG_NOSIGNAL);
    }
    /* SA_RESETHAND restored the default: die of this very signal */
    raise(sig);
}

static void catch_fatal_signals(void)
{
    static char stack[64 * 1024];
    stack_t ss = {.ss_sp = stack, .ss_size = sizeof stack};
    sigaltstack(&ss, NULL);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fatal;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESETHAND;
    sigemptyset(&sa.sa_mask);
    const int sigs[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        sigaction(sigs[i], &sa, NULL);
}

static char test_action[16];
static char test_when[32];

static void test_hook(unsigned long n, const char *request)
{
    char num[24];
    snprintf(num, sizeof num, "%lu", n);
    if (strcmp(test_when, num) != 0 && strcmp(test_when, request) != 0)
        return;
    if (strcmp(test_action, "crash") == 0)
        *(volatile int *)(uintptr_t)test_action[15] = 0; /* a real fault */
    else if (strcmp(test_action, "abort") == 0)
        raise(SIGABRT);
    else if (strcmp(test_action, "exit") == 0)
        _exit(3);
    else if (strcmp(test_action, "hang") == 0)
        for (;;)
            pause();
    else if (strcmp(test_action, "spin") == 0)
        for (volatile unsigned long i = 0;; i++)
            ;
}

/* Lowers a limit; one the caller already set tighter (a test harness, a
 * batch system) stays in force, since raising a hard limit would fail. */
static int limit(int resource, unsigned long long soft,
                 unsigned long long hard)
{
    struct rlimit cur, rl = {(rlim_t)soft, (rlim_t)hard};
    if (getrlimit(resource, &cur) != 0)
        return -1;
    if (cur.rlim_max != RLIM_INFINITY && rl.rlim_max > cur.rlim_max)
        rl.rlim_max = cur.rlim_max;
    if (rl.rlim_cur > rl.rlim_max)
        rl.rlim_cur = rl.rlim_max;
    return setrlimit(resource, &rl);
}

int main(int argc, char **argv)
{
    long fd = -1, parent = -1;
    unsigned long long memory = 0, cpu = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--serve") == 0)
            fd = strtol(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--parent") == 0)
            parent = strtol(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--memory") == 0)
            memory = strtoull(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--cpu") == 0)
            cpu = strtoull(argv[i + 1], NULL, 10);
    }
    if (fd < 0 || parent <= 0) {
        fputs("h5cl-reader is started by libh5cl (isolated mode), not by "
              "hand\n", stderr);
        return 2;
    }
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != (pid_t)parent)
        return 1;
    close_range((unsigned)fd + 1, ~0U, 0);
#if H5CL_ASAN
    /* AddressSanitizer reserves terabytes of shadow address space: a
     * sanitizer build runs without the address-space limit */
    memory = 0;
#endif
    if (limit(RLIMIT_CORE, 0, 0) != 0 ||
        (memory && limit(RLIMIT_AS, memory, memory) != 0) ||
        (cpu && limit(RLIMIT_CPU, cpu, cpu + 1) != 0))
        return 1;
    const char *t = getenv("H5CL_READER_TEST");
    const char *at = t ? strchr(t, '@') : NULL;
    if (at && (size_t)(at - t) < sizeof test_action) {
        snprintf(test_action, sizeof test_action, "%.*s", (int)(at - t), t);
        snprintf(test_when, sizeof test_when, "%s", at + 1);
    }
    serve_fd = (int)fd;
    catch_fatal_signals();
    return h5cl_iso_serve((int)fd, at ? test_hook : NULL);
}
