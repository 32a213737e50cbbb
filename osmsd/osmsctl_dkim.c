/*
 * osmsctl dkim: make a DKIM key and print its DNS record, or sign a
 * message with one (to check a key and a published record by hand).
 * Neither talks to osmsd.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "buf.h"
#include "dkim.h"
#include "osmsctl.h"
#include "util.h"

#define MSG_MAX		(64 * 1024 * 1024)	/* dkim sign input */

static EVP_PKEY *
key_generate(const char *type, int bits)
{
	EVP_PKEY_CTX	*ctx;
	EVP_PKEY	*key = NULL;
	int		 ed = strcmp(type, "ed25519") == 0;

	if ((ctx = EVP_PKEY_CTX_new_id(ed ? EVP_PKEY_ED25519 : EVP_PKEY_RSA,
	    NULL)) == NULL || EVP_PKEY_keygen_init(ctx) != 1 ||
	    (!ed && EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, bits) != 1) ||
	    EVP_PKEY_keygen(ctx, &key) != 1)
		key = NULL;
	EVP_PKEY_CTX_free(ctx);
	return key;
}

static EVP_PKEY *
key_load(const char *path)
{
	EVP_PKEY	*key;
	FILE		*fp;

	if ((fp = fopen(path, "r")) == NULL) {
		(void)fprintf(stderr, "osmsctl: %s: %s\n", path,
		    strerror(errno));
		return NULL;
	}
	key = PEM_read_PrivateKey(fp, NULL, NULL, NULL);
	(void)fclose(fp);
	if (key == NULL || dkim_key_alg(key) == -1) {
		(void)fprintf(stderr, "osmsctl: %s: not an RSA or Ed25519 "
		    "private key\n", path);
		EVP_PKEY_free(key);
		return NULL;
	}
	return key;
}

/* The record, cut into quoted strings of at most 250 bytes, as zone
 * files and most DNS panels take them. */
static void
print_record(const char *domain, const char *selector, EVP_PKEY *key)
{
	struct buf	 txt = BUF_INIT(8192);
	size_t		 i, n;

	if (dkim_txt_record(key, &txt) == -1) {
		(void)fprintf(stderr, "osmsctl: cannot write the record\n");
		exit(1);
	}
	(void)printf("%s._domainkey.%s. IN TXT (", selector, domain);
	for (i = 0; i < txt.len; i += n) {
		n = txt.len - i > 250 ? 250 : txt.len - i;
		(void)printf("\n\t\"%.*s\"", (int)n, txt.data + i);
	}
	(void)printf(" )\n");
	buf_free(&txt);
}

/* dkim keygen [-t rsa|ed25519] [-b bits] DOMAIN SELECTOR KEYFILE */
static int
dkim_keygen(int argc, char **argv)
{
	const char	*type = "rsa", *err;
	EVP_PKEY	*key;
	FILE		*fp;
	int		 bits = 2048, fd, i;

	for (i = 0; i + 1 < argc && argv[i][0] == '-'; i += 2) {
		if (strcmp(argv[i], "-t") == 0 &&
		    (strcmp(argv[i + 1], "rsa") == 0 ||
		    strcmp(argv[i + 1], "ed25519") == 0))
			type = argv[i + 1];
		else if (strcmp(argv[i], "-b") == 0) {
			bits = (int)str_to_num(argv[i + 1], 1024, 4096, &err);
			if (err != NULL)
				return -1;
		} else
			return -1;
	}
	if (argc - i != 3)
		return -1;
	if ((key = key_generate(type, bits)) == NULL) {
		(void)fprintf(stderr, "osmsctl: cannot make a key\n");
		exit(1);
	}
	/* Never over an existing key: a record may point at it. */
	if ((fd = open(argv[i + 2], O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0600)) == -1 || (fp = fdopen(fd, "w")) == NULL) {
		(void)fprintf(stderr, "osmsctl: %s: %s\n", argv[i + 2],
		    strerror(errno));
		exit(1);
	}
	if (PEM_write_PrivateKey(fp, key, NULL, NULL, 0, NULL, NULL) != 1 ||
	    fflush(fp) != 0 || fsync(fileno(fp)) == -1 || fclose(fp) != 0) {
		(void)fprintf(stderr, "osmsctl: %s: cannot write the key\n",
		    argv[i + 2]);
		(void)unlink(argv[i + 2]);
		exit(1);
	}
	print_record(argv[i], argv[i + 1], key);
	EVP_PKEY_free(key);
	return 0;
}

/* dkim sign DOMAIN SELECTOR KEYFILE: stdin signed to stdout. */
static int
dkim_sign_stdin(int argc, char **argv)
{
	struct buf	 in = BUF_INIT(MSG_MAX), out = BUF_INIT(65536);
	EVP_PKEY	*key;
	const char	*err;
	char		 chunk[65536];
	size_t		 n;

	if (argc != 3)
		return -1;
	if ((key = key_load(argv[2])) == NULL)
		exit(1);
	while ((n = fread(chunk, 1, sizeof(chunk), stdin)) > 0)
		if (buf_add(&in, chunk, n) == -1) {
			(void)fprintf(stderr, "osmsctl: message too large\n");
			exit(1);
		}
	if (dkim_signature(in.data != NULL ? in.data : "", in.len, argv[0],
	    argv[1], key, time(NULL), &out, &err) == -1) {
		(void)fprintf(stderr, "osmsctl: cannot sign: %s\n", err);
		exit(1);
	}
	(void)fwrite(out.data, 1, out.len, stdout);
	if (in.len > 0)
		(void)fwrite(in.data, 1, in.len, stdout);
	EVP_PKEY_free(key);
	buf_free(&in);
	buf_free(&out);
	return fflush(stdout) == 0 ? 0 : 1;
}

int
cmd_dkim(int argc, char **argv)
{
	int	 r = -1;

	if (argc >= 2 && strcmp(argv[1], "keygen") == 0)
		r = dkim_keygen(argc - 2, argv + 2);
	else if (argc >= 2 && strcmp(argv[1], "sign") == 0)
		r = dkim_sign_stdin(argc - 2, argv + 2);
	return r;
}
