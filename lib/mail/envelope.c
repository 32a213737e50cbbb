/*
 * The envelope of a queued message and its on-disk form (envelope.h).
 *
 * File format. Integers are fixed-width little endian. A file is
 *
 *	"OSMSENV2"			magic and format version
 *	record ...			u8 type, u32 length, length bytes
 *
 * and its records come in one fixed order, each field exactly once:
 *
 *	0x01 ID		16 lower-case hex digits
 *	0x02 CREATED	i64		0x08 AUTH	string
 *	0x03 FLAGS	u32 ENV_F_*	0x09 BODY	u32 SMTP_BODY_*
 *	0x04 SENDER	string		0x0a RET	u32 SMTP_RET_*
 *	0x05 HELO	string		0x0b SMTPUTF8	u8 0 or 1
 *	0x06 CLIENT	string		0x0c REQUIRETLS	u8 0 or 1
 *	0x07 TLS	string		0x0d ENVID	string
 *					0x0e SIZE	u64
 *					0x0f SCANNER	string
 *					0x10 VIRUS	string
 *	0x40 RCPT	one per recipient (at least one), fields below
 *	0x41 DEST	one per destination, fields below
 *	0xff END	u64: FNV-1a 64 of every byte before END
 *
 * A RCPT or DEST value is itself a sequence of records, again every
 * field once and in order:
 *
 *	RCPT	0x01 ADDRESS string, 0x02 ORCPT string, 0x03 NOTIFY u32
 *	DEST	0x01 RCPT u32 (< number of RCPT records), 0x02 KIND u32,
 *		0x03 ADDRESS string, 0x04 MAILBOX string, 0x05 QUOTA_BYTES
 *		u64, 0x06 QUOTA_MESSAGES u64, 0x07 STATE u32, 0x08 ATTEMPTS
 *		u32, 0x09 NEXT_TRY i64, 0x0a ERROR string
 *
 * A string is its bytes without a NUL; it never holds a byte below 0x20
 * or 0x7f and is shorter than the struct field that holds it. Bytes of
 * 0x80 and up (UTF-8) pass unchanged.
 *
 * The END record is always the last 13 bytes of the file, so the decoder
 * checks it and the checksum before it looks at anything else: a torn
 * file fails there. Since the order is fixed and nothing is optional,
 * the encoding is canonical: decoding then encoding gives back the
 * input, byte for byte. A new field is a new magic: "OSMSENV1" files
 * (without SCANNER and VIRUS) are still read, and written as version 2.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "envelope.h"
#include "util.h"

#define ENV_MAGIC	"OSMSENV2"
#define ENV_MAGIC_V1	"OSMSENV1"
#define ENV_MAGIC_LEN	8
#define REC_HDR		5		/* u8 type, u32 length */
#define END_LEN		(REC_HDR + 8)

/* Flags this version knows; any other bit is refused. */
#define ENV_F_KNOWN	(ENV_F_BOUNCE | ENV_F_DELAYED | ENV_F_QUARANTINE | \
			 ENV_F_JUNK)
#define NOTIFY_KNOWN	(SMTP_NOTIFY_NEVER | SMTP_NOTIFY_SUCCESS | \
			    SMTP_NOTIFY_FAILURE | SMTP_NOTIFY_DELAY)

/* Arrays start at this many entries and double up to the limit. */
#define ENV_ARRAY_MIN	8

enum {
	T_ID = 0x01,
	T_CREATED,
	T_FLAGS,
	T_SENDER,
	T_HELO,
	T_CLIENT,
	T_TLS,
	T_AUTH,
	T_BODY,
	T_RET,
	T_SMTPUTF8,
	T_REQUIRETLS,
	T_ENVID,
	T_SIZE,
	T_SCANNER,
	T_VIRUS,
	T_RCPT = 0x40,
	T_DEST = 0x41,
	T_END = 0xff,
};

enum {
	R_ADDRESS = 0x01,
	R_ORCPT,
	R_NOTIFY,
	R_LAST = R_NOTIFY,
};

enum {
	D_RCPT = 0x01,
	D_KIND,
	D_ADDRESS,
	D_MAILBOX,
	D_QUOTA_BYTES,
	D_QUOTA_MESSAGES,
	D_STATE,
	D_ATTEMPTS,
	D_NEXT_TRY,
	D_ERROR,
	D_LAST = D_ERROR,
};

enum rlevel {
	LEVEL_TOP,
	LEVEL_RCPT,
	LEVEL_DEST,
};

/* An encoding being built; err once it would pass ENV_MAX_FILE. */
struct wbuf {
	uint8_t		*p;
	size_t		 len;
	size_t		 cap;
	int		 err;
};

/* A sequence of records being read. */
struct rbuf {
	const uint8_t	*p;
	size_t		 len;
	size_t		 off;
	enum rlevel	 level;
	int		 last;		/* type of the previous record */
	const char	*err;
};

static uint64_t	 fnv1a64(const uint8_t *, size_t);
static size_t	 array_room(size_t, size_t);
static void	*array_grow(void *, size_t, size_t, size_t);
static int	 str_ok(const char *, size_t);
static void	 put_le32(uint8_t *, uint32_t);
static void	 put_le64(uint8_t *, uint64_t);
static uint32_t	 get_le32(const uint8_t *);
static uint64_t	 get_le64(const uint8_t *);
static int64_t	 u64_to_i64(uint64_t);
static void	 wb_put(struct wbuf *, const void *, size_t);
static void	 wb_rec(struct wbuf *, uint8_t, const void *, size_t);
static void	 wb_u8(struct wbuf *, uint8_t, uint8_t);
static void	 wb_u32(struct wbuf *, uint8_t, uint32_t);
static void	 wb_u64(struct wbuf *, uint8_t, uint64_t);
static void	 wb_str(struct wbuf *, uint8_t, const char *);
static size_t	 wb_begin(struct wbuf *, uint8_t);
static void	 wb_finish(struct wbuf *, size_t);
static int	 rcpt_valid(const struct env_rcpt *);
static int	 dest_valid(const struct env_dest *, size_t);
static int	 type_known(enum rlevel, int);
static int	 rb_next(struct rbuf *, uint8_t, const uint8_t **, size_t *);
static int	 rb_id(struct rbuf *, uint8_t, char *);
static int	 rb_str(struct rbuf *, uint8_t, char *, size_t);
static int	 rb_u32(struct rbuf *, uint8_t, uint32_t *, uint32_t);
static int	 rb_mask(struct rbuf *, uint8_t, uint32_t *, uint32_t);
static int	 rb_u64(struct rbuf *, uint8_t, uint64_t *);
static int	 rb_i64(struct rbuf *, uint8_t, int64_t *);
static int	 rb_bool(struct rbuf *, uint8_t, int *);
static int	 rb_done(struct rbuf *);
static int	 decode_rcpt(const uint8_t *, size_t, struct env_rcpt *,
		    const char **);
static int	 decode_dest(const uint8_t *, size_t, size_t,
		    struct env_dest *, const char **);
static int	 decode_body(struct rbuf *, struct envelope *, int);

void
envelope_init(struct envelope *env)
{
	memset(env, 0, sizeof(*env));
	env->rcpts = NULL;
	env->dests = NULL;
}

void
envelope_clear(struct envelope *env)
{
	free(env->rcpts);
	free(env->dests);
	envelope_init(env);
}

/*
 * The envelope keeps no capacity: it is a function of the count, so that
 * growth is geometric without a field in the header. An array of n > 0
 * entries has room for ENV_ARRAY_MIN, or the power of two at or above n,
 * but never more than the limit.
 */
static size_t
array_room(size_t n, size_t max)
{
	size_t	 room = ENV_ARRAY_MIN;

	if (n == 0)
		return 0;
	while (room < n)
		room *= 2;
	return room < max ? room : max;
}

/* Make room for entry n of an array of n entries; n < max. */
static void *
array_grow(void *arr, size_t n, size_t elsize, size_t max)
{
	if (n < array_room(n, max))
		return arr;
	return xreallocarray(arr, array_room(n + 1, max), elsize);
}

/* The copy is taken first: the argument may point into the array. */
int
envelope_add_rcpt(struct envelope *env, const struct env_rcpt *rcpt)
{
	struct env_rcpt	 copy = *rcpt;

	if (env->nrcpts >= ENV_MAX_RCPTS)
		return -1;
	env->rcpts = array_grow(env->rcpts, env->nrcpts, sizeof(*env->rcpts),
	    ENV_MAX_RCPTS);
	env->rcpts[env->nrcpts++] = copy;
	return 0;
}

int
envelope_add_dest(struct envelope *env, const struct env_dest *dest)
{
	struct env_dest	 copy = *dest;

	if (env->ndests >= ENV_MAX_DESTS)
		return -1;
	env->dests = array_grow(env->dests, env->ndests, sizeof(*env->dests),
	    ENV_MAX_DESTS);
	env->dests[env->ndests++] = copy;
	return 0;
}

int
envelope_done(const struct envelope *env)
{
	size_t	 i;

	for (i = 0; i < env->ndests; i++)
		if (env->dests[i].state == DEST_PENDING)
			return 0;
	return 1;
}

int
queue_id_valid(const char *s)
{
	size_t	 i;

	if (s == NULL)
		return 0;
	for (i = 0; i < QUEUE_ID_LEN; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		    (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return s[QUEUE_ID_LEN] == '\0';
}

static uint64_t
fnv1a64(const uint8_t *p, size_t len)
{
	uint64_t	 h = 0xcbf29ce484222325ULL;
	size_t		 i;

	for (i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* 1 if the field of size bytes holds a string we may store. */
static int
str_ok(const char *s, size_t size)
{
	size_t	 i;

	for (i = 0; i < size; i++) {
		if (s[i] == '\0')
			return 1;
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return 0;
	}
	return 0;	/* not terminated */
}

static void
put_le32(uint8_t *p, uint32_t v)
{
	p[0] = v & 0xff;
	p[1] = (v >> 8) & 0xff;
	p[2] = (v >> 16) & 0xff;
	p[3] = (v >> 24) & 0xff;
}

static void
put_le64(uint8_t *p, uint64_t v)
{
	put_le32(p, (uint32_t)(v & 0xffffffffU));
	put_le32(p + 4, (uint32_t)(v >> 32));
}

static uint32_t
get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

static uint64_t
get_le64(const uint8_t *p)
{
	return (uint64_t)get_le32(p) | (uint64_t)get_le32(p + 4) << 32;
}

/* Two's complement back to signed, without implementation-defined casts. */
static int64_t
u64_to_i64(uint64_t v)
{
	if (v <= INT64_MAX)
		return (int64_t)v;
	return -(int64_t)(~v) - 1;
}

static void
wb_put(struct wbuf *b, const void *p, size_t n)
{
	size_t	 cap;

	if (b->err || n == 0)
		return;
	if (n > ENV_MAX_FILE - b->len) {
		b->err = 1;
		return;
	}
	if (n > b->cap - b->len) {
		cap = b->cap == 0 ? 1024 : b->cap;
		while (cap - b->len < n)
			cap *= 2;
		b->p = xreallocarray(b->p, cap, 1);
		b->cap = cap;
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

static void
wb_rec(struct wbuf *b, uint8_t type, const void *val, size_t len)
{
	uint8_t	 hdr[REC_HDR];

	if (len > ENV_MAX_FILE) {
		b->err = 1;
		return;
	}
	hdr[0] = type;
	put_le32(hdr + 1, (uint32_t)len);
	wb_put(b, hdr, sizeof(hdr));
	wb_put(b, val, len);
}

static void
wb_u8(struct wbuf *b, uint8_t type, uint8_t v)
{
	wb_rec(b, type, &v, 1);
}

static void
wb_u32(struct wbuf *b, uint8_t type, uint32_t v)
{
	uint8_t	 val[4];

	put_le32(val, v);
	wb_rec(b, type, val, sizeof(val));
}

static void
wb_u64(struct wbuf *b, uint8_t type, uint64_t v)
{
	uint8_t	 val[8];

	put_le64(val, v);
	wb_rec(b, type, val, sizeof(val));
}

/* The caller has checked the string with str_ok(). */
static void
wb_str(struct wbuf *b, uint8_t type, const char *s)
{
	wb_rec(b, type, s, strlen(s));
}

/* Start a record whose value follows; wb_finish() sets its length. */
static size_t
wb_begin(struct wbuf *b, uint8_t type)
{
	size_t	 at = b->len;

	wb_rec(b, type, NULL, 0);
	return at;
}

static void
wb_finish(struct wbuf *b, size_t at)
{
	if (b->err)
		return;
	put_le32(b->p + at + 1, (uint32_t)(b->len - at - REC_HDR));
}

static int
rcpt_valid(const struct env_rcpt *r)
{
	return str_ok(r->address, sizeof(r->address)) &&
	    str_ok(r->orcpt, sizeof(r->orcpt)) &&
	    (r->notify & ~(uint32_t)NOTIFY_KNOWN) == 0;
}

static int
dest_valid(const struct env_dest *d, size_t nrcpts)
{
	return d->rcpt < nrcpts &&
	    (d->kind == DEST_MAILBOX || d->kind == DEST_RELAY) &&
	    (d->state == DEST_PENDING || d->state == DEST_DONE ||
	    d->state == DEST_FAILED) &&
	    str_ok(d->address, sizeof(d->address)) &&
	    str_ok(d->mailbox, sizeof(d->mailbox)) &&
	    str_ok(d->error, sizeof(d->error));
}

int
envelope_encode(const struct envelope *env, uint8_t **out, size_t *outlen)
{
	struct wbuf		 b;
	const struct env_rcpt	*r;
	const struct env_dest	*d;
	size_t			 i, at;

	*out = NULL;
	*outlen = 0;
	if (!queue_id_valid(env->id) ||
	    (env->flags & ~(uint32_t)ENV_F_KNOWN) != 0 ||
	    !str_ok(env->sender, sizeof(env->sender)) ||
	    !str_ok(env->helo, sizeof(env->helo)) ||
	    !str_ok(env->client, sizeof(env->client)) ||
	    !str_ok(env->tls, sizeof(env->tls)) ||
	    !str_ok(env->auth, sizeof(env->auth)) ||
	    env->body > SMTP_BODY_BINARYMIME || env->ret > SMTP_RET_HDRS ||
	    !str_ok(env->envid, sizeof(env->envid)) ||
	    !str_ok(env->scanner, sizeof(env->scanner)) ||
	    !str_ok(env->virus, sizeof(env->virus)) ||
	    env->nrcpts == 0 || env->nrcpts > ENV_MAX_RCPTS ||
	    env->ndests > ENV_MAX_DESTS || env->rcpts == NULL ||
	    (env->ndests > 0 && env->dests == NULL))
		return -1;
	for (i = 0; i < env->nrcpts; i++)
		if (!rcpt_valid(&env->rcpts[i]))
			return -1;
	for (i = 0; i < env->ndests; i++)
		if (!dest_valid(&env->dests[i], env->nrcpts))
			return -1;

	memset(&b, 0, sizeof(b));
	b.p = NULL;
	wb_put(&b, ENV_MAGIC, ENV_MAGIC_LEN);
	wb_rec(&b, T_ID, env->id, QUEUE_ID_LEN);
	wb_u64(&b, T_CREATED, (uint64_t)env->created);
	wb_u32(&b, T_FLAGS, env->flags);
	wb_str(&b, T_SENDER, env->sender);
	wb_str(&b, T_HELO, env->helo);
	wb_str(&b, T_CLIENT, env->client);
	wb_str(&b, T_TLS, env->tls);
	wb_str(&b, T_AUTH, env->auth);
	wb_u32(&b, T_BODY, env->body);
	wb_u32(&b, T_RET, env->ret);
	wb_u8(&b, T_SMTPUTF8, env->smtputf8 != 0);
	wb_u8(&b, T_REQUIRETLS, env->requiretls != 0);
	wb_str(&b, T_ENVID, env->envid);
	wb_u64(&b, T_SIZE, env->size);
	wb_str(&b, T_SCANNER, env->scanner);
	wb_str(&b, T_VIRUS, env->virus);
	for (i = 0; i < env->nrcpts && !b.err; i++) {
		r = &env->rcpts[i];
		at = wb_begin(&b, T_RCPT);
		wb_str(&b, R_ADDRESS, r->address);
		wb_str(&b, R_ORCPT, r->orcpt);
		wb_u32(&b, R_NOTIFY, r->notify);
		wb_finish(&b, at);
	}
	for (i = 0; i < env->ndests && !b.err; i++) {
		d = &env->dests[i];
		at = wb_begin(&b, T_DEST);
		wb_u32(&b, D_RCPT, d->rcpt);
		wb_u32(&b, D_KIND, (uint32_t)d->kind);
		wb_str(&b, D_ADDRESS, d->address);
		wb_str(&b, D_MAILBOX, d->mailbox);
		wb_u64(&b, D_QUOTA_BYTES, d->quota_bytes);
		wb_u64(&b, D_QUOTA_MESSAGES, d->quota_messages);
		wb_u32(&b, D_STATE, (uint32_t)d->state);
		wb_u32(&b, D_ATTEMPTS, d->attempts);
		wb_u64(&b, D_NEXT_TRY, (uint64_t)d->next_try);
		wb_str(&b, D_ERROR, d->error);
		wb_finish(&b, at);
	}
	if (!b.err)
		wb_u64(&b, T_END, fnv1a64(b.p, b.len));
	if (b.err) {
		/* Larger than the reader would take: refuse it now. */
		free(b.p);
		return -1;
	}
	*out = b.p;
	*outlen = b.len;
	return 0;
}

static int
type_known(enum rlevel level, int t)
{
	switch (level) {
	case LEVEL_TOP:
		return (t >= T_ID && t <= T_VIRUS) || t == T_RCPT ||
		    t == T_DEST || t == T_END;
	case LEVEL_RCPT:
		return t >= R_ADDRESS && t <= R_LAST;
	case LEVEL_DEST:
		return t >= D_RCPT && t <= D_LAST;
	}
	return 0;
}

/* The next record, which must be of type want. */
static int
rb_next(struct rbuf *r, uint8_t want, const uint8_t **val, size_t *vlen)
{
	size_t		 left = r->len - r->off;
	uint32_t	 len;
	int		 t;

	if (left == 0) {
		r->err = "missing field";
		return -1;
	}
	if (left < REC_HDR) {
		r->err = "truncated record";
		return -1;
	}
	t = r->p[r->off];
	len = get_le32(r->p + r->off + 1);
	if (len > left - REC_HDR) {
		r->err = "record longer than what holds it";
		return -1;
	}
	if (t != want) {
		if (r->level == LEVEL_TOP && t == T_END)
			r->err = "bytes after END";
		else if (!type_known(r->level, t))
			r->err = "unknown record type";
		else if (t == r->last)
			r->err = "repeated field";
		else
			r->err = "missing field or record out of order";
		return -1;
	}
	*val = r->p + r->off + REC_HDR;
	*vlen = len;
	r->off += REC_HDR + (size_t)len;
	r->last = t;
	return 0;
}

static int
rb_id(struct rbuf *r, uint8_t type, char *id)
{
	const uint8_t	*v;
	size_t		 len;

	if (rb_next(r, type, &v, &len) == -1)
		return -1;
	if (len != QUEUE_ID_LEN) {
		r->err = "bad queue id";
		return -1;
	}
	memcpy(id, v, QUEUE_ID_LEN);
	id[QUEUE_ID_LEN] = '\0';
	if (!queue_id_valid(id)) {
		id[0] = '\0';
		r->err = "bad queue id";
		return -1;
	}
	return 0;
}

static int
rb_str(struct rbuf *r, uint8_t type, char *dst, size_t size)
{
	const uint8_t	*v;
	size_t		 len, i;

	if (rb_next(r, type, &v, &len) == -1)
		return -1;
	if (len >= size) {
		r->err = "field too long";
		return -1;
	}
	for (i = 0; i < len; i++)
		if (v[i] < 0x20 || v[i] == 0x7f) {
			r->err = "control byte in a string";
			return -1;
		}
	memcpy(dst, v, len);
	dst[len] = '\0';
	return 0;
}

/* A u32 in [0, max]. */
static int
rb_u32(struct rbuf *r, uint8_t type, uint32_t *out, uint32_t max)
{
	const uint8_t	*v;
	size_t		 len;
	uint32_t	 n;

	if (rb_next(r, type, &v, &len) == -1)
		return -1;
	if (len != 4) {
		r->err = "bad field length";
		return -1;
	}
	n = get_le32(v);
	if (n > max) {
		r->err = "value out of range";
		return -1;
	}
	*out = n;
	return 0;
}

/* A u32 of flag bits, all of them in mask. */
static int
rb_mask(struct rbuf *r, uint8_t type, uint32_t *out, uint32_t mask)
{
	uint32_t	 n;

	if (rb_u32(r, type, &n, UINT32_MAX) == -1)
		return -1;
	if ((n & ~mask) != 0) {
		r->err = "unknown flag";
		return -1;
	}
	*out = n;
	return 0;
}

static int
rb_u64(struct rbuf *r, uint8_t type, uint64_t *out)
{
	const uint8_t	*v;
	size_t		 len;

	if (rb_next(r, type, &v, &len) == -1)
		return -1;
	if (len != 8) {
		r->err = "bad field length";
		return -1;
	}
	*out = get_le64(v);
	return 0;
}

static int
rb_i64(struct rbuf *r, uint8_t type, int64_t *out)
{
	uint64_t	 n;

	if (rb_u64(r, type, &n) == -1)
		return -1;
	*out = u64_to_i64(n);
	return 0;
}

static int
rb_bool(struct rbuf *r, uint8_t type, int *out)
{
	const uint8_t	*v;
	size_t		 len;

	if (rb_next(r, type, &v, &len) == -1)
		return -1;
	if (len != 1 || v[0] > 1) {
		r->err = "bad boolean";
		return -1;
	}
	*out = v[0];
	return 0;
}

/* Nothing may follow the last field of a group. */
static int
rb_done(struct rbuf *r)
{
	if (r->off != r->len) {
		if (r->len - r->off >= 1 && type_known(r->level, r->p[r->off]))
			r->err = "repeated field";
		else
			r->err = "unknown record type";
		return -1;
	}
	return 0;
}

static int
decode_rcpt(const uint8_t *p, size_t len, struct env_rcpt *rc,
    const char **errstr)
{
	struct rbuf	 r;
	uint32_t	 v;

	memset(&r, 0, sizeof(r));
	r.p = p;
	r.len = len;
	r.level = LEVEL_RCPT;
	r.last = -1;
	memset(rc, 0, sizeof(*rc));
	if (rb_str(&r, R_ADDRESS, rc->address, sizeof(rc->address)) == -1 ||
	    rb_str(&r, R_ORCPT, rc->orcpt, sizeof(rc->orcpt)) == -1 ||
	    rb_mask(&r, R_NOTIFY, &v, NOTIFY_KNOWN) == -1 ||
	    rb_done(&r) == -1) {
		*errstr = r.err;
		return -1;
	}
	rc->notify = v;
	return 0;
}

static int
decode_dest(const uint8_t *p, size_t len, size_t nrcpts, struct env_dest *d,
    const char **errstr)
{
	struct rbuf	 r;
	uint32_t	 kind, state;

	memset(&r, 0, sizeof(r));
	r.p = p;
	r.len = len;
	r.level = LEVEL_DEST;
	r.last = -1;
	memset(d, 0, sizeof(*d));
	if (rb_u32(&r, D_RCPT, &d->rcpt, UINT32_MAX) == -1)
		goto fail;
	if (d->rcpt >= nrcpts) {
		r.err = "destination of a recipient that does not exist";
		goto fail;
	}
	if (rb_u32(&r, D_KIND, &kind, DEST_RELAY) == -1 ||
	    rb_str(&r, D_ADDRESS, d->address, sizeof(d->address)) == -1 ||
	    rb_str(&r, D_MAILBOX, d->mailbox, sizeof(d->mailbox)) == -1 ||
	    rb_u64(&r, D_QUOTA_BYTES, &d->quota_bytes) == -1 ||
	    rb_u64(&r, D_QUOTA_MESSAGES, &d->quota_messages) == -1 ||
	    rb_u32(&r, D_STATE, &state, DEST_FAILED) == -1 ||
	    rb_u32(&r, D_ATTEMPTS, &d->attempts, UINT32_MAX) == -1 ||
	    rb_i64(&r, D_NEXT_TRY, &d->next_try) == -1 ||
	    rb_str(&r, D_ERROR, d->error, sizeof(d->error)) == -1 ||
	    rb_done(&r) == -1)
		goto fail;
	d->kind = kind == DEST_RELAY ? DEST_RELAY : DEST_MAILBOX;
	d->state = state == DEST_DONE ? DEST_DONE :
	    state == DEST_FAILED ? DEST_FAILED : DEST_PENDING;
	return 0;
 fail:
	*errstr = r.err;
	return -1;
}

/* Everything between the magic and END. */
static int
decode_body(struct rbuf *r, struct envelope *env, int version)
{
	const uint8_t	*v;
	size_t		 len;
	uint64_t	 created;
	uint32_t	 body, ret;
	const char	*err;
	int		 t;

	if (rb_id(r, T_ID, env->id) == -1 ||
	    rb_u64(r, T_CREATED, &created) == -1 ||
	    rb_mask(r, T_FLAGS, &env->flags, ENV_F_KNOWN) == -1 ||
	    rb_str(r, T_SENDER, env->sender, sizeof(env->sender)) == -1 ||
	    rb_str(r, T_HELO, env->helo, sizeof(env->helo)) == -1 ||
	    rb_str(r, T_CLIENT, env->client, sizeof(env->client)) == -1 ||
	    rb_str(r, T_TLS, env->tls, sizeof(env->tls)) == -1 ||
	    rb_str(r, T_AUTH, env->auth, sizeof(env->auth)) == -1 ||
	    rb_u32(r, T_BODY, &body, SMTP_BODY_BINARYMIME) == -1 ||
	    rb_u32(r, T_RET, &ret, SMTP_RET_HDRS) == -1 ||
	    rb_bool(r, T_SMTPUTF8, &env->smtputf8) == -1 ||
	    rb_bool(r, T_REQUIRETLS, &env->requiretls) == -1 ||
	    rb_str(r, T_ENVID, env->envid, sizeof(env->envid)) == -1 ||
	    rb_u64(r, T_SIZE, &env->size) == -1)
		return -1;
	if (version >= 2 &&
	    (rb_str(r, T_SCANNER, env->scanner, sizeof(env->scanner)) == -1 ||
	    rb_str(r, T_VIRUS, env->virus, sizeof(env->virus)) == -1))
		return -1;
	env->created = u64_to_i64(created);
	env->body = body;
	env->ret = ret;

	while (r->off < r->len) {
		t = r->p[r->off];
		if (t == T_RCPT && env->ndests == 0) {
			if (env->nrcpts >= ENV_MAX_RCPTS) {
				r->err = "too many recipients";
				return -1;
			}
			if (rb_next(r, T_RCPT, &v, &len) == -1)
				return -1;
			env->rcpts = array_grow(env->rcpts, env->nrcpts,
			    sizeof(*env->rcpts), ENV_MAX_RCPTS);
			if (decode_rcpt(v, len, &env->rcpts[env->nrcpts],
			    &err) == -1) {
				r->err = err;
				return -1;
			}
			env->nrcpts++;
		} else if (t == T_DEST && env->nrcpts > 0) {
			if (env->ndests >= ENV_MAX_DESTS) {
				r->err = "too many destinations";
				return -1;
			}
			if (rb_next(r, T_DEST, &v, &len) == -1)
				return -1;
			env->dests = array_grow(env->dests, env->ndests,
			    sizeof(*env->dests), ENV_MAX_DESTS);
			if (decode_dest(v, len, env->nrcpts,
			    &env->dests[env->ndests], &err) == -1) {
				r->err = err;
				return -1;
			}
			env->ndests++;
		} else {
			if (t == T_END)
				r->err = "bytes after END";
			else if (t == T_RCPT)
				r->err = "recipient after a destination";
			else if (t == T_DEST)
				r->err = "destination before any recipient";
			else if (type_known(LEVEL_TOP, t))
				r->err = "repeated field";
			else
				r->err = "unknown record type";
			return -1;
		}
	}
	if (env->nrcpts == 0) {
		r->err = "no recipient";
		return -1;
	}
	return 0;
}

int
envelope_decode(const uint8_t *p, size_t len, struct envelope *env,
    const char **errstr)
{
	struct rbuf	 r;
	const uint8_t	*end;
	const char	*dummy;
	int		 version = 2;

	if (errstr == NULL)
		errstr = &dummy;
	*errstr = NULL;
	envelope_init(env);
	if (len > ENV_MAX_FILE) {
		*errstr = "envelope too large";
		return -1;
	}
	if (len >= ENV_MAGIC_LEN && memcmp(p, ENV_MAGIC_V1,
	    ENV_MAGIC_LEN) == 0)
		version = 1;
	else if (len < ENV_MAGIC_LEN ||
	    memcmp(p, ENV_MAGIC, ENV_MAGIC_LEN) != 0) {
		*errstr = len < ENV_MAGIC_LEN ? "truncated envelope" :
		    "bad magic";
		return -1;
	}
	if (len < ENV_MAGIC_LEN + END_LEN) {
		*errstr = "truncated envelope";
		return -1;
	}
	end = p + len - END_LEN;
	if (end[0] != T_END || get_le32(end + 1) != 8) {
		*errstr = "no END record: truncated or damaged envelope";
		return -1;
	}
	if (get_le64(end + REC_HDR) != fnv1a64(p, len - END_LEN)) {
		*errstr = "bad checksum";
		return -1;
	}

	memset(&r, 0, sizeof(r));
	r.p = p + ENV_MAGIC_LEN;
	r.len = len - ENV_MAGIC_LEN - END_LEN;
	r.level = LEVEL_TOP;
	r.last = -1;
	if (decode_body(&r, env, version) == -1) {
		envelope_clear(env);
		*errstr = r.err;
		return -1;
	}
	return 0;
}
