/*
** gcloud_config.h — gcloud's active configuration, read as gcloud and
** Google's auth libraries read it: the project and region a user set with
** `gcloud config set`.
*/
#ifndef CR_API_GCLOUD_CONFIG_H
#define CR_API_GCLOUD_CONFIG_H

#include "util/util.h"

/*
** The value of `key` in `[section]` of gcloud's active configuration:
** $CLOUDSDK_ACTIVE_CONFIG_NAME, else the name in $CLOUDSDK_CONFIG/active_config,
** else "default"; the file $CLOUDSDK_CONFIG/configurations/config_<name>
** ($CLOUDSDK_CONFIG defaulting to ~/.config/gcloud). A new string, or NULL.
** *where (always set, caller frees) says which file was read, for messages:
** "gcloud's configuration 'default' (/home/u/.config/gcloud/configurations/config_default)".
*/
CR_HIDDEN char *cr_gcloud_property(const char *section, const char *key, char **where);

#endif
