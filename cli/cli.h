/* cli/: the qbench command line, above every stage (no stage includes cli/). One file per
 * command; cli/pipeline.c chains the stages. Each command returns an exit code: 0, 1 runtime
 * failure, 2 bad input. argv[0] is the command's name. Prefix cli_. */
#ifndef QBENCH_CLI_CLI_H
#define QBENCH_CLI_CLI_H

#include <getopt.h>
#include <stdio.h>

#include "common/qc.h"

int cmd_devices(int argc, char **argv);
int cmd_profile(int argc, char **argv);
int cmd_probe(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_kernels(int argc, char **argv);
int cmd_sweep(int argc, char **argv);
int cmd_fit(int argc, char **argv);
int cmd_tune(int argc, char **argv);
int cmd_emit(int argc, char **argv);
int cmd_plot(int argc, char **argv);
int cmd_predict(int argc, char **argv);
int cmd_merge(int argc, char **argv);

/* Shared option handling: getopt_long with our own messages. Returns the option, or
 * -1 at the end; an unknown option or a missing argument prints
 * "qbench <cmd>: ... (see 'qbench <cmd> --help')" and returns '?'. */
int cli_getopt(int argc, char **argv, const char *shortopts, const struct option *longopts);
/* For commands whose only option is --help: returns -1 to go on (optind at the first
 * argument), else the exit code (0 after printing help, 2 on an unknown option). */
int cli_help_only(int argc, char **argv, const char *help);
/* For positional-argument errors: prints the same form and returns 2. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints the messages with "qbench: " and returns rc. */
int cli_fail(qc_msgs *m, int rc);

#endif
