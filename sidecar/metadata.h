/* SPDX-License-Identifier: MIT */
/*
 * Who produced a bundle: hostname, the ECS task (from
 * $ECS_CONTAINER_METADATA_URI_V4 when set), BUILD_TAG, GIT_COMMIT and every
 * COVSHIP_LABEL_<NAME> variable. Gathered once at start-up.
 */
#ifndef COVSHIP_METADATA_H
#define COVSHIP_METADATA_H

#include <cjson/cJSON.h>

struct metadata {
	cJSON *json;       /* the manifest's "metadata" object */
	char hostname[256];
	char task_id[128]; /* last segment of the task ARN, "" outside ECS */
	const char *build; /* --build, else BUILD_TAG, or NULL (borrowed) */
};

/* Never fails for want of ECS: a metadata endpoint that does not answer is
 * logged as a warning and recorded as "ecs": null. Returns -1 only when
 * out of memory. build: --build/COVSHIP_BUILD, or NULL to take BUILD_TAG. */
int metadata_collect(struct metadata *m, const char *build);
void metadata_free(struct metadata *m);

#endif
