/* SPDX-License-Identifier: MIT */
/*
 * Compress ahead ("staging"). In done.json mode every coverage file is
 * complete long before the marker comes, so the watcher compresses each one
 * as soon as it is closed: its tar entry becomes one complete gzip member
 * (zstd frame), appended to a log file in SPOOL/stage/. When the bundle is
 * built the members of unchanged files are used as they are, and
 * concatenated members are a valid .tar.gz (RFC 1952 §2.2) / .tar.zst.
 *
 * The stage is a cache: nothing in it is ever trusted without proof. A
 * member is used for a planned file only when the file's identity (size,
 * inode, mtime) equals the one it was staged with AND the SHA-256 of the
 * file read at bundling time equals the staged one (stage_verify). It is
 * emptied at start; losing it only costs compression time.
 *
 * When the used members are the whole log, in order, the log itself becomes
 * the bundle (bundle.c appends the last member and renames it into the
 * spool): the staged bytes are then neither copied nor written again. The
 * log is fdatasync()ed while the watcher is idle, so that the fsync that
 * makes the bundle durable only has the last member left to write.
 */
#ifndef COVSHIP_STAGE_H
#define COVSHIP_STAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "fsutil.h"
#include "matcher.h"
#include "scan.h"
#include "spool.h"
#include "tarwriter.h"

/* One staged member: bytes [off, off + len) of the log. */
struct stage_entry {
	struct stage_entry *next; /* hash chain */
	char *path;               /* NULL once dropped (its bytes are dead) */
	struct file_id id;
	char sha256[65];          /* of the file's content */
	uint64_t off, len;
	bool proven;              /* re-hashed equal for the bundle being built */
	bool proving;             /* in the pending proof (main thread only) */
};

struct stage {
	char *dir;                   /* SPOOL/stage */
	const struct bundle_params *bp;
	const struct matcher *matcher;
	int logfd;                   /* -1: no log yet */
	char logname[32];
	unsigned long nlogs;         /* names the next log */
	uint64_t end;                /* size of the log */
	uint64_t dead;               /* bytes of dropped members */
	EVP_MD_CTX *md;              /* SHA-256 of log[0, end) */
	EVP_MD_CTX *undo;            /* md before the member being written */
	bool unsynced;
	bool off;                    /* staging failed (e.g. full spool): until reset */
	struct stage_entry **order;  /* every entry in log order, dropped ones too */
	size_t norder, cap, live;
	struct stage_entry **buckets; /* path -> live entry */
	size_t nbuckets;
	char **queue;                /* paths waiting to be staged, oldest first */
	size_t nqueue, qcap, qhead;
	unsigned char *buf;
	struct stage_proof *proof;   /* re-hash still running (stage_prove_finish) */
};

/* Create SPOOL/stage (0700) and empty it. Returns 0 or -errno. */
int stage_open(struct stage *st, const char *spool_dir, const struct bundle_params *bp,
	       const struct matcher *m);
void stage_close(struct stage *st);

/* An inotify event of relpath: a close after writing or a move in queues
 * it for staging, a delete or a move away drops it. Non-matching paths and
 * the marker directory are ignored. */
void stage_note(struct stage *st, const char *relpath, bool gone);
/* Queue relpath (a matching regular file) for staging. */
void stage_want(struct stage *st, const char *relpath);

/* true while there is staging work: the caller should not sleep. */
bool stage_busy(const struct stage *st);
/* Do one piece of staging work: stage the oldest queued file, or (queue
 * empty) compact a log with holes and make it durable. */
void stage_step(struct stage *st, int rootfd);

/* Stable reorder of files: staged ones first, in log order (so that the
 * log can become the bundle), the others after them in their order. */
void stage_order(struct stage *st, struct scan_file *v, size_t n);

/* Re-hash the staged ones of files (a scan about to be planned) in a
 * helper thread while the plan and the bundle are written. NULL: nothing
 * to prove, a proof already running (stage_prove_all: it covers these),
 * or no thread (stage_verify then re-hashes itself). */
struct stage_proof;
struct stage_proof *stage_prove_start(struct stage *st, int rootfd, const struct scan_file *v,
				      size_t n);
/* Start re-hashing every member now (done.json seen: every writer is
 * gone), before the volume is even scanned; stage_prove_start() then
 * leaves it running for the bundle. stage_forget_proofs() ends it. */
void stage_prove_all(struct stage *st, int rootfd);
/* Hand the running proof to the stage. It is not waited for here: the
 * bundle is written (and fsynced) meanwhile, and stage_settle_proofs()
 * waits for it before the bundle may get its name. */
void stage_prove_finish(struct stage *st, struct stage_proof *pr);
/* Wait for the pending proof (if any): its members found equal become
 * proven, the others are logged as changed. Everything that changes or
 * frees entries calls it first. */
void stage_settle_proofs(struct stage *st);
/* After the bundle: no proof outlives it. */
void stage_forget_proofs(struct stage *st);

/* The member for pf, or NULL: identity as staged and as planned, and the
 * file's SHA-256 read for this bundle equal to the staged one: re-hashed
 * now (proven on return), or by the pending proof, whose verdict the
 * caller must take with stage_settle_proofs() and e->proven before the
 * bundle gets its name. */
const struct stage_entry *stage_verify(struct stage *st, int rootfd, const struct plan_file *pf);
/* Did the re-hash find e's file equal (or is it switched off for a test)? */
bool stage_proven(const struct stage_entry *e);

/* Members whose files went into a bundle (or were dropped): forget them.
 * When nothing is left the log is removed. */
void stage_drop(struct stage *st, const struct stage_entry *e);
/* Hand the log over to become a bundle (bundle.c appends the last member,
 * fsyncs and renames it): md gets the SHA-256 state of its bytes. The
 * entries stay readable until stage_reset(), which the caller calls next.
 * Returns the descriptor (O_APPEND) or -errno. */
int stage_take_log(struct stage *st, EVP_MD_CTX *md);
int stage_log_path(const struct stage *st, char *buf, size_t len);
/* The bundle that took the log (at path, not renamed) is abandoned before
 * it was named: the log is the stage's again, cut back to its members.
 * Returns 0 or -errno (then the caller resets the stage). */
int stage_return_log(struct stage *st, const char *path);
/* Forget everything (after a failed bundle, or when the log became one). */
void stage_reset(struct stage *st);

/* Test-only switch, documented in docs/sidecar.md: with
 * COVSHIP_TEST_STAGE_NO_REHASH=1 stage_verify trusts the identity alone,
 * so a test can show what the re-hash catches. */
bool stage_rehash_disabled(void);

#endif
