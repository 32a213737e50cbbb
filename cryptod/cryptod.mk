# cryptod/: the encryption gateway; the only holder of S/MIME and PGP keys.

$(eval $(call program,$(BUILD)/libexec/osms-cryptod,cryptod/cryptod.c \
	cryptod/audit.c cryptod/dkim_signer.c cryptod/encrypt.c \
	cryptod/dirpolicy.c cryptod/gateway.c cryptod/pgpgate.c \
	cryptod/storesync.c,\
	lib lib/mail cryptod,gpgme libcrypto))

ROLE_PROGRAMS	+= $(BUILD)/libexec/osms-cryptod
