/*
 * fuzz_config: the configuration-file parser (config_parse) on arbitrary
 * bytes, and the lookups the server makes on a config that parsed.
 *
 * The file is written by an operator, not by a client, so a finding here
 * is a crash at start-up or on SIGHUP rather than a remote one; but a
 * reload must never take the running server down, whatever the file says.
 * The input is the file content as is (not NUL-terminated).
 *
 * On a config that parses, the target walks what the server reads: every
 * endpoint (config_endpoint by name and the default), the override layers
 * of each override's (namespace, model) through config_select_layers, the
 * defaults layer, meta_resolve over override + defaults (which the parser
 * promises succeeds), config_set_default_url with a valid and an invalid
 * url, then config_free. config_check_files (which opens files) is left
 * out: the target does no I/O. On failure the message must be a
 * NUL-terminated line without control bytes and *out NULL.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "fuzz_util.h"
#include "meta.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void walk(struct config *c)
{
    char why[CONFIG_WHY_LEN];
    struct meta_layer layers[META_MAX_LAYERS];
    struct meta_resolved res;
    const struct meta_layer *fixed;
    size_t i, j, n, nf;

    for (i = 0; i < c->n_endpoints; i++) {
        const struct config_endpoint *ep = &c->endpoints[i];
        if (config_endpoint(c, ep->name) != ep)
            fuzz_fail("config_endpoint", "does not find an endpoint by its name");
        fuzz_touch(ep->url);
        fuzz_touch(ep->bearer_token_file);
        fuzz_touch(ep->basic_username);
        fuzz_touch(ep->basic_password_file);
        fuzz_touch(ep->ca_file);
        fuzz_touch(ep->cert_file);
        fuzz_touch(ep->key_file);
        for (j = 0; j < ep->n_headers; j++) {
            fuzz_touch(ep->header_names[j]);
            fuzz_touch(ep->header_values[j]);
        }
        for (j = 0; j < ep->n_query_params; j++) {
            fuzz_touch(ep->query_param_names[j]);
            fuzz_touch(ep->query_param_values[j]);
        }
    }
    (void)config_endpoint(c, NULL);
    fuzz_touch(c->activation_query);
    fixed = config_default_layers(c, &nf);
    if (nf != 1 || !fixed)
        fuzz_fatal("config_default_layers", "not exactly one layer");
    for (i = 0; i < c->n_overrides; i++) {
        const struct config_override *o = &c->overrides[i];
        fuzz_touch(o->source);
        n = config_select_layers(c, o->namespace_ ? o->namespace_ : "", o->model, layers,
                                 META_MAX_LAYERS - 1);
        if (n == 0 || n > 2)
            fuzz_fail("config_select_layers", "an override does not select itself");
        layers[n++] = fixed[0];
        if (meta_resolve(layers, n, &res, why, sizeof(why)) != ERR_OK)
            fuzz_fail("meta_resolve over a loaded override", why);
    }
    if (meta_resolve(fixed, nf, &res, why, sizeof(why)) != ERR_OK)
        fuzz_fail("meta_resolve over the loaded defaults", why);
    /* Unknown model, and a namespace that no override can name. */
    (void)config_select_layers(c, "", "no-such/model", layers, META_MAX_LAYERS);

    if (config_set_default_url(c, "ftp://x", why, sizeof(why)) == ERR_OK)
        fuzz_fail("config_set_default_url", "accepted an ftp url");
    fuzz_check_why_text(why, sizeof(why), "config_set_default_url");
    if (config_set_default_url(c, "http://127.0.0.1:9090/prefix", why, sizeof(why)) != ERR_OK)
        fuzz_fail("config_set_default_url", why);
    if (!config_endpoint(c, NULL))
        fuzz_fail("config_set_default_url", "no default endpoint after setting it");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct config *c = (struct config *)data; /* must be overwritten */
    char *why = malloc(CONFIG_WHY_LEN);
    enum err_code rc;

    if (!why)
        return 0;
    rc = config_parse(size ? (const char *)data : "", size, &c, why, CONFIG_WHY_LEN);
    if (rc == ERR_OK) {
        if (!c)
            fuzz_fatal("config_parse", "ERR_OK without a config");
        walk(c);
    } else {
        if (c)
            fuzz_fail("config_parse", "failure with a config");
        fuzz_check_why_text(why, CONFIG_WHY_LEN, "config_parse");
    }
    config_free(c);
    free(why);
    return 0;
}
