/*
 * The users the roles run as, and the directories they are locked in.
 * Missing users are added with useradd(8) at first start (or by
 * "osmsd -U", which make install runs).
 */
#include <sys/stat.h>
#include <sys/wait.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "osmsd.h"
#include "tls_pair.h"
#include "util.h"

extern char **environ;

static int
user_add(const char *name, char *err, size_t errsize)
{
	char	*argv[12];
	pid_t	 pid;
	int	 i = 0, status, rc;

	argv[i++] = "useradd";
	argv[i++] = "--system";
	argv[i++] = "--no-create-home";
	argv[i++] = "--home-dir";
	argv[i++] = "/nonexistent";
	argv[i++] = "--shell";
	argv[i++] = "/usr/sbin/nologin";
	if (getgrnam(name) != NULL) {
		argv[i++] = "--gid";
		argv[i++] = (char *)(uintptr_t)name;
	} else
		argv[i++] = "--user-group";
	argv[i++] = (char *)(uintptr_t)name;
	argv[i] = NULL;

	rc = posix_spawn(&pid, "/usr/sbin/useradd", NULL, NULL, argv, environ);
	if (rc != 0) {
		(void)snprintf(err, errsize, "cannot run useradd: %s",
		    strerror(rc));
		return -1;
	}
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR) {
			(void)snprintf(err, errsize, "useradd: %s",
			    strerror(errno));
			return -1;
		}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		(void)snprintf(err, errsize, "useradd %s failed", name);
		return -1;
	}
	log_info("added system user %s", name);
	return 0;
}

/* mkdir -p for the parents of a path: root-owned, 0755. */
static int
mkdir_parents(const char *path, char *err, size_t errsize)
{
	char	 buf[CONF_MAX_PATH];
	char	*p;

	if (osms_strlcpy(buf, path, sizeof(buf)) >= sizeof(buf)) {
		(void)snprintf(err, errsize, "%s: path too long", path);
		return -1;
	}
	for (p = buf + 1; (p = strchr(p, '/')) != NULL; p++) {
		*p = '\0';
		if (mkdir(buf, 0755) == -1 && errno != EEXIST) {
			(void)snprintf(err, errsize, "mkdir %s: %s", buf,
			    strerror(errno));
			return -1;
		}
		*p = '/';
	}
	return 0;
}

/* Make dir exist, owned by uid:gid with the given mode. */
static int
dir_prepare(const char *dir, uid_t uid, gid_t gid, mode_t mode, char *err,
    size_t errsize)
{
	struct stat	 st;

	if (mkdir_parents(dir, err, errsize) == -1)
		return -1;
	if (mkdir(dir, mode) == -1 && errno != EEXIST)
		goto fail;
	if (lstat(dir, &st) == -1)
		goto fail;
	if (!S_ISDIR(st.st_mode)) {
		(void)snprintf(err, errsize, "%s: not a directory", dir);
		return -1;
	}
	if (st.st_uid != uid || st.st_gid != gid) {
		if (chown(dir, uid, gid) == -1)
			goto fail;
		log_info("%s: owner set to %u:%u", dir, (unsigned)uid,
		    (unsigned)gid);
	}
	if ((st.st_mode & 07777) != mode && chmod(dir, mode) == -1)
		goto fail;
	return 0;
fail:
	(void)snprintf(err, errsize, "%s: %s", dir, strerror(errno));
	return -1;
}

/*
 * The files an administrator put in cryptod's store (certificates,
 * keys) become cryptod's: it alone reads them. Links are not followed.
 */
static int
store_prepare(const char *dir, uid_t uid, gid_t gid, char *err,
    size_t errsize)
{
	struct dirent	*de;
	struct stat	 st;
	DIR		*d;
	int		 dfd;

	if ((d = opendir(dir)) == NULL) {
		(void)snprintf(err, errsize, "%s: %s", dir, strerror(errno));
		return -1;
	}
	dfd = dirfd(d);
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || fstatat(dfd, de->d_name, &st,
		    AT_SYMLINK_NOFOLLOW) == -1 || !S_ISREG(st.st_mode))
			continue;
		if ((st.st_uid != uid || st.st_gid != gid) &&
		    fchownat(dfd, de->d_name, uid, gid,
		    AT_SYMLINK_NOFOLLOW) == -1)
			log_warn("%s/%s: chown", dir, de->d_name);
		if ((st.st_mode & 077) != 0 && fchmodat(dfd, de->d_name,
		    st.st_mode & 0700, 0) == -1)
			log_warn("%s/%s: chmod", dir, de->d_name);
	}
	(void)closedir(d);
	return 0;
}

static int
scand_tmp_prepare(const struct osms_conf *conf, uid_t uid, gid_t gid,
    char *err, size_t errsize)
{
	char	 tmp[CONF_MAX_PATH + 16];

	(void)snprintf(tmp, sizeof(tmp), "%s/osms-tmp", conf->scand.database);
	return dir_prepare(tmp, uid, gid, 0700, err, errsize);
}

/* The jail of the network roles: root's, read-only to all, empty. */
static int
empty_prepare(const char *dir, char *err, size_t errsize)
{
	struct dirent	*de;
	DIR		*d;

	if (dir_prepare(dir, 0, 0, 0755, err, errsize) == -1)
		return -1;
	if ((d = opendir(dir)) == NULL) {
		(void)snprintf(err, errsize, "%s: %s", dir, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		(void)closedir(d);
		(void)snprintf(err, errsize, "%s must be empty, but holds %s",
		    dir, de->d_name);
		return -1;
	}
	(void)closedir(d);
	return 0;
}

int
users_prepare(const struct osms_conf *conf, struct role_cred *creds,
    int create, char *err, size_t errsize)
{
	const struct role_info	*ri;
	struct passwd		*pw;
	const char		*name;
	char			 harvested[CONF_MAX_PATH + 16];
	int			 r;

	for (r = 0; r < ROLE_COUNT; r++) {
		ri = role_info((enum osms_role)r);
		if (ri->program == NULL)
			continue;
		name = conf_role_user(conf, (enum osms_role)r);
		errno = 0;
		if ((pw = getpwnam(name)) == NULL && create) {
			if (user_add(name, err, errsize) == -1)
				return -1;
			pw = getpwnam(name);
		}
		if (pw == NULL) {
			(void)snprintf(err, errsize,
			    "user %s for role %s does not exist", name,
			    ri->name);
			return -1;
		}
		if (pw->pw_uid == 0 || pw->pw_gid == 0) {
			(void)snprintf(err, errsize,
			    "role %s must not run as root (user %s)",
			    ri->name, name);
			return -1;
		}
		creds[r].uid = pw->pw_uid;
		creds[r].gid = pw->pw_gid;
		switch (ri->jail) {
		case JAIL_EMPTY:
			(void)osms_strlcpy(creds[r].jail, conf->empty,
			    sizeof(creds[r].jail));
			break;
		case JAIL_SPOOL:
			(void)osms_strlcpy(creds[r].jail, conf->spool,
			    sizeof(creds[r].jail));
			break;
		case JAIL_MAILSTORE:
			(void)osms_strlcpy(creds[r].jail, conf->mailstore,
			    sizeof(creds[r].jail));
			break;
		case JAIL_SCAN:
			(void)osms_strlcpy(creds[r].jail, conf->scand.database,
			    sizeof(creds[r].jail));
			break;
		case JAIL_CHECK:
			(void)osms_strlcpy(creds[r].jail, conf->checkd.directory,
			    sizeof(creds[r].jail));
			break;
		case JAIL_NONE:
			creds[r].jail[0] = '\0';
			break;
		}
	}

	if (empty_prepare(conf->empty, err, errsize) == -1)
		return -1;
	if (dir_prepare(conf->spool, creds[ROLE_QUEUE].uid,
	    creds[ROLE_QUEUE].gid, 0700, err, errsize) == -1)
		return -1;
	if (dir_prepare(conf->mailstore, creds[ROLE_DELIVERY].uid,
	    creds[ROLE_DELIVERY].gid, 0750, err, errsize) == -1)
		return -1;
	/* cryptod's certificate store: its own, files and all, and the one
	 * place its Landlock rules let it write. */
	(void)osms_strlcpy(creds[ROLE_CRYPTOD].writes, conf->cryptod.store,
	    sizeof(creds[ROLE_CRYPTOD].writes));
	(void)snprintf(harvested, sizeof(harvested), "%s/harvested",
	    conf->cryptod.store);
	if (dir_prepare(conf->cryptod.store, creds[ROLE_CRYPTOD].uid,
	    creds[ROLE_CRYPTOD].gid, 0700, err, errsize) == -1 ||
	    dir_prepare(harvested, creds[ROLE_CRYPTOD].uid,
	    creds[ROLE_CRYPTOD].gid, 0700, err, errsize) == -1 ||
	    store_prepare(conf->cryptod.store, creds[ROLE_CRYPTOD].uid,
	    creds[ROLE_CRYPTOD].gid, err, errsize) == -1)
		return -1;
	/* checkd's state (the greylist): its own. */
	if (dir_prepare(conf->checkd.directory, creds[ROLE_CHECKD].uid,
	    creds[ROLE_CHECKD].gid, 0700, err, errsize) == -1)
		return -1;
	/* scand's temporary files, in its jail. */
	if (scand_tmp_prepare(conf, creds[ROLE_SCAND].uid,
	    creds[ROLE_SCAND].gid, err, errsize) == -1)
		return -1;
	return mkdir_parents(conf->control_socket, err, errsize);
}

static int
check_private(const struct osms_conf *conf, const char *path, int line,
    const char *what, FILE *errfp)
{
	struct stat	 st;

	if (stat(path, &st) == -1) {
		(void)fprintf(errfp, "%s:%d: %s %s: %s\n", conf->path, line,
		    what, path, strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		(void)fprintf(errfp, "%s:%d: %s %s is not a regular file\n",
		    conf->path, line, what, path);
		return -1;
	}
	if (st.st_mode & (S_IRWXO | S_IWGRP)) {
		(void)fprintf(errfp, "%s:%d: %s %s is accessible by others"
		    " (mode %03o); chmod 600 it\n", conf->path, line, what,
		    path, (unsigned)(st.st_mode & 0777));
		return -1;
	}
	return 0;
}

int
conf_check_files(const struct osms_conf *conf, FILE *errfp)
{
	struct conf_pki		*pki;
	struct conf_table	*t;
	struct stat		 st;
	char			 err[512];
	int			 rc = 0;

	TAILQ_FOREACH(pki, &conf->pkis, entry) {
		int	 certok = 0;

		if (stat(pki->cert, &st) == -1)
			(void)fprintf(errfp, "%s:%d: certificate %s: %s\n",
			    conf->path, pki->line, pki->cert,
			    strerror(errno));
		else if (!S_ISREG(st.st_mode))
			/* A FIFO would block the check below. */
			(void)fprintf(errfp, "%s:%d: certificate %s is not a"
			    " regular file\n", conf->path, pki->line,
			    pki->cert);
		else
			certok = 1;
		if (!certok)
			rc = -1;
		if (check_private(conf, pki->key, pki->line, "key",
		    errfp) == -1)
			rc = -1;
		else if (certok && tls_pair_check(pki->cert, pki->key, err,
		    sizeof(err)) == -1) {
			/* Else keyd would refuse it, and every handshake
			 * on its listeners fail. */
			(void)fprintf(errfp, "%s:%d: pki %s: %s\n", conf->path,
			    pki->line, pki->name, err);
			rc = -1;
		}
	}
	/* A config holding a database password is a secret file too. */
	TAILQ_FOREACH(t, &conf->tables, entry)
		if (t->backend == TABLE_POSTGRES &&
		    strstr(t->source, "password") != NULL &&
		    check_private(conf, conf->path, t->line,
		    "configuration file", errfp) == -1)
			rc = -1;
	return rc;
}
