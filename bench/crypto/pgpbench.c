/*
 * pgpbench: cryptod's OpenPGP work on one core, in process, through the
 * functions cryptod calls (lib/mail/pgp.c, GPGME): a message leaves
 * signed (PGP/MIME multipart/signed, at DATA) then encrypted (as it is
 * relayed), and comes in decrypted then verified. bench/crypto/run
 * builds and runs it next to the gpg command run once per message.
 *
 *	pgpbench -m MESSAGE -n COUNT -H GNUPGHOME -f FROM -t TO
 *
 * The home has both key pairs, FROM's to sign and TO's to decrypt.
 * Prints one line of JSON: messages per second for each direction.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "benchutil.h"
#include "buf.h"
#include "pgp.h"

int
main(int argc, char **argv)
{
	struct buf		 sig = BUF_INIT(2 * PGP_MAX_MESSAGE);
	struct buf		 enc = BUF_INIT(2 * PGP_MAX_MESSAGE);
	struct buf		 dec = BUF_INIT(2 * PGP_MAX_MESSAGE);
	struct pgp_verdict	 v;
	const char		*msgf = NULL, *home = NULL, *from = NULL;
	const char		*to = NULL, *err, *fprs[1];
	char			 sfpr[PGP_MAX_FPR + 1], rfpr[PGP_MAX_FPR + 1];
	char			 who[256], *msg;
	size_t			 len;
	double			 t0, out_s, in_s;
	int			 n = 50, i, c;

	while ((c = getopt(argc, argv, "f:H:m:n:t:")) != -1) {
		switch (c) {
		case 'f': from = optarg; break;
		case 'H': home = optarg; break;
		case 'm': msgf = optarg; break;
		case 'n': n = atoi(optarg); break;
		case 't': to = optarg; break;
		default: return 2;
		}
	}
	if (!msgf || !home || !from || !to || n < 1) {
		fprintf(stderr, "usage: pgpbench -m MSG -n N -H HOME -f FROM "
		    "-t TO\n");
		return 2;
	}
	msg = slurp(msgf, &len);
	if (pgp_init(home, &err) == -1 ||
	    pgp_key_for(from, 1, sfpr, sizeof(sfpr)) == -1 ||
	    pgp_key_for(to, 0, rfpr, sizeof(rfpr)) == -1) {
		fprintf(stderr, "pgpbench: no keys for %s and %s in %s\n", from,
		    to, home);
		return 2;
	}
	fprs[0] = rfpr;
	t0 = now();
	for (i = 0; i < n; i++) {
		buf_reset(&sig);
		buf_reset(&enc);
		if (pgp_sign(msg, len, sfpr, &sig, &err) == -1 ||
		    pgp_encrypt(sig.data, sig.len, fprs, 1, NULL, &enc,
		    &err) == -1) {
			fprintf(stderr, "outbound: %s\n", err);
			return 1;
		}
	}
	out_s = now() - t0;
	t0 = now();
	for (i = 0; i < n; i++) {
		buf_reset(&dec);
		if (pgp_decrypt(enc.data, enc.len, &to, 1, who, sizeof(who),
		    &dec, &v, &err) == -1 || pgp_verify(dec.data, dec.len, &v,
		    &err) == -1 || v.result != PGP_VERIFIED) {
			fprintf(stderr, "inbound: %s\n", v.result == PGP_FAILED ?
			    v.reason : "not verified");
			return 1;
		}
	}
	in_s = now() - t0;
	printf("{\"bytes\": %zu, \"n\": %d, \"sign_encrypt_per_s\": %.1f,"
	    " \"decrypt_verify_per_s\": %.1f}\n", len, n, n / out_s,
	    n / in_s);
	pgp_stop_agent();
	pgp_done();
	buf_free(&sig);
	buf_free(&enc);
	buf_free(&dec);
	free(msg);
	return 0;
}
