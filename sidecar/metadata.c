/* SPDX-License-Identifier: MIT */
#include "metadata.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "log.h"

extern char **environ;

#define ECS_MAX_BODY (1024 * 1024)

struct body {
	char *p;
	size_t len;
};

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct body *b = ud;
	size_t n = size * nmemb;
	char *np;

	if (b->len + n > ECS_MAX_BODY)
		return 0; /* aborts the transfer: no metadata document is this big */
	np = realloc(b->p, b->len + n + 1);
	if (!np)
		return 0;
	b->p = np;
	memcpy(b->p + b->len, ptr, n);
	b->len += n;
	b->p[b->len] = '\0';
	return n;
}

/* GET url, parse the JSON body. NULL (with a warning) on any failure. */
static cJSON *get_json(const char *url)
{
	struct body b = { NULL, 0 };
	CURL *c = curl_easy_init();
	CURLcode rc = CURLE_FAILED_INIT;
	long status = 0;
	cJSON *j = NULL;

	if (c) {
		curl_easy_setopt(c, CURLOPT_URL, url);
		curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
		curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
		curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 2000L);
		curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
		rc = curl_easy_perform(c);
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
		curl_easy_cleanup(c);
	}
	if (rc != CURLE_OK || status != 200 || !b.p)
		log_warn("ECS metadata %s: %s (HTTP %ld); bundles record \"ecs\": null", url,
			 curl_easy_strerror(rc), status);
	else if (!(j = cJSON_ParseWithLength(b.p, b.len)))
		log_warn("ECS metadata %s: not JSON; bundles record \"ecs\": null", url);
	free(b.p);
	return j;
}

static const char *jstr(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static cJSON *str_or_null(const char *s)
{
	return s ? cJSON_CreateString(s) : cJSON_CreateNull();
}

/* {"task_arn","cluster","container_name"} from the v4 endpoint: the base URI
 * describes this container, /task the task. */
static cJSON *ecs_info(struct metadata *m, const char *base)
{
	char url[2048];
	cJSON *self, *task, *out;
	const char *arn, *slash;

	if (snprintf(url, sizeof(url), "%s/task", base) >= (int)sizeof(url)) {
		log_warn("ECS_CONTAINER_METADATA_URI_V4 is too long; ignored");
		return cJSON_CreateNull();
	}
	task = get_json(url);
	if (!task)
		return cJSON_CreateNull();
	self = get_json(base);
	arn = jstr(task, "TaskARN");
	out = cJSON_CreateObject();
	if (out) {
		cJSON_AddItemToObject(out, "task_arn", str_or_null(arn));
		cJSON_AddItemToObject(out, "cluster", str_or_null(jstr(task, "Cluster")));
		cJSON_AddItemToObject(out, "container_name", str_or_null(jstr(self, "Name")));
	}
	if (arn && (slash = strrchr(arn, '/')))
		snprintf(m->task_id, sizeof(m->task_id), "%s", slash + 1);
	cJSON_Delete(task);
	cJSON_Delete(self);
	return out;
}

static cJSON *labels(void)
{
	static const char prefix[] = "COVSHIP_LABEL_";
	cJSON *o = cJSON_CreateObject();
	char **e;

	for (e = environ; o && *e; e++) {
		const char *eq = strchr(*e, '=');
		char name[256];
		size_t n;

		if (strncmp(*e, prefix, sizeof(prefix) - 1) || !eq)
			continue;
		n = (size_t)(eq - *e) - (sizeof(prefix) - 1);
		if (n == 0 || n >= sizeof(name))
			continue;
		memcpy(name, *e + sizeof(prefix) - 1, n);
		name[n] = '\0';
		cJSON_AddStringToObject(o, name, eq + 1);
	}
	return o;
}

int metadata_collect(struct metadata *m, const char *build)
{
	const char *ecs = getenv("ECS_CONTAINER_METADATA_URI_V4");
	const char *commit = getenv("GIT_COMMIT");

	memset(m, 0, sizeof(*m));
	if (gethostname(m->hostname, sizeof(m->hostname) - 1) < 0) {
		log_warn("gethostname failed; recording \"unknown\"");
		strcpy(m->hostname, "unknown");
	}
	m->build = build ? build : getenv("BUILD_TAG");
	if (m->build && !*m->build)
		m->build = NULL;
	m->json = cJSON_CreateObject();
	if (!m->json)
		return -1;
	cJSON_AddStringToObject(m->json, "hostname", m->hostname);
	cJSON_AddItemToObject(m->json, "ecs", ecs && *ecs ? ecs_info(m, ecs) : cJSON_CreateNull());
	cJSON_AddItemToObject(m->json, "build_tag", str_or_null(m->build));
	cJSON_AddItemToObject(m->json, "git_commit", str_or_null(commit && *commit ? commit : NULL));
	cJSON_AddItemToObject(m->json, "labels", labels());
	return 0;
}

void metadata_free(struct metadata *m)
{
	cJSON_Delete(m->json);
	m->json = NULL;
}
