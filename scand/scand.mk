# scand/: virus scanning with libclamav.

$(eval $(call program,$(BUILD)/libexec/osms-scand,scand/scand.c scand/scan.c,\
	lib lib/mail scand,libclamav))

ROLE_PROGRAMS	+= $(BUILD)/libexec/osms-scand
