/* SPDX-License-Identifier: MIT */
/*
 * pull --build ID: the source URL of one build's bundles. The sidecar
 * writes {build} through keytemplate_build_id() (lib/core); this module
 * sends --build through the same function and appends the result as one
 * path segment, so the Jenkinsfile never pastes BUILD_TAG (spaces, %2F,
 * '/') into a URL and both sides always name the same segment.
 */
#ifndef COVSHIP_PULL_BUILD_H
#define COVSHIP_PULL_BUILD_H

#include <stddef.h>

/* url + "/" (unless url ends in '/') + the sanitised build id + "/", newly
 * allocated; NULL with one line in err (bad build id, out of memory). */
char *pull_build_url(const char *url, const char *build, char *err, size_t errlen);

#endif
