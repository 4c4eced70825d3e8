/**
 * @file web_assets.h
 * @brief The web page's files (web/ at the repository root), embedded at build time by
 *        server/embed_web.cmake into a generated, immutable table.
 *
 * Nothing here allocates or locks: the table is constant data, shared by every thread.
 */
#ifndef EIRNN_WEB_ASSETS_H
#define EIRNN_WEB_ASSETS_H

#include <stddef.h>

/** One embedded file. */
typedef struct srv_web_asset {
    const char *path;          /**< relative to web/, e.g. "js/app.js" (unique) */
    const char *media_type;    /**< Content-Type, e.g. "text/javascript; charset=utf-8" */
    const unsigned char *data; /**< the file's bytes (followed by a NUL, not counted) */
    size_t len;                /**< number of bytes */
    const char *etag;          /**< strong ETag, quoted: "\"<32 hex of SHA-256>\"" */
} srv_web_asset;

/** The table (generated) and its number of entries; "index.html" is always present. */
extern const srv_web_asset srv_web_assets[];
extern const size_t srv_web_assets_count;

/** The asset at @p path (relative to web/, compared byte for byte), or NULL when there is none. */
const srv_web_asset *srv_web_asset_find(const char *path);

#endif /* EIRNN_WEB_ASSETS_H */
