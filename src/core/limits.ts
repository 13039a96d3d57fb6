/**
 * Every queue, batch, body, file and loop has a named limit (ARCH 2.8). They live here so an
 * operator can read them in one place; docs/limits.md lists them with their reasons.
 */

/** Readings committed together in one database transaction. */
export const BATCH_READINGS_MAX = 10_000;
/**
 * A single record (one JSON object, one CSV row) larger than this is rejected without being
 * buffered.
 */
export const RECORD_BYTES_MAX = 64 * 1024;
/**
 * A batch is cut early once its raw bytes reach this size, which bounds the memory one batch holds.
 */
export const BATCH_BYTES_MAX = 8 * 1024 * 1024;
/** Raw bytes are stored in content-addressed chunks of at most this size. */
export const RAW_CHUNK_BYTES_MAX = 4 * 1024 * 1024;
/** Bytes handed to a parser at a time; smaller pieces keep parsed records short-lived. */
export const PARSE_SLICE_BYTES = 64 * 1024;
/** Bytes read from a file per read call. */
export const READ_CHUNK_BYTES = 1024 * 1024;
/** A JSON record nests objects or arrays at most this deep. */
export const JSON_DEPTH_MAX = 16;
/** A record has at most this many fields (CSV columns or JSON keys). */
export const RECORD_FIELDS_MAX = 64;
/**
 * Bytes of a quarantined record that `quarantine show` prints; the whole record (which may be far
 * larger than RECORD_BYTES_MAX) goes only to `--raw-out FILE`, streamed.
 */
export const SHOW_PREVIEW_BYTES_MAX = 4 * 1024;
/** Rows a list command prints at most per page. */
export const LIST_PAGE_ROWS_MAX = 1_000;
/**
 * Quarantine items a replay commits in one transaction (each still its own batch and audit entry),
 * and no more than BATCH_BYTES_MAX kept bytes among them.
 */
export const REPLAY_ITEMS_PER_TRANSACTION = 500;
/** Raw chunks the SQLite store keeps in memory for reading records back, by content hash. */
export const RAW_CHUNKS_CACHED_MAX = 4;

// The service's configuration file (amisync run --config F).

/** A configuration file larger than this is refused before it is parsed. */
export const CONFIG_FILE_BYTES_MAX = 1024 * 1024;
/** Sources one configuration may declare. */
export const CONFIG_SOURCES_MAX = 256;
/** Longest grace a configuration may give the delivery in flight at shutdown. */
export const SHUTDOWN_GRACE_MS_MAX = 600_000;

// Drop folders (directory and SFTP sources).
/** Files a drop source takes from one listing, unless its `filesPerPollMax` says fewer. */
export const DROP_FILES_PER_POLL_DEFAULT = 100;
/** The most a drop source's `filesPerPollMax` may be set to. */
export const DROP_FILES_PER_POLL_MAX = 10_000;
/** Files a drop folder listing may hold; a larger inbox is read as its oldest files first. */
export const DROP_LISTING_ENTRIES_MAX = 100_000;
