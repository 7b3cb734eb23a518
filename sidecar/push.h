/* SPDX-License-Identifier: MIT */
/* `covship push`: one-shot bundle and deliver. */
#ifndef COVSHIP_PUSH_H
#define COVSHIP_PUSH_H

int cmd_push(int argc, char **argv);

#endif
