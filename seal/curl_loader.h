#ifndef SEAL_CLI_CURL_LOADER_H
#define SEAL_CLI_CURL_LOADER_H

/*
 * The seal executable loads libcurl on its first network call
 * (curl_loader.c). NULL when libcurl is loaded and initialised, else why it
 * could not be ("cannot load libcurl.so.4: ..."); loads it when not tried yet.
 */
const char *seal_curl_load_error(void);

#endif
