/* SPDX-License-Identifier: MPL-2.0 */
/*
 * Node identity of this process inside an emulated SCIF network, taken from
 * SCIF_EMU_NODE / SCIF_EMU_NODES / SCIF_EMU_DOMAIN. Malformed values are
 * reported instead of silently replaced, so that a typo in a test setup does
 * not quietly put two "cards" on the same node.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

/* Parses a decimal integer in [min, max]; returns 0 or -EINVAL. */
static int parse_number(const char *text, long min, long max, long *out)
{
	char *end;
	long value;

	if (!text || !*text)
		return -EINVAL;
	errno = 0;
	value = strtol(text, &end, 10);
	if (errno || *end || value < min || value > max)
		return -EINVAL;
	*out = value;
	return 0;
}

int emu_config_load(struct emu_config *cfg)
{
	const char *nodes_env = getenv("SCIF_EMU_NODES");
	const char *node_env = getenv("SCIF_EMU_NODE");
	const char *domain_env = getenv("SCIF_EMU_DOMAIN");
	long nodes = 2, node = 0;

	if (nodes_env &&
	    parse_number(nodes_env, 1, SCIF_EMU_MAX_NODES, &nodes) < 0)
		return -EINVAL;
	if (node_env && parse_number(node_env, 0, nodes - 1, &node) < 0)
		return -EINVAL;

	if (domain_env) {
		/* '/' would make names of different domains ambiguous. */
		size_t len = strlen(domain_env);
		if (len == 0 || len > SCIF_EMU_DOMAIN_MAX ||
		    strchr(domain_env, '/'))
			return -EINVAL;
		memcpy(cfg->domain, domain_env, len + 1);
	} else {
		snprintf(cfg->domain, sizeof(cfg->domain), "uid%lu",
			 (unsigned long)geteuid());
	}
	cfg->node = (uint16_t)node;
	cfg->nodes = (uint16_t)nodes;
	return 0;
}

int scif_get_nodeIDs(uint16_t *nodes, int len, uint16_t *self)
{
	struct emu_config cfg;
	int err = emu_config_load(&cfg);

	if (err < 0)
		return fail(-err);
	if (!self || (len > 0 && !nodes))
		return fail(EFAULT);
	for (int i = 0; i < len && i < cfg.nodes; i++)
		nodes[i] = (uint16_t)i;
	*self = cfg.node;
	return cfg.nodes;
}
