/*
 * cfgstore: the current server configuration, swappable at run time.
 *
 * Reload (SIGHUP, or the config file changing) builds a whole new struct
 * config and swaps it in; readers take a reference on the version they
 * use (an RPC resolving thresholds, a fetch round), so a swap never frees a
 * config still in use: the last release of an old version frees it.
 *
 * Ownership: the store owns every version. cfgstore_free() requires that
 * no reference is held. Threading: every function is thread-safe.
 */
#ifndef SAT_CFGSTORE_H
#define SAT_CFGSTORE_H

#include <stdint.h>

#include "config.h"

struct cfgstore;
struct cfgver;

/* Takes ownership of initial (non-NULL). NULL when out of memory (initial
 * is then freed). */
struct cfgstore *cfgstore_new(struct config *initial);
void cfgstore_free(struct cfgstore *s);

/* The current config, referenced: release the version with
 * cfgstore_release(). Never NULL. */
const struct config *cfgstore_acquire(struct cfgstore *s, struct cfgver **ver);
void cfgstore_release(struct cfgver *ver);

/* Make next current (takes ownership); the previous version is freed once
 * its last reference goes. Returns the new generation number. */
uint64_t cfgstore_swap(struct cfgstore *s, struct config *next);
uint64_t cfgstore_generation(struct cfgstore *s);

#endif
