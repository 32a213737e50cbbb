/*
 * Names and the allow-table, expanded from the catalogue in osms_imsg.h.
 */
#include <stddef.h>

#include "osms_imsg.h"

static const struct {
	const char	*name;
	uint32_t	 from;
	uint32_t	 to;
	const char	*layout;
	const char	*purpose;
} catalogue[IMSG_TYPE_COUNT] = {
	[IMSG_NONE] = { "IMSG_NONE", 0, 0, "", "never sent" },
#define OSMS_IMSG_ENTRY(type, from, to, layout, purpose) \
	[type] = { #type, (from), (to), layout, purpose },
	OSMS_IMSG_LIST(OSMS_IMSG_ENTRY)
#undef OSMS_IMSG_ENTRY
};

const char *
imsg_type_name(uint32_t type)
{
	if (type >= IMSG_TYPE_COUNT)
		return "IMSG_UNKNOWN";
	return catalogue[type].name;
}

const char *
imsg_type_purpose(uint32_t type)
{
	if (type >= IMSG_TYPE_COUNT)
		return "unknown";
	return catalogue[type].purpose;
}

const char *
imsg_type_layout(uint32_t type)
{
	if (type == IMSG_NONE || type >= IMSG_TYPE_COUNT)
		return NULL;
	return catalogue[type].layout;
}

int
imsg_allowed(uint32_t type, enum osms_role from, enum osms_role to)
{
	if (type == IMSG_NONE || type >= IMSG_TYPE_COUNT)
		return 0;
	if ((unsigned)from >= ROLE_COUNT || (unsigned)to >= ROLE_COUNT)
		return 0;
	return (catalogue[type].from & R(from)) &&
	    (catalogue[type].to & R(to));
}
