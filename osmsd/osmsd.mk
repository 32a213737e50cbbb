# osmsd/: the parent, the control role and osmsctl.

$(eval $(call program,$(BUILD)/osmsd,osmsd/osmsd.c osmsd/parent.c \
	osmsd/listen.c osmsd/sessions.c osmsd/tables.c osmsd/users.c,\
	lib lib/mail osmsd,))
$(eval $(call program,$(BUILD)/osmsctl,osmsd/osmsctl.c osmsd/osmsctl_dkim.c \
	osmsd/osmsctl_smime.c osmsd/osmsctl_cert.c osmsd/osmsctl_pgp.c,\
	lib lib/mail osmsd,libargon2 libcrypt libcrypto gpgme))
$(eval $(call program,$(BUILD)/libexec/osms-control,osmsd/control.c,\
	lib lib/mail osmsd,))

PROGRAMS	+= $(BUILD)/osmsd $(BUILD)/osmsctl
ROLE_PROGRAMS	+= $(BUILD)/libexec/osms-control
