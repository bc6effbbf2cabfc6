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
 * "read", "list", ...) crash (SIGSEGV), abort (SIGABRT), hang (sleep),
 * spin (burn CPU) or exit (status 3).  Only this program honours it. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include "isolate.h"

static char test_action[16];
static char test_when[32];

static void test_hook(unsigned long n, const char *request)
{
    char num[24];
    snprintf(num, sizeof num, "%lu", n);
    if (strcmp(test_when, num) != 0 && strcmp(test_when, request) != 0)
        return;
    if (strcmp(test_action, "crash") == 0)
        raise(SIGSEGV);
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

static int limit(int resource, unsigned long long soft,
                 unsigned long long hard)
{
    struct rlimit rl = {(rlim_t)soft, (rlim_t)hard};
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
    return h5cl_iso_serve((int)fd, at ? test_hook : NULL);
}
