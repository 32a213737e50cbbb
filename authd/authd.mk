# authd/: the directory and authentication; the only holder of DB secrets.

$(eval $(call program,$(BUILD)/libexec/osms-authd,authd/authd.c \
	authd/admin.c authd/audit.c authd/dir.c authd/gateway.c \
	authd/greylist.c authd/lookup.c authd/ratelimit.c \
	authd/sasl.c authd/table.c authd/table_pg.c authd/token.c,\
	lib lib/mail authd,libpq libsasl2 libargon2 libcrypt libcrypto))

ROLE_PROGRAMS	+= $(BUILD)/libexec/osms-authd
