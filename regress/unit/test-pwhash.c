/*
 * Password hashes (lib/mail/pwhash.c): hostile stored values and
 * passwords first, then known answers for every scheme, then creation,
 * SCRAM secrets, the dummy's timing and concurrent use.
 *
 * The known answers were made by tools independent of pwhash.c:
 *	openssl passwd -6/-5/-1 -salt saltsalt password
 *	python3 crypt.crypt() (libxcrypt) for rounds=, bcrypt, yescrypt
 *	argon2(1) from the Debian "argon2" package, e.g.
 *	    echo -n password | argon2 somesalt16bytes! -id -t 3 -k 65536 \
 *	    -p 1 -l 32 -e
 *	python3 hashlib + base64 for {SSHA512} {SSHA256} {SHA512} {SHA256}
 *	python3 hashlib.pbkdf2_hmac + hmac for the SCRAM-SHA-256 secrets
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "pwhash.h"
#include "test.h"

#define PW	"password"

struct vec {
	const char	*stored;
	const char	*password;
	int		 expect;
};

/* Stored values that name no scheme pwhash_verify() accepts. */
static const char *const unknown[] = {
	"",
	"{",
	"{}",
	"{}password",
	"}",
	"{SHA512",
	"{PLAIN}" PW,
	"{plain}" PW,
	"{CLEARTEXT}" PW,
	"{PLAIN-TRUNC}8-" PW,
	"{PLAIN-MD5}5f4dcc3b5aa765d61d8327deb882cf99",
	"{LDAP-MD5}X03MO1qnZdYdgyfeuILPmQ==",
	"{MD5}X03MO1qnZdYdgyfeuILPmQ==",
	"{SMD5}X03MO1qnZdYdgyfeuILPmQ==",
	"{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=",
	"{SSHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=",
	"{SHA1}W6ph5Mm5Pz8GgiULbPgzG37mj9g=",
	"{SHA384}W6ph5Mm5Pz8GgiULbPgzG37mj9g=",
	"{SHA512.HEX}b109f3bbbc244eb82441917ed06d618b9008dd09",
	"{CRAM-MD5}e7f6a7b7",
	"{DIGEST-MD5}e7f6a7b7",
	"{NTLM}8846f7eaee8fb117ad06bdd830b7586c",
	"{SCRAM-SHA-256}4096,AAECAwQFBgcICQoLDA0ODw==,x,y",
	"SCRAM-SHA-256$4096:AAECAwQFBgcICQoLDA0ODw==$"
	    "4PSH04DiBM59z6mw0gs6x1r6+duXYQ+R0KwGZr+W5/o=:"
	    "IgPInY95tTazYxnARISZb/eTxuX/JRwWgrM9ByaOUIk=",
	"{UNKNOWN}x",
	"{ ARGON2ID}$argon2id$v=19$m=8,t=1,p=1$c29tZXNhbHQxNmJ5dGVzIQ$"
	    "wufSCitSnM5RSdiuzbjpaJzL6zWMgG/b+HiMSdHJJBE",
	"{ARGON2ID }$argon2id$v=19$m=8,t=1,p=1$c29tZXNhbHQxNmJ5dGVzIQ$"
	    "wufSCitSnM5RSdiuzbjpaJzL6zWMgG/b+HiMSdHJJBE",
	"{ARGON2D}$argon2d$v=19$m=8,t=1,p=1$c29tZXNhbHQxNmJ5dGVzIQ$"
	    "wufSCitSnM5RSdiuzbjpaJzL6zWMgG/b+HiMSdHJJBE",
	/* a prefix whose content is of another type or method */
	"{ARGON2ID}",
	"{ARGON2ID}$argon2i$v=19$m=64,t=2,p=1$c29tZXNhbHQxNmJ5dGVzIQ$"
	    "jDnxCAY5Lh+YKtYbQYUdixX10xYRvfe5V2TfdX9ylEo",
	"{ARGON2I}$argon2id$v=19$m=8,t=1,p=1$c29tZXNhbHQxNmJ5dGVzIQ$"
	    "wufSCitSnM5RSdiuzbjpaJzL6zWMgG/b+HiMSdHJJBE",
	"{ARGON2ID}$ARGON2ID$v=19$m=8,t=1,p=1$c29tZXNhbHQxNmJ5dGVzIQ$"
	    "wufSCitSnM5RSdiuzbjpaJzL6zWMgG/b+HiMSdHJJBE",
	"$argon2id$v=19$m=8,t=1,p=1$c29tZXNhbHQxNmJ5dGVzIQ$"
	    "wufSCitSnM5RSdiuzbjpaJzL6zWMgG/b+HiMSdHJJBE",
	"{SHA512-CRYPT}$5$saltsalt$gOjOtoMpVhru2uyjeJSEc/JaLQWOXMNmlOnj6T4AtC.",
	"{SHA256-CRYPT}$6$saltsalt$qFmFH.bQmmtXzyBY0s9v7Oicd2z4XSIecDzlB5KiA2/"
	    "jctKu9YterLp8wwnSq.qc.eoxqOmSuNp2xS0ktL3nh/",
	"{MD5-CRYPT}$6$saltsalt$qFmFH.bQmmtXzyBY0s9v7Oicd2z4XSIecDzlB5KiA2/"
	    "jctKu9YterLp8wwnSq.qc.eoxqOmSuNp2xS0ktL3nh/",
	"{BLF-CRYPT}$1$saltsalt$qjXMvbEw8oaL.CzflDtaK/",
	"{BLF-CRYPT}$2x$05$abcdefghijklmnopqrstuuWG29KuyeAicPCJODk1zjyGvyQU"
	    "U2awu",
	"{SHA512-CRYPT}",
	"{CRYPT}",
	"{CRYPT}" PW,
	/* plaintext or foreign without a prefix */
	PW,
	"$",
	"$$",
	"$6",
	"$7$CU..../....abcdefgh$x",		/* scrypt */
	"$gy$j9T$abcdefghijklmnop$x",		/* gost-yescrypt */
	"$sha1$40000$jtNX3nZ2$hBNaIXkt4wBI2o5rsi8KejSjNqIq",
	"$md5,rounds=5000$GUBv0xjJ$$mSwgIswdjlTY0YxV7HBVm0",
	"$3$$8846f7eaee8fb117ad06bdd830b7586c",
	"$2$abcdefghijklmnopqrstuu",
	"$2b",
	" $6$saltsalt$qFmFH.bQmmtXzyBY0s9v7Oicd2z4XSIecDzlB5KiA2/"
	    "jctKu9YterLp8wwnSq.qc.eoxqOmSuNp2xS0ktL3nh/",
	/* DES crypt: refused as too weak, even though libxcrypt has it */
	"abJnggxhB/yWI",
	"{CRYPT}abJnggxhB/yWI",
	"_J9..abcdIPPmXD22F8s",
	"{CRYPT}_J9..abcdIPPmXD22F8s",
};

/* A known scheme, malformed or refused content: -1. */
static const char *const malformed[] = {
	/* base64: truncated, bad characters, bad padding, not canonical */
	"{SSHA512}9ZxHVj4YomwqqFiYKcIjExMLx2ZblYfXRGc4KMqbgvHq2+HOgwiTIi+eO/"
	    "Uam/8D0beDAkGpvx14+UFlfBskLnNhbHRzYWx",
	"{SSHA512}9ZxHVj4YomwqqFiYKcIjExMLx2ZblYfXRGc4KMqbgvHq2+HOgwiTIi+eO/"
	    "Uam/8D0beDAkGpvx14+UFlfBskLnNhbHRzYW",
	"{SSHA512}9ZxHVj4YomwqqFiYKcIjExMLx2ZblYfXRGc4KMqbgvHq2+HOgwiTIi+eO/"
	    "Uam/8D0beDAkGpvx14+UFlfBskLnNhbHRzY",
	"{SSHA512}CZ7O4UMxH7maefOY0X0GdUY5iKoGaLblHbP/VVHQP6oVVLSgYbs2i6Vacb"
	    "ZYWnHgWQqMi9NfjL3WfgSJl0AzCQA",
	"{SSHA512}CZ7O4UMxH7maefOY0X0GdUY5iKoGaLblHbP/VVHQP6oVVLSgYbs2i6Vacb"
	    "ZYWnHgWQqMi9NfjL3WfgSJl0AzCQ",
	"{SSHA512}CZ7O4UMxH7maefOY0X0GdUY5iKoGaLblHbP/VVHQP6oVVLSgYbs2i6Vacb"
	    "ZYWnHgWQqMi9NfjL3WfgSJl0AzCQB=",
	"{SSHA512}CZ7O4UMxH7maefOY0X0GdUY5iKoGaLblHbP/VVHQP6oVVLSgYbs2i6Vacb"
	    "ZYWnHgWQqMi9NfjL3WfgSJl0AzCQA==",
	"{SSHA512}CZ7O4UMxH7maefOY0X0GdUY5iKoGaLblHbP/VVHQP6oVVLSgYbs2i6Vacb"
	    "ZYWnHgWQqMi9NfjL3WfgSJl0AzCQA=\n",
	"{SSHA512} CZ7O4UMxH7maefOY0X0GdUY5iKoGaLblHbP/VVHQP6oVVLSgYbs2i6Vacb"
	    "ZYWnHgWQqMi9NfjL3WfgSJl0AzCQA=",
	"{SSHA512}CZ7O4UMxH7maefOY0X0GdUY5iKoGaLblHbP/VVHQP6oVVLSgYbs2i6Vacb"
	    "ZYWnHgWQqMi9NfjL3W=gSJl0AzCQA=",
	"{SSHA512}CZ7O4UMxH7maefOY0X0GdUY5iKoGaLblHbP/VVHQP6oVVLSgYbs2i6Vacb"
	    "ZYWnHgWQqMi9NfjL3W*gSJl0AzCQA=",
	"{SSHA512}CZ7O4UMxH7maefOY0X0GdUY5iKoGaLblHbP-VVHQP6oVVLSgYbs2i6Vacb"
	    "ZYWnHgWQqMi9NfjL3WfgSJl0AzCQA=",
	"{SSHA256}HRrSnyMQoWgqgxQEQXacTDCOVmN0BYhOKi2fCgm+aykBAgME=",
	"{SSHA256}HRrSnyMQoWgqgxQEQXacTDCOVmN0BYhOKi2fCgm+aykBAgN=",
	"{SSHA256}HRrSnyMQoWgqgxQEQXacTDCOVmN0BYhOKi2fCgm+aykBAh==",
	"{SSHA256}====",
	"{SSHA256}",
	"{SHA512}",
	"{SHA256}=",
	/* a salt of 0 bytes: the bare digest under a salted scheme */
	"{SSHA512}sQnzu7wkTrgkQZF+0G1hi5AI3Qmzvv0bXgc5THBqi7mAsdd4Xll27ASbRt9f"
	    "EyavWi6m0QP9B8lThf+rDKy8hg==",
	"{SSHA256}XohImNooBHFR0OVvjcYpJ3NgPQ1qq73WKhHvch0VQtg=",
	/* shorter than the digest */
	"{SSHA512}c2FsdA==",
	/* unsalted of the wrong length, in base64 and in hex */
	"{SHA256}sQnzu7wkTrgkQZF+0G1hi5AI3Qmzvv0bXgc5THBqi7mAsdd4Xll27ASbRt9f"
	    "EyavWi6m0QP9B8lThf+rDKy8hg==",
	"{SHA512}XohImNooBHFR0OVvjcYpJ3NgPQ1qq73WKhHvch0VQtg=",
	"{SHA256}5E884898DA28047151D0E56F8DC6292773603D0D6AABBDD62A11EF721D15"
	    "42D",
	"{SHA256}5E884898DA28047151D0E56F8DC6292773603D0D6AABBDD62A11EF721D15"
	    "42D8A",
	"{SHA256}5G884898DA28047151D0E56F8DC6292773603D0D6AABBDD62A11EF721D15"
	    "42D8",
	"{SHA512}XohImNooBHFR0OVvjcYpJ3NgPQ1qq73WKhHvch0VQtg=XohImNooBHFR0OVv",
	/* sha-crypt rounds: above the cap, hostile spellings */
	"$6$rounds=999999999$saltsalt$Z/J9iYO1iE9xnr8JPQL57ZWsVRtVjrUv3CiWc/"
	    "wKWseqXgSqn3HFYJ/Ng7YXa8XlLj.wpdAwHOJJzuGFqBBRa0",
	"{SHA512-CRYPT}$6$rounds=999999999$saltsalt$Z/J9iYO1iE9xnr8JPQL57ZWsV"
	    "RtVjrUv3CiWc/wKWseqXgSqn3HFYJ/Ng7YXa8XlLj.wpdAwHOJJzuGFqBBRa0",
	"$6$rounds=1000001$saltsalt$x",
	"$5$rounds=1000001$saltsalt$x",
	"$6$rounds=99999999999999999999999999999999$saltsalt$x",
	"$6$rounds=-1$saltsalt$x",
	"$6$rounds= 5000$saltsalt$x",
	"$6$rounds=+5000$saltsalt$x",
	"$6$rounds=$saltsalt$x",
	"$6$rounds=5000",
	"$6$rounds=5000x$saltsalt$x",
	/* bcrypt cost */
	"$2b$31$abcdefghijklmnopqrstuuWG29KuyeAicPCJODk1zjyGvyQUU2awu",
	"$2b$16$abcdefghijklmnopqrstuuWG29KuyeAicPCJODk1zjyGvyQUU2awu",
	"$2b$99$abcdefghijklmnopqrstuuWG29KuyeAicPCJODk1zjyGvyQUU2awu",
	"$2b$5$abcdefghijklmnopqrstuuWG29KuyeAicPCJODk1zjyGvyQUU2awu",
	"$2b$005$abcdefghijklmnopqrstuuWG29KuyeAicPCJODk1zjyGvyQUU2awu",
	"$2b$-5$abcdefghijklmnopqrstuuWG29KuyeAicPCJODk1zjyGvyQUU2awu",
	"$2b$",
	"$2b$05",
	"$2b$05$",
	"$2b$05$abc",
	"{BLF-CRYPT}$2y$17$abcdefghijklmnopqrstuuWG29KuyeAicPCJODk1zjyGvyQU"
	    "U2awu",
	/* yescrypt: 512 MiB, 2 GiB, extended parameters, long numbers,
	 * malformed */
	"$y$jET$abcdefghijklmnop$x",
	"$y$jGT$abcdefghijklmnop$x",
	"$y$jzT$abcdefghijklmnop$x",
	"$y$j9z$abcdefghijklmnop$x",
	"$y$k9T$abcdefghijklmnop$x",
	"$y$j9T.$abcdefghijklmnop$x",
	"$y$j9$abcdefghijklmnop$x",
	"$y$j9T",
	"$y$",
	"$y$$",
	"$y$j*T$abcdefghijklmnop$x",
	/* argon2: costs above the caps, malformed parameters */
	"{ARGON2ID}$argon2id$v=19$m=262145,t=1,p=1$c29tZXNhbHQxNmJ5dGVzIQ$"
	    "wufSCitSnM5RSdiuzbjpaJzL6zWMgG/b+HiMSdHJJBE",
	"{ARGON2ID}$argon2id$v=19$m=1048577,t=1,p=1$c29tZXNhbHQxNmJ5dGVzIQ$"
	    "wufSCitSnM5RSdiuzbjpaJzL6zWMgG/b+HiMSdHJJBE",
	"{ARGON2ID}$argon2id$v=19$m=4294967295,t=1,p=1$c29tZXNhbHQxNmJ5dGVzIQ"
	    "$wufSCitSnM5RSdiuzbjpaJzL6zWMgG/b+HiMSdHJJBE",
	"{ARGON2ID}$argon2id$v=19$m=99999999999999999999999,t=1,p=1$c29tZXNh"
	    "bHQxNmJ5dGVzIQ$wufSCitSnM5RSdiuzbjpaJzL6zWMgG/b+HiMSdHJJBE",
	"{ARGON2ID}$argon2id$v=19$m=8,t=101,p=1$c29tZXNhbHQxNmJ5dGVzIQ$"
	    "wufSCitSnM5RSdiuzbjpaJzL6zWMgG/b+HiMSdHJJBE",
	"{ARGON2ID}$argon2id$v=19$m=8,t=4294967295,p=1$c29tZXNhbHQxNmJ5dGVzIQ"
	    "$wufSCitSnM5RSdiuzbjpaJzL6zWMgG/b+HiMSdHJJBE",
	"{ARGON2ID}$argon2id$v=19$m=512,t=1,p=17$c29tZXNhbHQxNmJ5dGVzIQ$"
	    "wufSCitSnM5RSdiuzbjpaJzL6zWMgG/b+HiMSdHJJBE",
	"{ARGON2I}$argon2i$v=19$m=2097152,t=2,p=1$c29tZXNhbHQxNmJ5dGVzIQ$"
	    "jDnxCAY5Lh+YKtYbQYUdixX10xYRvfe5V2TfdX9ylEo",
	"{ARGON2ID}$argon2id$v=17$m=8,t=1,p=1$c29tZXNhbHQxNmJ5dGVzIQ$"
	    "wufSCitSnM5RSdiuzbjpaJzL6zWMgG/b+HiMSdHJJBE",
	"{ARGON2ID}$argon2id$v=$m=8,t=1,p=1$c29tZXNhbHQxNmJ5dGVzIQ$"
	    "wufSCitSnM5RSdiuzbjpaJzL6zWMgG/b+HiMSdHJJBE",
	"{ARGON2ID}$argon2id$v=19$m=,t=1,p=1$c29tZXNhbHQxNmJ5dGVzIQ$"
	    "wufSCitSnM5RSdiuzbjpaJzL6zWMgG/b+HiMSdHJJBE",
	"{ARGON2ID}$argon2id$v=19$t=1,m=8,p=1$c29tZXNhbHQxNmJ5dGVzIQ$"
	    "wufSCitSnM5RSdiuzbjpaJzL6zWMgG/b+HiMSdHJJBE",
	"{ARGON2ID}$argon2id$v=19$m=8,t=1,p=1,data=abc$c29tZXNhbHQxNmJ5dGVzIQ"
	    "$wufSCitSnM5RSdiuzbjpaJzL6zWMgG/b+HiMSdHJJBE",
	"{ARGON2ID}$argon2id$v=19$m=8,t=0,p=1$c29tZXNhbHQxNmJ5dGVzIQ$"
	    "wufSCitSnM5RSdiuzbjpaJzL6zWMgG/b+HiMSdHJJBE",
	"{ARGON2ID}$argon2id$v=19$m=8,t=1,p=0$c29tZXNhbHQxNmJ5dGVzIQ$"
	    "wufSCitSnM5RSdiuzbjpaJzL6zWMgG/b+HiMSdHJJBE",
	"{ARGON2ID}$argon2id$v=19$m=4,t=1,p=1$c29tZXNhbHQxNmJ5dGVzIQ$"
	    "wufSCitSnM5RSdiuzbjpaJzL6zWMgG/b+HiMSdHJJBE",
	/* argon2: salt of 0 bytes, short salt, no tag, truncated */
	"{ARGON2ID}$argon2id$v=19$m=8,t=1,p=1$$"
	    "wufSCitSnM5RSdiuzbjpaJzL6zWMgG/b+HiMSdHJJBE",
	"{ARGON2ID}$argon2id$v=19$m=8,t=1,p=1$c2FsdA$"
	    "wufSCitSnM5RSdiuzbjpaJzL6zWMgG/b+HiMSdHJJBE",
	"{ARGON2ID}$argon2id$v=19$m=8,t=1,p=1$c29tZXNhbHQxNmJ5dGVzIQ$",
	"{ARGON2ID}$argon2id$v=19$m=8,t=1,p=1$c29tZXNhbHQxNmJ5dGVzIQ",
	"{ARGON2ID}$argon2id$v=19$m=8,t=1,p=1$c29tZXNhbHQxNmJ5dGVzIQ$"
	    "wufSCitSnM5RSdiuzbjpaJzL6zWMgG/b+HiMSdHJJBE$",
	"{ARGON2ID}$argon2id$v=19$m=8,t=1,p=1$c29tZXNhbHQxNmJ5dGVzIQ$wuf",
	"{ARGON2ID}$argon2id$v=19$m=8,t=1,p=1$c29tZXNhbHQxNmJ5dGVzIQ$"
	    "wufSCitSnM5RSdiuzbjpaJzL6zWMgG/b+HiMSdHJJBE=",
	"{ARGON2ID}$argon2id$v=19",
	"{ARGON2ID}$argon2id$",
	/* crypt strings libxcrypt does not take */
	"$2b$05$abcdefghijklmnopqrstu*WG29KuyeAicPCJODk1zjyGvyQUU2awu",
	"$5$salt:salt$x",
};

/* Known answers: pwhash_verify(stored, password) == expect. */
static const struct vec vectors[] = {
	/* argon2(1) */
	{ "{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1$c29tZXNhbHQxNmJ5dGVzIQ$"
	  "Z4IGlh79oreC9C6ufsItXuLZfMvkzX14zg45Jl+UD84", PW, 1 },
	{ "{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1$c29tZXNhbHQxNmJ5dGVzIQ$"
	  "Z4IGlh79oreC9C6ufsItXuLZfMvkzX14zg45Jl+UD84", "Password", 0 },
	{ "{ARGON2ID}$argon2id$v=19$m=8,t=1,p=1$c29tZXNhbHQxNmJ5dGVzIQ$"
	  "wufSCitSnM5RSdiuzbjpaJzL6zWMgG/b+HiMSdHJJBE", PW, 1 },
	{ "{ARGON2ID}$argon2id$v=19$m=8,t=1,p=1$c29tZXNhbHQxNmJ5dGVzIQ$"
	  "wufSCitSnM5RSdiuzbjpaJzL6zWMgG/b+HiMSdHJJBE", "", 0 },
	{ "{argon2id}$argon2id$v=19$m=8,t=1,p=1$c29tZXNhbHQxNmJ5dGVzIQ$"
	  "wufSCitSnM5RSdiuzbjpaJzL6zWMgG/b+HiMSdHJJBE", PW, 1 },
	/* a wrong tag of the right form */
	{ "{ARGON2ID}$argon2id$v=19$m=8,t=1,p=1$c29tZXNhbHQxNmJ5dGVzIQ$"
	  "wufSCitSnM5RSdiuzbjpaJzL6zWMgG/b+HiMSdHJJBA", PW, 0 },
	{ "{ARGON2ID}$argon2id$v=19$m=64,t=2,p=2$c2FsdHNhbHRzYWx0$"
	  "a34FYrfbI7fVPGRK+8fnHw", PW, 1 },
	{ "{ARGON2ID}$argon2id$v=19$m=64,t=2,p=2$c2FsdHNhbHRzYWx0$"
	  "a34FYrfbI7fVPGRK+8fnHw", "passwor", 0 },
	{ "{ARGON2ID}$argon2id$v=16$m=32,t=1,p=1$c29tZXNhbHQxNmJ5dGVzIQ$"
	  "7iIBHvawCwcRSLRKj9LzsH5I+CeNklrykNOQ0T34AkQ", PW, 1 },
	/* no "v=": version 0x10, as libargon2 reads it */
	{ "{ARGON2ID}$argon2id$m=32,t=1,p=1$c29tZXNhbHQxNmJ5dGVzIQ$"
	  "7iIBHvawCwcRSLRKj9LzsH5I+CeNklrykNOQ0T34AkQ", PW, 1 },
	{ "{ARGON2ID}$argon2id$v=19$m=16,t=1,p=1$YW5vdGhlcnNhbHQxMg$"
	  "dbQYi79upd2bZu+Nwq+ga09KTGEhBp2e+4CSYqJ8Oh0",
	  "p\xc3\xa4ssw\xc3\xb6rd", 1 },
	{ "{ARGON2ID}$argon2id$v=19$m=16,t=1,p=1$YW5vdGhlcnNhbHQxMg$"
	  "dbQYi79upd2bZu+Nwq+ga09KTGEhBp2e+4CSYqJ8Oh0", "pAssw\xc3\xb6rd", 0 },
	{ "{ARGON2I}$argon2i$v=19$m=64,t=2,p=1$c29tZXNhbHQxNmJ5dGVzIQ$"
	  "jDnxCAY5Lh+YKtYbQYUdixX10xYRvfe5V2TfdX9ylEo", PW, 1 },
	{ "{ARGON2I}$argon2i$v=19$m=64,t=2,p=1$c29tZXNhbHQxNmJ5dGVzIQ$"
	  "jDnxCAY5Lh+YKtYbQYUdixX10xYRvfe5V2TfdX9ylEo", "password ", 0 },
	{ "{ARGON2I}$argon2i$v=19$m=65536,t=3,p=1$c29tZXNhbHQxNmJ5dGVzIQ$"
	  "UDAGkAWjyzseoIrXjgCl11fjjwq1/0QMdo4L1yP3hD4", PW, 1 },

	/* openssl passwd */
	{ "{SHA512-CRYPT}$6$saltsalt$qFmFH.bQmmtXzyBY0s9v7Oicd2z4XSIecDzlB5KiA"
	  "2/jctKu9YterLp8wwnSq.qc.eoxqOmSuNp2xS0ktL3nh/", PW, 1 },
	{ "{SHA512-CRYPT}$6$saltsalt$qFmFH.bQmmtXzyBY0s9v7Oicd2z4XSIecDzlB5KiA"
	  "2/jctKu9YterLp8wwnSq.qc.eoxqOmSuNp2xS0ktL3nh/", "passwore", 0 },
	{ "$6$saltsalt$qFmFH.bQmmtXzyBY0s9v7Oicd2z4XSIecDzlB5KiA"
	  "2/jctKu9YterLp8wwnSq.qc.eoxqOmSuNp2xS0ktL3nh/", PW, 1 },
	{ "{CRYPT}$6$saltsalt$qFmFH.bQmmtXzyBY0s9v7Oicd2z4XSIecDzlB5KiA"
	  "2/jctKu9YterLp8wwnSq.qc.eoxqOmSuNp2xS0ktL3nh/", PW, 1 },
	{ "$6$0123456789abcdef$xDR267KnEdmU47Tv58n3gNdiOagKeAfIkcMyR6onqwUh3VW"
	  "Y6KqolWZcf8h/S6vI3O1EuVVODhFyX8F.iTNDA0", PW, 1 },
	{ "$6$Na2utf8x$1wL4JwL.Ajx7og2zR.7BRLptM9Mki5nTd7ICJvRCayDPHIYpZzLqal9"
	  "0cvZF7oUPZTT73mdCwDQ7hrNd3lknZ1", "p\xc3\xa4ssw\xc3\xb6rd", 1 },
	{ "{SHA256-CRYPT}$5$saltsalt$gOjOtoMpVhru2uyjeJSEc/JaLQWOXMNmlOnj6T4At"
	  "C.", PW, 1 },
	{ "{SHA256-CRYPT}$5$saltsalt$gOjOtoMpVhru2uyjeJSEc/JaLQWOXMNmlOnj6T4At"
	  "C.", "", 0 },
	{ "$5$saltsalt$gOjOtoMpVhru2uyjeJSEc/JaLQWOXMNmlOnj6T4AtC.", PW, 1 },
	{ "{MD5-CRYPT}$1$saltsalt$qjXMvbEw8oaL.CzflDtaK/", PW, 1 },
	{ "{MD5-CRYPT}$1$saltsalt$qjXMvbEw8oaL.CzflDtaK/", "PASSWORD", 0 },
	{ "$1$saltsalt$qjXMvbEw8oaL.CzflDtaK/", PW, 1 },
	{ "{md5-crypt}$1$saltsalt$qjXMvbEw8oaL.CzflDtaK/", PW, 1 },
	/* a stored string longer or shorter than the result: no match */
	{ "$1$saltsalt$qjXMvbEw8oaL.CzflDtaK/x", PW, 0 },
	{ "$1$saltsalt$qjXMvbEw8oaL.CzflDtaK", PW, 0 },
	{ "$1$saltsalt$qjXMvbEw8oaL.CzflDtaK0", PW, 0 },
	/* settings without a hash, as libxcrypt takes them: no match */
	{ "$6$saltsalt", PW, 0 },
	{ "$1$", PW, 0 },
	{ "$y$j75$$", PW, 0 },
	{ "$6$rounds=1000$", PW, 0 },

	/* python3 crypt (libxcrypt) */
	{ "$6$rounds=1000$saltsalt$Z/J9iYO1iE9xnr8JPQL57ZWsVRtVjrUv3CiWc/wKWse"
	  "qXgSqn3HFYJ/Ng7YXa8XlLj.wpdAwHOJJzuGFqBBRa0", PW, 1 },
	{ "$6$rounds=1000$saltsalt$Z/J9iYO1iE9xnr8JPQL57ZWsVRtVjrUv3CiWc/wKWse"
	  "qXgSqn3HFYJ/Ng7YXa8XlLj.wpdAwHOJJzuGFqBBRa0", "drowssap", 0 },
	/* the cap itself is allowed */
	{ "{SHA512-CRYPT}$6$rounds=1000000$saltsalt$XWpqjw15f0O8PtXBYHxXZbvRsr"
	  "RQ0OF4IPGs5BE7iC0GlQhergmaPVTfSXmkKSnIceGbJzVPRLkkZHS8UVjcq/", PW,
	  1 },
	{ "$5$rounds=1000$saltsalt$azOwbpkvuuBKkE82dQPwTsQE8JyT9Fflpr9aKid3aT9",
	  PW, 1 },
	{ "{BLF-CRYPT}$2b$05$abcdefghijklmnopqrstuuWG29KuyeAicPCJODk1zjyGvyQUU"
	  "2awu", PW, 1 },
	{ "{BLF-CRYPT}$2b$05$abcdefghijklmnopqrstuuWG29KuyeAicPCJODk1zjyGvyQUU"
	  "2awu", "Password", 0 },
	{ "$2b$05$abcdefghijklmnopqrstuuWG29KuyeAicPCJODk1zjyGvyQUU2awu", PW,
	  1 },
	{ "{BLF-CRYPT}$2y$04$ABCDEFGHIJKLMNOPQRSTUuEjC/iPF3zJUw77/vM0sdh86VCS2"
	  "RP7K", PW, 1 },
	{ "$2y$04$ABCDEFGHIJKLMNOPQRSTUuEjC/iPF3zJUw77/vM0sdh86VCS2RP7K", PW,
	  1 },
	{ "$2a$05$abcdefghijklmnopqrstuuWG29KuyeAicPCJODk1zjyGvyQUU2awu", PW,
	  1 },
	{ "$2b$04$abcdefghijklmnopqrstuuyx2n0Zzopyr9QuYTMCfOJJOj526QVoC",
	  "p\xc3\xa4ssw\xc3\xb6rd", 1 },
	{ "$y$j75$abcdefghijklmnop$N9VtQBnMZBfUGPXsEdXe5UwVLyMe6bKcaAgKzaddXZ9",
	  PW, 1 },
	{ "$y$j75$abcdefghijklmnop$N9VtQBnMZBfUGPXsEdXe5UwVLyMe6bKcaAgKzaddXZ9",
	  "passworD", 0 },
	{ "{CRYPT}$y$j9T$abcdefghijklmnop$7asOTx5b6Exfl3myM6K0pLBn.I2hsEvu7G0F"
	  "7NMfaO.", PW, 1 },
	{ "$y$j75$abcdefghijklmnop$mNkFGen/nFc28DvdLBTtKHtT/D2zKMEWDTNQHdM9HZ7",
	  "p\xc3\xa4ssw\xc3\xb6rd", 1 },

	/* python3 hashlib + base64 */
	{ "{SSHA512}CZ7O4UMxH7maefOY0X0GdUY5iKoGaLblHbP/VVHQP6oVVLSgYbs2i6Vacb"
	  "ZYWnHgWQqMi9NfjL3WfgSJl0AzCQA=", PW, 1 },	/* salt "\0" */
	{ "{SSHA512}CZ7O4UMxH7maefOY0X0GdUY5iKoGaLblHbP/VVHQP6oVVLSgYbs2i6Vacb"
	  "ZYWnHgWQqMi9NfjL3WfgSJl0AzCQA=", "", 0 },
	{ "{SSHA512}9ZxHVj4YomwqqFiYKcIjExMLx2ZblYfXRGc4KMqbgvHq2+HOgwiTIi+eO/"
	  "Uam/8D0beDAkGpvx14+UFlfBskLnNhbHRzYWx0", PW, 1 },
	{ "{SSHA512}9ZxHVj4YomwqqFiYKcIjExMLx2ZblYfXRGc4KMqbgvHq2+HOgwiTIi+eO/"
	  "Uam/8D0beDAkGpvx14+UFlfBskLnNhbHRzYWx0", "passwordsaltsalt", 0 },
	{ "{SSHA512}HEr4Y2rbqLfbhWqG98s/IpnQiE4fsZUS87WONam/GU88RNmISSgLk1pYdn"
	  "ympxUcfMT1AYEoucxEgzYuX6pkbfDx8vP09fb3+Pn6+/z9/v8=", PW, 1 },
	{ "{ssha512}HEr4Y2rbqLfbhWqG98s/IpnQiE4fsZUS87WONam/GU88RNmISSgLk1pYdn"
	  "ympxUcfMT1AYEoucxEgzYuX6pkbfDx8vP09fb3+Pn6+/z9/v8=", PW, 1 },
	{ "{SSHA512}PZkW43ZyfQDowhONCQTumfyWpkxbUj6BK0Cw7uATCOdPDzSSVzyNH8w+Zr"
	  "NnIzyx7MmIZyarvzWrXtRLWQBurHNhbHQ=", "p\xc3\xa4ssw\xc3\xb6rd", 1 },
	{ "{SSHA256}eETdHj4qry5jiN9y5zhfU8gKrT2sCqDp+XLwWG8ymm1Y", PW, 1 },
	{ "{SSHA256}eETdHj4qry5jiN9y5zhfU8gKrT2sCqDp+XLwWG8ymm1Y", "passwordX",
	  0 },
	{ "{SSHA256}HRrSnyMQoWgqgxQEQXacTDCOVmN0BYhOKi2fCgm+aykBAgME", PW, 1 },
	{ "{SSHA256}c2SvAd2TowMhI1ynV1yXVY7Sd/5Ux5xJjKLALOuK5B0wMTIzNDU2Nzg5YW"
	  "JjZGVm", PW, 1 },
	/* the same digest with the salt changed */
	{ "{SSHA256}c2SvAd2TowMhI1ynV1yXVY7Sd/5Ux5xJjKLALOuK5B0wMTIzNDU2Nzg5YW"
	  "JjZGVn", PW, 0 },
	{ "{SHA512}sQnzu7wkTrgkQZF+0G1hi5AI3Qmzvv0bXgc5THBqi7mAsdd4Xll27ASbRt9f"
	  "EyavWi6m0QP9B8lThf+rDKy8hg==", PW, 1 },
	{ "{SHA512}sQnzu7wkTrgkQZF+0G1hi5AI3Qmzvv0bXgc5THBqi7mAsdd4Xll27ASbRt9f"
	  "EyavWi6m0QP9B8lThf+rDKy8hg==", "password\n", 0 },
	{ "{SHA512}b109f3bbbc244eb82441917ed06d618b9008dd09b3befd1b5e07394c706a"
	  "8bb980b1d7785e5976ec049b46df5f1326"
	  "af5a2ea6d103fd07c95385ffab0cacbc86",
	  PW, 1 },
	{ "{SHA512}B109F3BBBC244EB82441917ED06D618B9008DD09B3BEFD1B5E07394C706A"
	  "8BB980B1D7785E5976EC049B46DF5F1326"
	  "AF5A2EA6D103FD07C95385FFAB0CACBC86",
	  PW, 1 },
	{ "{SHA512}b109f3bbbc244eb82441917ed06d618b9008dd09b3befd1b5e07394c706a"
	  "8bb980b1d7785e5976ec049b46df5f1326"
	  "af5a2ea6d103fd07c95385ffab0cacbc87",
	  PW, 0 },
	{ "{SHA256}XohImNooBHFR0OVvjcYpJ3NgPQ1qq73WKhHvch0VQtg=", PW, 1 },
	{ "{SHA256}XohImNooBHFR0OVvjcYpJ3NgPQ1qq73WKhHvch0VQtg=", "passworD",
	  0 },
	{ "{SHA256}5E884898DA28047151D0E56F8DC6292773603D0D6AABBDD62A11EF721D15"
	  "42D8", PW, 1 },
	{ "{SHA256}5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d15"
	  "42d8", PW, 1 },
	{ "{SHA256}47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=", "", 1 },
	{ "{SHA256}47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=", PW, 0 },
};

/* pwhash_scheme() of well-formed values. */
static const struct {
	const char	*stored;
	const char	*scheme;
} names[] = {
	{ "{ARGON2ID}$argon2id$v=19$m=8,t=1,p=1$c29tZXNhbHQxNmJ5dGVzIQ$x",
	  "ARGON2ID" },
	{ "{Argon2I}$argon2i$v=19$m=8,t=1,p=1$c29tZXNhbHQxNmJ5dGVzIQ$x",
	  "ARGON2I" },
	{ "{BLF-CRYPT}$2y$05$x", "BLF-CRYPT" },
	{ "{BLF-CRYPT}$2a$05$x", "BLF-CRYPT" },
	{ "{SHA512-CRYPT}$6$x", "SHA512-CRYPT" },
	{ "{SHA256-CRYPT}$5$x", "SHA256-CRYPT" },
	{ "{MD5-CRYPT}$1$x", "MD5-CRYPT" },
	{ "{CRYPT}$2b$05$x", "CRYPT" },
	{ "{CRYPT}$y$j9T$x", "CRYPT" },
	{ "$6$saltsalt$x", "CRYPT" },
	{ "$5$saltsalt$x", "CRYPT" },
	{ "$1$saltsalt$x", "CRYPT" },
	{ "$2b$05$x", "CRYPT" },
	{ "$y$j9T$x", "CRYPT" },
	{ "{SSHA512}x", "SSHA512" },
	{ "{SSHA256}x", "SSHA256" },
	{ "{SHA512}x", "SHA512" },
	{ "{sha256}x", "SHA256" },
};

static double
now(void)
{
	struct timespec	 ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1)
		abort();
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* pwhash_verify() on exact-size copies, so ASan sees any overread. */
static int
verify(const char *stored, const char *password, size_t pwlen)
{
	char	*s = test_dup_exact(stored), *p = NULL;
	int	 r;

	if (password != NULL) {
		if ((p = malloc(pwlen > 0 ? pwlen : 1)) == NULL)
			abort();
		memcpy(p, password, pwlen);
	}
	r = pwhash_verify(s, p, pwlen);
	free(s);
	free(p);
	return r;
}

static void
test_unknown(void)
{
	size_t	 i;
	int	 r;

	test_begin("unknown and refused schemes");
	test_assert(pwhash_verify(NULL, PW, strlen(PW)) == -1);
	test_assert(pwhash_scheme(NULL) == NULL);
	for (i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
		r = verify(unknown[i], PW, strlen(PW));
		if (r != -1)
			(void)printf("# %s: %d\n", unknown[i], r);
		test_assert(r == -1);
		test_assert(pwhash_scheme(unknown[i]) == NULL);
	}
	test_end();
}

static void
test_malformed(void)
{
	double	 t0;
	size_t	 i;
	int	 r;

	test_begin("malformed values and costs above the caps");
	t0 = now();
	for (i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++) {
		r = verify(malformed[i], PW, strlen(PW));
		if (r != -1)
			(void)printf("# %s: %d\n", malformed[i], r);
		test_assert(r == -1);
	}
	/* None of them may reach the hash: no CPU bomb. */
	test_assert(now() - t0 < 1.0);
	test_end();
}

static void
test_length(void)
{
	char	 buf[PWHASH_MAX + 1];

	test_begin("stored value length");
	/* PWHASH_MAX - 1 characters: a known scheme, malformed content */
	memset(buf, 'A', sizeof(buf));
	memcpy(buf, "{SSHA512}", 9);
	buf[PWHASH_MAX - 1] = '\0';
	test_assert(pwhash_scheme(buf) != NULL);
	test_assert(verify(buf, PW, strlen(PW)) == -1);
	/* PWHASH_MAX characters and more: refused as a whole */
	buf[PWHASH_MAX - 1] = 'A';
	buf[PWHASH_MAX] = '\0';
	test_assert(pwhash_scheme(buf) == NULL);
	test_assert(verify(buf, PW, strlen(PW)) == -1);
	test_end();
}

static void
test_password(void)
{
	static const char ssha1024[] = "{SSHA512}uzwbVNMRYtkQwC0Xpl/9SmnAv6Cd"
	    "JckFgR+ZsraxNQFvRe1DecMp2OwAp/Is//s0ECfNvoS1CEL7/vc/mmqpLXNhbHQ=";
	static const char sha256empty[] =
	    "{SHA256}47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";
	static const char md5[] = "$1$saltsalt$qjXMvbEw8oaL.CzflDtaK/";
	char	 pw[PWHASH_MAX_PASSWORD + 1], out[PWHASH_MAX];

	test_begin("passwords refused: NUL, too long");
	/* a NUL inside pwlen, even where the prefix would match */
	test_assert(verify(md5, "password\0", 9) == -1);
	test_assert(verify(md5, "pass\0word", 9) == -1);
	test_assert(verify(md5, "\0", 1) == -1);
	test_assert(verify(sha256empty, "\0", 1) == -1);
	/* NULL only when empty */
	test_assert(pwhash_verify(md5, NULL, 8) == -1);
	test_assert(pwhash_verify(sha256empty, NULL, 0) == 1);
	/* 1024 bytes: hashed; 1025: refused */
	memset(pw, 'a', sizeof(pw));
	test_assert(verify(ssha1024, pw, PWHASH_MAX_PASSWORD) == 1);
	test_assert(verify(ssha1024, pw, PWHASH_MAX_PASSWORD - 1) == 0);
	test_assert(verify(ssha1024, pw, PWHASH_MAX_PASSWORD + 1) == -1);
	test_assert(pwhash_create(pw, PWHASH_MAX_PASSWORD + 1, out,
	    sizeof(out)) == -1);
	test_assert(pwhash_scram(pw, PWHASH_MAX_PASSWORD + 1, out,
	    sizeof(out)) == -1);
	test_assert(pwhash_create("a\0b", 3, out, sizeof(out)) == -1);
	test_assert(pwhash_scram("a\0b", 3, out, sizeof(out)) == -1);
	test_assert(out[0] == '\0');
	/* longer than crypt(3) takes: no match, not "malformed" */
	test_assert(verify(md5, pw, 511) == 0);
	test_assert(verify(md5, pw, 512) == 0);
	test_assert(verify(md5, pw, 600) == 0);
	test_assert(verify("$2b$05$abc", pw, 600) == -1);
	test_end();
}

static void
test_vectors(void)
{
	size_t	 i;
	int	 r;

	test_begin("known answers from independent tools");
	for (i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		r = verify(vectors[i].stored, vectors[i].password,
		    strlen(vectors[i].password));
		if (r != vectors[i].expect)
			(void)printf("# %s / \"%s\": %d, want %d\n",
			    vectors[i].stored, vectors[i].password, r,
			    vectors[i].expect);
		test_assert(r == vectors[i].expect);
		test_assert(pwhash_scheme(vectors[i].stored) != NULL);
	}
	test_end();
}

static void
test_scheme(void)
{
	const char	*s;
	size_t		 i;

	test_begin("scheme names");
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		s = pwhash_scheme(names[i].stored);
		if (s == NULL || strcmp(s, names[i].scheme) != 0)
			(void)printf("# %s: %s\n", names[i].stored,
			    s ? s : "NULL");
		test_assert(s != NULL && strcmp(s, names[i].scheme) == 0);
	}
	test_end();
}

/* "{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1$" 22 b64 "$" 43 b64 */
static int
create_form_ok(const char *h)
{
	static const char	 head[] =
	    "{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1$";
	static const char	 b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789+/";
	const char		*p;

	if (strncmp(h, head, sizeof(head) - 1) != 0)
		return 0;
	p = h + sizeof(head) - 1;
	if (strspn(p, b64) != 22 || p[22] != '$')
		return 0;
	p += 23;
	return strspn(p, b64) == 43 && p[43] == '\0';
}

static void
test_create(void)
{
	char	 a[PWHASH_MAX], b[PWHASH_MAX], small[64];

	test_begin("create and verify");
	test_assert(pwhash_create(PW, strlen(PW), a, sizeof(a)) == 0);
	(void)printf("# %s\n", a);
	test_assert(create_form_ok(a));
	test_assert(strcmp(pwhash_scheme(a), "ARGON2ID") == 0);
	test_assert(verify(a, PW, strlen(PW)) == 1);
	test_assert(verify(a, "passwore", 8) == 0);
	test_assert(verify(a, "", 0) == 0);
	test_assert(pwhash_create(PW, strlen(PW), b, sizeof(b)) == 0);
	test_assert(strcmp(a, b) != 0);		/* a fresh salt */
	test_assert(pwhash_create("", 0, b, sizeof(b)) == 0);
	test_assert(verify(b, "", 0) == 1);
	test_assert(verify(b, "x", 1) == 0);
	/* just big enough, one byte short, far too small */
	test_assert(pwhash_create(PW, strlen(PW), b, strlen(a) + 1) == 0);
	test_assert(strlen(b) == strlen(a));
	memset(b, 'x', sizeof(b));
	test_assert(pwhash_create(PW, strlen(PW), b, strlen(a)) == -1);
	test_assert(b[0] == '\0' && b[strlen(a) - 1] == '\0');
	test_assert(pwhash_create(PW, strlen(PW), small, sizeof(small)) == -1);
	test_assert(pwhash_create(PW, strlen(PW), small, 0) == -1);
	test_assert(pwhash_create(PW, strlen(PW), NULL, 10) == -1);
	test_end();
}

/* Strict-enough base64 decoding, by OpenSSL's decoder, not pwhash.c's. */
static int
unb64(const char *in, size_t len, unsigned char *out, size_t outsize)
{
	unsigned char	 buf[128];
	int		 n;

	if (len == 0 || len % 4 != 0 || len / 4 * 3 > sizeof(buf))
		return -1;
	if ((n = EVP_DecodeBlock(buf, (const unsigned char *)in,
	    (int)len)) < 0)
		return -1;
	if (in[len - 1] == '=')
		n--;
	if (in[len - 2] == '=')
		n--;
	if ((size_t)n != outsize)
		return -1;
	memcpy(out, buf, outsize);
	return 0;
}

/* RFC 5802 3: StoredKey and ServerKey from the password and salt. */
static int
scram_keys(const char *pw, const unsigned char *salt, size_t saltlen,
    int iter, unsigned char *stored, unsigned char *server)
{
	unsigned char	 salted[32], client[32];
	unsigned int	 len;

	if (PKCS5_PBKDF2_HMAC(pw, (int)strlen(pw), salt, (int)saltlen, iter,
	    EVP_sha256(), sizeof(salted), salted) != 1 ||
	    HMAC(EVP_sha256(), salted, sizeof(salted),
	    (const unsigned char *)"Client Key", 10, client, &len) == NULL ||
	    EVP_Digest(client, sizeof(client), stored, &len, EVP_sha256(),
	    NULL) != 1 ||
	    HMAC(EVP_sha256(), salted, sizeof(salted),
	    (const unsigned char *)"Server Key", 10, server, &len) == NULL)
		return -1;
	return 0;
}

/*
 * Parse "SCRAM-SHA-256$<iter>:<salt>$<StoredKey>:<ServerKey>" and check
 * the keys against scram_keys().
 */
static int
scram_check(const char *secret, const char *pw, size_t want_salt)
{
	unsigned char	 salt[64], stored[32], server[32], s2[32], v2[32];
	const char	*p, *colon, *dollar;
	char		*end;
	long		 iter;

	if (strncmp(secret, "SCRAM-SHA-256$", 14) != 0)
		return 0;
	p = secret + 14;
	iter = strtol(p, &end, 10);
	if (end == p || *end != ':' || iter != 4096)
		return 0;
	p = end + 1;
	if ((dollar = strchr(p, '$')) == NULL ||
	    unb64(p, (size_t)(dollar - p), salt, want_salt) == -1)
		return 0;
	p = dollar + 1;
	if ((colon = strchr(p, ':')) == NULL ||
	    unb64(p, (size_t)(colon - p), stored, 32) == -1 ||
	    unb64(colon + 1, strlen(colon + 1), server, 32) == -1)
		return 0;
	if (scram_keys(pw, salt, want_salt, (int)iter, s2, v2) == -1)
		return 0;
	return memcmp(stored, s2, 32) == 0 && memcmp(server, v2, 32) == 0;
}

static void
test_scram(void)
{
	/* python3 hashlib.pbkdf2_hmac + hmac, fixed salts */
	static const char pencil[] =
	    "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ=="
	    "$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY="
	    ":wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=";
	static const char password[] =
	    "SCRAM-SHA-256$4096:AAECAwQFBgcICQoLDA0ODw=="
	    "$4PSH04DiBM59z6mw0gs6x1r6+duXYQ+R0KwGZr+W5/o="
	    ":IgPInY95tTazYxnARISZb/eTxuX/JRwWgrM9ByaOUIk=";
	static const char utf8[] =
	    "SCRAM-SHA-256$4096:AAECAwQFBgcICQoLDA0ODw=="
	    "$HV4TtNKIt8oOQWZCIedFYDVMOGn3/uurWVfN15VjjP4="
	    ":bGoGbn5l5XEF6vc5q836UvsaNZ/n1s4zNZ+A5nNQQv8=";
	char	 a[PWHASH_MAX], b[PWHASH_MAX];

	test_begin("SCRAM-SHA-256 secrets");
	/* the checker against the independent computation */
	test_assert(scram_check(pencil, "pencil", 16));
	test_assert(!scram_check(pencil, "pencil2", 16));
	test_assert(scram_check(password, PW, 16));
	test_assert(scram_check(utf8, "p\xc3\xa4ssw\xc3\xb6rd", 16));
	/* pwhash_scram() against the checker */
	test_assert(pwhash_scram(PW, strlen(PW), a, sizeof(a)) == 0);
	(void)printf("# %s\n", a);
	test_assert(strlen(a) == 14 + 5 + 24 + 1 + 44 + 1 + 44);
	test_assert(scram_check(a, PW, 16));
	test_assert(!scram_check(a, "passwore", 16));
	test_assert(pwhash_scram(PW, strlen(PW), b, sizeof(b)) == 0);
	test_assert(strcmp(a, b) != 0);
	test_assert(pwhash_scram("p\xc3\xa4ssw\xc3\xb6rd", 10, b,
	    sizeof(b)) == 0);
	test_assert(scram_check(b, "p\xc3\xa4ssw\xc3\xb6rd", 16));
	test_assert(pwhash_scram("", 0, b, sizeof(b)) == 0);
	test_assert(scram_check(b, "", 16));
	/* pwhash_verify() does not read it */
	test_assert(verify(a, PW, strlen(PW)) == -1);
	test_assert(pwhash_scram(PW, strlen(PW), b, strlen(a)) == -1);
	test_assert(b[0] == '\0');
	test_assert(pwhash_scram(PW, strlen(PW), b, strlen(a) + 1) == 0);
	test_assert(pwhash_scram(PW, strlen(PW), NULL, 10) == -1);
	test_end();
}

static int
cmp_double(const void *a, const void *b)
{
	double	 x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void
test_dummy(void)
{
	char	 h[PWHASH_MAX];
	double	 tv[5], td[5], t0, mv, md;
	size_t	 i;

	test_begin("dummy takes the time of a wrong password");
	test_assert(pwhash_create(PW, strlen(PW), h, sizeof(h)) == 0);
	pwhash_dummy("warm-up", 7);	/* makes the dummy hash */
	for (i = 0; i < 5; i++) {
		t0 = now();
		test_assert(pwhash_verify(h, "wrong", 5) == 0);
		tv[i] = now() - t0;
		t0 = now();
		pwhash_dummy("wrong", 5);
		td[i] = now() - t0;
	}
	qsort(tv, 5, sizeof(tv[0]), cmp_double);
	qsort(td, 5, sizeof(td[0]), cmp_double);
	mv = tv[2];
	md = td[2];
	(void)printf("# argon2id verify (m=65536,t=3,p=1): median %.1f ms, "
	    "dummy %.1f ms\n", mv * 1e3, md * 1e3);
	test_assert(md < 2 * mv && mv < 2 * md);
	/* refusals are as fast for the dummy as for a real user */
	t0 = now();
	pwhash_dummy("a\0b", 3);
	test_assert(now() - t0 < mv / 4);
	test_end();
}

static double
median_dummy(void)
{
	double	 t[5], t0;
	size_t	 i;

	for (i = 0; i < 5; i++) {
		t0 = now();
		pwhash_dummy("wrong", 5);
		t[i] = now() - t0;
	}
	qsort(t, 5, sizeof(t[0]), cmp_double);
	return t[2];
}

/*
 * A directory of sha512-crypt hashes (Dovecot, PostfixAdmin): a user
 * that does not exist must not cost an argon2id, nor the other way
 * round (SECURITY.md H3).
 */
static void
test_dummy_like(void)
{
	static const char fast[] = "{SHA512-CRYPT}$6$saltsalt$qFmFH.bQmmtXzyB"
	    "Y0s9v7Oicd2z4XSIecDzlB5KiA2/jctKu9YterLp8wwnSq.qc.eoxqOmSuNp2xS0"
	    "ktL3nh/";
	char	 slow[PWHASH_MAX];
	double	 t0, ts, df, ds;

	test_begin("dummy takes the time of the hash last verified (H3)");
	test_assert(pwhash_create(PW, strlen(PW), slow, sizeof(slow)) == 0);
	t0 = now();
	test_assert(pwhash_verify(slow, "wrong", 5) == 0);
	ts = now() - t0;
	ds = median_dummy();
	test_assert(pwhash_verify(fast, "wrong", 5) == 0);
	df = median_dummy();
	(void)printf("# argon2id %.1f ms; dummy after it %.1f ms, after a "
	    "sha512-crypt %.1f ms\n", ts * 1e3, ds * 1e3, df * 1e3);
	test_assert(df < ts / 4);
	test_assert(ds > ts / 2);
	/* a refused value or password changes nothing */
	test_assert(pwhash_verify("{PLAIN}password", PW, strlen(PW)) == -1);
	test_assert(pwhash_verify(slow, "a\0b", 3) == -1);
	test_assert(median_dummy() < ts / 4);
	test_end();
}

struct job {
	size_t	 start;
	int	 fails;
};

static void *
worker(void *arg)
{
	struct job		*j = arg;
	const struct vec	*v;
	size_t			 i, n = sizeof(vectors) / sizeof(vectors[0]);

	for (i = 0; i < n; i++) {
		v = &vectors[(j->start + i) % n];
		/* skip the slow ones: this is about concurrency */
		if (strstr(v->stored, "m=65536") != NULL ||
		    strstr(v->stored, "rounds=1000000") != NULL ||
		    strstr(v->stored, "$y$j9T") != NULL)
			continue;
		if (pwhash_verify(v->stored, v->password,
		    strlen(v->password)) != v->expect)
			j->fails++;
	}
	return NULL;
}

static void
test_threads(void)
{
	pthread_t	 t[4];
	struct job	 jobs[4];
	size_t		 i;

	test_begin("concurrent verification");
	for (i = 0; i < 4; i++) {
		jobs[i].start = i * 7;
		jobs[i].fails = 0;
		test_assert(pthread_create(&t[i], NULL, worker,
		    &jobs[i]) == 0);
	}
	for (i = 0; i < 4; i++) {
		test_assert(pthread_join(t[i], NULL) == 0);
		test_assert(jobs[i].fails == 0);
	}
	test_end();
}

int
main(void)
{
	test_unknown();
	test_malformed();
	test_length();
	test_password();
	test_vectors();
	test_scheme();
	test_create();
	test_scram();
	test_dummy();
	test_dummy_like();
	test_threads();
	return test_exit();
}
