/*
 * portable: the portable catalog of MCP servers, every MCP client's config format (export,
 * import, migrate), and the scanner that finds hard-coded secrets and risky settings in client
 * config files (text, JSON and SARIF 2.1.0 reports). Depends on json/ and config/ only; the
 * command-line front ends live in cli/.
 */
#ifndef GH_PORTABLE_H
#define GH_PORTABLE_H

#include <stdbool.h>
#include <stddef.h>

/* ---- catalog, client formats: export / import / migrate ---------------------------------- */



/* ---- scanner: secrets and risky settings in client config files -------------------------- */



#endif
