#include "tests/testutil.h"

#include <fcntl.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

char *tu_write_temp(const void *data, size_t len, const char *suffix)
{
    char *path = malloc(64);
    snprintf(path, 64, "/tmp/qbench-test-XXXXXX%s", suffix);
    int fd = mkstemps(path, (int)strlen(suffix));
    if (fd < 0)
        abort();
    if (len && write(fd, data, len) != (ssize_t)len)
        abort();
    close(fd);
    return path;
}

char *tu_slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, n = 0, got;
    char *buf = malloc(cap);
    while ((got = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (n + 1 == cap)
            buf = realloc(buf, cap *= 2);
    }
    fclose(f);
    buf[n] = '\0';
    return buf;
}

static char *cpu0_cache_field(int index, const char *field)
{
    char path[128];
    snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/%s", index, field);
    return tu_slurp(path);
}

int tu_cpu0_cache(int index, int *level, char *type, size_t type_len, long *kib)
{
    char *l = cpu0_cache_field(index, "level"), *t = cpu0_cache_field(index, "type"),
         *s = cpu0_cache_field(index, "size");
    int found = l && t && s;
    if (found) {
        *level = atoi(l);
        snprintf(type, type_len, "%.*s", (int)strcspn(t, "\n"), t);
        *kib = strtol(s, NULL, 10);
    }
    free(l);
    free(t);
    free(s);
    return found;
}

int tu_start(const char *exe, const char *const *args, const char *out_path, const char *err_path)
{
    const char *argv[64];
    int n = 0;
    argv[n++] = exe;
    for (int i = 0; args[i] && n < 63; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, out_path, O_WRONLY | O_TRUNC | O_CREAT, 0644);
    posix_spawn_file_actions_addopen(&fa, 2, err_path, O_WRONLY | O_TRUNC | O_CREAT, 0644);
    pid_t pid;
    int rc = posix_spawn(&pid, exe, &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    return rc == 0 ? (int)pid : -1;
}

int tu_wait(int pid)
{
    int status;
    if (pid <= 0 || waitpid(pid, &status, 0) != pid)
        return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int tu_run(const char *exe, const char *const *args, char **out, char **err)
{
    char *po = tu_write_temp("", 0, ".out"), *pe = tu_write_temp("", 0, ".err");
    int status = tu_wait(tu_start(exe, args, po, pe));
    *out = tu_slurp(po);
    *err = tu_slurp(pe);
    unlink(po);
    unlink(pe);
    free(po);
    free(pe);
    return status;
}

char *tu_path(const char *fmt, ...)
{
    static char buf[8][512];
    static int at;
    va_list ap;
    va_start(ap, fmt);
    char *p = buf[at++ % 8];
    vsnprintf(p, sizeof buf[0], fmt, ap);
    va_end(ap);
    return p;
}
