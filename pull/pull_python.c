/* SPDX-License-Identifier: MIT */
#include "pull_python.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pull_spawn.h"

#define FALLBACK_PYTHON "/usr/bin/python3"

static int put(char *buf, size_t len, const char *a, const char *b)
{
	int n = snprintf(buf, len, "%s%s", a, b);

	return (n < 0 || (size_t)n >= len) ? -1 : 0;
}

static int executable_file(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

/* python3 on PATH, as a shell would find it (empty entries: the current
 * directory, which execvp also searches). */
static int from_path(char *buf, size_t len)
{
	const char *p = getenv("PATH"), *end;
	char dir[4096];
	size_t n;

	if (!p)
		return -1;
	for (; ; p = end + 1) {
		end = strchrnul(p, ':');
		n = (size_t)(end - p);
		if (n < sizeof(dir)) {
			memcpy(dir, p, n);
			dir[n] = '\0';
			if (put(buf, len, n ? dir : ".", "/python3") == 0 && executable_file(buf))
				return 0;
		}
		if (!*end)
			return -1;
	}
}

int pull_python_pick(const char *given, char *buf, size_t len)
{
	const char *venv = getenv("VIRTUAL_ENV");

	if (given && *given)
		return put(buf, len, given, "");
	/* An activated virtualenv is what the user's own `coverage` would run. */
	if (venv && *venv)
		return put(buf, len, venv, "/bin/python");
	if (from_path(buf, len) == 0)
		return 0;
	return put(buf, len, FALLBACK_PYTHON, "");
}

/* The child prints "ok VERSION", or "missing REASON" and exits 3. */
static const char check_script[] =
	"import sys\n"
	"try:\n"
	"    import coverage\n"
	"except Exception as e:\n"
	"    print('missing', type(e).__name__ + ': ' + str(e).replace('\\n', ' '))\n"
	"    sys.exit(3)\n"
	"print('ok', coverage.__version__)\n";

static void read_all(int fd, char *out, size_t len)
{
	ssize_t n;
	size_t got = 0;

	out[0] = '\0';
	if (lseek(fd, 0, SEEK_SET) < 0)
		return;
	while (got + 1 < len && (n = read(fd, out + got, len - 1 - got)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		got += (size_t)n;
	}
	out[got] = '\0';
	out[strcspn(out, "\n")] = '\0'; /* the first line says it all */
}

static const char fix[] = "install coverage.py >= 6.3 for it (apt-get install "
			 "python3-coverage, or pip install 'coverage>=6.3' in the virtualenv) "
			 "or pass --python PATH";

int pull_python_check(const char *python, char *version, size_t vlen, char *err,
		      size_t errlen)
{
	char *argv[] = { (char *)python, "-I", "-c", (char *)check_script, NULL };
	char out[512], why[300];
	int fd, rc, major = 0, minor = 0;

	/* Output in memory, not a file: nothing may be created before the
	 * download (the out directory may not even exist yet). */
	fd = memfd_create("covship-python-check", MFD_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "cannot check --python %s: memfd_create: %s", python,
			 strerror(errno));
		return -1;
	}
	rc = pull_run_in(argv, "/", fd, why, sizeof(why));
	read_all(fd, out, sizeof(out));
	close(fd);
	if (rc < 0) {
		snprintf(err, errlen, "python %s cannot be started (%s): %s", python, why, fix);
		return -1;
	}
	if (rc != 0 || strncmp(out, "ok ", 3) != 0) {
		snprintf(err, errlen, "python %s has no usable coverage.py (%.200s): %s",
			 python, strncmp(out, "missing ", 8) ? out : out + 8, fix);
		return -1;
	}
	snprintf(version, vlen, "%s", out + 3);
	if (sscanf(version, "%d.%d", &major, &minor) != 2 ||
	    major < PULL_COVERAGE_MIN_MAJOR ||
	    (major == PULL_COVERAGE_MIN_MAJOR && minor < PULL_COVERAGE_MIN_MINOR)) {
		snprintf(err, errlen, "python %s has coverage.py %s, older than 6.3 (pull needs "
			 "--data-file): %s", python, version, fix);
		return -1;
	}
	return 0;
}
