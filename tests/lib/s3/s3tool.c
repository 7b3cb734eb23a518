/* SPDX-License-Identifier: MIT */
/*
 * Test driver for the S3 module (also reusable by other areas' tests):
 *   s3tool put BUCKET KEY FILE [--if-none-match] [--state-dir DIR]
 *   s3tool putmany BUCKET PREFIX FILE...   (one client, one after the other)
 *   s3tool deliver s3://BUCKET/PREFIX KEY FILE SHA256 SPOOLDIR
 *   s3tool delivermany s3://BUCKET/PREFIX SPOOLDIR PARALLEL LIST
 *        LIST: `sha256sum` lines ("SHA256  FILE"), key = FILE's base name.
 *        PARALLEL 0: one dest_deliver after the other; N: dest_deliver_many
 *        with N at once (-1: the destination's default). Prints
 *        "KEY DEST_..." per file; exits with the worst dest_result.
 *   s3tool list BUCKET PREFIX          ("KEY SIZE" per line; repeated
 *                                       S3TOOL_REPEAT times, S3TOOL_SLEEP_MS apart,
 *                                       for the credential-refresh tests)
 *   s3tool head BUCKET KEY             ("SIZE ETAG COVSHIP_SHA256")
 *   s3tool get BUCKET KEY OUTFILE
 *   s3tool getmany BUCKET OUTDIR PARALLEL KEY...
 * Endpoint, region and credentials come from the environment (docs/s3.md);
 * S3TOOL_CA_BUNDLE and S3TOOL_INSECURE=1 stand for --ca-bundle/--insecure.
 * Exit: 0 ok, 1 retryable failure, 2 fatal, 3 exists (412), 4 not found,
 * 5 corrupt (the file does not hash to the expected SHA-256).
 * `deliver` exits with the dest_result (0 OK, 1 RETRY, 2 FATAL, 3 CORRUPT).
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dest_s3.h"
#include "log.h"
#include "s3.h"

static int exit_of(int rc)
{
	switch (rc) {
	case S3_OK:
		return 0;
	case S3_ERR_RETRY:
		return 1;
	case S3_ERR_EXISTS:
		return 3;
	case S3_ERR_NOT_FOUND:
		return 4;
	case S3_ERR_CORRUPT:
		return 5;
	default:
		return 2;
	}
}

static const char *dest_name(enum dest_result r)
{
	switch (r) {
	case DEST_OK:
		return "DEST_OK";
	case DEST_RETRY:
		return "DEST_RETRY";
	case DEST_CORRUPT:
		return "DEST_CORRUPT";
	default:
		return "DEST_FATAL";
	}
}

static int print_key(void *ctx, const char *key, uint64_t size, const char *etag)
{
	(void)ctx;
	(void)etag;
	printf("%s %llu\n", key, (unsigned long long)size);
	return 0;
}

static int deliver(char **argv)
{
	struct dest_options o = { .spool_dir = argv[6] };
	struct dest *d;
	char err[1024] = "";
	enum dest_result r;

	o.s3.ca_bundle = getenv("S3TOOL_CA_BUNDLE");
	o.s3.insecure = getenv("S3TOOL_INSECURE") != NULL;
	if (dest_s3_open(argv[2], &o, &d, err, sizeof(err))) {
		fprintf(stderr, "s3tool: %s\n", err);
		return 2;
	}
	r = dest_deliver(d, argv[4], argv[3], argv[5], err, sizeof(err));
	printf("%s\n", dest_name(r));
	if (r != DEST_OK)
		fprintf(stderr, "s3tool: %s\n", err);
	dest_close(d);
	return (int)r;
}

/* LIST's lines as items; each line is its own allocation, owned by the
 * item (through sha256_hex). Returns the count, -1 on error. */
static long read_list(const char *list, struct dest_item **items)
{
	FILE *f = fopen(list, "re");
	size_t cap = 0, n = 0;
	char *line = NULL;
	long len;

	*items = NULL;
	if (!f) {
		perror(list);
		return -1;
	}
	while ((len = (long)getline(&line, &cap, f)) > 0) {
		char *sp = strchr(line, ' '), *path;
		struct dest_item *more;

		if (line[len - 1] == '\n')
			line[len - 1] = '\0';
		if (!sp || sp[1] != ' ')
			continue;
		*sp = '\0';
		path = sp + 2;
		more = realloc(*items, (n + 1) * sizeof(**items));
		if (!more)
			break;
		*items = more;
		memset(&more[n], 0, sizeof(more[n]));
		more[n].sha256_hex = line;
		more[n].path = path;
		more[n].key = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
		n++;
		line = NULL; /* owned by the item now */
		cap = 0;
	}
	free(line);
	fclose(f);
	return (long)n;
}

static int delivermany(char **argv)
{
	struct dest_options o = { .spool_dir = argv[3] };
	struct dest_item *items;
	struct dest *d;
	char err[1024] = "";
	long n = read_list(argv[5], &items), i;
	int parallel = atoi(argv[4]), worst = DEST_OK;

	o.s3.ca_bundle = getenv("S3TOOL_CA_BUNDLE");
	o.s3.insecure = getenv("S3TOOL_INSECURE") != NULL;
	if (n < 0)
		return 2;
	if (dest_s3_open(argv[2], &o, &d, err, sizeof(err))) {
		fprintf(stderr, "s3tool: %s\n", err);
		for (i = 0; i < n; i++)
			free((char *)items[i].sha256_hex);
		free(items);
		return 2;
	}
	if (parallel != 0) {
		dest_deliver_many(d, items, (size_t)n, parallel, NULL);
	} else {
		for (i = 0; i < n; i++)
			items[i].result = dest_deliver(d, items[i].path, items[i].key,
						       items[i].sha256_hex, items[i].err,
						       sizeof(items[i].err));
	}
	for (i = 0; i < n; i++) {
		enum dest_result r = items[i].result;

		printf("%s %s\n", items[i].key, dest_name(r));
		if (r != DEST_OK)
			fprintf(stderr, "s3tool: %s: %s\n", items[i].key, items[i].err);
		if ((int)r > worst)
			worst = (int)r;
		free((char *)items[i].sha256_hex);
	}
	free(items);
	dest_close(d);
	return worst;
}

static int getmany(struct s3_client *c, int argc, char **argv)
{
	size_t n = (size_t)(argc - 5), i;
	struct s3_get_job *jobs = calloc(n ? n : 1, sizeof(*jobs));
	int failed;

	if (!jobs)
		return 2;
	for (i = 0; i < n; i++) {
		char path[4096];
		const char *slash = strrchr(argv[5 + i], '/');

		snprintf(path, sizeof(path), "%s/%s", argv[3], slash ? slash + 1 : argv[5 + i]);
		jobs[i].key = argv[5 + i];
		jobs[i].fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (jobs[i].fd < 0) {
			perror(path);
			return 2;
		}
	}
	failed = s3_get_objects(c, argv[2], jobs, n, atoi(argv[4]));
	for (i = 0; i < n; i++) {
		if (jobs[i].result)
			fprintf(stderr, "s3tool: %s: %s\n", jobs[i].key, jobs[i].err);
		close(jobs[i].fd);
	}
	free(jobs);
	return failed ? 1 : 0;
}

int main(int argc, char **argv)
{
	struct s3_config cfg;
	struct s3_client *c;
	char err[1024] = "";
	int rc = S3_ERR_FATAL;

	log_init("s3tool");
	if (getenv("COVSHIP_TEST_DEBUG"))
		log_set_level(LOG_LEVEL_DEBUG);
	if (argc < 3) {
		fprintf(stderr, "usage: see the comment at the top of s3tool.c\n");
		return 2;
	}
	if (strcmp(argv[1], "deliver") == 0 && argc == 7)
		return deliver(argv);
	if (strcmp(argv[1], "delivermany") == 0 && argc == 6)
		return delivermany(argv);
	struct s3_options o = { .ca_bundle = getenv("S3TOOL_CA_BUNDLE"),
				.insecure = getenv("S3TOOL_INSECURE") != NULL };

	if (s3_config_resolve(&cfg, &o, err, sizeof(err)) ||
	    !(c = s3_client_new(&cfg, err, sizeof(err)))) {
		fprintf(stderr, "s3tool: %s\n", err);
		return 2;
	}
	if (strcmp(argv[1], "put") == 0 && argc >= 5) {
		struct s3_put_opts po = { 0 };

		for (int i = 5; i < argc; i++) {
			if (strcmp(argv[i], "--if-none-match") == 0)
				po.if_none_match = true;
			else if (strcmp(argv[i], "--state-dir") == 0 && i + 1 < argc)
				po.state_dir = argv[++i];
		}
		rc = s3_put_file(c, argv[2], argv[3], argv[4], &po, err, sizeof(err));
	} else if (strcmp(argv[1], "putmany") == 0 && argc >= 5) {
		for (int i = 4; i < argc; i++) {
			const char *base = strrchr(argv[i], '/');
			char key[2048];

			snprintf(key, sizeof(key), "%s%s", argv[3], base ? base + 1 : argv[i]);
			rc = s3_put_file(c, argv[2], key, argv[i], NULL, err, sizeof(err));
			if (rc != S3_OK)
				break;
		}
	} else if (strcmp(argv[1], "list") == 0 && argc == 4) {
		int n = getenv("S3TOOL_REPEAT") ? atoi(getenv("S3TOOL_REPEAT")) : 1;
		long ms = getenv("S3TOOL_SLEEP_MS") ? atol(getenv("S3TOOL_SLEEP_MS")) : 0;

		for (int i = 0; i < n; i++) {
			if (i)
				usleep((useconds_t)(ms * 1000));
			rc = s3_list_objects(c, argv[2], argv[3], print_key, NULL, err, sizeof(err));
			if (rc != S3_OK)
				break;
		}
	} else if (strcmp(argv[1], "head") == 0 && argc == 4) {
		struct s3_object_info info;

		rc = s3_head_object(c, argv[2], argv[3], &info, err, sizeof(err));
		if (rc == S3_OK)
			printf("%llu %s %s\n", (unsigned long long)info.size, info.etag,
			       info.covship_sha256[0] ? info.covship_sha256 : "-");
	} else if (strcmp(argv[1], "get") == 0 && argc == 5) {
		int fd = open(argv[4], O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

		if (fd < 0) {
			perror(argv[4]);
		} else {
			rc = s3_get_object_to_fd(c, argv[2], argv[3], fd, err, sizeof(err));
			close(fd);
		}
	} else if (strcmp(argv[1], "getmany") == 0 && argc >= 5) {
		rc = getmany(c, argc, argv);
		s3_client_free(c);
		return rc;
	} else {
		fprintf(stderr, "s3tool: bad arguments; see the comment at the top of s3tool.c\n");
		s3_client_free(c);
		return 2;
	}
	if (rc != S3_OK && err[0])
		fprintf(stderr, "s3tool: %s\n", err);
	s3_client_free(c);
	return exit_of(rc);
}
