/* SPDX-License-Identifier: MIT */
/* How a child's fate becomes the shim's exit status: the shell's rules. */
#ifndef COVSHIP_SHIM_EXITCODE_H
#define COVSHIP_SHIM_EXITCODE_H

#define EXIT_USAGE 2
#define EXIT_CANNOT_EXECUTE 126
#define EXIT_NOT_FOUND 127

/* waitpid status -> exit code, or 128+N when it died of signal N. */
int exitcode_from_wait(int status);

/* errno of a failed execvp -> 127 when the command does not exist, else 126. */
int exitcode_from_exec_errno(int err);

#endif
