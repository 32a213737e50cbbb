/*
 * Loading and checking a pki's key pair, for keyd, which holds the keys,
 * and for the parent, which refuses a configuration whose key keyd could
 * not use rather than start listeners whose handshakes would all fail.
 */
#include <sys/wait.h>
#include <poll.h>
#include <signal.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "tls_pair.h"

int	tls_pair_timeout_ms = 10000;

void
tls_reason(char *err, size_t errsize, const char *what)
{
	unsigned long	 e = ERR_get_error();
	char		 buf[256] = "";

	if (e != 0)
		ERR_error_string_n(e, buf, sizeof(buf));
	(void)snprintf(err, errsize, "%s%s%s", what, *buf ? ": " : "", buf);
	ERR_clear_error();
}

EVP_PKEY *
tls_pair_load(BIO *cb, BIO *kb, char *err, size_t errsize)
{
	X509		*cert;
	EVP_PKEY	*pkey = NULL;
	int		 type;

	if ((cert = PEM_read_bio_X509(cb, NULL, NULL, NULL)) == NULL)
		tls_reason(err, errsize, "certificate");
	else if ((pkey = PEM_read_bio_PrivateKey(kb, NULL, NULL, NULL)) ==
	    NULL)
		tls_reason(err, errsize, "private key");
	else if (X509_check_private_key(cert, pkey) != 1) {
		tls_reason(err, errsize, "key does not match the certificate");
		EVP_PKEY_free(pkey);
		pkey = NULL;
	} else if ((type = EVP_PKEY_get_base_id(pkey)) != EVP_PKEY_RSA &&
	    type != EVP_PKEY_EC) {
		(void)snprintf(err, errsize, "%s keys are not supported; use "
		    "RSA or ECDSA", OBJ_nid2sn(type));
		EVP_PKEY_free(pkey);
		pkey = NULL;
	}
	X509_free(cert);
	return pkey;
}

int
tls_pair_check(const char *certpath, const char *keypath, char *err,
    size_t errsize)
{
	BIO		*cb, *kb;
	EVP_PKEY	*pkey = NULL;
	char		 why[512] = "";
	ssize_t		 n;
	size_t		 got = 0;
	struct pollfd	 pfd;
	int		 fds[2], status, timedout = 0;
	pid_t		 pid;

	if (pipe(fds) == -1) {
		(void)snprintf(err, errsize, "pipe: %s", strerror(errno));
		return -1;
	}
	if ((pid = fork()) == -1) {
		(void)snprintf(err, errsize, "fork: %s", strerror(errno));
		(void)close(fds[0]);
		(void)close(fds[1]);
		return -1;
	}
	if (pid == 0) {
		(void)close(fds[0]);
		cb = BIO_new_file(certpath, "r");
		kb = BIO_new_file(keypath, "r");
		if (cb == NULL || kb == NULL)
			tls_reason(why, sizeof(why), cb == NULL ?
			    "certificate" : "private key");
		else
			pkey = tls_pair_load(cb, kb, why, sizeof(why));
		/* A short write leaves the reason incomplete, no more. */
		if (write(fds[1], why, strlen(why)) == -1)
			_exit(2);
		_exit(pkey != NULL ? 0 : 1);
	}
	(void)close(fds[1]);
	/* Whatever the files turn out to be (a FIFO blocks its opener),
	 * the parent waits no longer than this for the child. */
	pfd.fd = fds[0];
	pfd.events = POLLIN;
	while (got < sizeof(why) - 1) {
		if ((n = poll(&pfd, 1, tls_pair_timeout_ms)) == 0) {
			(void)kill(pid, SIGKILL);
			timedout = 1;
			break;
		}
		if (n > 0 && (n = read(fds[0], why + got,
		    sizeof(why) - 1 - got)) > 0)
			got += (size_t)n;
		else if (n == 0 || errno != EINTR)
			break;
	}
	why[got] = '\0';
	(void)close(fds[0]);
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR) {
			(void)snprintf(err, errsize, "waitpid: %s",
			    strerror(errno));
			return -1;
		}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	(void)snprintf(err, errsize, "%s", timedout ? "reading the"
	    " certificate and key took too long (is one not a file?)" :
	    got > 0 ? why : "the check of the key ended abnormally");
	return -1;
}
