/*
 * File tables, from the parent's side: root owns them.
 *
 * Changes made by hand are noticed by a fingerprint of the files (device,
 * inode, size, modification time), which the parent compares every few
 * seconds; authd then gets the tables again, as after a reload.
 *
 * Changes to file tables, made by the parent when
 * osmsctl asks authd for one. A line is replaced, added or removed; every
 * other line, comments included, stays as it was. The new file is
 * written beside the old one, with its owner and mode, fsync'd and
 * renamed over it, so a reader sees the old file or the new, whole.
 */
#include <sys/stat.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "osms_imsg.h"
#include "osmsd.h"
#include "util.h"

#define TABLE_EDIT_MAX_FILE	(64 * 1024 * 1024)

/* The key of a line as authd reads it: first word, a trailing ':' off. */
static int
line_key_is(const char *line, size_t len, const char *key)
{
	size_t	 i = 0, start, klen;

	while (i < len && (line[i] == ' ' || line[i] == '\t'))
		i++;
	if (i == len || line[i] == '#')
		return 0;
	start = i;
	while (i < len && line[i] != ' ' && line[i] != '\t' &&
	    line[i] != '\r')
		i++;
	klen = i - start;
	if (klen > 1 && line[start + klen - 1] == ':')
		klen--;
	return klen == strlen(key) &&
	    strncasecmp(line + start, key, klen) == 0;
}

static int
edit_err(char *err, size_t errsize, const char *what, const char *path)
{
	(void)snprintf(err, errsize, "%s %s: %s", what, path, strerror(errno));
	return -1;
}

int
table_file_edit(const char *path, uint32_t op, const char *key,
    const char *value, char *err, size_t errsize)
{
	struct stat	 st;
	char		 tmp[CONF_MAX_PATH + 16], dir[CONF_MAX_PATH];
	char		*buf = NULL, *out = NULL, *line, *nl;
	size_t		 len = 0, outlen = 0, i;
	ssize_t		 n;
	int		 fd = -1, dfd = -1, done = 0, rc = -1;

	/* A key is one word, a value one line: nothing can be injected. */
	if (key[0] == '\0' || key[0] == '#' || strlen(key) > 1000 ||
	    str_has_ctl(key) || strpbrk(key, " \t") != NULL ||
	    str_has_ctl(value) || (op == TABLE_EDIT_SET && value[0] == '\0') ||
	    (op != TABLE_EDIT_SET && op != TABLE_EDIT_DEL)) {
		(void)osms_strlcpy(err, "invalid key or value", errsize);
		return -1;
	}
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1)
		return edit_err(err, errsize, "open", path);
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_size > TABLE_EDIT_MAX_FILE) {
		(void)close(fd);
		(void)snprintf(err, errsize, "%s is not a regular file of at"
		    " most 64 MB", path);
		return -1;
	}
	buf = xmalloc((size_t)st.st_size + 1);
	while (len < (size_t)st.st_size) {
		if ((n = read(fd, buf + len, (size_t)st.st_size - len)) == -1 &&
		    errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	(void)close(fd);
	fd = -1;
	buf[len] = '\0';

	out = xmalloc(len + strlen(key) + strlen(value) + 4);
	for (line = buf; line < buf + len; line = nl) {
		size_t	 llen;

		nl = memchr(line, '\n', (size_t)(buf + len - line));
		nl = nl != NULL ? nl + 1 : buf + len;
		llen = (size_t)(nl - line);
		if (line_key_is(line, llen, key)) {
			if (op == TABLE_EDIT_DEL || done) {
				done = 1;
				continue;	/* removed, or a later repeat */
			}
			outlen += (size_t)sprintf(out + outlen, "%s %s\n", key,
			    value);
			done = 1;
			continue;
		}
		memcpy(out + outlen, line, llen);
		outlen += llen;
	}
	if (!done && op == TABLE_EDIT_DEL) {
		(void)snprintf(err, errsize, "%s is not in the table", key);
		goto out;
	}
	if (!done) {
		if (outlen > 0 && out[outlen - 1] != '\n')
			out[outlen++] = '\n';
		outlen += (size_t)sprintf(out + outlen, "%s %s\n", key, value);
	}

	(void)osms_strlcpy(dir, path, sizeof(dir));
	if (osms_snprintf(tmp, sizeof(tmp), "%s.osms-new", path) == -1) {
		(void)osms_strlcpy(err, "path too long", errsize);
		goto out;
	}
	(void)unlink(tmp);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, st.st_mode & 07777)) == -1) {
		edit_err(err, errsize, "create", tmp);
		goto out;
	}
	if (fchown(fd, st.st_uid, st.st_gid) == -1 ||
	    fchmod(fd, st.st_mode & 07777) == -1 ||
	    write_all(fd, out, outlen) == -1 || fsync(fd) == -1) {
		edit_err(err, errsize, "write", tmp);
		(void)unlink(tmp);
		goto out;
	}
	if (rename(tmp, path) == -1) {
		edit_err(err, errsize, "rename to", path);
		(void)unlink(tmp);
		goto out;
	}
	if ((dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) !=
	    -1) {
		(void)fsync(dfd);
		(void)close(dfd);
	}
	rc = 0;
out:
	if (fd != -1)
		(void)close(fd);
	for (i = 0; out != NULL && i < outlen; i++)
		out[i] = '\0';
	free(out);
	explicit_wipe(buf, len);
	free(buf);
	return rc;
}

/* FNV-1a over the bytes of v. */
static uint64_t
fp_mix(uint64_t h, const void *v, size_t len)
{
	const unsigned char	*p = v;

	while (len-- > 0) {
		h ^= *p++;
		h *= 0x100000001b3ULL;
	}
	return h;
}

uint64_t
tables_fingerprint(const struct osms_conf *conf)
{
	const struct conf_table	*t;
	struct stat		 st;
	uint64_t		 h = 0xcbf29ce484222325ULL;

	TAILQ_FOREACH(t, &conf->tables, entry) {
		if (t->backend != TABLE_FILE)
			continue;
		if (stat(t->source, &st) == -1)
			memset(&st, 0, sizeof(st)); /* gone: a change too */
		h = fp_mix(h, &st.st_dev, sizeof(st.st_dev));
		h = fp_mix(h, &st.st_ino, sizeof(st.st_ino));
		h = fp_mix(h, &st.st_size, sizeof(st.st_size));
		h = fp_mix(h, &st.st_mtim, sizeof(st.st_mtim));
	}
	return h;
}
