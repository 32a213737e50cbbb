/*
 * cryptod: the certificate store kept in the directory's PostgreSQL
 * database (crypt_store), with the store directory as this host's copy.
 *
 * Every few seconds cryptod asks authd (which holds the database
 * password) for the rows changed since the last version it has, and
 * writes them into the directory; then it sends back what changed in
 * the directory since the last round (certificates harvested or issued
 * here, files osmsctl or an administrator put or removed). What was
 * last agreed on is the manifest, .sync in the store: a file's name,
 * content hash and identity (inode, size, time). The database wins when
 * both changed. A directory without a PostgreSQL table keeps the store
 * in files alone, as before.
 *
 * Private keys travel as they are in the store: encrypted with the
 * master key when there is one (every host of one store needs the same
 * master key). audit.log is not synced: its lines go to crypt_audit.
 */
#include <sys/stat.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "channel.h"
#include "conf.h"
#include "cryptod.h"
#include "imsg.h"
#include "log.h"
#include "msg.h"
#include "osms_imsg.h"
#include "proc.h"
#include "util.h"

#define SYNC_INTERVAL	5		/* seconds between two rounds */
#define SYNC_MANIFEST	".sync"
#define SYNC_MAX_FILES	100000
#define SYNC_MAX_NAME	300
#define SYNC_HARVESTED	"harvested/"

struct synced {
	char		 name[SYNC_MAX_NAME];	/* "x.pem", "harvested/y.pem" */
	unsigned char	 hash[32];		/* SHA-256 of the content */
	ino_t		 ino;
	off_t		 size;
	time_t		 mtime;
	long		 mtime_ns;
};

static struct synced	*files;		/* the manifest, sorted by name */
static size_t		 nfiles, capfiles;
static uint64_t		 version;	/* the last row applied */
static int		 enabled, busy, loaded;
static int		 dirty;		/* the manifest is to be saved */
static time_t		 last_round;
static unsigned long	 npulled, npushed;

/* A store file that travels: a certificate, key or marker of the store
 * or of harvested/, not a dot file (the manifest, files being written),
 * not audit.log. */
static int
sync_name_ok(const char *name)
{
	const char	*base = name;

	if (strncmp(name, SYNC_HARVESTED, strlen(SYNC_HARVESTED)) == 0)
		base = name + strlen(SYNC_HARVESTED);
	return strlen(name) < SYNC_MAX_NAME && store_name_ok(base) &&
	    strcmp(name, "audit.log") != 0 && strstr(base, "..") == NULL;
}

static int
by_name(const void *a, const void *b)
{
	return strcmp(((const struct synced *)a)->name,
	    ((const struct synced *)b)->name);
}

static struct synced *
find(const char *name)
{
	struct synced	 key;

	memset(&key, 0, sizeof(key));
	if (osms_strlcpy(key.name, name, sizeof(key.name)) >= sizeof(key.name))
		return NULL;
	return nfiles == 0 ? NULL : bsearch(&key, files, nfiles,
	    sizeof(*files), by_name);
}

static struct synced *
add(const char *name)
{
	struct synced	*f;
	size_t		 i;

	if ((f = find(name)) != NULL)
		return f;
	if (nfiles == capfiles) {
		capfiles = capfiles ? capfiles * 2 : 64;
		files = xreallocarray(files, capfiles, sizeof(*files));
	}
	for (i = nfiles; i > 0 && strcmp(files[i - 1].name, name) > 0; i--)
		;
	memmove(&files[i + 1], &files[i], (nfiles - i) * sizeof(*files));
	nfiles++;
	memset(&files[i], 0, sizeof(files[i]));
	(void)osms_strlcpy(files[i].name, name, sizeof(files[i].name));
	dirty = 1;
	return &files[i];
}

static void
drop(struct synced *f)
{
	size_t	 i = (size_t)(f - files);

	memmove(&files[i], &files[i + 1], (nfiles - i - 1) * sizeof(*files));
	nfiles--;
	dirty = 1;
}

static void
hash(const void *data, size_t len, unsigned char out[32])
{
	unsigned int	 n = 32;

	if (EVP_Digest(data, len, out, &n, EVP_sha256(), NULL) != 1)
		memset(out, 0, 32);
}

static void
note_stat(struct synced *f, const struct stat *st)
{
	f->ino = st->st_ino;
	f->size = st->st_size;
	f->mtime = st->st_mtim.tv_sec;
	f->mtime_ns = st->st_mtim.tv_nsec;
	dirty = 1;
}

static int
same_stat(const struct synced *f, const struct stat *st)
{
	return f->ino == st->st_ino && f->size == st->st_size &&
	    f->mtime == st->st_mtim.tv_sec && f->mtime_ns == st->st_mtim.tv_nsec;
}

/*
 * The manifest on disk: "osms-store-sync 1 VERSION", then a line a
 * file, "HASH INODE SIZE SECONDS NANOSECONDS NAME".
 */
static void
manifest_load(void)
{
	char			 path[CONF_MAX_PATH + 16], line[SYNC_MAX_NAME + 200];
	char			 hex[65], name[SYNC_MAX_NAME];
	unsigned long long	 v, ino, size, ns;
	long long		 sec;
	struct synced		*f;
	FILE			*fp;
	size_t			 i;
	unsigned		 byte;

	loaded = 1;
	nfiles = 0;
	version = 0;
	dirty = 1;
	(void)snprintf(path, sizeof(path), "%s/" SYNC_MANIFEST, store_dir());
	if ((fp = fopen(path, "r")) == NULL)
		return;		/* the first round: every row, every file */
	if (fgets(line, sizeof(line), fp) == NULL ||
	    sscanf(line, "osms-store-sync 1 %llu", &v) != 1) {
		log_warnx("cryptod: %s: not a manifest; starting anew", path);
		(void)fclose(fp);
		return;
	}
	while (fgets(line, sizeof(line), fp) != NULL && nfiles < SYNC_MAX_FILES) {
		if (sscanf(line, "%64s %llu %llu %lld %llu %299s", hex, &ino,
		    &size, &sec, &ns, name) != 6 || strlen(hex) != 64 ||
		    !sync_name_ok(name))
			continue;
		f = add(name);
		for (i = 0; i < 32; i++) {
			if (sscanf(hex + 2 * i, "%2x", &byte) != 1)
				break;
			f->hash[i] = (unsigned char)byte;
		}
		f->ino = (ino_t)ino;
		f->size = (off_t)size;
		f->mtime = (time_t)sec;
		f->mtime_ns = (long)ns;
	}
	(void)fclose(fp);
	version = v;
	dirty = 0;
}

static void
manifest_save(void)
{
	char	 path[CONF_MAX_PATH + 16], tmp[CONF_MAX_PATH + 24];
	FILE	*fp;
	size_t	 i, k;
	int	 fd, ok;

	(void)snprintf(path, sizeof(path), "%s/" SYNC_MANIFEST, store_dir());
	(void)snprintf(tmp, sizeof(tmp), "%s/" SYNC_MANIFEST ".tmp",
	    store_dir());
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW |
	    O_CLOEXEC, 0600)) == -1 || (fp = fdopen(fd, "w")) == NULL) {
		log_warn("cryptod: %s", tmp);
		if (fd != -1)
			(void)close(fd);
		return;
	}
	ok = fprintf(fp, "osms-store-sync 1 %llu\n",
	    (unsigned long long)version) > 0;
	for (i = 0; ok && i < nfiles; i++) {
		for (k = 0; k < 32; k++)
			(void)fprintf(fp, "%02x", files[i].hash[k]);
		ok = fprintf(fp, " %llu %llu %lld %ld %s\n",
		    (unsigned long long)files[i].ino,
		    (unsigned long long)files[i].size,
		    (long long)files[i].mtime, files[i].mtime_ns,
		    files[i].name) > 0;
	}
	if (fflush(fp) != 0 || fsync(fileno(fp)) == -1)
		ok = 0;
	if (fclose(fp) != 0 || !ok || rename(tmp, path) == -1) {
		log_warn("cryptod: %s", path);
		(void)unlink(tmp);
		return;
	}
	dirty = 0;
}

/* The whole content of a store file (at most STORE_MAX_FILE): its
 * length, or -1. */
static ssize_t
read_file(const char *path, unsigned char *buf, struct stat *st)
{
	ssize_t	 n, got = 0;
	int	 fd;

	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1)
		return -1;
	if (fstat(fd, st) == -1 || !S_ISREG(st->st_mode) ||
	    st->st_size > STORE_MAX_FILE) {
		(void)close(fd);
		return -1;
	}
	while (got < STORE_MAX_FILE && (n = read(fd, buf + got,
	    (size_t)(STORE_MAX_FILE - got))) > 0)
		got += n;
	(void)close(fd);
	return got;
}

/* A row into the directory: written aside, fsync'd, renamed. */
static int
write_file(const char *name, const void *data, size_t len, struct stat *st)
{
	char	 path[CONF_MAX_PATH + SYNC_MAX_NAME + 2];
	char	 tmp[CONF_MAX_PATH + SYNC_MAX_NAME + 16];
	char	*slash;
	int	 fd;

	(void)snprintf(path, sizeof(path), "%s/%s", store_dir(), name);
	(void)snprintf(tmp, sizeof(tmp), "%s", path);
	slash = strrchr(tmp, '/');
	(void)snprintf(slash + 1, sizeof(tmp) - (size_t)(slash + 1 - tmp),
	    ".%s.sync", strrchr(path, '/') + 1);
	if (strncmp(name, SYNC_HARVESTED, strlen(SYNC_HARVESTED)) == 0) {
		char	 sub[CONF_MAX_PATH + 16];

		(void)snprintf(sub, sizeof(sub), "%s/harvested", store_dir());
		if (mkdir(sub, 0700) == -1 && errno != EEXIST)
			return -1;
	}
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW |
	    O_CLOEXEC, 0600)) == -1)
		return -1;
	if (write_all(fd, data, len) == -1 || fsync(fd) == -1 ||
	    fstat(fd, st) == -1 || close(fd) == -1 || rename(tmp, path) == -1) {
		(void)unlink(tmp);
		return -1;
	}
	return 0;
}

static void
ask(void)
{
	struct channel	*ch = proc_peer(ROLE_AUTHD);
	struct msg	 m;

	if (ch == NULL)
		return;
	msg_init(&m, IMSG_AUTH_STORE_SINCE, 0);
	msg_add_u64(&m, version);
	if (channel_send(ch, &m) == 0)
		busy = 1;
}

void
storesync_tick(void)
{
	time_t	 now = time(NULL);

	if (!enabled || busy || now - last_round < SYNC_INTERVAL ||
	    store_dir()[0] == '\0')
		return;
	if (!loaded)
		manifest_load();
	ask();
}

void
storesync_row(struct channel *ch, struct imsg *imsg)
{
	struct msg_reader	 r;
	char			 name[SYNC_MAX_NAME];
	char			 path[CONF_MAX_PATH + SYNC_MAX_NAME + 2];
	unsigned char		 sum[32], *old;
	const void		*data;
	struct synced		*f;
	struct stat		 st;
	size_t			 len;
	ssize_t			 n;
	uint32_t		 removed;
	uint64_t		 v;

	msg_reader_init(&r, imsg);
	(void)msg_get_str(&r, name, sizeof(name));
	(void)msg_get_data(&r, &data, &len);
	(void)msg_get_u32(&r, &removed);
	(void)msg_get_u64(&r, &v);
	if (msg_end(&r) == -1 || len > STORE_MAX_FILE) {
		channel_bad_message(ch, imsg, "bad store row");
		return;
	}
	if (v > version) {
		version = v;
		dirty = 1;
	}
	if (!sync_name_ok(name)) {
		log_warnx("cryptod: store row %.100s: not a name of the store;"
		    " left alone", name);
		return;
	}
	(void)snprintf(path, sizeof(path), "%s/%s", store_dir(), name);
	/* A row that says what the manifest has (this host's own change
	 * coming back, or one already applied) is nothing new: the file may
	 * have changed here since, and the next push says so. */
	f = find(name);
	if (removed) {
		if (f == NULL)
			return;
		if (unlink(path) == 0)
			log_info("cryptod: store: %s removed (database)", name);
		drop(f);
		npulled++;
		return;
	}
	hash(data, len, sum);
	if (f != NULL && memcmp(f->hash, sum, sizeof(sum)) == 0)
		return;
	old = xmalloc(STORE_MAX_FILE);
	n = read_file(path, old, &st);
	if (n < 0 || (size_t)n != len || memcmp(old, data, len) != 0) {
		if (write_file(name, data, len, &st) == -1) {
			log_warn("cryptod: store: %s", path);
			free(old);
			return;
		}
		log_info("cryptod: store: %s %s (database)", name, n < 0 ?
		    "added" : "changed");
		npulled++;
	}
	free(old);
	f = add(name);
	memcpy(f->hash, sum, sizeof(sum));
	note_stat(f, &st);
}

static void
put(const char *name, const void *data, size_t len, int removed)
{
	struct channel	*ch = proc_peer(ROLE_AUTHD);
	struct msg	 m;

	if (ch == NULL)
		return;
	msg_init(&m, IMSG_AUTH_STORE_PUT, 0);
	msg_add_str(&m, name);
	msg_add_data(&m, data, len);
	msg_add_u32(&m, (uint32_t)removed);
	if (channel_send(ch, &m) == 0)
		npushed++;
}

/* One directory of the store (prefix "" or "harvested/"): its new and
 * changed files go to the database. */
static void
push_dir(const char *prefix, unsigned char *buf)
{
	char		 dpath[CONF_MAX_PATH + 16];
	char		 name[SYNC_MAX_NAME], path[CONF_MAX_PATH + SYNC_MAX_NAME];
	unsigned char	 sum[32];
	struct dirent	*de;
	struct synced	*f;
	struct stat	 st;
	DIR		*d;
	ssize_t		 n;

	(void)snprintf(dpath, sizeof(dpath), "%s/%s", store_dir(), prefix);
	if ((d = opendir(dpath)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (snprintf(name, sizeof(name), "%s%s", prefix, de->d_name) >=
		    (int)sizeof(name) || !sync_name_ok(name))
			continue;
		(void)snprintf(path, sizeof(path), "%s/%s", store_dir(), name);
		if (lstat(path, &st) == -1 || !S_ISREG(st.st_mode))
			continue;
		if ((f = find(name)) != NULL && same_stat(f, &st))
			continue;
		if ((n = read_file(path, buf, &st)) < 0) {
			log_warnx("cryptod: store: %s is over %d bytes or "
			    "unreadable: not in the database", name,
			    STORE_MAX_FILE);
			/* Said once: not again until the file changes. */
			if (lstat(path, &st) == 0) {
				f = add(name);
				memset(f->hash, 0, sizeof(f->hash));
				note_stat(f, &st);
			}
			continue;
		}
		hash(buf, (size_t)n, sum);
		if (f == NULL || memcmp(f->hash, sum, sizeof(sum)) != 0) {
			put(name, buf, (size_t)n, 0);
			log_info("cryptod: store: %s sent to the database",
			    name);
		}
		f = add(name);
		memcpy(f->hash, sum, sizeof(sum));
		note_stat(f, &st);
	}
	(void)closedir(d);
}

/* What changed here since the last round goes to the database: new
 * and changed files, and those the manifest has that are gone. */
static void
push(void)
{
	char		 path[CONF_MAX_PATH + SYNC_MAX_NAME + 2];
	unsigned char	*buf;
	struct stat	 st;
	size_t		 i;

	buf = xmalloc(STORE_MAX_FILE);
	push_dir("", buf);
	push_dir(SYNC_HARVESTED, buf);
	free(buf);
	for (i = 0; i < nfiles; ) {
		(void)snprintf(path, sizeof(path), "%s/%s", store_dir(),
		    files[i].name);
		if (lstat(path, &st) == 0) {
			i++;
			continue;
		}
		put(files[i].name, "", 0, 1);
		log_info("cryptod: store: %s removed here; the database is "
		    "told", files[i].name);
		drop(&files[i]);
	}
}

void
storesync_end(struct channel *ch, struct imsg *imsg)
{
	struct msg_reader	 r;
	uint32_t		 status, more;
	uint64_t		 last;

	msg_reader_init(&r, imsg);
	(void)msg_get_u32(&r, &status);
	(void)msg_get_u32(&r, &more);
	(void)msg_get_u64(&r, &last);
	if (msg_end(&r) == -1) {
		channel_bad_message(ch, imsg, "bad store end");
		return;
	}
	busy = 0;
	switch (status) {
	case STORE_SYNC_NODB:
		/* Files only, until the next configuration. */
		enabled = 0;
		return;
	case STORE_SYNC_OK:
		if (last > version) {
			version = last;
			dirty = 1;
		}
		if (more) {
			ask();
			return;
		}
		push();
		if (dirty)
			manifest_save();
		break;
	default:
		break;		/* authd logged it; the next round tries */
	}
	last_round = time(NULL);
}

void
storesync_conf(void)
{
	/* A new configuration may have a database where there was none, or
	 * another store. */
	enabled = store_dir()[0] != '\0';
	loaded = 0;
	busy = 0;
	last_round = 0;
}

void
storesync_peer_down(void)
{
	busy = 0;
}

void
storesync_state(unsigned long *pulled, unsigned long *pushed)
{
	*pulled = npulled;
	*pushed = npushed;
}
