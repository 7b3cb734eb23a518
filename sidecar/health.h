/* SPDX-License-Identifier: MIT */
/* `covship health`: for an ECS healthCheck. */
#ifndef COVSHIP_HEALTH_H
#define COVSHIP_HEALTH_H

int cmd_health(int argc, char **argv);

#endif
