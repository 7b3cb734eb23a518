/* SPDX-License-Identifier: MIT */
#include "sigv4.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdlib.h>
#include <string.h>

static bool unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_' || c == '~';
}

void sigv4_uri_encode(struct strbuf *b, const char *s, size_t len, bool keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[3];

		if (unreserved(c) || (keep_slash && c == '/')) {
			sb_putc(b, (char)c);
			continue;
		}
		esc[0] = '%';
		esc[1] = hex[c >> 4];
		esc[2] = hex[c & 15];
		sb_append(b, esc, 3);
	}
}

void sigv4_hex(const uint8_t *bytes, size_t n, char *out)
{
	static const char hex[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = hex[bytes[i] >> 4];
		out[2 * i + 1] = hex[bytes[i] & 15];
	}
	out[2 * n] = '\0';
}

void sigv4_sha256_hex(const void *data, size_t len, char out[65])
{
	uint8_t md[32];
	unsigned int mdlen = 0;

	if (!EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32)
		memset(md, 0, sizeof(md)); /* cannot happen with a working libcrypto */
	sigv4_hex(md, 32, out);
}

struct encoded_pair {
	char *name;
	char *value;
	size_t order; /* position in the input: headers keep it among equal names */
};

static int pair_cmp(const void *a, const void *b)
{
	const struct encoded_pair *x = a, *y = b;
	int r = strcmp(x->name, y->name);

	return r ? r : strcmp(x->value, y->value);
}

static char *encode_dup(const char *s)
{
	struct strbuf b = STRBUF_INIT;

	sigv4_uri_encode(&b, s ? s : "", s ? strlen(s) : 0, false);
	return sb_steal(&b);
}

char *sigv4_canonical_query(const struct sigv4_kv *params, size_t n)
{
	struct encoded_pair *p = calloc(n ? n : 1, sizeof(*p));
	struct strbuf b = STRBUF_INIT;
	size_t i;
	bool oom = !p;

	for (i = 0; !oom && i < n; i++) {
		p[i].name = encode_dup(params[i].name);
		p[i].value = encode_dup(params[i].value);
		oom = !p[i].name || !p[i].value;
	}
	if (!oom) {
		qsort(p, n, sizeof(*p), pair_cmp);
		sb_puts(&b, "");
		for (i = 0; i < n; i++)
			sb_printf(&b, "%s%s=%s", i ? "&" : "", p[i].name, p[i].value);
	}
	for (i = 0; p && i < n; i++) {
		free(p[i].name);
		free(p[i].value);
	}
	free(p);
	if (oom) {
		sb_free(&b);
		return NULL;
	}
	return sb_steal(&b);
}

/* Lowercased name and trimmed, space-collapsed value of one header. */
static int canon_header(const struct sigv4_kv *h, struct encoded_pair *out)
{
	struct strbuf n = STRBUF_INIT, v = STRBUF_INIT;
	const char *s;
	bool space = false;

	for (s = h->name; *s; s++)
		sb_putc(&n, (*s >= 'A' && *s <= 'Z') ? (char)(*s + 32) : *s);
	sb_puts(&v, "");
	for (s = h->value ? h->value : ""; *s == ' ' || *s == '\t'; s++)
		;
	for (; *s; s++) {
		if (*s == ' ' || *s == '\t') {
			space = true;
			continue;
		}
		if (space && v.len)
			sb_putc(&v, ' ');
		space = false;
		sb_putc(&v, *s);
	}
	out->name = sb_steal(&n);
	out->value = sb_steal(&v);
	return out->name && out->value ? 0 : -1;
}

/* By name only; equal names keep their input order, because a repeated
 * header's values are joined in the order given (the SigV4 suite's
 * get-header-key-duplicate and get-header-value-order): qsort is not
 * stable, hence the tie-break on the input position. */
static int name_cmp(const void *a, const void *b)
{
	const struct encoded_pair *x = a, *y = b;
	int r = strcmp(x->name, y->name);

	if (r)
		return r;
	return x->order < y->order ? -1 : x->order > y->order;
}

long sigv4_bad_header(const struct sigv4_kv *hdrs, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strpbrk(hdrs[i].name, "\r\n") ||
		    (hdrs[i].value && strpbrk(hdrs[i].value, "\r\n")))
			return (long)i;
	return -1;
}

int sigv4_canonical_headers(const struct sigv4_kv *hdrs, size_t n, char **canon,
			    char **signed_headers)
{
	struct encoded_pair *p = calloc(n ? n : 1, sizeof(*p));
	struct strbuf c = STRBUF_INIT, s = STRBUF_INIT;
	size_t i;
	int rc = p && sigv4_bad_header(hdrs, n) < 0 ? 0 : -1;

	for (i = 0; rc == 0 && i < n; i++) {
		rc = canon_header(&hdrs[i], &p[i]);
		p[i].order = i;
	}
	if (rc == 0) {
		qsort(p, n, sizeof(*p), name_cmp);
		sb_puts(&c, "");
		sb_puts(&s, "");
		for (i = 0; i < n; i++) {
			if (i && strcmp(p[i].name, p[i - 1].name) == 0) {
				/* replace the previous "\n" with ",value\n" */
				c.len--;
				sb_printf(&c, ",%s\n", p[i].value);
				continue;
			}
			sb_printf(&c, "%s:%s\n", p[i].name, p[i].value);
			sb_printf(&s, "%s%s", i ? ";" : "", p[i].name);
		}
	}
	for (i = 0; p && i < n; i++) {
		free(p[i].name);
		free(p[i].value);
	}
	free(p);
	*canon = rc == 0 ? sb_steal(&c) : NULL;
	*signed_headers = rc == 0 ? sb_steal(&s) : NULL;
	sb_free(&c);
	sb_free(&s);
	if (!*canon || !*signed_headers) {
		free(*canon);
		free(*signed_headers);
		*canon = *signed_headers = NULL;
		return -1;
	}
	return 0;
}

char *sigv4_canonical_request(const struct sigv4_input *in, char **signed_headers)
{
	struct strbuf b = STRBUF_INIT;
	char *query = sigv4_canonical_query(in->params, in->nparams);
	char *hdrs = NULL;

	*signed_headers = NULL;
	if (!query || sigv4_canonical_headers(in->headers, in->nheaders, &hdrs, signed_headers)) {
		free(query);
		return NULL;
	}
	sb_printf(&b, "%s\n", in->method);
	sigv4_uri_encode(&b, in->path, strlen(in->path), true);
	sb_printf(&b, "\n%s\n%s\n%s\n%s", query, hdrs, *signed_headers, in->payload_hash);
	free(query);
	free(hdrs);
	if (b.oom) {
		free(*signed_headers);
		*signed_headers = NULL;
	}
	return sb_steal(&b);
}

static void scope(struct strbuf *b, const struct sigv4_input *in)
{
	sb_append(b, in->amz_date, 8);
	sb_printf(b, "/%s/%s/aws4_request", in->region, in->service);
}

char *sigv4_string_to_sign(const struct sigv4_input *in, const char *canonical_request)
{
	struct strbuf b = STRBUF_INIT;
	char hash[65];

	sigv4_sha256_hex(canonical_request, strlen(canonical_request), hash);
	sb_printf(&b, "AWS4-HMAC-SHA256\n%s\n", in->amz_date);
	scope(&b, in);
	sb_printf(&b, "\n%s", hash);
	return sb_steal(&b);
}

static void hmac(const uint8_t *key, size_t keylen, const void *msg, size_t msglen,
		 uint8_t out[32])
{
	unsigned int len = 32;

	if (!HMAC(EVP_sha256(), key, (int)keylen, msg, msglen, out, &len))
		memset(out, 0, 32); /* cannot happen with a working libcrypto */
}

void sigv4_signing_key(const char *secret, const char *date8, const char *region,
		       const char *service, uint8_t out[32])
{
	struct strbuf k = STRBUF_INIT;
	uint8_t t[32];

	sb_printf(&k, "AWS4%s", secret);
	if (k.oom) {
		memset(out, 0, 32);
		return;
	}
	hmac((const uint8_t *)k.s, k.len, date8, 8, t);
	OPENSSL_cleanse(k.s, k.len);
	sb_free(&k);
	hmac(t, 32, region, strlen(region), t);
	hmac(t, 32, service, strlen(service), t);
	hmac(t, 32, "aws4_request", 12, out);
	OPENSSL_cleanse(t, sizeof(t));
}

char *sigv4_authorization(const struct sigv4_input *in)
{
	struct strbuf b = STRBUF_INIT;
	char *creq, *sts, *signed_headers = NULL;
	uint8_t key[32], sig[32];
	char sighex[65];

	if (!in->amz_date || strlen(in->amz_date) != 16)
		return NULL;
	creq = sigv4_canonical_request(in, &signed_headers);
	if (!creq)
		return NULL;
	sts = sigv4_string_to_sign(in, creq);
	free(creq);
	if (!sts) {
		free(signed_headers);
		return NULL;
	}
	sigv4_signing_key(in->secret_key, in->amz_date, in->region, in->service, key);
	hmac(key, 32, sts, strlen(sts), sig);
	OPENSSL_cleanse(key, sizeof(key));
	free(sts);
	sigv4_hex(sig, 32, sighex);
	sb_printf(&b, "AWS4-HMAC-SHA256 Credential=%s/", in->access_key);
	scope(&b, in);
	sb_printf(&b, ", SignedHeaders=%s, Signature=%s", signed_headers, sighex);
	free(signed_headers);
	return sb_steal(&b);
}
