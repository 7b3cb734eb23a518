/* SPDX-License-Identifier: MIT */
#include "matcher.h"

#include <fnmatch.h>
#include <string.h>

#include "fsutil.h"

enum preset { PRESET_PYTHON, PRESET_GO, PRESET_LLVM, PRESET_GCOV, PRESET_V8, PRESET_COUNT };

static const char *const preset_names[PRESET_COUNT] = { "python", "go", "llvm", "gcov", "v8" };

static int preset_index(const char *name)
{
	int i;

	for (i = 0; i < PRESET_COUNT; i++)
		if (!strcmp(name, preset_names[i]))
			return i;
	return -1;
}

bool matcher_preset_known(const char *name)
{
	return preset_index(name) >= 0;
}

int matcher_init(struct matcher *m, const char *preset, const char *const *include,
		 size_t ninclude, const char *const *exclude, size_t nexclude)
{
	m->preset = preset_index(preset);
	m->include = include;
	m->ninclude = ninclude;
	m->exclude = exclude;
	m->nexclude = nexclude;
	return m->preset < 0 ? -1 : 0;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);

	return n >= k && !memcmp(s + n - k, suffix, k);
}

/* Names that are never final data whatever the tool: SQLite side files and
 * editors' or writers' temporaries. */
static bool temporary_name(const char *name)
{
	static const char *const suffixes[] = { "-journal", "-wal", "-shm", ".tmp", ".temp",
						"~", ".swp", ".lock", ".partial" };
	size_t i;

	for (i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++)
		if (ends_with(name, suffixes[i]))
			return true;
	return false;
}

static bool preset_match(int preset, const char *name)
{
	if (temporary_name(name))
		return false;
	switch (preset) {
	case PRESET_PYTHON:
		/* .coverage or .coverage.<suffix> (parallel mode); not .coveragerc */
		return !strcmp(name, ".coverage") || !strncmp(name, ".coverage.", 10);
	case PRESET_GO:
		return !strncmp(name, "covmeta.", 8) || !strncmp(name, "covcounters.", 12);
	case PRESET_LLVM:
		return fnmatch("*.profraw", name, 0) == 0;
	case PRESET_GCOV:
		return fnmatch("*.gcda", name, 0) == 0;
	case PRESET_V8:
		return fnmatch("coverage-*.json", name, 0) == 0;
	}
	return false;
}

static bool glob_match(const char *glob, const char *relpath, const char *name)
{
	if (strchr(glob, '/'))
		return fnmatch(glob, relpath, FNM_PATHNAME) == 0;
	return fnmatch(glob, name, 0) == 0;
}

bool matcher_match(const struct matcher *m, const char *relpath)
{
	const char *slash = strrchr(relpath, '/');
	const char *name = slash ? slash + 1 : relpath;
	bool hit;
	size_t i;

	/* a source being removed (unlink_if_same), whatever --include says:
	 * bundling it would deliver a file that is already delivered or gone */
	if (!*name || !strncmp(name, FSUTIL_UNLINK_PREFIX, sizeof(FSUTIL_UNLINK_PREFIX) - 1))
		return false;
	hit = preset_match(m->preset, name);
	for (i = 0; !hit && i < m->ninclude; i++)
		hit = glob_match(m->include[i], relpath, name);
	for (i = 0; hit && i < m->nexclude; i++)
		hit = !glob_match(m->exclude[i], relpath, name);
	return hit;
}
