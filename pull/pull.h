/* SPDX-License-Identifier: MIT */
/* `covship pull`: the Jenkins side. */
#ifndef COVSHIP_PULL_H
#define COVSHIP_PULL_H

/* argv[0] is "pull". Returns the process exit status. */
int cmd_pull(int argc, char **argv);

#endif
