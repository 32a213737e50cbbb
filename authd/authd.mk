# authd/: the directory and authentication; the only holder of DB secrets.

$(eval $(call program,$(BUILD)/libexec/osms-authd,authd/authd.c \
	authd/lookup.c authd/table.c,\
	lib lib/mail authd,libpq libsasl2))

ROLE_PROGRAMS	+= $(BUILD)/libexec/osms-authd
