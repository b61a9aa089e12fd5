/*
 * mfile: watch a metrics file and publish its table. See include/mfile.h.
 */
#include "mfile.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "log.h"
#include "table.h"

struct file_id {
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime, ctime;
    bool exists;
};

struct mfile {
    char *path;
    struct source *src;
    pthread_t thread;
    atomic_bool stop;
    struct file_id seen;
};

static struct file_id identify(const char *path)
{
    struct file_id id;
    struct stat st;

    memset(&id, 0, sizeof(id));
    if (stat(path, &st) == 0) {
        id.exists = true;
        id.dev = st.st_dev;
        id.ino = st.st_ino;
        id.size = st.st_size;
        id.mtime = st.st_mtim;
        id.ctime = st.st_ctim;
    }
    return id;
}

static bool same_id(const struct file_id *a, const struct file_id *b)
{
    return a->exists == b->exists && a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
           a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec &&
           a->ctime.tv_sec == b->ctime.tv_sec && a->ctime.tv_nsec == b->ctime.tv_nsec;
}

enum err_code mfile_load(const char *path, struct table **out, char *why, size_t why_len)
{
    FILE *f;
    char *buf = NULL;
    size_t len = 0, cap = 0, n;
    enum err_code rc;

    *out = NULL;
    f = fopen(path, "rb");
    if (!f) {
        snprintf(why, why_len, "metrics file %s: %s", path, strerror(errno));
        return ERR_IO;
    }
    for (;;) {
        if (len == cap) {
            size_t ncap = cap ? cap * 2 : 64 * 1024;
            char *nb;
            if (ncap > MFILE_MAX_BYTES + 1)
                ncap = MFILE_MAX_BYTES + 1;
            if (ncap == cap) {
                snprintf(why, why_len, "metrics file %s: larger than %zu bytes", path,
                         MFILE_MAX_BYTES);
                free(buf);
                fclose(f);
                return ERR_INVALID;
            }
            nb = realloc(buf, ncap);
            if (!nb) {
                free(buf);
                fclose(f);
                return ERR_NOMEM;
            }
            buf = nb;
            cap = ncap;
        }
        n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (n == 0)
            break;
    }
    if (ferror(f)) {
        snprintf(why, why_len, "metrics file %s: read error", path);
        free(buf);
        fclose(f);
        return ERR_IO;
    }
    fclose(f);
    {
        char inner[512];
        rc = table_parse_json(buf ? buf : "", len, out, inner, sizeof(inner));
        if (rc)
            snprintf(why, why_len, "metrics file %s: %s", path, inner);
    }
    free(buf);
    return rc;
}

static void *watch_main(void *arg)
{
    struct mfile *m = arg;

    while (!atomic_load(&m->stop)) {
        struct timespec ts = {0, 200 * 1000 * 1000};
        struct file_id id;

        nanosleep(&ts, NULL);
        id = identify(m->path);
        if (same_id(&id, &m->seen))
            continue;
        m->seen = id;
        if (!id.exists) {
            log_write(LOG_WARN, "source", "metrics file %s disappeared; keeping the last table",
                      m->path);
            continue;
        }
        {
            char why[600];
            struct table *t = NULL;
            enum err_code rc = mfile_load(m->path, &t, why, sizeof(why));
            if (rc) {
                log_write(LOG_WARN, "source", "%s; keeping the last good table", why);
                continue;
            }
            source_publish(m->src, t);
            LOG_AT(LOG_INFO, "source", "metrics file %s reloaded: %zu models, %zu replicas",
                   m->path, table_model_count(t), table_row_count(t));
            table_unref(t);
        }
    }
    return NULL;
}

enum err_code mfile_start(const char *path, struct source *src, struct mfile **out, char *why,
                          size_t why_len)
{
    struct mfile *m;
    struct table *t = NULL;
    enum err_code rc;

    *out = NULL;
    m = calloc(1, sizeof(*m));
    if (!m)
        return ERR_NOMEM;
    m->path = strdup(path);
    m->src = src;
    if (!m->path) {
        free(m);
        return ERR_NOMEM;
    }
    m->seen = identify(path);
    rc = mfile_load(path, &t, why, why_len);
    if (rc) {
        free(m->path);
        free(m);
        return rc;
    }
    source_publish(src, t);
    table_unref(t);
    if (pthread_create(&m->thread, NULL, watch_main, m) != 0) {
        snprintf(why, why_len, "could not start the metrics-file watcher");
        free(m->path);
        free(m);
        return ERR_INTERNAL;
    }
    *out = m;
    return ERR_OK;
}

void mfile_stop(struct mfile *m)
{
    if (!m)
        return;
    atomic_store(&m->stop, true);
    pthread_join(m->thread, NULL);
    free(m->path);
    free(m);
}
