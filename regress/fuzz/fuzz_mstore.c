/*
 * libFuzzer target for what lib/mail/mstore.c reads from disk: files
 * anyone with the store's uid may have written. The first byte picks:
 *	0: a Maildir file name. Oracle: a name whose info is canonical is
 *	   exactly its key and mstore_fmt_info() of what was parsed; sizes
 *	   taken are sane.
 *	1: osms-uidlist lines. Oracle: what parses renders back to the
 *	   same bytes (one spelling per line).
 *	2: osms-index header and records. Oracle: the same, byte for byte.
 *	3: osms-cache, as a stream of records. Oracle: the same.
 *	4: osms-keywords lines. Oracle: the same.
 *	5: folder names. Oracle: the canonical name is valid, its own
 *	   canonical name, and differs at most in the case of "INBOX".
 *	6: a whole folder: the input makes osms-uidlist, osms-index,
 *	   osms-keywords, osms-cache and files in new/ and cur/ of a store
 *	   in a tmpfs directory, which is opened, synced, stored into and
 *	   opened again. Oracle: UIDs ascending and below UIDNEXT, MODSEQs
 *	   at most HIGHESTMODSEQ, and every message keeps its UID across
 *	   the second open.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "mstore.h"
#include "util.h"

int	 LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Split at LFs; each line (without it) to fn. */
static void
each_line(const uint8_t *data, size_t size,
    void (*fn)(const char *, size_t, int))
{
	const uint8_t	*p = data, *nl, *end = data + size;
	int		 first = 1;

	while (p < end) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		fn((const char *)p, (size_t)(nl - p), first);
		first = 0;
		p = nl + 1;
	}
}

static void
fuzz_fname(const uint8_t *data, size_t size)
{
	struct mstore_fname	 fn, fn2;
	char			 name[300], info[64];
	const char		*colon;
	size_t			 len;
	int			 n;

	if (size >= sizeof(name))
		return;
	memcpy(name, data, size);
	name[size] = '\0';
	len = strlen(name);
	if (mstore_fmt_fname(name, &fn) == -1)
		return;
	if (fn.keylen == 0 || fn.keylen > len || len > 255 ||
	    name[0] == '.' || memchr(name, '/', len) != NULL ||
	    memchr(name, ':', fn.keylen) != NULL)
		abort();
	if (fn.sizes && (fn.wire_size < fn.size ||
	    fn.wire_size - fn.size > fn.size))
		abort();
	if ((fn.keywords >> MSTORE_KEYWORDS) != 0 ||
	    (fn.flags & ~(unsigned)MBOX_FLAGS_KEPT) != 0)
		abort();
	if ((n = mstore_fmt_info(info, sizeof(info), fn.flags,
	    fn.keywords)) == -1)
		abort();
	colon = fn.keylen < len ? name + fn.keylen : NULL;
	if (fn.canonical && (colon == NULL || strcmp(colon, info) != 0))
		abort();
	/* What mstore_fmt_info makes parses back to the same. */
	if (fn.keylen + (size_t)n <= 255) {
		memcpy(name + fn.keylen, info, (size_t)n + 1);
		if (mstore_fmt_fname(name, &fn2) == -1 || !fn2.canonical ||
		    fn2.flags != fn.flags || fn2.keywords != fn.keywords ||
		    fn2.keylen != fn.keylen || fn2.sizes != fn.sizes)
			abort();
	}
}

static void
ul_line(const char *line, size_t len, int first)
{
	char		 out[MSTORE_UL_LINE_MAX + 64];
	const char	*key;
	size_t		 keylen;
	uint64_t	 token;
	uint32_t	 uv, next, uid;
	int		 n;

	if (first && mstore_fmt_ul_header(line, len, &uv, &next, &token) ==
	    0) {
		n = snprintf(out, sizeof(out), "osms-uidlist 1 %u %u %llx",
		    uv, next, (unsigned long long)token);
		if ((size_t)n != len || memcmp(out, line, len) != 0 ||
		    uv == 0 || next == 0)
			abort();
		return;
	}
	if (mstore_fmt_ul_line(line, len, &uid, &key, &keylen) == -1)
		return;
	if (uid == 0 || uid == UINT32_MAX)
		abort();
	if (key == NULL)
		n = snprintf(out, sizeof(out), "-%u", uid);
	else {
		if (keylen == 0 || keylen > 255 || key[0] == '.' ||
		    memchr(key, '/', keylen) != NULL ||
		    memchr(key, ':', keylen) != NULL ||
		    memchr(key, '\0', keylen) != NULL)
			abort();
		n = snprintf(out, sizeof(out), "%u %.*s", uid, (int)keylen,
		    key);
	}
	if ((size_t)n != len || memcmp(out, line, len) != 0)
		abort();
}

static void
fuzz_index(const uint8_t *data, size_t size)
{
	struct mstore_ix_header	 h;
	struct mstore_ix_rec	 r;
	unsigned char		 out[MSTORE_IX_HDR];
	size_t			 off;

	if (size >= MSTORE_IX_HDR &&
	    mstore_fmt_ix_header_get(data, &h) == 0) {
		mstore_fmt_ix_header_put(out, &h);
		if (memcmp(out, data, MSTORE_IX_HDR) != 0)
			abort();
	}
	for (off = 0; off + MSTORE_IX_REC <= size; off += MSTORE_IX_REC) {
		if (mstore_fmt_ix_rec_get(data + off, &r) == -1)
			continue;
		if (r.uid == 0 || r.modseq == 0 || r.wire_size < r.size ||
		    r.wire_size - r.size > r.size)
			abort();
		mstore_fmt_ix_rec_put(out, &r);
		if (memcmp(out, data + off, MSTORE_IX_REC) != 0)
			abort();
	}
}

static void
fuzz_cache(const uint8_t *data, size_t size)
{
	static unsigned char	 out[MSTORE_CACHE_RECHDR +
				    MSTORE_CACHE_REC_MAX];
	const unsigned char	*d;
	size_t			 off = MSTORE_CACHE_HDR, dlen;
	uint32_t		 uv, uid;
	long			 n;
	int			 field;

	if (mstore_fmt_cache_header_get(data, size, &uv) == -1)
		off = 0;
	else {
		mstore_fmt_cache_header_put(out, uv);
		if (memcmp(out, data, MSTORE_CACHE_HDR) != 0)
			abort();
	}
	while (off < size) {
		n = mstore_fmt_cache_rec_get(data + off, size - off, &uid,
		    &field, &d, &dlen);
		if (n <= 0)
			break;
		if ((size_t)n != MSTORE_CACHE_RECHDR + dlen ||
		    (size_t)n > size - off || field < 1 ||
		    field > MBOX_CACHE_FIELDS || dlen > MSTORE_CACHE_REC_MAX ||
		    d != data + off + MSTORE_CACHE_RECHDR)
			abort();
		if (mstore_fmt_cache_rec_put(out, uid, field, d, dlen) !=
		    (size_t)n || memcmp(out, data + off, (size_t)n) != 0)
			abort();
		off += (size_t)n;
	}
}

static void
kw_line(const char *line, size_t len, int first)
{
	char		 out[MSTORE_KEYWORD_MAX + 8];
	const char	*kw;
	size_t		 kwlen;
	unsigned	 bit;
	int		 n;

	(void)first;
	if (mstore_fmt_kw_line(line, len, &bit, &kw, &kwlen) == -1)
		return;
	if (bit >= MSTORE_KEYWORDS || kwlen == 0 ||
	    kwlen > MSTORE_KEYWORD_MAX || !mstore_keyword_valid(kw, kwlen))
		abort();
	n = snprintf(out, sizeof(out), "%c %.*s", 'a' + bit, (int)kwlen, kw);
	if ((size_t)n != len || memcmp(out, line, len) != 0)
		abort();
}

static void
fuzz_name(const uint8_t *data, size_t size)
{
	char	 name[MSTORE_NAME_MAX + 64], canon[MSTORE_NAME_MAX + 1];
	char	 canon2[MSTORE_NAME_MAX + 1];
	size_t	 len, i;

	if (size >= sizeof(name))
		return;
	memcpy(name, data, size);
	name[size] = '\0';
	if (!mstore_name_valid(name, canon, sizeof(canon)))
		return;
	len = strlen(name);
	if (len == 0 || len > MSTORE_NAME_MAX || strlen(canon) != len ||
	    name[0] == '.' || name[len - 1] == '.' ||
	    strstr(name, "..") != NULL || strpbrk(name, "/%*") != NULL)
		abort();
	for (i = 0; i < len; i++)
		if ((unsigned char)name[i] < 0x20 ||
		    (unsigned char)name[i] > 0x7e)
			abort();
	if (strcmp(canon, name) != 0 && (strncasecmp(name, "INBOX", 5) != 0 ||
	    strcmp(canon + 5, name + 5) != 0))
		abort();
	if (!mstore_name_valid(canon, canon2, sizeof(canon2)) ||
	    strcmp(canon, canon2) != 0)
		abort();
}

/* ---- a whole folder ---- */

static char	 dir[] = "/dev/shm/fuzz-mstore.XXXXXX";
static int	 dirfd_ = -1;

static void
clean_sub(const char *sub)
{
	DIR		*dp;
	struct dirent	*de;
	int		 fd;

	if ((fd = openat(dirfd_, sub, O_RDONLY | O_DIRECTORY)) == -1)
		return;
	if ((dp = fdopendir(fd)) == NULL)
		abort();
	while ((de = readdir(dp)) != NULL)
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0)
			(void)unlinkat(fd, de->d_name, 0);
	(void)closedir(dp);
}

static void
put(const char *name, const uint8_t *p, size_t len)
{
	int	 fd;

	if ((fd = openat(dirfd_, name, O_WRONLY | O_CREAT | O_TRUNC, 0600)) ==
	    -1)
		return;
	if (len > 0 && write(fd, p, len) != (ssize_t)len)
		abort();
	(void)close(fd);
}

static size_t
take(const uint8_t **pp, size_t *left)
{
	size_t	 n;

	if (*left < 2)
		return 0;
	n = ((size_t)(*pp)[0] << 8 | (*pp)[1]);
	*pp += 2;
	*left -= 2;
	return n < *left ? n : *left;
}

static void
check_view(struct mbox *mb)
{
	const struct mbox_msg	*m, *prev = NULL;
	size_t			 i;

	for (i = 0; i < mbox_count(mb); i++) {
		m = mbox_msg(mb, i);
		if (m->uid == 0 || m->uid >= mbox_uidnext(mb) ||
		    (prev != NULL && m->uid <= prev->uid) ||
		    m->modseq == 0 || m->modseq > mbox_highestmodseq(mb) ||
		    m->wire_size < m->size || mbox_find_uid(mb, m->uid) != i)
			abort();
		prev = m;
	}
}

static void
fuzz_folder(const uint8_t *data, size_t size)
{
	static const char	*files[] = {
		"osms-uidlist", "osms-index", "osms-keywords", "osms-cache",
	};
	struct mstore_limits	 lim;
	struct mstore		*st;
	struct mbox		*mb;
	char			 name[300];
	const uint8_t		*p = data, *nl, *end;
	const void		*d;
	size_t			 left = size, n, i, dl, count;
	uint32_t		*uids;
	int			 fd;

	if (dirfd_ == -1) {
		if (mkdtemp(dir) == NULL ||
		    (dirfd_ = open(dir, O_RDONLY | O_DIRECTORY)) == -1)
			abort();
	}
	clean_sub("cur");
	clean_sub("new");
	clean_sub("tmp");
	clean_sub(".");
	for (i = 0; i < 4; i++) {
		n = take(&p, &left);
		put(files[i], p, n);
		p += n;
		left -= n;
	}
	(void)mkdirat(dirfd_, "cur", 0700);
	(void)mkdirat(dirfd_, "new", 0700);
	(void)mkdirat(dirfd_, "tmp", 0700);
	/* The rest: file names, one a line; odd first byte: new/. */
	end = p + left;
	for (i = 0; p < end && i < 64; i++, p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		n = (size_t)(nl - p);
		if (n > 1 && n < 250 && memchr(p + 1, '/', n - 1) == NULL &&
		    memchr(p + 1, '\0', n - 1) == NULL) {
			(void)snprintf(name, sizeof(name), "%s/%.*s",
			    (p[0] & 1) ? "new" : "cur", (int)(n - 1),
			    (const char *)p + 1);
			if (strcmp(name + 4, ".") != 0 &&
			    strcmp(name + 4, "..") != 0)
				put(name, (const uint8_t *)"x\ny\n", 4);
		}
		if (nl == end)
			break;
	}

	memset(&lim, 0, sizeof(lim));
	lim.max_messages_per_folder = 40;
	if ((st = mstore_open(dirfd_, &lim, NULL)) == NULL)
		abort();
	if ((mb = mbox_open(st, "INBOX", 0, NULL)) == NULL) {
		mstore_close(st);
		return;
	}
	check_view(mb);
	count = mbox_count(mb);
	uids = calloc(count + 1, sizeof(*uids));
	for (i = 0; i < count; i++) {
		uids[i] = mbox_msg(mb, i)->uid;
		(void)mbox_cache_get(mb, uids[i], 1, &d, &dl);
		(void)mbox_cache_put(mb, uids[i], 1, "e", 1);
		if ((fd = mbox_open_message(mb, i)) != -1)
			(void)close(fd);
	}
	if (count > 0)
		(void)mbox_store(mb, (size_t[]){ 0 }, 1, MBOX_FLAGS_ADD,
		    MBOX_SEEN, 1, 0, NULL, NULL, NULL);
	if (mbox_sync(mb, NULL, NULL) == 0)
		check_view(mb);
	for (i = 0; i < MSTORE_KEYWORDS; i++)
		(void)mbox_keyword_name(mb, (unsigned)i);
	mbox_close(mb);

	/* Again: the same UIDs for the same messages. */
	if ((mb = mbox_open(st, "INBOX", 1, NULL)) == NULL)
		abort();
	check_view(mb);
	if (mbox_count(mb) != count)
		abort();
	for (i = 0; i < count; i++)
		if (mbox_msg(mb, i)->uid != uids[i])
			abort();
	free(uids);
	mbox_close(mb);
	mstore_close(st);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	switch (data[0] % 7) {
	case 0:
		fuzz_fname(data + 1, size - 1);
		break;
	case 1:
		each_line(data + 1, size - 1, ul_line);
		break;
	case 2:
		fuzz_index(data + 1, size - 1);
		break;
	case 3:
		fuzz_cache(data + 1, size - 1);
		break;
	case 4:
		each_line(data + 1, size - 1, kw_line);
		break;
	case 5:
		fuzz_name(data + 1, size - 1);
		break;
	default:
		if (size < 64 * 1024)
			fuzz_folder(data + 1, size - 1);
		break;
	}
	return 0;
}
