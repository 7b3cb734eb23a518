/* SPDX-License-Identifier: MIT */
/* Placeholder until pull lands. */
#include "pull.h"

#include "log.h"

int cmd_pull(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	log_error("pull is not available in this build");
	return 2;
}
