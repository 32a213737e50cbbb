/*
 * The envelope and its record format (lib/mail/envelope.c).
 *
 * Hostile input first. Encodings are also built here by hand from the
 * format described at the top of envelope.c, so the tests pin the bytes
 * on disk and can reach the checks behind the checksum.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "envelope.h"
#include "test.h"
#include "util.h"

/* The format, as documented in envelope.c. */
#define T_ID		0x01
#define T_CREATED	0x02
#define T_FLAGS		0x03
#define T_SENDER	0x04
#define T_HELO		0x05
#define T_CLIENT	0x06
#define T_TLS		0x07
#define T_AUTH		0x08
#define T_BODY		0x09
#define T_RET		0x0a
#define T_SMTPUTF8	0x0b
#define T_REQUIRETLS	0x0c
#define T_ENVID		0x0d
#define T_SIZE		0x0e
#define T_SCANNER	0x0f
#define T_VIRUS		0x10
#define T_RCPT		0x40
#define T_DEST		0x41
#define T_END		0xff
#define END_LEN		13

#define TEST_ID		"0123456789abcdef"

struct raw {
	uint8_t		*p;
	size_t		 len;
	size_t		 cap;
};

static void
raw_put(struct raw *r, const void *p, size_t n)
{
	if (r->len + n > r->cap) {
		r->cap = r->cap == 0 ? 1024 : r->cap;
		while (r->cap < r->len + n)
			r->cap *= 2;
		r->p = xreallocarray(r->p, r->cap, 1);
	}
	if (n > 0)
		memcpy(r->p + r->len, p, n);
	r->len += n;
}

static void
raw_rec(struct raw *r, uint8_t type, const void *val, size_t len)
{
	uint8_t	 h[5];

	h[0] = type;
	h[1] = len & 0xff;
	h[2] = (len >> 8) & 0xff;
	h[3] = (len >> 16) & 0xff;
	h[4] = (len >> 24) & 0xff;
	raw_put(r, h, sizeof(h));
	raw_put(r, val, len);
}

static void
raw_u32(struct raw *r, uint8_t type, uint32_t v)
{
	uint8_t	 b[4];
	int	 i;

	for (i = 0; i < 4; i++)
		b[i] = (v >> (8 * i)) & 0xff;
	raw_rec(r, type, b, sizeof(b));
}

static void
raw_u64(struct raw *r, uint8_t type, uint64_t v)
{
	uint8_t	 b[8];
	int	 i;

	for (i = 0; i < 8; i++)
		b[i] = (v >> (8 * i)) & 0xff;
	raw_rec(r, type, b, sizeof(b));
}

static void
raw_str(struct raw *r, uint8_t type, const char *s)
{
	raw_rec(r, type, s, strlen(s));
}

static void
raw_free(struct raw *r)
{
	free(r->p);
	memset(r, 0, sizeof(*r));
}

static uint64_t
fnv(const uint8_t *p, size_t len)
{
	uint64_t	 h = 0xcbf29ce484222325ULL;
	size_t		 i;

	for (i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

static void
raw_end(struct raw *r)
{
	raw_u64(r, T_END, fnv(r->p, r->len));
}

/* A RCPT record, with its fields. */
static void
raw_rcpt(struct raw *r, const char *addr, const char *orcpt, uint32_t notify)
{
	struct raw	 v;

	memset(&v, 0, sizeof(v));
	raw_str(&v, 0x01, addr);
	raw_str(&v, 0x02, orcpt);
	raw_u32(&v, 0x03, notify);
	raw_rec(r, T_RCPT, v.p, v.len);
	raw_free(&v);
}

static void
raw_dest(struct raw *r, uint32_t rcpt, uint32_t kind, uint32_t state)
{
	struct raw	 v;

	memset(&v, 0, sizeof(v));
	raw_u32(&v, 0x01, rcpt);
	raw_u32(&v, 0x02, kind);
	raw_str(&v, 0x03, "bob@example.test");
	raw_str(&v, 0x04, "example.test/bob");
	raw_u64(&v, 0x05, 1000000);
	raw_u64(&v, 0x06, 1000);
	raw_u32(&v, 0x07, state);
	raw_u32(&v, 0x08, 3);
	raw_u64(&v, 0x09, (uint64_t)1700000600);
	raw_str(&v, 0x0a, "");
	raw_rec(r, T_DEST, v.p, v.len);
	raw_free(&v);
}

/*
 * The header fields of sample(), one at a time: the hostile cases
 * below replace, drop or add one by its index.
 */
#define NHDR	16

static void
raw_hdr(struct raw *r, int i)
{
	switch (i) {
	case 0: raw_str(r, T_ID, TEST_ID); break;
	case 1: raw_u64(r, T_CREATED, 1700000000); break;
	case 2: raw_u32(r, T_FLAGS, 0); break;
	case 3: raw_str(r, T_SENDER, "alice@example.test"); break;
	case 4: raw_str(r, T_HELO, "client.example.test"); break;
	case 5: raw_str(r, T_CLIENT, "192.0.2.1"); break;
	case 6: raw_str(r, T_TLS, "TLSv1.3 TLS_AES_256_GCM_SHA384"); break;
	case 7: raw_str(r, T_AUTH, ""); break;
	case 8: raw_u32(r, T_BODY, SMTP_BODY_8BITMIME); break;
	case 9: raw_u32(r, T_RET, SMTP_RET_NONE); break;
	case 10: raw_rec(r, T_SMTPUTF8, "\0", 1); break;
	case 11: raw_rec(r, T_REQUIRETLS, "\0", 1); break;
	case 12: raw_str(r, T_ENVID, ""); break;
	case 13: raw_u64(r, T_SIZE, 4242); break;
	case 14: raw_str(r, T_SCANNER, "ClamAV 1.4.6/0"); break;
	case 15: raw_str(r, T_VIRUS, ""); break;
	}
}

/* The same envelope as raw_sample(), through the API. */
static void
sample(struct envelope *env)
{
	struct env_rcpt	 rc;
	struct env_dest	 d;

	envelope_init(env);
	(void)osms_strlcpy(env->id, TEST_ID, sizeof(env->id));
	env->created = 1700000000;
	(void)osms_strlcpy(env->sender, "alice@example.test",
	    sizeof(env->sender));
	(void)osms_strlcpy(env->helo, "client.example.test",
	    sizeof(env->helo));
	(void)osms_strlcpy(env->client, "192.0.2.1", sizeof(env->client));
	(void)osms_strlcpy(env->tls, "TLSv1.3 TLS_AES_256_GCM_SHA384",
	    sizeof(env->tls));
	env->body = SMTP_BODY_8BITMIME;
	env->ret = SMTP_RET_NONE;
	env->size = 4242;
	(void)osms_strlcpy(env->scanner, "ClamAV 1.4.6/0",
	    sizeof(env->scanner));
	memset(&rc, 0, sizeof(rc));
	(void)osms_strlcpy(rc.address, "bob@example.test", sizeof(rc.address));
	(void)osms_strlcpy(rc.orcpt, "rfc822;bob@example.test",
	    sizeof(rc.orcpt));
	rc.notify = SMTP_NOTIFY_FAILURE | SMTP_NOTIFY_DELAY;
	(void)envelope_add_rcpt(env, &rc);
	memset(&d, 0, sizeof(d));
	d.rcpt = 0;
	d.kind = DEST_MAILBOX;
	(void)osms_strlcpy(d.address, "bob@example.test", sizeof(d.address));
	(void)osms_strlcpy(d.mailbox, "example.test/bob", sizeof(d.mailbox));
	d.quota_bytes = 1000000;
	d.quota_messages = 1000;
	d.state = DEST_PENDING;
	d.attempts = 3;
	d.next_try = 1700000600;
	(void)envelope_add_dest(env, &d);
}

/*
 * The hand-built encoding of sample(). skip: a header field to leave
 * out (-1 for none); extra/extra_at: a record to put before header field
 * extra_at (NHDR: after the last); then the rcpt and dest records.
 */
static void
raw_sample_ex(struct raw *r, int skip, const struct raw *extra, int extra_at,
    int rcpts, int dests)
{
	int	 i;

	memset(r, 0, sizeof(*r));
	raw_put(r, "OSMSENV2", 8);
	for (i = 0; i <= NHDR; i++) {
		if (extra != NULL && i == extra_at)
			raw_put(r, extra->p, extra->len);
		if (i < NHDR && i != skip)
			raw_hdr(r, i);
	}
	for (i = 0; i < rcpts; i++)
		raw_rcpt(r, "bob@example.test", "rfc822;bob@example.test",
		    SMTP_NOTIFY_FAILURE | SMTP_NOTIFY_DELAY);
	for (i = 0; i < dests; i++)
		raw_dest(r, 0, DEST_MAILBOX, DEST_PENDING);
}

static void
raw_sample(struct raw *r)
{
	raw_sample_ex(r, -1, NULL, 0, 1, 1);
	raw_end(r);
}

/* Decode must fail, with an empty envelope and this reason if given. */
static int
fails(const uint8_t *p, size_t len, const char *why)
{
	struct envelope	 env;
	const char	*err = NULL;
	int		 r;

	memset(&env, 0xa5, sizeof(env));
	r = envelope_decode(p, len, &env, &err);
	if (r == 0) {
		envelope_clear(&env);
		(void)printf("# decoded, expected \"%s\"\n", why ? why : "");
		return 0;
	}
	if (env.nrcpts != 0 || env.rcpts != NULL || env.ndests != 0 ||
	    env.dests != NULL || env.id[0] != '\0') {
		(void)printf("# failed decode left a non-empty envelope\n");
		return 0;
	}
	if (err == NULL) {
		(void)printf("# no errstr\n");
		return 0;
	}
	if (why != NULL && strcmp(err, why) != 0) {
		(void)printf("# errstr \"%s\", expected \"%s\"\n", err, why);
		return 0;
	}
	return 1;
}

/* Decode must succeed. */
static int
decodes(const uint8_t *p, size_t len)
{
	struct envelope	 env;
	const char	*err;

	if (envelope_decode(p, len, &env, &err) == -1) {
		(void)printf("# decode: %s\n", err);
		return 0;
	}
	envelope_clear(&env);
	return 1;
}

static int
fails_raw(struct raw *r, const char *why)
{
	int	 ok = fails(r->p, r->len, why);

	raw_free(r);
	return ok;
}

/* Encode, decode, encode again: equal envelopes and equal bytes. */
static int
round_trip(const struct envelope *env)
{
	struct envelope	 back;
	uint8_t		*b1, *b2;
	size_t		 l1, l2, i;
	const char	*err;
	int		 ok = 1;

	if (envelope_encode(env, &b1, &l1) == -1)
		return 0;
	if (envelope_decode(b1, l1, &back, &err) == -1) {
		(void)printf("# decode: %s\n", err);
		free(b1);
		return 0;
	}
	if (strcmp(back.id, env->id) != 0 || back.created != env->created ||
	    back.flags != env->flags ||
	    strcmp(back.sender, env->sender) != 0 ||
	    strcmp(back.helo, env->helo) != 0 ||
	    strcmp(back.client, env->client) != 0 ||
	    strcmp(back.tls, env->tls) != 0 ||
	    strcmp(back.auth, env->auth) != 0 || back.body != env->body ||
	    back.ret != env->ret || back.smtputf8 != (env->smtputf8 != 0) ||
	    back.requiretls != (env->requiretls != 0) ||
	    strcmp(back.envid, env->envid) != 0 || back.size != env->size ||
	    strcmp(back.scanner, env->scanner) != 0 ||
	    strcmp(back.virus, env->virus) != 0 ||
	    back.nrcpts != env->nrcpts || back.ndests != env->ndests)
		ok = 0;
	for (i = 0; ok && i < env->nrcpts; i++) {
		const struct env_rcpt *a = &env->rcpts[i], *b = &back.rcpts[i];

		if (strcmp(a->address, b->address) != 0 ||
		    strcmp(a->orcpt, b->orcpt) != 0 || a->notify != b->notify)
			ok = 0;
	}
	for (i = 0; ok && i < env->ndests; i++) {
		const struct env_dest *a = &env->dests[i], *b = &back.dests[i];

		if (a->rcpt != b->rcpt || a->kind != b->kind ||
		    strcmp(a->address, b->address) != 0 ||
		    strcmp(a->mailbox, b->mailbox) != 0 ||
		    a->quota_bytes != b->quota_bytes ||
		    a->quota_messages != b->quota_messages ||
		    a->state != b->state || a->attempts != b->attempts ||
		    a->next_try != b->next_try ||
		    strcmp(a->error, b->error) != 0)
			ok = 0;
	}
	if (ok && (envelope_encode(&back, &b2, &l2) == -1 || l1 != l2 ||
	    memcmp(b1, b2, l1) != 0))
		ok = 0;
	else if (ok)
		free(b2);
	envelope_clear(&back);
	free(b1);
	return ok;
}

static void
test_queue_id(void)
{
	test_begin("envelope: queue_id_valid");
	test_assert(queue_id_valid("0123456789abcdef"));
	test_assert(queue_id_valid("ffffffffffffffff"));
	test_assert(!queue_id_valid("0123456789ABCDEF"));
	test_assert(!queue_id_valid("0123456789abcde"));
	test_assert(!queue_id_valid("0123456789abcdef0"));
	test_assert(!queue_id_valid("0123456789abcdeg"));
	test_assert(!queue_id_valid("../3456789abcdef"));
	test_assert(!queue_id_valid(""));
	test_assert(!queue_id_valid(NULL));
	test_end();
}

static void
test_format_pinned(void)
{
	struct envelope	 env;
	struct raw	 r;
	uint8_t		*b;
	size_t		 l;

	test_begin("envelope: encoding matches the documented format");
	sample(&env);
	raw_sample(&r);
	test_assert(envelope_encode(&env, &b, &l) == 0);
	test_assert(l == r.len && memcmp(b, r.p, l) == 0);
	test_assert(memcmp(b, "OSMSENV2\x01\x10\0\0\0" TEST_ID, 25) == 0);
	test_assert(b[l - END_LEN] == T_END && b[l - END_LEN + 1] == 8);
	free(b);
	raw_free(&r);
	envelope_clear(&env);
	test_end();
}

static void
test_truncations(void)
{
	struct envelope	 env;
	struct env_rcpt	 rc;
	struct env_dest	 d;
	uint8_t		*b, *cut;
	size_t		 l, i;
	int		 bad = 0;

	test_begin("envelope: every truncation fails");
	sample(&env);
	rc = env.rcpts[0];
	d = env.dests[0];
	(void)envelope_add_rcpt(&env, &rc);
	d.rcpt = 1;
	(void)envelope_add_dest(&env, &d);
	test_assert(envelope_encode(&env, &b, &l) == 0);
	for (i = 0; i < l; i++) {
		/* A copy of exactly i bytes, so ASan sees any overread. */
		cut = xmalloc(i + 1);
		memcpy(cut, b, i);
		if (!fails(cut, i, NULL))
			bad++;
		free(cut);
	}
	test_assert(bad == 0);
	test_assert(fails(b, 0, "truncated envelope"));
	test_assert(fails(b, 7, "truncated envelope"));
	test_assert(fails(b, 8, "truncated envelope"));
	test_assert(fails(b, l - 1, "no END record: truncated or damaged "
	    "envelope"));
	free(b);
	envelope_clear(&env);
	test_end();
}

static void
test_flips(void)
{
	static const uint8_t	 masks[] = { 0x01, 0x80, 0xff, 0x20 };
	struct envelope		 env;
	uint8_t			*b;
	size_t			 l, i, m;
	int			 bad = 0;

	test_begin("envelope: every single-byte change fails");
	sample(&env);
	test_assert(envelope_encode(&env, &b, &l) == 0);
	for (i = 0; i < l; i++)
		for (m = 0; m < nitems(masks); m++) {
			b[i] ^= masks[m];
			if (!fails(b, l, NULL)) {
				(void)printf("# byte %zu ^ %#x decoded\n", i,
				    masks[m]);
				bad++;
			}
			b[i] ^= masks[m];
		}
	test_assert(bad == 0);
	/* Undamaged after all that. */
	test_assert(decodes(b, l));
	free(b);
	envelope_clear(&env);
	test_end();
}

static void
test_magic(void)
{
	struct raw	 r;

	test_begin("envelope: bad magic, bad END");
	raw_sample_ex(&r, -1, NULL, 0, 1, 1);
	memcpy(r.p, "OSMSENV3", 8);
	raw_end(&r);
	test_assert(fails_raw(&r, "bad magic"));
	test_assert(fails((const uint8_t *)"osmsenv1", 8, "bad magic"));
	/* Version 1 (no SCANNER, no VIRUS) is read, and written as 2. */
	{
		struct envelope	 v1;
		uint8_t		*b;
		size_t		 l;
		int		 i;

		memset(&r, 0, sizeof(r));
		raw_put(&r, "OSMSENV1", 8);
		for (i = 0; i < NHDR - 2; i++)
			raw_hdr(&r, i);
		raw_rcpt(&r, "bob@example.test", "", 0);
		raw_dest(&r, 0, DEST_MAILBOX, DEST_PENDING);
		raw_end(&r);
		test_assert(envelope_decode(r.p, r.len, &v1, NULL) == 0 &&
		    v1.scanner[0] == '\0' && v1.virus[0] == '\0' &&
		    v1.size == 4242);
		test_assert(envelope_encode(&v1, &b, &l) == 0 &&
		    memcmp(b, "OSMSENV2", 8) == 0);
		free(b);
		envelope_clear(&v1);
		raw_free(&r);
		/* ...but not with the version 2 fields. */
		memset(&r, 0, sizeof(r));
		raw_put(&r, "OSMSENV1", 8);
		for (i = 0; i < NHDR; i++)
			raw_hdr(&r, i);
		raw_rcpt(&r, "bob@example.test", "", 0);
		raw_end(&r);
		test_assert(fails_raw(&r, NULL));
	}
	test_assert(fails((const uint8_t *)"OSMS", 4, "truncated envelope"));

	/* END with a wrong length, or not END at all. */
	raw_sample_ex(&r, -1, NULL, 0, 1, 1);
	raw_u32(&r, T_END, 0);
	raw_put(&r, "\0\0\0\0", 4);
	test_assert(fails_raw(&r, "no END record: truncated or damaged "
	    "envelope"));
	raw_sample_ex(&r, -1, NULL, 0, 1, 1);
	raw_u64(&r, T_SIZE, fnv(r.p, r.len));
	test_assert(fails_raw(&r, "no END record: truncated or damaged "
	    "envelope"));
	raw_sample_ex(&r, -1, NULL, 0, 1, 1);
	raw_u64(&r, T_END, fnv(r.p, r.len) + 1);
	test_assert(fails_raw(&r, "bad checksum"));
	test_end();
}

static void
test_records(void)
{
	struct raw	 r, x;
	int		 i;

	test_begin("envelope: unknown, repeated, missing, misplaced records");
	/* Control: the hand-built sample decodes. */
	raw_sample(&r);
	test_assert(decodes(r.p, r.len));
	raw_free(&r);

	memset(&x, 0, sizeof(x));
	raw_str(&x, 0x20, "what");
	for (i = 0; i <= NHDR; i++) {
		raw_sample_ex(&r, -1, &x, i, 1, 1);
		raw_end(&r);
		test_assert(fails_raw(&r, "unknown record type"));
	}
	raw_free(&x);
	raw_str(&x, 0x00, "");
	raw_sample_ex(&r, -1, &x, 3, 1, 1);
	raw_end(&r);
	test_assert(fails_raw(&r, "unknown record type"));
	raw_free(&x);

	/* Every header field, once more right after itself. */
	for (i = 0; i < NHDR; i++) {
		raw_hdr(&x, i);
		raw_sample_ex(&r, -1, &x, i + 1, 1, 1);
		raw_end(&r);
		test_assert(fails_raw(&r, "repeated field"));
		raw_free(&x);
	}
	/* Every header field missing. */
	for (i = 0; i < NHDR; i++) {
		raw_sample_ex(&r, i, NULL, 0, 1, 1);
		raw_end(&r);
		test_assert(fails_raw(&r,
		    "missing field or record out of order"));
	}
	/* Out of order: SENDER before FLAGS. */
	raw_hdr(&x, 3);
	raw_sample_ex(&r, 3, &x, 2, 1, 1);
	raw_end(&r);
	test_assert(fails_raw(&r, "missing field or record out of order"));
	raw_free(&x);
	/* ID again at the very end. */
	raw_hdr(&x, 0);
	raw_sample_ex(&r, -1, NULL, 0, 1, 1);
	raw_put(&r, x.p, x.len);
	raw_end(&r);
	test_assert(fails_raw(&r, "repeated field"));
	raw_free(&x);

	/* Recipients and destinations. */
	raw_sample_ex(&r, -1, NULL, 0, 0, 0);
	raw_end(&r);
	test_assert(fails_raw(&r, "no recipient"));
	raw_sample_ex(&r, -1, NULL, 0, 0, 1);
	raw_end(&r);
	test_assert(fails_raw(&r, "destination before any recipient"));
	raw_sample_ex(&r, -1, NULL, 0, 1, 1);
	raw_rcpt(&r, "late@example.test", "", 0);
	raw_end(&r);
	test_assert(fails_raw(&r, "recipient after a destination"));
	raw_sample_ex(&r, -1, NULL, 0, 1, 0);
	raw_end(&r);
	test_assert(decodes(r.p, r.len));
	raw_free(&r);
	test_end();
}

static void
test_trailing(void)
{
	struct envelope	 env;
	struct raw	 r;
	uint8_t		*b;
	size_t		 l;

	test_begin("envelope: bytes after END");
	sample(&env);
	test_assert(envelope_encode(&env, &b, &l) == 0);
	memset(&r, 0, sizeof(r));
	raw_put(&r, b, l);
	raw_put(&r, "x", 1);
	test_assert(fails(r.p, r.len, NULL));
	/* A second END, right again: the first is now inside. */
	r.len = l;
	raw_end(&r);
	test_assert(fails_raw(&r, "bytes after END"));
	/* A second whole envelope glued on. */
	raw_put(&r, b, l);
	raw_put(&r, b, l);
	test_assert(fails_raw(&r, NULL));
	/* END in the middle of the header. */
	raw_sample_ex(&r, -1, NULL, 0, 0, 0);
	r.len = 8 + 16 + 5;
	raw_end(&r);
	raw_hdr(&r, 1);
	raw_end(&r);
	test_assert(fails_raw(&r, "bytes after END"));
	free(b);
	envelope_clear(&env);
	test_end();
}

static void
test_values(void)
{
	struct raw	 r, x;
	char		 big[2048];

	test_begin("envelope: bad values behind a good checksum");
	memset(&x, 0, sizeof(x));
#define ONE_HDR(idx, stmt, why) do {					\
		stmt;							\
		raw_sample_ex(&r, (idx), &x, (idx), 1, 1);		\
		raw_end(&r);						\
		test_assert(fails_raw(&r, (why)));			\
		raw_free(&x);						\
	} while (0)
	ONE_HDR(0, raw_str(&x, T_ID, "0123456789ABCDEF"), "bad queue id");
	ONE_HDR(0, raw_str(&x, T_ID, "0123456789abcde"), "bad queue id");
	ONE_HDR(0, raw_str(&x, T_ID, "0123456789abcdef0"), "bad queue id");
	ONE_HDR(1, raw_u32(&x, T_CREATED, 1), "bad field length");
	ONE_HDR(2, raw_u32(&x, T_FLAGS, 0x10), "unknown flag");
	ONE_HDR(2, raw_u64(&x, T_FLAGS, 1), "bad field length");
	ONE_HDR(3, raw_str(&x, T_SENDER, "a\nb@example.test"),
	    "control byte in a string");
	ONE_HDR(3, raw_str(&x, T_SENDER, "a\r"), "control byte in a string");
	ONE_HDR(3, raw_str(&x, T_SENDER, "\x7f"), "control byte in a string");
	ONE_HDR(3, raw_rec(&x, T_SENDER, "a\0b", 3),
	    "control byte in a string");
	ONE_HDR(4, raw_str(&x, T_HELO, "x\ty"), "control byte in a string");
	memset(big, 'a', sizeof(big));
	ONE_HDR(3, raw_rec(&x, T_SENDER, big, ADDR_MAX_TEXT),
	    "field too long");
	ONE_HDR(4, raw_rec(&x, T_HELO, big, 256), "field too long");
	ONE_HDR(5, raw_rec(&x, T_CLIENT, big, 64), "field too long");
	ONE_HDR(6, raw_rec(&x, T_TLS, big, 128), "field too long");
	ONE_HDR(7, raw_rec(&x, T_AUTH, big, 256), "field too long");
	ONE_HDR(12, raw_rec(&x, T_ENVID, big, SMTP_ENVID_MAX + 1),
	    "field too long");
	ONE_HDR(8, raw_u32(&x, T_BODY, SMTP_BODY_BINARYMIME + 1),
	    "value out of range");
	ONE_HDR(9, raw_u32(&x, T_RET, SMTP_RET_HDRS + 1),
	    "value out of range");
	ONE_HDR(9, raw_u32(&x, T_RET, UINT32_MAX), "value out of range");
	ONE_HDR(10, raw_rec(&x, T_SMTPUTF8, "\2", 1), "bad boolean");
	ONE_HDR(10, raw_rec(&x, T_SMTPUTF8, "\1\0", 2), "bad boolean");
	ONE_HDR(11, raw_rec(&x, T_REQUIRETLS, "", 0), "bad boolean");
	ONE_HDR(13, raw_u32(&x, T_SIZE, 1), "bad field length");
	/* A length that runs past the end. */
	ONE_HDR(3, raw_put(&x, "\x04\xff\xff\xff\xff", 5),
	    "record longer than what holds it");
	ONE_HDR(3, raw_put(&x, "\x04\x00\x00\x00\x80", 5),
	    "record longer than what holds it");
#undef ONE_HDR
	test_end();
}

static void
raw_one_rcpt_dest(struct raw *r, const struct raw *rcpt,
    const struct raw *dest)
{
	raw_sample_ex(r, -1, NULL, 0, 0, 0);
	if (rcpt != NULL)
		raw_rec(r, T_RCPT, rcpt->p, rcpt->len);
	else
		raw_rcpt(r, "bob@example.test", "", 0);
	if (dest != NULL)
		raw_rec(r, T_DEST, dest->p, dest->len);
	raw_end(r);
}

static void
test_groups(void)
{
	struct raw	 r, v;
	char		 big[MAILDIR_MAX_PATH + 1];

	test_begin("envelope: bad recipients and destinations");
	memset(&v, 0, sizeof(v));
	memset(big, 'm', sizeof(big));

	/* Recipient fields. */
	raw_str(&v, 0x01, "bob@example.test");
	raw_str(&v, 0x02, "");
	raw_u32(&v, 0x03, 0);
	raw_one_rcpt_dest(&r, &v, NULL);
	test_assert(decodes(r.p, r.len));
	raw_free(&r);
	raw_u32(&v, 0x03, 0);
	raw_one_rcpt_dest(&r, &v, NULL);
	test_assert(fails_raw(&r, "repeated field"));
	raw_free(&v);
	raw_str(&v, 0x01, "bob@example.test");
	raw_str(&v, 0x02, "");
	raw_u32(&v, 0x03, 0x10);
	raw_one_rcpt_dest(&r, &v, NULL);
	test_assert(fails_raw(&r, "unknown flag"));
	raw_free(&v);
	raw_str(&v, 0x01, "bob@example.test");
	raw_str(&v, 0x02, "");
	raw_one_rcpt_dest(&r, &v, NULL);
	test_assert(fails_raw(&r, "missing field"));
	raw_free(&v);
	raw_str(&v, 0x01, "bob@example.test");
	raw_str(&v, 0x04, "");
	raw_one_rcpt_dest(&r, &v, NULL);
	test_assert(fails_raw(&r, "unknown record type"));
	raw_free(&v);
	raw_str(&v, 0x02, "");
	raw_str(&v, 0x01, "bob@example.test");
	raw_u32(&v, 0x03, 0);
	raw_one_rcpt_dest(&r, &v, NULL);
	test_assert(fails_raw(&r, "missing field or record out of order"));
	raw_free(&v);
	raw_str(&v, 0x01, "bob@\x01xample.test");
	raw_str(&v, 0x02, "");
	raw_u32(&v, 0x03, 0);
	raw_one_rcpt_dest(&r, &v, NULL);
	test_assert(fails_raw(&r, "control byte in a string"));
	raw_free(&v);
	raw_str(&v, 0x01, "b");
	raw_rec(&v, 0x02, big, SMTP_ORCPT_MAX + 1);
	raw_u32(&v, 0x03, 0);
	raw_one_rcpt_dest(&r, &v, NULL);
	test_assert(fails_raw(&r, "field too long"));
	raw_free(&v);
	/* A sub-record header cut short, and one too long for its group. */
	raw_put(&v, "\x01\x00\x00", 3);
	raw_one_rcpt_dest(&r, &v, NULL);
	test_assert(fails_raw(&r, "truncated record"));
	raw_free(&v);
	raw_put(&v, "\x01\x05\x00\x00\x00" "bob", 8);
	raw_one_rcpt_dest(&r, &v, NULL);
	test_assert(fails_raw(&r, "record longer than what holds it"));
	raw_free(&v);
	raw_one_rcpt_dest(&r, &v, NULL);	/* an empty RCPT */
	test_assert(fails_raw(&r, "missing field"));

	/* Destinations. */
#define DEST(rcpt, kind, mbox, mboxlen, state, why) do {		\
		const char *why_ = (why);				\
									\
		raw_u32(&v, 0x01, (rcpt));				\
		raw_u32(&v, 0x02, (kind));				\
		raw_str(&v, 0x03, "bob@example.test");			\
		raw_rec(&v, 0x04, (mbox), (mboxlen));			\
		raw_u64(&v, 0x05, 0);					\
		raw_u64(&v, 0x06, 0);					\
		raw_u32(&v, 0x07, (state));				\
		raw_u32(&v, 0x08, 0);					\
		raw_u64(&v, 0x09, 0);					\
		raw_str(&v, 0x0a, "");					\
		raw_one_rcpt_dest(&r, NULL, &v);			\
		if (why_ == NULL) {					\
			test_assert(decodes(r.p, r.len));		\
			raw_free(&r);					\
		} else							\
			test_assert(fails_raw(&r, why_));		\
		raw_free(&v);						\
	} while (0)
	DEST(0, DEST_RELAY, "", 0, DEST_FAILED, NULL);
	DEST(1, DEST_MAILBOX, "a/b", 3, DEST_PENDING,
	    "destination of a recipient that does not exist");
	DEST(UINT32_MAX, DEST_MAILBOX, "a/b", 3, DEST_PENDING,
	    "destination of a recipient that does not exist");
	DEST(0, DEST_RELAY + 1, "a/b", 3, DEST_PENDING, "value out of range");
	DEST(0, DEST_MAILBOX, "a/b", 3, DEST_FAILED + 1,
	    "value out of range");
	DEST(0, DEST_MAILBOX, big, MAILDIR_MAX_PATH, DEST_PENDING,
	    "field too long");
	DEST(0, DEST_MAILBOX, "a\x1b", 2, DEST_PENDING,
	    "control byte in a string");
#undef DEST
	test_end();
}

static void
test_counts(void)
{
	struct raw	 r;
	struct envelope	 env;
	struct env_rcpt	 rc;
	struct env_dest	 d;
	uint8_t		*b, *huge;
	size_t		 i, l;
	int		 ok;

	test_begin("envelope: limits on counts and size");
	/* ENV_MAX_RCPTS + 1 recipients, each a minimal record. */
	raw_sample_ex(&r, -1, NULL, 0, 0, 0);
	for (i = 0; i < ENV_MAX_RCPTS + 1; i++)
		raw_rcpt(&r, "r", "", 0);
	raw_end(&r);
	test_assert(fails_raw(&r, "too many recipients"));

	raw_sample_ex(&r, -1, NULL, 0, 1, 0);
	for (i = 0; i < ENV_MAX_DESTS + 1; i++)
		raw_dest(&r, 0, DEST_RELAY, DEST_PENDING);
	raw_end(&r);
	test_assert(fails_raw(&r, "too many destinations"));

	/* Exactly at the limits: fine. */
	raw_sample_ex(&r, -1, NULL, 0, 0, 0);
	for (i = 0; i < ENV_MAX_RCPTS; i++)
		raw_rcpt(&r, "r", "", 0);
	for (i = 0; i < ENV_MAX_DESTS; i++)
		raw_dest(&r, (uint32_t)(i % ENV_MAX_RCPTS), DEST_RELAY,
		    DEST_PENDING);
	raw_end(&r);
	test_assert(envelope_decode(r.p, r.len, &env, NULL) == 0);
	test_assert(env.nrcpts == ENV_MAX_RCPTS &&
	    env.ndests == ENV_MAX_DESTS);
	test_assert(env.dests[ENV_MAX_DESTS - 1].rcpt ==
	    (ENV_MAX_DESTS - 1) % ENV_MAX_RCPTS);
	/* add_* refuse one more. */
	memset(&rc, 0, sizeof(rc));
	memset(&d, 0, sizeof(d));
	test_assert(envelope_add_rcpt(&env, &rc) == -1);
	test_assert(envelope_add_dest(&env, &d) == -1);
	test_assert(env.nrcpts == ENV_MAX_RCPTS);
	/* And the encoding is the one decoded. */
	test_assert(envelope_encode(&env, &b, &l) == 0);
	test_assert(l == r.len && memcmp(b, r.p, l) == 0);
	free(b);
	raw_free(&r);

	/*
	 * Every recipient at its longest: larger than ENV_MAX_FILE, which
	 * the reader would refuse, so the writer refuses it first.
	 */
	for (i = 0; i < env.nrcpts; i++) {
		memset(env.rcpts[i].address, 'a', ADDR_MAX_TEXT - 1);
		env.rcpts[i].address[ADDR_MAX_TEXT - 1] = '\0';
		memset(env.rcpts[i].orcpt, 'o', SMTP_ORCPT_MAX);
		env.rcpts[i].orcpt[SMTP_ORCPT_MAX] = '\0';
	}
	test_assert(envelope_encode(&env, &b, &l) == -1);
	envelope_clear(&env);

	/* A file over ENV_MAX_FILE is refused before it is looked at. */
	huge = xcalloc(ENV_MAX_FILE + 1, 1);
	memcpy(huge, "OSMSENV1", 8);
	ok = fails(huge, ENV_MAX_FILE + 1, "envelope too large");
	test_assert(ok);
	free(huge);
	test_end();
}

static void
test_encode_refuses(void)
{
	struct envelope	 env;
	uint8_t		*b = (uint8_t *)"x";
	size_t		 l = 1;

	test_begin("envelope: encode refuses invalid fields");
#define REFUSE(stmt) do {						\
		sample(&env);						\
		stmt;							\
		test_assert(envelope_encode(&env, &b, &l) == -1);	\
		test_assert(b == NULL && l == 0);			\
		envelope_clear(&env);					\
	} while (0)
	REFUSE(env.id[3] = 'A');
	REFUSE(env.id[15] = '\0');
	REFUSE(env.flags = 0x80);
	REFUSE(env.sender[1] = '\n');
	REFUSE(env.helo[0] = 0x7f);
	REFUSE(memset(env.client, 'c', sizeof(env.client)));
	REFUSE(memset(env.envid, 'e', sizeof(env.envid)));
	REFUSE(env.body = 7);
	REFUSE(env.ret = 3);
	REFUSE(env.rcpts[0].notify = 0x100);
	REFUSE(env.rcpts[0].orcpt[0] = '\r');
	REFUSE(env.dests[0].rcpt = 1);
	REFUSE(env.dests[0].kind = (enum dest_kind)5);
	REFUSE(env.dests[0].state = (enum dest_state)5);
	REFUSE(env.dests[0].error[0] = '\t');
	REFUSE(memset(env.dests[0].mailbox, 'm', sizeof(env.dests[0].mailbox)));
	REFUSE(env.nrcpts = 0);
#undef REFUSE
	test_end();
}

static void
test_round_trips(void)
{
	struct envelope	 env;
	struct env_rcpt	 rc;
	struct env_dest	 d;
	size_t		 i;
	int		 ok = 1;

	test_begin("envelope: round trips");
	sample(&env);
	test_assert(round_trip(&env));
	env.smtputf8 = 7;	/* any true value comes back as 1 */
	env.requiretls = -1;
	env.created = INT64_MIN;
	env.size = UINT64_MAX;
	env.flags = ENV_F_BOUNCE;
	env.dests[0].next_try = -1;
	env.dests[0].quota_bytes = UINT64_MAX;
	env.dests[0].attempts = UINT32_MAX;
	env.sender[0] = '\0';	/* the null path */
	test_assert(round_trip(&env));
	env.flags = ENV_F_DELAYED;	/* its delay warnings went out */
	test_assert(round_trip(&env));
	envelope_clear(&env);
	test_assert(env.nrcpts == 0 && env.rcpts == NULL && env.dests == NULL);

	/* 1000 recipients with 2 destinations each. */
	sample(&env);
	env.ndests = 0;
	for (i = 1; i < 1000; i++) {
		memset(&rc, 0, sizeof(rc));
		(void)osms_snprintf(rc.address, sizeof(rc.address),
		    "user%zu@example.test", i);
		rc.notify = SMTP_NOTIFY_NEVER;
		if (envelope_add_rcpt(&env, &rc) == -1)
			ok = 0;
	}
	for (i = 0; i < 2000; i++) {
		memset(&d, 0, sizeof(d));
		d.rcpt = (uint32_t)(i / 2);
		d.kind = i % 2 ? DEST_RELAY : DEST_MAILBOX;
		d.state = (enum dest_state)(i % 3);
		(void)osms_snprintf(d.address, sizeof(d.address),
		    "user%zu@example.test", i / 2);
		if (d.kind == DEST_MAILBOX)
			(void)osms_snprintf(d.mailbox, sizeof(d.mailbox),
			    "example.test/user%zu", i / 2);
		if (envelope_add_dest(&env, &d) == -1)
			ok = 0;
	}
	test_assert(ok);
	test_assert(env.nrcpts == 1000 && env.ndests == 2000);
	/* Growth kept every earlier entry. */
	test_assert(strcmp(env.rcpts[0].address, "bob@example.test") == 0);
	test_assert(strcmp(env.rcpts[999].address, "user999@example.test") ==
	    0);
	test_assert(env.dests[1999].rcpt == 999);
	test_assert(round_trip(&env));
	envelope_clear(&env);

	/* UTF-8 passes unchanged. */
	sample(&env);
	env.smtputf8 = 1;
	(void)osms_strlcpy(env.sender, "j\xc3\xb6rg@b\xc3\xbc" "cher.example",
	    sizeof(env.sender));
	(void)osms_strlcpy(env.rcpts[0].address,
	    "\xe7\x94\xa8\xe6\x88\xb7@\xe4\xbe\x8b\xe5\xad\x90.\xe5\x85\xac"
	    "\xe5\x8f\xb8", sizeof(env.rcpts[0].address));
	(void)osms_strlcpy(env.dests[0].address, env.rcpts[0].address,
	    sizeof(env.dests[0].address));
	test_assert(round_trip(&env));
	envelope_clear(&env);
	test_end();
}

static void
fill(char *s, size_t size, char c)
{
	memset(s, c, size - 1);
	s[size - 1] = '\0';
}

static void
test_max_fields(void)
{
	struct envelope	 env;
	struct env_dest	*d;

	test_begin("envelope: every field at its longest");
	sample(&env);
	fill(env.sender, sizeof(env.sender), 's');
	fill(env.helo, sizeof(env.helo), 'h');
	fill(env.client, sizeof(env.client), 'c');
	fill(env.tls, sizeof(env.tls), 't');
	fill(env.auth, sizeof(env.auth), 'a');
	fill(env.envid, sizeof(env.envid), 'e');
	fill(env.rcpts[0].address, sizeof(env.rcpts[0].address), 'r');
	fill(env.rcpts[0].orcpt, sizeof(env.rcpts[0].orcpt), 'o');
	env.rcpts[0].notify = SMTP_NOTIFY_SUCCESS | SMTP_NOTIFY_FAILURE |
	    SMTP_NOTIFY_DELAY;
	d = &env.dests[0];
	fill(d->address, sizeof(d->address), 'd');
	fill(d->mailbox, sizeof(d->mailbox), 'm');
	fill(d->error, sizeof(d->error), '\xff');	/* high bytes pass */
	test_assert(round_trip(&env));
	envelope_clear(&env);
	test_end();
}

static void
test_done(void)
{
	struct envelope	 env;

	test_begin("envelope: done when nothing is pending");
	sample(&env);
	test_assert(!envelope_done(&env));
	env.dests[0].state = DEST_DONE;
	test_assert(envelope_done(&env));
	(void)envelope_add_dest(&env, &env.dests[0]);
	env.dests[1].state = DEST_PENDING;
	test_assert(!envelope_done(&env));
	env.dests[1].state = DEST_FAILED;
	test_assert(envelope_done(&env));
	envelope_clear(&env);
	test_assert(envelope_done(&env));
	envelope_clear(&env);	/* twice is fine */
	test_end();
}

int
main(void)
{
	test_queue_id();
	test_format_pinned();
	test_truncations();
	test_flips();
	test_magic();
	test_records();
	test_trailing();
	test_values();
	test_groups();
	test_counts();
	test_encode_refuses();
	test_round_trips();
	test_max_fields();
	test_done();
	return test_exit();
}
