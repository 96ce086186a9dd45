/* wharf-entry: a container entrypoint for tests/tests/run_settings.rs. Prints its arguments,
 * the variables named in ENTRY_VARS (space-separated), its working directory, uid and gid, one
 * "key=value" line each. Built static. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv) {
    for (int i = 0; i < argc; i++)
        printf("arg%d=%s\n", i, argv[i]);
    const char *vars = getenv("ENTRY_VARS");
    if (vars) {
        char *copy = strdup(vars), *save = NULL;
        for (char *v = strtok_r(copy, " ", &save); v; v = strtok_r(NULL, " ", &save)) {
            const char *val = getenv(v);
            printf("env %s=%s\n", v, val ? val : "(unset)");
        }
    }
    char cwd[4096];
    printf("cwd=%s\n", getcwd(cwd, sizeof cwd) ? cwd : "(error)");
    printf("uid=%u gid=%u pid=%d\n", getuid(), getgid(), getpid());
    return 0;
}
