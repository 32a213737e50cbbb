/*
 * osmsctl pgp: the gateway's OpenPGP keys, in the GnuPG home gnupg/ of
 * the certificate store (osmsd.conf's cryptod certificates), which
 * cryptod owns. osmsctl reads what it is given as root, then works as
 * cryptod's user, so every file GnuPG makes there is cryptod's.
 *
 *	pgp keygen ADDRESS		a key pair for a local user (or a
 *					domain's gateway address)
 *	pgp import FILE			public or secret keys, armored or not
 *	pgp list [ADDRESS]		each key: fingerprint, secret or not,
 *					usable or why not, user IDs
 *	pgp show FINGERPRINT		that key, its public part armored
 *	pgp remove FINGERPRINT		the key, its secret part too
 *	pgp export ADDRESS|FINGERPRINT [--secret]
 *					armored, with --secret the secret
 *					keys as well (escrow)
 *	pgp accept ADDRESS		the key cryptod held back (pgp-held/:
 *					an Autocrypt key that differs from
 *					the known one) replaces that one
 */
#include <dirent.h>
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "conf.h"
#include "osmsctl.h"
#include "pgp.h"
#include "util.h"

#define PGP_MAX_IMPORT	(1024 * 1024)

static void
print_line(const char *line, void *arg)
{
	(void)arg;
	(void)printf("%s\n", line);
}

static void
print_imported(const char *fpr, void *arg)
{
	(void)arg;
	(void)printf("imported %s\n", fpr);
}

/*
 * cryptod's user from here on (root makes the store cryptod's, as osmsd
 * does when it starts), and the engine on the store's home.
 */
static int
open_home(const struct osms_conf *conf)
{
	const char	*store = conf->cryptod.store;
	struct passwd	*pw;
	struct stat	 st;
	char		 home[CONF_MAX_PATH + 8];
	const char	*err;

	if (geteuid() == 0) {
		if ((pw = getpwnam(conf_role_user(conf, ROLE_CRYPTOD))) ==
		    NULL) {
			(void)fprintf(stderr, "osmsctl: no user %s for "
			    "cryptod\n", conf_role_user(conf, ROLE_CRYPTOD));
			return -1;
		}
		if ((mkdir(store, 0700) == -1 && errno != EEXIST) ||
		    stat(store, &st) == -1 || ((st.st_uid != pw->pw_uid ||
		    st.st_gid != pw->pw_gid) && chown(store, pw->pw_uid,
		    pw->pw_gid) == -1) || setgroups(0, NULL) == -1 ||
		    setgid(pw->pw_gid) == -1 || setuid(pw->pw_uid) == -1) {
			(void)fprintf(stderr, "osmsctl: %s as %s: %s\n", store,
			    pw->pw_name, strerror(errno));
			return -1;
		}
	}
	(void)snprintf(home, sizeof(home), "%s/gnupg", store);
	/* GnuPG finds its agent by the home; HOME need not be ours. */
	(void)setenv("HOME", home, 1);
	if (pgp_init(home, &err) == -1) {
		(void)fprintf(stderr, "osmsctl: %s: %s\n", home, err);
		return -1;
	}
	return 0;
}

/* FILE's content (at most PGP_MAX_IMPORT), read while still root. */
static char *
slurp(const char *path, size_t *len)
{
	char	*data = NULL;
	ssize_t	 n;
	size_t	 got = 0;
	int	 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		(void)fprintf(stderr, "osmsctl: %s: %s\n", path,
		    strerror(errno));
		return NULL;
	}
	data = xmalloc(PGP_MAX_IMPORT);
	while (got < PGP_MAX_IMPORT && (n = read(fd, data + got,
	    PGP_MAX_IMPORT - got)) > 0)
		got += (size_t)n;
	(void)close(fd);
	if (got == 0 || got == PGP_MAX_IMPORT) {
		(void)fprintf(stderr, "osmsctl: %s: empty or larger than %d "
		    "bytes\n", path, PGP_MAX_IMPORT);
		free(data);
		return NULL;
	}
	*len = got;
	return data;
}

static int
export(const char *pattern, int secret)
{
	struct buf	 out = BUF_INIT(16 * 1024 * 1024);
	const char	*err;
	int		 rc = 1;

	if (pgp_export(pattern, secret, &out, &err) == -1)
		(void)fprintf(stderr, "osmsctl: %s: %s\n", pattern, err);
	else if (fwrite(out.data, 1, out.len, stdout) == out.len)
		rc = 0;
	buf_free(&out);
	return rc;
}

/* The keys cryptod held back, each as a line. */
static void
list_held(const char *store)
{
	char		 dir[CONF_MAX_PATH + 16];
	struct dirent	*de;
	DIR		*d;
	size_t		 n;

	(void)snprintf(dir, sizeof(dir), "%s/pgp-held", store);
	if ((d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		n = strlen(de->d_name);
		if (de->d_name[0] != '.' && n > 4 &&
		    strcmp(de->d_name + n - 4, ".key") == 0)
			(void)printf("held %.*s: a new key from mail "
			    "(osmsctl pgp accept %.*s)\n", (int)(n - 4),
			    de->d_name, (int)(n - 4), de->d_name);
	}
	(void)closedir(d);
}

/* The held key of address replaces the known one. */
static int
accept_held(const char *address, const char *data, size_t len, const char *held)
{
	char		 fpr[PGP_MAX_FPR + 1], known[PGP_MAX_FPR + 1];
	const char	*err;

	if (pgp_offered(data, len, address, fpr, sizeof(fpr), &err) == -1) {
		(void)fprintf(stderr, "osmsctl: %s: %s\n", held, err);
		return 1;
	}
	if (pgp_key_for(address, 1, known, sizeof(known)) == 0) {
		(void)fprintf(stderr, "osmsctl: %s has a key pair here; its "
		    "key is not taken from mail\n", address);
		return 1;
	}
	while (pgp_key_for(address, 0, known, sizeof(known)) == 0)
		if (pgp_delete(known, &err) == -1) {
			(void)fprintf(stderr, "osmsctl: %s: %s\n", known, err);
			return 1;
		} else
			(void)printf("removed %s\n", known);
	if (pgp_import_for(data, len, address, &err) == -1) {
		(void)fprintf(stderr, "osmsctl: %s: %s\n", held, err);
		return 1;
	}
	if (unlink(held) == -1)
		(void)fprintf(stderr, "osmsctl: %s: %s\n", held,
		    strerror(errno));
	(void)printf("accepted %s for %s\n", fpr, address);
	return 0;
}

int
cmd_pgp(const char *path, int argc, char **argv)
{
	struct osms_conf	*conf;
	char			 fpr[PGP_MAX_FPR + 1], *data = NULL;
	char			 held[CONF_MAX_PATH + 300];
	const char		*err, *sub;
	size_t			 len = 0;
	int			 rc = 1, n;

	if (argc < 2)
		return -1;
	sub = argv[1];
	if (!((strcmp(sub, "keygen") == 0 && argc == 3) ||
	    (strcmp(sub, "import") == 0 && argc == 3) ||
	    (strcmp(sub, "list") == 0 && argc <= 3) ||
	    (strcmp(sub, "show") == 0 && argc == 3) ||
	    (strcmp(sub, "remove") == 0 && argc == 3) ||
	    (strcmp(sub, "accept") == 0 && argc == 3) ||
	    (strcmp(sub, "export") == 0 && (argc == 3 || (argc == 4 &&
	    strcmp(argv[3], "--secret") == 0)))))
		return -1;
	if (argc == 3 && strlen(argv[2]) > 256)
		return -1;
	if ((conf = conf_parse_file(path, stderr, NULL)) == NULL) {
		(void)fprintf(stderr, "osmsctl: cannot read %s\n", path);
		return 1;
	}
	if (strcmp(sub, "import") == 0 && (data = slurp(argv[2], &len)) ==
	    NULL)
		goto done;
	if (strcmp(sub, "accept") == 0) {
		if (strchr(argv[2], '@') == NULL || strchr(argv[2], '/') !=
		    NULL || argv[2][0] == '.') {
			(void)fprintf(stderr, "osmsctl: %s: not an address\n",
			    argv[2]);
			goto done;
		}
		(void)snprintf(held, sizeof(held), "%s/pgp-held/%s.key",
		    conf->cryptod.store, argv[2]);
		if ((data = slurp(held, &len)) == NULL)
			goto done;
	}
	if (open_home(conf) == -1)
		goto done;
	if (strcmp(sub, "keygen") == 0) {
		if (pgp_key_for(argv[2], 1, fpr, sizeof(fpr)) == 0)
			(void)fprintf(stderr, "osmsctl: %s has a key pair "
			    "already: %s\n", argv[2], fpr);
		else if (pgp_keygen(argv[2], fpr, sizeof(fpr), &err) == -1)
			(void)fprintf(stderr, "osmsctl: %s: %s\n", argv[2], err);
		else {
			(void)printf("%s %s\n", fpr, argv[2]);
			rc = 0;
		}
	} else if (strcmp(sub, "import") == 0) {
		if (pgp_import(data, len, print_imported, NULL, &err) == -1)
			(void)fprintf(stderr, "osmsctl: %s: %s\n", argv[2], err);
		else
			rc = 0;
	} else if (strcmp(sub, "accept") == 0) {
		rc = accept_held(argv[2], data, len, held);
	} else if (strcmp(sub, "list") == 0) {
		n = pgp_list(argc == 3 ? argv[2] : "", print_line, NULL);
		rc = n >= 0 ? 0 : 1;
		if (n == 0 && argc == 3)
			(void)fprintf(stderr, "osmsctl: no key for %s\n",
			    argv[2]);
		list_held(conf->cryptod.store);
	} else if (strcmp(sub, "show") == 0) {
		if (strlen(argv[2]) < 16 || strspn(argv[2],
		    "0123456789abcdefABCDEF") != strlen(argv[2]))
			(void)fprintf(stderr, "osmsctl: %s: not a fingerprint\n",
			    argv[2]);
		else if (pgp_list(argv[2], print_line, NULL) > 0)
			rc = export(argv[2], 0);
		else
			(void)fprintf(stderr, "osmsctl: no key %s\n", argv[2]);
	} else if (strcmp(sub, "remove") == 0) {
		if (pgp_delete(argv[2], &err) == -1)
			(void)fprintf(stderr, "osmsctl: %s: %s\n", argv[2], err);
		else {
			(void)printf("removed %s\n", argv[2]);
			rc = 0;
		}
	} else
		rc = export(argv[2], argc == 4);
	/* An agent this started is not left behind (cryptod's starts again
	 * when it needs one). */
	pgp_stop_agent();
	pgp_done();
done:
	free(data);
	conf_free(conf);
	return rc;
}
