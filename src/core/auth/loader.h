/*
** loader.h — credentials JSON to a credential of the kind its "type" names
** (see loader.c). The kinds do not include this: it includes them.
*/
#ifndef CR_AUTH_LOADER_H
#define CR_AUTH_LOADER_H

#include "util/util.h"

/*
** The credential a parsed credentials object describes, whatever its type
** (the dispatch on "type"). `what` names it in messages ("credentials file
** /x.json", or "... : field \"source_credentials\"" when nested), `origin`
** is what cr_credentials_origin reports. `depth` counts nesting
** (source_credentials), bounded. The caller still owns and wipes root.
*/
CR_HIDDEN cr_credentials *cr_credentials_from_object(const cJSON *root, const char *what, const char *origin,
                                                     const cr_credentials_options *opts, int depth, cr_error *err);

#endif
